//! The Nix archive (NAR) serialisation of a tree, byte for byte what
//! `nix-store --dump` writes (SPEC §5). [`NarWriter`] streams it in fixed
//! blocks into a [`BlockSink`]: a writer for `write_nar`, a hasher thread
//! for `hash_path`. The NAR is never held in memory whole.
//!
//! Format: every token is a string written as a little-endian u64 length,
//! the bytes, and zero padding to a multiple of 8. The stream is
//! `"nix-archive-1"` then one node:
//! `( type regular [executable ""] contents <bytes> )`,
//! `( type symlink target <bytes> )` or
//! `( type directory { entry ( name <bytes> node <node> ) } )` with entries
//! sorted by raw byte name.

use super::TreeError;
use super::walk::{self, Kind};
use nix::dir::Dir;
use std::ffi::OsStr;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Bytes per block handed to a sink. Big enough that the per-block channel
/// and hasher call overhead vanishes, small enough to stay in L2.
pub(crate) const BLOCK: usize = 256 * 1024;

/// Directory descriptors held open at once while writing; beyond this
/// depth paths are opened whole, so no tree can exhaust descriptors.
const MAX_OPEN_DIRS: usize = 64;

/// A buffer of NAR bytes; `data[..len]` is filled.
pub(crate) struct Block {
    pub data: Box<[u8]>,
    pub len: usize,
}

impl Block {
    pub fn new() -> Block {
        Block {
            data: vec![0u8; BLOCK].into_boxed_slice(),
            len: 0,
        }
    }

    /// A zero-capacity stand-in while the real block is with the sink.
    fn placeholder() -> Block {
        Block {
            data: Box::new([]),
            len: 0,
        }
    }

    pub fn filled(&self) -> &[u8] {
        &self.data[..self.len]
    }
}

/// Where filled blocks go.
pub(crate) trait BlockSink {
    /// Take a filled block and hand back an empty one to fill next.
    fn consume(&mut self, block: Block) -> Result<Block, TreeError>;
    /// Take the last, possibly partial, block.
    fn finish(&mut self, block: Block) -> Result<(), TreeError>;
}

/// Streams the NAR of one tree into a sink, counting files and bytes.
pub(crate) struct NarWriter<S: BlockSink> {
    block: Block,
    sink: S,
    /// The path of the node being written; pushed/popped while descending
    /// so that no per-entry path is allocated.
    path: PathBuf,
    /// Open directories from the root down, while no deeper than
    /// [`MAX_OPEN_DIRS`]: entries are opened relative to their parent.
    dirs: Vec<Dir>,
    /// Directory levels entered; `dirs.len() == depth` while all are open.
    depth: usize,
    /// Regular files and symlinks seen.
    pub files: u64,
    /// Bytes of regular file contents.
    pub bytes: u64,
}

impl<S: BlockSink> NarWriter<S> {
    pub fn new(sink: S, block: Block) -> Self {
        NarWriter {
            block,
            sink,
            path: PathBuf::new(),
            dirs: Vec::new(),
            depth: 0,
            files: 0,
            bytes: 0,
        }
    }

    /// Write the whole archive of `root`, whose kind the caller has checked.
    pub fn archive(&mut self, root: &Path, kind: Kind) -> Result<(), TreeError> {
        self.path = root.to_path_buf();
        self.dirs.clear();
        self.depth = 0;
        self.str(b"nix-archive-1")?;
        self.node(kind, None)
    }

    /// Flush the last block and return the sink.
    pub fn finish(mut self) -> Result<S, TreeError> {
        let block = std::mem::replace(&mut self.block, Block::placeholder());
        self.sink.finish(block)?;
        Ok(self.sink)
    }

    /// Write the node at `self.path`, whose last component is `name`
    /// (`None` for the root).
    fn node(&mut self, kind: Kind, name: Option<&OsStr>) -> Result<(), TreeError> {
        // Open relative to the parent when every ancestor is held open.
        let parent = match (name, self.dirs.last()) {
            (Some(name), Some(dir)) if self.dirs.len() == self.depth => {
                Some((dir.as_raw_fd(), name))
            }
            _ => None,
        };
        self.str(b"(")?;
        self.str(b"type")?;
        match kind {
            Kind::Regular => {
                let at = walk::At {
                    parent,
                    path: &self.path,
                };
                let mut open = walk::open_regular_at(at)?;
                self.str(b"regular")?;
                if open.executable {
                    self.str(b"executable")?;
                    self.str(b"")?;
                }
                self.str(b"contents")?;
                self.contents(&mut open.file, open.size)?;
                self.files += 1;
                self.bytes += open.size;
            }
            Kind::Symlink => {
                let at = walk::At {
                    parent,
                    path: &self.path,
                };
                let target = walk::read_link_at(at)?;
                self.str(b"symlink")?;
                self.str(b"target")?;
                self.str(&target)?;
                self.files += 1;
            }
            Kind::Directory => {
                let at = walk::At {
                    parent,
                    path: &self.path,
                };
                let (dir, entries) = walk::list_dir_at(at)?;
                self.str(b"directory")?;
                // Keep it open for its entries, up to a bounded depth;
                // deeper directories fall back to full paths.
                let keep = self.dirs.len() == self.depth && self.depth < MAX_OPEN_DIRS;
                if keep {
                    self.dirs.push(dir);
                } else {
                    drop(dir);
                }
                self.depth += 1;
                let mut done = Ok(());
                for (name, kind) in entries {
                    done = self.entry(&name, kind);
                    if done.is_err() {
                        break;
                    }
                }
                self.depth -= 1;
                if keep {
                    self.dirs.pop();
                }
                done?;
            }
        }
        self.str(b")")
    }

    fn entry(&mut self, name: &OsStr, kind: Kind) -> Result<(), TreeError> {
        self.str(b"entry")?;
        self.str(b"(")?;
        self.str(b"name")?;
        self.str(name.as_encoded_bytes())?;
        self.str(b"node")?;
        self.path.push(name);
        let done = self.node(kind, Some(name));
        self.path.pop();
        done?;
        self.str(b")")
    }

    /// A NAR string: length, bytes, padding.
    fn str(&mut self, bytes: &[u8]) -> Result<(), TreeError> {
        self.raw(&(bytes.len() as u64).to_le_bytes())?;
        self.raw(bytes)?;
        self.pad(bytes.len() as u64)
    }

    fn pad(&mut self, len: u64) -> Result<(), TreeError> {
        let pad = ((8 - len % 8) % 8) as usize;
        self.raw(&[0u8; 8][..pad])
    }

    fn raw(&mut self, mut bytes: &[u8]) -> Result<(), TreeError> {
        while !bytes.is_empty() {
            if self.block.len == self.block.data.len() {
                self.flush()?;
            }
            let n = bytes.len().min(self.block.data.len() - self.block.len);
            self.block.data[self.block.len..self.block.len + n].copy_from_slice(&bytes[..n]);
            self.block.len += n;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    /// File contents as a NAR string, read straight into the blocks so
    /// the bytes are copied once (page cache -> block) before hashing.
    fn contents(&mut self, file: &mut std::fs::File, size: u64) -> Result<(), TreeError> {
        self.raw(&size.to_le_bytes())?;
        let mut left = size;
        while left > 0 {
            if self.block.len == self.block.data.len() {
                self.flush()?;
            }
            let room = self.block.data.len() - self.block.len;
            let n = usize::try_from(left).map_or(room, |l| l.min(room));
            let start = self.block.len;
            walk::read_full(file, &self.path, &mut self.block.data[start..start + n])?;
            self.block.len += n;
            left -= n as u64;
        }
        self.pad(size)
    }

    fn flush(&mut self) -> Result<(), TreeError> {
        let full = std::mem::replace(&mut self.block, Block::placeholder());
        self.block = self.sink.consume(full)?;
        Ok(())
    }
}

/// Sink writing blocks to an `io::Write`.
struct WriteSink<'w> {
    w: &'w mut dyn Write,
}

impl BlockSink for WriteSink<'_> {
    fn consume(&mut self, mut block: Block) -> Result<Block, TreeError> {
        self.w
            .write_all(block.filled())
            .map_err(|source| TreeError::Write { source })?;
        block.len = 0;
        Ok(block)
    }

    fn finish(&mut self, block: Block) -> Result<(), TreeError> {
        self.w
            .write_all(block.filled())
            .and_then(|()| self.w.flush())
            .map_err(|source| TreeError::Write { source })
    }
}

/// Write the NAR serialisation of `path` (a directory, file or symlink,
/// never followed) to `w`, byte for byte as `nix-store --dump PATH`.
///
/// Output is written in blocks of 256 KiB, so `w` need not be buffered.
/// On error, part of the archive may already have been written.
pub fn write_nar(path: &Path, w: &mut dyn Write) -> Result<(), TreeError> {
    let kind = walk::root_kind(path)?;
    let mut nar = NarWriter::new(WriteSink { w }, Block::new());
    nar.archive(path, kind)?;
    nar.finish().map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::{PermissionsExt, symlink};

    /// A NAR string built by hand from the format definition.
    fn s(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(bytes);
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
    }

    fn nar_of(path: &Path) -> Vec<u8> {
        let mut out = Vec::new();
        write_nar(path, &mut out).expect("write_nar");
        out
    }

    #[test]
    fn single_file_matches_hand_built_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"hi\n").unwrap();
        let mut want = Vec::new();
        for t in [
            &b"nix-archive-1"[..],
            b"(",
            b"type",
            b"regular",
            b"contents",
        ] {
            s(&mut want, t);
        }
        s(&mut want, b"hi\n");
        s(&mut want, b")");
        assert_eq!(nar_of(&f), want);
        // The literal bytes `nix-store --dump` printed for this file.
        assert_eq!(&want[..16], b"\x0d\0\0\0\0\0\0\0nix-arch");
        assert_eq!(want.len(), 0x78);
    }

    #[test]
    fn executable_empty_file_has_flag_and_empty_contents() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x");
        std::fs::write(&f, b"").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut want = Vec::new();
        for t in [
            &b"nix-archive-1"[..],
            b"(",
            b"type",
            b"regular",
            b"executable",
            b"",
            b"contents",
            b"",
            b")",
        ] {
            s(&mut want, t);
        }
        assert_eq!(nar_of(&f), want);
    }

    #[test]
    fn only_owner_exec_bit_counts() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x");
        std::fs::write(&f, b"a").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o655)).unwrap();
        let nar = nar_of(&f);
        assert!(!nar.windows(10).any(|w| w == b"executable"));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o744)).unwrap();
        let nar = nar_of(&f);
        assert!(nar.windows(10).any(|w| w == b"executable"));
    }

    #[test]
    fn directory_sorted_by_raw_bytes_with_symlink_and_non_utf8_name() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        // Created out of order; 0xff sorts after every ASCII byte.
        let odd = std::ffi::OsStr::from_bytes(b"\xffz");
        std::fs::create_dir(root.join(odd)).unwrap();
        symlink("nowhere/at all", root.join("b")).unwrap();
        std::fs::write(root.join("B"), b"123456789").unwrap();

        let mut want = Vec::new();
        for t in [&b"nix-archive-1"[..], b"(", b"type", b"directory"] {
            s(&mut want, t);
        }
        let entry = |want: &mut Vec<u8>, name: &[u8], node: &[&[u8]]| {
            for t in [&b"entry"[..], b"(", b"name", name, b"node", b"(", b"type"] {
                s(want, t);
            }
            for t in node {
                s(want, t);
            }
            s(want, b")");
            s(want, b")");
        };
        entry(&mut want, b"B", &[b"regular", b"contents", b"123456789"]);
        entry(&mut want, b"b", &[b"symlink", b"target", b"nowhere/at all"]);
        entry(&mut want, b"\xffz", &[b"directory"]);
        s(&mut want, b")");
        assert_eq!(nar_of(&root), want);
    }

    #[test]
    fn dangling_symlink_root() {
        let dir = tempfile::tempdir().unwrap();
        let l = dir.path().join("l");
        symlink("../missing", &l).unwrap();
        let mut want = Vec::new();
        for t in [
            &b"nix-archive-1"[..],
            b"(",
            b"type",
            b"symlink",
            b"target",
            b"../missing",
            b")",
        ] {
            s(&mut want, t);
        }
        assert_eq!(nar_of(&l), want);
    }

    #[test]
    fn contents_spanning_several_blocks_are_exact() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("big");
        let data: Vec<u8> = (0..(BLOCK * 2 + 13)).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&f, &data).unwrap();
        let mut want = Vec::new();
        for t in [
            &b"nix-archive-1"[..],
            b"(",
            b"type",
            b"regular",
            b"contents",
        ] {
            s(&mut want, t);
        }
        s(&mut want, &data);
        s(&mut want, b")");
        assert_eq!(nar_of(&f), want);
    }

    #[test]
    fn missing_root_is_bad_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_nar(&dir.path().join("nope"), &mut Vec::new()).unwrap_err();
        assert!(matches!(err, TreeError::BadPath { .. }), "{err:?}");
    }

    #[test]
    fn fifo_inside_is_special_file_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("sub/pipe");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        let err = write_nar(dir.path(), &mut Vec::new()).unwrap_err();
        match err {
            TreeError::SpecialFile { path, kind } => {
                assert_eq!(path, fifo);
                assert_eq!(kind, "fifo");
            }
            other => panic!("expected SpecialFile, got {other:?}"),
        }
        // A fifo as the root, too.
        let err = write_nar(&fifo, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, TreeError::SpecialFile { .. }), "{err:?}");
    }

    #[test]
    fn socket_inside_is_special_file() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("s");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let err = write_nar(dir.path(), &mut Vec::new()).unwrap_err();
        assert!(
            matches!(err, TreeError::SpecialFile { kind: "socket", .. }),
            "{err:?}"
        );
    }

    #[test]
    fn unreadable_file_is_io_error() {
        // Root reads mode-000 files, so only check this as another user.
        if nix::unistd::geteuid().is_root() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("secret");
        std::fs::write(&f, b"x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o000)).unwrap();
        let err = write_nar(dir.path(), &mut Vec::new()).unwrap_err();
        assert!(matches!(err, TreeError::Io { path, .. } if path == f));
    }

    #[test]
    fn too_deep_path_is_io_error_even_as_root() {
        use nix::fcntl::{OFlag, openat};
        use nix::sys::stat::{Mode, mkdirat};
        let dir = tempfile::tempdir().unwrap();
        // 70 levels of 250-byte names exceed PATH_MAX (4096); build them
        // relative to directory descriptors, as a path cannot name them.
        // The writer opens the first MAX_OPEN_DIRS levels relative to their
        // parents, then falls back to whole paths, which are too long.
        let name = "d".repeat(250);
        let mut fd = openat(
            None,
            dir.path(),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY,
            Mode::empty(),
        )
        .unwrap();
        for _ in 0..MAX_OPEN_DIRS + 6 {
            mkdirat(Some(fd), name.as_str(), Mode::from_bits_truncate(0o755)).unwrap();
            let next = openat(
                Some(fd),
                name.as_str(),
                OFlag::O_RDONLY | OFlag::O_DIRECTORY,
                Mode::empty(),
            )
            .unwrap();
            nix::unistd::close(fd).unwrap();
            fd = next;
        }
        nix::unistd::close(fd).unwrap();
        let err = write_nar(dir.path(), &mut Vec::new()).unwrap_err();
        assert!(matches!(err, TreeError::Io { .. }), "{err:?}");
    }

    #[test]
    fn write_errors_are_reported() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let err = write_nar(dir.path(), &mut Broken).unwrap_err();
        assert!(matches!(err, TreeError::Write { .. }), "{err:?}");
    }
}

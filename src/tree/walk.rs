//! Filesystem access shared by the NAR writer and the manifest: listing a
//! directory in NAR order, classifying entries without following symlinks,
//! and opening regular files so that a fifo can never block us.

use super::TreeError;
use nix::dir::{Dir, Type};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// What a path is, as far as the NAR format cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Regular,
    Symlink,
    Directory,
}

/// `S_IXUSR`: Nix marks a file executable when the owner may execute it
/// (`nix-store --dump` tests exactly this bit, not group or other).
const OWNER_EXEC: u32 = 0o100;

/// The kind of the root path, which must exist (else `BadPath`).
pub(crate) fn root_kind(path: &Path) -> Result<Kind, TreeError> {
    let meta = std::fs::symlink_metadata(path).map_err(|source| TreeError::BadPath {
        path: path.to_path_buf(),
        source,
    })?;
    kind_of(path, meta.file_type())
}

/// Classify a `std` file type, rejecting what NAR cannot hold.
pub(crate) fn kind_of(path: &Path, ft: std::fs::FileType) -> Result<Kind, TreeError> {
    if ft.is_symlink() {
        Ok(Kind::Symlink)
    } else if ft.is_dir() {
        Ok(Kind::Directory)
    } else if ft.is_file() {
        Ok(Kind::Regular)
    } else {
        let kind = if ft.is_fifo() {
            "fifo"
        } else if ft.is_socket() {
            "socket"
        } else if ft.is_char_device() {
            "character device"
        } else if ft.is_block_device() {
            "block device"
        } else {
            "special file"
        };
        Err(TreeError::SpecialFile {
            path: path.to_path_buf(),
            kind,
        })
    }
}

pub(crate) fn io_err(path: &Path, source: std::io::Error) -> TreeError {
    TreeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where to find an entry: by its full path, or (faster: no path walk
/// from the root for each file) by name relative to its open parent.
/// `path` is always the full path, for fallbacks and error messages.
#[derive(Clone, Copy)]
pub(crate) struct At<'a> {
    pub parent: Option<(RawFd, &'a OsStr)>,
    pub path: &'a Path,
}

impl<'a> At<'a> {
    pub fn path(path: &'a Path) -> Self {
        At { parent: None, path }
    }

    fn open(self, flags: OFlag) -> Result<OwnedFd, TreeError> {
        let fd = match self.parent {
            Some((dirfd, name)) => nix::fcntl::openat(Some(dirfd), name, flags, Mode::empty()),
            None => nix::fcntl::open(self.path, flags, Mode::empty()),
        }
        .map_err(|e| io_err(self.path, std::io::Error::from(e)))?;
        // SAFETY: `fd` was just returned by open(2)/openat(2); nothing else
        // owns it, so the OwnedFd is its only owner and closes it once.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// The entries of directory `dir`, sorted by raw byte name (NAR order), each
/// with its kind. `.`/`..` are left out. The directory is opened with
/// `O_NOFOLLOW`, so a directory swapped for a symlink is not followed.
pub(crate) fn list_dir(dir: &Path) -> Result<Vec<(OsString, Kind)>, TreeError> {
    list_dir_at(At::path(dir)).map(|(_, entries)| entries)
}

/// [`list_dir`], also returning the open directory so that the caller can
/// open its entries relative to it (or drop it to bound open descriptors).
pub(crate) fn list_dir_at(at: At) -> Result<(Dir, Vec<(OsString, Kind)>), TreeError> {
    let dir = at.path;
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = at.open(flags)?;
    let mut handle = Dir::from(fd).map_err(|e| io_err(dir, std::io::Error::from(e)))?;
    let mut out = Vec::new();
    for entry in handle.iter() {
        let entry = entry.map_err(|e| io_err(dir, std::io::Error::from(e)))?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let name = OsString::from_vec(name.to_vec());
        let kind = match entry.file_type() {
            Some(Type::File) => Kind::Regular,
            Some(Type::Directory) => Kind::Directory,
            Some(Type::Symlink) => Kind::Symlink,
            Some(Type::Fifo) => return Err(special(dir, &name, "fifo")),
            Some(Type::Socket) => return Err(special(dir, &name, "socket")),
            Some(Type::CharacterDevice) => return Err(special(dir, &name, "character device")),
            Some(Type::BlockDevice) => return Err(special(dir, &name, "block device")),
            // Filesystems without d_type: ask lstat.
            None => {
                let path = dir.join(&name);
                let meta = std::fs::symlink_metadata(&path).map_err(|e| io_err(&path, e))?;
                kind_of(&path, meta.file_type())?
            }
        };
        out.push((name, kind));
    }
    out.sort_unstable_by(|a, b| a.0.as_encoded_bytes().cmp(b.0.as_encoded_bytes()));
    Ok((handle, out))
}

fn special(dir: &Path, name: &OsString, kind: &'static str) -> TreeError {
    TreeError::SpecialFile {
        path: dir.join(name),
        kind,
    }
}

/// A regular file opened for reading, with what NAR records about it.
pub(crate) struct OpenFile {
    pub file: File,
    pub executable: bool,
    pub size: u64,
}

/// Open a regular file without following a symlink and without blocking:
/// if the entry was swapped for a fifo since it was listed, `O_NONBLOCK`
/// keeps `open` from hanging and the `fstat` check reports it.
pub(crate) fn open_regular(path: &Path) -> Result<OpenFile, TreeError> {
    open_regular_at(At::path(path))
}

/// [`open_regular`] relative to an open parent directory.
pub(crate) fn open_regular_at(at: At) -> Result<OpenFile, TreeError> {
    let path = at.path;
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let file = File::from(at.open(flags)?);
    let meta = file.metadata().map_err(|e| io_err(path, e))?;
    if kind_of(path, meta.file_type())? != Kind::Regular {
        return Err(changed(path));
    }
    Ok(OpenFile {
        file,
        executable: meta.mode() & OWNER_EXEC != 0,
        size: meta.len(),
    })
}

/// The target of a symlink, as raw bytes.
pub(crate) fn read_link(path: &Path) -> Result<Vec<u8>, TreeError> {
    read_link_at(At::path(path))
}

/// [`read_link`] relative to an open parent directory.
pub(crate) fn read_link_at(at: At) -> Result<Vec<u8>, TreeError> {
    let target = match at.parent {
        Some((dirfd, name)) => nix::fcntl::readlinkat(Some(dirfd), name),
        None => nix::fcntl::readlink(at.path),
    };
    target
        .map(OsString::into_vec)
        .map_err(|e| io_err(at.path, std::io::Error::from(e)))
}

/// Read exactly `buf.len()` bytes; a file that shrank since `fstat` is an
/// error rather than a silently short NAR.
pub(crate) fn read_full(file: &mut File, path: &Path, buf: &mut [u8]) -> Result<(), TreeError> {
    read_exact(file, buf).map_err(|e| io_err(path, e))
}

/// [`read_full`] without a path: callers that open entries relative to a
/// directory build the path only when there is an error to report.
pub(crate) fn read_exact(file: &mut File, buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    let mut done = 0;
    while done < buf.len() {
        match file.read(&mut buf[done..]) {
            Ok(0) => return Err(shrank()),
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The error for a file that ended before the size `stat` gave.
pub(crate) fn shrank() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        "file shrank while being read",
    )
}

/// Read exactly `buf.len()` bytes at `offset`.
pub(crate) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, offset).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            shrank()
        } else {
            e
        }
    })
}

/// The executable bit and size of regular file `name` in open directory
/// `dir` (whose path is `parent`), from one `fstatat` that follows no
/// symlink: an empty file need never be opened.
pub(crate) fn stat_file_at(
    dir: RawFd,
    name: &OsStr,
    parent: &Path,
) -> Result<(bool, u64), TreeError> {
    use nix::sys::stat::{SFlag, fstatat};
    let st = fstatat(Some(dir), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(|e| io_err(&parent.join(name), std::io::Error::from(e)))?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
        return Err(changed(&parent.join(name)));
    }
    Ok((st.st_mode & OWNER_EXEC != 0, st.st_size as u64))
}

fn changed(path: &Path) -> TreeError {
    io_err(
        path,
        std::io::Error::other("changed from a regular file while being read"),
    )
}

/// Open regular file `name` in open directory `dir` for reading, after
/// [`stat_file_at`]: `O_NOFOLLOW | O_NONBLOCK` so that an entry swapped
/// for a symlink or fifo since is an error (a short read), never a hang.
pub(crate) fn open_file_at(dir: RawFd, name: &OsStr, parent: &Path) -> Result<File, TreeError> {
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let fd = nix::fcntl::openat(Some(dir), name, flags, Mode::empty())
        .map_err(|e| io_err(&parent.join(name), std::io::Error::from(e)))?;
    // SAFETY: `fd` was just returned by openat(2); nothing else owns it.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// [`open_file_at`] then `fstat`: the executable bit and size of a file
/// expected to hold data, with one name lookup instead of two.
pub(crate) fn open_stat_at(
    dir: RawFd,
    name: &OsStr,
    parent: &Path,
) -> Result<(File, bool, u64), TreeError> {
    let file = open_file_at(dir, name, parent)?;
    let meta = file.metadata().map_err(|e| io_err(&parent.join(name), e))?;
    if !meta.file_type().is_file() {
        return Err(changed(&parent.join(name)));
    }
    Ok((file, meta.mode() & OWNER_EXEC != 0, meta.len()))
}

/// Whether to open a regular file before knowing its size, guessed from
/// its predecessor in the same directory: files beside each other tend
/// to be alike, and an empty file is best seen by `fstatat` alone (never
/// opened), a file with data by `openat` + `fstat` (one name lookup).
#[derive(Default)]
pub(crate) struct OpenGuess {
    pub data: bool,
}

impl OpenGuess {
    /// The file's executable bit and size, and the file opened if it has
    /// data.
    pub(crate) fn open(
        &mut self,
        dir: RawFd,
        name: &OsStr,
        parent: &Path,
    ) -> Result<(Option<File>, bool, u64), TreeError> {
        let (file, executable, size) = if self.data {
            let (file, executable, size) = open_stat_at(dir, name, parent)?;
            (Some(file).filter(|_| size > 0), executable, size)
        } else {
            let (executable, size) = stat_file_at(dir, name, parent)?;
            let file = if size > 0 {
                Some(open_file_at(dir, name, parent)?)
            } else {
                None
            };
            (file, executable, size)
        };
        self.data = size > 0;
        Ok((file, executable, size))
    }
}

/// A second descriptor (close-on-exec) for an open directory, to open its
/// entries later from another thread.
pub(crate) fn dup_dir(dir: &Dir, path: &Path) -> Result<OwnedFd, TreeError> {
    use nix::fcntl::{FcntlArg, fcntl};
    use std::os::fd::AsRawFd;
    let fd = fcntl(dir.as_raw_fd(), FcntlArg::F_DUPFD_CLOEXEC(0))
        .map_err(|e| io_err(path, std::io::Error::from(e)))?;
    // SAFETY: `fd` was just returned by fcntl(F_DUPFD_CLOEXEC); we own it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

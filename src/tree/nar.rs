//! The Nix archive (NAR) serialisation of a tree, byte for byte what
//! `nix-store --dump` writes (SPEC §5). [`stream`] produces it, in order,
//! into a [`NarSink`]: a writer for `write_nar`, SHA-256 for `hash_path`.
//! The NAR is never held in memory whole.
//!
//! Format: every token is a string written as a little-endian u64 length,
//! the bytes, and zero padding to a multiple of 8. The stream is
//! `"nix-archive-1"` then one node:
//! `( type regular [executable ""] contents <bytes> )`,
//! `( type symlink target <bytes> )` or
//! `( type directory { entry ( name <bytes> node <node> ) } )` with entries
//! sorted by raw byte name.
//!
//! Speed: the walk (listing directories, `fstatat`, reading small files:
//! all the syscalls) runs on worker threads, one directory per job, ahead
//! of the calling thread, which alone feeds the sink, in NAR order. Each
//! job turns one directory into a [`Record`]: its NAR bytes with holes
//! where a subdirectory or a large file goes. The calling thread reads the
//! large files itself, so their bytes are read and hashed on one core.

use super::TreeError;
use super::map;
use super::walk::{self, At, Kind};
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Bytes per read of a large file: big enough that syscall overhead
/// vanishes, small enough to stay in L2 until it is hashed.
pub(crate) const BLOCK: usize = 256 * 1024;

/// Files from this size on are mapped rather than read: below it, the
/// mmap/munmap calls cost more than the copy `read` makes.
const MAP_MIN: u64 = 128 * 1024;

/// Regular files up to this size are read by the walking threads into
/// their directory's record; larger ones by the consumer.
const INLINE_MAX: u64 = 128 * 1024;
/// File contents held in one record at most; further files of that
/// directory are read by the consumer.
const RECORD_INLINE: usize = 1 << 20;
/// How far the walking threads may run ahead of the consumer: records
/// finished or in progress, and their bytes. This bounds memory whatever
/// the tree (plus the records of the directories being consumed).
const AHEAD_RECORDS: usize = 32;
const AHEAD_BYTES: usize = 8 << 20;

/// Directory levels whose descriptors a job keeps for its subdirectories
/// and large files; deeper directories are opened by whole path, so no
/// tree can exhaust descriptors.
const MAX_OPEN_DIRS: usize = 64;

/// Where the NAR bytes go, in order.
pub(crate) trait NarSink {
    fn put(&mut self, bytes: &[u8]) -> Result<(), TreeError>;

    /// [`NarSink::put`] for bytes of a mapped file, which are not in cache
    /// yet: a hashing sink prefetches ahead of them.
    fn put_mapped(&mut self, bytes: &[u8]) -> Result<(), TreeError> {
        self.put(bytes)
    }
}

/// What a tree holds: regular files and symlinks, bytes of contents.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    pub files: u64,
    pub bytes: u64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.files += o.files;
        self.bytes += o.bytes;
    }
}

/// Append one NAR string: length, bytes, padding.
fn token(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
    pad(out, bytes.len() as u64);
}

fn pad(out: &mut Vec<u8>, len: u64) {
    let n = ((8 - len % 8) % 8) as usize;
    out.extend_from_slice(&[0u8; 8][..n]);
}

/// The start of a regular file node, up to and including the content length.
fn regular_head(out: &mut Vec<u8>, executable: bool, size: u64) {
    for t in [&b"("[..], b"type", b"regular"] {
        token(out, t);
    }
    if executable {
        token(out, b"executable");
        token(out, b"");
    }
    token(out, b"contents");
    out.extend_from_slice(&size.to_le_bytes());
}

fn symlink_node(out: &mut Vec<u8>, target: &[u8]) {
    for t in [&b"("[..], b"type", b"symlink", b"target", target, b")"] {
        token(out, t);
    }
}

/// Stream the NAR of `root`, whose kind the caller has checked, into
/// `sink`, with `workers` walking threads (0: all on this thread).
pub(crate) fn stream(
    root: &Path,
    kind: Kind,
    sink: &mut dyn NarSink,
    workers: usize,
) -> Result<Counts, TreeError> {
    let mut head = Vec::with_capacity(128);
    token(&mut head, b"nix-archive-1");
    match kind {
        Kind::Symlink => {
            symlink_node(&mut head, &walk::read_link(root)?);
            sink.put(&head)?;
            Ok(Counts { files: 1, bytes: 0 })
        }
        Kind::Regular => {
            let mut open = walk::open_regular(root)?;
            regular_head(&mut head, open.executable, open.size);
            sink.put(&head)?;
            let mut buf = Vec::new();
            contents(&mut open.file, open.size, root, sink, &mut buf)?;
            let mut tail = Vec::with_capacity(16);
            pad(&mut tail, open.size);
            token(&mut tail, b")");
            sink.put(&tail)?;
            Ok(Counts {
                files: 1,
                bytes: open.size,
            })
        }
        Kind::Directory => {
            sink.put(&head)?;
            Walk::run(root, sink, workers)
        }
    }
}

/// Feed exactly `size` bytes of `file` to the sink on this thread:
/// mapped from [`MAP_MIN`] bytes on (see `map`), else read in [`BLOCK`]s
/// into `buf`.
fn contents(
    file: &mut File,
    size: u64,
    path: &Path,
    sink: &mut dyn NarSink,
    buf: &mut Vec<u8>,
) -> Result<(), TreeError> {
    if size >= MAP_MIN {
        let mut failed = Ok(());
        let mapped = map::for_each_window(file, 0, size, |bytes| {
            if failed.is_ok() {
                failed = sink.put_mapped(bytes);
            }
        })
        .map_err(|e| walk::io_err(path, e))?;
        if mapped {
            return failed;
        }
    }
    if buf.len() < BLOCK {
        buf.resize(BLOCK, 0);
    }
    let mut left = size;
    while left > 0 {
        let n = usize::try_from(left).map_or(BLOCK, |l| l.min(BLOCK));
        walk::read_full(file, path, &mut buf[..n])?;
        sink.put(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// A directory's position in the walk: the entry indices from the root.
/// Their lexicographic order is the NAR order of the directories.
type Key = Vec<u32>;

/// A directory to turn into a [`Record`].
struct Job {
    key: Key,
    /// The parent's descriptor to open it relative to, if kept.
    parent: Option<Arc<OwnedFd>>,
    name: OsString,
    path: PathBuf,
    depth: usize,
}

/// Where a [`Record`]'s bytes stop for something the consumer adds.
enum Hole {
    /// The subdirectory at this entry index: its own record.
    Dir(u32),
    /// The contents of this large regular file.
    File { name: OsString, size: u64 },
}

/// One directory's NAR node, minus its subdirectories and large files.
struct Record {
    nar: Vec<u8>,
    holes: Vec<(usize, Hole)>,
    /// The directory, kept open for the large files, if not too deep.
    dir: Option<Arc<OwnedFd>>,
    path: PathBuf,
    key: Key,
    counts: Counts,
}

impl Record {
    /// Memory held, for the look-ahead bound.
    fn weight(&self) -> usize {
        self.nar.capacity() + self.holes.capacity() * std::mem::size_of::<(usize, Hole)>()
    }
}

/// List directory `job` and read its small files into a record; its
/// subdirectories become new jobs.
fn read_dir(job: Job) -> Result<(Record, Vec<Job>), TreeError> {
    let at = At {
        parent: job
            .parent
            .as_deref()
            .map(|fd| (fd.as_raw_fd(), job.name.as_os_str())),
        path: &job.path,
    };
    let (dir, entries) = walk::list_dir_at(at)?;
    drop(job.parent);
    let fd = dir.as_raw_fd();
    let mut nar = Vec::with_capacity(256 + entries.len() * 128);
    for t in [&b"("[..], b"type", b"directory"] {
        token(&mut nar, t);
    }
    let mut holes = Vec::new();
    let mut subdirs = Vec::new();
    let mut counts = Counts::default();
    let mut inline = 0usize;
    let mut guess = walk::OpenGuess::default();
    for (i, (name, kind)) in entries.into_iter().enumerate() {
        for t in [
            &b"entry"[..],
            b"(",
            b"name",
            name.as_encoded_bytes(),
            b"node",
        ] {
            token(&mut nar, t);
        }
        match kind {
            Kind::Regular => {
                let (file, executable, size) = guess.open(fd, &name, &job.path)?;
                regular_head(&mut nar, executable, size);
                counts.files += 1;
                counts.bytes += size;
                let fits = usize::try_from(size)
                    .is_ok_and(|s| size <= INLINE_MAX && inline + s <= RECORD_INLINE);
                if let Some(mut file) = file.filter(|_| fits) {
                    let start = nar.len();
                    nar.resize(start + size as usize, 0);
                    walk::read_exact(&mut file, &mut nar[start..])
                        .map_err(|e| walk::io_err(&job.path.join(&name), e))?;
                    inline += size as usize;
                } else if size > 0 {
                    holes.push((nar.len(), Hole::File { name, size }));
                }
                pad(&mut nar, size);
                token(&mut nar, b")");
            }
            Kind::Symlink => {
                let path = job.path.join(&name);
                let target = walk::read_link_at(At {
                    parent: Some((fd, &name)),
                    path: &path,
                })?;
                symlink_node(&mut nar, &target);
                counts.files += 1;
            }
            Kind::Directory => {
                holes.push((nar.len(), Hole::Dir(i as u32)));
                subdirs.push((i as u32, name));
            }
        }
        token(&mut nar, b")");
    }
    token(&mut nar, b")");
    // Keep the directory open for what is read from it later, unless deep.
    let keep = job.depth < MAX_OPEN_DIRS && !holes.is_empty();
    let kept = if keep {
        Some(Arc::new(walk::dup_dir(&dir, &job.path)?))
    } else {
        None
    };
    drop(dir);
    let jobs = subdirs
        .into_iter()
        .map(|(i, name)| {
            let mut key = job.key.clone();
            key.push(i);
            Job {
                key,
                parent: kept.clone(),
                path: job.path.join(&name),
                name,
                depth: job.depth + 1,
            }
        })
        .collect();
    Ok((
        Record {
            nar,
            holes,
            dir: kept,
            path: job.path,
            key: job.key,
            counts,
        },
        jobs,
    ))
}

/// What the walking threads and the consumer share.
#[derive(Default)]
struct State {
    /// Directories listed by no one yet, in NAR order.
    pending: BTreeMap<Key, Job>,
    /// Records finished by a worker, not yet taken by the consumer.
    done: HashMap<Key, Result<Record, TreeError>>,
    /// Records in `done` or being made by a worker.
    ahead: usize,
    /// Bytes of the records in `done`.
    ahead_bytes: usize,
    /// The consumer is finished (or failed): workers leave.
    stop: bool,
    /// A worker panicked: the consumer stops waiting.
    broken: bool,
}

struct Walk {
    state: Mutex<State>,
    wake: Condvar,
}

/// Sets `stop` (and `broken` when unwinding) however its owner leaves,
/// so that no thread waits for one that is gone.
struct StopOnDrop<'a>(&'a Walk);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.stop = true;
        st.broken |= std::thread::panicking();
        drop(st);
        self.0.wake.notify_all();
    }
}

impl Walk {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.wake.wait(st).unwrap_or_else(|e| e.into_inner())
    }

    /// The NAR of directory `root` into `sink`, after the archive header.
    fn run(root: &Path, sink: &mut dyn NarSink, workers: usize) -> Result<Counts, TreeError> {
        let walk = Walk {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        };
        walk.lock().pending.insert(
            Vec::new(),
            Job {
                key: Vec::new(),
                parent: None,
                name: OsString::new(),
                path: root.to_path_buf(),
                depth: 0,
            },
        );
        std::thread::scope(|scope| {
            for _ in 0..workers {
                // Without a thread the consumer does every job itself.
                let _ = std::thread::Builder::new()
                    .name("envtwin-walk".into())
                    .spawn_scoped(scope, || walk.work());
            }
            let _stop = StopOnDrop(&walk);
            let mut counts = Counts::default();
            let mut buf = Vec::new();
            let rec = walk.obtain(Vec::new())?;
            walk.consume(rec, sink, &mut buf, &mut counts)?;
            Ok(counts)
        })
    }

    /// A worker: take the first pending directory while there is room
    /// ahead of the consumer, list it, hand the record over.
    fn work(&self) {
        let _stop = StopOnDrop(self);
        loop {
            let job = {
                let mut st = self.lock();
                loop {
                    if st.stop {
                        return;
                    }
                    if st.ahead < AHEAD_RECORDS
                        && st.ahead_bytes < AHEAD_BYTES
                        && let Some((_, job)) = st.pending.pop_first()
                    {
                        st.ahead += 1;
                        break job;
                    }
                    st = self.wait(st);
                }
            };
            let key = job.key.clone();
            let result = read_dir(job);
            let mut st = self.lock();
            let result = result.map(|(rec, jobs)| {
                st.ahead_bytes += rec.weight();
                st.pending
                    .extend(jobs.into_iter().map(|j| (j.key.clone(), j)));
                rec
            });
            st.done.insert(key, result);
            drop(st);
            self.wake.notify_all();
        }
    }

    /// The record of directory `key`: made by a worker, or here if no
    /// worker has started it (so the consumer never waits on a worker that
    /// is itself waiting for room).
    fn obtain(&self, key: Key) -> Result<Record, TreeError> {
        let mut st = self.lock();
        loop {
            if let Some(result) = st.done.remove(&key) {
                st.ahead -= 1;
                if let Ok(rec) = &result {
                    st.ahead_bytes -= rec.weight();
                }
                drop(st);
                self.wake.notify_all();
                return result;
            }
            if let Some(job) = st.pending.remove(&key) {
                drop(st);
                let (rec, jobs) = read_dir(job)?;
                let mut st = self.lock();
                st.pending
                    .extend(jobs.into_iter().map(|j| (j.key.clone(), j)));
                drop(st);
                self.wake.notify_all();
                return Ok(rec);
            }
            if st.broken {
                return Err(TreeError::Io {
                    path: PathBuf::new(),
                    source: std::io::Error::other("a walking thread failed"),
                });
            }
            st = self.wait(st);
        }
    }

    /// Feed `rec` to the sink, filling its holes in order.
    fn consume(
        &self,
        rec: Record,
        sink: &mut dyn NarSink,
        buf: &mut Vec<u8>,
        counts: &mut Counts,
    ) -> Result<(), TreeError> {
        let mut at = 0;
        for (offset, hole) in &rec.holes {
            sink.put(&rec.nar[at..*offset])?;
            at = *offset;
            match hole {
                Hole::Dir(i) => {
                    let mut key = rec.key.clone();
                    key.push(*i);
                    let child = self.obtain(key)?;
                    self.consume(child, sink, buf, counts)?;
                }
                Hole::File { name, size } => {
                    let path = rec.path.join(name);
                    let mut file = match &rec.dir {
                        Some(fd) => walk::open_file_at(fd.as_raw_fd(), name, &rec.path)?,
                        None => walk::open_regular(&path)?.file,
                    };
                    contents(&mut file, *size, &path, sink, buf)?;
                }
            }
        }
        sink.put(&rec.nar[at..])?;
        *counts += rec.counts;
        Ok(())
    }
}

/// Sink writing to an `io::Write`, through a buffer.
struct WriteSink<'w>(std::io::BufWriter<&'w mut dyn Write>);

impl NarSink for WriteSink<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), TreeError> {
        self.0
            .write_all(bytes)
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
    let mut sink = WriteSink(std::io::BufWriter::with_capacity(BLOCK, w));
    stream(path, kind, &mut sink, workers())?;
    sink.0.flush().map_err(|source| TreeError::Write { source })
}

/// Walking threads per stream: one per CPU, so that the walk keeps up
/// with the consumer on every tree shape.
pub(crate) fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
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

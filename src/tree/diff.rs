//! Comparing two trees (SPEC §5) into typed [`Difference`]s, sorted by path.
//!
//! [`diff_trees`] walks both trees in lockstep, one directory pair at a
//! time, merging the two sorted listings and opening entries relative to
//! the directories' descriptors. Equal entries leave nothing behind;
//! subtrees and the files of a directory are spread over the rayon pool.
//! Files are compared byte for byte, and hashed only when the report
//! prints their hash: when two files first differ at offset k, the common
//! prefix is hashed once and the two tails in parallel from a clone of
//! that state.
//!
//! Under a path that exists on one side only, or whose type differs, only
//! that path is listed, not each entry beneath it: the description of a
//! directory says how many entries it holds. [`diff_manifests`] gives the
//! same list from two manifests.

use super::explain::{Context, Detail, MAX_EXPLAINED, explain_from};
use super::manifest::{Entry, EntryKind, Manifest, child_key, escape_name};
use super::map;
use super::nar::BLOCK;
use super::walk::{self, At, Kind};
use super::{DiffKind, Difference, TreeError};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Directory levels walked with descriptors held; deeper directories
/// are opened by whole path, so no tree can exhaust descriptors.
const MAX_OPEN_DIRS: usize = 64;
/// Files at least this large are compared in chunks of this size on
/// several threads.
const CHUNK: u64 = 4 << 20;
/// Ranges from this size on are mapped rather than read (see `map`).
const MAP_MIN: u64 = 128 * 1024;

/// The differences between trees `a` and `b`, explained; empty when
/// identical.
///
/// The result equals `diff_manifests(&manifest(a)?, &manifest(b)?)` with
/// each difference's `detail` filled by
/// [`explain_differences`](super::explain_differences), computed without
/// hashing anything the report does not print.
pub fn diff_trees(a: &Path, b: &Path) -> Result<Vec<Difference>, TreeError> {
    let (ka, kb) = (walk::root_kind(a)?, walk::root_kind(b)?);
    let shared = Shared {
        ctx: Context::sandbox(),
        eager: AtomicUsize::new(0),
    };
    let mut found = Vec::new();
    let (la, lb) = (Loc::root(a), Loc::root(b));
    if (ka, kb) == (Kind::Directory, Kind::Directory) {
        found = dirs(la, lb, "", 0, &shared)?;
    } else {
        entry(
            la,
            lb,
            Some(ka),
            Some(kb),
            String::new,
            0,
            &shared,
            &mut found,
        )?;
    }
    found.sort_unstable_by(|x, y| x.diff.path.cmp(&y.diff.path));
    let first: Vec<Option<u64>> = found.iter().map(|f| f.first).collect();
    let mut out: Vec<Difference> = found.into_iter().map(|f| f.diff).collect();
    super::explain::explain_known(&mut out, a, b, &first, &shared.ctx);
    Ok(out)
}

/// What every task of one diff shares.
struct Shared {
    /// The explanation context, one for the whole diff.
    ctx: Context,
    /// Content differences explained early (see [`EAGER_MIN`]), at most
    /// [`MAX_EXPLAINED`]: the cap applies in path order afterwards.
    eager: AtomicUsize,
}

/// A content difference in files this large is explained while the two
/// files are hashed, on another core, rather than after the walk: its
/// explanation reads much of the files again.
const EAGER_MIN: u64 = 16 << 20;

/// [`diff_trees`], for callers that already know the two trees' hashes
/// differ (a twin build, a store path of a closure). Kept as its own name
/// because the diff no longer hashes the trees first: both are the same.
pub fn diff_differing(a: &Path, b: &Path) -> Result<Vec<Difference>, TreeError> {
    diff_trees(a, b)
}

/// A difference found by the walk, with the first differing byte of a
/// content difference for the explanation.
struct Found {
    diff: Difference,
    first: Option<u64>,
}

/// An entry of a tree: a name in an open directory, or a whole path (the
/// root, or beneath [`MAX_OPEN_DIRS`]). The full path is built only for
/// errors and for directories.
#[derive(Clone, Copy)]
struct Loc<'a> {
    at: Option<(RawFd, &'a OsStr)>,
    /// The parent directory's path, or the entry's own when `at` is None.
    path: &'a Path,
}

impl<'a> Loc<'a> {
    fn root(path: &'a Path) -> Self {
        Loc { at: None, path }
    }

    fn full(&self) -> PathBuf {
        match self.at {
            Some((_, name)) => self.path.join(name),
            None => self.path.to_path_buf(),
        }
    }

    fn err(&self, source: std::io::Error) -> TreeError {
        walk::io_err(&self.full(), source)
    }

    /// Executable bit and size of a regular file.
    fn stat(&self) -> Result<(bool, u64), TreeError> {
        match self.at {
            Some((fd, name)) => walk::stat_file_at(fd, name, self.path),
            None => {
                let open = walk::open_regular(self.path)?;
                Ok((open.executable, open.size))
            }
        }
    }

    fn open(&self) -> Result<File, TreeError> {
        match self.at {
            Some((fd, name)) => walk::open_file_at(fd, name, self.path),
            None => Ok(walk::open_regular(self.path)?.file),
        }
    }

    /// Executable bit, size, and the file opened if it has data (an
    /// empty file is never opened), guessing as [`walk::OpenGuess`] does
    /// from the last file this thread saw.
    fn open_guessed(&self) -> Result<(Option<File>, bool, u64), TreeError> {
        match self.at {
            Some((fd, name)) => GUESS.with(|g| {
                let mut guess = walk::OpenGuess { data: g.get() };
                let out = guess.open(fd, name, self.path);
                g.set(guess.data);
                out
            }),
            None => {
                let open = walk::open_regular(self.path)?;
                Ok((Some(open.file), open.executable, open.size))
            }
        }
    }

    fn read_link(&self) -> Result<Vec<u8>, TreeError> {
        let full = self.full();
        walk::read_link_at(At {
            parent: self.at,
            path: &full,
        })
    }
}

thread_local! {
    /// Whether the last regular file this thread opened held data.
    static GUESS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Two read buffers per rayon thread.
    static BUFS: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Run `f` with this thread's two buffers, [`BLOCK`] bytes each.
fn with_bufs<R>(f: impl FnOnce(&mut [u8], &mut [u8]) -> R) -> R {
    BUFS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut bufs) => {
            let (x, y) = &mut *bufs;
            x.resize(BLOCK, 0);
            y.resize(BLOCK, 0);
            f(x, y)
        }
        // Re-entered (a rayon job stolen while the buffers are in use).
        Err(_) => f(&mut vec![0u8; BLOCK], &mut vec![0u8; BLOCK]),
    })
}

/// One side's entries of a directory pair, merged by name.
type Pair = (Option<(OsString, Kind)>, Option<(OsString, Kind)>);

/// Merge two listings sorted by raw name.
fn merge(a: Vec<(OsString, Kind)>, b: Vec<(OsString, Kind)>) -> Vec<Pair> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let order = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.0.as_encoded_bytes().cmp(y.0.as_encoded_bytes()),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => return out,
        };
        out.push(match order {
            std::cmp::Ordering::Less => (a.next(), None),
            std::cmp::Ordering::Greater => (None, b.next()),
            std::cmp::Ordering::Equal => (a.next(), b.next()),
        });
    }
}

/// The differences beneath two directories that exist on both sides.
fn dirs(
    la: Loc<'_>,
    lb: Loc<'_>,
    key: &str,
    depth: usize,
    shared: &Shared,
) -> Result<Vec<Found>, TreeError> {
    let (pa, pb) = (la.full(), lb.full());
    let (ra, rb) = rayon::join(
        || {
            walk::list_dir_at(At {
                parent: la.at,
                path: &pa,
            })
        },
        || {
            walk::list_dir_at(At {
                parent: lb.at,
                path: &pb,
            })
        },
    );
    let ((da, ea), (db, eb)) = (ra?, rb?);
    let pairs = merge(ea, eb);
    let deep = depth + 1 >= MAX_OPEN_DIRS;
    let (fa, fb) = (da.as_raw_fd(), db.as_raw_fd());
    if deep {
        drop((da, db));
    }
    // No minimum length: a directory of a few big files spreads them
    // over the threads too, so that hashing one overlaps comparing another.
    pairs
        .par_iter()
        .try_fold(Vec::new, |mut out, (x, y)| {
            let name = x.as_ref().or(y.as_ref()).map(|e| e.0.as_os_str());
            let name = name.unwrap_or_default();
            let (ka, kb) = (x.as_ref().map(|e| e.1), y.as_ref().map(|e| e.1));
            if deep {
                let (qa, qb) = (pa.join(name), pb.join(name));
                entry(
                    Loc::root(&qa),
                    Loc::root(&qb),
                    ka,
                    kb,
                    || child_key(key, name),
                    depth + 1,
                    shared,
                    &mut out,
                )?;
            } else {
                let ca = Loc {
                    at: Some((fa, name)),
                    path: &pa,
                };
                let cb = Loc {
                    at: Some((fb, name)),
                    path: &pb,
                };
                let key = || child_key(key, name);
                entry(ca, cb, ka, kb, key, depth + 1, shared, &mut out)?;
            }
            Ok::<_, TreeError>(out)
        })
        .try_reduce(Vec::new, |mut x, y| {
            x.extend(y);
            Ok(x)
        })
}

/// Compare one path, `None` on a side where it is absent, pushing what
/// differs to `out`. `key` builds its manifest key, only when needed.
#[allow(clippy::too_many_arguments)]
fn entry(
    la: Loc<'_>,
    lb: Loc<'_>,
    ka: Option<Kind>,
    kb: Option<Kind>,
    key: impl Fn() -> String,
    depth: usize,
    shared: &Shared,
    out: &mut Vec<Found>,
) -> Result<(), TreeError> {
    let found_with = |kind, a, b, first, detail| Found {
        diff: Difference {
            path: key(),
            kind,
            a,
            b,
            culprits: Vec::new(),
            inherent: false,
            members: Vec::new(),
            detail,
        },
        first,
    };
    let found = |kind, a, b, first| found_with(kind, a, b, first, None);
    match (ka, kb) {
        (Some(ka), None) => out.push(found(
            DiffKind::OnlyInA,
            Some(describe(la, ka)?),
            None,
            None,
        )),
        (None, Some(kb)) => out.push(found(
            DiffKind::OnlyInB,
            None,
            Some(describe(lb, kb)?),
            None,
        )),
        (Some(Kind::Regular), Some(Kind::Regular)) => {
            if let Some((kind, a, b, first, detail)) = files(la, lb, shared)? {
                out.push(found_with(kind, Some(a), Some(b), first, detail));
            }
        }
        (Some(Kind::Symlink), Some(Kind::Symlink)) => {
            let (ta, tb) = (la.read_link()?, lb.read_link()?);
            if ta != tb {
                let show = |t: &[u8]| format!("symlink -> {}", escape_name(t));
                out.push(found(
                    DiffKind::SymlinkTarget,
                    Some(show(&ta)),
                    Some(show(&tb)),
                    None,
                ));
            }
        }
        (Some(Kind::Directory), Some(Kind::Directory)) => {
            out.extend(dirs(la, lb, &key(), depth, shared)?)
        }
        (Some(ka), Some(kb)) => {
            let (a, b) = rayon::join(|| describe(la, ka), || describe(lb, kb));
            out.push(found(DiffKind::Type, Some(a?), Some(b?), None));
        }
        (None, None) => {}
    }
    Ok(())
}

/// The description of one side of a difference, as [`diff_manifests`]
/// writes it.
fn describe(loc: Loc<'_>, kind: Kind) -> Result<String, TreeError> {
    Ok(match kind {
        Kind::Regular => {
            let (executable, size) = loc.stat()?;
            let sha = if size == 0 {
                hex(&Sha256::digest(b""))
            } else {
                let file = loc.open()?;
                let mut h = Sha256::new();
                hash_range(&file, 0, size, &mut h).map_err(|e| loc.err(e))?;
                hex(&h.finalize())
            };
            regular(executable, size, &sha)
        }
        Kind::Symlink => format!("symlink -> {}", escape_name(&loc.read_link()?)),
        Kind::Directory => directory(count(loc)?),
    })
}

/// How many entries lie beneath a directory, at any depth.
fn count(loc: Loc<'_>) -> Result<usize, TreeError> {
    let path = loc.full();
    let (dir, entries) = walk::list_dir_at(At {
        parent: loc.at,
        path: &path,
    })?;
    let fd = dir.as_raw_fd();
    let deep = entries
        .par_iter()
        .filter(|e| e.1 == Kind::Directory)
        .map(|(name, _)| {
            count(Loc {
                at: Some((fd, name)),
                path: &path,
            })
        })
        .try_reduce(|| 0, |x, y| Ok(x + y))?;
    Ok(entries.len() + deep)
}

/// How two regular files differ: the kind, both descriptions and, for
/// content, the first differing byte and maybe the explanation.
type FileDiff = (DiffKind, String, String, Option<u64>, Option<Detail>);

/// How two regular files differ, if they do.
fn files(la: Loc<'_>, lb: Loc<'_>, shared: &Shared) -> Result<Option<FileDiff>, TreeError> {
    let ((fa, xa, sa), (fb, xb, sb)) = (la.open_guessed()?, lb.open_guessed()?);
    let first = first_difference(fa.as_ref(), fb.as_ref(), sa, sb, la, lb)?;
    let mut detail = None;
    let (kind, ha, hb) = match first {
        None if xa == xb => return Ok(None),
        None => {
            let mut h = Sha256::new();
            if let Some(f) = &fa {
                hash_range(f, 0, sa, &mut h).map_err(|e| la.err(e))?;
            }
            let sha = hex(&h.finalize());
            (DiffKind::Executable, sha.clone(), sha)
        }
        Some(k) => {
            // The common prefix once, then each tail from a copy of that state.
            let hashes = || -> Result<(String, String), TreeError> {
                let mut h = Sha256::new();
                if let Some(f) = &fa {
                    hash_range(f, 0, k, &mut h).map_err(|e| la.err(e))?;
                }
                let tail = |f: Option<&File>, size: u64, loc: Loc<'_>| {
                    let mut h = h.clone();
                    if let Some(f) = f {
                        hash_range(f, k, size, &mut h).map_err(|e| loc.err(e))?;
                    }
                    Ok::<_, TreeError>(hex(&h.finalize()))
                };
                let (ha, hb) = if sa.max(sb) - k >= CHUNK {
                    rayon::join(|| tail(fa.as_ref(), sa, la), || tail(fb.as_ref(), sb, lb))
                } else {
                    (tail(fa.as_ref(), sa, la), tail(fb.as_ref(), sb, lb))
                };
                Ok((ha?, hb?))
            };
            let early = sa.max(sb) >= EAGER_MIN
                && shared.eager.fetch_add(1, Ordering::Relaxed) < MAX_EXPLAINED;
            let (ha, hb) = if early {
                let (hashed, explained) = rayon::join(hashes, || {
                    explain_from(&la.full(), &lb.full(), &shared.ctx, Some(k))
                });
                detail = Some(explained);
                hashed?
            } else {
                hashes()?
            };
            (DiffKind::Content, ha, hb)
        }
    };
    Ok(Some((
        kind,
        regular(xa, sa, &ha),
        regular(xb, sb, &hb),
        first,
        detail,
    )))
}

/// The offset of the first byte where two files differ (the shorter size
/// when one is a prefix of the other), or `None` when they are equal.
/// Large files are compared in chunks on several threads.
fn first_difference(
    fa: Option<&File>,
    fb: Option<&File>,
    sa: u64,
    sb: u64,
    la: Loc<'_>,
    lb: Loc<'_>,
) -> Result<Option<u64>, TreeError> {
    let common = sa.min(sb);
    let (fa, fb) = match (fa, fb) {
        (Some(fa), Some(fb)) => (fa, fb),
        _ => return Ok((sa != sb).then_some(0)),
    };
    let chunk = |start: u64| -> Result<Option<u64>, TreeError> {
        let end = (start + CHUNK).min(common);
        if end - start >= MAP_MIN {
            match map::first_difference(fa, fb, start, end) {
                Ok(Some(found)) => return Ok(found),
                Ok(None) => {}
                Err((0, e)) => return Err(la.err(e)),
                Err((_, e)) => return Err(lb.err(e)),
            }
        }
        with_bufs(|ba, bb| {
            let mut at = start;
            while at < end {
                let n = (end - at).min(BLOCK as u64) as usize;
                walk::read_exact_at(fa, &mut ba[..n], at).map_err(|e| la.err(e))?;
                walk::read_exact_at(fb, &mut bb[..n], at).map_err(|e| lb.err(e))?;
                if ba[..n] != bb[..n] {
                    let i = ba[..n].iter().zip(&bb[..n]).position(|(x, y)| x != y);
                    return Ok(Some(at + i.unwrap_or(0) as u64));
                }
                at += n as u64;
            }
            Ok(None)
        })
    };
    let found = if common <= CHUNK {
        chunk(0)?
    } else {
        (0..common.div_ceil(CHUNK))
            .into_par_iter()
            .map(|i| chunk(i * CHUNK))
            .find_map_first(|r| r.transpose())
            .transpose()?
    };
    Ok(found.or((sa != sb).then_some(common)))
}

/// Feed bytes `from..to` of `file` to `h`: mapped when large.
fn hash_range(file: &File, from: u64, to: u64, h: &mut Sha256) -> std::io::Result<()> {
    if to - from >= MAP_MIN && map::for_each_window(file, from, to, |b| map::hash_prefetched(h, b))?
    {
        return Ok(());
    }
    with_bufs(|buf, _| {
        let mut at = from;
        while at < to {
            let n = (to - at).min(BLOCK as u64) as usize;
            walk::read_exact_at(file, &mut buf[..n], at)?;
            h.update(&buf[..n]);
            at += n as u64;
        }
        Ok(())
    })
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `regular, 12 bytes, sha256 ab12cd34ef56…` (or `executable, …`).
fn regular(executable: bool, size: u64, sha256: &str) -> String {
    let kind = if executable { "executable" } else { "regular" };
    let unit = if size == 1 { "byte" } else { "bytes" };
    let short = sha256.get(..12).unwrap_or(sha256);
    format!("{kind}, {size} {unit}, sha256 {short}…")
}

/// `directory, 3 entries`.
fn directory(n: usize) -> String {
    let unit = if n == 1 { "entry" } else { "entries" };
    format!("directory, {n} {unit}")
}

/// The differences between two manifests, sorted by path.
pub fn diff_manifests(a: &Manifest, b: &Manifest) -> Vec<Difference> {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    // Paths reported whole; entries beneath them are not listed again.
    let mut covered: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::new();
    for key in keys {
        if is_beneath_any(key, &covered) {
            continue;
        }
        let (ea, eb) = (a.get(key), b.get(key));
        let kind = match (ea, eb) {
            (Some(_), None) => DiffKind::OnlyInA,
            (None, Some(_)) => DiffKind::OnlyInB,
            (Some(x), Some(y)) => match entry_diff(x, y) {
                Some(kind) => kind,
                None => continue,
            },
            (None, None) => continue,
        };
        if matches!(kind, DiffKind::OnlyInA | DiffKind::OnlyInB | DiffKind::Type) {
            covered.insert(key);
        }
        out.push(Difference {
            path: key.clone(),
            kind,
            a: ea.map(|e| describe_entry(e, key, a)),
            b: eb.map(|e| describe_entry(e, key, b)),
            culprits: Vec::new(),
            inherent: false,
            members: Vec::new(),
            detail: None,
        });
    }
    out
}

/// Whether `key` lies strictly beneath one of `covered`.
fn is_beneath_any(key: &str, covered: &BTreeSet<&str>) -> bool {
    if covered.contains("") && !key.is_empty() {
        return true;
    }
    key.match_indices('/')
        .any(|(i, _)| covered.contains(&key[..i]))
}

/// How one path differs between A and B, if it does. When both content
/// and the executable bit differ, content is reported (both descriptions
/// still show the bit).
fn entry_diff(a: &Entry, b: &Entry) -> Option<DiffKind> {
    match (&a.kind, &b.kind) {
        (
            EntryKind::Regular {
                executable: xa,
                size: sa,
                sha256: ha,
            },
            EntryKind::Regular {
                executable: xb,
                size: sb,
                sha256: hb,
            },
        ) => {
            if sa != sb || ha != hb {
                Some(DiffKind::Content)
            } else if xa != xb {
                Some(DiffKind::Executable)
            } else {
                None
            }
        }
        (EntryKind::Symlink { target: ta }, EntryKind::Symlink { target: tb }) => {
            (ta != tb).then_some(DiffKind::SymlinkTarget)
        }
        (EntryKind::Directory, EntryKind::Directory) => None,
        _ => Some(DiffKind::Type),
    }
}

/// A short human description of one side, e.g.
/// `regular, 12 bytes, sha256 ab12cd34ef56…`, `symlink -> target`,
/// `directory, 3 entries`.
fn describe_entry(entry: &Entry, key: &str, m: &Manifest) -> String {
    match &entry.kind {
        EntryKind::Regular {
            executable,
            size,
            sha256,
        } => regular(*executable, *size, sha256),
        EntryKind::Symlink { target } => format!("symlink -> {target}"),
        EntryKind::Directory => directory(entries_beneath(key, m)),
    }
}

/// How many paths lie beneath directory `key`.
fn entries_beneath(key: &str, m: &Manifest) -> usize {
    if key.is_empty() {
        return m.len().saturating_sub(1);
    }
    let prefix = format!("{key}/");
    m.range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn reg(exec: bool, size: u64, sha: &str) -> Entry {
        Entry {
            kind: EntryKind::Regular {
                executable: exec,
                size,
                sha256: sha.into(),
            },
        }
    }
    fn dir() -> Entry {
        Entry {
            kind: EntryKind::Directory,
        }
    }
    fn link(t: &str) -> Entry {
        Entry {
            kind: EntryKind::Symlink { target: t.into() },
        }
    }
    fn m(entries: &[(&str, Entry)]) -> Manifest {
        entries
            .iter()
            .map(|(k, e)| (k.to_string(), e.clone()))
            .collect()
    }

    #[test]
    fn every_kind_with_descriptions() {
        let h1 = "ab12cd34ef567890aaaa";
        let h2 = "0000000000000000bbbb";
        let a = m(&[
            ("", dir()),
            ("c", reg(false, 12, h1)),
            ("d", dir()),
            ("d/x", reg(false, 1, h1)),
            ("d/y", reg(false, 1, h1)),
            ("e", reg(false, 1, h1)),
            ("l", link("t1")),
            ("t", reg(false, 1, h1)),
        ]);
        let b = m(&[
            ("", dir()),
            ("c", reg(false, 12, h2)),
            ("e", reg(true, 1, h1)),
            ("l", link("t2")),
            ("n", dir()),
            ("t", link("c")),
        ]);
        let d = diff_manifests(&a, &b);
        let got: Vec<(&str, DiffKind, Option<&str>, Option<&str>)> = d
            .iter()
            .map(|d| (d.path.as_str(), d.kind, d.a.as_deref(), d.b.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "c",
                    DiffKind::Content,
                    Some("regular, 12 bytes, sha256 ab12cd34ef56…"),
                    Some("regular, 12 bytes, sha256 000000000000…")
                ),
                ("d", DiffKind::OnlyInA, Some("directory, 2 entries"), None),
                (
                    "e",
                    DiffKind::Executable,
                    Some("regular, 1 byte, sha256 ab12cd34ef56…"),
                    Some("executable, 1 byte, sha256 ab12cd34ef56…")
                ),
                (
                    "l",
                    DiffKind::SymlinkTarget,
                    Some("symlink -> t1"),
                    Some("symlink -> t2")
                ),
                ("n", DiffKind::OnlyInB, None, Some("directory, 0 entries")),
                (
                    "t",
                    DiffKind::Type,
                    Some("regular, 1 byte, sha256 ab12cd34ef56…"),
                    Some("symlink -> c")
                ),
            ]
        );
    }

    #[test]
    fn entries_beneath_a_type_change_are_not_listed() {
        let a = m(&[
            ("", dir()),
            ("p", dir()),
            ("p/q", dir()),
            ("p/q/r", link("x")),
        ]);
        let b = m(&[("", dir()), ("p", reg(false, 0, "e3")), ("p-q", dir())]);
        let d = diff_manifests(&a, &b);
        let got: Vec<(&str, DiffKind)> = d.iter().map(|d| (d.path.as_str(), d.kind)).collect();
        assert_eq!(got, [("p", DiffKind::Type), ("p-q", DiffKind::OnlyInB)]);
        assert_eq!(d[0].a.as_deref(), Some("directory, 2 entries"));
    }

    #[test]
    fn root_type_change_is_one_difference() {
        let a = m(&[("", dir()), ("x", dir())]);
        let b = m(&[("", link("elsewhere"))]);
        let d = diff_manifests(&a, &b);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].path.as_str(), d[0].kind), ("", DiffKind::Type));
        assert_eq!(d[0].a.as_deref(), Some("directory, 1 entry"));
    }

    #[test]
    fn diff_trees_on_disk() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        for root in [&a, &b] {
            std::fs::create_dir_all(root.join("bin")).unwrap();
            std::fs::write(root.join("bin/run"), b"#!/bin/sh\n").unwrap();
            symlink("bin/run", root.join("run")).unwrap();
        }
        assert_eq!(diff_trees(&a, &b).unwrap(), []);
        std::fs::set_permissions(b.join("bin/run"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::fs::write(a.join("stamp"), b"1").unwrap();
        let d = diff_trees(&a, &b).unwrap();
        let got: Vec<(&str, DiffKind)> = d.iter().map(|d| (d.path.as_str(), d.kind)).collect();
        assert_eq!(
            got,
            [
                ("bin/run", DiffKind::Executable),
                ("stamp", DiffKind::OnlyInA)
            ]
        );
        assert!(matches!(
            diff_trees(&a, &tmp.path().join("missing")),
            Err(TreeError::BadPath { .. })
        ));
    }
}

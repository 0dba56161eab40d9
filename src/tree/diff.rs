//! Comparing two trees (SPEC §5): equal NAR hashes mean identical; else the
//! manifests are compared into typed [`Difference`]s, sorted by path.
//!
//! Under a path that exists on one side only, or whose type differs, only
//! that path is listed, not each entry beneath it: the description of a
//! directory says how many entries it holds.

use super::hash::hash_pair;
use super::manifest::{Compared, Entry, EntryKind, Manifest, compare_files, hash_file, skeleton};
use super::nar::BLOCK;
use super::{DiffKind, Difference, TreeError};
use rayon::prelude::*;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

/// The differences between trees `a` and `b`, explained; empty when
/// identical.
///
/// Both trees are hashed concurrently first; only when the hashes differ
/// is the per-file work done. The result is
/// `diff_manifests(&manifest(a)?, &manifest(b)?)`, computed more cheaply
/// (files present on both sides are compared byte for byte and hashed only
/// when they differ), with each difference's `detail` filled by
/// [`explain_differences`](super::explain_differences).
pub fn diff_trees(a: &Path, b: &Path) -> Result<Vec<Difference>, TreeError> {
    let (ha, hb) = hash_pair(a, b);
    if ha? == hb? {
        return Ok(Vec::new());
    }
    diff_differing(a, b)
}

/// The per-file half of [`diff_trees`], for callers that already know the
/// two trees' hashes differ (a twin build, a store path of a closure), so
/// the trees are not hashed again.
pub fn diff_differing(a: &Path, b: &Path) -> Result<Vec<Difference>, TreeError> {
    let (sa, sb) = rayon::join(|| skeleton(a), || skeleton(b));
    let ((mut ma, fa), (mut mb, fb)) = (sa?, sb?);
    let in_b: HashMap<&str, &Path> = fb
        .iter()
        .map(|p| (p.key.as_str(), p.path.as_path()))
        .collect();
    let in_a: HashSet<&str> = fa.iter().map(|p| p.key.as_str()).collect();
    let jobs: Vec<Job> = fa
        .iter()
        .map(|p| match in_b.get(p.key.as_str()) {
            Some(pb) => Job::Both(&p.key, &p.path, pb),
            None => Job::OnlyA(&p.key, &p.path),
        })
        .chain(
            fb.iter()
                .filter(|p| !in_a.contains(p.key.as_str()))
                .map(|p| Job::OnlyB(&p.key, &p.path)),
        )
        .collect();
    let done: Vec<(&str, Option<EntryKind>, Option<EntryKind>)> = jobs
        .into_par_iter()
        .map_init(
            || (vec![0u8; BLOCK], vec![0u8; BLOCK]),
            |bufs, job| -> Result<_, TreeError> {
                Ok(match job {
                    Job::Both(key, pa, pb) => match compare_files(pa, pb, bufs)? {
                        Compared::Same(e) => (key, Some(e.clone()), Some(e)),
                        Compared::Differ(x, y) => (key, Some(x), Some(y)),
                    },
                    Job::OnlyA(key, p) => (key, Some(hash_file(p, &mut bufs.0)?), None),
                    Job::OnlyB(key, p) => (key, None, Some(hash_file(p, &mut bufs.0)?)),
                })
            },
        )
        .collect::<Result<_, _>>()?;
    for (key, x, y) in done {
        if let Some(kind) = x {
            ma.insert(key.to_string(), Entry { kind });
        }
        if let Some(kind) = y {
            mb.insert(key.to_string(), Entry { kind });
        }
    }
    let mut out = diff_manifests(&ma, &mb);
    super::explain::explain_differences(&mut out, a, b);
    Ok(out)
}

/// Per-file work once the hashes differ: regular files by key.
enum Job<'p> {
    Both(&'p str, &'p Path, &'p Path),
    OnlyA(&'p str, &'p Path),
    OnlyB(&'p str, &'p Path),
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
            a: ea.map(|e| describe(e, key, a)),
            b: eb.map(|e| describe(e, key, b)),
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
fn describe(entry: &Entry, key: &str, m: &Manifest) -> String {
    match &entry.kind {
        EntryKind::Regular {
            executable,
            size,
            sha256,
        } => {
            let kind = if *executable { "executable" } else { "regular" };
            let unit = if *size == 1 { "byte" } else { "bytes" };
            let short = sha256.get(..12).unwrap_or(sha256);
            format!("{kind}, {size} {unit}, sha256 {short}…")
        }
        EntryKind::Symlink { target } => format!("symlink -> {target}"),
        EntryKind::Directory => {
            let n = entries_beneath(key, m);
            let unit = if n == 1 { "entry" } else { "entries" };
            format!("directory, {n} {unit}")
        }
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

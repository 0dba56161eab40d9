//! The per-file manifest of a tree ([`Manifest`]): every path with its type,
//! executable bit, size and SHA-256, or symlink target. It records exactly
//! what the NAR does, so two trees have equal hashes iff equal manifests.

use super::TreeError;
use super::walk::{self, Kind};
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Relative path -> entry. The root itself is the key `""`; other keys are
/// names joined by `/` (see [`escape_name`] for names that are not UTF-8).
pub type Manifest = BTreeMap<String, Entry>;

/// One path of a tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// What is at the path; serialised inline with a `type` tag.
    #[serde(flatten)]
    pub kind: EntryKind,
}

/// What NAR records for a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EntryKind {
    /// A regular file.
    Regular {
        /// The owner-execute bit (`S_IXUSR`), as Nix reads it.
        executable: bool,
        /// Content length in bytes.
        size: u64,
        /// SHA-256 of the contents, lowercase hex.
        sha256: String,
    },
    /// A symlink, never followed.
    Symlink {
        /// The link's target, escaped like a name if not UTF-8.
        target: String,
    },
    /// A directory; its entries have their own keys.
    Directory,
}

/// A file or directory name (or symlink target) as a `String` that maps
/// distinct byte strings to distinct strings: bytes that are not UTF-8 are
/// written `\xNN` and a literal backslash is doubled, so e.g. the bytes
/// `a\x80` become `a\x80` and the name `a\x80` (4 characters) `a\\x80`.
pub fn escape_name(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// `key/name` as a manifest key (`name` alone under the root's key `""`).
pub(super) fn child_key(key: &str, name: &OsStr) -> String {
    let name = escape_name(name.as_encoded_bytes());
    if key.is_empty() {
        name
    } else {
        format!("{key}/{name}")
    }
}

/// A file still to be hashed: its key and its full path.
pub(crate) struct Pending {
    pub key: String,
    pub path: PathBuf,
}

/// The manifest of `path` (directory, file or symlink; never followed).
/// File contents are hashed in parallel on the rayon pool.
pub fn manifest(path: &Path) -> Result<Manifest, TreeError> {
    let (mut out, files) = skeleton(path)?;
    let hashed: Vec<(String, EntryKind)> = files
        .into_par_iter()
        .map_init(
            || vec![0u8; super::nar::BLOCK],
            |buf, f| hash_file(&f.path, buf).map(|kind| (f.key, kind)),
        )
        .collect::<Result<_, _>>()?;
    out.extend(hashed.into_iter().map(|(k, kind)| (k, Entry { kind })));
    Ok(out)
}

/// The manifest of `path` without its regular files, which are returned
/// unread for the caller to fill in.
pub(crate) fn skeleton(path: &Path) -> Result<(Manifest, Vec<Pending>), TreeError> {
    let kind = walk::root_kind(path)?;
    let mut out = Manifest::new();
    let mut files = Vec::new();
    collect(path, String::new(), kind, &mut out, &mut files)?;
    Ok((out, files))
}

/// Walk the tree: directories and symlinks go straight into `out`, regular
/// files into `files` for the parallel hashing pass.
fn collect(
    path: &Path,
    key: String,
    kind: Kind,
    out: &mut Manifest,
    files: &mut Vec<Pending>,
) -> Result<(), TreeError> {
    match kind {
        Kind::Regular => files.push(Pending {
            key,
            path: path.to_path_buf(),
        }),
        Kind::Symlink => {
            let target = escape_name(&walk::read_link(path)?);
            out.insert(
                key,
                Entry {
                    kind: EntryKind::Symlink { target },
                },
            );
        }
        Kind::Directory => {
            for (name, kind) in walk::list_dir(path)? {
                collect(&path.join(&name), child_key(&key, &name), kind, out, files)?;
            }
            out.insert(
                key,
                Entry {
                    kind: EntryKind::Directory,
                },
            );
        }
    }
    Ok(())
}

/// The manifest entry of regular file `path`, hashing it with `buf`.
pub(crate) fn hash_file(path: &Path, buf: &mut [u8]) -> Result<EntryKind, TreeError> {
    let mut open = walk::open_regular(path)?;
    hash_open(&mut open, path, buf)
}

/// SHA-256 (lowercase hex) of the regular file at `path`.
pub fn file_sha256(path: &Path) -> Result<String, TreeError> {
    let mut open = walk::open_regular(path)?;
    sha256_open(&mut open, path, &mut vec![0u8; super::nar::BLOCK])
}

/// Same as [`hash_file`] for a file already open, read from its start.
fn hash_open(
    open: &mut walk::OpenFile,
    path: &Path,
    buf: &mut [u8],
) -> Result<EntryKind, TreeError> {
    Ok(EntryKind::Regular {
        executable: open.executable,
        size: open.size,
        sha256: sha256_open(open, path, buf)?,
    })
}

/// SHA-256 (hex) of an open file's contents, read from its start.
fn sha256_open(
    open: &mut walk::OpenFile,
    path: &Path,
    buf: &mut [u8],
) -> Result<String, TreeError> {
    let mut hasher = Sha256::new();
    let mut left = open.size;
    while left > 0 {
        let n = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
        walk::read_full(&mut open.file, path, &mut buf[..n])?;
        hasher.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::{PermissionsExt, symlink};

    #[test]
    fn escape_is_identity_on_plain_utf8_and_injective_on_the_rest() {
        assert_eq!(escape_name("bin/é x".as_bytes()), "bin/é x");
        assert_eq!(escape_name(b"a\x80"), "a\\x80");
        assert_eq!(escape_name(b"a\\x80"), "a\\\\x80");
        assert_ne!(escape_name(b"a\x80"), escape_name(b"a\\x80"));
        assert_eq!(escape_name(b"\xff\xfe"), "\\xff\\xfe");
    }

    #[test]
    fn manifest_of_small_tree() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::create_dir(root.join("empty")).unwrap();
        std::fs::write(root.join("bin/tool"), b"abc").unwrap();
        std::fs::set_permissions(
            root.join("bin/tool"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        symlink("bin/tool", root.join("link")).unwrap();
        std::fs::write(root.join(std::ffi::OsStr::from_bytes(b"n\xff")), b"").unwrap();

        let m = manifest(root).unwrap();
        let keys: Vec<&str> = m.keys().map(String::as_str).collect();
        assert_eq!(keys, ["", "bin", "bin/tool", "empty", "link", "n\\xff"]);
        assert_eq!(m[""].kind, EntryKind::Directory);
        assert_eq!(
            m["bin/tool"].kind,
            EntryKind::Regular {
                executable: true,
                size: 3,
                sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
            }
        );
        assert_eq!(
            m["link"].kind,
            EntryKind::Symlink {
                target: "bin/tool".into()
            }
        );
        assert_eq!(
            m["n\\xff"].kind,
            EntryKind::Regular {
                executable: false,
                size: 0,
                sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into(),
            }
        );
        let json = serde_json::to_value(&m["link"]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "symlink", "target": "bin/tool"})
        );
    }

    #[test]
    fn manifest_of_file_and_symlink_roots() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, vec![7u8; 3 * super::super::nar::BLOCK + 1]).unwrap();
        let m = manifest(&f).unwrap();
        assert_eq!(m.len(), 1);
        assert!(
            matches!(m[""].kind, EntryKind::Regular { size, .. } if size == 3 * 256 * 1024 + 1)
        );
        let l = dir.path().join("l");
        symlink("dangling", &l).unwrap();
        let m = manifest(&l).unwrap();
        assert_eq!(
            m[""].kind,
            EntryKind::Symlink {
                target: "dangling".into()
            }
        );
    }

    #[test]
    fn manifest_rejects_special_files_and_missing_roots() {
        let dir = tempfile::tempdir().unwrap();
        nix::unistd::mkfifo(
            &dir.path().join("p"),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        assert!(matches!(
            manifest(dir.path()),
            Err(TreeError::SpecialFile { kind: "fifo", .. })
        ));
        assert!(matches!(
            manifest(&dir.path().join("missing")),
            Err(TreeError::BadPath { .. })
        ));
    }
}

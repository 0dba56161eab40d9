//! TEMPORARY stand-in until the tree branch lands (slow, in-memory NAR).
use super::*;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;

fn s(w: &mut Vec<u8>, b: &[u8]) {
    w.extend_from_slice(&(b.len() as u64).to_le_bytes());
    w.extend_from_slice(b);
    w.extend(std::iter::repeat_n(0u8, (8 - b.len() % 8) % 8));
}
fn node(p: &Path, w: &mut Vec<u8>, files: &mut u64, bytes: &mut u64) -> Result<(), TreeError> {
    let io = |e| TreeError::Io {
        path: p.to_path_buf(),
        source: e,
    };
    let m = std::fs::symlink_metadata(p).map_err(io)?;
    s(w, b"(");
    if m.is_symlink() {
        s(w, b"type");
        s(w, b"symlink");
        s(w, b"target");
        s(w, std::fs::read_link(p).map_err(io)?.as_os_str().as_bytes());
        *files += 1;
    } else if m.is_file() {
        s(w, b"type");
        s(w, b"regular");
        if m.permissions().mode() & 0o100 != 0 {
            s(w, b"executable");
            s(w, b"");
        }
        let c = std::fs::read(p).map_err(io)?;
        *files += 1;
        *bytes += c.len() as u64;
        s(w, b"contents");
        s(w, &c);
    } else if m.is_dir() {
        s(w, b"type");
        s(w, b"directory");
        let mut names: Vec<_> = std::fs::read_dir(p)
            .map_err(io)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for n in names {
            s(w, b"entry");
            s(w, b"(");
            s(w, b"name");
            s(w, n.as_bytes());
            s(w, b"node");
            node(&p.join(&n), w, files, bytes)?;
            s(w, b")");
        }
    } else {
        return Err(TreeError::SpecialFile {
            path: p.to_path_buf(),
            kind: "special file",
        });
    }
    s(w, b")");
    Ok(())
}
fn nar(p: &Path) -> Result<(Vec<u8>, u64, u64), TreeError> {
    std::fs::symlink_metadata(p).map_err(|e| TreeError::BadPath {
        path: p.to_path_buf(),
        source: e,
    })?;
    let mut w = Vec::new();
    s(&mut w, b"nix-archive-1");
    let (mut f, mut b) = (0, 0);
    node(p, &mut w, &mut f, &mut b)?;
    Ok((w, f, b))
}
pub fn write_nar(p: &Path, out: &mut dyn std::io::Write) -> Result<(), TreeError> {
    out.write_all(&nar(p)?.0).map_err(|e| TreeError::Io {
        path: p.to_path_buf(),
        source: e,
    })
}
pub fn hash_path(p: &Path) -> Result<TreeHash, TreeError> {
    use base64::Engine;
    let (w, files, bytes) = nar(p)?;
    Ok(TreeHash {
        sri: format!(
            "sha256-{}",
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&w))
        ),
        files,
        bytes,
    })
}
pub type Manifest = BTreeMap<String, String>;
pub fn manifest(p: &Path) -> Result<Manifest, TreeError> {
    let mut m = BTreeMap::new();
    fn walk(root: &Path, p: &Path, m: &mut Manifest) -> Result<(), TreeError> {
        let rel = p
            .strip_prefix(root)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned();
        let meta = std::fs::symlink_metadata(p).map_err(|e| TreeError::Io {
            path: p.to_path_buf(),
            source: e,
        })?;
        if meta.is_dir() {
            m.insert(rel, "directory".into());
            for e in std::fs::read_dir(p)
                .map_err(|e| TreeError::Io {
                    path: p.to_path_buf(),
                    source: e,
                })?
                .flatten()
            {
                walk(root, &e.path(), m)?;
            }
        } else {
            m.insert(rel, hash_path(p)?.sri);
        }
        Ok(())
    }
    walk(p, p, &mut m)?;
    Ok(m)
}
pub fn diff_manifests(a: &Manifest, b: &Manifest) -> Vec<Difference> {
    let mut out = Vec::new();
    for (k, va) in a {
        match b.get(k) {
            None => out.push(Difference {
                path: k.clone(),
                kind: DiffKind::OnlyInA,
                a: Some(va.clone()),
                b: None,
            }),
            Some(vb) if vb != va => out.push(Difference {
                path: k.clone(),
                kind: DiffKind::Content,
                a: Some(va.clone()),
                b: Some(vb.clone()),
            }),
            _ => {}
        }
    }
    for (k, vb) in b {
        if !a.contains_key(k) {
            out.push(Difference {
                path: k.clone(),
                kind: DiffKind::OnlyInB,
                a: None,
                b: Some(vb.clone()),
            });
        }
    }
    out
}
pub fn diff_trees(a: &Path, b: &Path) -> Result<Vec<Difference>, TreeError> {
    Ok(diff_manifests(&manifest(a)?, &manifest(b)?))
}

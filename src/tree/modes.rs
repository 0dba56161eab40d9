//! Mode bits of a tree (`compare: strict`): what the NAR leaves out but a
//! tarball or an image of the tree records. [`modes`] reads every path's
//! permission bits, [`diff_modes`] lists paths whose bits differ.

use super::manifest::child_key;
use super::walk::{self, Kind};
use super::{DiffKind, Difference, TreeError};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Path key (as in a [`super::Manifest`]) -> permission bits (`0o7777`) of
/// each regular file and directory; symlinks have no mode of their own.
pub type Modes = BTreeMap<String, u32>;

/// The mode bits of every regular file and directory under `path`.
pub fn modes(path: &Path) -> Result<Modes, TreeError> {
    let mut out = Modes::new();
    let kind = walk::root_kind(path)?;
    collect(path, String::new(), kind, &mut out)?;
    Ok(out)
}

fn collect(path: &Path, key: String, kind: Kind, out: &mut Modes) -> Result<(), TreeError> {
    if kind == Kind::Symlink {
        return Ok(());
    }
    let meta = std::fs::symlink_metadata(path).map_err(|source| TreeError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if kind == Kind::Directory {
        for (name, kind) in walk::list_dir(path)? {
            collect(&path.join(&name), child_key(&key, &name), kind, out)?;
        }
    }
    out.insert(key, meta.permissions().mode() & 0o7777);
    Ok(())
}

/// The paths present in both `a` and `b` whose mode bits differ, as
/// [`DiffKind::Mode`] differences (`0644` vs `0664`), sorted by path.
pub fn diff_modes(a: &Modes, b: &Modes) -> Vec<Difference> {
    a.iter()
        .filter_map(|(k, ma)| {
            let mb = b.get(k)?;
            (ma != mb).then(|| Difference {
                path: k.clone(),
                kind: DiffKind::Mode,
                a: Some(format!("{ma:04o}")),
                b: Some(format!("{mb:04o}")),
                culprits: Vec::new(),
                inherent: false,
                members: Vec::new(),
                detail: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn modes_differ_where_the_bits_do_and_symlinks_are_left_out() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        for d in [a.path(), b.path()] {
            fs::create_dir(d.join("lib")).unwrap();
            fs::write(d.join("lib/x"), "same").unwrap();
            fs::write(d.join("y"), "same").unwrap();
            std::os::unix::fs::symlink("y", d.join("link")).unwrap();
            fs::set_permissions(d.join("y"), fs::Permissions::from_mode(0o644)).unwrap();
            fs::set_permissions(d.join("lib"), fs::Permissions::from_mode(0o755)).unwrap();
        }
        fs::set_permissions(b.path().join("lib/x"), fs::Permissions::from_mode(0o664)).unwrap();
        fs::set_permissions(a.path().join("lib/x"), fs::Permissions::from_mode(0o644)).unwrap();
        let (ma, mb) = (modes(a.path()).unwrap(), modes(b.path()).unwrap());
        assert!(!ma.contains_key("link"));
        assert_eq!(ma.get("lib"), Some(&0o755));
        let d = diff_modes(&ma, &mb);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].path, "lib/x");
        assert_eq!(d[0].kind, DiffKind::Mode);
        assert_eq!(
            (d[0].a.as_deref(), d[0].b.as_deref()),
            (Some("0644"), Some("0664"))
        );
        assert!(diff_modes(&ma, &ma).is_empty());
    }
}

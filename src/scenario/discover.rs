//! Scenario files, first step: which files a run reads (SPEC §1 PATH
//! arguments). Produces a sorted, de-duplicated list of paths as found.
//!
//! Rules: a file named on the command line is read whatever its extension;
//! a directory is searched recursively for `*.yaml` / `*.yml`. Hidden
//! entries (names starting with `.`) are skipped while searching, so `.git`,
//! editor lock files and the like never count as scenarios; a hidden path
//! given explicitly is still used. Symlinks are followed, each directory is
//! visited once, so a symlink loop cannot make the search run forever.

use crate::error::Diagnostic;
use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Resolve `paths` into the scenario files to load: each path in the order
/// given, the files under each directory sorted, a file reached twice kept
/// once (first place wins). Every missing path, unreadable directory and
/// directory without scenario files is reported, not only the first.
pub fn find_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Vec<Diagnostic>> {
    let (files, diagnostics) = discover(paths);
    if diagnostics.is_empty() {
        Ok(files)
    } else {
        Err(diagnostics)
    }
}

/// `find_files`, but keeping the files found next to the problems, so that
/// `load` can report problems inside those files in the same run.
pub(crate) fn discover(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<Diagnostic>) {
    let mut files = Vec::new();
    let mut diagnostics = Vec::new();
    let mut seen_files = HashSet::new();
    let mut seen_dirs = HashSet::new();
    for path in paths {
        let meta = match fs::metadata(path) {
            Ok(meta) => meta,
            Err(err) => {
                diagnostics.push(Diagnostic::new(path, io_problem(&err)));
                continue;
            }
        };
        let mut found = Vec::new();
        if meta.is_dir() {
            walk(path, &mut found, &mut diagnostics, &mut seen_dirs);
            found.sort();
            if found.is_empty() {
                diagnostics.push(Diagnostic::new(
                    path,
                    "no scenario files (`*.yaml`, `*.yml`) in this directory; \
                     give a directory that holds some, or name the files",
                ));
            }
        } else if meta.is_file() {
            found.push(path.clone());
        } else {
            diagnostics.push(Diagnostic::new(path, NOT_REGULAR));
        }
        for file in found {
            // Canonical form only to spot the same file reached twice; the
            // path as found is what the user sees.
            let key = fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
            if seen_files.insert(key) {
                files.push(file);
            }
        }
    }
    (files, diagnostics)
}

const NOT_REGULAR: &str = "not a regular file or directory; a scenario is a YAML file";

fn io_problem(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => {
            "no such file or directory; give a scenario file or a directory of scenarios".to_owned()
        }
        _ => format!("cannot read: {err}"),
    }
}

fn is_scenario_name(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml")
}

fn walk(
    dir: &Path,
    found: &mut Vec<PathBuf>,
    diagnostics: &mut Vec<Diagnostic>,
    seen_dirs: &mut HashSet<PathBuf>,
) {
    walk_matching(
        dir,
        &|name| is_scenario_name(name),
        found,
        diagnostics,
        seen_dirs,
    );
}

/// Collect the regular files under `dir` whose name is `wanted`:
/// recursively, sorted, hidden entries skipped, each directory visited once
/// (symlink loops end). A wanted name that is not a regular file (a fifo, a
/// dangling link) is a diagnostic, never opened. Shared with the audit.
pub fn walk_matching(
    dir: &Path,
    wanted: &dyn Fn(&str) -> bool,
    found: &mut Vec<PathBuf>,
    diagnostics: &mut Vec<Diagnostic>,
    seen_dirs: &mut HashSet<PathBuf>,
) {
    let key = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if !seen_dirs.insert(key) {
        return;
    }
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            diagnostics.push(Diagnostic::new(dir, io_problem(&err)));
            return;
        }
    };
    let mut names = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) => names.push(entry.file_name()),
            Err(err) => diagnostics.push(Diagnostic::new(dir, io_problem(&err))),
        }
    }
    names.sort();
    for name in names {
        let shown = name.to_string_lossy();
        if shown.starts_with('.') {
            continue;
        }
        let path = dir.join(&name);
        match fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                walk_matching(&path, wanted, found, diagnostics, seen_dirs)
            }
            Ok(meta) if wanted(&shown) => {
                if meta.is_file() {
                    found.push(path);
                } else {
                    diagnostics.push(Diagnostic::new(&path, NOT_REGULAR));
                }
            }
            Ok(_) => {}
            // A dangling symlink matters only if it has a wanted name.
            Err(err) if wanted(&shown) => {
                diagnostics.push(Diagnostic::new(&path, io_problem(&err)));
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("mkdir");
        }
        fs::write(path, "name: x\n").expect("write");
    }

    #[test]
    fn directories_are_searched_recursively_sorted_and_hidden_entries_skipped() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        for rel in [
            "b.yml",
            "a.yaml",
            "sub/z.yaml",
            "sub/deeper/c.yaml",
            "notes.txt",
            ".hidden/x.yaml",
            ".dot.yaml",
            "a.yaml.bak",
        ] {
            touch(&root.join(rel));
        }
        let files = find_files(&[root.to_path_buf()]).expect("found");
        let rel: Vec<_> = files
            .iter()
            .map(|f| f.strip_prefix(root).expect("under root").to_path_buf())
            .collect();
        assert_eq!(
            rel,
            ["a.yaml", "b.yml", "sub/deeper/c.yaml", "sub/z.yaml"]
                .map(PathBuf::from)
                .to_vec()
        );
    }

    #[test]
    fn explicit_files_keep_argument_order_and_any_extension_and_are_deduplicated() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        touch(&root.join("z.yaml"));
        touch(&root.join("scenario.txt"));
        touch(&root.join("a.yaml"));
        let files = find_files(&[
            root.join("z.yaml"),
            root.join("scenario.txt"),
            root.to_path_buf(),
            root.join("./a.yaml"),
        ])
        .expect("found");
        assert_eq!(
            files,
            vec![
                root.join("z.yaml"),
                root.join("scenario.txt"),
                root.join("a.yaml")
            ]
        );
    }

    #[test]
    fn missing_paths_and_empty_directories_are_all_reported() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        fs::create_dir(root.join("empty")).expect("mkdir");
        touch(&root.join("ok.yaml"));
        let missing = root.join("nope.yaml");
        let diags = find_files(&[missing.clone(), root.join("empty"), root.join("ok.yaml")])
            .expect_err("problems");
        let rendered: Vec<String> = diags.iter().map(ToString::to_string).collect();
        assert_eq!(
            rendered,
            vec![
                format!(
                    "{}: no such file or directory; give a scenario file or a directory of scenarios",
                    missing.display()
                ),
                format!(
                    "{}: no scenario files (`*.yaml`, `*.yml`) in this directory; give a directory that holds some, or name the files",
                    root.join("empty").display()
                ),
            ]
        );
        // Discovery still hands back what it did find.
        let (files, _) = discover(&[missing, root.join("ok.yaml")]);
        assert_eq!(files, vec![root.join("ok.yaml")]);
    }

    #[test]
    fn symlink_loops_end_and_dangling_scenario_links_are_reported() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        touch(&root.join("d/a.yaml"));
        std::os::unix::fs::symlink(root.join("d"), root.join("d/loop")).expect("symlink");
        std::os::unix::fs::symlink(root.join("gone"), root.join("d/broken.yaml")).expect("symlink");
        std::os::unix::fs::symlink(root.join("gone"), root.join("d/broken.txt")).expect("symlink");
        let (files, diags) = discover(&[root.join("d")]);
        assert_eq!(files, vec![root.join("d/a.yaml")]);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].file, root.join("d/broken.yaml"));
    }

    #[test]
    fn a_fifo_is_refused_not_opened() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let fifo = tmp.path().join("pipe.yaml");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).expect("cstr");
        // SAFETY: mkfifo only reads the NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let diags = find_files(std::slice::from_ref(&fifo)).expect_err("fifo");
        assert_eq!(
            diags[0].to_string(),
            format!("{}: {NOT_REGULAR}", fifo.display())
        );
        let (_, diags) = discover(&[tmp.path().to_path_buf()]);
        assert_eq!(diags[0].file, fifo);
    }
}

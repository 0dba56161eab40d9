//! Audit inputs: which files `envtwin audit` reads, and reading them as text.
//! Main type: `Job`, one file to audit with the kind of rules it gets.
//!
//! A file named on the command line is audited by its name: `*.yaml`/`*.yml`
//! as a scenario, `*.nix` as Nix, `requirements*.txt` (also
//! `*-requirements*.txt`, `constraints*.txt`) as a pip requirements file;
//! any other name is bad input, since guessing would audit the wrong rules.
//! Directories are searched recursively for those names, sorted, hidden
//! entries skipped, each directory once (symlink loops end).

use crate::error::Diagnostic;
use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest file audited. Above any hand-written definition (nixpkgs'
/// all-packages.nix, among the largest Nix files there are, is under
/// 2 MiB); it bounds memory and time on a stray or generated input, whose
/// tokens take some 40 times its size.
pub const MAX_AUDIT_BYTES: u64 = 4 * 1024 * 1024;

/// Which rules a file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Scenario,
    Nix,
    Requirements,
}

/// One file to audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Job {
    /// Where to read it.
    pub path: PathBuf,
    /// How findings name it: as given or found, relative where possible.
    pub display: PathBuf,
    pub kind: Kind,
}

/// The kind of a file by its name, `None` for files the audit has no rules for.
pub(crate) fn kind_of(path: &Path) -> Option<Kind> {
    let name = path.file_name()?.to_str()?;
    if name.ends_with(".yaml") || name.ends_with(".yml") {
        Some(Kind::Scenario)
    } else if name.ends_with(".nix") {
        Some(Kind::Nix)
    } else if is_requirements_name(name) {
        Some(Kind::Requirements)
    } else {
        None
    }
}

fn is_requirements_name(name: &str) -> bool {
    name.ends_with(".txt")
        && (name.starts_with("requirements")
            || name.starts_with("constraints")
            || name.contains("-requirements")
            || name.contains("_requirements"))
}

/// The jobs one command-line path stands for, and its problems.
pub(crate) fn expand(path: &Path) -> (Vec<Job>, Vec<Diagnostic>) {
    let mut problems = Vec::new();
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(err) => {
            let message = if err.kind() == std::io::ErrorKind::NotFound {
                "no such file or directory; give a scenario, .nix or requirements*.txt file, \
                 or a directory holding some"
                    .to_owned()
            } else {
                format!("cannot read: {err}")
            };
            return (Vec::new(), vec![Diagnostic::new(path, message)]);
        }
    };
    if meta.is_dir() {
        let mut jobs = Vec::new();
        walk(path, &mut jobs, &mut problems, &mut HashSet::new());
        if jobs.is_empty() && problems.is_empty() {
            problems.push(Diagnostic::new(
                path,
                "nothing to audit: no scenario (`*.yaml`, `*.yml`), `*.nix` or \
                 `requirements*.txt` files in this directory",
            ));
        }
        return (jobs, problems);
    }
    if !meta.is_file() {
        return (Vec::new(), vec![Diagnostic::new(path, NOT_REGULAR)]);
    }
    match kind_of(path) {
        Some(kind) => (
            vec![Job {
                path: path.to_path_buf(),
                display: path.to_path_buf(),
                kind,
            }],
            problems,
        ),
        None => (
            Vec::new(),
            vec![Diagnostic::new(
                path,
                "not a file the audit knows: name a scenario (`*.yaml`, `*.yml`), \
                 a `*.nix` file or a `requirements*.txt` file",
            )],
        ),
    }
}

const NOT_REGULAR: &str = "not a regular file or directory; the audit reads text files";

/// Collect the auditable files under `dir` (recursively, sorted, hidden
/// entries skipped) as jobs displayed under `dir` as given.
pub(crate) fn walk(
    dir: &Path,
    jobs: &mut Vec<Job>,
    problems: &mut Vec<Diagnostic>,
    seen_dirs: &mut HashSet<PathBuf>,
) {
    let mut found = Vec::new();
    let wanted = |name: &str| kind_of(Path::new(name)).is_some();
    crate::scenario::walk_matching(dir, &wanted, &mut found, problems, seen_dirs);
    for path in found {
        if let Some(kind) = kind_of(&path) {
            jobs.push(Job {
                display: path.clone(),
                path,
                kind,
            });
        }
    }
}

/// The UTF-8 text of `path`, or why it is bad input (named as `display`).
/// Checks the file is regular before opening it, so a fifo cannot hang us.
pub(crate) fn read_text(path: &Path, display: &Path) -> Result<String, Diagnostic> {
    let meta = fs::metadata(path)
        .map_err(|err| Diagnostic::new(display, format!("cannot read: {err}")))?;
    if !meta.is_file() {
        return Err(Diagnostic::new(display, NOT_REGULAR));
    }
    let too_big = || {
        Diagnostic::new(
            display,
            format!("file is over the {MAX_AUDIT_BYTES}-byte limit of the audit"),
        )
    };
    if meta.len() > MAX_AUDIT_BYTES {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|f| f.take(MAX_AUDIT_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|err| Diagnostic::new(display, format!("cannot read: {err}")))?;
    if bytes.len() as u64 > MAX_AUDIT_BYTES {
        return Err(too_big());
    }
    decode(display, bytes)
}

/// Text, or a diagnostic at the first byte that makes it not UTF-8 text.
fn decode(display: &Path, bytes: Vec<u8>) -> Result<String, Diagnostic> {
    let bad = |offset: usize, bytes: &[u8]| {
        let prefix = &bytes[..offset.min(bytes.len())];
        let line = prefix.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = prefix
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&prefix[line_start..])
            .chars()
            .count()
            + 1;
        Diagnostic::new(
            display,
            "not a text file (binary, or not UTF-8); the audit reads UTF-8 text",
        )
        .at(line, column)
    };
    if let Some(offset) = bytes.iter().position(|b| *b == 0) {
        return Err(bad(offset, &bytes));
    }
    String::from_utf8(bytes).map_err(|err| {
        let offset = err.utf8_error().valid_up_to();
        bad(offset, err.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_name() {
        let k = |n: &str| kind_of(Path::new(n));
        assert_eq!(k("a/s.yaml"), Some(Kind::Scenario));
        assert_eq!(k("s.yml"), Some(Kind::Scenario));
        assert_eq!(k("default.nix"), Some(Kind::Nix));
        assert_eq!(k("requirements.txt"), Some(Kind::Requirements));
        assert_eq!(k("requirements-dev.txt"), Some(Kind::Requirements));
        assert_eq!(k("dev-requirements.txt"), Some(Kind::Requirements));
        assert_eq!(k("constraints.txt"), Some(Kind::Requirements));
        assert_eq!(k("notes.txt"), None);
        assert_eq!(k("README.md"), None);
    }

    #[test]
    fn binary_and_non_utf8_text_are_refused_with_a_position() {
        let d = decode(Path::new("f"), b"ok\nab\0".to_vec()).expect_err("nul");
        assert_eq!((d.line, d.column), (Some(2), Some(3)));
        let d = decode(Path::new("f"), b"a\xffb".to_vec()).expect_err("latin1");
        assert_eq!((d.line, d.column), (Some(1), Some(2)));
        assert_eq!(
            decode(Path::new("f"), "é\n".as_bytes().to_vec()).expect("utf8"),
            "é\n"
        );
    }

    #[test]
    fn directories_are_walked_sorted_skipping_hidden_and_other_files() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        for rel in [
            "b/default.nix",
            "a.yaml",
            "requirements.txt",
            "notes.txt",
            ".git/x.nix",
            ".hidden.yaml",
        ] {
            let p = root.join(rel);
            fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            fs::write(p, "x").expect("write");
        }
        let (jobs, problems) = expand(root);
        assert!(problems.is_empty(), "{problems:?}");
        let rel: Vec<_> = jobs
            .iter()
            .map(|j| j.path.strip_prefix(root).expect("under").to_path_buf())
            .collect();
        assert_eq!(
            rel,
            ["a.yaml", "b/default.nix", "requirements.txt"]
                .map(PathBuf::from)
                .to_vec()
        );
    }
}

//! Regression snapshots of what an environment contains, in insta's `.snap`
//! format (one file per scenario), so `cargo insta review` can accept them.
//!
//! The body is a line-based manifest: hash, PATH, `which` results and every
//! file with its type, executable bit, size and SHA-256. Nothing in it
//! depends on where or when the build ran, so it is stable as it is.

use crate::error::Diagnostic;
use crate::probe::Probes;
use crate::tree::{EntryKind, Manifest};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The `source:` every envtwin snapshot carries; anything else is not ours.
const SOURCE: &str = "envtwin";

/// Render the snapshot body of one build.
pub fn body(name: &str, hash: &str, probes: &Probes, files: &Manifest) -> String {
    let mut s = format!("scenario: {name}\nhash: {hash}\npath:\n");
    for e in &probes.path {
        s.push_str(&format!("  {}\n", e.dir));
    }
    s.push_str("which:\n");
    for (cmd, w) in &probes.which {
        let line = match w {
            None => "not found".to_string(),
            Some(w) => format!(
                "{} -> {} ({}, sha256 {})",
                w.path,
                w.resolved.as_deref().unwrap_or("?"),
                if w.inside {
                    "inside"
                } else {
                    "OUTSIDE the environment"
                },
                w.sha256.as_deref().unwrap_or("-")
            ),
        };
        s.push_str(&format!("  {cmd}\t{line}\n"));
    }
    s.push_str("files:\n");
    for (path, entry) in files {
        let path = if path.is_empty() { "." } else { path };
        let what = match &entry.kind {
            EntryKind::Directory => "directory".to_string(),
            EntryKind::Symlink { target } => format!("symlink -> {target}"),
            EntryKind::Regular {
                executable,
                size,
                sha256,
            } => format!(
                "{} {size} {sha256}",
                if *executable { "executable" } else { "regular" }
            ),
        };
        s.push_str(&format!("  {path}\t{what}\n"));
    }
    s
}

/// A whole `.snap` file: insta's YAML header, then the body.
pub fn file_text(name: &str, scenario_file: &str, body: &str) -> String {
    format!(
        "---\nsource: {SOURCE}\nexpression: \"manifest of scenario {name} ({})\"\n---\n{body}",
        scenario_file.replace('"', "'")
    )
}

/// Split a `.snap` file into (header, body), checking it is one of ours.
pub fn parse(path: &Path, text: &str) -> Result<String, Diagnostic> {
    let bad = |line: usize, msg: String| Diagnostic::new(path, msg).at(line, 1);
    let rest = text.strip_prefix("---\n").ok_or_else(|| {
        bad(1, "not an insta snapshot: it must start with a `---` header line; delete the file to record it again".into())
    })?;
    let end = rest.find("\n---\n").ok_or_else(|| {
        bad(1, "not an insta snapshot: the header has no closing `---` line; delete the file to record it again".into())
    })?;
    let header = &rest[..end];
    let source = header
        .lines()
        .find_map(|l| l.strip_prefix("source:"))
        .map(|s| s.trim().trim_matches('"'));
    if source != Some(SOURCE) {
        return Err(bad(
            2,
            format!(
                "snapshot from another tool (source: {}), not envtwin; use another --snapshots directory or delete it",
                source.unwrap_or("none")
            ),
        ));
    }
    let body = &rest[end + "\n---\n".len()..];
    if !body.starts_with("scenario: ") {
        let line = header.lines().count() + 3;
        return Err(bad(line, "corrupt envtwin snapshot: the body must start with `scenario: `; delete the file to record it again".into()));
    }
    Ok(body.to_string())
}

/// Path of a scenario's snapshot in `dir`.
pub fn snap_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.snap"))
}

/// Load and check every existing snapshot for `names` before anything is
/// built, so a corrupt one is invalid input (exit 2), not a late failure.
pub fn preload(dir: &Path, names: &[&str]) -> Result<BTreeMap<String, String>, Vec<Diagnostic>> {
    let mut found = BTreeMap::new();
    let mut problems = Vec::new();
    if dir.exists() && !dir.is_dir() {
        return Err(vec![Diagnostic::new(
            dir,
            "--snapshots must name a directory",
        )]);
    }
    for name in names {
        let p = snap_path(dir, name);
        let Ok(bytes) = std::fs::read(&p) else {
            continue;
        };
        match String::from_utf8(bytes) {
            Err(_) => problems.push(Diagnostic::new(
                &p,
                "not a text file; delete it to record the snapshot again",
            )),
            Ok(text) => match parse(&p, &text) {
                Ok(body) => {
                    found.insert(name.to_string(), body);
                }
                Err(d) => problems.push(d),
            },
        }
    }
    if problems.is_empty() {
        Ok(found)
    } else {
        Err(problems)
    }
}

/// What comparing a build with its snapshot gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Same as the accepted snapshot.
    Matches,
    /// No snapshot yet: written as `.snap.new` (or `.snap` with accept).
    New { written: PathBuf, accepted: bool },
    /// Different from the snapshot; the lines say what changed.
    Changed {
        changes: Vec<String>,
        written: PathBuf,
        accepted: bool,
    },
}

/// Compare `body` with the accepted snapshot (if any) and write what insta
/// expects: `.snap.new` for review, or `.snap` directly when `accept`.
pub fn check(
    dir: &Path,
    name: &str,
    scenario_file: &str,
    old: Option<&String>,
    body: &str,
    accept: bool,
) -> std::io::Result<Outcome> {
    if old.is_some_and(|o| o == body) {
        let _ = std::fs::remove_file(dir.join(format!("{name}.snap.new")));
        return Ok(Outcome::Matches);
    }
    std::fs::create_dir_all(dir)?;
    let written = if accept {
        snap_path(dir, name)
    } else {
        dir.join(format!("{name}.snap.new"))
    };
    std::fs::write(&written, file_text(name, scenario_file, body))?;
    if accept {
        let _ = std::fs::remove_file(dir.join(format!("{name}.snap.new")));
    }
    Ok(match old {
        None => Outcome::New {
            written,
            accepted: accept,
        },
        Some(old) => Outcome::Changed {
            changes: changes(old, body),
            written,
            accepted: accept,
        },
    })
}

/// Section -> key -> value of a body (`path` entries are keyed by position).
fn sections(body: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current = String::new();
    for line in body.lines() {
        if let Some(item) = line.strip_prefix("  ") {
            let map = out.entry(current.clone()).or_default();
            let (k, v) = match item.split_once('\t') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (format!("{:04}", map.len()), item.to_string()),
            };
            map.insert(k, v);
        } else if let Some((k, v)) = line.split_once(':') {
            current = k.to_string();
            if !v.trim().is_empty() {
                out.entry(String::new())
                    .or_default()
                    .insert(k.to_string(), v.trim().to_string());
            }
        }
    }
    out
}

/// Human lines naming what changed: files added/removed/changed, `which`
/// results, PATH, hash.
pub fn changes(old: &str, new: &str) -> Vec<String> {
    let (o, n) = (sections(old), sections(new));
    let empty = BTreeMap::new();
    let mut lines = Vec::new();
    let get = |m: &BTreeMap<String, BTreeMap<String, String>>, s: &str| {
        m.get(s).cloned().unwrap_or_else(|| empty.clone())
    };
    if let (Some(a), Some(b)) = (
        get(&o, "").get("hash").cloned(),
        get(&n, "").get("hash").cloned(),
    ) && a != b
    {
        lines.push(format!("hash: {a} -> {b}"));
    }
    let (pa, pb) = (get(&o, "path"), get(&n, "path"));
    if pa != pb {
        let j = |m: &BTreeMap<String, String>| m.values().cloned().collect::<Vec<_>>().join(":");
        lines.push(format!("PATH: {} -> {}", j(&pa), j(&pb)));
    }
    for section in ["which", "files"] {
        let (a, b) = (get(&o, section), get(&n, section));
        let label = if section == "which" { "which " } else { "" };
        for (k, v) in &b {
            match a.get(k) {
                None => lines.push(format!("added {label}{k}: {v}")),
                Some(old) if old != v => lines.push(format!("changed {label}{k}: {old} -> {v}")),
                _ => {}
            }
        }
        for (k, v) in &a {
            if !b.contains_key(k) {
                lines.push(format!("removed {label}{k}: {v}"));
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "scenario: x\nhash: sha256-A\npath:\n  /envtwin/out/bin\nwhich:\n  hello\t/envtwin/out/bin/hello -> /envtwin/out/bin/hello (inside, sha256 aa)\nfiles:\n  .\tdirectory\n  bin/hello\texecutable 21 aa\n  bin/old\tregular 3 bb\n";

    #[test]
    fn changes_name_added_removed_changed_files_and_which() {
        let new = OLD
            .replace("sha256-A", "sha256-B")
            .replace("bin/old\tregular 3 bb\n", "bin/new\tregular 4 cc\n")
            .replace("executable 21 aa", "executable 22 dd")
            .replace("(inside, sha256 aa)", "(inside, sha256 dd)");
        assert_eq!(
            changes(OLD, &new),
            vec![
                "hash: sha256-A -> sha256-B",
                "changed which hello: /envtwin/out/bin/hello -> /envtwin/out/bin/hello (inside, sha256 aa) -> /envtwin/out/bin/hello -> /envtwin/out/bin/hello (inside, sha256 dd)",
                "changed bin/hello: executable 21 aa -> executable 22 dd",
                "added bin/new: regular 4 cc",
                "removed bin/old: regular 3 bb",
            ]
        );
        assert!(changes(OLD, OLD).is_empty());
    }

    #[test]
    fn parse_accepts_ours_and_rejects_others() {
        let p = Path::new("s.snap");
        let ours = file_text("x", "s.yaml", OLD);
        assert_eq!(parse(p, &ours).expect("ours"), OLD);
        let other = "---\nsource: tests/foo.rs\nexpression: x\n---\nhello\n";
        let e = parse(p, other).expect_err("other tool");
        assert_eq!(
            e.to_string(),
            "s.snap:2:1: snapshot from another tool (source: tests/foo.rs), not envtwin; use another --snapshots directory or delete it"
        );
        assert!(
            parse(p, "garbage")
                .expect_err("corrupt")
                .to_string()
                .starts_with("s.snap:1:1: not an insta snapshot")
        );
        assert!(parse(p, "---\nsource: envtwin\n").is_err());
        assert!(
            parse(p, "---\nsource: envtwin\n---\nnope\n")
                .expect_err("body")
                .to_string()
                .contains("corrupt envtwin snapshot")
        );
    }
}

/// How `run` uses snapshots.
#[derive(Debug, Clone)]
pub struct Settings {
    pub dir: PathBuf,
    /// Write `.snap` directly (accept new and changed snapshots).
    pub accept: bool,
    /// Under CI a missing snapshot fails instead of passing with a note.
    pub ci: bool,
    /// Accepted snapshot bodies found before the run, by scenario name.
    pub existing: BTreeMap<String, String>,
}

/// How the message of a snapshot that could not be written begins.
pub const CANNOT_WRITE: &str = "cannot write the snapshot";

/// Make sure snapshots can be written in `dir` (creating it if needed)
/// before anything is built; the error names the directory.
pub fn check_writable(dir: &Path) -> Result<(), String> {
    let fail = |e: std::io::Error| {
        format!(
            "--snapshots {}: {CANNOT_WRITE}s there: {e}; make it writable or choose another directory",
            dir.display()
        )
    };
    // Made only when a snapshot is written: test the nearest existing
    // directory on the way, in which it would be made.
    let existing = dir
        .ancestors()
        .find(|a| a.is_dir() || a.as_os_str().is_empty())
        .filter(|a| !a.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    tempfile::Builder::new()
        .prefix(".envtwin-write-test")
        .tempfile_in(existing)
        .map(drop)
        .map_err(fail)
}

/// The `snapshot` check of one scenario's build A; `Err` with the failed
/// check when the snapshot could not be written (a harness error, not a
/// verdict on the scenario).
pub fn judge(
    settings: &Settings,
    name: &str,
    scenario_file: &str,
    body: &str,
) -> Result<crate::report::Check, crate::report::Check> {
    let verdict = |passed: bool, message: String| crate::report::Check {
        check: "snapshot".into(),
        subject: name.into(),
        passed,
        message,
    };
    let old = settings.existing.get(name);
    Ok(
        match check(
            &settings.dir,
            name,
            scenario_file,
            old,
            body,
            settings.accept,
        ) {
            Err(e) => {
                return Err(verdict(
                    false,
                    format!("{CANNOT_WRITE} in {}: {e}", settings.dir.display()),
                ));
            }
            Ok(Outcome::Matches) => verdict(true, "the environment matches its snapshot".into()),
            Ok(Outcome::New {
                written,
                accepted: true,
            }) => verdict(
                true,
                format!("new snapshot accepted: {}", written.display()),
            ),
            Ok(Outcome::New { written, .. }) => verdict(
                !settings.ci,
                format!(
                    "no snapshot yet: wrote {}; accept it with `cargo insta review` (or `cargo insta accept`) or rerun with --accept{}",
                    written.display(),
                    if settings.ci {
                        " (a missing snapshot fails under CI=true)"
                    } else {
                        ""
                    }
                ),
            ),
            Ok(Outcome::Changed {
                changes,
                written,
                accepted,
            }) => {
                let summary = changes.join("; ");
                if accepted {
                    verdict(
                        true,
                        format!("snapshot updated ({}): {summary}", written.display()),
                    )
                } else {
                    verdict(
                        false,
                        format!(
                            "the environment changed since its snapshot: {summary}; new snapshot in {} (accept with `cargo insta review` or --accept)",
                            written.display()
                        ),
                    )
                }
            }
        },
    )
}

//! A scenario file in the audit: its `build:` script (shell rules, with
//! findings placed at the line and column of the YAML file), `network:
//! true`, `nix.packages`, and the files it uses, which the caller audits in
//! turn: `nix.file`, the `.nix` files under its `nix_path` directories, the
//! requirements files its pip commands read from `$src`.
//!
//! `network: true` is a warning (`network-unpinned`) when none of the
//! build's downloads is pinned, including when the audit recognises none:
//! the specific unpinned downloads carry their own errors, so the network
//! line says only that the sandbox opening is not backed by any pin.

use super::inputs::{self, Job, Kind};
use super::{Fetches, Hit, Rule, Severity, nix, requirements, shell, shorten};
use crate::error::Diagnostic;
use crate::scenario::{Provider, Scenario, locate_value};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// What one scenario yields.
#[derive(Debug, Default)]
pub(crate) struct ScenarioAudit {
    /// Findings in the scenario file itself.
    pub hits: Vec<Hit>,
    /// Files it uses, to audit as well.
    pub follow: Vec<Job>,
    /// Bad input met on the way (an unreadable `nix_path` directory).
    pub problems: Vec<Diagnostic>,
}

/// Audit `s`, loaded from `text`, shown as `display`.
pub(crate) fn audit(s: &Scenario, display: &Path, text: &str) -> ScenarioAudit {
    let mut out = ScenarioAudit::default();
    let mut fetches = Fetches::default();
    let shown_dir = display.parent().unwrap_or(Path::new(""));
    let show = |target: &Path| match target.strip_prefix(&s.dir) {
        Ok(rel) => shown_dir.join(rel),
        Err(_) => target.to_path_buf(),
    };
    match &s.provider {
        Provider::Shell => {
            let start = locate_value(text, &["build"]).unwrap_or((1, 1));
            let map = BuildMap::new(text, start);
            let ctx = shell::Context {
                cargo_lock: has_cargo_lock(&s.dir),
            };
            let audited = shell::audit_with(&s.build, ctx);
            fetches.merge(audited.fetches);
            for located in audited.hits {
                let (line, column) =
                    map.place(located.hit.line, located.hit.column, &located.snippet);
                out.hits.push(Hit {
                    line,
                    column,
                    ..located.hit
                });
            }
            for r in audited.requirement_files {
                let path = requirements_path(&s.dir, &r.path);
                if r.from_index {
                    // Pinned if the file has no error-level finding; its
                    // findings themselves come when it is audited.
                    let pinned = path
                        .as_deref()
                        .and_then(|p| inputs::read_text(p, p).ok())
                        .is_some_and(|text| {
                            requirements::audit(&text)
                                .hits
                                .iter()
                                .all(|h| h.rule.severity() != Severity::Error)
                        });
                    fetches.add(pinned);
                }
                match path {
                    Some(path) => out.follow.push(Job {
                        display: show(&path),
                        path,
                        kind: Kind::Requirements,
                    }),
                    // With --require-hashes, pip itself refuses unpinned or
                    // unhashed lines, so an unseen file is still safe.
                    None if r.enforced => {}
                    None => {
                        let (line, column) = map.place(r.line, r.column, &r.snippet);
                        out.hits.push(Hit::new(
                            line,
                            column,
                            Rule::PipRequirementsUnaudited,
                            format!(
                                "requirements file `{}` is not a file under the scenario \
                                 directory ($src), so the audit cannot check its pins",
                                shorten(&r.path)
                            ),
                            "ship it beside the scenario and read it as \
                             `\"$src/requirements.txt\"`, or add `--require-hashes` so pip \
                             itself refuses unpinned lines",
                        ));
                    }
                }
            }
        }
        Provider::Nix(spec) => {
            if let Some(file) = &spec.file {
                let file = if file.is_dir() {
                    file.join("default.nix")
                } else {
                    file.clone()
                };
                // Read here only to count its fetches for `network`; its
                // findings and any read problem come when it is audited.
                // `read_text` refuses a fifo or an oversized file unread.
                if let Ok(src) = inputs::read_text(&file, &file) {
                    fetches.merge(nix::audit(&src).fetches);
                    // What it imports by a relative path inside the scenario
                    // directory (a package set such as mini-nixpkgs) does its
                    // fetching for it.
                    let base = file.parent().unwrap_or(&s.dir);
                    let imported: Vec<PathBuf> = nix::relative_paths(&src)
                        .iter()
                        .filter_map(|p| base.join(p).canonicalize().ok())
                        .filter(|p| p.starts_with(&s.dir) && *p != file)
                        .collect();
                    fetches.merge(nix_fetches(&imported));
                }
                out.follow.push(Job {
                    display: show(&file),
                    path: file,
                    kind: Kind::Nix,
                });
            }
            if !spec.packages.is_empty() && !spec.nix_path.contains_key("nixpkgs") {
                let (line, column) = locate_value(text, &["nix", "packages"]).unwrap_or((1, 1));
                out.hits.push(Hit::new(
                    line,
                    column,
                    Rule::NixLookupPath,
                    "`nix.packages` is `nix-shell -p`, which evaluates `import <nixpkgs> {}`: \
                     `<nixpkgs>` is looked up in the NIX_PATH of the machine, so the packages \
                     are whatever its channel has",
                    "set `nix.nix_path.nixpkgs` to a nixpkgs checkout in the repository, or \
                     write a `nix.file` that imports a pinned nixpkgs",
                ));
            }
            for (name, dir) in &spec.nix_path {
                if dir.starts_with(&s.dir) {
                    for path in nix_files(dir, &mut out.problems, &mut HashSet::new()) {
                        out.follow.push(Job {
                            display: show(&path),
                            path,
                            kind: Kind::Nix,
                        });
                    }
                } else {
                    let (line, column) =
                        locate_value(text, &["nix", "nix_path", name]).unwrap_or((1, 1));
                    out.hits.push(Hit::new(
                        line,
                        column,
                        Rule::NixPathOutside,
                        format!(
                            "`nix_path` entry `{}` is {}, outside the scenario directory: \
                             the build uses whatever that machine has there (not audited)",
                            shorten(name),
                            shorten(&dir.display().to_string())
                        ),
                        "keep it beside the scenario (vendored or a pinned checkout), so it \
                         travels with the scenario and is audited with it",
                    ));
                }
            }
        }
    }
    if s.network.is_on() && fetches.pinned == 0 {
        let (line, column) = locate_value(text, &["network"]).unwrap_or((1, 1));
        let seen = if fetches.unpinned == 0 {
            "the audit recognises no download in it".to_owned()
        } else {
            format!(
                "none of its {} download{} is pinned",
                fetches.unpinned,
                if fetches.unpinned == 1 { "" } else { "s" }
            )
        };
        out.hits.push(Hit::new(
            line,
            column,
            Rule::NetworkUnpinned,
            format!(
                "`network: true` lets the build fetch from the network, and {seen}: what it \
                 gets can change between builds"
            ),
            "pin what it fetches (exact versions and checksums), or set `network: false` \
             and ship the inputs beside the scenario, read from `$src`; `envtwin run` also \
             checks what the builds really fetch: its report lists every download, pinned \
             or not, and `expect.fetches: pinned` fails on the unpinned ones",
        ));
    }
    out
}

/// The .nix files at `path`: the file itself, or those under the directory
/// (recursively, sorted, hidden entries skipped).
fn nix_files(
    path: &Path,
    problems: &mut Vec<Diagnostic>,
    seen_dirs: &mut HashSet<PathBuf>,
) -> Vec<PathBuf> {
    if !path.is_dir() {
        let nix = inputs::kind_of(path) == Some(Kind::Nix);
        return if nix {
            vec![path.to_path_buf()]
        } else {
            Vec::new()
        };
    }
    let mut jobs = Vec::new();
    inputs::walk(path, &mut jobs, problems, seen_dirs);
    jobs.into_iter()
        .filter(|j| j.kind == Kind::Nix)
        .map(|j| j.path)
        .collect()
}

/// The fetches of the .nix files at `paths` (files, or directories searched
/// recursively), each file counted once.
fn nix_fetches(paths: &[PathBuf]) -> Fetches {
    let (mut problems, mut seen) = (Vec::new(), HashSet::new());
    let mut files: Vec<PathBuf> = paths
        .iter()
        .flat_map(|p| nix_files(p, &mut problems, &mut seen))
        .collect();
    files.sort();
    files.dedup();
    let mut fetches = Fetches::default();
    for f in files {
        if let Ok(src) = inputs::read_text(&f, &f) {
            fetches.merge(nix::audit(&src).fetches);
        }
    }
    fetches
}

/// The file a pip `-r`/`-c` argument names, if it is a file under the
/// scenario directory: `$src/x`, `${src}/x`, or a relative path that exists
/// there (a build that `cd "$src"` first).
fn requirements_path(dir: &Path, written: &str) -> Option<PathBuf> {
    let rel = ["$src/", "${src}/"]
        .iter()
        .find_map(|p| written.strip_prefix(p))
        .or_else(|| (!written.starts_with(['/', '$', '~'])).then_some(written))?;
    let path = dir.join(rel).canonicalize().ok()?;
    (path.starts_with(dir) && path.is_file()).then_some(path)
}

/// Whether the scenario directory holds a `Cargo.lock`, at its top or up to
/// two directories down (`$src/app/Cargo.lock`); hidden directories and
/// `target/` are skipped, and the search is bounded.
fn has_cargo_lock(dir: &Path) -> bool {
    const MAX_ENTRIES: usize = 2_000;
    let mut seen = 0;
    let mut level = vec![dir.to_path_buf()];
    for _ in 0..3 {
        let mut next = Vec::new();
        for d in level {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                seen += 1;
                if seen > MAX_ENTRIES {
                    return false;
                }
                let name = e.file_name();
                if name == "Cargo.lock" {
                    return true;
                }
                let hidden = name.to_string_lossy().starts_with('.') || name == "target";
                if !hidden && e.file_type().is_ok_and(|t| t.is_dir()) {
                    next.push(e.path());
                }
            }
        }
        level = next;
    }
    false
}

/// Maps positions in the `build:` script back to the YAML file.
///
/// For a literal block scalar (`build: |`), line `n` of the script is line
/// `n` after the `|`, shifted by the block's indentation: exact. For any
/// other style (folded, quoted, plain) lines are joined or unescaped, so
/// the offending text is searched for from the start of the value; if not
/// found, the finding points at the value itself.
struct BuildMap<'t> {
    lines: Vec<&'t str>,
    start: (usize, usize),
    /// Line of the `|` and the block's indentation, for a literal block.
    literal: Option<(usize, usize)>,
}

impl<'t> BuildMap<'t> {
    fn new(text: &'t str, start: (usize, usize)) -> BuildMap<'t> {
        let lines: Vec<&str> = text.lines().collect();
        let literal = lines
            .get(start.0.saturating_sub(1))
            .and_then(|line| literal_indent(&lines, line, start));
        BuildMap {
            lines,
            start,
            literal,
        }
    }

    /// File position of script position (`line`, `column`) whose text
    /// starts with `snippet`.
    fn place(&self, line: usize, column: usize, snippet: &str) -> (usize, usize) {
        let needle = snippet.lines().next().unwrap_or("");
        if let Some((header, indent)) = self.literal {
            let file_line = header + line;
            let file_column = indent + column;
            let fits = self.lines.get(file_line - 1).is_some_and(|l| {
                l.chars()
                    .skip(file_column - 1)
                    .collect::<String>()
                    .starts_with(needle)
            });
            if fits {
                return (file_line, file_column);
            }
        } else if line == 1 {
            // A one-line plain or quoted value: the script starts at the
            // value, or one character later, after its quote.
            let first = self.lines.get(self.start.0.saturating_sub(1)).copied();
            let quoted = first
                .and_then(|l| l.chars().nth(self.start.1.saturating_sub(1)))
                .is_some_and(|c| c == '"' || c == '\'');
            let file_column = self.start.1 + column - 1 + usize::from(quoted);
            let fits = first.is_some_and(|l| {
                l.chars()
                    .skip(file_column - 1)
                    .collect::<String>()
                    .starts_with(needle)
            });
            if fits {
                return (self.start.0, file_column);
            }
        }
        if !needle.is_empty() {
            for (k, l) in self
                .lines
                .iter()
                .enumerate()
                .skip(self.start.0.saturating_sub(1))
            {
                // On the value's first line, only after the value starts.
                let from = if k + 1 == self.start.0 {
                    l.char_indices()
                        .nth(self.start.1.saturating_sub(1))
                        .map_or(l.len(), |(b, _)| b)
                } else {
                    0
                };
                if let Some(b) = l[from..].find(needle) {
                    return (k + 1, l[..from + b].chars().count() + 1);
                }
            }
        }
        self.start
    }
}

/// For a line holding a literal block header (`build: |`, `|-`, `|2+`) at
/// `start`, the header's line and the block's indentation.
fn literal_indent(lines: &[&str], line: &str, start: (usize, usize)) -> Option<(usize, usize)> {
    let header: String = line.chars().skip(start.1.saturating_sub(1)).collect();
    let indicators = header.strip_prefix('|')?;
    let indicators = indicators.split('#').next().unwrap_or("").trim();
    if !indicators
        .chars()
        .all(|c| c.is_ascii_digit() || c == '+' || c == '-')
    {
        return None;
    }
    let explicit = indicators
        .chars()
        .find(|c| c.is_ascii_digit())
        .and_then(|c| c.to_digit(10));
    let indent = match explicit {
        Some(d) => line.chars().take_while(|c| *c == ' ').count() + d as usize,
        None => lines
            .iter()
            .skip(start.0)
            .find(|l| !l.trim().is_empty())
            .map(|l| l.chars().take_while(|c| *c == ' ').count())?,
    };
    Some((start.0, indent))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(text: &str, line: usize, column: usize, snippet: &str) -> (usize, usize) {
        let start = locate_value(text, &["build"]).expect("build");
        BuildMap::new(text, start).place(line, column, snippet)
    }

    #[test]
    fn literal_blocks_map_line_for_line() {
        let text = "name: x\nbuild: |  # the script\n  echo a\n\n    pip install flask\n";
        assert_eq!(place(text, 3, 3, "pip"), (5, 5));
        let text = "name: x\nbuild: |2-\n    pip install flask\n";
        assert_eq!(place(text, 1, 3, "pip"), (3, 5));
    }

    #[test]
    fn other_styles_are_found_by_their_text() {
        assert_eq!(
            place("name: x\nbuild: pip install flask\n", 1, 13, "flask"),
            (2, 20)
        );
        assert_eq!(
            place(
                "name: x\nbuild: \"echo flask; pip install flask\"\n",
                1,
                25,
                "flask"
            ),
            (2, 33)
        );
        assert_eq!(
            place("name: x\nbuild: >\n  echo a\n  npm install\n", 1, 8, "npm"),
            (4, 3)
        );
        // Not found (an escape changed it): the value itself.
        assert_eq!(place("name: x\nbuild: \"a\\tb\"\n", 1, 1, "a\tb"), (2, 8));
    }
}

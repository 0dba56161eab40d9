//! Scenario files, middle step: read each file found, refuse what is not a
//! small UTF-8 text, parse it (`schema`), validate it (`validate`), and
//! check names across files. Every problem becomes a located `Diagnostic`.

use super::discover::discover;
use super::model::Scenario;
use super::schema::{self, Problem, Seg, Target};
use super::validate::{self, NameSite, closest};
use crate::error::Diagnostic;
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest scenario file read: a scenario is a page of YAML; bigger inputs
/// belong beside it, read through `$src`.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Most diagnostics shown for one file; past that only a count is given: a
/// file that wrong is better fixed from its first problems. Also bounds the
/// time spent on a hostile file, since locating one problem re-parses the
/// file (about 50 ms for 1 MiB in a release build).
pub const MAX_DIAGNOSTICS_PER_FILE: usize = 20;

/// What one file yields: its name (for the uniqueness check, even when the
/// file has other problems) and the scenario or its problems.
pub(crate) struct FileOutcome {
    pub name: Option<NameSite>,
    pub result: Result<Scenario, Vec<Diagnostic>>,
}

impl FileOutcome {
    fn failed(diagnostic: Diagnostic) -> FileOutcome {
        FileOutcome {
            name: None,
            result: Err(vec![diagnostic]),
        }
    }
}

/// See `scenario::load`.
pub(crate) fn load(paths: &[PathBuf]) -> Result<Vec<Scenario>, Vec<Diagnostic>> {
    let (files, mut diagnostics) = discover(paths);
    let mut scenarios = Vec::new();
    let mut names: BTreeMap<String, (PathBuf, usize, usize)> = BTreeMap::new();
    for file in files {
        let outcome = load_file(&file);
        // Every file is checked even after one fails, so a run lists all
        // problems; only the final answer depends on whether any were found.
        let mut file_diagnostics = match outcome.result {
            Ok(scenario) => {
                scenarios.push(scenario);
                Vec::new()
            }
            Err(diagnostics) => diagnostics,
        };
        if let Some(site) = outcome.name {
            if let Some((first, line, column)) = names.get(&site.name) {
                file_diagnostics.push(
                    Diagnostic::new(
                        &file,
                        format!(
                            "duplicate scenario name `{}`, already used at {}:{line}:{column}; \
                             names must be unique within a run, rename one",
                            site.name,
                            first.display()
                        ),
                    )
                    .at(site.line, site.column),
                );
            } else {
                names.insert(site.name, (file.clone(), site.line, site.column));
            }
        }
        diagnostics.extend(finish(&file, file_diagnostics));
    }
    if diagnostics.is_empty() {
        Ok(scenarios)
    } else {
        Err(diagnostics)
    }
}

/// Sort one file's diagnostics by position and cap their number. Those
/// without a position go last: past the locating budget they are only
/// counted (see `load_bytes`).
fn finish(file: &Path, mut diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diagnostics.sort_by_key(|d| (d.line.is_none(), d.line, d.column));
    if diagnostics.len() > MAX_DIAGNOSTICS_PER_FILE {
        let more = diagnostics.len() - MAX_DIAGNOSTICS_PER_FILE;
        diagnostics.truncate(MAX_DIAGNOSTICS_PER_FILE);
        diagnostics.push(Diagnostic::new(
            file,
            format!("... and {more} more problems in this file; fix the ones above first"),
        ));
    }
    diagnostics
}

/// Read and check one scenario file.
pub(crate) fn load_file(file: &Path) -> FileOutcome {
    let bytes = match read_limited(file) {
        Ok(bytes) => bytes,
        Err(diagnostic) => return FileOutcome::failed(diagnostic),
    };
    // `$src` is the directory the file was found in; canonical so the
    // sandbox can bind-mount it whatever the current directory.
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = match parent.canonicalize() {
        Ok(dir) => dir,
        Err(err) => {
            return FileOutcome::failed(Diagnostic::new(
                file,
                format!("cannot resolve the directory holding this file: {err}"),
            ));
        }
    };
    load_bytes(file, &dir, &bytes)
}

fn read_limited(file: &Path) -> Result<Vec<u8>, Diagnostic> {
    let too_big = |size: u64| {
        Diagnostic::new(
            file,
            format!(
                "file is {size} bytes, over the {MAX_FILE_BYTES}-byte limit for a scenario; \
                 keep large inputs beside it and read them from `$src`"
            ),
        )
    };
    let handle =
        fs::File::open(file).map_err(|err| Diagnostic::new(file, format!("cannot read: {err}")))?;
    if let Ok(meta) = handle.metadata() {
        if !meta.is_file() {
            return Err(Diagnostic::new(
                file,
                "not a regular file; a scenario is a YAML file",
            ));
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(too_big(meta.len()));
        }
    }
    let mut bytes = Vec::new();
    handle
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| Diagnostic::new(file, format!("cannot read: {err}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

/// 1-based line and column (in characters) of byte `offset` in `bytes`,
/// whose prefix up to `offset` is valid UTF-8.
fn position(bytes: &[u8], offset: usize) -> (usize, usize) {
    let prefix = &bytes[..offset.min(bytes.len())];
    let line_start = prefix
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let line = prefix.iter().filter(|b| **b == b'\n').count() + 1;
    let column = String::from_utf8_lossy(&prefix[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

/// The text of a file, or why it is not a UTF-8 text file.
fn decode<'b>(file: &Path, bytes: &'b [u8]) -> Result<&'b str, Diagnostic> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(Diagnostic::new(file, "file is UTF-16 encoded; save it as UTF-8").at(1, 1));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => {
            let offset = err.valid_up_to();
            let (line, column) = position(bytes, offset);
            let byte = bytes.get(offset).copied().unwrap_or_default();
            let what = if bytes.contains(&0) {
                "file looks binary, not a YAML scenario"
            } else {
                "file is not valid UTF-8"
            };
            return Err(Diagnostic::new(
                file,
                format!("{what} (byte 0x{byte:02x} here); scenario files are UTF-8 text"),
            )
            .at(line, column));
        }
    };
    if let Some(offset) = text.find('\0') {
        let (line, column) = position(bytes, offset);
        return Err(Diagnostic::new(
            file,
            "file contains a NUL byte; it looks binary, not a YAML scenario",
        )
        .at(line, column));
    }
    Ok(text)
}

/// Check the bytes of `file` (found in the absolute directory `dir`).
/// Split from `load_file` so tests can feed any bytes without a disk.
pub(crate) fn load_bytes(file: &Path, dir: &Path, bytes: &[u8]) -> FileOutcome {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return FileOutcome::failed(Diagnostic::new(
            file,
            format!("file is over the {MAX_FILE_BYTES}-byte limit for a scenario"),
        ));
    }
    let text = match decode(file, bytes) {
        Ok(text) => text,
        Err(diagnostic) => return FileOutcome::failed(diagnostic),
    };
    // Locating re-parses the file, so only as many problems as will be shown
    // are located; the others are rendered unlocated, just to be counted.
    let render_all = |problems: &[Problem]| -> Vec<Diagnostic> {
        problems
            .iter()
            .enumerate()
            .map(|(i, p)| render(file, text, p, i < MAX_DIAGNOSTICS_PER_FILE))
            .collect()
    };
    match schema::parse(text) {
        Err(problems) => FileOutcome {
            name: None,
            result: Err(render_all(&problems)),
        },
        Ok(parsed) => {
            let rendered = render_all(&parsed.problems);
            let budget = MAX_DIAGNOSTICS_PER_FILE.saturating_sub(rendered.len());
            let (name, result) =
                validate::validate(file, dir, text, parsed.raw, &parsed.problems, budget);
            let result = match result {
                Ok(scenario) => Ok(scenario),
                Err(more) => Err(rendered.into_iter().chain(more).collect()),
            };
            FileOutcome { name, result }
        }
    }
}

/// A `schema::Problem` as a located diagnostic in our words.
/// `locate: false` skips finding the position (see `load_bytes`).
fn render(file: &Path, text: &str, problem: &Problem, locate: bool) -> Diagnostic {
    let locate = |path: &[Seg], target| {
        if locate {
            schema::locate(text, path, target).unwrap_or((1, 1))
        } else {
            (0, 0)
        }
    };
    let (at, message) = match problem {
        Problem::Syntax { at, message } => (at.unwrap_or((1, 1)), message.clone()),
        Problem::Empty => (
            (1, 1),
            "file is empty; a scenario is a YAML mapping with at least `name:` and `build:`"
                .to_owned(),
        ),
        Problem::NotAMapping { found } => (
            locate(&[], Target::Value),
            format!(
                "a scenario file must be a YAML mapping (`key: value` lines), found {found}; \
                 write one scenario per file, starting with `name:`"
            ),
        ),
        Problem::UnknownKey {
            path,
            key,
            expected,
        } => {
            let parent = &path[..path.len().saturating_sub(1)];
            let place = if parent.is_empty() {
                String::new()
            } else {
                format!(" in `{}`", schema::dotted(parent))
            };
            let known: Vec<&str> = expected.iter().map(String::as_str).collect();
            let hint = match closest(key, &known) {
                Some(guess) => format!("did you mean `{guess}`?"),
                None if known.is_empty() => "no keys are allowed here".to_owned(),
                None => format!("known keys: {}", known.join(", ")),
            };
            (
                locate(path, Target::Key),
                format!("unknown key `{key}`{place}; {hint}"),
            )
        }
        Problem::Invalid { path, message } => {
            (locate(path, Target::Value), humanize(path, message))
        }
    };
    if at == (0, 0) {
        Diagnostic::new(file, message)
    } else {
        Diagnostic::new(file, message).at(at.0, at.1)
    }
}

/// serde's "invalid type: string \"ten\", expected u64" as
/// "`timeout` must be a whole number of 0 or more, found string \"ten\"" plus
/// an example of the right form.
fn humanize(path: &[Seg], message: &str) -> String {
    let field = schema::dotted(path);
    let parsed = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        .and_then(|rest| rest.rsplit_once(", expected "));
    let Some((found, expected)) = parsed else {
        return format!("`{field}`: {message}");
    };
    let expected = match expected {
        "u64" => "a whole number of 0 or more",
        "i64" | "i32" => "a whole number",
        "a boolean" => "`true` or `false`",
        "a sequence" => "a list",
        "a map" => "a mapping",
        e if e.starts_with("struct ") => "a mapping",
        e => e,
    };
    let found = match found {
        "map" => "a mapping".to_owned(),
        "sequence" => "a list".to_owned(),
        "unit value" => "nothing".to_owned(),
        f => f.to_owned(),
    };
    let quote = expected == "a string"
        && ["integer", "floating point", "boolean"]
            .iter()
            .any(|t| found.starts_with(t));
    let hint = if quote {
        Some("put it in quotes to make it text".to_owned())
    } else {
        example(path).map(|e| format!("e.g. {e}"))
    };
    match hint {
        Some(hint) => format!("`{field}` must be {expected}, found {found}; {hint}"),
        None => format!("`{field}` must be {expected}, found {found}"),
    }
}

/// An example of the right form for the field at `path`, for type errors.
fn example(path: &[Seg]) -> Option<&'static str> {
    let keys: Vec<&str> = path
        .iter()
        .filter_map(|s| match s {
            Seg::Key(k) => Some(k.as_str()),
            Seg::Index(_) => None,
        })
        .collect();
    Some(match keys.as_slice() {
        ["name"] => "`name: hello`",
        ["timeout"] => "`timeout: 600` (seconds per build)",
        ["network"] => "`network: false`",
        ["src"] => "`src: ..` (a directory relative to the scenario file)",
        ["source_date_epoch"] => "`source_date_epoch: 315532800` (or null for none)",
        ["compare"] => "`compare: nar` (or strict)",
        ["expect", "build"] => "`build: fail` (or succeed)",
        ["path"] => "`path: [\"$out/bin\"]`",
        ["vary"] => "`vary: [hostname, umask]`",
        ["expect"] => "`expect: {reproducible: true}`",
        ["expect", "reproducible"] => "`reproducible: true`",
        ["expect", "which"] => "`which: {hello: $out/bin/hello}`",
        ["expect", "missing"] => "`missing: [gcc]`",
        ["expect", "path_contains"] => "`path_contains: [\"$out/bin\"]`",
        ["expect", "path_excludes"] => "`path_excludes: [\"/usr/*\"]`",
        ["expect", "run"] => "`run: [{cmd: hello, exit: 0}]`",
        ["expect", "run", "exit"] => "`exit: 0`",
        ["nix"] => "`nix: {file: default.nix}`",
        ["nix", "nix_path"] => "`nix_path: {nixpkgs: ./nixpkgs}`",
        _ => return None,
    })
}

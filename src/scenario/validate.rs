//! Scenario files, last step: `RawScenario` -> checked `Scenario` (SPEC §2,
//! §8). Applies defaults, expands `$out`, resolves paths against the
//! scenario directory, and reports every semantic problem at the line and
//! column of the key or value at fault.

use super::model::{
    BuildExpect, Compare, DEFAULT_OUT, DEFAULT_SOURCE_DATE_EPOCH, DEFAULT_TIMEOUT_SECS, Expect,
    FetchExpect, MAX_NAME_LEN, MAX_TIMEOUT_SECS, Network, NixMode, NixSpec, Provider, RunExpect,
    Scenario,
};
use super::schema::{
    self, Problem, RawExpect, RawLimits, RawNetwork, RawNix, RawScenario, RawSize, Seg, Target,
};
use crate::error::Diagnostic;
use crate::sandbox::limits::{self, Limits};
use crate::sandbox::variation::Variation;
use base64::Engine;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where a scenario's name is written, for the cross-file uniqueness check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NameSite {
    pub name: String,
    pub line: usize,
    pub column: usize,
}

/// Top-level directories whose contents the sandbox needs from the host:
/// an `out` equal to one of them would hide it inside the sandbox.
const HOST_DIRS: &[&str] = &[
    "bin", "boot", "etc", "home", "lib", "lib32", "lib64", "libx32", "opt", "root", "run", "sbin",
    "srv", "usr", "var",
];

/// Top-level directories the sandbox mounts itself; `out` may not live there.
const SANDBOX_DIRS: &[&str] = &["proc", "dev", "sys", "tmp", "etc"];

/// Longest `out`, in bytes, and most components: it is made as nested
/// directories in a tmpfs and written into PATH, which the kernel caps.
const MAX_OUT_BYTES: usize = 512;
const MAX_OUT_COMPONENTS: usize = 32;

/// The closest of `known` to `word`, if it is close enough to be a typo.
/// Same threshold as cargo's suggestions: a third of the word's length.
pub(crate) fn closest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    let limit = word.chars().count().max(3) / 3;
    known
        .iter()
        .map(|k| {
            let d = if k.eq_ignore_ascii_case(word) {
                0
            } else {
                strsim::damerau_levenshtein(k, word)
            };
            (d, *k)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Collects diagnostics for one file, locating them in its text.
struct Checker<'a> {
    file: &'a Path,
    text: &'a str,
    /// Problems already reported by `schema::parse`; their keys were pruned,
    /// so "missing" checks must not report them a second time.
    reported: &'a [Problem],
    /// How many more diagnostics may be located; each `locate` re-parses
    /// the file, so past this budget they are kept unlocated, only counted.
    budget: usize,
    diagnostics: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn at(&self, path: &[Seg], target: Target) -> (usize, usize) {
        schema::locate(self.text, path, target).unwrap_or((1, 1))
    }

    fn report(&mut self, path: &[Seg], target: Target, message: String) {
        let diagnostic = Diagnostic::new(self.file, message);
        if self.budget == 0 {
            self.diagnostics.push(diagnostic);
            return;
        }
        self.budget -= 1;
        let (line, column) = self.at(path, target);
        self.diagnostics.push(diagnostic.at(line, column));
    }

    fn value(&mut self, path: &[Seg], message: String) {
        self.report(path, Target::Value, message);
    }

    fn key(&mut self, path: &[Seg], message: String) {
        self.report(path, Target::Key, message);
    }

    /// Was something at `path` already reported by the parse, or a key
    /// there reported as unknown with this key as its suggestion? Then a
    /// "missing" message would only repeat it.
    fn already_reported(&self, path: &[Seg]) -> bool {
        let (Some(Seg::Key(want)), Some(parent)) = (path.last(), path.split_last().map(|s| s.1))
        else {
            return self.reported.iter().any(|p| p.path().starts_with(path));
        };
        self.reported.iter().any(|p| match p {
            Problem::UnknownKey {
                path: at,
                key,
                expected,
            } if at.split_last().map(|s| s.1) == Some(parent) => {
                let known: Vec<&str> = expected.iter().map(String::as_str).collect();
                closest(key, &known) == Some(want.as_str())
            }
            other => other.path().starts_with(path),
        })
    }
}

fn k(key: &str) -> Seg {
    Seg::key(key)
}

fn p(segs: &[&str]) -> Vec<Seg> {
    segs.iter().map(|s| k(s)).collect()
}

fn with(path: &[Seg], seg: Seg) -> Vec<Seg> {
    let mut v = path.to_vec();
    v.push(seg);
    v
}

/// Validate `raw` (parsed from `text` of `file`, which lives in `dir`, an
/// absolute directory) into a `Scenario`. `reported` are the problems the
/// parse already found; the result is `Err` if there are any, or any new ones.
/// At most `budget` diagnostics are located (the rest only count).
pub(crate) fn validate(
    file: &Path,
    dir: &Path,
    text: &str,
    raw: RawScenario,
    reported: &[Problem],
    budget: usize,
) -> (Option<NameSite>, Result<Scenario, Vec<Diagnostic>>) {
    let mut c = Checker {
        file,
        text,
        reported,
        budget,
        diagnostics: Vec::new(),
    };

    let name = check_name(&mut c, raw.name.as_deref());
    let site = name.as_ref().map(|n| {
        let (line, column) = c.at(&p(&["name"]), Target::Value);
        NameSite {
            name: n.clone(),
            line,
            column,
        }
    });

    // `None` for an unknown provider: then which of `build`/`nix` belongs
    // is unknowable, so neither is checked against it.
    let provider_name = match raw.provider.as_deref() {
        None | Some("shell") => Some("shell"),
        Some("nix") => Some("nix"),
        Some(other) => {
            let hint = match closest(other, &["shell", "nix"]) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "known providers: `shell`, `nix`".to_owned(),
            };
            c.value(
                &p(&["provider"]),
                format!("unknown provider `{other}`; {hint}"),
            );
            None
        }
    };

    let out = match raw.out.as_deref() {
        None => DEFAULT_OUT.to_owned(),
        Some(given) => match check_out(given, provider_name.unwrap_or("shell")) {
            Ok(out) => out,
            Err(message) => {
                c.value(&p(&["out"]), message);
                given.to_owned()
            }
        },
    };

    let (build, provider) = match provider_name {
        Some("shell") => {
            let build = check_build(&mut c, "shell", raw.build.as_deref(), raw.nix.is_some());
            (build, Some(Provider::Shell))
        }
        Some(_) => {
            check_build(&mut c, "nix", raw.build.as_deref(), raw.nix.is_some());
            let nix = raw.nix.and_then(|nix| check_nix(&mut c, dir, nix));
            (String::new(), nix.map(Provider::Nix))
        }
        None => (String::new(), None),
    };

    let path = check_path(&mut c, raw.path, &out);
    let src = match raw.src.as_deref() {
        None => dir.to_path_buf(),
        Some(rel) => match resolve(dir, rel, "`src`") {
            Ok(path) if path.is_dir() => path,
            Ok(path) => {
                c.value(
                    &p(&["src"]),
                    format!(
                        "`src` `{rel}` is {}, not a directory; name the directory to show as $src, e.g. `src: ..`",
                        path.display()
                    ),
                );
                dir.to_path_buf()
            }
            Err(message) => {
                c.value(&p(&["src"]), message);
                dir.to_path_buf()
            }
        },
    };

    let timeout = match raw.timeout {
        None => DEFAULT_TIMEOUT_SECS,
        Some(0) => {
            c.value(
                &p(&["timeout"]),
                "`timeout` must be at least 1 second (it bounds the whole scenario: builds, hashing, diffing), e.g. `timeout: 600`"
                    .to_owned(),
            );
            DEFAULT_TIMEOUT_SECS
        }
        Some(secs) if secs > MAX_TIMEOUT_SECS => {
            c.value(
                &p(&["timeout"]),
                format!(
                    "`timeout` is {secs} seconds, over the limit of {MAX_TIMEOUT_SECS} (7 days); \
                     give the seconds the whole scenario may take, e.g. `timeout: 3600`"
                ),
            );
            DEFAULT_TIMEOUT_SECS
        }
        Some(secs) => secs,
    };

    let source_date_epoch = match raw.source_date_epoch {
        None => Some(DEFAULT_SOURCE_DATE_EPOCH),
        Some(None) => None,
        Some(Some(n)) if n < 0 => {
            c.value(
                &p(&["source_date_epoch"]),
                format!(
                    "`source_date_epoch` must be 0 or more (seconds since 1970), or null to set none, found {n}"
                ),
            );
            Some(DEFAULT_SOURCE_DATE_EPOCH)
        }
        Some(Some(n)) => Some(n),
    };

    let compare = match raw.compare.as_deref() {
        None | Some("nar") => Compare::Nar,
        Some("strict") => Compare::Strict,
        Some(other) => {
            let hint = match closest(other, &["nar", "strict"]) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "`nar` compares the NAR hash, `strict` also every mode bit".to_owned(),
            };
            c.value(
                &p(&["compare"]),
                format!("unknown `compare` mode `{other}`; {hint}"),
            );
            Compare::Nar
        }
    };

    let network = check_network(&mut c, raw.network);
    let limits = check_limits(&mut c, raw.limits.unwrap_or_default());
    let host_paths = check_host_paths(&mut c, raw.host_paths.unwrap_or_default());
    let requires_network = check_requires_network(
        &mut c,
        raw.requires.and_then(|r| r.network).unwrap_or_default(),
    );
    let vary = raw.vary.map(|names| check_vary(&mut c, &names));
    let expect = check_expect(&mut c, raw.expect.unwrap_or_default(), &out);

    let scenario = match (name, provider) {
        (Some(name), Some(provider)) if c.diagnostics.is_empty() && reported.is_empty() => {
            Ok(Scenario {
                name,
                description: raw.description,
                file: file.to_path_buf(),
                dir: src,
                provider,
                out,
                build,
                path,
                timeout: Duration::from_secs(timeout),
                network,
                limits,
                host_paths,
                source_date_epoch,
                compare,
                vary,
                expect,
                requires_network,
            })
        }
        _ => Err(c.diagnostics),
    };
    (site, scenario)
}

fn check_name(c: &mut Checker, name: Option<&str>) -> Option<String> {
    let Some(name) = name else {
        if !c.already_reported(&p(&["name"])) {
            let stem = c
                .file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let suggestion: String = stem
                .chars()
                .map(|ch| if is_name_char(ch) { ch } else { '-' })
                .collect();
            let suggestion = if suggestion.is_empty() || suggestion == "." || suggestion == ".." {
                "my-scenario".to_owned()
            } else {
                suggestion
            };
            c.value(
                &p(&["name"]),
                format!("missing `name`; add e.g. `name: {suggestion}` (unique within a run)"),
            );
        }
        return None;
    };
    if name.is_empty() || !name.chars().all(is_name_char) {
        c.value(
            &p(&["name"]),
            format!(
                "invalid name {name:?}: use only letters, digits, `.`, `_` and `-` \
                 (it names files and report entries)"
            ),
        );
        return None;
    }
    if name.len() > MAX_NAME_LEN {
        c.value(
            &p(&["name"]),
            format!(
                "the name is {} characters long, over the limit of {MAX_NAME_LEN} \
                 (it names files and directories); shorten it",
                name.len()
            ),
        );
        return None;
    }
    if name == "." || name == ".." {
        c.value(
            &p(&["name"]),
            format!("invalid name `{name}`: it would name a directory's link; pick a word"),
        );
        return None;
    }
    Some(name.to_owned())
}

fn is_name_char(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-')
}

/// `out` normalised (no trailing or doubled `/`), or what is wrong with it.
fn check_out(out: &str, provider: &str) -> Result<String, String> {
    if out.is_empty() {
        return Err("`out` is empty; give an absolute path such as `/envtwin/out`".to_owned());
    }
    if !out.starts_with('/') {
        return Err(format!(
            "`out` must be an absolute path (the same in both sandboxes), found `{out}`; \
             e.g. `/envtwin/out`"
        ));
    }
    if out.contains(':') || out.chars().any(char::is_control) {
        return Err(format!(
            "`out` {:?} must not contain `:` (it goes into PATH) or control characters",
            clip(out)
        ));
    }
    let parts: Vec<&str> = out.split('/').filter(|s| !s.is_empty()).collect();
    if out.len() > MAX_OUT_BYTES || parts.len() > MAX_OUT_COMPONENTS {
        return Err(format!(
            "`out` is {} bytes in {} components, over the limit of {MAX_OUT_BYTES} bytes \
             and {MAX_OUT_COMPONENTS} components; use a short path such as `/envtwin/out`",
            out.len(),
            parts.len()
        ));
    }
    if let Some(part) = parts.iter().find(|p| p.len() > 255) {
        return Err(format!(
            "`out` has a component of {} bytes (`{}`); file names are at most 255 bytes",
            part.len(),
            clip(part)
        ));
    }
    if parts.iter().any(|s| *s == "." || *s == "..") {
        return Err(format!(
            "`out` `{out}` must not contain `.` or `..` components; write the plain path"
        ));
    }
    let Some(first) = parts.first() else {
        return Err(
            "`out` cannot be `/`: the sandbox keeps the host root read-only; \
             use a directory such as `/envtwin/out`"
                .to_owned(),
        );
    };
    let first = *first;
    if SANDBOX_DIRS.contains(&first) || (provider == "nix" && first == "nix") {
        return Err(format!(
            "`out` cannot be under `/{first}`, which the sandbox mounts itself; \
             use a directory such as `/envtwin/out`"
        ));
    }
    if parts.len() == 1 && HOST_DIRS.contains(&first) {
        return Err(format!(
            "`out` cannot be `/{first}`: it would hide the host's `/{first}` inside the sandbox; \
             use a subdirectory or `/envtwin/out`"
        ));
    }
    let normal = format!("/{}", parts.join("/"));
    let within = |inner: &str, outer: &str| {
        inner == outer
            || inner
                .strip_prefix(outer)
                .is_some_and(|r| r.starts_with('/'))
    };
    if let Some(own) = crate::sandbox::OWN_PATHS
        .iter()
        .find(|own| within(own, &normal) || within(&normal, own))
    {
        return Err(format!(
            "`out` `{normal}` collides with `{own}`, which envtwin uses inside the sandbox; \
             use another directory such as `/envtwin/out`"
        ));
    }
    Ok(normal)
}

/// The first 60 characters of a long value, for messages.
fn clip(text: &str) -> String {
    if text.chars().count() <= 60 {
        return text.to_owned();
    }
    let head: String = text.chars().take(60).collect();
    format!("{head}…")
}

/// `limits:`: each size parsed and at least its minimum; defaults for the rest.
fn check_limits(c: &mut Checker, raw: RawLimits) -> Limits {
    let defaults = Limits::default();
    let mut size = |key: &str, given: Option<RawSize>, default: u64, min: u64| -> u64 {
        let at = p(&["limits", key]);
        let bytes = match given {
            None => return default,
            Some(RawSize::Bytes(n)) => Ok(n),
            Some(RawSize::Text(t)) => limits::parse_size(&t),
        };
        match bytes {
            Ok(n) if n >= min => n,
            Ok(n) => {
                c.value(
                    &at,
                    format!(
                        "`limits.{key}` is {}, below the minimum of {}, with which no build runs; \
                         give at least `{}`",
                        limits::format_size(n),
                        limits::format_size(min),
                        limits::format_size(min).replace(' ', "")
                    ),
                );
                default
            }
            Err(e) => {
                c.value(&at, format!("`limits.{key}`: {e}"));
                default
            }
        }
    };
    let memory = size("memory", raw.memory, defaults.memory, limits::MIN_MEMORY);
    let disk = size("disk", raw.disk, defaults.disk, limits::MIN_DISK);
    let log = size("log", raw.log, defaults.log, limits::MIN_LOG);
    let pids = match raw.pids {
        None => defaults.pids,
        Some(n) if (limits::MIN_PIDS..=limits::MAX_PIDS).contains(&n) => n,
        Some(n) => {
            c.value(
                &p(&["limits", "pids"]),
                format!(
                    "`limits.pids` is {n}; give a number of processes from {} to {}, e.g. `pids: 4096`",
                    limits::MIN_PIDS,
                    limits::MAX_PIDS
                ),
            );
            defaults.pids
        }
    };
    Limits {
        memory,
        pids,
        disk,
        log,
    }
}

/// `host_paths`: absolute host paths that exist, outside what the sandbox
/// makes itself; symlinks resolved, since the bind shows the target.
fn check_host_paths(c: &mut Checker, given: Vec<String>) -> Vec<PathBuf> {
    let mut paths = Vec::with_capacity(given.len());
    for (i, raw) in given.iter().enumerate() {
        let at = with(&p(&["host_paths"]), Seg::Index(i));
        let path = Path::new(raw);
        let first = path
            .components()
            .nth(1)
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        let problem = if !raw.starts_with('/') {
            Some(format!(
                "host path `{raw}` must be absolute (it appears at the same path inside), e.g. `/opt/toolchain`"
            ))
        } else if raw.chars().any(char::is_control) || raw.contains(':') {
            Some(format!(
                "host path {raw:?} must not contain `:` or control characters"
            ))
        } else if first.is_none() {
            Some("host path `/` would show the whole host; list only the directories the recipe needs".to_owned())
        } else if first
            .as_deref()
            .is_some_and(|f| SANDBOX_DIRS.contains(&f) || f == "nix")
        {
            Some(format!(
                "host path `{raw}` is under `/{}`, which the sandbox makes itself; \
                 copy what the recipe needs beside the scenario and read it from `$src`",
                first.unwrap_or_default()
            ))
        } else {
            None
        };
        if let Some(message) = problem {
            c.value(&at, message);
            continue;
        }
        match path.canonicalize() {
            Ok(real) => paths.push(real),
            Err(e) => c.value(
                &at,
                format!(
                    "host path `{raw}` cannot be used: {e}; list a path that exists on this machine"
                ),
            ),
        }
    }
    paths
}

/// `network:`: a boolean, or `{allow: [...]}` with each entry a host name
/// or IP address, or `*.domain`.
fn check_network(c: &mut Checker, raw: Option<RawNetwork>) -> Network {
    let allow = match raw {
        None | Some(RawNetwork::Bool(false)) => return Network::Off,
        Some(RawNetwork::Bool(true)) => return Network::Any,
        Some(RawNetwork::Allow(a)) => a.allow,
    };
    let Some(allow) = allow else {
        c.value(
            &p(&["network"]),
            "`network` as a mapping needs `allow`, e.g. `network: {allow: [pypi.org, \
             files.pythonhosted.org]}`; or write `network: true` for any host"
                .to_owned(),
        );
        return Network::Off;
    };
    let mut hosts = Vec::with_capacity(allow.len());
    for (i, raw) in allow.iter().enumerate() {
        let host = raw.strip_prefix("*.").unwrap_or(raw);
        let ok = !host.is_empty()
            && !host.starts_with('.')
            && !host.ends_with('.')
            && !host.contains("..")
            && host
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '.' || ch == '-' || ch == ':');
        if ok {
            hosts.push(raw.to_ascii_lowercase());
        } else {
            c.value(
                &with(&p(&["network", "allow"]), Seg::Index(i)),
                format!(
                    "`{raw}` is not a host: write a host name such as `pypi.org`, or \
                     `*.pythonhosted.org` for every name under a domain (no scheme, path or port)"
                ),
            );
        }
    }
    Network::Allow(hosts)
}

/// `requires.network`: `host` or `host:port` (default port 443), a DNS name
/// or an IP address; returned as `host:port`.
fn check_requires_network(c: &mut Checker, given: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(given.len());
    for (i, raw) in given.iter().enumerate() {
        let at = with(&p(&["requires", "network"]), Seg::Index(i));
        let (host, port) = match raw.rsplit_once(':') {
            Some((h, port)) => (h, port.parse::<u16>().ok().filter(|p| *p > 0)),
            None => (raw.as_str(), Some(443)),
        };
        let host_ok = !host.is_empty()
            && host
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '.' || ch == '-');
        match (host_ok, port) {
            (true, Some(port)) => out.push(format!("{host}:{port}")),
            _ => c.value(
                &at,
                format!(
                    "`{raw}` is not a host to reach: write `host` or `host:port` (port 1-65535, default 443), \
                     e.g. `files.pythonhosted.org` or `registry.npmjs.org:443`"
                ),
            ),
        }
    }
    out
}

fn check_build(c: &mut Checker, provider: &str, build: Option<&str>, has_nix: bool) -> String {
    if provider == "nix" {
        if build.is_some() {
            c.key(
                &p(&["build"]),
                "`build` is for the shell provider; the nix provider builds `nix.file`, \
                 remove `build`"
                    .to_owned(),
            );
        }
        if !has_nix && !c.already_reported(&p(&["nix"])) {
            c.value(
                &p(&["provider"]),
                "`provider: nix` needs a `nix:` block, e.g. `nix: {file: default.nix}`".to_owned(),
            );
        }
        return String::new();
    }
    if has_nix {
        c.key(
            &p(&["nix"]),
            "`nix:` is only for `provider: nix`; add `provider: nix` or remove the `nix:` block"
                .to_owned(),
        );
    }
    match build {
        None => {
            if !c.already_reported(&p(&["build"])) {
                c.value(
                    &p(&["build"]),
                    "missing `build`: the shell provider needs a script, \
                     e.g. `build: |` followed by indented commands that fill \"$out\""
                        .to_owned(),
                );
            }
            String::new()
        }
        Some(script) if script.trim().is_empty() => {
            c.value(
                &p(&["build"]),
                "`build` is empty; give the commands that fill \"$out\"".to_owned(),
            );
            String::new()
        }
        Some(script) if script.contains('\0') => {
            c.value(
                &p(&["build"]),
                "`build` contains a NUL character, which no shell can run".to_owned(),
            );
            String::new()
        }
        Some(script) => script.to_owned(),
    }
}

/// Replace `$out` and `${out}` (but not `$outer`) by `out`.
pub(crate) fn expand_out(text: &str, out: &str) -> String {
    let mut result = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        result.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix("{out}") {
            result.push_str(out);
            rest = tail;
        } else if let Some(tail) = after
            .strip_prefix("out")
            .filter(|t| !t.starts_with(|ch: char| ch.is_ascii_alphanumeric() || ch == '_'))
        {
            result.push_str(out);
            rest = tail;
        } else {
            result.push('$');
            rest = after;
        }
    }
    result.push_str(rest);
    result
}

fn check_path(c: &mut Checker, path: Option<Vec<String>>, out: &str) -> Vec<String> {
    let Some(entries) = path else {
        return vec![expand_out("$out/bin", out)];
    };
    let mut result = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let expanded = expand_out(entry, out);
        let at = p(&["path"]);
        let at = with(&at, Seg::Index(i));
        if expanded.contains(':') || expanded.chars().any(char::is_control) {
            c.value(
                &at,
                format!(
                    "PATH entry {entry:?} must not contain `:` or control characters; \
                     list each directory as its own entry"
                ),
            );
        } else if !expanded.starts_with('/') {
            c.value(
                &at,
                format!(
                    "PATH entry `{entry}` is not absolute; a relative entry depends on the \
                     working directory, write e.g. `$out/bin`"
                ),
            );
        }
        result.push(expanded);
    }
    result
}

fn check_vary(c: &mut Checker, names: &[String]) -> Vec<Variation> {
    let mut result: Vec<Variation> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let at = with(&p(&["vary"]), Seg::Index(i));
        match Variation::parse(name) {
            Ok(v) if result.contains(&v) => {
                c.value(
                    &at,
                    format!("variation `{name}` is listed twice; remove one"),
                );
            }
            Ok(v) => result.push(v),
            Err(Some(guess)) => {
                c.value(
                    &at,
                    format!("unknown variation `{name}`; did you mean `{guess}`?"),
                );
            }
            Err(None) => {
                let known: Vec<&str> = Variation::ALL.iter().map(|v| v.name()).collect();
                c.value(
                    &at,
                    format!(
                        "unknown variation `{name}`; known variations: {}",
                        known.join(", ")
                    ),
                );
            }
        }
    }
    result
}

/// Is `hash` an SRI SHA-256 (`sha256-` + 44 base64 characters = 32 bytes)?
fn is_sri_sha256(hash: &str) -> bool {
    hash.strip_prefix("sha256-").is_some_and(|b64| {
        b64.len() == 44
            && base64::engine::general_purpose::STANDARD
                .decode(b64)
                .is_ok_and(|bytes| bytes.len() == 32)
    })
}

/// A command name for `which`/`missing`: `None` if fine, else the complaint.
fn command_problem(cmd: &str) -> Option<&'static str> {
    if cmd.trim().is_empty() {
        Some("is empty")
    } else if cmd.chars().any(|ch| ch.is_control() || ch.is_whitespace()) {
        Some("must be a single command name, without spaces or control characters")
    } else {
        None
    }
}

fn check_glob(c: &mut Checker, at: &[Seg], what: &str, raw: &str, out: &str) -> String {
    let expanded = expand_out(raw, out);
    if let Err(err) = glob::Pattern::new(&expanded) {
        c.value(
            at,
            format!("{what} `{raw}` is not a valid glob: {}", err.msg),
        );
    }
    expanded
}

fn check_expect(c: &mut Checker, raw: RawExpect, out: &str) -> Expect {
    let base = p(&["expect"]);
    let mut expect = Expect {
        reproducible: raw.reproducible.unwrap_or(true),
        ..Expect::default()
    };

    match raw.build.as_deref() {
        None | Some("succeed") => {}
        Some("fail") => expect.build = BuildExpect::Fail,
        Some(other) => {
            let hint = match closest(other, &["succeed", "fail"]) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "write `succeed` (the default) or `fail`".to_owned(),
            };
            c.value(
                &with(&base, k("build")),
                format!("unknown `expect.build` `{other}`; {hint}"),
            );
        }
    }

    if let Some(hash) = raw.hash {
        if is_sri_sha256(&hash) {
            expect.hash = Some(hash);
        } else {
            let hint = if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                "; this looks like a hex digest, write the SRI form"
            } else {
                ""
            };
            c.value(
                &with(&base, k("hash")),
                format!(
                    "`expect.hash` must be `sha256-` followed by 44 base64 characters, \
                     as `envtwin hash` prints it, found `{hash}`{hint}"
                ),
            );
        }
    }

    match raw.fetches.as_deref() {
        None | Some("any") => {}
        Some("pinned") => expect.fetches = FetchExpect::Pinned,
        Some(other) => c.value(
            &with(&base, k("fetches")),
            format!(
                "unknown `expect.fetches` `{other}`; write `pinned` (every download's digest \
                 must appear in a file beside the scenario) or `any` (the default)"
            ),
        ),
    }

    let which_at = with(&base, k("which"));
    for (cmd, glob) in raw.which.unwrap_or_default() {
        let at = with(&which_at, k(&cmd));
        if let Some(problem) = command_problem(&cmd) {
            c.key(&at, format!("`expect.which` command {cmd:?} {problem}"));
        }
        let pattern = check_glob(c, &at, "`expect.which` pattern", &glob, out);
        expect.which.insert(cmd, pattern);
    }

    let missing_at = with(&base, k("missing"));
    for (i, cmd) in raw.missing.unwrap_or_default().into_iter().enumerate() {
        if let Some(problem) = command_problem(&cmd) {
            c.value(
                &with(&missing_at, Seg::Index(i)),
                format!("`expect.missing` command {cmd:?} {problem}"),
            );
        }
        expect.missing.push(cmd);
    }

    for (key, list, dest) in [
        (
            "path_contains",
            raw.path_contains,
            &mut expect.path_contains,
        ),
        (
            "path_excludes",
            raw.path_excludes,
            &mut expect.path_excludes,
        ),
    ] {
        let list_at = with(&base, k(key));
        for (i, glob) in list.unwrap_or_default().into_iter().enumerate() {
            let what = format!("`expect.{key}` pattern");
            dest.push(check_glob(
                c,
                &with(&list_at, Seg::Index(i)),
                &what,
                &glob,
                out,
            ));
        }
    }

    let run_at = with(&base, k("run"));
    for (i, run) in raw.run.unwrap_or_default().into_iter().enumerate() {
        let at = with(&run_at, Seg::Index(i));
        let cmd = match run.cmd {
            None => {
                if !c.already_reported(&with(&at, k("cmd"))) {
                    c.value(
                        &at,
                        format!(
                            "`expect.run[{i}]` needs `cmd:`, the command to run, e.g. `- cmd: hello`"
                        ),
                    );
                }
                String::new()
            }
            Some(cmd) if cmd.trim().is_empty() || cmd.contains('\0') => {
                c.value(
                    &with(&at, k("cmd")),
                    format!("`expect.run[{i}].cmd` is empty or contains a NUL character"),
                );
                cmd
            }
            Some(cmd) => cmd,
        };
        let exit = match run.exit {
            None => 0,
            Some(code @ 0..=255) => code as i32,
            Some(code) => {
                c.value(
                    &with(&at, k("exit")),
                    format!(
                        "`expect.run[{i}].exit` must be an exit status from 0 to 255, found {code}"
                    ),
                );
                0
            }
        };
        expect.run.push(RunExpect {
            cmd,
            stdout: run.stdout,
            stdout_contains: run.stdout_contains,
            exit,
        });
    }
    expect
}

/// `dir.join(rel)` resolved to an existing absolute path, or the complaint.
fn resolve(dir: &Path, rel: &str, what: &str) -> Result<PathBuf, String> {
    if rel.is_empty() {
        return Err(format!(
            "{what} is empty; give a path relative to this scenario file"
        ));
    }
    let joined = dir.join(rel);
    joined.canonicalize().map_err(|err| {
        let why = match err.kind() {
            std::io::ErrorKind::NotFound => "does not exist".to_owned(),
            _ => format!("cannot be read ({err})"),
        };
        format!(
            "{what} `{rel}` {why} (looked for {}); paths are relative to the scenario file",
            joined.display()
        )
    })
}

fn check_nix(c: &mut Checker, dir: &Path, raw: RawNix) -> Option<NixSpec> {
    let base = p(&["nix"]);
    let packages = raw.packages.clone().unwrap_or_default();
    let file = match raw.file.as_deref() {
        None if !packages.is_empty() => None,
        Some(_) if !packages.is_empty() => {
            c.value(
                &with(&base, k("packages")),
                "give `nix.file` or `nix.packages` (like `nix-shell -p`), not both".to_owned(),
            );
            None
        }
        None => {
            if !c.already_reported(&with(&base, k("file"))) {
                c.value(
                    &base,
                    "`nix` needs `file:`, the Nix expression relative to this scenario, \
                     e.g. `file: default.nix` (or `packages: [hello]`, like `nix-shell -p hello`)"
                        .to_owned(),
                );
            }
            None
        }
        Some(rel) => {
            match resolve(dir, rel, "`nix.file`") {
                Ok(path) if path.is_dir() && !path.join("default.nix").is_file() => {
                    c.value(
                    &with(&base, k("file")),
                    format!("`nix.file` `{rel}` is a directory without a `default.nix`; name the file"),
                );
                    None
                }
                Ok(path) => Some(path),
                Err(message) => {
                    c.value(&with(&base, k("file")), message);
                    None
                }
            }
        }
    };

    if raw.attr.as_deref().is_some_and(|a| a.trim().is_empty()) {
        c.value(
            &with(&base, k("attr")),
            "`nix.attr` is empty; name an attribute or remove `attr`".to_owned(),
        );
    }

    let mode = match raw.mode.as_deref() {
        None | Some("shell") => NixMode::Shell,
        Some("build") => NixMode::Build,
        Some(other) => {
            let hint = closest(other, &["shell", "build"])
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            c.value(
                &with(&base, k("mode")),
                format!("`nix.mode` must be `shell` or `build`, found `{other}`{hint}"),
            );
            NixMode::Shell
        }
    };

    let mut nix_path = BTreeMap::new();
    let np_at = with(&base, k("nix_path"));
    for (name, rel) in raw.nix_path.unwrap_or_default() {
        let at = with(&np_at, k(&name));
        if name.is_empty() || name.contains(['=', ':']) || name.chars().any(char::is_whitespace) {
            c.key(
                &at,
                format!(
                    "`nix.nix_path` name {name:?} must be non-empty, without `=`, `:` or spaces"
                ),
            );
            continue;
        }
        match resolve(dir, &rel, &format!("`nix.nix_path.{name}`")) {
            Ok(path) => {
                nix_path.insert(name, path);
            }
            Err(message) => c.value(&at, message),
        }
    }

    for (i, name) in packages.iter().enumerate() {
        let ok = !name.is_empty()
            && name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "._+-".contains(ch));
        if !ok {
            c.value(
                &with(&with(&base, k("packages")), Seg::Index(i)),
                format!("`nix.packages` entry {name:?} must be an attribute name like `hello` or `python3Packages.flask`"),
            );
        }
    }
    if !packages.is_empty() && mode == NixMode::Build {
        c.value(
            &with(&base, k("mode")),
            "`nix.packages` is `nix-shell -p`: use `mode: shell`, or a `file` for `mode: build`"
                .to_owned(),
        );
    }
    if file.is_none() && packages.is_empty() {
        return None;
    }
    Some(NixSpec {
        file,
        packages,
        attr: raw.attr,
        mode,
        nix_path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_out_handles_both_forms_and_leaves_lookalikes() {
        assert_eq!(expand_out("$out/bin", "/o"), "/o/bin");
        assert_eq!(expand_out("${out}/bin:$out", "/o"), "/o/bin:/o");
        assert_eq!(expand_out("$outer/$out_x/$$/$", "/o"), "$outer/$out_x/$$/$");
        assert_eq!(expand_out("é$out", "/o"), "é/o");
    }

    #[test]
    fn closest_suggests_typos_only() {
        let keys = ["name", "build", "timeout", "source_date_epoch"];
        assert_eq!(closest("biuld", &keys), Some("build"));
        assert_eq!(closest("timout", &keys), Some("timeout"));
        assert_eq!(closest("Name", &keys), Some("name"));
        assert_eq!(
            closest("source-date-epoch", &keys),
            Some("source_date_epoch")
        );
        assert_eq!(closest("zzz", &keys), None);
    }

    #[test]
    fn sri_hashes() {
        let good = format!(
            "sha256-{}",
            base64::engine::general_purpose::STANDARD.encode([7u8; 32])
        );
        assert!(is_sri_sha256(&good));
        assert!(!is_sri_sha256("sha256-abc"));
        assert!(!is_sri_sha256(&good.replace("sha256-", "sha512-")));
        assert!(!is_sri_sha256(&format!("{good}x")));
    }

    #[test]
    fn out_rules() {
        assert_eq!(
            check_out("/envtwin/out/", "shell"),
            Ok("/envtwin/out".into())
        );
        assert_eq!(check_out("//a//b", "shell"), Ok("/a/b".into()));
        assert_eq!(check_out("/nix/x", "shell"), Ok("/nix/x".into()));
        assert_eq!(
            check_out("/usr/local/env", "shell"),
            Ok("/usr/local/env".into())
        );
        for bad in [
            "", "out", "/", "//", "/proc", "/dev/x", "/sys", "/tmp/o", "/usr", "/a/../b", "/a:b",
        ] {
            assert!(check_out(bad, "shell").is_err(), "{bad}");
        }
        assert!(check_out("/nix/x", "nix").is_err());
    }
}

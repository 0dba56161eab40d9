//! Shell rules of the audit, over a scenario's `build:` script: pip, apt,
//! npm, git clone and curl/wget downloads that are not pinned. Main entry:
//! `audit`, over the commands of `scan`.
//!
//! Each rule looks at one command at a time, after its variable
//! assignments and wrappers (`sudo`, `env`, `command`, ...); `git clone`
//! and downloads also look at the commands after them (a checkout of a full
//! commit, a checksum check). Words holding shell variables are not
//! expanded: a package list in `$PKGS` is not seen.

mod nested;
mod packages;
mod scan;

use super::requirements::{self, Spec};
use super::{Fetches, Hit, Rule, shorten};
use scan::{Cmd, Word};
use std::collections::HashMap;

/// A hit in the script, with the text it points at, so the caller can find
/// that text in the file the script came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located {
    pub hit: Hit,
    pub snippet: String,
}

/// A requirements (or constraints) file a pip command reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReqRef {
    /// As written, quotes removed: `$src/requirements.txt`.
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub snippet: String,
    /// `--require-hashes` was given: pip itself refuses unpinned lines.
    pub enforced: bool,
    /// pip may download what the file lists (no `--no-index`): the file
    /// counts as one download for `network-unpinned`, pinned if it is.
    pub from_index: bool,
}

/// What a build script yields.
#[derive(Debug, Default)]
pub(crate) struct ShellAudit {
    pub hits: Vec<Located>,
    pub requirement_files: Vec<ReqRef>,
    pub fetches: Fetches,
}

impl ShellAudit {
    fn hit(&mut self, w: &Word, rule: Rule, message: String, fix: String) {
        self.hits.push(Located {
            hit: Hit::new(w.line, w.column, rule, message, fix),
            snippet: w.raw.clone(),
        });
    }
}

/// What the audit knows about the build's surroundings.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Context {
    /// The scenario directory ships a `Cargo.lock`: `cargo build` should
    /// be held to it.
    pub cargo_lock: bool,
}

/// Scripts inside scripts (`sh -c '...'` inside `bash -c "..."`) deeper
/// than this are not audited: the bound keeps hostile input from costing
/// more than a few passes over its text.
const MAX_INNER: usize = 8;

/// Audit one build script.
#[cfg(test)]
pub(crate) fn audit(script: &str) -> ShellAudit {
    audit_with(script, Context::default())
}

/// Audit one build script in its `ctx`.
pub(crate) fn audit_with(script: &str, ctx: Context) -> ShellAudit {
    let mut out = ShellAudit::default();
    audit_into(script, ctx, 0, &mut out);
    out
}

fn audit_into(script: &str, ctx: Context, depth: usize, out: &mut ShellAudit) {
    let cmds = scan::scan(script);
    let pipes = pipelines(&cmds);
    let mut git = GitState::default();
    for (index, cmd) in cmds.iter().enumerate() {
        let Some(k) = command_start(&cmd.words) else {
            continue;
        };
        let words = &cmd.words[k..];
        let name = basename(&words[0].text);
        if let Some(args) = pip_args(words) {
            pip(&words[0], args, out);
        }
        match name {
            "apt-get" | "apt" | "aptitude" => apt(words, out),
            "npm" => npm(words, out),
            "git" => git.command(words),
            "curl" | "wget" => download(&cmds, &pipes, index, words, out),
            "gsutil" | "aws" => {
                if let Some(dest) = cloud_copy(&cmds, &pipes, index, words) {
                    judge_download(&cmds, &pipes, index, words, dest, out);
                }
            }
            _ => packages::command(words, ctx, out),
        }
        if depth < MAX_INNER
            && let Some(inner) = nested::script(words)
        {
            let mut sub = ShellAudit::default();
            audit_into(&inner.text, ctx, depth + 1, &mut sub);
            inner.merge(sub, out);
        }
    }
    git.finish(out);
}

fn basename(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

fn is_assignment(s: &str) -> bool {
    match s.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

/// Index of the command's name: after variable assignments and wrappers
/// such as `sudo`, `env`, `command`, `exec`, `timeout 60`.
fn command_start(words: &[Word]) -> Option<usize> {
    let mut k = 0;
    loop {
        while words.get(k).is_some_and(|w| is_assignment(&w.text)) {
            k += 1;
        }
        let name = basename(&words.get(k)?.text);
        let takes_value: &[&str] = match name {
            "sudo" | "doas" => &["-u", "-g", "-C", "-D"],
            "env" => &["-u", "-C", "-S"],
            "nice" => &["-n"],
            "stdbuf" => &["-i", "-o", "-e"],
            "timeout" => &["-s", "-k"],
            "command" | "exec" | "nohup" | "eatmydata" | "chronic" => &[],
            _ => return Some(k),
        };
        k += 1;
        while let Some(w) = words.get(k) {
            if !w.text.starts_with('-') {
                break;
            }
            k += if takes_value.contains(&w.text.as_str()) {
                2
            } else {
                1
            };
        }
        if name == "timeout" {
            k += 1; // the duration
        }
    }
}

/// Split `-fsSLo FILE`-style words: yields (option, value) pairs, consuming
/// the next word as a value when the option takes one. Long options may be
/// `--opt=value` or `--opt value`. `None` option means a positional word.
struct Options<'w> {
    words: &'w [Word],
    k: usize,
    short_values: &'static str,
    long_values: &'static [&'static str],
    rest_positional: bool,
}

/// One parsed item of a command line.
enum Item<'w> {
    Opt(String, Option<String>),
    Positional(&'w Word),
}

impl<'w> Options<'w> {
    fn new(
        words: &'w [Word],
        short_values: &'static str,
        long_values: &'static [&'static str],
    ) -> Self {
        Options {
            words,
            k: 0,
            short_values,
            long_values,
            rest_positional: false,
        }
    }
}

impl<'w> Iterator for Options<'w> {
    type Item = Item<'w>;

    fn next(&mut self) -> Option<Item<'w>> {
        let w = self.words.get(self.k)?;
        self.k += 1;
        let t = w.text.as_str();
        if self.rest_positional || !t.starts_with('-') || t == "-" {
            return Some(Item::Positional(w));
        }
        if t == "--" {
            self.rest_positional = true;
            return self.next();
        }
        if let Some(long) = t.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            let name = format!("--{name}");
            let value = match inline {
                Some(v) => Some(v),
                None if self.long_values.contains(&name.as_str()) => {
                    let v = self.words.get(self.k).map(|w| w.text.clone());
                    self.k += 1;
                    v
                }
                None => None,
            };
            return Some(Item::Opt(name, value));
        }
        // A cluster of short options; the first that takes a value takes
        // the rest of the cluster, or else the next word.
        let cluster: Vec<char> = t.chars().skip(1).collect();
        for (idx, ch) in cluster.iter().enumerate() {
            if self.short_values.contains(*ch) {
                let rest: String = cluster[idx + 1..].iter().collect();
                let value = if rest.is_empty() {
                    let v = self.words.get(self.k).map(|w| w.text.clone());
                    self.k += 1;
                    v
                } else {
                    Some(rest)
                };
                // Flags before it in the cluster matter to no rule here
                // except curl's `-O`, reported through the option name.
                let flags: String = cluster[..idx].iter().collect();
                return Some(Item::Opt(format!("-{flags}{ch}"), value));
            }
        }
        Some(Item::Opt(t.to_owned(), None))
    }
}

/// The last option letter of a short cluster (`o` of `-fsSLo`), or the long name.
fn opt_is(opt: &str, short: char, long: &str) -> bool {
    opt == long || (!opt.starts_with("--") && opt.ends_with(short))
}

fn short_flag(opt: &str, short: char) -> bool {
    !opt.starts_with("--") && opt.contains(short)
}

// ---------------------------------------------------------------- pip

fn is_versioned(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// The words after `pip` in `pip ...`, `python3 -m pip ...`, `uv pip ...`.
fn pip_args(words: &[Word]) -> Option<&[Word]> {
    let name = basename(&words[0].text);
    if is_versioned(name, "pip") {
        return Some(&words[1..]);
    }
    if name == "uv" && words.get(1).is_some_and(|w| w.text == "pip") {
        return Some(&words[2..]);
    }
    if is_versioned(name, "python") {
        // pip run from its own wheel, as bootstraps do: `python pip.whl/pip ...`.
        let script = words[1..].iter().position(|w| !w.text.starts_with('-'));
        if let Some(k) = script
            && words[k + 1].text.ends_with("/pip")
            && !words[1..=k]
                .iter()
                .any(|w| w.text == "-m" || w.text == "-c")
        {
            return Some(&words[k + 2..]);
        }
        let m = words.iter().position(|w| w.text == "-m")?;
        if words
            .get(m + 1)
            .is_some_and(|w| is_versioned(&w.text, "pip"))
        {
            return Some(&words[m + 2..]);
        }
    }
    None
}

const PIP_SHORT_VALUES: &str = "rceiftdwCb";
const PIP_LONG_VALUES: &[&str] = &[
    "--requirement",
    "--constraint",
    "--editable",
    "--index-url",
    "--extra-index-url",
    "--find-links",
    "--target",
    "--prefix",
    "--root",
    "--src",
    "--upgrade-strategy",
    "--platform",
    "--python-version",
    "--implementation",
    "--abi",
    "--progress-bar",
    "--log",
    "--log-file",
    "--proxy",
    "--retries",
    "--timeout",
    "--exists-action",
    "--trusted-host",
    "--cert",
    "--client-cert",
    "--cache-dir",
    "--no-binary",
    "--only-binary",
    "--config-settings",
    "--global-option",
    "--install-option",
    "--build-option",
    "--root-user-action",
    "--report",
    "--python",
    "--dest",
    "--wheel-dir",
    "--keyring-provider",
    "--use-feature",
    "--use-deprecated",
    "--hash",
    "--group",
];

fn pip(pip_word: &Word, args: &[Word], out: &mut ShellAudit) {
    // Global options may come before the subcommand.
    let mut opts = Options::new(args, PIP_SHORT_VALUES, PIP_LONG_VALUES);
    let sub = loop {
        match opts.next() {
            None => return,
            Some(Item::Positional(w)) => break w.text.as_str(),
            Some(Item::Opt(..)) => {}
        }
    };
    if !matches!(sub, "install" | "download" | "wheel") {
        return;
    }
    let mut specs: Vec<(String, &Word)> = Vec::new();
    let mut files: Vec<(String, &Word)> = Vec::new();
    let mut constrained = false;
    let (mut no_index, mut require_hashes, mut hashed) = (false, false, false);
    let mut no_deps = false;
    let rest = &args[opts.k..];
    let mut items = Options::new(rest, PIP_SHORT_VALUES, PIP_LONG_VALUES);
    while let Some(item) = items.next() {
        // The word an option's value came from, to point at.
        let at = &rest[items.k.saturating_sub(1).min(rest.len().saturating_sub(1))];
        match item {
            Item::Positional(w) => specs.push((w.text.clone(), w)),
            Item::Opt(opt, value) => {
                if opt == "--no-index" {
                    no_index = true;
                } else if opt == "--no-deps" {
                    no_deps = true;
                } else if opt == "--require-hashes" {
                    require_hashes = true;
                } else if opt == "--hash" {
                    hashed = true;
                } else if let Some(v) = value {
                    if opt_is(&opt, 'r', "--requirement") {
                        files.push((v, at));
                    } else if opt_is(&opt, 'c', "--constraint") {
                        constrained = true;
                        files.push((v, at));
                    } else if opt_is(&opt, 'e', "--editable") {
                        specs.push((v, at));
                    }
                }
            }
        }
    }
    let reads_files = !files.is_empty();
    let mut unpinned = 0;
    let mut from_index = 0;
    // The specs pinned to one version, for pip-transitive-unpinned.
    let mut pinned: Vec<&str> = Vec::new();
    // Hashes cannot check a VCS checkout (pip refuses them there); a full
    // commit id pins it instead.
    let mut hashable = 0;
    for (spec, w) in &specs {
        let kind = requirements::classify(spec);
        if matches!(kind, Spec::Pinned | Spec::Unpinned) {
            from_index += 1;
            hashable += usize::from(!requirements::is_vcs(spec));
        }
        if kind == Spec::Pinned {
            pinned.push(spec);
        }
        // A constraints file pins what the command line leaves open; it
        // is audited as a requirements file instead.
        if kind == Spec::Unpinned && !constrained {
            unpinned += 1;
            let name = shorten(requirements::name_of(spec));
            let spec = shorten(spec);
            out.hit(
                w,
                Rule::PipUnpinned,
                format!(
                    "`pip {sub} {spec}` is not pinned to one version: pip takes whatever the \
                     index serves on the day of the build"
                ),
                format!(
                    "pin it exactly, e.g. `{name}==<version>`, or list it with `==` and \
                     `--hash` in a requirements file installed with `--require-hashes -r`"
                ),
            );
        }
    }
    if !no_index && !require_hashes && !hashed && hashable > 0 {
        out.hit(
            pip_word,
            Rule::PipNoHashes,
            format!(
                "`pip {sub}` downloads from an index without checking hashes, so a replaced \
                 or tampered file goes unnoticed"
            ),
            "install from a requirements file with hashes: `pip install --require-hashes -r \
             \"$src/requirements.txt\"` (`pip-compile --generate-hashes` writes it), or \
             install local wheels with `--no-index`"
                .to_owned(),
        );
    }
    // Hash-checking mode (any `--hash`) needs a hash for every dependency,
    // and a constraints file can pin them: otherwise only the names given
    // are pinned, and what they depend on floats.
    if !no_index
        && !no_deps
        && !constrained
        && !require_hashes
        && !hashed
        && unpinned == 0
        && !pinned.is_empty()
    {
        let names: Vec<String> = pinned.iter().take(3).map(|s| shorten(s)).collect();
        out.hit(
            pip_word,
            Rule::PipTransitiveUnpinned,
            format!(
                "`pip {sub} {}` pins only the names given: their dependencies are resolved \
                 afresh from the index at build time",
                names.join(" ")
            ),
            "pin the whole tree: `pip-compile --generate-hashes` (or `pip freeze`) into \
             \"$src/requirements.txt\" and `pip install --require-hashes -r` it, or add \
             `-c \"$src/constraints.txt\"` listing every dependency with `==`, or \
             `--no-deps` when the dependencies are installed pinned elsewhere"
                .to_owned(),
        );
    }
    for (path, w) in files {
        out.requirement_files.push(ReqRef {
            path,
            line: w.line,
            column: w.column,
            snippet: w.raw.clone(),
            enforced: require_hashes,
            from_index: !no_index && !require_hashes,
        });
    }
    // The pins of a requirements file are known once it is read: the
    // caller counts it then, unless `--require-hashes` enforces them.
    if !no_index && from_index > 0 {
        out.fetches.add(unpinned == 0);
    }
    if !no_index && reads_files && require_hashes {
        out.fetches.add(true);
    }
}

// ---------------------------------------------------------------- apt

fn apt(words: &[Word], out: &mut ShellAudit) {
    let opts = Options::new(
        &words[1..],
        "otc",
        &[
            "--option",
            "--target-release",
            "--default-release",
            "--config-file",
        ],
    );
    let mut positional = opts.filter_map(|i| match i {
        Item::Positional(w) => Some(w),
        Item::Opt(..) => None,
    });
    if positional.next().is_none_or(|w| w.text != "install") {
        return;
    }
    let mut pinned = true;
    for w in positional {
        let t = w.text.as_str();
        let shown = shorten(t);
        let local = t.ends_with(".deb") || t.starts_with(['.', '/']);
        if t.starts_with('$') || local || t.contains('=') {
            continue;
        }
        pinned = false;
        out.hit(
            w,
            Rule::AptUnpinned,
            format!(
                "`{shown}` has no `=version`: apt installs whatever version the archive has at \
                 build time"
            ),
            format!(
                "pin the version, e.g. `{shown}=<version>` (`apt-cache policy {shown}` lists \
                 them); for builds that must work later, use a snapshot.debian.org mirror"
            ),
        );
    }
    out.fetches.add(pinned);
}

// ---------------------------------------------------------------- npm

const NPM_INSTALL: &[&str] = &[
    "install",
    "i",
    "in",
    "ins",
    "inst",
    "insta",
    "instal",
    "isnt",
    "isnta",
    "isntal",
    "isntall",
    "add",
    "install-test",
    "it",
    "update",
    "up",
    "upgrade",
    "udpate",
];

fn npm(words: &[Word], out: &mut ShellAudit) {
    let mut opts = Options::new(
        &words[1..],
        "Cw",
        &[
            "--prefix",
            "--workspace",
            "--registry",
            "--cache",
            "--userconfig",
            "--globalconfig",
            "--loglevel",
            "--omit",
            "--include",
        ],
    );
    let sub = opts.find_map(|i| match i {
        Item::Positional(w) => Some(w),
        Item::Opt(..) => None,
    });
    match sub.map(|w| w.text.as_str()) {
        Some("ci" | "clean-install" | "install-clean" | "isntall-clean" | "ic") => {
            out.fetches.add(true);
        }
        Some(s) if NPM_INSTALL.contains(&s) => {
            out.fetches.add(false);
            out.hit(
                &words[0],
                Rule::NpmInstall,
                format!(
                    "`npm {s}` resolves versions afresh from the registry and may rewrite \
                     package-lock.json"
                ),
                "use `npm ci`, which installs exactly what package-lock.json records and \
                 fails if it is out of date"
                    .to_owned(),
            );
        }
        _ => {}
    }
}

// ---------------------------------------------------------------- git

fn is_full_commit(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.chars().all(|c| c.is_ascii_hexdigit())
}

struct Clone {
    word: Word,
    url: String,
    /// Base name of the directory, to match `git -C DIR` against.
    dir: String,
    /// The directory as written, for the fix.
    shown_dir: String,
    pinned: bool,
}

/// Clones seen so far and whether a checkout of a full commit followed.
#[derive(Default)]
struct GitState {
    clones: Vec<Clone>,
    /// Directories (or `""` for the current one) where a full commit was fetched.
    fetched: Vec<String>,
}

fn dir_key(path: &str) -> String {
    basename(path.trim_end_matches('/')).to_owned()
}

impl GitState {
    fn command(&mut self, words: &[Word]) {
        let mut k = 1;
        let mut dir: Option<String> = None;
        while let Some(w) = words.get(k) {
            match w.text.as_str() {
                "-C" => {
                    dir = words.get(k + 1).map(|d| dir_key(&d.text));
                    k += 2;
                }
                "-c" => k += 2,
                t if t.starts_with('-') => k += 1,
                _ => break,
            }
        }
        let Some(sub) = words.get(k) else { return };
        let args = &words[k + 1..];
        match sub.text.as_str() {
            "clone" => self.clone(&words[0], args),
            "checkout" | "switch" | "reset" | "fetch" => {
                let positional: Vec<&str> = args
                    .iter()
                    .map(|w| w.text.as_str())
                    .filter(|t| !t.starts_with('-'))
                    .collect();
                let key = dir.clone().unwrap_or_default();
                let commit = positional.iter().any(|t| is_full_commit(t));
                if sub.text == "fetch" {
                    if commit {
                        self.fetched.push(key);
                    }
                    return;
                }
                let fetch_head = positional.contains(&"FETCH_HEAD") && self.fetched.contains(&key);
                if commit || fetch_head {
                    self.pin(dir.as_deref());
                }
            }
            _ => {}
        }
    }

    fn clone(&mut self, git_word: &Word, args: &[Word]) {
        let opts = Options::new(
            args,
            "bocuj",
            &[
                "--branch",
                "--depth",
                "--origin",
                "--config",
                "--reference",
                "--reference-if-able",
                "--separate-git-dir",
                "--upload-pack",
                "--template",
                "--shallow-since",
                "--shallow-exclude",
                "--jobs",
                "--filter",
                "--revision",
                "--server-option",
                "--bundle-uri",
            ],
        );
        let mut positional = Vec::new();
        let mut pinned = false;
        for item in opts {
            match item {
                Item::Positional(w) => positional.push(w),
                Item::Opt(opt, Some(v)) if opt == "--revision" => pinned |= is_full_commit(&v),
                Item::Opt(..) => {}
            }
        }
        let Some(url) = positional.first().map(|w| w.text.clone()) else {
            return;
        };
        let (dir, shown_dir) = match positional.get(1) {
            Some(d) => (dir_key(&d.text), d.raw.clone()),
            None => {
                let last = url
                    .trim_end_matches('/')
                    .rsplit(['/', ':'])
                    .next()
                    .unwrap_or("");
                let dir = last.strip_suffix(".git").unwrap_or(last).to_owned();
                (dir.clone(), dir)
            }
        };
        self.clones.push(Clone {
            word: git_word.clone(),
            url,
            dir,
            shown_dir,
            pinned,
        });
    }

    /// A checkout of a full commit in `dir` (or, without `-C`, in whatever
    /// directory the script is in: the latest clone not yet pinned).
    fn pin(&mut self, dir: Option<&str>) {
        // Bounded, like the download look-ahead, so no script is quadratic.
        let mut open = self
            .clones
            .iter_mut()
            .rev()
            .take(LOOK_AHEAD)
            .filter(|c| !c.pinned);
        let target = match dir {
            Some(d) => open.find(|c| c.dir == d),
            None => open.next(),
        };
        if let Some(c) = target {
            c.pinned = true;
        }
    }

    fn finish(self, out: &mut ShellAudit) {
        for c in self.clones {
            out.fetches.add(c.pinned);
            if c.pinned {
                continue;
            }
            out.hit(
                &c.word,
                Rule::GitCloneUnpinned,
                format!(
                    "`git clone {}` takes whatever the remote's branch points to at build \
                     time, and no checkout of a full commit id follows",
                    shorten(&c.url)
                ),
                format!(
                    "check out a full commit after cloning: `git -C {} checkout <40-hex commit>` \
                     (a branch or tag can move)",
                    if c.shown_dir.is_empty() {
                        "DIR".to_owned()
                    } else {
                        shorten(&c.shown_dir)
                    }
                ),
            );
        }
    }
}

// ---------------------------------------------------------------- downloads

const CHECK_TOOLS: &[&str] = &[
    "sha224sum",
    "sha256sum",
    "sha384sum",
    "sha512sum",
    "b2sum",
    "shasum",
    "sha3sum",
    "rhash",
];

const CURL_SHORT_VALUES: &str = "oHdDuAeXxwmbcTFEKrCzYyUPQt";
const CURL_LONG_VALUES: &[&str] = &[
    "--output",
    "--url",
    "--header",
    "--data",
    "--data-raw",
    "--data-binary",
    "--data-urlencode",
    "--data-ascii",
    "--json",
    "--user",
    "--user-agent",
    "--referer",
    "--request",
    "--proxy",
    "--proxy-user",
    "--write-out",
    "--retry",
    "--retry-delay",
    "--retry-max-time",
    "--max-time",
    "--connect-timeout",
    "--cookie",
    "--cookie-jar",
    "--upload-file",
    "--form",
    "--cacert",
    "--capath",
    "--cert",
    "--key",
    "--config",
    "--range",
    "--continue-at",
    "--output-dir",
    "--time-cond",
    "--resolve",
    "--limit-rate",
    "--interface",
    "--dns-servers",
    "--dump-header",
    "--max-filesize",
    "--netrc-file",
    "--oauth2-bearer",
    "--stderr",
    "--trace",
    "--trace-ascii",
    "--unix-socket",
    "--variable",
];

const WGET_SHORT_VALUES: &str = "oaeOPtTwUiBlARDIXQ";
const WGET_LONG_VALUES: &[&str] = &[
    "--output-document",
    "--output-file",
    "--append-output",
    "--directory-prefix",
    "--execute",
    "--tries",
    "--timeout",
    "--wait",
    "--user-agent",
    "--input-file",
    "--base",
    "--level",
    "--accept",
    "--reject",
    "--domains",
    "--header",
    "--user",
    "--password",
    "--post-data",
    "--post-file",
    "--ca-certificate",
    "--certificate",
    "--private-key",
    "--load-cookies",
    "--save-cookies",
    "--referer",
    "--limit-rate",
    "--method",
    "--body-data",
    "--body-file",
    "--progress",
];

/// Where a download's bytes go.
enum Dest {
    /// A file, by base name; `None` when it cannot be told (`wget -i list`).
    File(Option<String>),
    /// Standard output, piped into the named command.
    Pipe(String),
    /// Standard output, captured by `$(...)`.
    Captured,
    /// Standard output, to the build log: nothing uses it.
    Log,
}

fn url_basename(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or("");
    basename(path.trim_end_matches('/')).to_owned()
}

fn download(
    cmds: &[Cmd],
    pipes: &HashMap<usize, Pipeline>,
    index: usize,
    words: &[Word],
    out: &mut ShellAudit,
) {
    let tool = basename(&words[0].text).to_owned();
    let curl = tool == "curl";
    let opts = if curl {
        Options::new(&words[1..], CURL_SHORT_VALUES, CURL_LONG_VALUES)
    } else {
        Options::new(&words[1..], WGET_SHORT_VALUES, WGET_LONG_VALUES)
    };
    let mut urls = Vec::new();
    let mut output: Option<String> = None;
    let mut remote_name = !curl;
    let mut input_list = false;
    for item in opts {
        match item {
            Item::Positional(w) => urls.push(w.text.clone()),
            Item::Opt(opt, value) => {
                let remote = opt == "--remote-name" || opt == "--remote-name-all";
                if curl && (remote || short_flag(&opt, 'O')) {
                    remote_name = true;
                }
                match value {
                    Some(v) if curl && opt_is(&opt, 'o', "--output") => output = Some(v),
                    Some(v) if curl && opt == "--url" => urls.push(v),
                    Some(v) if !curl && opt_is(&opt, 'O', "--output-document") => output = Some(v),
                    Some(_) if !curl && opt_is(&opt, 'i', "--input-file") => input_list = true,
                    _ => {}
                }
            }
        }
    }
    if urls.is_empty() && !input_list {
        return;
    }
    let dest = match output.as_deref() {
        Some("-") => stdout_dest(cmds, pipes, index),
        Some(f) => Dest::File(Some(basename(f).to_owned())),
        None if input_list => Dest::File(None),
        None if remote_name => Dest::File(urls.first().map(|u| url_basename(u))),
        None => stdout_dest(cmds, pipes, index),
    };
    judge_download(cmds, pipes, index, words, dest, out);
}

/// `gsutil cp gs://... DEST` and `aws s3 cp s3://... DEST`, `aws s3api
/// get-object ... DEST`: downloads from a bucket, where the destination goes.
fn cloud_copy(
    cmds: &[Cmd],
    pipes: &HashMap<usize, Pipeline>,
    index: usize,
    words: &[Word],
) -> Option<Dest> {
    let positional: Vec<&str> = words[1..]
        .iter()
        .map(|w| w.text.as_str())
        .filter(|t| !t.starts_with('-') || *t == "-")
        .collect();
    let (remote, dest) = match basename(&words[0].text) {
        "gsutil" => match positional.as_slice() {
            ["cp", from @ .., to] if from.iter().any(|f| f.starts_with("gs://")) => (from[0], *to),
            ["cat", from, ..] if from.starts_with("gs://") => (*from, "-"),
            _ => return None,
        },
        _ => {
            // `aws [global options] s3 cp SRC DST` or `aws s3api get-object
            // --bucket B --key K OUTFILE`; global options with values are
            // skipped by looking for the service name.
            let s = positional
                .iter()
                .position(|t| *t == "s3" || *t == "s3api")?;
            match &positional[s..] {
                ["s3", "cp", from, to, ..] if from.starts_with("s3://") => (*from, *to),
                ["s3api", "get-object", .., to] => {
                    let key = words
                        .iter()
                        .position(|w| w.text == "--key")
                        .and_then(|k| words.get(k + 1))
                        .map_or("", |w| w.text.as_str());
                    let to = if *to == key { "" } else { *to };
                    (key, to)
                }
                _ => return None,
            }
        }
    };
    if dest.starts_with("gs://") || dest.starts_with("s3://") {
        return None;
    }
    Some(match dest {
        "-" => stdout_dest(cmds, pipes, index),
        "" => Dest::File(None),
        "." | "./" => Dest::File(Some(url_basename(remote))),
        d if d.ends_with('/') => Dest::File(Some(url_basename(remote))),
        d => Dest::File(Some(basename(d).to_owned())),
    })
}

/// Flag a download by `words` into `dest` unless a checksum check of it
/// comes before any use.
fn judge_download(
    cmds: &[Cmd],
    pipes: &HashMap<usize, Pipeline>,
    index: usize,
    words: &[Word],
    dest: Dest,
    out: &mut ShellAudit,
) {
    let tool = basename(&words[0].text).to_owned();
    let fetch = match tool.as_str() {
        "curl" => "curl -fL -o FILE URL".to_owned(),
        "wget" => "wget -O FILE URL".to_owned(),
        "aws" => "aws s3 cp URL FILE".to_owned(),
        other => format!("{other} cp URL FILE"),
    };
    let fix = format!(
        "save it to a file and check it before use: `{fetch} && echo \"<sha256>  FILE\" \
         | sha256sum -c -`"
    );
    let problem = match dest {
        Dest::Log => return,
        Dest::Captured => Some(format!(
            "`{tool}` output is used through a command substitution without a checksum check"
        )),
        Dest::Pipe(next) => Some(format!(
            "`{tool}` output is piped into `{}` without a checksum check",
            shorten(&next)
        )),
        Dest::File(file) => unchecked_file(cmds, pipes, index, file.as_deref(), &tool),
    };
    out.fetches.add(problem.is_none());
    if let Some(message) = problem {
        out.hit(&words[0], Rule::DownloadUnchecked, message, fix);
    }
}

/// Where standard output goes: a `>` file, a pipe, a substitution or the log.
fn stdout_dest(cmds: &[Cmd], pipes: &HashMap<usize, Pipeline>, index: usize) -> Dest {
    let cmd = &cmds[index];
    let to_file = cmd.redirects.iter().rev().find(|(op, target)| {
        let op = op.trim_start_matches('1');
        matches!(op, ">" | ">>" | ">|" | "&>" | "&>>") && !target.text.is_empty()
    });
    if let Some((_, target)) = to_file {
        return Dest::File(Some(basename(&target.text).to_owned()));
    }
    if cmd.piped_out {
        let next = pipes
            .get(&cmd.pipeline)
            .and_then(|p| p.members.iter().find(|m| **m > index))
            .and_then(|m| {
                let c = &cmds[*m];
                command_start(&c.words).map(|k| basename(&c.words[k].text).to_owned())
            })
            .unwrap_or_else(|| "a command".to_owned());
        return Dest::Pipe(next);
    }
    if cmd.captured {
        Dest::Captured
    } else {
        Dest::Log
    }
}

/// How many commands after a download (or clones before a checkout) are
/// looked at. A check is normally a line or two after the download; the
/// bound keeps a hostile script of thousands of downloads from taking
/// quadratic time.
const LOOK_AHEAD: usize = 500;

/// What a pipeline is, as far as checksum checks go.
struct Pipeline {
    /// Its commands, by index, in order.
    members: Vec<usize>,
    /// It runs a checksum tool with `-c`/`--check`.
    check_flag: bool,
    /// It names a checksum tool and holds a literal digest (64+ hex digits).
    digest: bool,
    /// It reads something from `$src` (a checksum file shipped beside the scenario).
    from_src: bool,
}

impl Pipeline {
    fn mentions(&self, cmds: &[Cmd], needle: &str) -> bool {
        self.members.iter().any(|m| cmds[*m].mentions(needle))
    }

    /// Whether it checks `file` (any download, when the name is unknown):
    /// `sha256sum -c` naming the file or reading a checksum file from
    /// `$src`, or a checksum tool's output compared with a literal digest.
    fn checks(&self, cmds: &[Cmd], file: Option<&str>) -> bool {
        if !self.check_flag && !self.digest {
            return false;
        }
        let named = file.is_none_or(|f| self.mentions(cmds, f));
        (self.check_flag && (named || self.from_src)) || (self.digest && named)
    }
}

/// Every pipeline of the script, by number, computed once.
fn pipelines(cmds: &[Cmd]) -> HashMap<usize, Pipeline> {
    let mut out: HashMap<usize, Pipeline> = HashMap::new();
    // Per pipeline: a checksum tool named anywhere (also inside a `$(...)`
    // word), and a literal digest anywhere: `echo "<digest>  f" | sha256sum -c`
    // has them in different commands.
    let mut named: HashMap<usize, (bool, bool)> = HashMap::new();
    for (index, c) in cmds.iter().enumerate() {
        let texts = || {
            c.words
                .iter()
                .map(|w| w.text.as_str())
                .chain(c.redirects.iter().map(|(_, w)| w.text.as_str()))
                .chain(std::iter::once(c.heredoc.as_str()))
        };
        let check_flag = command_start(&c.words).is_some_and(|k| {
            CHECK_TOOLS.contains(&basename(&c.words[k].text))
                && c.words[k + 1..].iter().any(|w| {
                    let t = w.text.as_str();
                    t == "--check"
                        || (t.starts_with('-') && !t.starts_with("--") && t.contains('c'))
                })
        });
        let p = out.entry(c.pipeline).or_insert(Pipeline {
            members: Vec::new(),
            check_flag: false,
            digest: false,
            from_src: false,
        });
        p.members.push(index);
        p.check_flag |= check_flag;
        p.from_src |= c.mentions("$src") || c.mentions("${src}");
        let n = named.entry(c.pipeline).or_default();
        n.0 |= texts().any(|t| CHECK_TOOLS.iter().any(|tool| t.contains(tool)));
        n.1 |= texts().any(has_long_hex);
    }
    for (id, (tool, hex)) in named {
        if let Some(p) = out.get_mut(&id) {
            p.digest = tool && hex;
        }
    }
    out
}

/// Why a downloaded `file` is unchecked, or `None` if a checksum check of
/// it comes before any other use.
fn unchecked_file(
    cmds: &[Cmd],
    pipes: &HashMap<usize, Pipeline>,
    index: usize,
    file: Option<&str>,
    tool: &str,
) -> Option<String> {
    let shown = file.map_or_else(|| "the download".to_owned(), shorten);
    let own = cmds[index].pipeline;
    for cmd in cmds.iter().skip(index + 1).take(LOOK_AHEAD) {
        if cmd.pipeline == own {
            continue;
        }
        if pipes
            .get(&cmd.pipeline)
            .is_some_and(|p| p.checks(cmds, file))
        {
            return None;
        }
        if let Some(f) = file
            && cmd.mentions(f)
        {
            let user = command_start(&cmd.words)
                .map(|k| shorten(basename(&cmd.words[k].text)))
                .unwrap_or_else(|| "a redirection".to_owned());
            return Some(format!(
                "`{shown}`, downloaded by `{tool}`, is used by `{user}` before any checksum check"
            ));
        }
    }
    Some(format!(
        "`{shown}`, downloaded by `{tool}`, is never checked against a checksum, so a changed \
         or tampered file goes unnoticed"
    ))
}

fn has_long_hex(text: &str) -> bool {
    let mut run = 0;
    for c in text.chars() {
        if c.is_ascii_hexdigit() {
            run += 1;
            if run >= 64 {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (line, column, rule id) of each finding in `script`, sorted.
    pub(super) fn found(script: &str) -> Vec<(usize, usize, &'static str)> {
        found_in(script, Context::default())
    }

    /// [`found`] for a build in `ctx`.
    pub(super) fn found_in(script: &str, ctx: Context) -> Vec<(usize, usize, &'static str)> {
        let mut found: Vec<_> = audit_with(script, ctx)
            .hits
            .iter()
            .map(|l| (l.hit.line, l.hit.column, l.hit.rule.id()))
            .collect();
        found.sort();
        found
    }

    const H64: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const C40: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn pip_names_need_exact_versions_and_hashes() {
        assert_eq!(
            found("pip install flask\n\"$out/bin/pip\" install -q 'requests>=2' numpy==1.26.4"),
            [
                (1, 1, "pip-no-hashes"),
                (1, 13, "pip-unpinned"),
                (2, 1, "pip-no-hashes"),
                (2, 27, "pip-unpinned"),
            ]
        );
        assert_eq!(
            found("python3 -m pip install --upgrade pip"),
            [(1, 1, "pip-no-hashes"), (1, 34, "pip-unpinned")]
        );
    }

    #[test]
    fn pinned_pip_forms_are_clean() {
        for script in [
            "pip install --require-hashes -r \"$src/requirements.txt\"",
            "pip install flask==3.0.0 --hash=sha256:abc",
            "\"$out/bin/pip\" install --no-index --find-links ./dist \"todo-app==0.1.0\"",
            "pip wheel --no-index --no-deps --wheel-dir ./dist \"$src/todo-app\"",
            "python3 -m venv \"$out\"",
            "pip install -e . && pip install ./dist/x.whl",
            "pip --version",
        ] {
            assert_eq!(found(script), [], "{script}");
        }
        let refs = audit("pip install -r $src/req.txt -c \"$src/c.txt\"").requirement_files;
        let paths: Vec<_> = refs.iter().map(|r| (r.path.as_str(), r.column)).collect();
        assert_eq!(paths, [("$src/req.txt", 16), ("$src/c.txt", 32)]);
    }

    #[test]
    fn apt_packages_need_a_version() {
        assert_eq!(
            found(
                "apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends jq=1.6-2.1 curl ./x.deb"
            ),
            [(1, 109, "apt-unpinned")]
        );
        assert_eq!(
            found("apt install -y -o Dpkg::Options::=--force-confdef jq=1.6"),
            []
        );
    }

    #[test]
    fn npm_install_is_flagged_and_ci_is_not() {
        assert_eq!(found("cd app && npm install"), [(1, 11, "npm-install")]);
        assert_eq!(
            found("npm --prefix app i left-pad"),
            [(1, 1, "npm-install")]
        );
        assert_eq!(found("npm ci --omit=dev"), []);
    }

    #[test]
    fn git_clone_needs_a_checkout_of_a_full_commit() {
        assert_eq!(
            found("git clone https://x.org/a.git\ngit clone --branch v1 https://x.org/b.git b"),
            [(1, 1, "git-clone-unpinned"), (2, 1, "git-clone-unpinned")]
        );
        for script in [
            format!("git clone https://x.org/a.git && git -C a checkout {C40}"),
            format!("git clone https://x.org/a.git src\ncd src\ngit checkout -q {C40}"),
            format!("git clone --revision={C40} https://x.org/a.git"),
            format!(
                "git clone https://x.org/a.git a\ngit -C a fetch origin {C40}\ngit -C a checkout FETCH_HEAD"
            ),
        ] {
            assert_eq!(found(&script), [], "{script}");
        }
        assert_eq!(
            found("git clone https://x.org/a.git a && git -C a checkout main"),
            [(1, 1, "git-clone-unpinned")]
        );
    }

    #[test]
    fn downloads_must_be_checked_before_use() {
        assert_eq!(
            found("curl -fsSLo x.tgz https://x.org/x.tgz\ntar xf x.tgz"),
            [(1, 1, "download-unchecked")]
        );
        assert_eq!(
            found("curl -fsSL https://x.org/install.sh | sh"),
            [(1, 1, "download-unchecked")]
        );
        assert_eq!(
            found("v=$(curl -s https://x.org/v)"),
            [(1, 5, "download-unchecked")]
        );
        assert_eq!(
            found("wget https://x.org/y.tgz"),
            [(1, 1, "download-unchecked")]
        );
        assert_eq!(
            found(&format!(
                "curl -fLo x.tgz https://x.org/x.tgz\ntar xf x.tgz\necho \"{H64}  x.tgz\" | sha256sum -c -"
            )),
            [(1, 1, "download-unchecked")]
        );
        for script in [
            format!(
                "curl -fLo x.tgz https://x.org/x.tgz\necho \"{H64}  x.tgz\" | sha256sum -c -\ntar xf x.tgz"
            ),
            format!(
                "wget -q https://x.org/y.tgz\nsha256sum -c <<EOF\n{H64}  y.tgz\nEOF\ntar xf y.tgz"
            ),
            "curl -fLO https://x.org/z.tgz && sha256sum -c \"$src/z.tgz.sha256\"".to_owned(),
            format!(
                "curl -fL https://x.org/w > w.bin\n[ \"$(sha256sum w.bin | cut -c1-64)\" = {H64} ]"
            ),
            "curl --version".to_owned(),
            "curl -fsS https://x.org/health".to_owned(),
        ] {
            assert_eq!(found(&script), [], "{script}");
        }
    }

    #[test]
    fn fetch_counts_feed_the_network_rule() {
        let f = audit(&format!(
            "npm ci\npip install x\ngit clone u d && git -C d checkout {C40}\ncurl -o f u"
        ))
        .fetches;
        assert_eq!((f.pinned, f.unpinned), (2, 2));
        // A requirements file is counted by the caller, once it is read...
        let a = audit("pip install -r \"$src/r.txt\"");
        assert_eq!((a.fetches.pinned, a.fetches.unpinned), (0, 0));
        assert!(a.requirement_files[0].from_index);
        // ...unless pip enforces its pins, or nothing is downloaded.
        let a = audit("pip install --require-hashes -r r.txt");
        assert_eq!((a.fetches.pinned, a.fetches.unpinned), (1, 0));
        assert!(!a.requirement_files[0].from_index);
        let a = audit("pip install --no-index -f ./dist -r r.txt");
        assert_eq!((a.fetches.pinned, a.fetches.unpinned), (0, 0));
        assert!(!a.requirement_files[0].from_index);
    }

    #[test]
    fn vcs_installs_at_a_full_commit_are_pinned() {
        for spec in [
            format!("-e git+https://x.org/r.git@{C40}#egg=r"),
            format!("git+ssh://git@x.org/r.git@{C40}"),
            format!("\"r @ git+https://x.org/r.git@{C40}\""),
            format!("git://x.org/r.git@{C40}#egg=r"),
        ] {
            let script = format!("pip install --no-deps {spec}");
            assert_eq!(found(&script), [], "{script}");
        }
        assert_eq!(
            found("pip install --no-deps git://x.org/r.git@main"),
            [(1, 23, "pip-unpinned")]
        );
    }

    #[test]
    fn pinned_names_still_float_their_dependencies() {
        assert_eq!(
            found("pip install flask==3.0.3 gunicorn==23.0.0"),
            [(1, 1, "pip-no-hashes"), (1, 1, "pip-transitive-unpinned")]
        );
        let message = &audit("pip install flask==3.0.3").hits[1].hit.message;
        assert!(message.contains("flask==3.0.3"), "{message}");
        for script in [
            "pip install --no-deps flask==3.0.3",
            "pip install -c \"$src/constraints.txt\" flask==3.0.3",
            "pip install flask==3.0.3 --hash=sha256:00",
            "pip install --no-index -f ./dist flask==3.0.3",
        ] {
            assert!(
                !found(script)
                    .iter()
                    .any(|f| f.2 == "pip-transitive-unpinned"),
                "{script}"
            );
        }
        // An unpinned name is already an error; no second finding for it.
        assert_eq!(
            found("pip install flask"),
            [(1, 1, "pip-no-hashes"), (1, 13, "pip-unpinned")]
        );
    }

    #[test]
    fn the_pip_wheel_bootstrap_is_clean() {
        for script in [
            "python -m pip install --require-hashes -r requirements.txt",
            "python3 pip-24.2-py3-none-any.whl/pip install --no-index pip-24.2-py3-none-any.whl",
            "python3 \"$src/pip.whl/pip\" install --require-hashes -r \"$src/requirements.txt\"",
        ] {
            assert_eq!(found(script), [], "{script}");
        }
        // pip run from its wheel is still pip.
        assert_eq!(
            found("python3 pip.whl/pip install flask"),
            [(1, 1, "pip-no-hashes"), (1, 29, "pip-unpinned")]
        );
    }

    #[test]
    fn bucket_downloads_must_be_checked_before_use() {
        assert_eq!(
            found(
                "gsutil cp gs://b/install.sh /tmp/install.sh && sh /tmp/install.sh\n\
                 aws s3 cp s3://b/tool.sh . && bash tool.sh\n\
                 aws s3api get-object --bucket b --key run.sh run.sh\n\
                 ./run.sh\n\
                 gsutil cat gs://b/x.sh | sh"
            ),
            [
                (1, 1, "download-unchecked"),
                (2, 1, "download-unchecked"),
                (3, 1, "download-unchecked"),
                (5, 1, "download-unchecked"),
            ]
        );
        for script in [
            format!(
                "gsutil cp gs://b/t.tgz t.tgz\necho \"{H64}  t.tgz\" | sha256sum -c -\ntar xf t.tgz"
            ),
            "aws s3 cp ./out s3://b/out --recursive".to_owned(),
            "gsutil cp dist/x.tgz gs://b/".to_owned(),
        ] {
            assert_eq!(found(&script), [], "{script}");
        }
        let m = &audit("aws s3 cp s3://b/tool.sh . && bash tool.sh").hits[0].hit;
        assert!(
            m.message.contains("`tool.sh`") && m.fix.contains("aws s3 cp"),
            "{m:?}"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_text_audits_without_panic(script in "\\PC*") {
            let _ = audit(&script);
        }

        #[test]
        fn command_shaped_text_audits_without_panic(
            script in "(pip |install |-r |-o |-O |-C |curl |wget |git |clone |checkout |npm |apt-get |sha256sum |-c |\\| |&& |> |\n|\"|'|\\$\\(|\\)|x|=|-)*"
        ) {
            let _ = audit(&script);
        }
    }
}

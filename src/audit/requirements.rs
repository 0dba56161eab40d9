//! pip requirements files in the audit: each requirement must be pinned to
//! one version (`==`) and should carry `--hash`. Main entry: `audit`; the
//! requirement-specifier check `classify` is shared with the pip rules of
//! shell builds.
//!
//! Lines are read as pip reads them: `\` joins lines, `#` after whitespace
//! starts a comment, option lines (`--index-url ...`) are skipped, and
//! `-r`/`-c` lines name more files, which the caller audits too. Local paths
//! (`./vendor/x.whl`, `-e .`) are inputs of the repository: not flagged.

use super::{Hit, Rule, shorten};

/// What a requirements file yields.
#[derive(Debug, Default)]
pub(crate) struct RequirementsAudit {
    pub hits: Vec<Hit>,
    /// Files named by `-r`/`-c` lines, relative to this file's directory.
    pub includes: Vec<Include>,
}

/// A `-r FILE` or `-c FILE` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Include {
    pub path: String,
    pub line: usize,
    pub column: usize,
}

/// How pinned one requirement specifier is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spec {
    /// A path in the repository or build directory: pinned by the repository.
    Local,
    /// `name==1.2.3`, `name===x`, a VCS URL at a full commit, a URL with a hash.
    Pinned,
    /// Anything that can resolve to different files on different days.
    Unpinned,
    /// Cannot tell from the text (a shell variable).
    Unknown,
}

fn is_full_commit(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// Classify one requirement specifier (`flask==3.0.0`, `./dist/x.whl`,
/// `git+https://...@<commit>`), as written on a command line or a
/// requirements line without its options.
pub(crate) fn classify(spec: &str) -> Spec {
    let spec = spec.trim();
    // Environment markers do not change the pin.
    let spec = spec.split(';').next().unwrap_or("").trim();
    if spec.is_empty() {
        return Spec::Unknown;
    }
    // `name @ URL` is pinned as its URL is; an `@` after `://` belongs to
    // the URL (`git+https://host/r.git@<commit>`).
    let url = match (spec.find('@'), spec.find("://")) {
        (Some(at), Some(scheme)) if at < scheme => spec[at + 1..].trim(),
        _ => spec,
    };
    if url.contains("://") || url.starts_with("git+") {
        if url.starts_with("file:") {
            return Spec::Local;
        }
        if url.contains("#sha256=") || url.contains("#sha384=") || url.contains("#sha512=") {
            return Spec::Pinned;
        }
        let before_fragment = url.split('#').next().unwrap_or("");
        let rev = before_fragment
            .rsplit_once('@')
            .map(|(_, r)| r)
            .unwrap_or("");
        return if is_vcs(url) && is_full_commit(rev) {
            Spec::Pinned
        } else {
            Spec::Unpinned
        };
    }
    if spec.starts_with('$') {
        return if spec.contains('/') {
            Spec::Local
        } else {
            Spec::Unknown
        };
    }
    if spec.starts_with(['.', '/', '~'])
        || spec.contains('/')
        || [".whl", ".tar.gz", ".zip", ".tar.bz2"]
            .iter()
            .any(|ext| spec.ends_with(ext))
    {
        return Spec::Local;
    }
    if spec.contains("===") {
        return Spec::Pinned;
    }
    // Pinned iff one clause is `==` with a whole version (no wildcard).
    let exact = spec.split(',').any(|clause| {
        let clause = clause.trim();
        let clause = match clause.find("==") {
            Some(k) => &clause[k + 2..],
            None => return false,
        };
        let version = clause.trim();
        !version.is_empty() && !version.ends_with(".*") && !version.starts_with('=')
    });
    if exact { Spec::Pinned } else { Spec::Unpinned }
}

/// Whether `spec` installs from a version-control URL (`git+https://...`,
/// `git://...`, `hg+...`, `name @ git+...`): pinned by a full commit id,
/// never by a hash.
pub(crate) fn is_vcs(spec: &str) -> bool {
    let url = match spec.split_once('@') {
        Some((name, url)) if !name.contains("://") => url.trim(),
        _ => spec.trim(),
    };
    ["git+", "hg+", "svn+", "bzr+", "git://"]
        .iter()
        .any(|p| url.starts_with(p))
}

/// The distribution name of a specifier, for messages: `flask` of `flask>=3`.
pub(crate) fn name_of(spec: &str) -> &str {
    let end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(spec.len());
    if end == 0 { spec } else { &spec[..end] }
}

/// Audit the text of one requirements file.
pub(crate) fn audit(text: &str) -> RequirementsAudit {
    let mut out = RequirementsAudit::default();
    for logical in logical_lines(text) {
        let body = strip_comment(&logical.text);
        let trimmed = body.trim_start();
        if trimmed.is_empty() {
            continue;
        }
        let column = logical.column + (body.chars().count() - trimmed.chars().count());
        let words: Vec<&str> = trimmed.split_whitespace().collect();
        let first = words.first().copied().unwrap_or("");
        if first.starts_with('-') {
            option_line(&words, logical.line, column, &mut out);
            continue;
        }
        let hashed = words.iter().any(|w| w.starts_with("--hash"));
        // The specifier is everything before the first per-line option.
        let spec_words: Vec<&str> = words
            .iter()
            .copied()
            .take_while(|w| !w.starts_with("--"))
            .collect();
        let spec = spec_words.join(" ");
        requirement(&spec, hashed, logical.line, column, &mut out.hits);
    }
    out
}

fn option_line(words: &[&str], line: usize, column: usize, out: &mut RequirementsAudit) {
    let first = words[0];
    // `-r file`, `-rfile`, `--requirement=file`, and the same for `-c`.
    let short_split = first.char_indices().nth(2).map(|(k, _)| k);
    let (opt, inline) = match (first.split_once('='), short_split) {
        (Some((o, v)), _) if o.starts_with("--") => (o, Some(v)),
        (_, Some(k)) if !first.starts_with("--") => (&first[..k], Some(&first[k..])),
        _ => (first, None),
    };
    let value = inline.or_else(|| words.get(1).copied());
    match opt {
        "-r" | "--requirement" | "-c" | "--constraint" => {
            if let Some(path) = value {
                out.includes.push(Include {
                    path: path.to_owned(),
                    line,
                    column,
                });
            }
        }
        "-e" | "--editable" => {
            if let Some(spec) = value {
                requirement(spec, true, line, column, &mut out.hits);
            }
        }
        _ => {}
    }
}

fn requirement(spec: &str, hashed: bool, line: usize, column: usize, hits: &mut Vec<Hit>) {
    let kind = classify(spec);
    if matches!(kind, Spec::Local | Spec::Unknown) {
        return;
    }
    let (name, spec) = (shorten(name_of(spec)), shorten(spec));
    if kind == Spec::Unpinned {
        hits.push(Hit::new(
            line,
            column,
            Rule::RequirementsUnpinned,
            format!(
                "`{spec}` is not pinned to one version: pip installs whatever the index \
                 serves on the day of the build"
            ),
            format!(
                "pin it exactly, e.g. `{name}==<version>` (`pip-compile` or `pip freeze` \
                 writes such lines)"
            ),
        ));
    }
    // A VCS requirement at a full commit is pinned by it; pip takes no
    // hash for a checkout.
    if !hashed && !is_vcs(&spec) {
        hits.push(Hit::new(
            line,
            column,
            Rule::RequirementsNoHashes,
            format!("`{spec}` has no `--hash`, so pip cannot check the file it downloads"),
            "add `--hash=sha256:<digest>` (`pip-compile --generate-hashes` writes them); \
             with a hash on every line pip checks them all",
        ));
    }
}

/// The finding for an `-r`/`-c` line whose file is not there.
pub(crate) fn missing_include(include: &Include) -> Hit {
    Hit::new(
        include.line,
        include.column,
        Rule::PipRequirementsUnaudited,
        format!(
            "`{}` is not found beside this file, so the audit cannot check its pins",
            shorten(&include.path)
        ),
        "ship the file beside this one, or fix the path",
    )
}

/// One logical line: physical lines joined at a trailing `\`, with the
/// position of its first character.
struct Logical {
    text: String,
    line: usize,
    column: usize,
}

fn logical_lines(text: &str) -> Vec<Logical> {
    let mut out = Vec::new();
    let mut current: Option<Logical> = None;
    for (k, raw) in text.lines().enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let (part, continued) = match raw.strip_suffix('\\') {
            Some(p) => (p, true),
            None => (raw, false),
        };
        match current.as_mut() {
            Some(l) => {
                l.text.push(' ');
                l.text.push_str(part);
            }
            None => {
                current = Some(Logical {
                    text: part.to_owned(),
                    line: k + 1,
                    column: 1,
                })
            }
        }
        if !continued {
            out.extend(current.take());
        }
    }
    out.extend(current);
    out
}

/// pip's comment rule: `#` at the start or after whitespace.
fn strip_comment(line: &str) -> &str {
    let mut prev_space = true;
    for (k, c) in line.char_indices() {
        if c == '#' && prev_space {
            return &line[..k];
        }
        prev_space = c.is_whitespace();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(usize, usize, &'static str)> {
        audit(text)
            .hits
            .iter()
            .map(|h| (h.line, h.column, h.rule.id()))
            .collect()
    }

    #[test]
    fn specifiers() {
        for pinned in [
            "flask==3.0.0",
            "Flask[async] == 3.0.0",
            "flask===3.0.0",
            "flask>=3,==3.0.1",
            "flask==3.0.0; python_version >= '3.8'",
            "git+https://x.org/r.git@0123456789abcdef0123456789abcdef01234567#egg=r",
            "r @ https://x.org/r-1.0.tar.gz#sha256=00",
        ] {
            assert_eq!(classify(pinned), Spec::Pinned, "{pinned}");
        }
        for unpinned in [
            "flask",
            "flask>=3",
            "flask~=3.0",
            "flask==3.*",
            "flask!=3.0",
            "git+https://x.org/r.git@main",
            "https://x.org/r-1.0.tar.gz",
        ] {
            assert_eq!(classify(unpinned), Spec::Unpinned, "{unpinned}");
        }
        for local in [
            ".",
            "./dist/x.whl",
            "/abs/x",
            "$src/todo-app",
            "x-1.0-py3-none-any.whl",
            "file:///x",
        ] {
            assert_eq!(classify(local), Spec::Local, "{local}");
        }
        assert_eq!(classify("$PKG"), Spec::Unknown);
    }

    #[test]
    fn vcs_lines_at_a_full_commit_need_no_hash() {
        let c = "0123456789abcdef0123456789abcdef01234567";
        let text = format!(
            "git+https://x.org/a.git@{c}#egg=a\ngit://x.org/b.git@{c}#egg=b\n\
             c @ git+https://x.org/c.git@{c}\ngit://x.org/d.git@v1.0#egg=d\n"
        );
        let hits: Vec<_> = audit(&text)
            .hits
            .iter()
            .map(|h| (h.line, h.rule.id()))
            .collect();
        assert_eq!(hits, [(4, "requirements-unpinned")]);
        assert!(is_vcs("git://x.org/d.git") && is_vcs("c @ hg+https://x.org/c"));
        assert!(!is_vcs("https://x.org/r-1.0.tar.gz") && !is_vcs("flask==3.0.0"));
    }

    #[test]
    fn lines_comments_continuations_and_options() {
        let text = "# pinned and hashed\n\
                    --index-url https://pypi.org/simple\n\
                    flask==3.0.0 \\\n    --hash=sha256:aa\n\
                    \n\
                    requests  # comment\n\
                    \x20 numpy==1.26.4\n\
                    -e ./local\n\
                    -r base.txt\n\
                    ./vendor/x.whl\n";
        assert_eq!(
            found(text),
            [
                (6, 1, "requirements-unpinned"),
                (6, 1, "requirements-no-hashes"),
                (7, 3, "requirements-no-hashes"),
            ]
        );
        assert_eq!(
            audit(text).includes,
            [Include {
                path: "base.txt".into(),
                line: 9,
                column: 1
            }]
        );
    }

    #[test]
    fn a_fully_pinned_hashed_file_is_clean() {
        assert_eq!(
            found(
                "flask==3.0.0 --hash=sha256:aa --hash=sha256:bb\nclick==8.1.7 \\\n  --hash=sha256:cc\n"
            ),
            []
        );
    }

    proptest::proptest! {
        #[test]
        fn any_text_audits_without_panic(text in "\\PC*") {
            let _ = audit(&text);
        }

        #[test]
        fn requirement_shaped_text_audits_without_panic(
            text in "([a-z=<>~!@#;:/.\\\\ \n-]|--hash=|-r|-e|==|git\\+|://){0,60}"
        ) {
            let _ = audit(&text);
        }
    }
}

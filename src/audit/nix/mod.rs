//! Nix rules of the audit: lookup paths, fetchers without a hash or `rev`,
//! impure builtins. Main entry: `audit`, over the tokens of `lex`.
//!
//! Not flagged, on purpose:
//! - `builtins.currentSystem`: the platform is a parameter of the build, not
//!   an input that drifts; Nix's reproducibility is per platform, and
//!   nixpkgs itself defaults `system` to it.
//! - `<nix/...>`: Nix's own built-in files (`<nix/fetchurl.nix>`), shipped
//!   with Nix itself.
//! - fetchers whose argument is not written out (`fetchTarball src`): the
//!   audit reads text, it does not evaluate; it flags only what it can see.

mod lex;

use super::{Fetches, Hit, Rule, shorten};
use lex::{Kind, Token};

/// What one Nix file yields.
#[derive(Debug, Default)]
pub(crate) struct NixAudit {
    pub hits: Vec<Hit>,
    /// Fetch calls seen, pinned or not.
    pub fetches: Fetches,
}

/// Fetchers that must carry a content hash.
const HASHED_FETCHERS: &[&str] = &[
    "fetchTarball",
    "fetchurl",
    "fetchzip",
    "fetchgit",
    "fetchFromGitHub",
    "fetchFromGitLab",
    "fetchpatch",
    "fetchTree",
    "fetchPypi",
];

/// Attributes that pin a fetch by content.
const HASH_ATTRS: &[&str] = &["sha256", "sha512", "sha1", "hash", "outputHash", "narHash"];

/// Builtins the rules care about, by their name without `builtins.`.
const WATCHED_BUILTINS: &[&str] = &["currentTime", "getEnv", "storePath", "nixPath", "findFile"];

/// Longest dotted name walked back to find where a finding points
/// (`a.b.c.fetchurl`); bounds the work per token on hostile input.
const MAX_DOTS: usize = 16;

/// The relative path literals of an expression (`./x`, `../mini-nixpkgs`):
/// what it may `import` from beside itself.
pub(crate) fn relative_paths(src: &str) -> Vec<String> {
    lex::lex(src)
        .into_iter()
        .filter(|t| t.kind == Kind::Path && (t.text.starts_with("./") || t.text.starts_with("../")))
        .map(|t| t.text)
        .collect()
}

/// Audit one Nix expression's text.
pub(crate) fn audit(src: &str) -> NixAudit {
    let toks = lex::lex(src);
    // Both computed in one pass each, so that every rule below looks at a
    // bounded number of tokens: no input makes the audit quadratic.
    let matching = match_brackets(&toks);
    let inherited = inherited_from_builtins(&toks);
    let mut out = NixAudit::default();
    for (i, t) in toks.iter().enumerate() {
        match t.kind {
            Kind::Lookup => lookup(t, &mut out),
            Kind::Ident => {
                let qualified = i >= 2
                    && toks[i - 1].text == "."
                    && toks[i - 2].kind == Kind::Ident
                    && toks[i - 2].text == "builtins";
                // `__getEnv` is the global alias of `builtins.getEnv`.
                let (name, aliased) = match t.text.strip_prefix("__") {
                    Some(bare) if !qualified => (bare, true),
                    _ => (t.text.as_str(), false),
                };
                if WATCHED_BUILTINS.contains(&name) && (qualified || aliased || inherited[i]) {
                    builtin(name, &toks[start_of_name(&toks, i)], &mut out);
                }
                if t.text == "fetchGit" || HASHED_FETCHERS.contains(&t.text.as_str()) {
                    fetcher(&toks, &matching, i, &mut out);
                }
            }
            _ => {}
        }
    }
    out
}

fn lookup(t: &Token, out: &mut NixAudit) {
    let name = t.text.trim_start_matches('<').trim_end_matches('>');
    if name == "nix" || name.starts_with("nix/") {
        return;
    }
    let shown = shorten(&t.text);
    out.hits.push(Hit::new(
        t.line,
        t.column,
        Rule::NixLookupPath,
        format!(
            "`{shown}` is looked up in NIX_PATH when the expression is evaluated, so it is \
             whatever channel or checkout that machine has: the environment is not pinned"
        ),
        format!(
            "pin it: `import (builtins.fetchTarball {{ url = \"https://github.com/NixOS/nixpkgs/archive/<commit>.tar.gz\"; \
             sha256 = \"<hash>\"; }}) {{}}` (nix-prefetch-url --unpack prints the hash), \
             or import a path in the repository instead of `{shown}`"
        ),
    ));
}

/// Flag an impure builtin named `name`, reached at token `at`.
fn builtin(name: &str, at: &Token, out: &mut NixAudit) {
    let (rule, message, fix) = match name {
        "currentTime" => (
            Rule::NixImpureBuiltin,
            "`builtins.currentTime` makes the result depend on when it is evaluated",
            "remove it; use a fixed value (e.g. the SOURCE_DATE_EPOCH of the sources)",
        ),
        "getEnv" => (
            Rule::NixImpureBuiltin,
            "`builtins.getEnv` makes the result depend on the environment of whoever evaluates it",
            "pass the value in as a function argument or attribute, with a default written in the file",
        ),
        "storePath" => (
            Rule::NixImpureBuiltin,
            "`builtins.storePath` needs a store path that already exists on the machine, \
             built or fetched by something this file does not pin",
            "build it from an expression here, or fetch it with a hash",
        ),
        "nixPath" | "findFile" => (
            Rule::NixLookupPath,
            "NIX_PATH is read here (`builtins.nixPath`/`findFile`), so the result is whatever \
             that machine's NIX_PATH points at",
            "import a pinned fetch (`builtins.fetchTarball { url; sha256; }`) or a path in the repository",
        ),
        _ => return,
    };
    out.hits
        .push(Hit::new(at.line, at.column, rule, message, fix));
}

/// For each token, whether it is a name in `inherit (builtins) a b c;`.
fn inherited_from_builtins(toks: &[Token]) -> Vec<bool> {
    let mut out = vec![false; toks.len()];
    let mut active = false;
    for (j, t) in toks.iter().enumerate() {
        if active && t.kind == Kind::Ident {
            out[j] = true;
            continue;
        }
        active = j >= 3
            && t.text == ")"
            && toks[j - 1].text == "builtins"
            && toks[j - 2].text == "("
            && toks[j - 3].text == "inherit";
    }
    out
}

fn is_opener(t: &Token) -> bool {
    matches!(t.kind, Kind::StrOpen | Kind::Interp)
        || (t.kind == Kind::Punct && matches!(t.text.as_str(), "{" | "(" | "["))
}

fn is_closer(t: &Token) -> bool {
    t.kind == Kind::StrClose
        || (t.kind == Kind::Punct && matches!(t.text.as_str(), "}" | ")" | "]"))
}

/// For each opening token (`{ ( [ ${` or a string's start), the index of
/// the token that closes it, if any.
fn match_brackets(toks: &[Token]) -> Vec<Option<usize>> {
    let mut out = vec![None; toks.len()];
    let mut stack = Vec::new();
    for (j, t) in toks.iter().enumerate() {
        if is_opener(t) {
            stack.push(j);
        } else if is_closer(t)
            && let Some(open) = stack.pop()
        {
            out[open] = Some(j);
        }
    }
    out
}

/// The first token of the dotted name ending at `i` (`builtins` of
/// `builtins.fetchTarball`), where a finding should point.
fn start_of_name(toks: &[Token], i: usize) -> usize {
    let mut j = i;
    while j >= 2
        && i - j < 2 * MAX_DOTS
        && toks[j - 1].text == "."
        && toks[j - 2].kind == Kind::Ident
    {
        j -= 2;
    }
    j
}

/// The argument of a fetcher call, as far as it is written out.
enum Arg {
    /// `{ ... }`: the attribute names given at its top level.
    Attrs(Vec<String>),
    /// A string or bare URL: a URL with nothing to pin it.
    Url,
    /// Anything else (a variable, a function call, or not a call at all).
    Unknown,
}

fn argument(toks: &[Token], matching: &[Option<usize>], i: usize) -> Arg {
    let mut j = i + 1;
    if toks.get(j).is_some_and(|t| t.text == "(") {
        j += 1;
    }
    if toks
        .get(j)
        .is_some_and(|t| t.kind == Kind::Ident && t.text == "rec")
    {
        j += 1;
    }
    match toks.get(j) {
        Some(t) if t.kind == Kind::Punct && t.text == "{" => match attr_names(toks, matching, j) {
            Some(names) => Arg::Attrs(names),
            None => Arg::Unknown,
        },
        Some(t) if j == i + 1 && matches!(t.kind, Kind::StrOpen | Kind::Uri) => Arg::Url,
        Some(t) if j == i + 2 && matches!(t.kind, Kind::StrOpen | Kind::Uri) => Arg::Url,
        _ => Arg::Unknown,
    }
}

/// Top-level attribute names of the attribute set opening at token `open`,
/// including `inherit`ed ones; `None` if it is never closed. Nested
/// brackets are jumped over, so each token is looked at by one set only.
fn attr_names(toks: &[Token], matching: &[Option<usize>], open: usize) -> Option<Vec<String>> {
    let close = matching[open]?;
    let mut names = Vec::new();
    let mut expect_key = true;
    let mut inheriting = false;
    let mut j = open + 1;
    while j < close {
        let t = &toks[j];
        if is_opener(t) {
            // A value, or the `(src)` of `inherit (src) hash;`.
            j = matching[j]? + 1;
            expect_key = false;
            continue;
        }
        if t.text == ";" {
            expect_key = true;
            inheriting = false;
        } else if inheriting {
            if t.kind == Kind::Ident {
                names.push(t.text.clone());
            }
        } else {
            if expect_key && t.kind == Kind::Ident {
                if t.text == "inherit" {
                    inheriting = true;
                } else if toks
                    .get(j + 1)
                    .is_some_and(|n| n.text == "=" || n.text == ".")
                {
                    names.push(t.text.clone());
                }
            }
            expect_key = false;
        }
        j += 1;
    }
    Some(names)
}

fn fetcher(toks: &[Token], matching: &[Option<usize>], i: usize, out: &mut NixAudit) {
    let name = toks[i].text.as_str();
    let start = start_of_name(toks, i);
    let at = &toks[start];
    let shown: String = toks[start..=i].iter().map(|t| t.text.as_str()).collect();
    let (pinned, rule) = match (name, argument(toks, matching, i)) {
        (_, Arg::Unknown) => return,
        ("fetchGit", Arg::Attrs(names)) => {
            (names.iter().any(|n| n == "rev"), Rule::NixFetchgitNoRev)
        }
        ("fetchGit", Arg::Url) => (false, Rule::NixFetchgitNoRev),
        ("fetchTree", Arg::Attrs(names)) => (
            names
                .iter()
                .any(|n| n == "rev" || HASH_ATTRS.contains(&n.as_str())),
            Rule::NixFetchUnpinned,
        ),
        (_, Arg::Attrs(names)) => (
            names.iter().any(|n| HASH_ATTRS.contains(&n.as_str())),
            Rule::NixFetchUnpinned,
        ),
        (_, Arg::Url) => (false, Rule::NixFetchUnpinned),
    };
    out.fetches.add(pinned);
    if pinned {
        return;
    }
    let (message, fix) = if rule == Rule::NixFetchgitNoRev {
        (
            format!(
                "`{shown}` without `rev` takes whatever the branch points to when the \
                 expression is evaluated"
            ),
            "add `rev = \"<full 40-hex commit id>\";` (a `ref` or tag can move)".to_owned(),
        )
    } else if name == "fetchTree" {
        (
            format!("`{shown}` without `narHash` or `rev` fetches whatever the source has today"),
            "add `narHash = \"sha256-...\";` (or `rev` for git sources)".to_owned(),
        )
    } else {
        (
            format!(
                "`{shown}` without a hash downloads whatever the URL serves when it is fetched, \
                 and nothing checks it"
            ),
            "give the URL and its hash: `{ url = \"...\"; sha256 = \"...\"; }` \
             (`nix-prefetch-url` prints it; `hash = \"sha256-...\"` works too)"
                .to_owned(),
        )
    };
    out.hits
        .push(Hit::new(at.line, at.column, rule, message, fix));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(src: &str) -> Vec<(usize, usize, &'static str)> {
        audit(src)
            .hits
            .iter()
            .map(|h| (h.line, h.column, h.rule.id()))
            .collect()
    }

    #[test]
    fn the_articles_default_nix_is_flagged_at_its_lookup_path() {
        let src = "with import <nixpkgs> {};\nstdenv.mkDerivation { buildInputs = [ hello ]; }\n";
        assert_eq!(found(src), [(1, 13, "nix-lookup-path")]);
    }

    #[test]
    fn nix_builtin_files_and_comparisons_are_not_lookups() {
        assert_eq!(
            found("import <nix/fetchurl.nix> { } // { a = 1 < 2; b = x <y; }"),
            []
        );
    }

    #[test]
    fn fetchers_need_a_hash_or_rev() {
        let src = r#"
          a = builtins.fetchTarball "https://x.org/a.tar.gz";
          b = builtins.fetchTarball { url = "https://x.org/b.tar.gz"; sha256 = "0000"; };
          c = pkgs.fetchurl { url = https://x.org/c; };
          d = fetchzip rec { url = "u"; inherit hash; };
          e = builtins.fetchGit { url = "https://x.org/e.git"; ref = "main"; };
          f = builtins.fetchGit { url = "https://x.org/f.git"; rev = "0123456789012345678901234567890123456789"; };
          g = fetchTarball (import ./pin.nix);
          h = { fetchurl, lib }: fetchurl;
          i = builtins.fetchTree { type = "github"; owner = "o"; repo = "r"; };
          j = fetchurl { url = "u"; meta.sha256 = "no"; passthru = { sha256 = 1; }; };
        "#;
        assert_eq!(
            found(src),
            [
                (2, 15, "nix-fetch-unpinned"),
                (4, 15, "nix-fetch-unpinned"),
                (6, 15, "nix-fetchgit-no-rev"),
                (10, 15, "nix-fetch-unpinned"),
                (11, 15, "nix-fetch-unpinned"),
            ]
        );
        let fetches = audit(src).fetches;
        assert_eq!((fetches.pinned, fetches.unpinned), (3, 5));
    }

    #[test]
    fn impure_builtins_in_any_spelling() {
        let src = "{\n a = builtins.currentTime;\n b = __getEnv \"HOME\";\n inherit (builtins) getEnv storePath;\n c = builtins.currentSystem;\n d = builtins.nixPath;\n}";
        assert_eq!(
            found(src),
            [
                (2, 6, "nix-impure-builtin"),
                (3, 6, "nix-impure-builtin"),
                (4, 21, "nix-impure-builtin"),
                (4, 28, "nix-impure-builtin"),
                (6, 6, "nix-lookup-path"),
            ]
        );
    }

    #[test]
    fn nothing_inside_comments_or_strings() {
        let src = "# import <nixpkgs>\n/* builtins.fetchTarball \"u\" */\n\"builtins.getEnv <x>\"";
        assert_eq!(found(src), []);
    }

    proptest::proptest! {
        #[test]
        fn any_text_audits_without_panic(src in "\\PC*") {
            let _ = audit(&src);
        }

        #[test]
        fn nix_shaped_text_audits_without_panic(
            src in "(builtins|fetchTarball|fetchGit|inherit|rec|[{}();=.\"<>]|''|\\$\\{| |\n|[a-z]){0,60}"
        ) {
            let _ = audit(&src);
        }
    }
}

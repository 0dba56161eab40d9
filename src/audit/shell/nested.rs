//! Scripts inside a script: the string of `sh -c '...'`, `bash -c "..."`,
//! `su -c "..." user` and `eval ...` is itself a script, audited like the
//! build script. Main type: `Inner`, which also maps the inner findings'
//! positions back to where the string is written.

use super::scan::Word;
use super::{ShellAudit, basename};

/// Shells whose `-c` string is a script.
const SHELLS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "yash", "busybox",
];

/// An inner script and how to place its positions in the outer one.
pub(super) struct Inner {
    /// The script, quotes of the outer word removed.
    pub text: String,
    at: Placement,
}

/// Where an inner position lands in the outer script.
enum Placement {
    /// The string is written as is (unquoted, or inside quotes with nothing
    /// escaped): inner line 1 column 1 is at (`line`, `column`).
    Exact { line: usize, column: usize },
    /// Escapes or joined words change the text: point at this word.
    Word(Word),
}

/// The inner script run by the command `words` (name first), if any.
pub(super) fn script(words: &[Word]) -> Option<Inner> {
    let name = basename(&words[0].text);
    let rest = if name == "busybox" {
        let shell = words.get(1)?;
        if !SHELLS.contains(&basename(&shell.text)) {
            return None;
        }
        &words[2..]
    } else {
        &words[1..]
    };
    match name {
        "eval" => eval(rest),
        "su" | "runuser" => su(rest).map(whole),
        _ if SHELLS.contains(&name) => shell(rest).map(whole),
        _ => None,
    }
}

/// `sh [options] -c STRING [name [args]]`: with `-c` among the options, the
/// first operand is the script.
fn shell(args: &[Word]) -> Option<&Word> {
    let mut k = 0;
    let mut c = false;
    while let Some(w) = args.get(k) {
        let t = w.text.as_str();
        if t == "--" {
            k += 1;
            break;
        }
        if t.starts_with("--") {
            k += 1;
            continue;
        }
        if !(t.starts_with('-') || t.starts_with('+')) || t.len() < 2 {
            break;
        }
        c |= t.starts_with('-') && t.contains('c');
        // `-o pipefail`, `-O extglob` take the next word.
        k += if t.ends_with('o') || t.ends_with('O') {
            2
        } else {
            1
        };
    }
    if c { args.get(k) } else { None }
}

/// `su [options] [-] [user] -c STRING`, `--command STRING`, `--command=STRING`.
fn su(args: &[Word]) -> Option<&Word> {
    for (k, w) in args.iter().enumerate() {
        let t = w.text.as_str();
        if t == "--command" || (t.starts_with('-') && !t.starts_with("--") && t.ends_with('c')) {
            return args.get(k + 1);
        }
    }
    None
}

/// `eval WORD...`: the words joined by spaces are the script.
fn eval(args: &[Word]) -> Option<Inner> {
    match args {
        [] => None,
        [one] => Some(whole(one)),
        [first, ..] => Some(Inner {
            text: args
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            at: Placement::Word(first.clone()),
        }),
    }
}

/// The script held by one word.
fn whole(w: &Word) -> Inner {
    let quoted = w.raw.len() >= 2
        && [b'\'', b'"']
            .iter()
            .any(|q| w.raw.as_bytes()[0] == *q && w.raw.as_bytes()[w.raw.len() - 1] == *q)
        && w.raw[1..w.raw.len() - 1] == w.text;
    let at = if w.raw == w.text {
        Placement::Exact {
            line: w.line,
            column: w.column,
        }
    } else if quoted {
        Placement::Exact {
            line: w.line,
            column: w.column + 1,
        }
    } else {
        Placement::Word(w.clone())
    };
    Inner {
        text: w.text.clone(),
        at,
    }
}

impl Inner {
    /// The outer position and snippet of inner (`line`, `column`, `snippet`).
    fn place(&self, line: usize, column: usize, snippet: &str) -> (usize, usize, String) {
        match &self.at {
            Placement::Exact { line: l, column: c } => {
                let column = if line == 1 { c + column - 1 } else { column };
                (l + line - 1, column, snippet.to_owned())
            }
            Placement::Word(w) => (w.line, w.column, w.raw.clone()),
        }
    }

    /// Add what the inner script yielded to `out`, placed in the outer script.
    pub(super) fn merge(&self, sub: ShellAudit, out: &mut ShellAudit) {
        for mut l in sub.hits {
            let (line, column, snippet) = self.place(l.hit.line, l.hit.column, &l.snippet);
            l.hit.line = line;
            l.hit.column = column;
            l.snippet = snippet;
            out.hits.push(l);
        }
        for mut r in sub.requirement_files {
            let (line, column, snippet) = self.place(r.line, r.column, &r.snippet);
            r.line = line;
            r.column = column;
            r.snippet = snippet;
            out.requirement_files.push(r);
        }
        out.fetches.merge(sub.fetches);
    }
}

#[cfg(test)]
mod tests {
    use super::super::audit;

    fn found(script: &str) -> Vec<(usize, usize, &'static str, String)> {
        let mut found: Vec<_> = audit(script)
            .hits
            .iter()
            .map(|l| (l.hit.line, l.hit.column, l.hit.rule.id(), l.snippet.clone()))
            .collect();
        found.sort();
        found
    }

    fn at(
        line: usize,
        column: usize,
        rule: &'static str,
        snippet: &str,
    ) -> (usize, usize, &'static str, String) {
        (line, column, rule, snippet.to_owned())
    }

    #[test]
    fn shell_c_strings_are_scripts() {
        assert_eq!(
            found("sh -c \"curl -fsSL https://x.org/i.sh | sh\""),
            [at(1, 8, "download-unchecked", "curl")]
        );
        assert_eq!(
            found("bash -euo pipefail -c 'apt-get install -y jq'"),
            [at(1, 43, "apt-unpinned", "jq")]
        );
        assert_eq!(
            found("su -c \"pip install flask\" builder\nrunuser -u b -- sh -lc 'npm i'"),
            [
                at(1, 8, "pip-no-hashes", "pip"),
                at(1, 20, "pip-unpinned", "flask"),
                at(2, 25, "npm-install", "npm"),
            ]
        );
        assert_eq!(
            found("busybox sh -c 'wget -O- https://x.org/s | sh'"),
            [at(1, 16, "download-unchecked", "wget")]
        );
    }

    #[test]
    fn multi_line_and_escaped_strings_are_placed() {
        // Line 2 of the inner script is line 2 of the outer one.
        assert_eq!(
            found("sh -c '\n  gem install rake\n'"),
            [at(2, 15, "gem-unpinned", "rake")]
        );
        // Escapes change the text: the finding points at the whole string.
        assert_eq!(
            found("sh -c \"curl -fsSL \\\"https://x.org/i.sh\\\" | sh\""),
            [at(
                1,
                7,
                "download-unchecked",
                "\"curl -fsSL \\\"https://x.org/i.sh\\\" | sh\""
            )]
        );
    }

    #[test]
    fn eval_and_nested_levels_are_audited() {
        assert_eq!(
            found("eval 'apk add curl'"),
            [at(1, 15, "apk-unpinned", "curl")]
        );
        assert_eq!(
            found("eval apk add curl"),
            [at(1, 6, "apk-unpinned", "apk")]
        );
        assert_eq!(
            found("bash -c \"sh -c 'go install x.org/t@latest'\""),
            [at(1, 28, "go-unpinned", "x.org/t@latest")]
        );
    }

    #[test]
    fn other_uses_of_c_are_not_scripts() {
        for script in [
            "sh ./configure -c",
            "sh -e build.sh",
            "gcc -c x.c",
            "bash -c",
            "su builder",
            "sh -c 'echo \"$1\"' _ 'curl x | sh'",
        ] {
            assert_eq!(found(script), [], "{script}");
        }
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut script = "npm i".to_owned();
        for _ in 0..12 {
            script = format!("sh -c {}", shell_quote(&script));
        }
        // Past MAX_INNER levels the innermost command is not reached.
        assert_eq!(found(&script), []);
    }

    fn shell_quote(s: &str) -> String {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

//! Shell build scripts, first step: a forgiving scanner that splits a POSIX
//! shell script into simple commands whose words carry their positions.
//! Main type: `Cmd`.
//!
//! It is not a shell parser. It knows what the pinning rules need to see
//! each command's words where they are written: quoting, comments, line
//! continuations, separators, pipelines, redirections, here-documents and
//! command substitutions (scanned as commands of their own). Anything else
//! becomes plain words. It never fails; nesting deeper than `MAX_NESTING`
//! is kept as text, so no input can exhaust the stack.

/// Deepest `$(...)`, backtick or `( ... )` nesting scanned as commands.
const MAX_NESTING: usize = 64;

/// One word of a command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Word {
    /// The word with quotes and escapes removed; expansions (`$x`,
    /// `$(...)`) are kept as written.
    pub text: String,
    /// The word as written in the script.
    pub raw: String,
    /// 1-based line in the script.
    pub line: usize,
    /// 1-based column (characters) in the script.
    pub column: usize,
}

/// One simple command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Cmd {
    /// Its words, reserved words in front (`if`, `then`, `!`, ...) removed.
    pub words: Vec<Word>,
    /// Redirections: operator (`>`, `2>>`, `<<`) and target.
    pub redirects: Vec<(String, Word)>,
    /// Text of its here-documents.
    pub heredoc: String,
    /// Commands joined by `|` share a pipeline number.
    pub pipeline: usize,
    /// Its standard output feeds the next command of the pipeline.
    pub piped_out: bool,
    /// It runs inside `$(...)` or backticks: its output is captured.
    pub captured: bool,
    /// Character offset where it starts, for ordering.
    pub start: usize,
}

impl Cmd {
    /// Everything the command mentions: words, redirection targets and
    /// here-document text, for "does it use this file" questions.
    pub(crate) fn mentions(&self, needle: &str) -> bool {
        !needle.is_empty()
            && (self.words.iter().any(|w| w.text.contains(needle))
                || self.redirects.iter().any(|(_, w)| w.text.contains(needle))
                || self.heredoc.contains(needle))
    }
}

/// Split `script` into its simple commands, in the order they are written.
pub(crate) fn scan(script: &str) -> Vec<Cmd> {
    let chars: Vec<char> = script.chars().collect();
    let mut pos = Vec::with_capacity(chars.len() + 1);
    let (mut line, mut column) = (1, 1);
    for c in &chars {
        pos.push((line, column));
        if *c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    pos.push((line, column));
    let mut s = Scanner {
        chars,
        pos,
        i: 0,
        cmds: Vec::new(),
        pipelines: 0,
        heredocs: Vec::new(),
    };
    s.list(None, false, 0);
    let mut cmds = s.cmds;
    cmds.sort_by_key(|c| c.start);
    cmds
}

struct Scanner {
    chars: Vec<char>,
    pos: Vec<(usize, usize)>,
    i: usize,
    cmds: Vec<Cmd>,
    pipelines: usize,
    /// Here-documents whose body starts after the next newline:
    /// (command index, delimiter, strip leading tabs).
    heredocs: Vec<(usize, String, bool)>,
}

/// What ended a command.
#[derive(PartialEq, Eq)]
enum Sep {
    Pipe,
    Other,
}

/// A command being collected.
struct Building {
    cmd: Cmd,
    heredocs: Vec<(String, bool)>,
}

const RESERVED: &[&str] = &[
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "esac",
    "time",
];

impl Scanner {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.i + ahead).copied()
    }

    fn new_cmd(&mut self, captured: bool, pipeline: Option<usize>) -> Building {
        let pipeline = pipeline.unwrap_or_else(|| {
            self.pipelines += 1;
            self.pipelines
        });
        Building {
            cmd: Cmd {
                pipeline,
                captured,
                start: self.i,
                ..Cmd::default()
            },
            heredocs: Vec::new(),
        }
    }

    /// End the command being built and start the next one.
    fn finish(&mut self, b: &mut Building, sep: Sep, captured: bool) {
        let pipeline = (sep == Sep::Pipe).then_some(b.cmd.pipeline);
        let next = self.new_cmd(captured, pipeline);
        let mut done = std::mem::replace(b, next);
        if done.cmd.words.is_empty() && done.cmd.redirects.is_empty() {
            return;
        }
        done.cmd.piped_out = sep == Sep::Pipe;
        let index = self.cmds.len();
        self.cmds.push(done.cmd);
        for (delim, strip) in done.heredocs {
            self.heredocs.push((index, delim, strip));
        }
    }

    /// Read the bodies of pending here-documents, just after a newline.
    fn read_heredocs(&mut self) {
        for (index, delim, strip) in std::mem::take(&mut self.heredocs) {
            while self.i < self.chars.len() {
                let end = self.chars[self.i..]
                    .iter()
                    .position(|c| *c == '\n')
                    .map_or(self.chars.len(), |k| self.i + k);
                let line: String = self.chars[self.i..end].iter().collect();
                self.i = (end + 1).min(self.chars.len());
                let cmp = if strip {
                    line.trim_start_matches('\t')
                } else {
                    &line
                };
                if cmp == delim {
                    break;
                }
                if let Some(cmd) = self.cmds.get_mut(index) {
                    cmd.heredoc.push_str(&line);
                    cmd.heredoc.push('\n');
                }
            }
        }
    }

    fn skip_blanks(&mut self) {
        loop {
            match self.peek(0) {
                Some(' ' | '\t' | '\r') => self.i += 1,
                Some('\\') if self.peek(1) == Some('\n') => self.i += 2,
                _ => return,
            }
        }
    }

    /// Scan commands until `end` (`)` or a backtick) or the end of input.
    fn list(&mut self, end: Option<char>, captured: bool, depth: usize) {
        let mut b = self.new_cmd(captured, None);
        loop {
            self.skip_blanks();
            let Some(c) = self.peek(0) else {
                self.finish(&mut b, Sep::Other, captured);
                return;
            };
            if Some(c) == end {
                self.i += 1;
                self.finish(&mut b, Sep::Other, captured);
                return;
            }
            match c {
                '\n' => {
                    self.i += 1;
                    self.finish(&mut b, Sep::Other, captured);
                    self.read_heredocs();
                }
                '#' => {
                    while self.peek(0).is_some_and(|c| c != '\n') {
                        self.i += 1;
                    }
                }
                ';' => {
                    self.i += if self.peek(1) == Some(';') { 2 } else { 1 };
                    self.finish(&mut b, Sep::Other, captured);
                }
                '&' if self.peek(1) == Some('>') => self.redirect(&mut b, depth),
                '&' => {
                    self.i += if self.peek(1) == Some('&') { 2 } else { 1 };
                    self.finish(&mut b, Sep::Other, captured);
                }
                '|' => {
                    if self.peek(1) == Some('|') {
                        self.i += 2;
                        self.finish(&mut b, Sep::Other, captured);
                    } else {
                        self.i += if self.peek(1) == Some('&') { 2 } else { 1 };
                        self.finish(&mut b, Sep::Pipe, captured);
                    }
                }
                '(' => {
                    self.i += 1;
                    if self.peek(0) == Some(')') {
                        // `name()` of a function definition.
                        self.i += 1;
                    }
                    self.finish(&mut b, Sep::Other, captured);
                    if depth < MAX_NESTING {
                        self.list(Some(')'), captured, depth + 1);
                    }
                }
                ')' => {
                    // A stray `)`, e.g. a `case` pattern.
                    self.i += 1;
                    self.finish(&mut b, Sep::Other, captured);
                }
                '<' | '>' => self.redirect(&mut b, depth),
                c if c.is_ascii_digit() && self.fd_redirect() => self.redirect(&mut b, depth),
                _ => {
                    let w = self.word(end, depth);
                    if b.cmd.words.is_empty() && RESERVED.contains(&w.raw.as_str()) {
                        continue;
                    }
                    if b.cmd.words.is_empty() {
                        b.cmd.start = self.i.saturating_sub(w.raw.chars().count());
                    }
                    b.cmd.words.push(w);
                }
            }
        }
    }

    /// Whether digits here are a file descriptor before `<` or `>`.
    fn fd_redirect(&self) -> bool {
        let digits = self.chars[self.i..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        matches!(self.peek(digits), Some('<' | '>'))
    }

    fn redirect(&mut self, b: &mut Building, depth: usize) {
        let start = self.i;
        while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        if self.peek(0) == Some('&') {
            self.i += 1;
        }
        let first = self.peek(0);
        self.i += 1;
        // Process substitution `<(...)` / `>(...)`: commands of their own.
        if self.peek(0) == Some('(') {
            self.i += 1;
            if depth < MAX_NESTING {
                self.list(Some(')'), true, depth + 1);
            }
            return;
        }
        let mut heredoc = false;
        let mut strip = false;
        if first == Some('<') && self.peek(0) == Some('<') {
            self.i += 1;
            if self.peek(0) == Some('<') {
                self.i += 1;
            } else {
                heredoc = true;
                if self.peek(0) == Some('-') {
                    self.i += 1;
                    strip = true;
                }
            }
        } else if matches!(self.peek(0), Some('>' | '&' | '|')) {
            self.i += 1;
        }
        let op: String = self.chars[start..self.i].iter().collect();
        self.skip_blanks();
        let target = match self.peek(0) {
            Some(c) if !" \t\n;&|()<>".contains(c) => self.word(None, depth),
            _ => Word::default(),
        };
        if heredoc {
            b.heredocs.push((target.text.clone(), strip));
        }
        b.cmd.redirects.push((op, target));
    }

    /// One word, up to an unquoted blank or operator.
    fn word(&mut self, end: Option<char>, depth: usize) -> Word {
        let start = self.i;
        let mut text = String::new();
        while let Some(c) = self.peek(0) {
            match c {
                ' ' | '\t' | '\r' | '\n' | ';' | '&' | '|' | '(' | ')' | '<' | '>' => break,
                '`' if end == Some('`') => break,
                '\\' => {
                    self.i += 1;
                    match self.peek(0) {
                        Some('\n') => self.i += 1,
                        Some(x) => {
                            text.push(x);
                            self.i += 1;
                        }
                        None => {}
                    }
                }
                '\'' => {
                    self.i += 1;
                    while let Some(x) = self.peek(0) {
                        self.i += 1;
                        if x == '\'' {
                            break;
                        }
                        text.push(x);
                    }
                }
                '"' => {
                    self.i += 1;
                    self.double_quoted(&mut text, depth);
                }
                '$' => self.dollar(&mut text, depth),
                '`' => self.backtick(&mut text, depth),
                _ => {
                    text.push(c);
                    self.i += 1;
                }
            }
        }
        if self.i == start {
            // Not reachable from `list`, which only calls here on a word
            // character; kept so no caller can loop forever.
            self.i += 1;
        }
        let raw: String = self.chars[start..self.i].iter().collect();
        let (line, column) = self.pos.get(start).copied().unwrap_or((1, 1));
        Word {
            text,
            raw,
            line,
            column,
        }
    }

    fn double_quoted(&mut self, text: &mut String, depth: usize) {
        while let Some(c) = self.peek(0) {
            match c {
                '"' => {
                    self.i += 1;
                    return;
                }
                '\\' => match self.peek(1) {
                    Some('\n') => self.i += 2,
                    Some(x @ ('$' | '`' | '"' | '\\')) => {
                        text.push(x);
                        self.i += 2;
                    }
                    _ => {
                        text.push('\\');
                        self.i += 1;
                    }
                },
                '$' => self.dollar(text, depth),
                '`' => self.backtick(text, depth),
                _ => {
                    text.push(c);
                    self.i += 1;
                }
            }
        }
    }

    /// `$(...)` (scanned as commands), `$((...))`, `${...}` or a plain `$`;
    /// the text keeps the expansion as written.
    fn dollar(&mut self, text: &mut String, depth: usize) {
        let start = self.i;
        match (self.peek(1), self.peek(2)) {
            (Some('('), Some('(')) => {
                self.i += 1;
                self.skip_balanced('(', ')');
            }
            (Some('('), _) => {
                self.i += 2;
                if depth < MAX_NESTING {
                    self.list(Some(')'), true, depth + 1);
                } else {
                    self.i -= 1;
                    self.skip_balanced('(', ')');
                }
            }
            (Some('{'), _) => {
                self.i += 1;
                self.skip_balanced('{', '}');
            }
            _ => self.i += 1,
        }
        text.extend(&self.chars[start..self.i]);
    }

    fn backtick(&mut self, text: &mut String, depth: usize) {
        let start = self.i;
        self.i += 1;
        if depth < MAX_NESTING {
            self.list(Some('`'), true, depth + 1);
        } else {
            while self.peek(0).is_some_and(|c| c != '`') {
                self.i += 1;
            }
            self.i = (self.i + 1).min(self.chars.len());
        }
        text.extend(&self.chars[start..self.i]);
    }

    /// From an `open` character, past its matching `close` (or to the end).
    fn skip_balanced(&mut self, open: char, close: char) {
        let mut level = 0usize;
        while let Some(c) = self.peek(0) {
            self.i += 1;
            if c == '\\' {
                self.i = (self.i + 1).min(self.chars.len());
            } else if c == open {
                level += 1;
            } else if c == close {
                level = level.saturating_sub(1);
                if level == 0 {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(script: &str) -> Vec<Vec<String>> {
        scan(script)
            .iter()
            .map(|c| c.words.iter().map(|w| w.text.clone()).collect())
            .collect()
    }

    #[test]
    fn separators_quotes_comments_and_continuations() {
        assert_eq!(
            words(
                "a 'b c' \"d $e\" # f g\nh\\\n i; j && k || l & m\nif n; then o; fi\n\"$out/bin/pip\" x"
            ),
            [
                vec!["a", "b c", "d $e"],
                vec!["h", "i"],
                vec!["j"],
                vec!["k"],
                vec!["l"],
                vec!["m"],
                vec!["n"],
                vec!["o"],
                vec!["$out/bin/pip", "x"],
            ]
        );
    }

    #[test]
    fn words_know_where_they_are() {
        let cmds = scan("x\n  curl -o 'f'  https://u\n");
        let w: Vec<_> = cmds[1]
            .words
            .iter()
            .map(|w| (w.raw.as_str(), w.line, w.column))
            .collect();
        assert_eq!(
            w,
            [
                ("curl", 2, 3),
                ("-o", 2, 8),
                ("'f'", 2, 11),
                ("https://u", 2, 16)
            ]
        );
    }

    #[test]
    fn pipelines_redirections_and_heredocs() {
        let cmds = scan("curl u | sh\ncat <<EOF > out | sha256sum -c\nabc  f.tgz\nEOF\nnext 2>&1");
        assert!(cmds[0].piped_out && !cmds[1].piped_out);
        assert_eq!(cmds[0].pipeline, cmds[1].pipeline);
        assert_eq!(cmds[2].heredoc, "abc  f.tgz\n");
        assert_eq!(cmds[2].redirects[1].0, ">");
        assert_eq!(cmds[2].redirects[1].1.text, "out");
        assert!(cmds[2].piped_out);
        assert_eq!(cmds[3].words[0].text, "sha256sum");
        assert_eq!(cmds[4].words[0].text, "next");
    }

    #[test]
    fn substitutions_are_commands_of_their_own() {
        let cmds = scan("v=$(curl -s u) && echo \"`wget -O- w`\" ${x:-$(y)}");
        let names: Vec<_> = cmds
            .iter()
            .map(|c| (c.words[0].text.as_str(), c.captured))
            .collect();
        assert_eq!(
            names,
            [
                ("v=$(curl -s u)", false),
                ("curl", true),
                ("echo", false),
                ("wget", true)
            ]
        );
    }

    proptest::proptest! {
        #[test]
        fn any_text_scans_without_panic(script in "\\PC*") {
            let _ = scan(&script);
        }

        #[test]
        fn shell_shaped_text_scans_without_panic(
            script in "([a-z$(){}`'\"\\\\|&;<>#= \n-]|<<|<<-|EOF|\\$\\(|\\$\\{|\\$\\(\\(){0,80}"
        ) {
            for c in scan(&script) {
                for w in &c.words {
                    proptest::prop_assert!(w.line >= 1 && w.column >= 1);
                }
            }
        }
    }
}

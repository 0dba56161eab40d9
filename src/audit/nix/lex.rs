//! Nix expressions, first step: a tokenizer that follows the Nix lexer's
//! token rules closely enough that the audit never looks inside a comment or
//! a string, and never mistakes `a < b` for a lookup path. Main type: `Token`.
//!
//! Strings are not tokenized inside, except their `${...}` interpolations,
//! which are code. Contexts (code, "string", ''indented string'') live on an
//! explicit stack, so nesting depth cannot overflow the call stack. Any input
//! yields tokens; characters it does not know become `Other`.

/// What a token is. Only what the rules need is told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `[A-Za-z_][A-Za-z0-9_'-]*`, keywords included.
    Ident,
    /// `<nixpkgs>`, `<nixpkgs/lib>`: resolved from NIX_PATH.
    Lookup,
    /// `./x`, `/abs`, `~/x`, `a/b`.
    Path,
    /// A bare URL such as `https://example.org/x.tar.gz`.
    Uri,
    Number,
    /// The opening `"` or `''` of a string.
    StrOpen,
    /// The closing `"` or `''` of a string.
    StrClose,
    /// `${`, in a string or in code.
    Interp,
    /// Operators and brackets: `{ } ( ) [ ] ; = . , : ? @` and the like.
    Punct,
    /// Anything else (stray characters).
    Other,
}

/// One token with its 1-based line and column (in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Kind,
    pub text: String,
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// Code, with the depth of `{` opened in it; a `}` at depth 0 closes the
    /// interpolation that opened this context.
    Code(usize),
    Double,
    Indented,
}

struct Lexer {
    chars: Vec<char>,
    /// For each position, how many path characters, URI-scheme characters
    /// and URI characters run from it. Computed once, so trying a path or
    /// a URI at every token start costs O(1), not the length of the run
    /// (`a.a.a.a...` would otherwise be quadratic).
    path_run: Vec<u32>,
    scheme_run: Vec<u32>,
    uri_run: Vec<u32>,
    i: usize,
    line: usize,
    column: usize,
    tokens: Vec<Token>,
}

fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-')
}

fn is_uri_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "%/?:@&=+$,-_.!~*'".contains(c)
}

/// For each position of `chars`, the length of the run of characters
/// satisfying `f` that starts there.
fn runs(chars: &[char], f: impl Fn(char) -> bool) -> Vec<u32> {
    let mut out = vec![0u32; chars.len() + 1];
    for k in (0..chars.len()).rev() {
        if f(chars[k]) {
            out[k] = out[k + 1].saturating_add(1);
        }
    }
    out
}

impl Lexer {
    fn run(runs: &[u32], at: usize) -> usize {
        runs.get(at).copied().unwrap_or(0) as usize
    }

    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.i + ahead).copied()
    }

    fn at(&self, s: &str) -> bool {
        s.chars().enumerate().all(|(k, c)| self.peek(k) == Some(c))
    }

    /// Consume `n` characters, keeping line and column.
    fn advance(&mut self, n: usize) {
        for _ in 0..n {
            match self.peek(0) {
                Some('\n') => {
                    self.line += 1;
                    self.column = 1;
                }
                Some(_) => self.column += 1,
                None => return,
            }
            self.i += 1;
        }
    }

    /// Emit the next `n` characters as one token.
    fn emit(&mut self, kind: Kind, n: usize) {
        let end = (self.i + n).min(self.chars.len());
        let text: String = self.chars[self.i..end].iter().collect();
        self.tokens.push(Token {
            kind,
            text,
            line: self.line,
            column: self.column,
        });
        self.advance(n);
    }

    fn ident_len(&self) -> usize {
        match self.peek(0) {
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                1 + self.chars[self.i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '\'' | '-'))
                    .count()
            }
            _ => 0,
        }
    }

    /// `[a-zA-Z][a-zA-Z0-9+.-]*:[uri chars]+`, as the Nix lexer's URI.
    fn uri_len(&self) -> usize {
        if !self.peek(0).is_some_and(|c| c.is_ascii_alphabetic()) {
            return 0;
        }
        let scheme = Self::run(&self.scheme_run, self.i);
        if self.peek(scheme) != Some(':') {
            return 0;
        }
        let rest = Self::run(&self.uri_run, self.i + scheme + 1);
        if rest == 0 { 0 } else { scheme + 1 + rest }
    }

    /// `[path chars]*(/[path chars]+)+/?` or `~(/[path chars]+)+`.
    fn path_len(&self) -> usize {
        let mut n = if self.peek(0) == Some('~') {
            1
        } else {
            Self::run(&self.path_run, self.i)
        };
        let mut segments = 0;
        while self.peek(n) == Some('/') {
            let seg = Self::run(&self.path_run, self.i + n + 1);
            if seg == 0 {
                break;
            }
            n += 1 + seg;
            segments += 1;
        }
        if segments == 0 { 0 } else { n }
    }

    /// `<[path chars]+(/[path chars]+)*>`; 0 when `<` is an operator.
    fn lookup_len(&self) -> usize {
        let mut n = 1;
        loop {
            let seg = Self::run(&self.path_run, self.i + n);
            if seg == 0 {
                return 0;
            }
            n += seg;
            match self.peek(n) {
                Some('>') => return n + 1,
                Some('/') => n += 1,
                _ => return 0,
            }
        }
    }

    fn number_len(&self) -> usize {
        let digits = self.chars[self.i..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits > 0 && self.peek(digits) == Some('.') {
            let frac = self.chars[(self.i + digits + 1).min(self.chars.len())..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if frac > 0 {
                return digits + 1 + frac;
            }
        }
        digits
    }

    fn skip_line_comment(&mut self) {
        let n = self.chars[self.i..]
            .iter()
            .take_while(|c| **c != '\n')
            .count();
        self.advance(n);
    }

    fn skip_block_comment(&mut self) {
        self.advance(2);
        while self.i < self.chars.len() && !self.at("*/") {
            self.advance(1);
        }
        self.advance(2);
    }

    /// One step in code; a string or interpolation opened or closed here
    /// changes `stack`.
    fn code(&mut self, depth: &mut usize, stack: &mut Vec<Ctx>) {
        let Some(c) = self.peek(0) else { return };
        if c.is_whitespace() {
            self.advance(1);
        } else if c == '#' {
            self.skip_line_comment();
        } else if self.at("/*") {
            self.skip_block_comment();
        } else if c == '"' {
            self.emit(Kind::StrOpen, 1);
            stack.push(Ctx::Double);
        } else if self.at("''") {
            self.emit(Kind::StrOpen, 2);
            stack.push(Ctx::Indented);
        } else if self.at("${") {
            self.emit(Kind::Interp, 2);
            stack.push(Ctx::Code(0));
        } else if c == '{' {
            self.emit(Kind::Punct, 1);
            *depth += 1;
        } else if c == '}' {
            self.emit(Kind::Punct, 1);
            if *depth == 0 {
                // Closes the interpolation this code context belongs to;
                // at the top level it is a stray brace, kept as is.
                if stack.len() > 1 {
                    stack.pop();
                }
            } else {
                *depth -= 1;
            }
        } else if c == '<' && self.lookup_len() > 0 {
            self.emit(Kind::Lookup, self.lookup_len());
        } else {
            // Longest match, as the Nix lexer (flex) decides.
            let candidates = [
                (self.path_len(), Kind::Path),
                (self.uri_len(), Kind::Uri),
                (self.ident_len(), Kind::Ident),
                (self.number_len(), Kind::Number),
            ];
            let (n, kind) = candidates
                .iter()
                .copied()
                .fold(
                    (0, Kind::Other),
                    |best, cand| {
                        if cand.0 > best.0 { cand } else { best }
                    },
                );
            if n > 0 {
                self.emit(kind, n);
            } else {
                let op = ["...", "==", "!=", "<=", ">=", "&&", "||", "->", "//", "++"]
                    .into_iter()
                    .find(|op| self.at(op));
                match op {
                    Some(op) => self.emit(Kind::Punct, op.len()),
                    None if "()[];=.,:?@!+-*/<>".contains(c) => self.emit(Kind::Punct, 1),
                    None => self.emit(Kind::Other, 1),
                }
            }
        }
    }

    /// One step inside a string.
    fn string(&mut self, indented: bool, stack: &mut Vec<Ctx>) {
        if indented {
            if self.at("'''") || self.at("''$") {
                self.advance(3);
            } else if self.at("''\\") {
                self.advance(4);
            } else if self.at("''") {
                self.emit(Kind::StrClose, 2);
                stack.pop();
            } else {
                self.string_common(stack);
            }
        } else if self.peek(0) == Some('"') {
            self.emit(Kind::StrClose, 1);
            stack.pop();
        } else if self.peek(0) == Some('\\') {
            self.advance(2);
        } else {
            self.string_common(stack);
        }
    }

    fn string_common(&mut self, stack: &mut Vec<Ctx>) {
        if self.at("$$") {
            // `$${` is a literal `${`, not an interpolation.
            self.advance(2);
        } else if self.at("${") {
            self.emit(Kind::Interp, 2);
            stack.push(Ctx::Code(0));
        } else {
            self.advance(1);
        }
    }
}

/// Tokenize a Nix expression. Comments and string contents yield no tokens.
pub(crate) fn lex(src: &str) -> Vec<Token> {
    let chars: Vec<char> = src.chars().collect();
    let mut lx = Lexer {
        path_run: runs(&chars, is_path_char),
        scheme_run: runs(&chars, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-')
        }),
        uri_run: runs(&chars, is_uri_char),
        chars,
        i: 0,
        line: 1,
        column: 1,
        tokens: Vec::new(),
    };
    let mut stack = vec![Ctx::Code(0)];
    while lx.i < lx.chars.len() {
        let before = lx.i;
        match stack.last().copied() {
            Some(Ctx::Code(mut depth)) => {
                let len = stack.len();
                lx.code(&mut depth, &mut stack);
                // Write the depth back unless the step left this context.
                if stack.len() >= len {
                    stack[len - 1] = Ctx::Code(depth);
                }
            }
            Some(Ctx::Double) => lx.string(false, &mut stack),
            Some(Ctx::Indented) => lx.string(true, &mut stack),
            None => stack.push(Ctx::Code(0)),
        }
        if lx.i == before {
            // Cannot happen by construction; guarantees termination anyway.
            lx.advance(1);
        }
    }
    lx.tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Kind, String)> {
        lex(src).into_iter().map(|t| (t.kind, t.text)).collect()
    }

    #[test]
    fn lookup_paths_are_tokens_and_comparisons_are_not() {
        let toks = kinds("import <nixpkgs> {} // { x = a < b; y = <nixpkgs/lib>; z = 1<2; }");
        let lookups: Vec<_> = toks.iter().filter(|t| t.0 == Kind::Lookup).collect();
        assert_eq!(
            lookups,
            [
                &(Kind::Lookup, "<nixpkgs>".to_owned()),
                &(Kind::Lookup, "<nixpkgs/lib>".to_owned())
            ]
        );
        assert!(
            kinds("if a<b then 1 else 2")
                .iter()
                .all(|t| t.0 != Kind::Lookup)
        );
    }

    #[test]
    fn comments_and_strings_hide_their_contents() {
        let src = "# import <nixpkgs>\n/* builtins.getEnv <a> */ x = \"<nixpkgs> fetchTarball\"; y = ''<b> ''${x}'';";
        let toks = kinds(src);
        assert!(toks.iter().all(|t| t.0 != Kind::Lookup), "{toks:?}");
        assert!(
            toks.iter()
                .all(|t| t.1 != "fetchTarball" && t.1 != "getEnv")
        );
    }

    #[test]
    fn interpolations_are_code_at_any_depth() {
        let toks = lex("\"a ${ \"b ${ <c> } \" } d\" ''e ${<f>}''");
        let lookups: Vec<_> = toks
            .iter()
            .filter(|t| t.kind == Kind::Lookup)
            .map(|t| (t.text.as_str(), t.line, t.column))
            .collect();
        assert_eq!(lookups, [("<c>", 1, 13), ("<f>", 1, 32)]);
    }

    #[test]
    fn positions_count_lines_and_characters() {
        let toks = lex("é = 1;\n  with import <nixpkgs> {};");
        let t = toks
            .iter()
            .find(|t| t.kind == Kind::Lookup)
            .expect("lookup");
        assert_eq!((t.line, t.column), (2, 15));
    }

    #[test]
    fn paths_uris_and_idents_by_longest_match() {
        assert_eq!(
            kinds("./a/b.nix https://x.org/y.tar.gz a/b x: x a-b'"),
            [
                (Kind::Path, "./a/b.nix".to_owned()),
                (Kind::Uri, "https://x.org/y.tar.gz".to_owned()),
                (Kind::Path, "a/b".to_owned()),
                (Kind::Ident, "x".to_owned()),
                (Kind::Punct, ":".to_owned()),
                (Kind::Ident, "x".to_owned()),
                (Kind::Ident, "a-b'".to_owned()),
            ]
        );
    }

    #[test]
    fn indented_string_escapes_do_not_end_the_string() {
        let toks = kinds("''a '''b'' ''${c}'' ''$d'' ''\\n''  <e>");
        assert_eq!(
            toks.iter().filter(|t| t.0 == Kind::Lookup).count(),
            1,
            "{toks:?}"
        );
        let toks = kinds("\"\\\" <x>\" <y>");
        let lookups: Vec<_> = toks.iter().filter(|t| t.0 == Kind::Lookup).collect();
        assert_eq!(lookups, [&(Kind::Lookup, "<y>".to_owned())]);
    }

    proptest::proptest! {
        #[test]
        fn any_text_tokenizes_without_panic(src in "\\PC*") {
            let _ = lex(&src);
        }

        #[test]
        fn nix_like_text_tokenizes_without_panic(src in "[a-z<>{}$'\"/*#.:= \n\\\\]{0,200}") {
            for t in lex(&src) {
                proptest::prop_assert!(t.line >= 1 && t.column >= 1);
            }
        }
    }
}

//! Text files: a unified diff of the differing lines (the `similar` crate),
//! cut to [`MAX_LINES`] lines / [`MAX_BYTES`] bytes, and hints from the
//! changed lines.

use super::TextDetail;
use super::hints::{Context, Hints};
use similar::{ChangeTag, TextDiff};
use std::fmt::Write as _;
use std::time::Duration;

const MAX_LINES: usize = 40;
const MAX_BYTES: usize = 4096;
/// Longer lines (minified code, one-line JSON) are cut: the change is
/// usually visible in the first characters, and a line must not eat the cap.
const MAX_LINE_CHARS: usize = 200;
const CONTEXT: usize = 3;
/// Changed text kept per side for the hint scan.
const HINT_TEXT: usize = 64 << 10;
/// The diff gives up looking for the smallest edit after this long; the
/// result is then coarser, never wrong.
const DIFF_TIMEOUT: Duration = Duration::from_millis(500);

/// `bytes` as text: valid UTF-8 without NUL bytes.
pub(super) fn as_text(bytes: &[u8]) -> Option<&str> {
    if bytes.contains(&0) {
        return None;
    }
    std::str::from_utf8(bytes).ok()
}

/// Text that is not UTF-8 but reads as ISO-8859-1 (Latin-1): no NUL, no
/// control characters but tab, line feed, form feed and carriage return,
/// and none of the C1 range 0x80–0x9F, which Latin-1 text never holds (a
/// binary file almost always does). Decoded byte for byte.
pub(super) fn as_latin1(bytes: &[u8]) -> Option<String> {
    let text_byte = |b: u8| matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x20..=0x7e | 0xa0..=0xff);
    bytes
        .iter()
        .all(|b| text_byte(*b))
        .then(|| bytes.iter().map(|b| char::from(*b)).collect())
}

/// Both sides as text, and the encoding note when either is not UTF-8.
pub(super) fn decode<'x>(
    a: &'x [u8],
    b: &'x [u8],
) -> Option<(
    std::borrow::Cow<'x, str>,
    std::borrow::Cow<'x, str>,
    Option<String>,
)> {
    use std::borrow::Cow;
    let side = |x: &'x [u8]| -> Option<(Cow<'x, str>, &'static str)> {
        match as_text(x) {
            Some(t) => Some((Cow::Borrowed(t), "UTF-8")),
            None => as_latin1(x).map(|t| (Cow::Owned(t), "ISO-8859-1")),
        }
    };
    let ((ta, ea), (tb, eb)) = (side(a)?, side(b)?);
    let note = match (ea, eb) {
        ("UTF-8", "UTF-8") => None,
        (x, y) if x == y => Some(format!("{x} (both sides), shown decoded")),
        (x, y) => Some(format!(
            "{x} in A, {y} in B: the file's encoding changed; shown decoded"
        )),
    };
    Some((ta, tb, note))
}

/// The unified diff of `a` and `b`, adding hints from the changed lines to `h`.
pub(super) fn diff(a: &str, b: &str, ctx: &Context, h: &mut Hints) -> TextDetail {
    let d = TextDiff::configure().timeout(DIFF_TIMEOUT).diff_lines(a, b);
    let mut out = Out::default();
    let (mut removed, mut added) = (0, 0);
    let (mut changed_a, mut changed_b) = (String::new(), String::new());
    // Removed and added lines of one change, paired in order: a token that
    // differs between the two lines of a pair is what changed.
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for group in d.grouped_ops(CONTEXT) {
        out.line(similar::udiff::UnifiedHunkHeader::new(&group).to_string());
        for op in &group {
            let (mut olds, mut news) = (Vec::new(), Vec::new());
            for change in d.iter_changes(op) {
                let line = change.value();
                let sign = match change.tag() {
                    ChangeTag::Equal => ' ',
                    ChangeTag::Delete => {
                        removed += 1;
                        keep(&mut changed_a, line);
                        olds.push(line);
                        '-'
                    }
                    ChangeTag::Insert => {
                        added += 1;
                        keep(&mut changed_b, line);
                        news.push(line);
                        '+'
                    }
                };
                out.line(format!("{sign}{}", clip(line)));
                if !line.ends_with('\n') {
                    out.line("\\ No newline at end of file".into());
                }
            }
            if pairs.len() < 1000 {
                pairs.extend(olds.into_iter().zip(news));
            }
        }
    }
    h.scan(ctx, &changed_a, &changed_b, &pairs);
    line_endings(a, b, h);
    let truncated = (out.cut_lines > 0).then(|| {
        format!(
            "{} more line{} not shown",
            out.cut_lines,
            if out.cut_lines == 1 { "" } else { "s" }
        )
    });
    TextDetail {
        diff: out.text,
        removed,
        added,
        truncated,
        encoding: None,
    }
}

/// The capped diff text being built.
#[derive(Default)]
struct Out {
    text: String,
    lines: usize,
    cut_lines: usize,
}

impl Out {
    fn line(&mut self, line: String) {
        if self.cut_lines > 0
            || self.lines >= MAX_LINES
            || self.text.len() + line.len() + 1 > MAX_BYTES
        {
            self.cut_lines += 1;
            return;
        }
        self.text.push_str(&line);
        self.text.push('\n');
        self.lines += 1;
    }
}

/// A diff line without its line ending, control characters made visible
/// (a stray `\r` or escape must not rewrite the reader's terminal), cut
/// to [`MAX_LINE_CHARS`].
fn clip(line: &str) -> String {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut out = String::new();
    for (i, c) in line.chars().enumerate() {
        if i == MAX_LINE_CHARS {
            out.push('…');
            break;
        }
        match c {
            '\t' => out.push('\t'),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn keep(buf: &mut String, line: &str) {
    if buf.len() + line.len() <= HINT_TEXT {
        buf.push_str(line);
        if !line.ends_with('\n') {
            buf.push('\n');
        }
    }
}

/// A change of line endings makes every line differ while the diff shows
/// the same text on both sides: say so.
fn line_endings(a: &str, b: &str, h: &mut Hints) {
    let crlf = |s: &str| s.matches("\r\n").count();
    let lf = |s: &str| s.matches('\n').count();
    let style = |s: &str| {
        let (c, l) = (crlf(s), lf(s));
        if l == 0 {
            None
        } else if c == l {
            Some("CRLF")
        } else if c == 0 {
            Some("LF")
        } else {
            Some("mixed")
        }
    };
    if let (Some(sa), Some(sb)) = (style(a), style(b))
        && sa != sb
    {
        h.push(format!("line endings differ ({sa} in A, {sb} in B)"));
    }
}

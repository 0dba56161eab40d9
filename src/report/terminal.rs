//! Text bound for a terminal or a CI log, made harmless: a file name, a
//! symlink target or a build's output can hold control characters (ESC
//! `[2J` clears the screen) and newlines (a forged report line). Human
//! renderers escape them, as `\xNN` (`\n`, `\r`, `\t` for the common ones),
//! the way `tree::escape_name` already writes bytes that are not UTF-8.
//! JSON, JUnit and the other machine formats escape by their own rules.

use std::borrow::Cow;
use std::io::Write;

fn is_control(c: char) -> bool {
    c.is_control()
}

fn push_escaped(c: char, out: &mut String) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        // C0, DEL and C1 controls all fit in one byte's worth of code point.
        _ => out.push_str(&format!("\\x{:02x}", c as u32)),
    }
}

/// `text` as one line: every control character escaped, newlines and tabs
/// included. For values that must stay on their line: paths, names,
/// symlink targets, a line of a diff.
pub fn one_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_control(c) {
            push_escaped(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A writer that escapes every control character except newline and tab
/// in what passes through: the last line of defence under a human
/// renderer, for text such as a build's output quoted in a message.
pub struct Escaping<'w> {
    inner: &'w mut dyn Write,
    /// A `0xC2` lead byte held back: with the next byte it may be a C1
    /// control (U+0080..U+009F), which some terminals obey as ESC.
    held: bool,
}

impl<'w> Escaping<'w> {
    pub fn new(inner: &'w mut dyn Write) -> Self {
        Escaping { inner, held: false }
    }
}

impl Write for Escaping<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut out = Vec::with_capacity(buf.len());
        for &b in buf {
            if self.held {
                self.held = false;
                if (0x80..=0x9f).contains(&b) {
                    out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
                    continue;
                }
                out.push(0xc2);
            }
            match b {
                b'\n' | b'\t' => out.push(b),
                0xc2 => self.held = true,
                0x00..=0x1f | 0x7f => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
                _ => out.push(b),
            }
        }
        self.inner.write_all(&out)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.held {
            self.held = false;
            self.inner.write_all(&[0xc2])?;
        }
        self.inner.flush()
    }
}

impl Drop for Escaping<'_> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_escapes_every_control_character() {
        assert_eq!(one_line("plain/é"), "plain/é");
        assert_eq!(
            one_line("a\nFAIL forged\r\x1b[2J\t\u{9b}x\x7f"),
            "a\\nFAIL forged\\r\\x1b[2J\\t\\x9bx\\x7f"
        );
    }

    #[test]
    fn the_writer_keeps_lines_and_escapes_the_rest() {
        let mut out = Vec::new();
        {
            let mut w = Escaping::new(&mut out);
            w.write_all(b"ok\tline\n\x1b[2Jcleared\r\x07")
                .expect("write");
            // A C1 control split across two writes is still caught.
            w.write_all(b"\xc2").expect("write");
            w.write_all(b"\x9b31mred \xc3\xa9 \xc2\xa0nbsp\n")
                .expect("write");
        }
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "ok\tline\n\\x1b[2Jcleared\\x0d\\x07\\x9b31mred é \u{a0}nbsp\n"
        );
    }
}

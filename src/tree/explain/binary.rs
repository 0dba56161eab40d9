//! Binary files: sizes, the first differing offset and a hex window of both
//! sides around it, and hints from the bytes near it.

use super::hints::{Context, Hints};
use super::{BinaryDetail, Side};
use std::cell::OnceCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{Read, Seek, SeekFrom};

/// Bytes shown of each side.
const WINDOW: u64 = 32;
/// Bytes either side of the first difference scanned for hints: enough for
/// a path or a date printed into a binary.
const HINT_REACH: u64 = 96;
const BLOCK: usize = 64 << 10;

/// The binary explanation of two contents in memory.
pub(super) fn in_memory(a: &[u8], b: &[u8]) -> BinaryDetail {
    let first = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len())) as u64;
    let start = window_start(first);
    let slice = |s: &[u8]| {
        let lo = (start as usize).min(s.len());
        let hi = (start + WINDOW).min(s.len() as u64) as usize;
        hex(&s[lo..hi])
    };
    BinaryDetail {
        size_a: a.len() as u64,
        size_b: b.len() as u64,
        first_difference: first,
        window_offset: start,
        hex_a: slice(a),
        hex_b: slice(b),
        note: None,
    }
}

/// The binary explanation of two large files, read block by block up to
/// the first difference (unless `known`, the caller found it already);
/// neither is held in memory.
pub(super) fn streamed(
    a: Side<'_>,
    b: Side<'_>,
    known: Option<u64>,
) -> std::io::Result<BinaryDetail> {
    let (size_a, size_b) = (a.len()?, b.len()?);
    let (mut ra, mut rb) = (a.open()?, b.open()?);
    let first = match known {
        Some(first) => first,
        None => first_difference(&mut ra, &mut rb)?,
    };
    let start = window_start(first);
    let window = |r: &mut Box<dyn super::ReadSeek + '_>| -> std::io::Result<String> {
        r.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        r.take(WINDOW).read_to_end(&mut buf)?;
        Ok(hex(&buf))
    };
    Ok(BinaryDetail {
        size_a,
        size_b,
        first_difference: first,
        window_offset: start,
        hex_a: window(&mut ra)?,
        hex_b: window(&mut rb)?,
        note: None,
    })
}

/// The offset of the first differing byte, reading both from the start.
fn first_difference(ra: &mut impl Read, rb: &mut impl Read) -> std::io::Result<u64> {
    let (mut ba, mut bb) = (vec![0u8; BLOCK], vec![0u8; BLOCK]);
    let mut offset = 0u64;
    Ok(loop {
        let na = fill(ra, &mut ba)?;
        let nb = fill(rb, &mut bb)?;
        let n = na.min(nb);
        if let Some(i) = ba[..n].iter().zip(&bb[..n]).position(|(x, y)| x != y) {
            break offset + i as u64;
        }
        if na != nb || n == 0 {
            break offset + n as u64;
        }
        offset += n as u64;
    })
}

/// Read until `buf` is full or the input ends; returns the bytes read.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Where the window starts: a multiple of 8 at least 8 bytes before the
/// first difference, so the bytes leading up to it show too.
fn window_start(first: u64) -> u64 {
    first.saturating_sub(8) & !7
}

/// Bytes as space-separated lowercase hex.
pub(super) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Hints from the bytes around the first difference: printable strings
/// (a date, a path, a host name) and 32-bit integers that read as a recent
/// time (e.g. the mtime in a `.pyc` header). `a` and `b` hold the files'
/// bytes from offset `base` on; `first` is the first difference in them.
fn hints_at(first: usize, base: u64, a: &[u8], b: &[u8], ctx: &Context, h: &mut Hints) {
    let reach = HINT_REACH as usize;
    let near = |s: &[u8]| {
        let lo = first.saturating_sub(reach).min(s.len());
        let hi = (first + reach).min(s.len());
        printable(&s[lo..hi])
    };
    h.scan(ctx, &near(a), &near(b), &[]);
    // Integers covering the first differing byte, either byte order.
    for at in first.saturating_sub(3)..=first {
        let word = |s: &[u8]| s.get(at..at + 4).map(|w| [w[0], w[1], w[2], w[3]]);
        if let (Some(wa), Some(wb)) = (word(a), word(b)) {
            for (x, y) in [
                (u32::from_le_bytes(wa), u32::from_le_bytes(wb)),
                (u32::from_be_bytes(wa), u32::from_be_bytes(wb)),
            ] {
                let place = format!("at offset {}", base + at as u64);
                if h.epoch_pair(ctx, i64::from(x), i64::from(y), &place) {
                    return;
                }
            }
        }
    }
}

/// Hints for two contents in memory explained by `d`.
pub(super) fn hints(d: &BinaryDetail, a: &[u8], b: &[u8], ctx: &Context, h: &mut Hints) {
    hints_at(d.first_difference as usize, 0, a, b, ctx, h);
}

/// Hints for two files too large to hold: only the bytes near the first
/// difference are read.
pub(super) fn hints_streamed(
    d: &BinaryDetail,
    a: Side<'_>,
    b: Side<'_>,
    ctx: &Context,
    h: &mut Hints,
) {
    let lo = d.first_difference.saturating_sub(HINT_REACH);
    let read = |s: Side<'_>| -> Vec<u8> {
        let mut buf = Vec::new();
        if let Ok(mut r) = s.open()
            && r.seek(SeekFrom::Start(lo)).is_ok()
        {
            let _ = r.take(2 * HINT_REACH).read_to_end(&mut buf);
        }
        buf
    };
    let first = (d.first_difference - lo) as usize;
    hints_at(first, lo, &read(a), &read(b), ctx, h);
}

/// The printable ASCII runs of at least 4 characters (like `strings`), one
/// per line.
fn printable(bytes: &[u8]) -> String {
    let mut out = String::new();
    for run in bytes.split(|b| !(b.is_ascii_graphic() || *b == b' ')) {
        if run.len() >= 4 {
            out.push_str(&String::from_utf8_lossy(run));
            out.push('\n');
        }
    }
    out
}

/// Telltales worth searching a whole binary for: values long or unusual
/// enough that finding them is a cause, not a coincidence.
const SEARCHED: [&str; 6] = [
    "build path",
    "home directory",
    "hostname",
    "domain name",
    "user",
    "timezone",
];

/// Search both whole contents for the values a variation set (A's value in
/// A, B's in B), wherever the first difference is: a build path compiled
/// into a binary shifts every offset after it, so the first differing byte
/// is often far from the path itself.
pub(super) fn telltale_offsets(a: &[u8], b: &[u8], ctx: &Context, h: &mut Hints) {
    let find =
        |hay: &[u8], needle: &str| memchr::memmem::find(hay, needle.as_bytes()).map(|i| i as u64);
    telltales_found(ctx, h, |side_a, needle| {
        find(if side_a { a } else { b }, needle)
    });
}

/// [`telltale_offsets`] for two files too large to hold: each is read in
/// blocks, at most [`MAX_SEARCHED`] bytes of it, once for all the values.
pub(super) fn telltale_offsets_streamed(a: Side<'_>, b: Side<'_>, ctx: &Context, h: &mut Hints) {
    let needles: Vec<&str> = ctx
        .telltales
        .iter()
        .filter(|(what, _, _)| SEARCHED.contains(&what.as_str()))
        .flat_map(|(_, va, vb)| [va.as_str(), vb.as_str()])
        .filter(|v| !v.is_empty())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    // A side is read only when a value is first looked for in it.
    let (in_a, in_b) = (OnceCell::new(), OnceCell::new());
    telltales_found(ctx, h, |side_a, needle| {
        let (found, side) = if side_a { (&in_a, a) } else { (&in_b, b) };
        found
            .get_or_init(|| find_streamed(side, &needles))
            .get(needle)
            .copied()
    });
}

/// Bytes of one large file searched for telltales.
const MAX_SEARCHED: u64 = 256 << 20;

/// The first offset of each of `needles` found in `side`, in one pass.
fn find_streamed<'n>(side: Side<'_>, needles: &[&'n str]) -> HashMap<&'n str, u64> {
    let mut found = HashMap::new();
    let Ok(mut r) = side.open() else {
        return found;
    };
    let mut search = Search::new(needles);
    let longest = needles.iter().map(|n| n.len()).max().unwrap_or(0);
    let keep = longest.saturating_sub(1);
    let mut buf = vec![0u8; BLOCK + keep];
    // `buf[..held]` holds the last `keep` bytes of the previous block, then
    // the new one; `base` is the file offset of `buf[0]`.
    let (mut held, mut base) = (0usize, 0u64);
    while base < MAX_SEARCHED && found.len() < needles.len() {
        let Ok(n) = fill(&mut r, &mut buf[held..held + BLOCK]) else {
            break;
        };
        search.first_of_each(&buf[..held + n], base, &mut found);
        if n < BLOCK {
            break;
        }
        let total = held + n;
        let tail = keep.min(total);
        buf.copy_within(total - tail..total, 0);
        base += (total - tail) as u64;
        held = tail;
    }
    found
}

/// Finds the first occurrence of each needle not found yet, with one
/// Aho-Corasick pass over the bytes instead of one `memmem` pass per
/// needle (a dozen telltales: a dozen passes over up to 256 MiB).
struct Search<'n> {
    needles: Vec<&'n str>,
    /// The automaton of the needles not found yet; rebuilt when one is.
    left: Vec<&'n str>,
    ac: Option<aho_corasick::AhoCorasick>,
}

impl<'n> Search<'n> {
    fn new(needles: &[&'n str]) -> Self {
        let mut s = Search {
            needles: needles.to_vec(),
            left: Vec::new(),
            ac: None,
        };
        s.rebuild(&HashMap::new());
        s
    }

    fn rebuild(&mut self, found: &HashMap<&'n str, u64>) {
        self.left = self
            .needles
            .iter()
            .filter(|n| !found.contains_key(*n))
            .copied()
            .collect();
        self.ac = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(&self.left)
            .ok();
    }

    /// Record in `found`, at `base` plus its offset in `hay`, the first
    /// occurrence of each needle not in `found` yet: the same offsets a
    /// `memmem` search per needle finds. The leftmost match of any needle
    /// left bounds every occurrence before its end; those starting within
    /// it lie in the window from its start to its end plus the longest
    /// needle, searched per needle. Each round finds at least one needle.
    fn first_of_each(&mut self, hay: &[u8], base: u64, found: &mut HashMap<&'n str, u64>) {
        let mut at = 0;
        while !self.left.is_empty() {
            let Some(ac) = &self.ac else {
                // No automaton (it cannot fail for a dozen short needles,
                // but stay exact if it does): one pass per needle.
                for n in &self.left {
                    if let Some(i) = memchr::memmem::find(hay, n.as_bytes()) {
                        found.insert(n, base + i as u64);
                    }
                }
                self.rebuild(found);
                return;
            };
            let input = aho_corasick::Input::new(hay).span(at..hay.len());
            let Some(m) = ac.find(input) else {
                return;
            };
            let longest = self.left.iter().map(|n| n.len()).max().unwrap_or(0);
            let window = &hay[m.start()..(m.end() + longest).min(hay.len())];
            for n in &self.left {
                if let Some(i) = memchr::memmem::find(window, n.as_bytes()) {
                    found.insert(n, base + (m.start() + i) as u64);
                }
            }
            self.rebuild(found);
            at = m.end();
        }
    }
}

/// Name each telltale whose A value is found in A and B value in B, where
/// `found(in_a, value)` is the value's first offset on that side.
fn telltales_found(ctx: &Context, h: &mut Hints, found: impl Fn(bool, &str) -> Option<u64>) {
    let mut named = Vec::new();
    for (what, va, vb) in &ctx.telltales {
        if va == vb || va.is_empty() || vb.is_empty() || !SEARCHED.contains(&what.as_str()) {
            continue;
        }
        if named.contains(what) {
            continue;
        }
        let (Some(at_a), Some(at_b)) = (found(true, va), found(false, vb)) else {
            continue;
        };
        // B's value must be B's alone; a short value of A ("UTC", "root")
        // must be A's alone too, or it is just a common word.
        if found(true, vb).is_some() || (va.len() < 8 && found(false, va).is_some()) {
            continue;
        }
        named.push(what.clone());
        h.push(format!(
            "the {what} explains it: {va} at offset {at_a} in A, {vb} at offset {at_b} in B"
        ));
    }
}

/// `.pyc` files start with a magic number, 4 bytes of flags and, when the
/// flags are 0, the source file's mtime and size: a difference there is
/// the source's mtime, not the code.
pub(super) fn pyc_header(name: &str, d: &BinaryDetail, a: &[u8], b: &[u8], h: &mut Hints) {
    if !name.ends_with(".pyc") || !(8..16).contains(&d.first_difference) {
        return;
    }
    let word = |s: &[u8], at: usize| {
        s.get(at..at + 4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
    };
    if word(a, 4) != Some(0) || word(b, 4) != Some(0) {
        return;
    }
    let (Some(ta), Some(tb)) = (word(a, 8), word(b, 8)) else {
        return;
    };
    h.push(format!(
        "looks like a .pyc header (source mtime): {ta} = {} in A, {tb} = {} in B; set SOURCE_DATE_EPOCH, or compile with --invalidation-mode checked-hash",
        super::hints::iso(i64::from(ta)),
        super::hints::iso(i64::from(tb))
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_search_finds_what_a_search_per_needle_finds() {
        // Needles that overlap, contain each other and repeat.
        let needles = [
            "/envtwin/build",
            "/envtwin/build-b",
            "build-b",
            "uild",
            "root",
            "oot/x",
        ];
        let hay = b"..root/x../envtwin/build-b..uild.../envtwin/build..root";
        for base in [0u64, 1000] {
            let mut found = HashMap::new();
            Search::new(&needles).first_of_each(hay, base, &mut found);
            for n in needles {
                let want = memchr::memmem::find(hay, n.as_bytes()).map(|i| base + i as u64);
                assert_eq!(found.get(n).copied(), want, "{n}");
            }
        }
        // Found needles are not looked for again; the others still are.
        let mut found = HashMap::from([("root", 7u64)]);
        let mut search = Search::new(&needles);
        search.rebuild(&found);
        search.first_of_each(b"xx root uild", 100, &mut found);
        assert_eq!(found.get("root"), Some(&7));
        assert_eq!(found.get("uild"), Some(&108));
        assert_eq!(found.len(), 2);
    }
}

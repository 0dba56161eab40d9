//! Hints: whether a change looks like a known cause of irreproducibility —
//! a time near the build (epoch seconds, ISO or `Nov 26 2026` dates, clock
//! times), a value a variation changes (host name, build path, user, …) or
//! modes that differ like umasks do.
//!
//! The [`Context`] says what "near the build" and the varied values are;
//! the scans look only at the changed parts of a file.

use std::collections::BTreeSet;

/// At most this many hints per detail.
const MAX_HINTS: usize = 8;
/// How close to a build time a time must be to look like one.
const NEAR_SECS: i64 = 2 * 86_400;

/// What a build could have leaked into its output.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Times around which the builds ran, in seconds since the epoch.
    pub times: Vec<i64>,
    /// `(what, value in A, value in B)`, e.g. `("hostname", "envtwin-a",
    /// "envtwin-b-variant")`.
    pub telltales: Vec<(String, String, String)>,
}

impl Context {
    /// Builds made now by envtwin's sandbox: the clock now (and shifted as
    /// the `time` variation shifts it), and the values the variations set.
    pub fn sandbox() -> Context {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let shifted = now + crate::sandbox::plan::FAKETIME_DAYS * 86_400;
        Context {
            times: vec![now, shifted],
            telltales: crate::sandbox::plan::telltales()
                .into_iter()
                .map(|(w, a, b)| (w.to_string(), a, b))
                .collect(),
        }
    }

    fn near(&self, t: i64) -> bool {
        self.times.iter().any(|r| (t - r).abs() <= NEAR_SECS)
    }

    fn near_day(&self, day: i64) -> bool {
        self.times
            .iter()
            .any(|r| (day - r.div_euclid(86_400)).abs() <= NEAR_SECS / 86_400)
    }
}

/// Hints collected for one detail: in order found, without repeats.
#[derive(Debug, Default)]
pub(super) struct Hints {
    list: Vec<String>,
}

impl Hints {
    pub(super) fn push(&mut self, hint: String) {
        if self.list.len() < MAX_HINTS && !self.list.contains(&hint) {
            self.list.push(hint);
        }
    }

    pub(super) fn into_vec(self) -> Vec<String> {
        self.list
    }

    /// Scan the changed text of each side (`a`: what only A has, `b`: what
    /// only B has) and pairs of lines that replaced one another.
    pub(super) fn scan(&mut self, ctx: &Context, a: &str, b: &str, pairs: &[(&str, &str)]) {
        self.telltales(ctx, a, b);
        let (ea, eb) = (epochs(ctx, a), epochs(ctx, b));
        let fmt = |t: &(i64, String)| format!("{} = {}", t.1, iso(t.0));
        one_sided(self, "a timestamp", &ea, &eb, fmt);
        let (da, db) = (dates(ctx, a), dates(ctx, b));
        one_sided(self, "a date", &da, &db, |d: &String| d.clone());
        for (la, lb) in pairs {
            let (ta, tb) = (tokens(la), tokens(lb));
            if ta.len() != tb.len() {
                continue;
            }
            for (x, y) in ta.iter().zip(&tb) {
                if x == y {
                    continue;
                }
                if is_clock(x) && is_clock(y) {
                    self.push(format!("looks like a clock time ({x} in A, {y} in B)"));
                }
                if let (Some(ma), Some(mb)) = (parse_mode(x), parse_mode(y)) {
                    self.mode_pair(ma, mb, x, y);
                }
            }
        }
    }

    /// A value a variation sets, seen in the changed text.
    fn telltales(&mut self, ctx: &Context, a: &str, b: &str) {
        let mut seen = BTreeSet::new();
        for (what, va, vb) in &ctx.telltales {
            if va == vb || va.is_empty() || vb.is_empty() || seen.contains(what) {
                continue;
            }
            let (ha, hb) = (has(a, va), has(b, vb));
            // Short values ("root", "UTC") are common words: they count only
            // when both sides show theirs. Long ones are distinctive alone.
            let distinctive = |v: &str| v.len() >= 8;
            let hit = (ha && hb)
                || (ha && distinctive(va) && !has(b, va))
                || (hb && distinctive(vb) && !has(a, vb));
            if hit {
                seen.insert(what.clone());
                self.push(format!("looks like the {what} ({va} in A, {vb} in B)"));
            }
        }
    }

    /// Two file modes that differ only in group/other write bits: a umask.
    pub(super) fn mode_pair(&mut self, a: u32, b: u32, shown_a: &str, shown_b: &str) {
        let x = (a ^ b) & 0o7777;
        if x != 0 && x & !0o022 == 0 {
            self.push(format!(
                "looks like the umask ({shown_a} in A, {shown_b} in B differ only in group/other write bits)"
            ));
        }
    }

    /// Two numbers at the same place (`where_`) that read as times near the
    /// build; returns whether they did.
    pub(super) fn epoch_pair(&mut self, ctx: &Context, a: i64, b: i64, where_: &str) -> bool {
        if a == b || !(ctx.near(a) || ctx.near(b)) || !(a > 0 && b > 0) {
            return false;
        }
        // Both must be plausible times; one near the build is enough.
        let plausible = |t: i64| (946_684_800..4_102_444_800).contains(&t);
        if !(plausible(a) && plausible(b)) {
            return false;
        }
        self.push(format!(
            "looks like a timestamp {where_} ({a} = {} in A, {b} = {} in B)",
            iso(a),
            iso(b)
        ));
        true
    }
}

/// Push `looks like WHAT (x in A, y in B)` for the values found on only one
/// side (a value on both is not what changed).
fn one_sided<T: PartialEq>(
    h: &mut Hints,
    what: &str,
    a: &[T],
    b: &[T],
    fmt: impl Fn(&T) -> String,
) {
    let only_a = a.iter().find(|x| !b.contains(x));
    let only_b = b.iter().find(|x| !a.contains(x));
    let text = match (only_a, only_b) {
        (Some(x), Some(y)) => format!("{} in A, {} in B", fmt(x), fmt(y)),
        (Some(x), None) => format!("{}, in A", fmt(x)),
        (None, Some(y)) => format!("{}, in B", fmt(y)),
        (None, None) => return,
    };
    h.push(format!("looks like {what} ({text})"));
}

/// Whether `hay` holds `needle`, as a whole word when the needle is a word
/// (so `root` does not match `chroot`).
fn has(hay: &str, needle: &str) -> bool {
    let wordy = |c: char| c.is_alphanumeric() || c == '_';
    hay.match_indices(needle).any(|(i, _)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + needle.len()..].chars().next();
        let starts_word = needle.chars().next().is_some_and(wordy);
        let ends_word = needle.chars().next_back().is_some_and(wordy);
        let glued_before = starts_word && before.is_some_and(wordy);
        let glued_after = ends_word && after.is_some_and(wordy);
        !(glued_before || glued_after)
    })
}

/// Numbers in `text` that read as epoch seconds (10 digits), or milli-,
/// micro- or nanoseconds (13, 16, 19 digits), near a build time: the value
/// in seconds and the digits as written.
fn epochs(ctx: &Context, text: &str) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() && out.len() < 16 {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        // Digits glued to letters are part of a hash or a name, not a time.
        let glued = |j: Option<&u8>| j.is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_');
        if glued(start.checked_sub(1).and_then(|j| bytes.get(j))) || glued(bytes.get(i)) {
            continue;
        }
        let digits = &text[start..i];
        let scale = match digits.len() {
            10 => 1,
            13 => 1_000,
            16 => 1_000_000,
            19 => 1_000_000_000,
            _ => continue,
        };
        if let Ok(v) = digits.parse::<i64>()
            && ctx.near(v / scale)
        {
            out.push((v / scale, digits.to_string()));
        }
    }
    out
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Dates in `text` near a build day: ISO `2026-11-26` and the month-name
/// forms of `date`, `__DATE__` and logs: `Nov 26 2026`, `26 Nov 2026`,
/// `Thu Nov 26 10:36:49 UTC 2026`.
fn dates(ctx: &Context, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    for i in 0..b.len().saturating_sub(9) {
        if out.len() >= 16 {
            return out;
        }
        let iso = (0..4).all(|k| digit(i + k))
            && b[i + 4] == b'-'
            && digit(i + 5)
            && digit(i + 6)
            && b[i + 7] == b'-'
            && digit(i + 8)
            && digit(i + 9)
            && !(i > 0 && digit(i - 1))
            && !digit(i + 10);
        if iso {
            let s = &text[i..i + 10];
            let num = |r: std::ops::Range<usize>| s[r].parse::<i64>().unwrap_or(0);
            if let Some(day) = days_from_civil(num(0..4), num(5..7), num(8..10))
                && ctx.near_day(day)
            {
                out.push(s.to_string());
            }
        }
    }
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    let number = |w: Option<&&str>, len: std::ops::RangeInclusive<usize>| {
        w.filter(|w| len.contains(&w.len()) && w.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|w| w.parse::<i64>().ok())
    };
    for (i, w) in words.iter().enumerate() {
        let Some(m) = MONTHS.iter().position(|m| w.starts_with(m) && w.len() <= 9) else {
            continue;
        };
        let (day, after) = match number(words.get(i + 1), 1..=2) {
            Some(d) => (Some(d), i + 2),
            None => (
                number(i.checked_sub(1).and_then(|j| words.get(j)), 1..=2),
                i + 1,
            ),
        };
        let Some(day) = day else { continue };
        let year = (after..after + 3).find_map(|j| number(words.get(j), 4..=4));
        if let Some(year) = year
            && let Some(d) = days_from_civil(year, m as i64 + 1, day)
            && ctx.near_day(d)
        {
            out.push(format!("{} {day} {year}", MONTHS[m]));
        }
    }
    out
}

/// Tokens of a line for comparing two versions of it position by position.
fn tokens(line: &str) -> Vec<&str> {
    line.split(|c: char| !(c.is_alphanumeric() || "_.:/+-".contains(c)))
        .filter(|t| !t.is_empty())
        .collect()
}

/// `HH:MM:SS`, optionally with a fraction.
fn is_clock(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() >= 8
        && b[..8].iter().enumerate().all(|(i, c)| {
            if i == 2 || i == 5 {
                *c == b':'
            } else {
                c.is_ascii_digit()
            }
        })
        && (b.len() == 8 || b[8] == b'.')
}

/// A file mode as `ls -l` prints it (`-rw-r--r--`) or in octal (`0644`,
/// `644`, with a readable owner so counts like `100` are not taken).
fn parse_mode(t: &str) -> Option<u32> {
    let b = t.as_bytes();
    if b.len() == 10 && b"-dlcbps".contains(&b[0]) {
        let mut mode = 0;
        for (i, c) in b[1..].iter().enumerate() {
            let bit = 1 << (8 - i);
            match (i % 3, c) {
                (_, b'-') => {}
                (0, b'r') | (1, b'w') | (2, b'x' | b's' | b't') => mode |= bit,
                (2, b'S' | b'T') => {}
                _ => return None,
            }
        }
        return Some(mode);
    }
    let digits = t.strip_prefix('0').filter(|d| d.len() == 3).unwrap_or(t);
    if digits.len() == 3 && digits.bytes().all(|c| (b'0'..=b'7').contains(&c)) {
        let mode = u32::from_str_radix(digits, 8).ok()?;
        return (mode & 0o400 != 0).then_some(mode);
    }
    None
}

/// Days since 1970-01-01 of a proleptic Gregorian date, if it is one.
pub(super) fn days_from_civil(y: i64, m: i64, d: i64) -> Option<i64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// `2026-11-26T09:56:49Z` for epoch seconds `t` (UTC).
pub(super) fn iso(t: i64) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(now: i64) -> Context {
        Context {
            times: vec![now],
            telltales: vec![
                (
                    "hostname".into(),
                    "envtwin-a".into(),
                    "envtwin-b-variant".into(),
                ),
                ("user".into(), "root".into(), "builder".into()),
            ],
        }
    }

    #[test]
    fn calendar_round_trip() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(1_795_687_009), "2026-11-26T09:56:49Z");
        assert_eq!(days_from_civil(2026, 11, 26), Some(1_795_687_009 / 86_400));
        assert_eq!(days_from_civil(2000, 3, 1), Some(11_017));
        assert_eq!(iso(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn epoch_near_now_only() {
        let c = ctx(1_795_687_000);
        let mut h = Hints::default();
        h.scan(&c, "built 1795600000\n", "built 1795687009\n", &[]);
        assert_eq!(
            h.into_vec(),
            [
                "looks like a timestamp (1795600000 = 2026-11-25T09:46:40Z in A, 1795687009 = 2026-11-26T09:56:49Z in B)"
            ]
        );
        let mut h = Hints::default();
        h.scan(&c, "id 1000000000\n", "id 1000000001\n", &[]);
        assert!(h.into_vec().is_empty(), "2001 is not near 2026");
        let mut h = Hints::default();
        h.scan(&c, "sha a1795687009\n", "sha b1795687009\n", &[]);
        assert!(h.into_vec().is_empty(), "digits inside a hash are no time");
    }

    #[test]
    fn dates_in_several_spellings() {
        let c = ctx(1_795_687_000);
        assert_eq!(dates(&c, "on 2026-11-26T10:00"), ["2026-11-26"]);
        assert_eq!(dates(&c, "compiled Nov 26 2026 at"), ["Nov 26 2026"]);
        assert_eq!(dates(&c, "Thu Nov 26 10:36:49 UTC 2026"), ["Nov 26 2026"]);
        assert_eq!(dates(&c, "26 Nov, 2026"), ["Nov 26 2026"]);
        assert!(dates(&c, "2019-01-01 and Jan 1 2019").is_empty());
    }

    #[test]
    fn telltales_need_both_sides_when_short() {
        let c = ctx(0);
        let mut h = Hints::default();
        h.scan(&c, "host envtwin-a\n", "host envtwin-b-variant\n", &[]);
        assert_eq!(
            h.into_vec(),
            ["looks like the hostname (envtwin-a in A, envtwin-b-variant in B)"]
        );
        let mut h = Hints::default();
        h.scan(&c, "chroot\n", "builder\n", &[]);
        assert!(h.into_vec().is_empty(), "root inside chroot is no user");
        let mut h = Hints::default();
        h.scan(&c, "owner root\n", "owner builder\n", &[]);
        assert_eq!(
            h.into_vec(),
            ["looks like the user (root in A, builder in B)"]
        );
    }

    #[test]
    fn umask_and_clock_from_token_pairs() {
        let c = ctx(0);
        let mut h = Hints::default();
        let (a, b) = ("-rw-r--r-- f 10:00:01", "-rw-rw-r-- f 10:00:03");
        h.scan(&c, a, b, &[(a, b)]);
        assert_eq!(
            h.into_vec(),
            [
                "looks like the umask (-rw-r--r-- in A, -rw-rw-r-- in B differ only in group/other write bits)",
                "looks like a clock time (10:00:01 in A, 10:00:03 in B)"
            ]
        );
        let mut h = Hints::default();
        h.scan(&c, "0755", "0700", &[("0755", "0700")]);
        assert!(h.into_vec().is_empty(), "execute bits are no umask");
        assert_eq!(parse_mode("100"), None);
        assert_eq!(parse_mode("0664"), Some(0o664));
    }
}

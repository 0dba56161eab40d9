//! Clock evidence: a file whose every differing byte is a time that moved
//! by build B's clock shift (`time`: +400 days) is the `time` variation's
//! doing, read in the two outputs themselves. The culprit search need not
//! rebuild to blame it: rebuilds cost a whole build each, and two plain
//! rebuilds can straddle a second, which made such files look inherent.

use crate::tree::{self, DiffKind, Difference};
use std::collections::BTreeSet;
use std::path::Path;

/// Files larger than this are left to the rebuilds: reading them whole
/// costs more than it can save.
const MAX_BYTES: u64 = 16 << 20;

/// How far, in seconds, build B's clock runs ahead of build A's.
pub(super) fn shift_secs() -> i64 {
    crate::sandbox::plan::FAKETIME_DAYS * 86_400
}

/// The paths of `differences` (regular files in both trees, not archives)
/// whose only changes are times moved by `shift` seconds, give or take
/// `slack`: the time between the first moment either build could have
/// read its clock and the last.
pub(super) fn shifted_files(
    a_root: &Path,
    b_root: &Path,
    differences: &[Difference],
    shift: i64,
    slack: i64,
) -> BTreeSet<String> {
    differences
        .iter()
        .filter(|d| d.kind == DiffKind::Content && !super::is_archive(d))
        .filter(|d| {
            let read = |root: &Path| -> Option<Vec<u8>> {
                let p = tree::explain::key_path(root, &d.path);
                let m = std::fs::symlink_metadata(&p).ok()?;
                (m.is_file() && m.len() <= MAX_BYTES)
                    .then(|| std::fs::read(&p).ok())
                    .flatten()
            };
            match (read(a_root), read(b_root)) {
                (Some(a), Some(b)) => only_shifted_times(&a, &b, shift, slack),
                _ => false,
            }
        })
        .map(|d| d.path.clone())
        .collect()
}

/// Whether `a` and `b` differ, and only in times that moved by `shift`
/// seconds (± `slack`): 32- or 64-bit integers of either byte order, or
/// decimal digits, in seconds or milliseconds.
pub fn only_shifted_times(a: &[u8], b: &[u8], shift: i64, slack: i64) -> bool {
    if a.len() != b.len() || a == b {
        return false;
    }
    let moved = |x: i128, y: i128, unit: i128| {
        (y - x - i128::from(shift) * unit).abs() <= i128::from(slack) * unit
    };
    let mut i = 0;
    while let Some(off) = a[i..].iter().zip(&b[i..]).position(|(x, y)| x != y) {
        let at = i + off;
        match field_at(a, b, at, &moved) {
            Some(end) => i = end,
            None => return false,
        }
    }
    true
}

/// The end of a time field that covers byte `at` and moved as `moved`
/// says, if there is one.
fn field_at(
    a: &[u8],
    b: &[u8],
    at: usize,
    moved: &dyn Fn(i128, i128, i128) -> bool,
) -> Option<usize> {
    // Decimal digits on both sides: the whole run of them.
    if a[at].is_ascii_digit() && b[at].is_ascii_digit() {
        let digit = |k: usize| a[k].is_ascii_digit() && b[k].is_ascii_digit();
        let mut lo = at;
        while lo > 0 && digit(lo - 1) {
            lo -= 1;
        }
        let mut hi = at + 1;
        while hi < a.len() && digit(hi) {
            hi += 1;
        }
        let parse = |s: &[u8]| -> Option<i128> { std::str::from_utf8(s).ok()?.parse().ok() };
        if hi - lo <= 20
            && let (Some(x), Some(y)) = (parse(&a[lo..hi]), parse(&b[lo..hi]))
            && (moved(x, y, 1) || moved(x, y, 1000))
        {
            return Some(hi);
        }
    }
    // Binary integers covering the byte, the narrower first.
    for width in [4usize, 8] {
        for start in at.saturating_sub(width - 1)..=at {
            let Some((wa, wb)) = a.get(start..start + width).zip(b.get(start..start + width))
            else {
                continue;
            };
            let ints = |w: &[u8]| -> (i128, i128) {
                let mut le = [0u8; 8];
                le[..width].copy_from_slice(w);
                let mut be = [0u8; 8];
                be[8 - width..].copy_from_slice(w);
                (
                    i128::from(u64::from_le_bytes(le)),
                    i128::from(u64::from_be_bytes(be)),
                )
            };
            let ((la, ba), (lb, bb)) = (ints(wa), ints(wb));
            let (le, be) = ((la, lb), (ba, bb));
            if moved(le.0, le.1, 1)
                || moved(be.0, be.1, 1)
                || moved(le.0, le.1, 1000)
                || moved(be.0, be.1, 1000)
            {
                return Some(start + width);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIFT: i64 = 400 * 86_400;

    /// A `.pyc` header: magic, flags, the source's mtime, its size.
    fn pyc(mtime: u32, body: &[u8]) -> Vec<u8> {
        let mut v = vec![0xa7, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0];
        v.extend(mtime.to_le_bytes());
        v.extend(1234u32.to_le_bytes());
        v.extend(body);
        v
    }

    #[test]
    fn a_pyc_whose_source_mtime_moved_by_the_shift_is_the_clocks() {
        let t = 1_795_687_009u32;
        let a = pyc(t, b"code");
        // Written 3 s later in B, on a clock 400 days ahead.
        let b = pyc(t + SHIFT as u32 + 3, b"code");
        assert!(only_shifted_times(&a, &b, SHIFT, 5));
        // Outside the slack: a clock, maybe, but not shown to be B's.
        assert!(!only_shifted_times(&a, &b, SHIFT, 2));
        // A real change beside the time: not the clock's alone.
        assert!(!only_shifted_times(
            &a,
            &pyc(t + SHIFT as u32, b"cOde"),
            SHIFT,
            5
        ));
        // A time moved by some other amount.
        assert!(!only_shifted_times(&a, &pyc(t + 86_400, b"code"), SHIFT, 5));
        // Equal files are no difference at all.
        assert!(!only_shifted_times(&a, &a, SHIFT, 5));
    }

    #[test]
    fn big_endian_64_bit_and_decimal_times_count_in_seconds_and_milliseconds() {
        let t = 1_795_687_009u64;
        let be = |x: u64| [b"hdr".as_slice(), &x.to_be_bytes(), b"tail"].concat();
        assert!(only_shifted_times(&be(t), &be(t + SHIFT as u64), SHIFT, 1));
        let text = |s: u64, ms: u64| format!("built {s} ({ms} ms)\n").into_bytes();
        let (s, ms) = (t, t * 1000 + 250);
        assert!(only_shifted_times(
            &text(s, ms),
            &text(s + SHIFT as u64 + 1, ms + SHIFT as u64 * 1000 + 900),
            SHIFT,
            2
        ));
        // The seconds moved, the milliseconds did not: not all the clock's.
        assert!(!only_shifted_times(
            &text(s, ms),
            &text(s + SHIFT as u64, ms + 7),
            SHIFT,
            2
        ));
        // Different lengths are never read as times.
        assert!(!only_shifted_times(b"t=5", b"t=55", SHIFT, 2));
    }
}

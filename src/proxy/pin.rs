//! The dynamic pinning check: a fetch is pinned when its digest appears in
//! a file of the scenario's directory, in any of the forms lock files and
//! requirements write: SHA-256 hex (`--hash=sha256:…`, Cargo.lock), SRI
//! `sha256-`/`sha512-` base64 (npm `integrity`, Nix), or Nix base32.

use base64::Engine;
use std::path::Path;

/// Files larger than this are not lock files; they are not read.
const MAX_FILE: u64 = 32 << 20;
/// How many files of the scenario directory are read at most.
const MAX_FILES: usize = 10_000;

/// The forms a body's digests may be written in.
pub fn forms(sha256: &[u8], sha512: &[u8]) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    vec![
        super::cache::hex(sha256),
        b64.encode(sha256),
        b64.encode(sha512),
        nix_base32(sha256),
    ]
}

/// Nix's base32 (alphabet without e, o, u, t; least significant first).
pub fn nix_base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdfghijklmnpqrsvwxyz";
    let len = (bytes.len() * 8).div_ceil(5);
    (0..len)
        .rev()
        .map(|n| {
            let b = n * 5;
            let (i, j) = (b / 8, b % 8);
            let lo = u16::from(bytes[i]) >> j;
            let hi = bytes.get(i + 1).map_or(0, |&x| u16::from(x) << (8 - j));
            ALPHABET[usize::from((lo | hi) & 0x1f)] as char
        })
        .collect()
}

/// The text of every regular file under `dir` (not following symlinks out
/// of it, skipping `.git` and large files), for the digests to be looked for.
pub fn texts(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            if out.len() >= MAX_FILES {
                return out;
            }
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() && e.file_name() != ".git" {
                stack.push(e.path());
            } else if ft.is_file()
                && e.metadata().is_ok_and(|m| m.len() <= MAX_FILE)
                && let Ok(bytes) = std::fs::read(e.path())
            {
                out.push(String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    out
}

/// Whether any form of the digests appears in any of `texts`. Hex is
/// matched case-insensitively (some tools write it upper-case).
pub fn is_pinned(sha256: &[u8], sha512: &[u8], texts: &[String]) -> bool {
    let forms = forms(sha256, sha512);
    texts.iter().any(|t| {
        forms.iter().any(|f| t.contains(f.as_str()))
            || t.to_ascii_lowercase().contains(forms[0].as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256, Sha512};

    #[test]
    fn nix_base32_matches_nix() {
        // `nix hash to-base32 sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=`
        // (the SHA-256 of nothing).
        assert_eq!(
            nix_base32(&Sha256::digest(b"")),
            "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"
        );
    }

    #[test]
    fn each_form_pins_and_a_stranger_does_not() {
        let body = b"wheel bytes";
        let (s256, s512) = (Sha256::digest(body), Sha512::digest(body));
        let f = forms(&s256, &s512);
        let req = format!("flask==3.0.3 --hash=sha256:{}\n", f[0].to_uppercase());
        let lock = format!("\"integrity\": \"sha512-{}\"", f[2]);
        let sri = format!("hash = \"sha256-{}\";", f[1]);
        let nix = format!("sha256 = \"{}\";", f[3]);
        for text in [req, lock, sri, nix] {
            assert!(
                is_pinned(&s256, &s512, std::slice::from_ref(&text)),
                "{text}"
            );
        }
        let other = Sha256::digest(b"other");
        assert!(!is_pinned(
            &other,
            &Sha512::digest(b"other"),
            &[super::super::cache::hex(&s256)]
        ));
    }
}

//! The environment hash (SPEC §5): SHA-256 of a tree's NAR stream, in SRI
//! form, equal to `nix hash path`. Produces [`TreeHash`].
//!
//! Speed: SHA-256 of one stream is inherently serial, so the calling
//! thread does nothing else: worker threads walk the tree ahead of it
//! (see `nar`), and the bytes of large files are hashed on the calling
//! thread straight from mapped windows of the page cache (see `map`), so
//! they are neither copied nor moved from one core's cache to another's.

use super::map;
use super::nar::{self, NarSink};
use super::walk;
use super::{TreeError, TreeHash};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::path::Path;

/// The SHA-256 of `path`'s NAR serialisation as `sha256-<base64>`, the
/// same string `nix hash path PATH` prints, with file and byte counts.
///
/// `path` may be a directory, a regular file or a symlink (never
/// followed, dangling is fine). A missing root is [`TreeError::BadPath`];
/// fifos, sockets and devices are [`TreeError::SpecialFile`].
pub fn hash_path(path: &Path) -> Result<TreeHash, TreeError> {
    let (digest, files, bytes) = nar_sha256(path)?;
    Ok(TreeHash {
        sri: sri(&digest),
        files,
        bytes,
    })
}

/// Where a hash must stop: at `deadline`, or once the file contents read
/// pass `max_bytes` (sparse files count at their apparent size, as the NAR
/// holds them). Both `None`: no bound, as [`hash_path`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Bound {
    pub deadline: Option<std::time::Instant>,
    pub max_bytes: Option<u64>,
    /// The figure of `max_bytes` as the user set it, for the message.
    pub max_bytes_name: &'static str,
}

/// [`hash_path`] within `bound`: past it, [`TreeError::Stopped`] says which
/// bound and how far the hash got, within a megabyte of the bound.
pub fn hash_path_within(path: &Path, bound: Bound) -> Result<TreeHash, TreeError> {
    let kind = walk::root_kind(path)?;
    let mut sink = BoundedSink {
        hash: Sha256::new(),
        bound,
        read: 0,
        next_check: CHECK_EVERY,
        path,
    };
    let counts = nar::stream(path, kind, &mut sink, nar::workers())?;
    Ok(TreeHash {
        sri: sri(&sink.hash.finalize().into()),
        files: counts.files,
        bytes: counts.bytes,
    })
}

/// How many bytes pass between two looks at the clock.
const CHECK_EVERY: u64 = 1 << 20;

/// Sink hashing on the calling thread, within a `Bound`.
struct BoundedSink<'p> {
    hash: Sha256,
    bound: Bound,
    read: u64,
    next_check: u64,
    path: &'p Path,
}

impl NarSink for BoundedSink<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), TreeError> {
        self.hash.update(bytes);
        self.count(bytes.len())
    }

    fn put_mapped(&mut self, bytes: &[u8]) -> Result<(), TreeError> {
        map::hash_prefetched(&mut self.hash, bytes);
        self.count(bytes.len())
    }
}

impl BoundedSink<'_> {
    /// Count `n` more bytes, and stop past the bound.
    fn count(&mut self, n: usize) -> Result<(), TreeError> {
        self.read += n as u64;
        if self.read < self.next_check {
            return Ok(());
        }
        self.next_check = self.read + CHECK_EVERY;
        let stop = |reason: String| TreeError::Stopped {
            path: self.path.to_path_buf(),
            reason,
        };
        if let Some(max) = self.bound.max_bytes.filter(|m| self.read > *m) {
            return Err(stop(format!(
                "hashing stopped: the tree holds more than {} ({max} bytes), its {}",
                crate::sandbox::limits::format_size(max),
                self.bound.max_bytes_name
            )));
        }
        if self
            .bound
            .deadline
            .is_some_and(|d| std::time::Instant::now() >= d)
        {
            return Err(stop(format!(
                "hashing stopped at the scenario's deadline (its `timeout`) after {} MiB",
                self.read >> 20
            )));
        }
        Ok(())
    }
}

/// Hash two trees concurrently (one rayon task each), e.g. the outputs of
/// build A and build B.
pub fn hash_pair(a: &Path, b: &Path) -> (Result<TreeHash, TreeError>, Result<TreeHash, TreeError>) {
    rayon::join(|| hash_path(a), || hash_path(b))
}

/// The raw NAR SHA-256 of `path`, with the number of regular files and
/// symlinks and the bytes of file contents.
pub fn nar_sha256(path: &Path) -> Result<([u8; 32], u64, u64), TreeError> {
    hash_with(path, nar::workers())
}

/// [`nar_sha256`] with `workers` walking threads.
fn hash_with(path: &Path, workers: usize) -> Result<([u8; 32], u64, u64), TreeError> {
    let kind = walk::root_kind(path)?;
    let mut sink = HashSink(Sha256::new());
    let counts = nar::stream(path, kind, &mut sink, workers)?;
    Ok((sink.0.finalize().into(), counts.files, counts.bytes))
}

/// Sink hashing on the calling thread.
struct HashSink(Sha256);

impl NarSink for HashSink {
    fn put(&mut self, bytes: &[u8]) -> Result<(), TreeError> {
        self.0.update(bytes);
        Ok(())
    }

    fn put_mapped(&mut self, bytes: &[u8]) -> Result<(), TreeError> {
        map::hash_prefetched(&mut self.0, bytes);
        Ok(())
    }
}

/// `sha256-<base64 with padding>`, the SRI form Nix prints.
pub fn sri(digest: &[u8; 32]) -> String {
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Nix's own base-32 encoding (as in `sha256:<nix32>` from
/// `nix-store --query --hash`): alphabet without e, o, u, t, read from the
/// last 5-bit group of the little-endian digest to the first.
pub fn nix32(digest: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";
    if digest.is_empty() {
        return String::new();
    }
    let len = (digest.len() * 8 - 1) / 5 + 1;
    let mut out = String::with_capacity(len);
    for n in (0..len).rev() {
        let b = n * 5;
        let (i, j) = (b / 8, b % 8);
        let lo = digest[i] >> j;
        let hi = if i + 1 < digest.len() {
            // j == 0 would shift by 8; u16 keeps that defined.
            ((u16::from(digest[i + 1]) << (8 - j)) & 0xff) as u8
        } else {
            0
        };
        out.push(ALPHABET[usize::from((lo | hi) & 0x1f)] as char);
    }
    out
}

impl TreeHash {
    /// The raw digest, decoded from [`TreeHash::sri`].
    pub fn digest(&self) -> Option<[u8; 32]> {
        let b64 = self.sri.strip_prefix("sha256-")?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
        bytes.try_into().ok()
    }

    /// The hash as `nix-store --query --hash` prints it: `sha256:<nix32>`.
    pub fn nix_base32(&self) -> Option<String> {
        self.digest().map(|d| format!("sha256:{}", nix32(&d)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_bounded_hash_stops_at_its_size_or_deadline_and_matches_within() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::File::create(dir.path().join("sparse"))
            .and_then(|f| f.set_len(64 << 20))
            .expect("sparse");
        let unbounded = hash_path(dir.path()).expect("hash");
        let roomy = Bound {
            deadline: Some(std::time::Instant::now() + std::time::Duration::from_secs(3600)),
            max_bytes: Some(1 << 30),
            max_bytes_name: "limits.disk",
        };
        assert_eq!(
            hash_path_within(dir.path(), roomy).expect("within"),
            unbounded
        );
        let small = Bound {
            max_bytes: Some(16 << 20),
            ..roomy
        };
        match hash_path_within(dir.path(), small) {
            Err(TreeError::Stopped { reason, .. }) => assert_eq!(
                reason,
                "hashing stopped: the tree holds more than 16 MiB (16777216 bytes), its limits.disk"
            ),
            other => panic!("{other:?}"),
        }
        let late = Bound {
            deadline: Some(std::time::Instant::now()),
            ..roomy
        };
        match hash_path_within(dir.path(), late) {
            Err(TreeError::Stopped { reason, .. }) => assert!(
                reason.starts_with(
                    "hashing stopped at the scenario's deadline (its `timeout`) after "
                ),
                "{reason}"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sri_of_known_file_matches_nix() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"hi\n").unwrap();
        let h = hash_path(&f).unwrap();
        // Printed by `nix hash path` (Nix 2.8) for a file holding "hi\n".
        assert_eq!(h.sri, "sha256-EFUdrtf6Rn0LWIJufrmg8q99aT3jGfLvd1//zaJEufY=");
        assert_eq!((h.files, h.bytes), (1, 3));
    }

    #[test]
    fn nix32_known_vectors() {
        // sha256("") in Nix base-32, as `nix hash to-base32` prints it.
        let empty: [u8; 32] = Sha256::digest(b"").into();
        assert_eq!(
            nix32(&empty),
            "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"
        );
        assert_eq!(nix32(&[]), "");
        assert_eq!(nix32(&[0xff]), "7z");
        assert_eq!(nix32(&[0x01]), "01");
    }

    #[test]
    fn digest_and_nix_base32_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"hi\n").unwrap();
        let h = hash_path(&f).unwrap();
        let (digest, _, _) = nar_sha256(&f).unwrap();
        assert_eq!(h.digest(), Some(digest));
        assert_eq!(
            h.nix_base32().unwrap(),
            format!("sha256:{}", nix32(&digest))
        );
    }

    #[test]
    fn threaded_and_single_thread_hashes_agree() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("d")).unwrap();
        for i in 0..50 {
            let data = vec![i as u8; i * 20_011];
            std::fs::write(root.join("d").join(format!("f{i}")), data).unwrap();
        }
        symlink("d/f1", root.join("l")).unwrap();
        let (digest, files, bytes) = nar_sha256(root).unwrap();
        for workers in [0, 1, 3] {
            assert_eq!(hash_with(root, workers).unwrap(), (digest, files, bytes));
        }
        assert_eq!(files, 51);
        assert_eq!(bytes, (0..50u64).map(|i| i * 20_011).sum::<u64>());
        // And both equal SHA-256 of the NAR stream itself.
        let mut nar = Vec::new();
        super::super::write_nar(root, &mut nar).unwrap();
        let direct: [u8; 32] = Sha256::digest(&nar).into();
        assert_eq!(digest, direct);
    }

    #[test]
    fn hash_pair_reports_each_side() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, b"x").unwrap();
        let (ha, hb) = hash_pair(&a, &dir.path().join("missing"));
        assert_eq!(ha.unwrap(), hash_path(&a).unwrap());
        assert!(matches!(hb, Err(TreeError::BadPath { .. })));
    }

    #[test]
    fn error_inside_pipeline_is_returned_not_hung() {
        let dir = tempfile::tempdir().unwrap();
        // Enough data before the fifo that the pipeline is in full flow.
        std::fs::write(dir.path().join("a"), vec![1u8; 4 * nar::BLOCK]).unwrap();
        std::fs::create_dir(dir.path().join("z")).unwrap();
        nix::unistd::mkfifo(
            &dir.path().join("z/b"),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        let err = hash_path(dir.path()).unwrap_err();
        assert!(matches!(err, TreeError::SpecialFile { kind: "fifo", .. }));
    }
}

//! The environment hash (SPEC §5): SHA-256 of a tree's NAR stream, in SRI
//! form, equal to `nix hash path`. Produces [`TreeHash`].
//!
//! Speed: one thread walks the tree and reads files straight into 256 KiB
//! blocks of NAR bytes (all the syscalls), while the calling thread only
//! feeds those blocks to SHA-256. SHA-256 of one stream is inherently
//! serial, so this two-stage pipeline is the whole available parallelism.

use super::nar::{BLOCK, Block, BlockSink, NarWriter};
use super::walk::{self, Kind};
use super::{TreeError, TreeHash};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};

/// Blocks in flight between the reader and the hasher: enough to absorb a
/// burst of small files, little enough memory (2 MiB).
const BLOCKS_IN_FLIGHT: usize = 8;

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

/// Hash two trees concurrently (one rayon task each), e.g. the outputs of
/// build A and build B.
pub fn hash_pair(a: &Path, b: &Path) -> (Result<TreeHash, TreeError>, Result<TreeHash, TreeError>) {
    rayon::join(|| hash_path(a), || hash_path(b))
}

/// The raw NAR SHA-256 of `path`, with the number of regular files and
/// symlinks and the bytes of file contents.
pub fn nar_sha256(path: &Path) -> Result<([u8; 32], u64, u64), TreeError> {
    let kind = walk::root_kind(path)?;
    // A lone symlink or small file gains nothing from a reader thread.
    let small = match kind {
        Kind::Symlink => true,
        Kind::Regular => std::fs::symlink_metadata(path).is_ok_and(|m| m.len() < BLOCK as u64),
        Kind::Directory => false,
    };
    if small {
        return hash_inline(path, kind);
    }
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = sync_channel::<Block>(BLOCKS_IN_FLIGHT);
        let (free_tx, free_rx) = sync_channel::<Block>(BLOCKS_IN_FLIGHT + 1);
        let reader = std::thread::Builder::new()
            .name("envtwin-nar".into())
            .spawn_scoped(scope, move || {
                let sink = ChannelSink {
                    full: full_tx,
                    free: free_rx,
                    allocated: 1,
                };
                let mut nar = NarWriter::new(sink, Block::new());
                nar.archive(path, kind)?;
                let (files, bytes) = (nar.files, nar.bytes);
                nar.finish()?;
                Ok::<_, TreeError>((files, bytes))
            });
        let reader = match reader {
            Ok(handle) => handle,
            // No thread to be had: do it all here, just slower.
            Err(_) => return hash_inline(path, kind),
        };
        let mut hasher = Sha256::new();
        for mut block in full_rx {
            hasher.update(block.filled());
            block.len = 0;
            // The reader may have finished and dropped its receiver.
            let _ = free_tx.send(block);
        }
        drop(free_tx);
        let (files, bytes) = match reader.join() {
            Ok(result) => result?,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        Ok((hasher.finalize().into(), files, bytes))
    })
}

/// Hash on the calling thread only.
fn hash_inline(path: &Path, kind: Kind) -> Result<([u8; 32], u64, u64), TreeError> {
    let mut nar = NarWriter::new(HashSink(Sha256::new()), Block::new());
    nar.archive(path, kind)?;
    let (files, bytes) = (nar.files, nar.bytes);
    let HashSink(hasher) = nar.finish()?;
    Ok((hasher.finalize().into(), files, bytes))
}

/// Sink hashing blocks on the writer's own thread.
struct HashSink(Sha256);

impl BlockSink for HashSink {
    fn consume(&mut self, mut block: Block) -> Result<Block, TreeError> {
        self.0.update(block.filled());
        block.len = 0;
        Ok(block)
    }

    fn finish(&mut self, block: Block) -> Result<(), TreeError> {
        self.0.update(block.filled());
        Ok(())
    }
}

/// Sink passing blocks to the hashing thread and recycling its empties.
struct ChannelSink {
    full: SyncSender<Block>,
    free: Receiver<Block>,
    allocated: usize,
}

impl ChannelSink {
    fn gone() -> TreeError {
        TreeError::Write {
            source: std::io::Error::other("the hashing thread stopped"),
        }
    }
}

impl BlockSink for ChannelSink {
    fn consume(&mut self, block: Block) -> Result<Block, TreeError> {
        self.full.send(block).map_err(|_| Self::gone())?;
        match self.free.try_recv() {
            Ok(block) => Ok(block),
            Err(TryRecvError::Empty) if self.allocated < BLOCKS_IN_FLIGHT => {
                self.allocated += 1;
                Ok(Block::new())
            }
            Err(_) => self.free.recv().map_err(|_| Self::gone()),
        }
    }

    fn finish(&mut self, block: Block) -> Result<(), TreeError> {
        self.full.send(block).map_err(|_| Self::gone())
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
    fn pipelined_and_inline_hashes_agree() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("d")).unwrap();
        for i in 0..50 {
            let data = vec![i as u8; i * 20_011];
            std::fs::write(root.join("d").join(format!("f{i}")), data).unwrap();
        }
        symlink("d/f1", root.join("l")).unwrap();
        let (digest, files, bytes) = nar_sha256(root).unwrap();
        let inline = hash_inline(root, Kind::Directory).unwrap();
        assert_eq!((digest, files, bytes), inline);
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
        std::fs::write(dir.path().join("a"), vec![1u8; 4 * BLOCK]).unwrap();
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

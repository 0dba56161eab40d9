//! Trees on disk: NAR serialisation and hash (SPEC §5), per-file manifest and diff.
//!
//! Main entry points: [`hash_path`] -> [`TreeHash`], [`write_nar`],
//! [`manifest`] -> [`Manifest`], [`diff_trees`] -> [`Difference`]s, each
//! with a [`Detail`] from [`explain`] showing the change.
//! Nothing here follows a symlink or opens anything but regular files and
//! directories, so a fifo in a tree is an error, never a hang.

mod diff;
pub mod explain;
mod hash;
mod manifest;
mod map;
mod modes;
mod nar;
#[cfg(test)]
mod tests;
mod walk;

pub use diff::{diff_differing, diff_manifests, diff_trees};
pub use explain::{Detail, explain_differences};
pub use hash::{Bound, hash_pair, hash_path, hash_path_within, nar_sha256, nix32, sri};
pub use manifest::{Entry, EntryKind, Manifest, escape_name, file_sha256, manifest};
pub use modes::{Modes, diff_modes, modes};
pub use nar::write_nar;

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Errors reading a tree.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// The path given does not exist / cannot be read (a usage error, exit 2).
    #[error("{path}: {source}")]
    BadPath {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A fifo, socket or device inside a tree: NAR cannot represent it.
    #[error(
        "{path}: is a {kind}; an environment tree may hold only regular files, directories and symlinks"
    )]
    SpecialFile { path: PathBuf, kind: &'static str },
    /// I/O error while reading inside the tree (exit 3).
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Writing the NAR stream to its destination failed (e.g. a closed
    /// pipe under `envtwin hash --nar | head`; exit 3).
    #[error("writing the NAR stream: {source}")]
    Write { source: std::io::Error },
    /// Hashing stopped at a bound (a deadline, a size): the tree is not
    /// judged (exit 1 where it stands alone).
    #[error("{path}: {reason}")]
    Stopped { path: PathBuf, reason: String },
}

/// The environment hash of a tree and its size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TreeHash {
    /// `sha256-<base64>` of the NAR serialisation.
    pub sri: String,
    /// Number of regular files and symlinks.
    pub files: u64,
    /// Total bytes of regular file contents.
    pub bytes: u64,
}

/// What kind of difference a path shows between tree A and tree B.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffKind {
    /// Regular file on both sides, contents differ (the executable bit may
    /// differ too; the descriptions show it).
    Content,
    /// Different types (regular, symlink, directory); nothing beneath the
    /// path is listed.
    Type,
    /// Same contents, only the owner-execute bit differs.
    Executable,
    /// Symlink on both sides, targets differ.
    SymlinkTarget,
    /// Present in A only; nothing beneath the path is listed.
    OnlyInA,
    /// Present in B only; nothing beneath the path is listed.
    OnlyInB,
    /// Same contents, the mode bits differ (`compare: strict`, or a note
    /// under `nar`, whose hash ignores them).
    Mode,
}

impl DiffKind {
    /// The name used in reports and JSON (`content`, `only_in_a`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DiffKind::Content => "content",
            DiffKind::Type => "type",
            DiffKind::Executable => "executable",
            DiffKind::SymlinkTarget => "symlink_target",
            DiffKind::OnlyInA => "only_in_a",
            DiffKind::OnlyInB => "only_in_b",
            DiffKind::Mode => "mode",
        }
    }
}

/// One differing path, relative to the tree roots ("" is the root itself),
/// keyed as in a [`Manifest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    pub path: String,
    pub kind: DiffKind,
    /// Short description of side A, `None` if absent there, e.g.
    /// `regular, 12 bytes, sha256 ab12cd34ef56…`, `executable, …`,
    /// `symlink -> target`, `directory, 3 entries`.
    pub a: Option<String>,
    /// Short description of side B, as for `a`.
    pub b: Option<String>,
    /// Variations that alone change this path (culprit search), if known.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub culprits: Vec<String>,
    /// This path differs even when B has no variation (culprit search).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub inherent: bool,
    /// For an archive: the culprits of each differing member, so that one
    /// member that differs inherently does not hide a variation in others.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub members: Vec<MemberCulprits>,
    /// What changed inside (a line diff, a hex window, archive members)
    /// and hints at the cause; filled by [`explain_differences`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Detail>,
}

/// The culprit search's answer for one differing archive member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberCulprits {
    /// As in the archive detail, e.g. `pkg.whl!pkg/__init__.py`.
    pub member: String,
    /// What differs about it, e.g. `permissions`, `content`, `timestamp`.
    pub change: String,
    /// Variations that alone change it this way.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub culprits: Vec<String>,
    /// It changes this way even when B has no variation.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub inherent: bool,
}

#[cfg(test)]
mod kind_tests {
    use super::DiffKind;

    #[test]
    fn kind_names_are_the_json_names() {
        for k in [
            DiffKind::Content,
            DiffKind::Type,
            DiffKind::Executable,
            DiffKind::SymlinkTarget,
            DiffKind::OnlyInA,
            DiffKind::OnlyInB,
            DiffKind::Mode,
        ] {
            assert_eq!(serde_json::to_value(k).expect("json"), k.name());
        }
    }
}

//! Explaining a difference (issue 4, part 3): for two files whose contents
//! differ, a size-capped [`Detail`] showing the change — a unified diff for
//! text, an offset and hex window for binary files, member by member for
//! archives — with hints where the change looks like a known cause.
//!
//! [`explain`] is a pure function of the two paths and a [`Context`];
//! [`explain_differences`] fills [`Difference::detail`] for a list of
//! differences. Nothing here runs unless two trees' hashes already differ,
//! and then only for the paths that differ.

mod archive;
mod binary;
mod hints;
#[cfg(test)]
mod tests;
mod text;

pub use hints::Context;

use super::{DiffKind, Difference};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::io::{Read, Seek};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Files up to this size are read whole and diffed as text when they are
/// text; larger ones only get the binary explanation, read in blocks.
const TEXT_LIMIT: u64 = 8 << 20;
/// At most this many differences of one list are explained: the report
/// caps what it shows anyway, and a tree where everything differs should
/// not cost a line diff per file.
pub const MAX_EXPLAINED: usize = 200;
/// Archives nested deeper than this (a jar in a zip in a tar) are compared
/// as plain bytes.
const MAX_DEPTH: usize = 3;

/// How the contents of a differing file differ, capped in size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detail {
    /// The explanation proper; serialised inline with a `format` tag.
    #[serde(flatten)]
    pub body: Body,
    /// Known causes the change looks like, e.g. `looks like a timestamp
    /// (1795687009 = 2026-11-26T09:56:49Z, in B)`.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub hints: Vec<String>,
}

/// What kind of explanation a [`Detail`] holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "snake_case")]
pub enum Body {
    /// Both sides are text: UTF-8 without NUL bytes, or ISO-8859-1 (see
    /// [`TextDetail::encoding`]).
    Text(TextDetail),
    /// Anything else that is not an archive both sides can read.
    Binary(BinaryDetail),
    /// Both sides are archives of the same format, compared member by member.
    Archive(ArchiveDetail),
    /// Symlink targets or file names: only hints to add.
    Name,
    /// The files could not be read (gone, unreadable).
    Unreadable {
        /// Why, e.g. `lib/x: Permission denied (os error 13)`.
        reason: String,
    },
}

/// A unified diff of the differing lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextDetail {
    /// Hunks (`@@ -l,n +l,n @@` then ` `, `-`, `+` lines), with 3 lines
    /// of context, cut to 40 lines / 4 KiB; long lines are cut too.
    pub diff: String,
    /// Lines only in A (the `-` lines), counted over the whole diff.
    pub removed: usize,
    /// Lines only in B (the `+` lines), counted over the whole diff.
    pub added: usize,
    /// What was cut from `diff`, if anything, e.g. `52 more lines not shown`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<String>,
    /// When a side is not UTF-8 but was read as ISO-8859-1, e.g.
    /// `ISO-8859-1 (both sides), shown decoded`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
}

/// Where two binary files first differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinaryDetail {
    /// Size of A in bytes.
    pub size_a: u64,
    /// Size of B in bytes.
    pub size_b: u64,
    /// Offset of the first differing byte (the shorter size when one file
    /// is a prefix of the other).
    pub first_difference: u64,
    /// Offset where `hex_a` and `hex_b` start.
    pub window_offset: u64,
    /// Up to 32 bytes of A from `window_offset`, as space-separated hex.
    pub hex_a: String,
    /// The same window of B.
    pub hex_b: String,
    /// Why there is no finer explanation, e.g. an archive that would not open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Two archives compared member by member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveDetail {
    /// `zip`, `tar`, `ar` (also `.deb`), `tar.gz`, `tar.xz`, `tar.zst`,
    /// `tar.bz2`, `gzip`, `xz`, `zstd` or `bzip2`.
    pub archive: String,
    /// What differs, by class: archive-wide entries (order, compression
    /// header) first, then content changes, then members added, removed or
    /// renamed, then metadata (times, modes, owners); in A's order within a
    /// class. Each class is capped on its own (50; metadata 20), so
    /// timestamps cannot crowd out a changed file.
    pub members: Vec<MemberDiff>,
    /// How many further member differences were left out, if any (the sum
    /// of `omitted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more: Option<usize>,
    /// What was left out, per class, in listing order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub omitted: Vec<Omitted>,
    /// Limits hit while reading, e.g. `stopped after 256 MiB decompressed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Member differences of one class left out of an [`ArchiveDetail`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Omitted {
    /// `content`, `added or removed`, `metadata` or `archive-wide`.
    pub class: String,
    /// How many were left out.
    pub count: usize,
}

/// One way an archive member (or the archive itself) differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberDiff {
    /// `bundle.zip!stamped.txt`, nested as `a.tar.gz!lib/b.jar!C.class`;
    /// the bare archive name for archive-wide entries.
    pub member: String,
    /// What differs.
    pub kind: MemberChange,
    /// Side A, e.g. `2026-11-26 10:00:00`, `0644`, `12 bytes, sha256 …`.
    pub a: Option<String>,
    /// Side B, as for `a`.
    pub b: Option<String>,
    /// For `content`: the member's own explanation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Box<Detail>>,
}

/// What differs about an archive member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberChange {
    Content,
    /// Modification time recorded in the archive.
    Timestamp,
    /// Mode bits.
    Permissions,
    /// Owner or group (tar).
    Owner,
    /// File, directory, symlink…
    Type,
    /// Symlink or hard-link target.
    LinkTarget,
    /// The members common to both sides are stored in a different order.
    Order,
    OnlyInA,
    OnlyInB,
    /// The same member under another name: `a` and `b` are the two names
    /// (identical content, or near-identical with its own `detail`).
    Renamed,
    /// Other recorded metadata: compression method, gzip header name or OS.
    Metadata,
    /// Every member is the same; the bytes of the container differ.
    Encoding,
}

/// Explain how regular files `a` and `b` differ. Never fails: what cannot
/// be read is said in the [`Detail`].
pub fn explain(a: &Path, b: &Path, ctx: &Context) -> Detail {
    explain_from(a, b, ctx, None)
}

/// [`explain`], given the offset of the first differing byte when the
/// caller already found it (the tree diff does), so that a large file is
/// not read again up to there.
pub fn explain_from(a: &Path, b: &Path, ctx: &Context, first: Option<u64>) -> Detail {
    let name = a
        .file_name()
        .map(|n| String::from_utf8_lossy(n.as_bytes()).into_owned())
        .unwrap_or_default();
    // The files' own mtimes are build times too: this also catches kept
    // trees compared days later with `envtwin diff`.
    let mut ctx = ctx.clone();
    for p in [a, b] {
        if let Some(t) = std::fs::metadata(p)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        {
            ctx.times.push(t.as_secs() as i64);
        }
    }
    match try_explain(&name, Side::File(a), Side::File(b), &ctx, 0, first) {
        Ok(d) => d,
        Err(reason) => Detail {
            body: Body::Unreadable { reason },
            hints: Vec::new(),
        },
    }
}

/// Hints for a symlink whose target changed, if the targets show a cause.
pub fn explain_symlinks(a: &Path, b: &Path, ctx: &Context) -> Option<Detail> {
    let ta = std::fs::read_link(a).ok()?;
    let tb = std::fs::read_link(b).ok()?;
    let (ta, tb) = (
        String::from_utf8_lossy(ta.as_os_str().as_bytes()),
        String::from_utf8_lossy(tb.as_os_str().as_bytes()),
    );
    let mut h = hints::Hints::default();
    h.scan(ctx, &ta, &tb, &[(&ta, &tb)]);
    hints_only(h)
}

/// Hints for a path present on one side only, if its name shows a cause
/// (e.g. `build-1795687009.log`).
pub fn explain_name(key: &str, in_a: bool, ctx: &Context) -> Option<Detail> {
    let mut h = hints::Hints::default();
    let (a, b) = if in_a { (key, "") } else { ("", key) };
    h.scan(ctx, a, b, &[]);
    hints_only(h)
}

/// Hints for two octal modes (`0644`, `0664`) of the same path, if they
/// differ the way umasks make them.
pub fn explain_modes(a: Option<&str>, b: Option<&str>) -> Option<Detail> {
    let parse = |m: Option<&str>| m.and_then(|m| u32::from_str_radix(m, 8).ok());
    let (ma, mb) = (parse(a)?, parse(b)?);
    let mut h = hints::Hints::default();
    h.mode_pair(ma, mb, a?, b?);
    hints_only(h)
}

fn hints_only(h: hints::Hints) -> Option<Detail> {
    let hints = h.into_vec();
    (!hints.is_empty()).then_some(Detail {
        body: Body::Name,
        hints,
    })
}

/// Fill `detail` of the first [`MAX_EXPLAINED`] explainable differences
/// between trees rooted at `root_a` and `root_b` (keys as in a manifest),
/// in parallel. Content differences get a full explanation; symlink targets
/// and one-sided paths get one only when a hint applies.
pub fn explain_differences(diffs: &mut [Difference], root_a: &Path, root_b: &Path) {
    explain_known(diffs, root_a, root_b, &[], &Context::sandbox());
}

/// [`explain_differences`], where `first[i]`, if given, is the offset of
/// the first differing byte of `diffs[i]` (a content difference). A
/// difference whose `detail` is already set counts to the cap as it
/// stands; a content difference past the cap loses one set early.
pub(crate) fn explain_known(
    diffs: &mut [Difference],
    root_a: &Path,
    root_b: &Path,
    first: &[Option<u64>],
    ctx: &Context,
) {
    let mut content = 0;
    let todo: Vec<(Option<u64>, &mut Difference)> = diffs
        .iter_mut()
        .enumerate()
        .map(|(i, d)| (first.get(i).copied().flatten(), d))
        .filter_map(|(first, d)| {
            // Only content costs real work (reading both files); names and
            // link targets are cheap, so only content counts to the cap.
            content += usize::from(d.kind == DiffKind::Content);
            if d.kind == DiffKind::Content && content > MAX_EXPLAINED {
                d.detail = None;
                return None;
            }
            d.detail.is_none().then_some((first, d))
        })
        .collect();
    todo.into_par_iter().for_each(|(first, d)| {
        let (pa, pb) = (key_path(root_a, &d.path), key_path(root_b, &d.path));
        d.detail = match d.kind {
            DiffKind::Content => Some(explain_from(&pa, &pb, ctx, first)),
            DiffKind::SymlinkTarget => explain_symlinks(&pa, &pb, ctx),
            DiffKind::OnlyInA => explain_name(&d.path, true, ctx),
            DiffKind::OnlyInB => explain_name(&d.path, false, ctx),
            DiffKind::Mode => explain_modes(d.a.as_deref(), d.b.as_deref()),
            DiffKind::Type | DiffKind::Executable => None,
        };
    });
}

/// The host path of manifest key `key` under `root`: keys escape bytes that
/// are not UTF-8 as `\xNN` and a backslash as `\\` (see `escape_name`).
pub fn key_path(root: &Path, key: &str) -> PathBuf {
    if key.is_empty() {
        return root.to_path_buf();
    }
    let mut bytes = Vec::with_capacity(key.len());
    let mut rest = key.as_bytes();
    while let Some((&c, tail)) = rest.split_first() {
        if c == b'\\' {
            if let [b'\\', more @ ..] = tail {
                bytes.push(b'\\');
                rest = more;
                continue;
            }
            if let [b'x', h, l, more @ ..] = tail
                && let Ok(v) = u8::from_str_radix(&String::from_utf8_lossy(&[*h, *l]), 16)
            {
                bytes.push(v);
                rest = more;
                continue;
            }
        }
        bytes.push(c);
        rest = tail;
    }
    root.join(std::ffi::OsStr::from_bytes(&bytes))
}

/// One side of a comparison: a file on disk, or bytes already in memory
/// (an archive member).
#[derive(Clone, Copy)]
enum Side<'a> {
    File(&'a Path),
    Bytes(&'a [u8]),
}

/// Something an archive reader can read and seek.
trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

impl<'a> Side<'a> {
    fn len(&self) -> std::io::Result<u64> {
        match self {
            Side::File(p) => Ok(std::fs::metadata(p)?.len()),
            Side::Bytes(b) => Ok(b.len() as u64),
        }
    }

    fn open(&self) -> std::io::Result<Box<dyn ReadSeek + 'a>> {
        match *self {
            Side::File(p) => Ok(Box::new(std::fs::File::open(p)?)),
            Side::Bytes(b) => Ok(Box::new(std::io::Cursor::new(b))),
        }
    }

    /// The first `n` bytes (fewer if the file is shorter).
    fn head(&self, n: usize) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(n);
        self.open()?.take(n as u64).read_to_end(&mut out)?;
        Ok(out)
    }

    /// The whole contents.
    fn load(&self) -> std::io::Result<Cow<'a, [u8]>> {
        match *self {
            Side::File(p) => std::fs::read(p).map(Cow::Owned),
            Side::Bytes(b) => Ok(Cow::Borrowed(b)),
        }
    }

    fn describe_err(&self, e: &std::io::Error) -> String {
        match self {
            Side::File(p) => format!("{}: {e}", p.display()),
            Side::Bytes(_) => e.to_string(),
        }
    }
}

/// The explanation of `a` vs `b`, named `name` (archive members are named
/// `name!member`), `depth` archives deep.
fn explain_sides(name: &str, a: Side<'_>, b: Side<'_>, ctx: &Context, depth: usize) -> Detail {
    match try_explain(name, a, b, ctx, depth, None) {
        Ok(d) => d,
        Err(reason) => Detail {
            body: Body::Unreadable { reason },
            hints: Vec::new(),
        },
    }
}

fn try_explain(
    name: &str,
    a: Side<'_>,
    b: Side<'_>,
    ctx: &Context,
    depth: usize,
    first: Option<u64>,
) -> Result<Detail, String> {
    let (ha, hb) = (
        a.head(archive::SNIFF).map_err(|e| a.describe_err(&e))?,
        b.head(archive::SNIFF).map_err(|e| b.describe_err(&e))?,
    );
    let mut note = None;
    if depth < MAX_DEPTH
        && let (Some(fa), Some(fb)) = (
            archive::sniff(&ha).or_else(|| archive::sniff_tail(a)),
            archive::sniff(&hb).or_else(|| archive::sniff_tail(b)),
        )
        && fa == fb
    {
        match archive::compare(name, fa, a, b, ctx, depth) {
            Ok(d) => return Ok(d),
            Err(e) => note = Some(format!("not compared as {}: {e}", fa.name())),
        }
    }
    let (la, lb) = (
        a.len().map_err(|e| a.describe_err(&e))?,
        b.len().map_err(|e| b.describe_err(&e))?,
    );
    if la > TEXT_LIMIT || lb > TEXT_LIMIT {
        let mut d = binary::streamed(a, b, first).map_err(|e| e.to_string())?;
        d.note = note.or_else(|| Some("too large for a line diff".into()));
        let mut h = hints::Hints::default();
        binary::telltale_offsets_streamed(a, b, ctx, &mut h);
        binary::hints_streamed(&d, a, b, ctx, &mut h);
        return Ok(Detail {
            body: Body::Binary(d),
            hints: h.into_vec(),
        });
    }
    let (ca, cb) = (
        a.load().map_err(|e| a.describe_err(&e))?,
        b.load().map_err(|e| b.describe_err(&e))?,
    );
    let mut d = plain(&ca, &cb, note, ctx);
    if let Body::Binary(bin) = &d.body {
        let mut h = hints::Hints::default();
        binary::pyc_header(name, bin, &ca, &cb, &mut h);
        binary::telltale_offsets(&ca, &cb, ctx, &mut h);
        // The whole-file findings name the cause; they go first.
        let mut found = h.into_vec();
        found.retain(|x| !d.hints.contains(x));
        found.append(&mut d.hints);
        d.hints = found;
    }
    Ok(d)
}

/// Text or binary explanation of two contents in memory.
fn plain(a: &[u8], b: &[u8], note: Option<String>, ctx: &Context) -> Detail {
    let mut h = hints::Hints::default();
    if let Some((ta, tb, encoding)) = text::decode(a, b) {
        let mut d = text::diff(&ta, &tb, ctx, &mut h);
        d.encoding = encoding;
        return Detail {
            body: Body::Text(d),
            hints: h.into_vec(),
        };
    }
    let mut d = binary::in_memory(a, b);
    d.note = note;
    binary::hints(&d, a, b, ctx, &mut h);
    Detail {
        body: Body::Binary(d),
        hints: h.into_vec(),
    }
}

/// The binary explanation of `a` and `b` whatever they hold (the bytes of
/// two archives whose members are all the same).
fn raw_binary(a: Side<'_>, b: Side<'_>, ctx: &Context) -> Detail {
    let mut h = hints::Hints::default();
    let small = |s: Side<'_>| s.len().is_ok_and(|n| n <= TEXT_LIMIT);
    let d = if small(a) && small(b) {
        match (a.load(), b.load()) {
            (Ok(x), Ok(y)) => {
                let d = binary::in_memory(&x, &y);
                binary::hints(&d, &x, &y, ctx, &mut h);
                Ok(d)
            }
            (Err(e), _) => Err(a.describe_err(&e)),
            (_, Err(e)) => Err(b.describe_err(&e)),
        }
    } else {
        binary::streamed(a, b, None)
            .inspect(|d| binary::hints_streamed(d, a, b, ctx, &mut h))
            .map_err(|e| e.to_string())
    };
    Detail {
        body: match d {
            Ok(d) => Body::Binary(d),
            Err(reason) => Body::Unreadable { reason },
        },
        hints: h.into_vec(),
    }
}

/// `n bytes`, with the unit singular for 1.
fn bytes(n: u64) -> String {
    format!("{n} byte{}", if n == 1 { "" } else { "s" })
}

//! Archives compared member by member: zip (also wheels, jars, omni.ja),
//! tar, ar (also `.deb`), and tar or single files compressed with gzip, xz,
//! zstd or bzip2. A difference names
//! the member (`bundle.zip!stamped.txt`) and what differs in it; a member
//! whose content differs gets its own [`Detail`], recursively.
//!
//! Input is untrusted: decompressed bytes, kept member contents and member
//! counts are all capped, so a bomb costs bounded time and memory.

use super::hints::{Context, Hints, iso};
use super::{ArchiveDetail, Body, Detail, MemberChange, MemberDiff, Omitted, ReadSeek, Side};
use sha2::{Digest, Sha256};
use std::cell::Cell;
use std::collections::HashMap;
use std::io::{Cursor, Read, Seek};

/// Bytes read from the start of a file to recognise its format (tar's
/// magic sits at 257).
pub(super) const SNIFF: usize = 512;
/// Decompressed bytes read per side before giving up on the rest.
const MAX_DECOMPRESSED: u64 = 256 << 20;
/// Member contents kept per side for explaining changed members.
const MAX_KEPT: u64 = 32 << 20;
/// Members read per side.
const MAX_MEMBERS: usize = 100_000;
/// Member differences listed in a detail, per class (see [`Class`]): a
/// class with many entries (every timestamp) cannot crowd out another.
const MAX_LISTED: usize = 50;
/// Metadata differences listed in a detail: fewer, since they mostly say
/// the same thing member after member.
const MAX_LISTED_METADATA: usize = 20;
/// Changed members explained in detail (each is itself capped).
const MAX_EXPLAINED: usize = 10;
/// Memory the xz decoder may use; a header asking for more is refused.
const XZ_MEMLIMIT: u64 = 256 << 20;

/// An archive format, recognised by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Zip,
    Tar,
    /// Unix `ar`, also `.deb` packages (whose members are tars).
    Ar,
    Gzip,
    Xz,
    Zstd,
    Bzip2,
}

impl Format {
    pub(super) fn name(self) -> &'static str {
        match self {
            Format::Zip => "zip",
            Format::Tar => "tar",
            Format::Gzip => "gzip",
            Format::Xz => "xz",
            Format::Zstd => "zstd",
            Format::Ar => "ar",
            Format::Bzip2 => "bzip2",
        }
    }

    /// The name of a tar inside this compression.
    fn tar_name(self) -> &'static str {
        match self {
            Format::Gzip => "tar.gz",
            Format::Xz => "tar.xz",
            Format::Zstd => "tar.zst",
            Format::Bzip2 => "tar.bz2",
            Format::Zip | Format::Tar | Format::Ar => "tar",
        }
    }
}

/// The archive format of a file starting with `head`, if any. Magic bytes,
/// not names, decide: a wheel or a jar is a zip, a `.tgz` is gzip.
pub(super) fn sniff(head: &[u8]) -> Option<Format> {
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Some(Format::Zip)
    } else if head.starts_with(&[0x1f, 0x8b]) {
        Some(Format::Gzip)
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Some(Format::Xz)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Format::Zstd)
    } else if head.starts_with(b"!<arch>\n") {
        Some(Format::Ar)
    } else if head.len() >= 4 && head.starts_with(b"BZh") && (b'1'..=b'9').contains(&head[3]) {
        Some(Format::Bzip2)
    } else if is_tar(head) {
        Some(Format::Tar)
    } else {
        None
    }
}

/// A zip recognised by its end-of-central-directory record, as zip readers
/// find it: in the last 64 KiB + 22 bytes, with a comment length that ends
/// exactly at the end of the file. This catches zips that do not start with
/// a local header, such as Mozilla's omni.ja with its central directory
/// first.
pub(super) fn sniff_tail(side: Side<'_>) -> Option<Format> {
    const EOCD: usize = 22;
    let len = side.len().ok()?;
    let want = len.min((EOCD + u16::MAX as usize) as u64);
    let mut r = side.open().ok()?;
    r.seek(std::io::SeekFrom::Start(len - want)).ok()?;
    let mut tail = Vec::with_capacity(want as usize);
    r.take(want).read_to_end(&mut tail).ok()?;
    let found = (0..=tail.len().checked_sub(EOCD)?).rev().any(|p| {
        tail[p..p + 4] == *b"PK\x05\x06"
            && usize::from(u16::from_le_bytes([tail[p + 20], tail[p + 21]]))
                == tail.len() - p - EOCD
    });
    found.then_some(Format::Zip)
}

/// POSIX (`ustar\0`) and GNU (`ustar `) tar headers carry this magic.
fn is_tar(head: &[u8]) -> bool {
    head.get(257..262) == Some(b"ustar")
}

/// One member as read from an archive.
#[derive(Debug)]
struct Member {
    name: String,
    /// `file`, `directory`, `symlink`, `hard link`, …
    kind: &'static str,
    link: Option<String>,
    mode: Option<u32>,
    /// As shown, e.g. `2026-11-26 10:00:00` (zip) or `1795687009 (2026-…Z)`.
    mtime: Option<String>,
    /// The same in epoch seconds, for hints.
    mtime_epoch: Option<i64>,
    owner: Option<String>,
    uid: Option<u64>,
    /// Other recorded metadata, e.g. the zip compression method.
    meta: Option<String>,
    /// Times kept in extra fields (zip `UT`), as shown, naming the field.
    extra_times: Option<String>,
    size: u64,
    sha256: [u8; 32],
    /// The contents, when within [`MAX_KEPT`].
    content: Option<Vec<u8>>,
}

/// The members of one side, and what limits cut short.
#[derive(Debug, Default)]
struct Listing {
    members: Vec<Member>,
    note: Option<String>,
}

/// A reader that fails once `left` reaches 0: each decompressed byte
/// counts against [`MAX_DECOMPRESSED`].
struct Capped<'b, R> {
    inner: R,
    left: &'b Cell<u64>,
}

impl<R: Read> Read for Capped<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.left.get();
        if left == 0 {
            let mut one = [0u8; 1];
            return match self.inner.read(&mut one)? {
                0 => Ok(0),
                _ => Err(std::io::Error::other(format!(
                    "more than {} MiB decompressed",
                    MAX_DECOMPRESSED >> 20
                ))),
            };
        }
        let max = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        self.left.set(left - n as u64);
        Ok(n)
    }
}

/// Compare two archives of format `fmt` named `name`.
pub(super) fn compare(
    name: &str,
    fmt: Format,
    a: Side<'_>,
    b: Side<'_>,
    ctx: &Context,
    depth: usize,
) -> Result<Detail, String> {
    let mut h = Hints::default();
    let mut out = Vec::new();
    let (label, la, lb) = match fmt {
        Format::Zip => ("zip".to_string(), read_zip(open(a)?)?, read_zip(open(b)?)?),
        Format::Tar => ("tar".to_string(), read_tar(open(a)?)?, read_tar(open(b)?)?),
        Format::Ar => ("ar".to_string(), read_ar(open(a)?)?, read_ar(open(b)?)?),
        Format::Gzip | Format::Xz | Format::Zstd | Format::Bzip2 => {
            if fmt == Format::Gzip {
                gzip_headers(name, a, b, ctx, &mut out, &mut h)?;
            }
            let (pa, da) = peek(decoder(fmt, open(a)?)?)?;
            let (pb, db) = peek(decoder(fmt, open(b)?)?)?;
            if is_tar(&pa) && is_tar(&pb) {
                (
                    fmt.tar_name().to_string(),
                    read_tar(Cursor::new(pa).chain(da))?,
                    read_tar(Cursor::new(pb).chain(db))?,
                )
            } else {
                let inner = inner_name(name, fmt, a);
                (
                    fmt.name().to_string(),
                    single(&inner, Cursor::new(pa).chain(da))?,
                    single(&inner, Cursor::new(pb).chain(db))?,
                )
            }
        }
    };
    diff_listings(name, &label, (&la, &lb), ctx, depth, &mut out, &mut h);
    if out.is_empty() {
        // Same members, same metadata: the compression or the container's
        // own bytes (extra fields, padding, central directory) differ.
        out.push(MemberDiff {
            member: name.to_string(),
            kind: MemberChange::Encoding,
            a: None,
            b: None,
            detail: Some(Box::new(super::raw_binary(a, b, ctx))),
        });
        h.push(format!(
            "every member is the same: only the {label} encoding differs (compression level or tool version, or metadata this comparison does not read)"
        ));
    }
    let (out, omitted) = rank(name, out);
    let total: usize = omitted.iter().map(|o| o.count).sum();
    let more = (total > 0).then_some(total);
    let note = match (la.note, lb.note) {
        (Some(x), Some(y)) if x == y => Some(format!("{x} (both sides)")),
        (Some(x), Some(y)) => Some(format!("A: {x}; B: {y}")),
        (Some(x), None) => Some(format!("A: {x}")),
        (None, Some(y)) => Some(format!("B: {y}")),
        (None, None) => None,
    };
    Ok(Detail {
        body: Body::Archive(ArchiveDetail {
            archive: label,
            members: out,
            more,
            omitted,
            note,
        }),
        hints: h.into_vec(),
    })
}

/// What a member difference is about, in the order they are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    /// The archive as a whole: member order, a compression header.
    Archive,
    /// A member's content, type or link target.
    Content,
    /// A member present on one side only (or renamed).
    Presence,
    /// Times, modes, owners and other recorded metadata.
    Metadata,
}

impl Class {
    fn of(archive: &str, m: &MemberDiff) -> Class {
        if m.member == archive {
            return Class::Archive;
        }
        match m.kind {
            MemberChange::Content | MemberChange::Type | MemberChange::LinkTarget => Class::Content,
            MemberChange::OnlyInA | MemberChange::OnlyInB | MemberChange::Renamed => {
                Class::Presence
            }
            MemberChange::Order | MemberChange::Encoding => Class::Archive,
            MemberChange::Timestamp
            | MemberChange::Permissions
            | MemberChange::Owner
            | MemberChange::Metadata => Class::Metadata,
        }
    }

    fn cap(self) -> usize {
        match self {
            Class::Metadata => MAX_LISTED_METADATA,
            _ => MAX_LISTED,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Class::Archive => "archive-wide",
            Class::Content => "content",
            Class::Presence => "added or removed",
            Class::Metadata => "metadata",
        }
    }
}

/// Order `out` by class (archive-wide, content, added/removed, metadata),
/// keeping the archive's order within a class, and cap each class; return
/// what was left out per class.
fn rank(name: &str, out: Vec<MemberDiff>) -> (Vec<MemberDiff>, Vec<Omitted>) {
    let mut classed: Vec<(Class, MemberDiff)> =
        out.into_iter().map(|m| (Class::of(name, &m), m)).collect();
    classed.sort_by_key(|(c, _)| *c);
    let mut kept = Vec::new();
    let mut omitted: Vec<Omitted> = Vec::new();
    let mut run: Option<(Class, usize)> = None;
    for (class, m) in classed {
        let n = match &mut run {
            Some((c, n)) if *c == class => {
                *n += 1;
                *n
            }
            _ => {
                run = Some((class, 1));
                1
            }
        };
        if n <= class.cap() {
            kept.push(m);
        } else if let Some(o) = omitted.last_mut().filter(|o| o.class == class.name()) {
            o.count += 1;
        } else {
            omitted.push(Omitted {
                class: class.name().to_string(),
                count: 1,
            });
        }
    }
    (kept, omitted)
}

fn open<'a>(s: Side<'a>) -> Result<Box<dyn ReadSeek + 'a>, String> {
    s.open().map_err(|e| s.describe_err(&e))
}

/// A decompressing reader of format `fmt` over `r`.
fn decoder<'a>(fmt: Format, r: Box<dyn ReadSeek + 'a>) -> Result<Box<dyn Read + 'a>, String> {
    Ok(match fmt {
        Format::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
        Format::Xz => {
            let stream = liblzma::stream::Stream::new_stream_decoder(
                XZ_MEMLIMIT,
                liblzma::stream::CONCATENATED,
            )
            .map_err(|e| e.to_string())?;
            Box::new(liblzma::read::XzDecoder::new_stream(r, stream))
        }
        Format::Zstd => Box::new(zstd::stream::read::Decoder::new(r).map_err(|e| e.to_string())?),
        Format::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(r)),
        Format::Zip | Format::Tar | Format::Ar => r,
    })
}

/// The first [`SNIFF`] decompressed bytes, and the reader for the rest.
fn peek<'a>(mut r: Box<dyn Read + 'a>) -> Result<(Vec<u8>, Box<dyn Read + 'a>), String> {
    let mut head = Vec::with_capacity(SNIFF);
    (&mut r)
        .take(SNIFF as u64)
        .read_to_end(&mut head)
        .map_err(|e| e.to_string())?;
    Ok((head, r))
}

/// What a compressed single file holds: the name in its gzip header, else
/// its own name without the compression suffix.
fn inner_name(name: &str, fmt: Format, a: Side<'_>) -> String {
    if fmt == Format::Gzip
        && let Ok(head) = a.head(SNIFF)
        && let Some(n) = gzip_head(&head).and_then(|g| g.name)
    {
        return n;
    }
    let base = name.rsplit('!').next().unwrap_or(name);
    [".gz", ".xz", ".zst", ".zstd", ".bz2"]
        .iter()
        .find_map(|s| base.strip_suffix(s))
        .unwrap_or(base)
        .to_string()
}

/// The fields of a gzip header worth comparing.
#[derive(Debug, PartialEq, Eq)]
struct GzipHead {
    mtime: u32,
    name: Option<String>,
    os: u8,
}

/// Parse the fixed gzip header (RFC 1952) and the file name if it lies
/// within `head`.
fn gzip_head(head: &[u8]) -> Option<GzipHead> {
    if head.len() < 10 || head[..2] != [0x1f, 0x8b] {
        return None;
    }
    let flags = head[3];
    let mtime = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    let mut i = 10;
    if flags & 4 != 0 {
        let xlen = head.get(10..12).map(|x| u16::from_le_bytes([x[0], x[1]]))?;
        i += 2 + xlen as usize;
    }
    let name = (flags & 8 != 0)
        .then(|| {
            let rest = head.get(i..)?;
            let end = rest.iter().position(|b| *b == 0)?;
            Some(String::from_utf8_lossy(&rest[..end]).into_owned())
        })
        .flatten();
    Some(GzipHead {
        mtime,
        name,
        os: head[9],
    })
}

/// Differences between the two gzip headers (time, stored name, OS byte).
fn gzip_headers(
    name: &str,
    a: Side<'_>,
    b: Side<'_>,
    ctx: &Context,
    out: &mut Vec<MemberDiff>,
    h: &mut Hints,
) -> Result<(), String> {
    let head = |s: Side<'_>| s.head(SNIFF).map_err(|e| s.describe_err(&e));
    let (Some(ga), Some(gb)) = (gzip_head(&head(a)?), gzip_head(&head(b)?)) else {
        return Ok(());
    };
    if ga.mtime != gb.mtime {
        let show = |t: u32| format!("gzip header mtime {t} ({})", iso(i64::from(t)));
        out.push(MemberDiff {
            member: name.to_string(),
            kind: MemberChange::Timestamp,
            a: Some(show(ga.mtime)),
            b: Some(show(gb.mtime)),
            detail: None,
        });
        h.epoch_pair(
            ctx,
            i64::from(ga.mtime),
            i64::from(gb.mtime),
            "in the gzip header",
        );
        h.push(
            "the gzip header records a time: compress with `gzip -n` (or a fixed mtime) to leave it out"
                .into(),
        );
    }
    if ga.name != gb.name || ga.os != gb.os {
        let show = |g: &GzipHead| {
            format!(
                "gzip header name {}, OS {}",
                g.name.as_deref().unwrap_or("(none)"),
                g.os
            )
        };
        out.push(MemberDiff {
            member: name.to_string(),
            kind: MemberChange::Metadata,
            a: Some(show(&ga)),
            b: Some(show(&gb)),
            detail: None,
        });
    }
    Ok(())
}

/// Read a member's contents: size, SHA-256, and the bytes if `kept` (what
/// may still be kept of this side) allows; `kept` shrinks by what is kept.
fn read_content(
    r: &mut dyn Read,
    kept_left: &mut u64,
) -> std::io::Result<(u64, [u8; 32], Option<Vec<u8>>)> {
    let mut hasher = Sha256::new();
    let mut kept = Some(Vec::new());
    let mut buf = [0u8; 16 << 10];
    let mut size = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
        if let Some(v) = &mut kept {
            if (v.len() + n) as u64 <= *kept_left {
                v.extend_from_slice(&buf[..n]);
            } else {
                kept = None;
            }
        }
    }
    if let Some(v) = &kept {
        *kept_left -= v.len() as u64;
    }
    Ok((size, hasher.finalize().into(), kept))
}

fn read_zip(r: Box<dyn ReadSeek + '_>) -> Result<Listing, String> {
    let mut z = zip::ZipArchive::new(r).map_err(|e| format!("not a readable zip: {e}"))?;
    let mut out = Listing::default();
    let left = Cell::new(MAX_DECOMPRESSED);
    let mut kept = MAX_KEPT;
    if z.len() > MAX_MEMBERS {
        out.note = Some(format!(
            "only the first {MAX_MEMBERS} of {} members read",
            z.len()
        ));
    }
    let mut offsets = Vec::new();
    for i in 0..z.len().min(MAX_MEMBERS) {
        // An encrypted or oddly compressed member is compared as stored.
        let raw = z.by_index(i).is_err();
        let mut f = if raw {
            z.by_index_raw(i)
        } else {
            z.by_index(i)
        }
        .map_err(|e| format!("member {i}: {e}"))?;
        let name = f
            .name()
            .map(|n| n.into_owned())
            .unwrap_or_else(|_| String::from_utf8_lossy(f.name_raw()).into_owned());
        let kind = if f.is_dir() {
            "directory"
        } else if f.is_symlink() {
            "symlink"
        } else {
            "file"
        };
        let ext = f.extra_data_fields().find_map(|e| match e {
            zip::ExtraField::ExtendedTimestamp(t) => t.mod_time(),
            _ => None,
        });
        let dos = f.last_modified();
        let mtime = match (dos, ext) {
            (Some(d), Some(t)) => Some(format!("{d} (mtime {t} = {})", iso(i64::from(t)))),
            (Some(d), None) => Some(d.to_string()),
            (None, Some(t)) => Some(format!("mtime {t} = {}", iso(i64::from(t)))),
            (None, None) => None,
        };
        let mtime_epoch = ext.map(i64::from).or_else(|| {
            // DOS times are local and have no zone; read them as UTC, which
            // is close enough to ask "near the build?".
            let d = dos?;
            let day = super::hints::days_from_civil(
                i64::from(d.year()),
                i64::from(d.month()),
                i64::from(d.day()),
            )?;
            Some(
                day * 86_400
                    + i64::from(d.hour()) * 3600
                    + i64::from(d.minute()) * 60
                    + i64::from(d.second()),
            )
        });
        let mode = f.unix_mode();
        offsets.push((f.header_start(), f.central_header_start()));
        let meta = Some(format!(
            "compression {}{}",
            f.compression(),
            if raw { " (compared as stored)" } else { "" }
        ));
        let mut capped = Capped {
            inner: &mut f,
            left: &left,
        };
        let (size, sha256, content) = match read_content(&mut capped, &mut kept) {
            Ok(c) => c,
            Err(e) if left.get() == 0 => {
                out.note = Some(format!("stopped at member {name}: {e}"));
                break;
            }
            Err(e) => return Err(format!("member {name}: {e}")),
        };
        drop(f);
        let link = (kind == "symlink")
            .then(|| {
                content
                    .as_deref()
                    .map(|c| String::from_utf8_lossy(c).into_owned())
            })
            .flatten();
        out.members.push(Member {
            name,
            kind,
            link,
            mode,
            mtime,
            mtime_epoch,
            owner: None,
            uid: None,
            meta,
            extra_times: None,
            size,
            sha256,
            content,
        });
    }
    let mut r = z.into_inner();
    for (m, (local, central)) in out.members.iter_mut().zip(offsets) {
        let (Some(lx), Some(cx)) = (
            extra_at(&mut r, local, ZipHeader::Local),
            extra_at(&mut r, central, ZipHeader::Central),
        ) else {
            continue;
        };
        let (lf, cf) = (ExtraFields::parse(&lx), ExtraFields::parse(&cx));
        let times: Vec<String> = [("local", &lf), ("central", &cf)]
            .iter()
            .filter_map(|(where_, f)| f.times.as_ref().map(|t| format!("{t} ({where_} header)")))
            .collect();
        if !times.is_empty() {
            m.extra_times = Some(times.join("; "));
        }
        if let Some((uid, gid)) = lf.owner.or(cf.owner) {
            m.owner = Some(format!("{uid}:{gid} (zip extra field ux)"));
            m.uid = Some(uid);
        }
    }
    Ok(out)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ZipHeader {
    Local,
    Central,
}

/// The extra-field bytes of the zip header at `offset`, if it is one.
fn extra_at(r: &mut dyn ReadSeek, offset: u64, kind: ZipHeader) -> Option<Vec<u8>> {
    let (magic, fixed, lens) = match kind {
        ZipHeader::Local => (*b"PK\x03\x04", 30, 26),
        ZipHeader::Central => (*b"PK\x01\x02", 46, 28),
    };
    r.seek(std::io::SeekFrom::Start(offset)).ok()?;
    let mut head = vec![0u8; fixed];
    r.read_exact(&mut head).ok()?;
    if head[..4] != magic {
        return None;
    }
    let le = |k: usize| u16::from_le_bytes([head[k], head[k + 1]]);
    let (name, extra) = (le(lens), le(lens + 2));
    r.seek(std::io::SeekFrom::Current(i64::from(name))).ok()?;
    let mut out = vec![0u8; usize::from(extra)];
    r.read_exact(&mut out).ok()?;
    Some(out)
}

/// The extra fields envtwin names: `UT` (extended timestamp, 0x5455) and
/// `ux` (Unix uid/gid, 0x7875).
#[derive(Default)]
struct ExtraFields {
    /// `extra field UT: mtime 1795687009 (…), atime …`.
    times: Option<String>,
    owner: Option<(u64, u64)>,
}

impl ExtraFields {
    fn parse(mut x: &[u8]) -> ExtraFields {
        let mut out = ExtraFields::default();
        while x.len() >= 4 {
            let id = u16::from_le_bytes([x[0], x[1]]);
            let len = usize::from(u16::from_le_bytes([x[2], x[3]]));
            let Some(data) = x.get(4..4 + len) else { break };
            match id {
                0x5455 if !data.is_empty() => {
                    let flags = data[0];
                    let mut shown = Vec::new();
                    let mut at = 1;
                    for (bit, what) in [(1, "mtime"), (2, "atime"), (4, "ctime")] {
                        if flags & bit == 0 {
                            continue;
                        }
                        let Some(b) = data.get(at..at + 4) else { break };
                        let t = i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                        shown.push(format!("{what} {t} ({})", iso(t)));
                        at += 4;
                    }
                    out.times = Some(format!("extra field UT: {}", shown.join(", ")));
                }
                0x7875 if data.len() >= 3 => {
                    let num = |b: &[u8]| b.iter().rev().fold(0u64, |v, x| (v << 8) | u64::from(*x));
                    let us = usize::from(data[1]);
                    let uid = data.get(2..2 + us).filter(|_| us <= 8);
                    let gs = data.get(2 + us).map(|g| usize::from(*g));
                    let gid = gs.and_then(|g| data.get(3 + us..3 + us + g).filter(|_| g <= 8));
                    if let (Some(u), Some(g)) = (uid, gid) {
                        out.owner = Some((num(u), num(g)));
                    }
                }
                _ => {}
            }
            x = &x[4 + len..];
        }
        out
    }
}

fn read_tar<R: Read>(r: R) -> Result<Listing, String> {
    let left = Cell::new(MAX_DECOMPRESSED);
    let mut kept = MAX_KEPT;
    let capped = Capped {
        inner: r,
        left: &left,
    };
    let mut ar = tar::Archive::new(capped);
    let entries = ar
        .entries()
        .map_err(|e| format!("not a readable tar: {e}"))?;
    let mut out = Listing::default();
    for entry in entries {
        let mut e = match entry {
            Ok(e) => e,
            Err(err) if left.get() == 0 => {
                out.note = Some(err.to_string());
                break;
            }
            Err(err) => return Err(format!("not a readable tar: {err}")),
        };
        if out.members.len() >= MAX_MEMBERS {
            out.note = Some(format!("only the first {MAX_MEMBERS} members read"));
            break;
        }
        // PAX records keep sub-second times; the ustar field only seconds.
        let pax_mtime = e.pax_extensions().ok().flatten().and_then(|exts| {
            exts.filter_map(Result::ok)
                .find(|x| x.key() == Ok("mtime"))
                .and_then(|x| x.value().ok().map(str::to_string))
        });
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let link = e
            .link_name_bytes()
            .map(|l| String::from_utf8_lossy(&l).into_owned());
        let hd = e.header();
        let t = hd.entry_type();
        let kind = if t.is_dir() {
            "directory"
        } else if t.is_symlink() {
            "symlink"
        } else if t.is_hard_link() {
            "hard link"
        } else if t.is_character_special() {
            "character device"
        } else if t.is_block_special() {
            "block device"
        } else if t.is_fifo() {
            "fifo"
        } else {
            "file"
        };
        let secs = hd.mtime().ok();
        let mtime = match (&pax_mtime, secs) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(s)) => Some(s.to_string()),
            (None, None) => None,
        }
        .map(|m| match secs.and_then(|s| i64::try_from(s).ok()) {
            Some(s) => format!("{m} ({})", iso(s)),
            None => m,
        });
        let mtime_epoch = secs.and_then(|s| i64::try_from(s).ok());
        let uid = hd.uid().ok();
        let gid = hd.gid().ok();
        let uname = hd
            .username_bytes()
            .map(|u| String::from_utf8_lossy(u).into_owned());
        let gname = hd
            .groupname_bytes()
            .map(|g| String::from_utf8_lossy(g).into_owned());
        let mut owner = format!(
            "{}:{}",
            uid.map_or("?".into(), |u| u.to_string()),
            gid.map_or("?".into(), |g| g.to_string())
        );
        if uname.as_deref().is_some_and(|u| !u.is_empty())
            || gname.as_deref().is_some_and(|g| !g.is_empty())
        {
            owner += &format!(
                " ({}:{})",
                uname.unwrap_or_default(),
                gname.unwrap_or_default()
            );
        }
        let mode = hd.mode().ok();
        let (size, sha256, content) = match read_content(&mut e, &mut kept) {
            Ok(c) => c,
            Err(err) if left.get() == 0 => {
                out.note = Some(format!("stopped at member {name}: {err}"));
                break;
            }
            Err(err) => return Err(format!("member {name}: {err}")),
        };
        out.members.push(Member {
            name,
            kind,
            link,
            mode,
            mtime,
            mtime_epoch,
            owner: Some(owner),
            uid,
            meta: None,
            extra_times: None,
            size,
            sha256,
            content,
        });
    }
    Ok(out)
}

/// The members of a Unix `ar` archive (a `.deb`, a static library).
fn read_ar<R: Read>(r: R) -> Result<Listing, String> {
    let left = Cell::new(MAX_DECOMPRESSED);
    let mut kept = MAX_KEPT;
    let capped = Capped {
        inner: r,
        left: &left,
    };
    let mut ar = ar::Archive::new(capped);
    let mut out = Listing::default();
    while let Some(entry) = ar.next_entry() {
        let mut e = match entry {
            Ok(e) => e,
            Err(err) if left.get() == 0 => {
                out.note = Some(err.to_string());
                break;
            }
            Err(err) => return Err(format!("not a readable ar archive: {err}")),
        };
        if out.members.len() >= MAX_MEMBERS {
            out.note = Some(format!("only the first {MAX_MEMBERS} members read"));
            break;
        }
        let hd = e.header();
        let name = String::from_utf8_lossy(hd.identifier()).into_owned();
        let t = i64::try_from(hd.mtime()).ok();
        let mtime = Some(match t {
            Some(t) => format!("{t} ({})", iso(t)),
            None => hd.mtime().to_string(),
        });
        let (uid, gid, mode) = (hd.uid(), hd.gid(), hd.mode());
        let (size, sha256, content) = match read_content(&mut e, &mut kept) {
            Ok(c) => c,
            Err(err) if left.get() == 0 => {
                out.note = Some(format!("stopped at member {name}: {err}"));
                break;
            }
            Err(err) => return Err(format!("member {name}: {err}")),
        };
        out.members.push(Member {
            name,
            kind: "file",
            link: None,
            mode: Some(mode),
            mtime,
            mtime_epoch: t,
            owner: Some(format!("{uid}:{gid}")),
            uid: Some(u64::from(uid)),
            meta: None,
            extra_times: None,
            size,
            sha256,
            content,
        });
    }
    Ok(out)
}

/// A compressed single file as a one-member listing named `name`.
fn single<R: Read>(name: &str, r: R) -> Result<Listing, String> {
    let left = Cell::new(MAX_DECOMPRESSED);
    let mut kept = MAX_KEPT;
    let mut capped = Capped {
        inner: r,
        left: &left,
    };
    let mut out = Listing::default();
    let (size, sha256, content) = match read_content(&mut capped, &mut kept) {
        Ok(c) => c,
        Err(e) => return Err(format!("cannot decompress: {e}")),
    };
    out.members.push(Member {
        name: name.to_string(),
        kind: "file",
        link: None,
        mode: None,
        mtime: None,
        mtime_epoch: None,
        owner: None,
        uid: None,
        meta: None,
        extra_times: None,
        size,
        sha256,
        content,
    });
    Ok(out)
}

/// Member name -> index of its first occurrence: a name stored twice is
/// compared by its first occurrence.
fn index(l: &Listing) -> HashMap<&str, usize> {
    let mut m: HashMap<&str, usize> = HashMap::new();
    for (i, x) in l.members.iter().enumerate() {
        m.entry(x.name.as_str()).or_insert(i);
    }
    m
}

/// The member differences of two listings of archive `name`.
fn diff_listings(
    name: &str,
    label: &str,
    (la, lb): (&Listing, &Listing),
    ctx: &Context,
    depth: usize,
    out: &mut Vec<MemberDiff>,
    h: &mut Hints,
) {
    let (ia, ib) = (index(la), index(lb));
    let firsts =
        |l: &Listing, idx: &HashMap<&str, usize>, other: &HashMap<&str, usize>| -> Vec<usize> {
            (0..l.members.len())
                .filter(|i| {
                    let n = l.members[*i].name.as_str();
                    idx.get(n) == Some(i) && other.contains_key(n)
                })
                .collect()
        };
    let (ca, cb) = (firsts(la, &ia, &ib), firsts(lb, &ib, &ia));
    let order_a: Vec<&str> = ca.iter().map(|i| la.members[*i].name.as_str()).collect();
    let order_b: Vec<&str> = cb.iter().map(|i| lb.members[*i].name.as_str()).collect();
    if order_a != order_b {
        let k = order_a
            .iter()
            .zip(&order_b)
            .position(|(x, y)| x != y)
            .unwrap_or(0);
        let show = |o: &[&str]| {
            let mut s = o[k..]
                .iter()
                .take(4)
                .copied()
                .collect::<Vec<_>>()
                .join(", ");
            if o.len() > k + 4 {
                s.push_str(", …");
            }
            format!("from member {}: {s}", k + 1)
        };
        out.push(MemberDiff {
            member: name.to_string(),
            kind: MemberChange::Order,
            a: Some(show(&order_a)),
            b: Some(show(&order_b)),
            detail: None,
        });
        let how = if label == "zip" {
            "give `zip` a sorted file list"
        } else {
            "`tar --sort=name`"
        };
        h.push(format!(
            "members are stored in a different order: the archiver took files in directory (readdir) order; sort them ({how})"
        ));
    }
    let mut explained = 0;
    let mut stamps = 0;
    let mut owners_hinted = false;
    let full = |m: &Member| format!("{name}!{}", m.name);
    for (i, ma) in la.members.iter().enumerate() {
        if ia.get(ma.name.as_str()) != Some(&i) {
            continue;
        }
        let Some(&j) = ib.get(ma.name.as_str()) else {
            out.push(only(full(ma), ma, true));
            continue;
        };
        let mb = &lb.members[j];
        let mut push = |kind, a: Option<String>, b: Option<String>, detail| {
            out.push(MemberDiff {
                member: full(ma),
                kind,
                a,
                b,
                detail,
            })
        };
        if ma.kind != mb.kind {
            push(
                MemberChange::Type,
                Some(ma.kind.into()),
                Some(mb.kind.into()),
                None,
            );
            continue;
        }
        if ma.link != mb.link {
            let (x, y) = (
                ma.link.clone().unwrap_or_default(),
                mb.link.clone().unwrap_or_default(),
            );
            h.scan(ctx, &x, &y, &[(&x, &y)]);
            push(
                MemberChange::LinkTarget,
                ma.link.clone(),
                mb.link.clone(),
                None,
            );
        } else if ma.sha256 != mb.sha256 {
            let detail = match (&ma.content, &mb.content) {
                (Some(x), Some(y)) if explained < MAX_EXPLAINED => {
                    explained += 1;
                    Some(Box::new(super::explain_sides(
                        &full(ma),
                        Side::Bytes(x),
                        Side::Bytes(y),
                        ctx,
                        depth + 1,
                    )))
                }
                _ => None,
            };
            push(
                MemberChange::Content,
                Some(describe(ma)),
                Some(describe(mb)),
                detail,
            );
        }
        if ma.mode != mb.mode {
            let show = |m: Option<u32>| m.map(|m| format!("{:04o}", m & 0o7777));
            if let (Some(x), Some(y), Some(sx), Some(sy)) =
                (ma.mode, mb.mode, show(ma.mode), show(mb.mode))
            {
                h.mode_pair(x, y, &sx, &sy);
            }
            push(
                MemberChange::Permissions,
                show(ma.mode),
                show(mb.mode),
                None,
            );
        }
        if (&ma.mtime, &ma.extra_times) != (&mb.mtime, &mb.extra_times) {
            stamps += 1;
            // One example is enough: the other members' times say the same.
            if stamps == 1
                && let (Some(x), Some(y)) = (ma.mtime_epoch, mb.mtime_epoch)
            {
                h.epoch_pair(ctx, x, y, &format!("in {}", full(ma)));
            }
            // A time kept in an extra field is named with its field, so
            // a change only there is seen.
            let show = |m: &Member| match (&m.mtime, &m.extra_times) {
                (Some(t), Some(x)) => Some(format!("{t}; {x}")),
                (t, None) => t.clone(),
                (None, x) => x.clone(),
            };
            push(MemberChange::Timestamp, show(ma), show(mb), None);
        }
        if ma.owner != mb.owner {
            if !owners_hinted && ma.uid != mb.uid {
                owners_hinted = true;
                h.push(format!(
                    "member owners differ (uid {} in A, {} in B): looks like the build user; store fixed owners (e.g. `tar --owner=0 --group=0 --numeric-owner`)",
                    ma.uid.map_or("?".into(), |u| u.to_string()),
                    mb.uid.map_or("?".into(), |u| u.to_string())
                ));
            }
            push(
                MemberChange::Owner,
                ma.owner.clone(),
                mb.owner.clone(),
                None,
            );
        }
        if ma.meta != mb.meta {
            push(
                MemberChange::Metadata,
                ma.meta.clone(),
                mb.meta.clone(),
                None,
            );
        }
    }
    for (j, mb) in lb.members.iter().enumerate() {
        if ib.get(mb.name.as_str()) == Some(&j) && !ia.contains_key(mb.name.as_str()) {
            out.push(only(full(mb), mb, false));
        }
    }
    pair_renames(name, (la, lb), ctx, depth, out);
    if stamps > 0 {
        h.push(format!(
            "{stamps} member {} the archiver stored the files' modification times; clamp them to SOURCE_DATE_EPOCH (e.g. `touch -d @$SOURCE_DATE_EPOCH` before archiving, `tar --mtime=@$SOURCE_DATE_EPOCH --clamp-mtime`)",
            if stamps == 1 { "timestamp differs:" } else { "timestamps differ:" }
        ));
    }
}

/// Near-identical renames are looked for only among members this small, and
/// at most this many pairs are compared: a line diff per pair is the cost.
const NEAR_MAX_BYTES: usize = 64 << 10;
const NEAR_MAX_PAIRS: usize = 2_500;
/// Share of equal lines for two differently named members to count as one
/// member renamed and edited.
const NEAR_RATIO: f32 = 0.8;

/// Pair a member only in A with one only in B, as diffoscope does: the
/// same bytes ("identical despite different names"), or text that is
/// nearly the same (explained in turn). One `renamed` entry replaces the
/// removal and the addition.
fn pair_renames(
    name: &str,
    (la, lb): (&Listing, &Listing),
    ctx: &Context,
    depth: usize,
    out: &mut Vec<MemberDiff>,
) {
    let by_name = |l: &'_ Listing| -> HashMap<String, usize> {
        l.members
            .iter()
            .enumerate()
            .filter(|(_, m)| m.kind == "file")
            .map(|(i, m)| (format!("{name}!{}", m.name), i))
            .collect()
    };
    let (ma, mb) = (by_name(la), by_name(lb));
    let side = |kind, map: &HashMap<String, usize>| -> Vec<(usize, usize)> {
        out.iter()
            .enumerate()
            .filter(|(_, d)| d.kind == kind)
            .filter_map(|(k, d)| map.get(&d.member).map(|i| (k, *i)))
            .collect()
    };
    let (removed, mut added) = (
        side(MemberChange::OnlyInA, &ma),
        side(MemberChange::OnlyInB, &mb),
    );
    let mut pairs: Vec<(usize, usize, bool)> = Vec::new();
    let mut near = Vec::new();
    for (k, i) in removed {
        let x = &la.members[i];
        if let Some(p) = added
            .iter()
            .position(|(_, j)| lb.members[*j].sha256 == x.sha256)
        {
            pairs.push((k, added.remove(p).0, true));
        } else {
            near.push((k, i));
        }
    }
    let mut compared = 0;
    for (k, i) in near {
        let Some(x) = small_text(&la.members[i]) else {
            continue;
        };
        let mut best: Option<(usize, f32)> = None;
        for (p, (_, j)) in added.iter().enumerate() {
            let Some(y) = small_text(&lb.members[*j]) else {
                continue;
            };
            compared += 1;
            if compared > NEAR_MAX_PAIRS {
                break;
            }
            let r = similar::TextDiff::from_lines(x, y).ratio();
            if r >= NEAR_RATIO && best.is_none_or(|(_, b)| r > b) {
                best = Some((p, r));
            }
        }
        if let Some((p, _)) = best {
            pairs.push((k, added.remove(p).0, false));
        }
    }
    let mut gone = Vec::new();
    for (k, j, identical) in pairs {
        let new_name = out[j].member.clone();
        let old_name = std::mem::take(&mut out[k].member);
        let detail = (!identical).then(|| {
            let (x, y) = (&la.members[ma[&old_name]], &lb.members[mb[&new_name]]);
            Box::new(super::explain_sides(
                &old_name,
                Side::Bytes(x.content.as_deref().unwrap_or_default()),
                Side::Bytes(y.content.as_deref().unwrap_or_default()),
                ctx,
                depth + 1,
            ))
        });
        out[k] = MemberDiff {
            member: old_name.clone(),
            kind: MemberChange::Renamed,
            a: Some(old_name),
            b: Some(new_name),
            detail,
        };
        gone.push(j);
    }
    gone.sort_unstable();
    for j in gone.into_iter().rev() {
        out.remove(j);
    }
}

/// A member's content as text, when kept and small enough to compare.
fn small_text(m: &Member) -> Option<&str> {
    let c = m.content.as_deref()?;
    (c.len() <= NEAR_MAX_BYTES)
        .then(|| super::text::as_text(c))
        .flatten()
}

fn only(member: String, m: &Member, in_a: bool) -> MemberDiff {
    let d = Some(describe(m));
    MemberDiff {
        member,
        kind: if in_a {
            MemberChange::OnlyInA
        } else {
            MemberChange::OnlyInB
        },
        a: if in_a { d.clone() } else { None },
        b: if in_a { None } else { d },
        detail: None,
    }
}

/// `file, 12 bytes, sha256 ab12cd34ef56…`.
fn describe(m: &Member) -> String {
    let hex: String = m.sha256[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}, {}, sha256 {hex}…", m.kind, super::bytes(m.size))
}

//! Tests of the explanations: each kind of file and archive change, the
//! hints, the caps, and that no input makes `explain` panic.

use super::*;
use proptest::prelude::*;
use std::io::Write;

/// A build time the tests' embedded timestamps are near.
const T0: i64 = 1_795_687_009; // 2026-11-26T09:56:49Z

fn ctx() -> Context {
    Context {
        times: vec![T0],
        telltales: vec![
            (
                "hostname".into(),
                "envtwin-a".into(),
                "envtwin-b-variant".into(),
            ),
            (
                "build path".into(),
                "/envtwin/build".into(),
                "/envtwin/build-b-variant-path".into(),
            ),
        ],
    }
}

/// Write `a` and `b` as `<tmp>/a/<name>` and `<tmp>/b/<name>` and explain them.
fn explain_bytes(name: &str, a: &[u8], b: &[u8]) -> Detail {
    let tmp = tempfile::tempdir().unwrap();
    let (pa, pb) = (tmp.path().join("a"), tmp.path().join("b"));
    std::fs::create_dir_all(&pa).unwrap();
    std::fs::create_dir_all(&pb).unwrap();
    std::fs::write(pa.join(name), a).unwrap();
    std::fs::write(pb.join(name), b).unwrap();
    explain(&pa.join(name), &pb.join(name), &ctx())
}

fn text(d: &Detail) -> &TextDetail {
    match &d.body {
        Body::Text(t) => t,
        other => panic!("expected a text detail, got {other:?}"),
    }
}

fn bin(d: &Detail) -> &BinaryDetail {
    match &d.body {
        Body::Binary(b) => b,
        other => panic!("expected a binary detail, got {other:?}"),
    }
}

fn arch(d: &Detail) -> &ArchiveDetail {
    match &d.body {
        Body::Archive(a) => a,
        other => panic!("expected an archive detail, got {other:?}"),
    }
}

/// `(member, kind, a, b)` of each member difference.
fn members(d: &Detail) -> Vec<(String, MemberChange, Option<String>, Option<String>)> {
    arch(d)
        .members
        .iter()
        .map(|m| (m.member.clone(), m.kind, m.a.clone(), m.b.clone()))
        .collect()
}

fn s(x: &str) -> Option<String> {
    Some(x.to_string())
}

fn dos(sec: u8) -> zip::DateTime {
    zip::DateTime::from_date_and_time(2026, 11, 26, 10, 36, sec).unwrap()
}

/// A zip of `(name, contents, dos seconds, mode)`, in that order.
fn zip_of(members: &[(&str, &[u8], u8, u32)]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data, sec, mode) in members {
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(dos(*sec))
            .unix_permissions(*mode);
        z.start_file(*name, o).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap().into_inner()
}

/// A tar of `(name, contents, mtime, mode, uid)`.
fn tar_of(members: &[(&str, &[u8], u64, u32, u64)]) -> Vec<u8> {
    let mut t = tar::Builder::new(Vec::new());
    for (name, data, mtime, mode, uid) in members {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        h.set_mtime(*mtime);
        h.set_uid(*uid);
        h.set_gid(*uid);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        t.append(&h, *data).unwrap();
    }
    t.into_inner().unwrap()
}

fn gzip(data: &[u8], mtime: u32) -> Vec<u8> {
    let mut e = flate2::GzBuilder::new()
        .mtime(mtime)
        .write(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zst(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 1).unwrap()
}

// ---- text ----

#[test]
fn text_diff_shows_the_hunk_with_context() {
    let a: String = (1..=10).map(|i| format!("line {i}\n")).collect();
    let b = a.replace("line 5\n", "line five\n");
    let d = explain_bytes("notes.txt", a.as_bytes(), b.as_bytes());
    let t = text(&d);
    assert_eq!(
        t.diff,
        "@@ -2,7 +2,7 @@\n line 2\n line 3\n line 4\n-line 5\n+line five\n line 6\n line 7\n line 8\n"
    );
    assert_eq!((t.removed, t.added, t.truncated.clone()), (1, 1, None));
    assert!(d.hints.is_empty(), "{:?}", d.hints);
}

#[test]
fn text_diff_is_capped_and_says_how_much_was_cut() {
    let a: String = (0..500).map(|i| format!("a {i}\n")).collect();
    let b: String = (0..500).map(|i| format!("b {i}\n")).collect();
    let d = explain_bytes("big.txt", a.as_bytes(), b.as_bytes());
    let t = text(&d);
    assert_eq!(t.diff.lines().count(), 40);
    assert!(t.diff.len() <= 4096);
    assert_eq!((t.removed, t.added), (500, 500));
    // 1 hunk header + 1000 changed lines, 40 shown.
    assert_eq!(t.truncated.as_deref(), Some("961 more lines not shown"));
}

#[test]
fn long_lines_and_control_characters_are_tamed() {
    let a = format!("{}\n", "x".repeat(5000));
    let b = format!("{}\x1b[2J\n", "x".repeat(5000));
    let t = text(&explain_bytes("min.js", a.as_bytes(), b.as_bytes())).clone();
    let minus = t.diff.lines().find(|l| l.starts_with('-')).unwrap();
    assert_eq!(
        minus.chars().count(),
        1 + 200 + 1,
        "sign, 200 chars, ellipsis"
    );
    assert!(!t.diff.contains('\x1b'));
    let b = "ok\x1b[2J\n";
    let t = text(&explain_bytes("esc.txt", b"ok\n", b.as_bytes())).clone();
    assert!(t.diff.contains("+ok\\u{1b}[2J"), "{}", t.diff);
}

#[test]
fn missing_final_newline_is_shown() {
    let t = text(&explain_bytes("n.txt", b"a\nb\n", b"a\nb")).clone();
    assert_eq!(
        t.diff,
        "@@ -1,2 +1,2 @@\n a\n-b\n+b\n\\ No newline at end of file\n"
    );
}

#[test]
fn line_ending_change_is_hinted() {
    let d = explain_bytes("w.txt", b"a\nb\n", b"a\r\nb\r\n");
    assert!(
        d.hints
            .contains(&"line endings differ (LF in A, CRLF in B)".to_string()),
        "{:?}",
        d.hints
    );
}

// ---- hints in text ----

#[test]
fn hints_for_epoch_hostname_and_build_path() {
    let a = format!("host=envtwin-a\nsrc=/envtwin/build/x.c\nat {}\n", T0 - 60);
    let b = format!(
        "host=envtwin-b-variant\nsrc=/envtwin/build-b-variant-path/x.c\nat {}\n",
        T0
    );
    let d = explain_bytes("info", a.as_bytes(), b.as_bytes());
    assert_eq!(
        d.hints,
        [
            "looks like the hostname (envtwin-a in A, envtwin-b-variant in B)",
            "looks like the build path (/envtwin/build in A, /envtwin/build-b-variant-path in B)",
            "looks like a timestamp (1795686949 = 2026-11-26T09:55:49Z in A, 1795687009 = 2026-11-26T09:56:49Z in B)",
        ]
    );
}

#[test]
fn iso_date_of_today_is_hinted_on_one_side() {
    let d = explain_bytes("v", b"built\n", b"built 2026-11-26\n");
    assert_eq!(d.hints, ["looks like a date (2026-11-26, in B)"]);
}

#[test]
fn the_sandbox_context_knows_the_variations() {
    let c = Context::sandbox();
    let host = c.telltales.iter().find(|t| t.0 == "hostname").unwrap();
    assert_eq!(
        (host.1.as_str(), host.2.as_str()),
        ("envtwin-a", "envtwin-b-variant")
    );
    let path = c.telltales.iter().find(|t| t.0 == "build path").unwrap();
    assert_eq!(path.1, "/envtwin/build");
    let user = c.telltales.iter().find(|t| t.0 == "user").unwrap();
    assert_eq!(user.1, "root");
    let umask = c.telltales.iter().find(|t| t.0 == "umask").unwrap();
    assert_eq!((umask.1.as_str(), umask.2.as_str()), ("0022", "0002"));
    assert_eq!(
        c.times.len(),
        2,
        "now, and now as the time variation shifts it"
    );
}

// ---- binary ----

#[test]
fn binary_shows_first_offset_and_hex_window() {
    let a: Vec<u8> = (0..=255u8).collect();
    let mut b = a.clone();
    b[100] = 0xff;
    b[200] = 0xff;
    let d = explain_bytes("x.bin", &a, &b);
    let x = bin(&d);
    assert_eq!((x.size_a, x.size_b, x.first_difference), (256, 256, 100));
    assert_eq!(x.window_offset, 88);
    let want_a: Vec<String> = (88..120).map(|i| format!("{i:02x}")).collect();
    assert_eq!(x.hex_a, want_a.join(" "));
    let mut want_b = want_a.clone();
    want_b[12] = "ff".into();
    assert_eq!(x.hex_b, want_b.join(" "));
}

#[test]
fn binary_prefix_differs_at_the_shorter_length() {
    let a = vec![0u8; 10];
    let b = vec![0u8; 12];
    let x = bin(&explain_bytes("z.bin", &a, &b)).clone();
    assert_eq!((x.first_difference, x.window_offset), (10, 0));
    assert_eq!(x.hex_a.split(' ').count(), 10);
    assert_eq!(x.hex_b.split(' ').count(), 12);
}

#[test]
fn large_files_are_compared_in_blocks() {
    let mut a = vec![0u8; (TEXT_LIMIT + 100_000) as usize];
    a[TEXT_LIMIT as usize + 5] = 1;
    let mut b = a.clone();
    b[TEXT_LIMIT as usize + 50_000] = 7;
    let x = bin(&explain_bytes("huge", &a, &b)).clone();
    assert_eq!(x.first_difference, TEXT_LIMIT + 50_000);
    assert_eq!(x.note.as_deref(), Some("too large for a line diff"));
    assert_eq!(x.hex_b.split(' ').nth(8), Some("07"));
}

#[test]
fn pyc_style_mtime_in_binary_is_hinted() {
    let mut a = vec![0x42, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0];
    let mut b = a.clone();
    a.extend((T0 as u32).to_le_bytes());
    b.extend((T0 as u32 + 3).to_le_bytes());
    a.extend([0u8; 8]);
    b.extend([0u8; 8]);
    let d = explain_bytes("m.pyc", &a, &b);
    assert_eq!(bin(&d).first_difference, 8);
    assert_eq!(
        d.hints,
        [
            "looks like a .pyc header (source mtime): 1795687009 = 2026-11-26T09:56:49Z in A, 1795687012 = 2026-11-26T09:56:52Z in B; set SOURCE_DATE_EPOCH, or compile with --invalidation-mode checked-hash",
            "looks like a timestamp at offset 8 (1795687009 = 2026-11-26T09:56:49Z in A, 1795687012 = 2026-11-26T09:56:52Z in B)"
        ]
    );
}

// ---- archives ----

#[test]
fn zip_member_content_is_named_and_explained() {
    let a = zip_of(&[
        ("same.txt", b"same\n", 0, 0o644),
        ("stamped.txt", b"v1\nbuilt A\n", 0, 0o644),
    ]);
    let b = zip_of(&[
        ("same.txt", b"same\n", 0, 0o644),
        ("stamped.txt", b"v1\nbuilt B\n", 0, 0o644),
    ]);
    let d = explain_bytes("bundle.zip", &a, &b);
    assert_eq!(arch(&d).archive, "zip");
    let m = &arch(&d).members;
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(
        (m[0].member.as_str(), m[0].kind),
        ("bundle.zip!stamped.txt", MemberChange::Content)
    );
    assert!(
        m[0].a
            .as_deref()
            .unwrap()
            .starts_with("file, 11 bytes, sha256 ")
    );
    let inner = m[0].detail.as_deref().expect("member detail");
    assert_eq!(
        text(inner).diff,
        "@@ -1,2 +1,2 @@\n v1\n-built A\n+built B\n"
    );
}

#[test]
fn wheel_is_read_as_zip_by_its_magic() {
    let a = zip_of(&[("pkg/__init__.py", b"x = 1\n", 0, 0o644)]);
    let b = zip_of(&[("pkg/__init__.py", b"x = 2\n", 0, 0o644)]);
    let d = explain_bytes("pkg-1.0-py3-none-any.whl", &a, &b);
    assert_eq!(members(&d)[0].0, "pkg-1.0-py3-none-any.whl!pkg/__init__.py");
}

#[test]
fn zip_timestamp_only() {
    let a = zip_of(&[("f", b"same", 0, 0o644)]);
    let b = zip_of(&[("f", b"same", 2, 0o644)]);
    let d = explain_bytes("t.zip", &a, &b);
    assert_eq!(
        members(&d),
        [(
            "t.zip!f".into(),
            MemberChange::Timestamp,
            s("2026-11-26 10:36:00"),
            s("2026-11-26 10:36:02")
        )]
    );
    assert!(
        d.hints
            .iter()
            .any(|h| h.starts_with("1 member timestamp differs:")),
        "{:?}",
        d.hints
    );
    assert!(
        d.hints
            .iter()
            .any(|h| h.starts_with("looks like a timestamp in t.zip!f (")),
        "{:?}",
        d.hints
    );
}

#[test]
fn member_order_and_one_sided_members() {
    let a = zip_of(&[
        ("x", b"1", 0, 0o644),
        ("y", b"2", 0, 0o644),
        ("old", b"3", 0, 0o644),
    ]);
    let b = zip_of(&[
        ("y", b"2", 0, 0o644),
        ("new", b"4", 0, 0o644),
        ("x", b"1", 0, 0o644),
    ]);
    let d = explain_bytes("o.zip", &a, &b);
    let got: Vec<(String, MemberChange)> = members(&d).into_iter().map(|m| (m.0, m.1)).collect();
    assert_eq!(
        got,
        [
            ("o.zip".into(), MemberChange::Order),
            ("o.zip!old".into(), MemberChange::OnlyInA),
            ("o.zip!new".into(), MemberChange::OnlyInB),
        ]
    );
    assert_eq!(members(&d)[0].2, s("from member 1: x, y"));
    assert_eq!(members(&d)[0].3, s("from member 1: y, x"));
    assert!(d.hints[0].starts_with("members are stored in a different order"));
}

#[test]
fn tar_gz_member_mode_is_a_permissions_change_with_umask_hint() {
    let a = gzip(&tar_of(&[("bin/tool", b"#!/bin/sh\n", 1000, 0o644, 0)]), 0);
    let b = gzip(&tar_of(&[("bin/tool", b"#!/bin/sh\n", 1000, 0o664, 0)]), 0);
    let d = explain_bytes("pkg.tar.gz", &a, &b);
    assert_eq!(arch(&d).archive, "tar.gz");
    assert_eq!(
        members(&d),
        [(
            "pkg.tar.gz!bin/tool".into(),
            MemberChange::Permissions,
            s("0644"),
            s("0664")
        )]
    );
    assert_eq!(
        d.hints,
        ["looks like the umask (0644 in A, 0664 in B differ only in group/other write bits)"]
    );
}

#[test]
fn tar_owner_and_mtime() {
    let a = tar_of(&[("f", b"x", T0 as u64, 0o644, 0)]);
    let b = tar_of(&[("f", b"x", T0 as u64 + 1, 0o644, 1000)]);
    let d = explain_bytes("f.tar", &a, &b);
    let got = members(&d);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        got[0],
        (
            "f.tar!f".into(),
            MemberChange::Timestamp,
            s("1795687009 (2026-11-26T09:56:49Z)"),
            s("1795687010 (2026-11-26T09:56:50Z)")
        )
    );
    assert_eq!(
        (got[1].1, got[1].2.as_deref()),
        (MemberChange::Owner, Some("0:0"))
    );
    assert_eq!(got[1].3.as_deref(), Some("1000:1000"));
    assert!(
        d.hints
            .iter()
            .any(|h| h.starts_with("member owners differ (uid 0 in A, 1000 in B)"))
    );
}

#[test]
fn gzip_header_mtime_only() {
    let a = gzip(b"same text\n", T0 as u32);
    let b = gzip(b"same text\n", T0 as u32 + 7);
    let d = explain_bytes("notes.txt.gz", &a, &b);
    assert_eq!(arch(&d).archive, "gzip");
    assert_eq!(
        members(&d),
        [(
            "notes.txt.gz".into(),
            MemberChange::Timestamp,
            s("gzip header mtime 1795687009 (2026-11-26T09:56:49Z)"),
            s("gzip header mtime 1795687016 (2026-11-26T09:56:56Z)")
        )]
    );
    assert!(
        d.hints.iter().any(|h| h.contains("`gzip -n`")),
        "{:?}",
        d.hints
    );
}

#[test]
fn plain_gzip_content_recurses_into_text() {
    let d = explain_bytes("log.gz", &gzip(b"a\n", 0), &gzip(b"b\n", 0));
    let m = &arch(&d).members;
    assert_eq!(
        (m[0].member.as_str(), m[0].kind),
        ("log.gz!log", MemberChange::Content)
    );
    assert_eq!(
        text(m[0].detail.as_deref().unwrap()).diff,
        "@@ -1 +1 @@\n-a\n+b\n"
    );
}

#[test]
fn tar_xz_and_tar_zst_members() {
    for (name, pack) in [("p.tar.xz", xz as fn(&[u8]) -> Vec<u8>), ("p.tar.zst", zst)] {
        let a = pack(&tar_of(&[("etc/conf", b"k=1\n", 0, 0o644, 0)]));
        let b = pack(&tar_of(&[("etc/conf", b"k=2\n", 0, 0o644, 0)]));
        let d = explain_bytes(name, &a, &b);
        assert_eq!(arch(&d).archive, &name[2..]);
        let m = &arch(&d).members[0];
        assert_eq!(m.member, format!("{name}!etc/conf"));
        assert_eq!(
            text(m.detail.as_deref().unwrap()).diff,
            "@@ -1 +1 @@\n-k=1\n+k=2\n"
        );
    }
}

#[test]
fn nested_archive_members_are_named_by_their_path() {
    let inner_a = zip_of(&[("META-INF/MANIFEST.MF", b"Built-By: root\n", 0, 0o644)]);
    let inner_b = zip_of(&[("META-INF/MANIFEST.MF", b"Built-By: cloud\n", 0, 0o644)]);
    let a = gzip(&tar_of(&[("lib/app.jar", &inner_a, 0, 0o644, 0)]), 0);
    let b = gzip(&tar_of(&[("lib/app.jar", &inner_b, 0, 0o644, 0)]), 0);
    let d = explain_bytes("dist.tgz", &a, &b);
    let jar = arch(&d).members[0].detail.as_deref().unwrap();
    assert_eq!(
        arch(jar).members[0].member,
        "dist.tgz!lib/app.jar!META-INF/MANIFEST.MF"
    );
}

#[test]
fn same_members_different_bytes_is_an_encoding_change() {
    let a = gzip(&tar_of(&[("f", b"x", 0, 0o644, 0)]), 0);
    let mut e = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::none());
    e.write_all(&tar_of(&[("f", b"x", 0, 0o644, 0)])).unwrap();
    let b = e.finish().unwrap();
    let d = explain_bytes("f.tar.gz", &a, &b);
    let m = &arch(&d).members;
    assert_eq!((m.len(), m[0].kind), (1, MemberChange::Encoding));
    assert!(matches!(
        m[0].detail.as_deref().unwrap().body,
        Body::Binary(_)
    ));
}

#[test]
fn corrupt_archive_falls_back_to_binary_with_a_note() {
    let mut a = zip_of(&[("f", b"x", 0, 0o644)]);
    let b = a.clone();
    a.truncate(20);
    let d = explain_bytes("broken.zip", &a, &b);
    let x = bin(&d);
    assert!(
        x.note
            .as_deref()
            .unwrap()
            .starts_with("not compared as zip: not a readable zip"),
        "{:?}",
        x.note
    );
}

#[test]
fn decompression_is_capped() {
    // 300 MiB of zeros in a few KiB: a bomb must not be read to the end.
    let mut e = zstd::Encoder::new(Vec::new(), 1).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..300 {
        e.write_all(&chunk).unwrap();
    }
    let a = e.finish().unwrap();
    let b = zst(b"small");
    let d = explain_bytes("bomb.zst", &a, &b);
    let note = bin(&d).note.clone().unwrap();
    assert!(note.contains("more than 256 MiB decompressed"), "{note}");
}

// ---- trees ----

#[test]
fn diff_trees_fills_details_only_where_it_helps() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for (root, host) in [(&a, "envtwin-a"), (&b, "envtwin-b-variant")] {
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/host"), format!("{host}\n")).unwrap();
        std::fs::write(root.join("same"), "same\n").unwrap();
        std::fs::write(root.join("x"), "x\n").unwrap();
    }
    symlink("/envtwin/build/lib", a.join("l")).unwrap();
    symlink("/envtwin/build-b-variant-path/lib", b.join("l")).unwrap();
    std::fs::set_permissions(b.join("x"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let d = crate::tree::diff_trees(&a, &b).unwrap();
    let got: Vec<(&str, DiffKind, bool)> = d
        .iter()
        .map(|d| (d.path.as_str(), d.kind, d.detail.is_some()))
        .collect();
    assert_eq!(
        got,
        [
            ("etc/host", DiffKind::Content, true),
            ("l", DiffKind::SymlinkTarget, true),
            ("x", DiffKind::Executable, false),
        ]
    );
    assert_eq!(
        text(d[0].detail.as_ref().unwrap()).diff,
        "@@ -1 +1 @@\n-envtwin-a\n+envtwin-b-variant\n"
    );
    assert_eq!(
        d[0].detail.as_ref().unwrap().hints,
        ["looks like the hostname (envtwin-a in A, envtwin-b-variant in B)"]
    );
    assert_eq!(
        d[1].detail.as_ref().unwrap().hints,
        ["looks like the build path (/envtwin/build in A, /envtwin/build-b-variant-path in B)"]
    );
}

#[test]
fn only_in_one_side_gets_a_hint_from_its_name() {
    let c = ctx();
    let d = explain_name(&format!("logs/build-{T0}.log"), false, &c).unwrap();
    assert_eq!(
        d.hints,
        ["looks like a timestamp (1795687009 = 2026-11-26T09:56:49Z, in B)"]
    );
    assert_eq!(explain_name("lib/libz.so", true, &c), None);
}

#[test]
fn keys_map_back_to_paths() {
    let root = Path::new("/r");
    assert_eq!(key_path(root, ""), PathBuf::from("/r"));
    assert_eq!(key_path(root, "a/b"), PathBuf::from("/r/a/b"));
    assert_eq!(
        key_path(root, "x\\x80\\\\y").as_os_str().as_bytes(),
        b"/r/x\x80\\y"
    );
}

#[test]
fn json_shape() {
    let d = explain_bytes(
        "t.zip",
        &zip_of(&[("f", b"a\n", 0, 0o644)]),
        &zip_of(&[("f", b"b\n", 0, 0o644)]),
    );
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["format"], "archive");
    assert_eq!(v["archive"], "zip");
    assert_eq!(v["members"][0]["member"], "t.zip!f");
    assert_eq!(v["members"][0]["kind"], "content");
    assert_eq!(v["members"][0]["detail"]["format"], "text");
    assert_eq!(v["members"][0]["detail"]["diff"], "@@ -1 +1 @@\n-a\n+b\n");
    assert!(v.get("hints").is_none(), "empty hints are left out");
}

// ---- never panics, always capped ----

/// Assert the size caps of a detail, recursively.
fn assert_capped(d: &Detail) {
    assert!(d.hints.len() <= 8);
    match &d.body {
        Body::Text(t) => {
            assert!(t.diff.lines().count() <= 40 && t.diff.len() <= 4096);
        }
        Body::Binary(b) => {
            assert!(b.hex_a.split(' ').count() <= 32 && b.hex_b.split(' ').count() <= 32);
        }
        Body::Archive(a) => {
            // Each class is capped on its own: 50 archive-wide, content and
            // added/removed entries each, 20 metadata ones.
            let metadata = a
                .members
                .iter()
                .filter(|m| {
                    matches!(
                        m.kind,
                        MemberChange::Timestamp
                            | MemberChange::Permissions
                            | MemberChange::Owner
                            | MemberChange::Metadata
                    )
                })
                .count();
            assert!(metadata <= 20, "{metadata} metadata entries");
            assert!(
                a.members.len() <= 3 * 50 + 20,
                "{} entries",
                a.members.len()
            );
            for m in &a.members {
                if let Some(inner) = &m.detail {
                    assert_capped(inner);
                }
            }
        }
        Body::Name | Body::Unreadable { .. } => {}
    }
}

/// Arbitrary bytes, or a valid archive cut short or with bytes flipped.
fn contents() -> impl Strategy<Value = Vec<u8>> {
    let archive = prop_oneof![
        Just(zip_of(&[
            ("a.txt", b"hello\n", 0, 0o644),
            ("b", b"\0\x01", 2, 0o600)
        ])),
        Just(gzip(&tar_of(&[("a", b"x\n", 5, 0o644, 0)]), 9)),
        Just(xz(&tar_of(&[("a", b"x\n", 5, 0o644, 0)]))),
        Just(zst(b"plain\n")),
        Just(tar_of(&[("d/e", b"1\n2\n", 0, 0o755, 1000)])),
    ];
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..600),
        (archive.clone(), any::<prop::sample::Index>())
            .prop_map(|(v, i)| v[..i.index(v.len() + 1)].to_vec()),
        (
            archive,
            proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)
        )
            .prop_map(|(mut v, flips)| {
                for (i, x) in flips {
                    let at = i.index(v.len());
                    v[at] ^= x | 1;
                }
                v
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn explain_never_panics_and_stays_capped(
        a in contents(),
        b in contents(),
        name in prop_oneof![Just("x.zip"), Just("x.tar.gz"), Just("x.bin"), Just("x.txt")],
    ) {
        let d = explain_bytes(name, &a, &b);
        assert_capped(&d);
    }
}

/// `zip` rearranged as Mozilla's omni.ja is: central directory first, then
/// the members, then the end record pointing back at offset 0.
fn central_directory_first(zip: &[u8]) -> Vec<u8> {
    let eocd = zip.len() - 22;
    assert_eq!(&zip[eocd..eocd + 4], b"PK\x05\x06");
    let le32 = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let le16 = |b: &[u8]| u16::from_le_bytes([b[0], b[1]]) as usize;
    let (cd_size, cd_off) = (le32(&zip[eocd + 12..]), le32(&zip[eocd + 16..]));
    let mut cd = zip[cd_off..cd_off + cd_size].to_vec();
    let mut p = 0;
    while p < cd.len() {
        let local = le32(&cd[p + 42..]) + cd_size;
        cd[p + 42..p + 46].copy_from_slice(&(local as u32).to_le_bytes());
        p += 46 + le16(&cd[p + 28..]) + le16(&cd[p + 30..]) + le16(&cd[p + 32..]);
    }
    let mut out = cd;
    out.extend_from_slice(&zip[..cd_off]);
    let mut end = zip[eocd..].to_vec();
    end[16..20].copy_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&end);
    out
}

#[test]
fn a_zip_with_its_central_directory_first_is_read_as_zip() {
    let a = central_directory_first(&zip_of(&[
        ("chrome.manifest", b"content a\n", 0, 0o644),
        ("res/x.js", b"same\n", 0, 0o644),
    ]));
    let b = central_directory_first(&zip_of(&[
        ("chrome.manifest", b"content b\n", 0, 0o644),
        ("res/x.js", b"same\n", 0, 0o644),
    ]));
    assert!(a.starts_with(b"PK\x01\x02"));
    assert_eq!(archive::sniff(&a[..512.min(a.len())]), None);
    let d = explain_bytes("omni.ja", &a, &b);
    assert_eq!(arch(&d).archive, "zip");
    assert_eq!(
        members(&d)
            .iter()
            .map(|m| (m.0.as_str(), m.1))
            .collect::<Vec<_>>(),
        [("omni.ja!chrome.manifest", MemberChange::Content)]
    );
    // Bytes that merely end in something like an end record are not a zip.
    let mut fake = vec![0u8; 100];
    fake.extend_from_slice(b"PK\x05\x06");
    fake.extend_from_slice(&[0u8; 18]);
    fake.push(0);
    assert!(matches!(
        explain_bytes("x.bin", &fake, &[1u8; 10]).body,
        Body::Binary(_)
    ));
}

#[test]
fn content_changes_come_before_metadata_with_a_cap_per_class() {
    // 80 members whose times differ, then one changed and one added file:
    // in archive order the changes would be past the cap.
    let mut ma: Vec<(String, Vec<u8>, u64, u32, u64)> = (0..80)
        .map(|i| (format!("d/{i:02}.txt"), b"same\n".to_vec(), 1000, 0o644, 0))
        .collect();
    let mut mb: Vec<_> = ma
        .iter()
        .map(|(n, c, _, m, u)| (n.clone(), c.clone(), 2000, *m, *u))
        .collect();
    ma.push(("z/changed.txt".into(), b"a\n".to_vec(), 1000, 0o644, 0));
    mb.push(("z/changed.txt".into(), b"b\n".to_vec(), 2000, 0o644, 0));
    mb.push(("z/added.txt".into(), b"new\n".to_vec(), 2000, 0o644, 0));
    let tar = |m: &[(String, Vec<u8>, u64, u32, u64)]| {
        let refs: Vec<(&str, &[u8], u64, u32, u64)> = m
            .iter()
            .map(|(n, c, t, md, u)| (n.as_str(), c.as_slice(), *t, *md, *u))
            .collect();
        gzip(&tar_of(&refs), 0)
    };
    let d = explain_bytes("src.tar.gz", &tar(&ma), &tar(&mb));
    let a = arch(&d);
    let kinds: Vec<_> = a
        .members
        .iter()
        .map(|m| (m.member.as_str(), m.kind))
        .collect();
    assert_eq!(
        kinds[0],
        ("src.tar.gz!z/changed.txt", MemberChange::Content)
    );
    assert_eq!(kinds[1], ("src.tar.gz!z/added.txt", MemberChange::OnlyInB));
    assert!(kinds[2..].iter().all(|k| k.1 == MemberChange::Timestamp));
    assert_eq!(kinds.len(), 2 + 20);
    assert_eq!(
        a.omitted,
        [Omitted {
            class: "metadata".into(),
            count: 61
        }]
    );
    assert_eq!(a.more, Some(61));
}

#[test]
fn renamed_members_are_paired() {
    let a = zip_of(&[
        ("lib/old-name.so", b"\x7fELF same bytes", 0, 0o755),
        ("gone.txt", b"only in a\n", 0, 0o644),
    ]);
    let b = zip_of(&[
        ("lib/new-name.so", b"\x7fELF same bytes", 0, 0o755),
        ("came.txt", b"only in b\n", 0, 0o644),
    ]);
    let d = explain_bytes("r.zip", &a, &b);
    assert_eq!(
        members(&d),
        [
            (
                "r.zip!lib/old-name.so".to_string(),
                MemberChange::Renamed,
                s("r.zip!lib/old-name.so"),
                s("r.zip!lib/new-name.so")
            ),
            (
                "r.zip!gone.txt".to_string(),
                MemberChange::OnlyInA,
                s("file, 10 bytes, sha256 81931d0214d0…"),
                None
            ),
            (
                "r.zip!came.txt".to_string(),
                MemberChange::OnlyInB,
                None,
                s("file, 10 bytes, sha256 c6bbea61283e…")
            ),
        ]
    );
}

#[test]
fn latin1_text_gets_a_line_diff_with_an_encoding_note() {
    let a = b"name=Jos\xe9\nbuilt=Montr\xe9al A\n";
    let b = b"name=Jos\xe9\nbuilt=Montr\xe9al B\n";
    let d = explain_bytes("README.latin1", a, b);
    let t = text(&d);
    assert_eq!(
        t.diff,
        "@@ -1,2 +1,2 @@\n name=José\n-built=Montréal A\n+built=Montréal B\n"
    );
    assert_eq!(
        t.encoding.as_deref(),
        Some("ISO-8859-1 (both sides), shown decoded")
    );
    // A re-encoding is a text change too, and is named.
    let d = explain_bytes("n.txt", "caf\u{e9}\n".as_bytes(), b"caf\xe9\n");
    assert!(
        text(&d)
            .encoding
            .as_deref()
            .unwrap()
            .contains("UTF-8 in A, ISO-8859-1 in B")
    );
    // C1 control bytes mean binary, not Latin-1.
    assert!(matches!(
        explain_bytes("x", b"ab\x85c\xe9", b"ab\x86c\xe9").body,
        Body::Binary(_)
    ));
}

/// A one-member stored zip written by hand, with the given extra fields in
/// its local and central headers.
fn raw_zip(name: &str, data: &[u8], local_extra: &[u8], central_extra: &[u8]) -> Vec<u8> {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    let (crc, size, n) = (crc.sum(), data.len() as u32, name.len() as u16);
    let mut z = Vec::new();
    z.extend_from_slice(b"PK\x03\x04\x0a\x00\x00\x00\x00\x00\x00\x00\x21\x00");
    for v in [crc, size, size] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    z.extend_from_slice(&n.to_le_bytes());
    z.extend_from_slice(&(local_extra.len() as u16).to_le_bytes());
    z.extend_from_slice(name.as_bytes());
    z.extend_from_slice(local_extra);
    z.extend_from_slice(data);
    let cd = z.len() as u32;
    z.extend_from_slice(b"PK\x01\x02\x1e\x03\x0a\x00\x00\x00\x00\x00\x00\x00\x21\x00");
    for v in [crc, size, size] {
        z.extend_from_slice(&v.to_le_bytes());
    }
    z.extend_from_slice(&n.to_le_bytes());
    z.extend_from_slice(&(central_extra.len() as u16).to_le_bytes());
    z.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    z.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
    z.extend_from_slice(&0u32.to_le_bytes());
    z.extend_from_slice(name.as_bytes());
    z.extend_from_slice(central_extra);
    let cd_size = z.len() as u32 - cd;
    z.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00");
    z.extend_from_slice(&cd_size.to_le_bytes());
    z.extend_from_slice(&cd.to_le_bytes());
    z.extend_from_slice(&[0, 0]);
    z
}

/// A `UT` extra field with the given flags and times.
fn ut(flags: u8, times: &[i32]) -> Vec<u8> {
    let mut f = vec![0x55, 0x54];
    f.extend_from_slice(&(1 + 4 * times.len() as u16).to_le_bytes());
    f.push(flags);
    for t in times {
        f.extend_from_slice(&t.to_le_bytes());
    }
    f
}

/// A `ux` extra field with 4-byte uid and gid.
fn ux(uid: u32, gid: u32) -> Vec<u8> {
    let mut f = vec![0x75, 0x78, 11, 0, 1, 4];
    f.extend_from_slice(&uid.to_le_bytes());
    f.push(4);
    f.extend_from_slice(&gid.to_le_bytes());
    f
}

#[test]
fn zip_extra_field_times_and_owners_are_named_per_member() {
    // Only the access time in the local UT field differs.
    let a = raw_zip(
        "f.txt",
        b"same\n",
        &ut(3, &[1_700_000_000, 1_700_000_000]),
        &ut(1, &[1_700_000_000]),
    );
    let b = raw_zip(
        "f.txt",
        b"same\n",
        &ut(3, &[1_700_000_000, 1_795_687_009]),
        &ut(1, &[1_700_000_000]),
    );
    let d = explain_bytes("t.zip", &a, &b);
    let m = members(&d);
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(
        (m[0].0.as_str(), m[0].1),
        ("t.zip!f.txt", MemberChange::Timestamp)
    );
    let shown_b = m[0].3.as_deref().unwrap();
    assert!(
        shown_b.contains("extra field UT: mtime 1700000000")
            && shown_b.contains("atime 1795687009 (2026-11-26T09:56:49Z)")
            && shown_b.contains("(local header)"),
        "{shown_b}"
    );
    // The Unix uid/gid field.
    let a = raw_zip("g", b"x", &ux(0, 0), &[]);
    let b = raw_zip("g", b"x", &ux(1000, 100), &[]);
    let m = members(&explain_bytes("o.zip", &a, &b));
    assert_eq!(
        m,
        [(
            "o.zip!g".to_string(),
            MemberChange::Owner,
            s("0:0 (zip extra field ux)"),
            s("1000:100 (zip extra field ux)")
        )]
    );
}

fn bz2(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A `.deb`: an ar archive of `debian-binary`, `control.tar.gz` and
/// `data.tar.xz`, each stamped with `mtime`.
fn deb(data: &[u8], mtime: u64) -> Vec<u8> {
    let mut ar = ar::Builder::new(Vec::new());
    let control = gzip(&tar_of(&[("control", b"Package: hello\n", 0, 0o644, 0)]), 0);
    let data = xz(&tar_of(&[
        ("usr/bin/hello", b"#!/bin/sh\necho hi\n", 0, 0o755, 0),
        ("usr/share/doc/hello/stamp", data, 0, 0o644, 0),
    ]));
    for (name, body) in [
        ("debian-binary", &b"2.0\n"[..]),
        ("control.tar.gz", &control),
        ("data.tar.xz", &data),
    ] {
        let mut h = ar::Header::new(name.as_bytes().to_vec(), body.len() as u64);
        h.set_mtime(mtime);
        h.set_mode(0o100644);
        ar.append(&h, body).unwrap();
    }
    ar.into_inner().unwrap()
}

#[test]
fn a_deb_is_read_member_by_member_down_to_the_changed_file() {
    let a = deb(b"built on host-a\n", 1_700_000_000);
    let b = deb(b"built on host-b\n", 1_700_000_000);
    let d = explain_bytes("hello_1.0_amd64.deb", &a, &b);
    assert_eq!(arch(&d).archive, "ar");
    let m = &arch(&d).members;
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(
        (m[0].member.as_str(), m[0].kind),
        ("hello_1.0_amd64.deb!data.tar.xz", MemberChange::Content)
    );
    let inner = arch(m[0].detail.as_deref().expect("data.tar.xz explained"));
    assert_eq!(inner.archive, "tar.xz");
    assert_eq!(
        inner.members[0].member,
        "hello_1.0_amd64.deb!data.tar.xz!usr/share/doc/hello/stamp"
    );
    // Only the ar member times differ: named, as timestamps.
    let m = members(&explain_bytes("x.deb", &deb(b"s", 1), &deb(b"s", 2)));
    assert_eq!(m.len(), 3, "{m:?}");
    assert!(m.iter().all(|x| x.1 == MemberChange::Timestamp));
}

#[test]
fn bzip2_tars_and_single_files_are_opened() {
    let a = bz2(&tar_of(&[("a.txt", b"one\n", 0, 0o644, 0)]));
    let b = bz2(&tar_of(&[("a.txt", b"two\n", 0, 0o644, 0)]));
    let d = explain_bytes("src.tar.bz2", &a, &b);
    assert_eq!(arch(&d).archive, "tar.bz2");
    assert_eq!(members(&d)[0].0, "src.tar.bz2!a.txt");
    let d = explain_bytes("notes.txt.bz2", &bz2(b"v1\nA\n"), &bz2(b"v1\nB\n"));
    assert_eq!(arch(&d).archive, "bzip2");
    let m = &arch(&d).members[0];
    assert_eq!(m.member, "notes.txt.bz2!notes.txt");
    assert_eq!(
        text(m.detail.as_deref().unwrap()).diff,
        "@@ -1,2 +1,2 @@\n v1\n-A\n+B\n"
    );
}

#[test]
fn near_identical_renames_are_paired_and_explained() {
    let body = |stamp: &str| {
        let mut t: String = (0..20).map(|i| format!("line {i}\n")).collect();
        t.push_str(stamp);
        t
    };
    let (ta, tb) = (body("built A\n"), body("built B\n"));
    let a = zip_of(&[("doc/notes-1795687009.txt", ta.as_bytes(), 0, 0o644)]);
    let b = zip_of(&[
        ("doc/notes-1795687010.txt", tb.as_bytes(), 0, 0o644),
        ("doc/unrelated.txt", b"nothing alike\n", 0, 0o644),
    ]);
    let d = explain_bytes("n.zip", &a, &b);
    let m = &arch(&d).members;
    assert_eq!(m.len(), 2, "{m:?}");
    assert_eq!(m[0].kind, MemberChange::Renamed);
    assert_eq!(m[0].b.as_deref(), Some("n.zip!doc/notes-1795687010.txt"));
    assert_eq!(
        text(m[0].detail.as_deref().expect("explained")).diff,
        "@@ -18,4 +18,4 @@\n line 17\n line 18\n line 19\n-built A\n+built B\n"
    );
    assert_eq!(
        (m[1].member.as_str(), m[1].kind),
        ("n.zip!doc/unrelated.txt", MemberChange::OnlyInB)
    );
}

#[test]
fn a_binary_names_the_build_path_wherever_it_sits() {
    let ctx = Context::sandbox();
    let (pa, pb) = ("/envtwin/build", "/envtwin/build-b-variant-path");
    let mut a = vec![1u8, pa.len() as u8];
    let mut b = vec![1u8, pb.len() as u8];
    a.extend(vec![0u8; 300]);
    b.extend(vec![0u8; 300]);
    a.extend(pa.as_bytes());
    b.extend(pb.as_bytes());
    let mut h = super::hints::Hints::default();
    super::binary::telltale_offsets(&a, &b, &ctx, &mut h);
    assert_eq!(
        h.into_vec(),
        [
            "the build path explains it: /envtwin/build at offset 302 in A, /envtwin/build-b-variant-path at offset 302 in B"
        ]
    );
    // The same path on both sides explains nothing.
    let mut h = super::hints::Hints::default();
    super::binary::telltale_offsets(&a, &a, &ctx, &mut h);
    assert!(h.into_vec().is_empty());
}

#[test]
fn a_large_binary_is_searched_in_blocks_across_their_edges() {
    let (pa, pb) = ("/envtwin/build", "/envtwin/build-b-variant-path");
    // The paths straddle the 64 KiB block edge of the streamed search.
    let at = (64 << 10) - 5;
    let mut a = vec![0u8; (TEXT_LIMIT + 10) as usize];
    let mut b = a.clone();
    a[0] = 1;
    a[at..at + pa.len()].copy_from_slice(pa.as_bytes());
    b[at..at + pb.len()].copy_from_slice(pb.as_bytes());
    let d = explain_bytes("big", &a, &b);
    assert_eq!(
        d.hints[0],
        format!(
            "the build path explains it: /envtwin/build at offset {at} in A, /envtwin/build-b-variant-path at offset {at} in B"
        )
    );
}

//! `envtwin hash` / `envtwin diff` against real Nix and diff, and the
//! shipped scenarios as the main job runs them.

use crate::support::{Project, require_tool, scenario};

fn nix_hash(path: &std::path::Path) -> String {
    let out = std::process::Command::new("nix")
        .args([
            "--extra-experimental-features",
            "nix-command",
            "hash",
            "path",
        ])
        .arg(path)
        .output()
        .expect("nix");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn hash_and_nar_match_real_nix() {
    if !require_tool("nix") || !require_tool("nix-store") {
        return;
    }
    let p = Project::new();
    p.file("t/bin/tool", "#!/bin/sh\n");
    p.file("t/empty", "");
    std::fs::create_dir_all(p.path().join("t/emptydir")).expect("mkdir");
    std::os::unix::fs::symlink("nowhere", p.path().join("t/dangling")).expect("symlink");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        p.path().join("t/bin/tool"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    let t = p.path().join("t");
    let ours = p.cmd(&["hash", "t"]).output().expect("hash");
    assert_eq!(ours.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&ours.stdout).trim(), nix_hash(&t));
    let nar = p.cmd(&["hash", "--nar", "t"]).output().expect("nar");
    let dump = std::process::Command::new("nix-store")
        .arg("--dump")
        .arg(&t)
        .output()
        .expect("nix-store");
    assert!(
        nar.stdout == dump.stdout,
        "NAR stream differs from nix-store --dump"
    );
}

#[test]
fn diff_exit_codes_and_output() {
    let p = Project::new();
    p.file("a/x", "1\n");
    p.file("b/x", "1\n");
    p.cmd(&["diff", "a", "b"]).assert().code(0);
    p.file("b/x", "2\n");
    let out = p.cmd(&["diff", "a", "b"]).output().expect("diff");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("x: content"));
}

#[test]
fn diff_explains_text_and_archive_changes() {
    use std::io::Write;
    let p = Project::new();
    p.file("a/etc/motd", "welcome\nbuilt on envtwin-a\n");
    p.file("b/etc/motd", "welcome\nbuilt on envtwin-b-variant\n");
    for (side, mtime) in [("a", 1_000_000_000), ("b", 1_000_000_007)] {
        let mut gz = flate2::GzBuilder::new()
            .mtime(mtime)
            .write(Vec::new(), flate2::Compression::default());
        gz.write_all(b"same\n").expect("gzip");
        let bytes = gz.finish().expect("gzip");
        std::fs::write(p.path().join(side).join("log.gz"), bytes).expect("write");
    }
    let out = p.cmd(&["diff", "a", "b"]).output().expect("diff");
    assert_eq!(out.status.code(), Some(1));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        shown
            .lines()
            .filter(|l| l.starts_with("  "))
            .collect::<Vec<_>>()[2..7],
        [
            "  hint: looks like the hostname (envtwin-a in A, envtwin-b-variant in B)",
            "  @@ -1,2 +1,2 @@",
            "   welcome",
            "  -built on envtwin-a",
            "  +built on envtwin-b-variant",
        ],
        "{shown}"
    );
    assert!(
        shown.contains(
            "  log.gz: timestamp\n    A: gzip header mtime 1000000000 (2001-09-09T01:46:40Z)\n"
        ),
        "{shown}"
    );

    let out = p
        .cmd(&["diff", "a", "b", "--format", "json"])
        .output()
        .expect("diff");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let d = &v["differences"];
    assert_eq!(d[0]["path"], "etc/motd");
    assert_eq!(d[0]["detail"]["format"], "text");
    assert_eq!(d[0]["detail"]["removed"], 1);
    assert_eq!(d[1]["path"], "log.gz");
    assert_eq!(d[1]["detail"]["archive"], "gzip");
    assert_eq!(d[1]["detail"]["members"][0]["kind"], "timestamp");
}

#[test]
fn the_shipped_scenarios_pass() {
    if !require_tool("python3") || !require_tool("nix-build") {
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let p = Project::new();
    let out = p
        .cmd(&["run", "--format", "json"])
        .current_dir(root)
        .arg(root.join("scenarios"))
        .output()
        .expect("run");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    for name in [
        "python-todo",
        "hello",
        "nix-hello-shell",
        "nix-shell-p-hello",
        "nix-article-env",
        "nix-article-env-build",
    ] {
        let s = scenario(&report, name);
        assert_eq!(s["verdict"], "pass", "{name}");
        assert_eq!(s["reproducible"], true, "{name}");
    }
    for name in ["stamped", "nix-stamped"] {
        let s = scenario(&report, name);
        assert_eq!(s["verdict"], "pass", "{name}");
        assert_eq!(s["reproducible"], false, "{name}");
        assert!(
            !s["differences"].as_array().expect("differences").is_empty(),
            "{name}"
        );
    }
    let hello = &scenario(&report, "nix-article-env")["builds"]["a"];
    assert_eq!(hello["path"][0], "/envtwin/shell");
    assert!(hello["which"]["gcc"].is_null() && hello["which"]["python3"].is_null());
    assert_eq!(hello["which"]["todo"]["inside"], true);
    assert!(p.leftovers().is_empty());
}

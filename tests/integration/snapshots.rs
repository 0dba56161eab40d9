//! Regression snapshots in insta's format: written, accepted, compared.

use crate::support::{Project, require_tool, scenario};

fn env(p: &Project, files: &[(&str, &str)]) {
    let mut build = String::from("mkdir -p \"$out/bin\"\n");
    for (name, text) in files {
        build.push_str(&format!(
            "  printf '{text}' > \"$out/bin/{name}\"\n  chmod +x \"$out/bin/{name}\"\n"
        ));
    }
    p.file(
        "env.yaml",
        &format!("name: env\nbuild: |\n  {build}expect:\n  which:\n    tool: $out/bin/*\n  missing: [gcc]\n"),
    );
}

fn snapshot_check(report: &serde_json::Value) -> serde_json::Value {
    scenario(report, "env")["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["check"] == "snapshot").cloned())
        .expect("a snapshot check")
}

fn run(p: &Project, extra: &[&str], ci: bool) -> (i32, serde_json::Value) {
    let mut args = vec!["run", "--format", "json", "--snapshots", "snaps"];
    args.extend_from_slice(extra);
    args.push("env.yaml");
    let mut cmd = p.cmd(&args);
    if ci {
        cmd.env("CI", "true");
    } else {
        cmd.env_remove("CI");
    }
    let out = cmd.output().expect("run");
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).expect("json"),
    )
}

#[test]
fn missing_snapshot_is_written_as_new_and_fails_only_in_ci() {
    let p = Project::new();
    env(&p, &[("tool", "#!/bin/sh\\necho 1\\n")]);
    let (code, report) = run(&p, &[], false);
    assert_eq!(code, 0, "{report:#}");
    assert!(
        snapshot_check(&report)["message"]
            .as_str()
            .unwrap_or("")
            .contains("no snapshot yet")
    );
    let new = std::fs::read_to_string(p.path().join("snaps/env.snap.new")).expect(".snap.new");
    assert!(new.starts_with("---\nsource: envtwin\n"), "{new}");
    assert!(new.contains("\n---\nscenario: env\nhash: sha256-"), "{new}");
    assert!(new.contains("  bin/tool\texecutable 17 "), "{new}");
    assert!(new.contains("  gcc\tnot found\n"), "{new}");
    let (code, _) = run(&p, &[], true);
    assert_eq!(code, 1, "a missing snapshot fails under CI=true");
    assert!(!p.path().join("snaps/env.snap").exists());
}

#[test]
fn accept_then_a_changed_environment_fails_naming_what_changed() {
    let p = Project::new();
    env(&p, &[("tool", "#!/bin/sh\\necho 1\\n"), ("old", "x")]);
    let (code, _) = run(&p, &["--accept"], true);
    assert_eq!(code, 0);
    assert!(p.path().join("snaps/env.snap").exists());
    assert!(!p.path().join("snaps/env.snap.new").exists());
    let (code, report) = run(&p, &[], true);
    assert_eq!(code, 0, "unchanged: {report:#}");
    env(&p, &[("tool", "#!/bin/sh\\necho 2\\n"), ("new", "y")]);
    let (code, report) = run(&p, &[], true);
    assert_eq!(code, 1);
    let msg = snapshot_check(&report)["message"]
        .as_str()
        .unwrap_or("")
        .to_string();
    for part in [
        "added bin/new:",
        "removed bin/old:",
        "changed bin/tool:",
        "changed which tool:",
        "hash: sha256-",
    ] {
        assert!(msg.contains(part), "{part} not in {msg}");
    }
    assert!(p.path().join("snaps/env.snap.new").exists());
}

#[test]
fn corrupt_or_foreign_snapshots_are_invalid_input() {
    let p = Project::new();
    env(&p, &[("tool", "x")]);
    std::fs::create_dir_all(p.path().join("snaps")).expect("mkdir");
    for (text, expect) in [
        ("garbage", "env.snap:1:1: not an insta snapshot"),
        (
            "---\nsource: tests/lib.rs\nexpression: x\n---\nfoo\n",
            "env.snap:2:1: snapshot from another tool",
        ),
    ] {
        std::fs::write(p.path().join("snaps/env.snap"), text).expect("write");
        let out = p
            .cmd(&["run", "--snapshots", "snaps", "env.yaml"])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{err}");
        assert!(p.leftovers().is_empty(), "nothing may be built");
    }
}

#[test]
fn cargo_insta_accept_and_review_take_envtwins_new_snapshots() {
    if !require_tool("cargo-insta") {
        return;
    }
    let p = Project::new();
    env(&p, &[("tool", "#!/bin/sh\\necho 1\\n")]);
    // cargo insta works inside a cargo workspace.
    p.file(
        "Cargo.toml",
        "[package]\nname = \"snapshots-here\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    p.file("src/lib.rs", "");
    let (code, _) = run(&p, &[], false);
    assert_eq!(code, 0);
    let out = std::process::Command::new("cargo")
        .args(["insta", "accept"])
        .current_dir(p.path())
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("cargo insta");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(p.path().join("snaps/env.snap").exists());
    assert!(!p.path().join("snaps/env.snap.new").exists());
    let (code, report) = run(&p, &[], true);
    assert_eq!(code, 0, "the accepted snapshot matches: {report:#}");
    assert_eq!(snapshot_check(&report)["passed"], true);

    // The interactive `cargo insta review`, on a terminal, answering `a`
    // (accept) for the changed environment's .snap.new.
    if !require_tool("script") {
        return;
    }
    env(&p, &[("tool", "#!/bin/sh\\necho 2\\n")]);
    let (code, _) = run(&p, &[], true);
    assert_eq!(code, 1, "changed");
    assert!(p.path().join("snaps/env.snap.new").exists());
    let mut review = std::process::Command::new("script")
        .args(["-qec", "cargo insta review", "/dev/null"])
        .current_dir(p.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("script");
    use std::io::Write;
    review
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"a")
        .expect("answer");
    assert!(review.wait().expect("review").success());
    assert!(
        !p.path().join("snaps/env.snap.new").exists(),
        "review accepted it"
    );
    let (code, report) = run(&p, &[], true);
    assert_eq!(code, 0, "the reviewed snapshot matches: {report:#}");
}

#[test]
fn non_reproducible_scenarios_get_no_snapshot() {
    let p = Project::new();
    p.file("env.yaml", "name: env\nbuild: |\n  mkdir -p \"$out\"\n  head -c 8 /dev/urandom > \"$out/r\"\nexpect:\n  reproducible: false\n");
    let (code, report) = run(&p, &[], true);
    assert_eq!(code, 0, "{report:#}");
    assert!(!p.path().join("snaps").exists());
}

//! The nix provider against real Nix: private stores, build and shell
//! modes, differences inside store paths, errors, skipping.

use crate::support::{Project, require_file, require_tool, scenario};

const BUSYBOX: &str = r#"builtins.path { path = /usr/bin; name = "busybox"; filter = p: t: baseNameOf p == "busybox"; }"#;

/// Nix and the static busybox mini-nixpkgs bootstraps from (busybox-static).
fn nix_ready() -> bool {
    require_tool("nix-build") && require_file("/usr/bin/busybox")
}

fn drv(name: &str, script: &str) -> String {
    format!(
        "let busybox = {BUSYBOX}; in derivation {{ name = \"{name}\"; system = builtins.currentSystem; builder = \"${{busybox}}/busybox\"; PATH = \"${{busybox}}\"; args = [ \"sh\" \"-c\" ''\n{script}\n'' ]; }}\n"
    )
}

#[test]
fn build_mode_reproducible_and_resolving_inside_the_store() {
    if !nix_ready() {
        return;
    }
    let p = Project::new();
    p.file(
        "hello.nix",
        &drv("hello", "busybox mkdir -p $out/bin\nprintf '#!/bin/sh\\necho hi\\n' > $out/bin/hello\nbusybox chmod +x $out/bin/hello"),
    );
    p.file(
        "s.yaml",
        "name: nix-hello\nprovider: nix\nnix: {file: hello.nix, mode: build}\nexpect:\n  which: {hello: $out/bin/hello}\n  missing: [gcc]\n",
    );
    let before = std::fs::read_dir("/nix/store")
        .map(|d| d.count())
        .unwrap_or(0);
    let (code, report) = p.run_json(&["s.yaml"]);
    assert_eq!(code, 0, "{report:#}");
    let s = scenario(&report, "nix-hello");
    let which = &s["builds"]["a"]["which"]["hello"];
    assert_eq!(which["path"], "/envtwin/out/bin/hello");
    let resolved = which["resolved"].as_str().expect("resolved");
    assert!(
        resolved.starts_with("/nix/store/") && resolved.ends_with("-hello/bin/hello"),
        "{resolved}"
    );
    assert_eq!(which["inside"], true);
    let after = std::fs::read_dir("/nix/store")
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(before, after, "the host's /nix/store must gain nothing");
    assert!(p.leftovers().is_empty());
}

#[test]
fn build_mode_names_the_store_path_and_file_that_differ() {
    if !nix_ready() {
        return;
    }
    let p = Project::new();
    p.file(
        "stamp.nix",
        &drv("stamp", "busybox mkdir -p $out\nbusybox head -c 16 /dev/urandom > $out/random\necho same > $out/same"),
    );
    p.file(
        "s.yaml",
        "name: nix-stamp\nprovider: nix\nnix: {file: stamp.nix, mode: build}\npath: []\n",
    );
    let (code, report) = p.run_json(&["s.yaml"]);
    assert_eq!(code, 1, "{report:#}");
    let d = &scenario(&report, "nix-stamp")["differences"];
    let d = d.as_array().expect("differences");
    assert_eq!(d.len(), 1, "{d:?}");
    let path = d[0]["path"].as_str().expect("path");
    assert!(
        path.starts_with("/nix/store/") && path.ends_with("-stamp/random"),
        "{path}"
    );
    assert_eq!(d[0]["kind"], "content");
}

#[test]
fn shell_mode_runs_probes_inside_nix_shell_pure() {
    if !nix_ready() || !require_tool("bash") {
        return;
    }
    let p = Project::new();
    // The stdenv nix-shell sources: PATH from buildInputs only.
    p.file(
        "setup.sh",
        "for p in $buildInputs; do PATH=$p/bin${PATH:+:$PATH}; done\nexport PATH\n",
    );
    p.file(
        "setup.nix",
        &format!("let busybox = {BUSYBOX}; in derivation {{ name = \"setup\"; system = builtins.currentSystem; builder = \"${{busybox}}/busybox\"; args = [\"sh\" \"-c\" \"${{busybox}}/busybox mkdir $out; ${{busybox}}/busybox cp ${{./setup.sh}} $out/setup\"]; }}\n"),
    );
    p.file(
        "hello.nix",
        &drv("hello", "busybox mkdir -p $out/bin\nprintf '#!/bin/sh\\necho hi\\n' > $out/bin/hello\nbusybox chmod +x $out/bin/hello"),
    );
    p.file(
        "shell.nix",
        &format!("let busybox = {BUSYBOX}; in derivation {{ name = \"shell\"; system = builtins.currentSystem; builder = \"${{busybox}}/busybox\"; args = [\"sh\" \"-c\" \"echo > $out\"]; stdenv = import ./setup.nix; buildInputs = [ (import ./hello.nix) ]; }}\n"),
    );
    p.file(
        "s.yaml",
        "name: nix-shell\nprovider: nix\nnix: {file: shell.nix, mode: shell}\nexpect:\n  which: {hello: /nix/store/*-hello/bin/hello}\n  missing: [gcc, python3]\n  run:\n    - cmd: hello\n      stdout: \"hi\\n\"\n",
    );
    let (code, report) = p.run_json(&["s.yaml"]);
    assert_eq!(code, 0, "{report:#}");
    let path = scenario(&report, "nix-shell")["builds"]["b"]["path"]
        .as_array()
        .expect("path")
        .clone();
    assert_eq!(
        path[0], "/envtwin/shell",
        "nix-shell prepends its shell's directory"
    );
    assert!(
        path[1].as_str().unwrap_or("").ends_with("-hello/bin"),
        "{path:?}"
    );
    assert_eq!(path.len(), 2, "{path:?}");
}

#[test]
fn nix_errors_are_clear_failures_quoting_nix() {
    if !nix_ready() {
        return;
    }
    let p = Project::new();
    p.file("bad-eval.nix", "{ x = ; }\n");
    p.file(
        "e.yaml",
        "name: eval\nprovider: nix\nnix: {file: bad-eval.nix, mode: build}\n",
    );
    p.file("ok.nix", &drv("ok", "busybox mkdir $out"));
    p.file(
        "a.yaml",
        "name: attr\nprovider: nix\nnix: {file: ok.nix, attr: nope, mode: build}\n",
    );
    p.file(
        "fails.nix",
        &drv("fails", "echo 'compiler exploded' >&2; exit 3"),
    );
    p.file(
        "f.yaml",
        "name: fails\nprovider: nix\nnix: {file: fails.nix, mode: build}\n",
    );
    p.file("loop.nix", &drv("loop", "busybox sleep 1000"));
    p.file(
        "t.yaml",
        "name: slow\ntimeout: 2\nprovider: nix\nnix: {file: loop.nix, mode: build}\n",
    );
    let (code, report) = p.run_json(&["."]);
    assert_eq!(code, 1, "{report:#}");
    for (name, quote) in [
        ("eval", "syntax error"),
        ("attr", "attribute 'nope'"),
        ("fails", "compiler exploded"),
        ("slow", "timed out"),
    ] {
        let s = scenario(&report, name);
        assert_eq!(s["verdict"], "fail", "{name}");
        let msg = s["checks"][0]["message"].as_str().unwrap_or("");
        assert!(msg.contains(quote), "{name}: {msg}");
    }
    assert!(p.leftovers().is_empty(), "{:?}", p.leftovers());
}

#[test]
fn a_missing_nix_file_is_invalid_input() {
    let p = Project::new();
    p.file(
        "s.yaml",
        "name: nofile\nprovider: nix\nnix: {file: nowhere.nix}\n",
    );
    let out = p.cmd(&["run", "s.yaml"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nowhere.nix"));
}

#[test]
fn without_nix_a_scenario_is_skipped_unless_providers_are_required() {
    let p = Project::new();
    p.file("x.nix", "{}\n");
    p.file(
        "s.yaml",
        "name: needs-nix\nprovider: nix\nnix: {file: x.nix, mode: build}\n",
    );
    let empty = tempfile::tempdir().expect("tmp");
    let out = p
        .cmd(&["run", "--format", "json", "s.yaml"])
        .env("ENVTWIN_NIX_BIN", empty.path())
        .env_remove("CI")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let s = scenario(&report, "needs-nix");
    assert_eq!(s["verdict"], "skipped");
    assert!(
        s["reason"]
            .as_str()
            .unwrap_or("")
            .contains("apt-get install -y nix-bin"),
        "{s}"
    );
    let out = p
        .cmd(&["run", "--require-providers", "s.yaml"])
        .env("ENVTWIN_NIX_BIN", empty.path())
        .env_remove("CI")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let out = p
        .cmd(&["run", "s.yaml"])
        .env("ENVTWIN_NIX_BIN", empty.path())
        .env("CI", "true")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "CI=true requires providers");
}

#[test]
fn hash_of_a_store_path_equals_nix_store_query_hash() {
    if !nix_ready() || !require_tool("unshare") {
        return;
    }
    let p = Project::new();
    p.file("content/bin/tool", "#!/bin/sh\necho tool\n");
    p.file("content/share/doc", "docs\n");
    std::os::unix::fs::symlink("bin/tool", p.path().join("content/link")).expect("symlink");
    let bin = assert_cmd::cargo::cargo_bin("envtwin");
    // A private, empty store (as envtwin's builds get), so the host's is untouched.
    let script = format!(
        "mount -t tmpfs tmpfs /nix && P=$(nix-store --add {content}) && nix-store -q --hash $P && {bin} hash $P",
        content = p.path().join("content").display(),
        bin = bin.display()
    );
    let out = std::process::Command::new("unshare")
        // A user namespace too, so that an ordinary user may mount.
        .args(["-Urm", "sh", "-c", &script])
        .env("NIX_CONFIG", "build-users-group =\nsandbox = false\n")
        .output()
        .expect("unshare");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    let (nix, ours) = (lines[0], lines[1]);
    use base64::Engine;
    let digest = base64::engine::general_purpose::STANDARD
        .decode(ours.strip_prefix("sha256-").expect("SRI"))
        .expect("base64");
    assert_eq!(format!("sha256:{}", envtwin::tree::nix32(&digest)), nix);
}

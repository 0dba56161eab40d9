//! Checks of SPEC §6 and the report of SPEC §7, passing and failing.

use crate::support::{Project, scenario};
use sha2::{Digest, Sha256};

const HELLO: &str = r#"name: hello
build: |
  mkdir -p "$out/bin"
  printf '#!/bin/sh\necho hello\n' > "$out/bin/hello"
  chmod +x "$out/bin/hello"
  ln -s /usr/bin/env "$out/bin/leaky-env"
expect:
  which:
    hello: $out/bin/hello
  missing: [gcc]
  path_contains: ["$out/bin"]
  path_excludes: ["/usr/*"]
  run:
    - cmd: hello
      stdout: "hello\n"
      stdout_contains: hel
"#;

#[test]
fn a_passing_scenario_reports_every_spec_field() {
    let p = Project::new();
    p.file("hello.yaml", HELLO);
    let (code, report) = p.run_json(&["hello.yaml"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["version"], 1);
    assert_eq!(report["summary"]["total"], 1);
    assert_eq!(report["summary"]["passed"], 1);
    let s = scenario(&report, "hello");
    assert_eq!(s["verdict"], "pass");
    assert_eq!(s["provider"], "shell");
    assert_eq!(s["file"], "hello.yaml");
    assert_eq!(s["reproducible"], true);
    assert!(s["reason"].is_null());
    assert!(s["differences"].as_array().expect("array").is_empty());
    let a = &s["builds"]["a"];
    assert_eq!(a["status"], "ok");
    assert_eq!(a["exit_code"], 0);
    assert_eq!(a["hash"], s["builds"]["b"]["hash"]);
    assert!(a["hash"].as_str().expect("hash").starts_with("sha256-"));
    assert_eq!(a["files"], 2, "hello and the symlink");
    assert_eq!(a["bytes"], 21);
    assert_eq!(a["path"], serde_json::json!(["/envtwin/out/bin"]));
    assert_eq!(
        a["path_entries"][0]["executables"],
        serde_json::json!(["hello", "leaky-env"])
    );
    let which = &a["which"]["hello"];
    assert_eq!(which["path"], "/envtwin/out/bin/hello");
    assert_eq!(which["resolved"], "/envtwin/out/bin/hello");
    assert_eq!(which["inside"], true);
    let want = Sha256::digest(b"#!/bin/sh\necho hello\n");
    let want: String = want.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(which["sha256"], want.as_str());
    assert!(
        a["which"]["gcc"].is_null(),
        "gcc must not be found: {}",
        a["which"]["gcc"]
    );
    assert_eq!(a["run"][0]["stdout"], "hello\n");
    assert!(a["duration_ms"].is_u64());
    let kinds: Vec<&str> = s["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| c["check"].as_str().unwrap_or(""))
        .collect();
    for k in ["build", "reproducible", "which", "missing", "path", "run"] {
        assert!(kinds.contains(&k), "no {k} check in {kinds:?}");
    }
}

#[test]
fn a_tool_leaking_from_the_host_fails_which_with_the_resolved_target() {
    let p = Project::new();
    p.file(
        "leak.yaml",
        r#"name: leak
build: |
  mkdir -p "$out/bin"
  ln -s /usr/bin/env "$out/bin/tool"
path: ["$out/bin", "/usr/bin"]
expect:
  which:
    tool: $out/bin/tool
    gcc: $out/bin/*
  path_excludes: ["/usr/*"]
"#,
    );
    let (code, report) = p.run_json(&["leak.yaml"]);
    assert_eq!(code, 1);
    let s = scenario(&report, "leak");
    let tool = &s["builds"]["a"]["which"]["tool"];
    assert_eq!(tool["resolved"], "/usr/bin/env");
    assert_eq!(tool["inside"], false);
    let failed: Vec<String> = s["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["message"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        failed.iter().any(|m| m.contains(
            "`which gcc`: expected a match for /envtwin/out/bin/*; build A found /usr/bin/gcc"
        )),
        "{failed:#?}"
    );
    assert!(
        failed
            .iter()
            .any(|m| m.contains("expected no PATH entry matching /usr/*; build A has /usr/bin")),
        "{failed:#?}"
    );
}

#[test]
fn failed_checks_say_expected_seen_and_which_build() {
    let p = Project::new();
    p.file(
        "bad.yaml",
        r#"name: bad
build: |
  mkdir -p "$out/bin"
  printf '#!/bin/sh\necho hullo\n' > "$out/bin/hello"
  chmod +x "$out/bin/hello"
expect:
  hash: sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
  which:
    nope: $out/bin/nope
  missing: [hello]
  path_contains: ["/opt/*"]
  run:
    - cmd: hello
      stdout: "hello\n"
    - cmd: exit 3
"#,
    );
    let (code, report) = p.run_json(&["bad.yaml"]);
    assert_eq!(code, 1);
    let s = scenario(&report, "bad");
    assert_eq!(s["verdict"], "fail");
    let msgs: Vec<String> = s["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| {
            format!(
                "{}: {}",
                c["check"].as_str().unwrap_or(""),
                c["message"].as_str().unwrap_or("")
            )
        })
        .collect();
    let expect = [
        "hash: expected hash sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=, build A has sha256-",
        "which: `which nope`: expected a match for /envtwin/out/bin/nope; build A found nothing; build B found nothing",
        "missing: expected `hello` not to be found on the activated PATH, but build A found /envtwin/out/bin/hello and build B found /envtwin/out/bin/hello",
        "path: expected a PATH entry matching /opt/*; build A has PATH=/envtwin/out/bin",
        "run: `hello`: expected stdout \"hello\\n\", build A printed \"hullo\\n\"",
        "run: `exit 3`: expected exit 0, build A exited 3",
    ];
    for e in expect {
        assert!(
            msgs.iter().any(|m| m.starts_with(e)),
            "no check message starting {e:?} in {msgs:#?}"
        );
    }
    // Human output: one line per scenario, the details, the summary line.
    let out = p.cmd(&["run", "bad.yaml"]).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("FAIL  bad"), "{text}");
    assert!(
        text.contains("✗ run: `exit 3`: expected exit 0, build A exited 3"),
        "{text}"
    );
    assert!(
        text.trim_end().ends_with("0 passed, 1 failed, 0 skipped"),
        "{text}"
    );
}

#[test]
fn a_failing_build_names_the_build_its_exit_and_its_last_output() {
    let p = Project::new();
    p.file(
        "f.yaml",
        "name: broken\nbuild: |\n  echo compiling\n  echo 'error: missing thing' >&2\n  exit 7\n",
    );
    let (code, report) = p.run_json(&["f.yaml"]);
    assert_eq!(code, 1);
    let s = scenario(&report, "broken");
    assert_eq!(s["builds"]["a"]["status"], "failed");
    assert_eq!(s["builds"]["a"]["exit_code"], 7);
    assert!(
        s["builds"]["b"]["stderr_tail"]
            .as_str()
            .unwrap_or("")
            .contains("error: missing thing")
    );
    let msg = s["checks"][0]["message"].as_str().unwrap_or("");
    assert!(msg.starts_with("build A exited 7 after"), "{msg}");
    assert!(
        msg.contains("error: missing thing") && msg.contains("--keep"),
        "{msg}"
    );
}

#[test]
fn reproducible_false_requires_a_difference_and_lists_it() {
    let p = Project::new();
    p.file(
        "r.yaml",
        "name: stamped\nbuild: |\n  mkdir -p \"$out\"\n  head -c 8 /dev/urandom > \"$out/rand\"\n  echo same > \"$out/same\"\nexpect:\n  reproducible: false\n",
    );
    p.file("s.yaml", "name: steady\nbuild: |\n  mkdir -p \"$out\"\n  echo same > \"$out/same\"\nexpect:\n  reproducible: false\n");
    let (code, report) = p.run_json(&["."]);
    assert_eq!(code, 1);
    let st = scenario(&report, "stamped");
    assert_eq!(st["verdict"], "pass");
    assert_eq!(st["reproducible"], false);
    let d0 = &st["differences"][0];
    assert_eq!(
        st["differences"],
        serde_json::json!([{"path": "rand", "kind": "content", "a": d0["a"], "b": d0["b"], "detail": d0["detail"], "inherent": true}])
    );
    // 8 random bytes: shown as bytes (unless, rarely, they happen to be text).
    let format = d0["detail"]["format"].as_str().unwrap_or("");
    assert!(format == "binary" || format == "text", "{d0}");
    if format == "binary" {
        assert_eq!(
            d0["detail"]["hex_a"].as_str().map(|h| h.len()),
            Some(8 * 3 - 1)
        );
    }
    let steady = scenario(&report, "steady");
    assert_eq!(steady["verdict"], "fail");
    assert_eq!(
        report["summary"],
        serde_json::json!({"total": 2, "passed": 1, "failed": 1, "errors": 0, "skipped": 0})
    );
}

#[test]
fn filter_output_file_and_difference_kinds() {
    let p = Project::new();
    p.file(
        "k.yaml",
        r#"name: kinds
build: |
  mkdir -p "$out"
  if [ "$(hostname)" = envtwin-a ]; then
    echo a > "$out/only-a"; ln -s one "$out/link"; echo x > "$out/mode"; chmod +x "$out/mode"; mkdir "$out/t"
  else
    echo b > "$out/only-b"; ln -s two "$out/link"; echo x > "$out/mode"; echo file > "$out/t"
  fi
"#,
    );
    p.file("other.yaml", "name: other\nbuild: exit 1\n");
    let (code, report) = p.run_json(&[
        "--filter",
        "kin",
        "-o",
        "report.json",
        "--vary",
        "hostname",
        ".",
    ]);
    assert_eq!(code, 1);
    assert_eq!(report["summary"]["total"], 1, "--filter keeps only `kinds`");
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.path().join("report.json")).expect("-o file"))
            .expect("json");
    assert_eq!(written, report);
    let kinds: Vec<(String, String)> = scenario(&report, "kinds")["differences"]
        .as_array()
        .expect("differences")
        .iter()
        .map(|d| {
            (
                d["path"].as_str().unwrap_or("").into(),
                d["kind"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("link", "symlink_target"),
        ("mode", "executable"),
        ("only-a", "only_in_a"),
        ("only-b", "only_in_b"),
        ("t", "type"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(kinds, want);
}

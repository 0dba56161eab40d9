//! `envtwin audit`: the corpus of good and bad files under
//! tests/audit-corpus with their expected findings, the shipped scenarios,
//! exit codes, `--deny warning`, `--format json` and bad input.

use crate::support::Project;
use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/audit-corpus")
}

/// `envtwin audit --format json ARGS` in `dir`: exit code and parsed report.
fn audit_json(dir: &Path, args: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::cargo_bin("envtwin")
        .expect("binary")
        .current_dir(dir)
        .args(["audit", "--format", "json"])
        .args(args)
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .expect("run");
    crate::support::json_output(&out)
}

/// Findings as `file:line:column rule`, `file` relative to `prefix`.
fn findings(report: &serde_json::Value, prefix: &str) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let file = f["file"].as_str().expect("file");
            let file = file.strip_prefix(prefix).unwrap_or(file);
            format!(
                "{file}:{}:{} {}",
                f["line"],
                f["column"],
                f["rule"].as_str().expect("rule")
            )
        })
        .collect()
}

fn cases(kind: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(corpus().join(kind))
        .expect("corpus")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no {kind} cases");
    names
}

#[test]
fn bad_corpus_cases_report_exactly_their_expected_findings() {
    for case in cases("bad") {
        let dir = format!("bad/{case}");
        let expected: Vec<String> =
            std::fs::read_to_string(corpus().join(&dir).join("expected.txt"))
                .expect("expected.txt")
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from)
                .collect();
        let (code, report) = audit_json(&corpus(), &[&dir]);
        assert_eq!(
            findings(&report, &format!("{dir}/")),
            expected,
            "case {case}: {report:#}"
        );
        let errors = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["severity"] == "error");
        assert_eq!(code, if errors { 1 } else { 0 }, "case {case}");
        // Each finding is complete.
        for f in report["findings"].as_array().expect("findings") {
            for key in ["file", "rule", "severity", "message", "fix"] {
                assert!(
                    f[key].as_str().is_some_and(|s| !s.is_empty()),
                    "{key} in {f}"
                );
            }
            assert!(f["line"].as_u64().is_some_and(|n| n >= 1), "{f}");
            assert!(f["column"].as_u64().is_some_and(|n| n >= 1), "{f}");
        }
    }
}

#[test]
fn a_scenario_alone_brings_the_files_it_uses() {
    // Named alone, the scenario's nix.file, nix_path files and $src
    // requirements files are audited as when its directory is.
    for (case, scenario) in [("nix-file", "env.yaml"), ("shell-build", "build.yaml")] {
        let dir = format!("bad/{case}");
        let (_, whole) = audit_json(&corpus(), &[&dir]);
        let (_, alone) = audit_json(&corpus(), &[&format!("{dir}/{scenario}")]);
        assert_eq!(alone["findings"], whole["findings"], "case {case}");
        assert_eq!(alone["summary"], whole["summary"], "case {case}");
    }
}

#[test]
fn good_corpus_cases_are_clean_even_denying_warnings() {
    for case in cases("good") {
        let dir = format!("good/{case}");
        let (code, report) = audit_json(&corpus(), &["--deny", "warning", &dir]);
        assert_eq!(findings(&report, ""), Vec::<String>::new(), "case {case}");
        assert_eq!(code, 0, "case {case}");
        assert!(report["summary"]["files"].as_u64().is_some_and(|n| n >= 1));
    }
}

#[test]
fn the_shipped_scenarios_flag_the_articles_nixpkgs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The default path is scenarios/.
    let (code, report) = audit_json(root, &[]);
    assert_eq!(
        findings(&report, ""),
        [
            "scenarios/nix/article-env/default.nix:3:13 nix-lookup-path",
            "scenarios/nix/hello-shell/shell.nix:2:13 nix-lookup-path",
            "scenarios/nix/stamped/default.nix:4:13 nix-lookup-path",
        ]
    );
    assert_eq!(code, 1);
}

#[test]
fn the_shipped_python_environments_are_pinned_through_their_imports() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The nix scenarios fetch through mini-nixpkgs, imported by a relative
    // path: its hashed fetchPypi calls count, so `network: true` is pinned.
    let (code, report) = audit_json(
        root,
        &[
            "--deny",
            "warning",
            "scenarios/nix/python-flask.yaml",
            "scenarios/nix/python-flask-build.yaml",
            "scenarios/nix/python-withpackages.yaml",
            "scenarios/python-flask-venv",
        ],
    );
    assert_eq!(findings(&report, ""), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, 0);
}

#[test]
fn fetches_of_an_imported_package_set_count_for_network() {
    let p = Project::new();
    let scenario = "name: s\nprovider: nix\nnix: {file: env/default.nix}\nnetwork: true\n";
    p.file("s.yaml", scenario);
    p.file(
        "env/default.nix",
        "with import ../pkgs { }; mkShell { packages = [ tool ]; }\n",
    );
    p.file("pkgs/default.nix", "{ }: { tool = import ./tool.nix; }\n");
    p.file(
        "pkgs/tool.nix",
        "fetchurl { url = \"https://x.org/t.whl\"; sha256 = \"00\"; }\n",
    );
    let (code, report) = audit_json(p.path(), &["--deny", "warning", "s.yaml"]);
    assert_eq!(findings(&report, ""), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, 0);

    // The same package set fetching without a hash: network is unpinned.
    p.file(
        "pkgs/tool.nix",
        "fetchurl { url = \"https://x.org/t.whl\"; }\n",
    );
    let (_, report) = audit_json(p.path(), &["s.yaml"]);
    let rules = findings(&report, "");
    assert!(
        rules.contains(&"s.yaml:4:10 network-unpinned".to_owned()),
        "{rules:?}"
    );
    let message = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["rule"] == "network-unpinned")
        .and_then(|f| f["message"].as_str())
        .expect("message");
    assert!(
        message.contains("none of its 1 download is pinned"),
        "{message}"
    );
}

#[test]
fn human_output_exit_codes_and_deny_warning() {
    let p = Project::new();
    p.file("clean/requirements.txt", "flask==3.0.0 --hash=sha256:aa\n");
    p.cmd(&["audit", "clean"])
        .assert()
        .code(0)
        .stdout("1 file audited, 0 errors, 0 warnings\n");

    p.file("warn/requirements.txt", "flask==3.0.0\n");
    p.cmd(&["audit", "warn"])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with(
            "warn/requirements.txt:1:1: warning requirements-no-hashes: `flask==3.0.0` has no `--hash`",
        ))
        .stdout(predicate::str::contains("\n  fix: add `--hash=sha256:"))
        .stdout(predicate::str::ends_with(
            "1 file audited, 0 errors, 1 warning\n",
        ));
    p.cmd(&["audit", "--deny", "warning", "warn"])
        .assert()
        .code(1);
    p.cmd(&["audit", "--deny", "error", "warn"])
        .assert()
        .code(0);

    p.file("err/x.nix", "with import <nixpkgs> {}; hello\n");
    p.cmd(&["audit", "err/x.nix"])
        .assert()
        .code(1)
        .stdout(predicate::str::starts_with(
            "err/x.nix:1:13: error nix-lookup-path: ",
        ))
        .stdout(predicate::str::ends_with(
            "1 file audited, 1 error, 0 warnings\n",
        ));
    p.cmd(&["audit", "--deny", "nonsense", "err"])
        .assert()
        .code(2);
}

#[test]
fn json_report_fields() {
    let p = Project::new();
    p.file(
        "s.yaml",
        "name: s\nbuild: |\n  mkdir -p \"$out\"\n  npm install\n",
    );
    let (code, report) = audit_json(p.path(), &["s.yaml"]);
    assert_eq!(code, 1);
    assert_eq!(report["findings"].as_array().map(Vec::len), Some(1));
    let f = &report["findings"][0];
    assert_eq!(f["file"], "s.yaml");
    assert_eq!(
        (f["line"].as_u64(), f["column"].as_u64()),
        (Some(4), Some(3))
    );
    assert_eq!(f["rule"], "npm-install");
    assert_eq!(f["severity"], "error");
    assert!(
        f["message"]
            .as_str()
            .is_some_and(|m| m.contains("npm install"))
    );
    assert!(f["fix"].as_str().is_some_and(|m| m.contains("npm ci")));
    assert_eq!(
        report["summary"],
        serde_json::json!({"files": 1, "errors": 1, "warnings": 0})
    );
}

fn bad_input(p: &Project, args: &[&str], names: &str) {
    let mut all = vec!["audit"];
    all.extend_from_slice(args);
    p.cmd(&all)
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(names))
        .stderr(predicate::str::contains("nothing was audited"))
        .stderr(predicate::str::contains("panicked").not());
}

#[test]
fn bad_input_exits_2_naming_the_file() {
    let p = Project::new();
    bad_input(
        &p,
        &["does-not-exist"],
        "does-not-exist: no such file or directory",
    );
    // The default path, scenarios/, is missing here too.
    bad_input(&p, &[], "scenarios: no such file or directory");

    std::fs::write(p.path().join("blob.nix"), [0x7f, b'E', b'L', b'F', 0, 1, 2]).expect("write");
    bad_input(&p, &["blob.nix"], "blob.nix:1:5: not a text file");
    std::fs::create_dir_all(p.path().join("d")).expect("mkdir");
    std::fs::write(p.path().join("d/requirements.txt"), b"flask\xff\n").expect("write");
    bad_input(&p, &["d"], "d/requirements.txt:1:6: not a text file");

    p.file("notes.md", "# notes\n");
    bad_input(&p, &["notes.md"], "notes.md: not a file the audit knows");
    std::fs::create_dir_all(p.path().join("empty")).expect("mkdir");
    bad_input(&p, &["empty"], "empty: nothing to audit");

    p.file("invalid/s.yaml", "name: s\nbiuld: echo\n");
    bad_input(&p, &["invalid"], "invalid/s.yaml:2:1: unknown key `biuld`");

    // Every problem is listed, and good inputs beside them do not hide them.
    p.file("ok.nix", "{ }\n");
    p.cmd(&["audit", "ok.nix", "does-not-exist", "blob.nix"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("does-not-exist"))
        .stderr(predicate::str::contains("blob.nix"))
        .stderr(predicate::str::contains("2 problems in the input"));
}

#[test]
fn a_fifo_is_refused_not_read() {
    let p = Project::new();
    let fifo = p.path().join("pipe.nix");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    bad_input(&p, &["pipe.nix"], "pipe.nix: not a regular file");
    // Also when a scenario names it as its nix.file.
    p.file("s.yaml", "name: s\nprovider: nix\nnix:\n  file: pipe.nix\n");
    bad_input(&p, &["s.yaml"], "pipe.nix: not a regular file");
}

#[test]
fn help_has_an_example_and_the_rules() {
    let p = Project::new();
    p.cmd(&["audit", "--help"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Example: envtwin audit"))
        .stdout(predicate::str::contains("nix-lookup-path"))
        .stdout(predicate::str::contains("--deny"));
}

#[test]
fn pathological_inputs_finish() {
    // Shapes that were quadratic once: long dotted runs (path/URI prefix
    // scans), unclosed fetcher sets, long `inherit (builtins)` lists, many
    // downloads never checked, deep substitutions. Scanned quadratically,
    // several of these take minutes; as written, about a second each in a
    // debug build.
    let p = Project::new();
    p.file("dots.nix", &"a.".repeat(400_000));
    p.file("sets.nix", &"fetchurl { ".repeat(100_000));
    p.file(
        "inherit.nix",
        &format!("inherit (builtins) {};", "currentSystem ".repeat(200_000)),
    );
    let downloads: String = (0..20_000).map(|i| format!("  curl -o a{i} u\n")).collect();
    p.file("downloads.yaml", &format!("name: d\nbuild: |\n{downloads}"));
    p.file(
        "nested.yaml",
        &format!("name: n\nbuild: |\n  {}\n", "$(".repeat(100_000)),
    );
    p.file("requirements.txt", &"a\\\n".repeat(300_000));
    for file in [
        "dots.nix",
        "sets.nix",
        "inherit.nix",
        "downloads.yaml",
        "nested.yaml",
        "requirements.txt",
    ] {
        p.cmd(&["audit", file])
            .timeout(std::time::Duration::from_secs(60))
            .assert()
            .stderr(predicate::str::contains("panicked").not())
            .code(predicate::in_iter([0, 1]));
    }
}

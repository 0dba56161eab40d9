//! The CI gate's tools: JUnit, sharding, progress, completions, help.

use crate::support::{Project, require_tool};

fn scenarios(p: &Project, n: usize) {
    for i in 0..n {
        p.file(
            &format!("s{i}.yaml"),
            &format!(
                "name: scenario-{i}\nbuild: |\n  mkdir -p \"$out\"\n  echo {i} > \"$out/n\"\n"
            ),
        );
    }
}

#[test]
fn junit_has_a_testcase_per_scenario_and_failures_with_their_checks() {
    let p = Project::new();
    p.file("ok.yaml", "name: ok\nbuild: mkdir -p \"$out\"\n");
    p.file(
        "bad.yaml",
        "name: bad\nbuild: |\n  mkdir -p \"$out\"\n  hostname > \"$out/h\"\n",
    );
    p.file("x.nix", "{}\n");
    p.file(
        "skip.yaml",
        "name: skip\nprovider: nix\nnix: {file: x.nix}\n",
    );
    let empty = tempfile::tempdir().expect("tmp");
    let out = p
        .cmd(&["run", "--format", "junit", "-o", "junit.xml", "."])
        .env("ENVTWIN_NIX_BIN", empty.path())
        .env_remove("CI")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let xml = std::fs::read_to_string(p.path().join("junit.xml")).expect("junit.xml");
    assert_eq!(xml, String::from_utf8_lossy(&out.stdout));
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let cases: Vec<roxmltree::Node> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let names: Vec<&str> = cases.iter().filter_map(|c| c.attribute("name")).collect();
    assert_eq!(names, vec!["bad", "ok", "skip"]);
    let bad = cases[0];
    let failure = bad
        .children()
        .find(|n| n.has_tag_name("failure"))
        .expect("failure element");
    assert!(
        failure
            .attribute("message")
            .unwrap_or("")
            .contains("reproducible"),
        "{xml}"
    );
    assert!(
        failure.text().unwrap_or("").contains("difference: h"),
        "{xml}"
    );
    assert!(cases[1].children().all(|n| !n.has_tag_name("failure")));
    assert!(cases[2].children().any(|n| n.has_tag_name("skipped")));
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .expect("suite");
    assert_eq!(suite.attribute("tests"), Some("3"));
    assert_eq!(suite.attribute("failures"), Some("1"));
}

#[test]
fn partitions_are_disjoint_and_cover_every_scenario() {
    let p = Project::new();
    scenarios(&p, 7);
    let mut seen = Vec::new();
    for k in 1..=3 {
        let part = format!("{k}/3");
        let (code, report) = p.run_json(&["--no-vary", "--partition", &part, "."]);
        assert_eq!(code, 0);
        let names: Vec<String> = report["scenarios"]
            .as_array()
            .expect("scenarios")
            .iter()
            .map(|s| s["name"].as_str().unwrap_or("").to_string())
            .collect();
        // Deterministic: the same shard twice gives the same scenarios.
        let (_, again) = p.run_json(&["--no-vary", "--partition", &part, "."]);
        assert_eq!(
            report["scenarios"].as_array().map(|a| a.len()),
            again["scenarios"].as_array().map(|a| a.len())
        );
        seen.extend(names);
    }
    seen.sort();
    let all: Vec<String> = {
        let mut v: Vec<String> = (0..7).map(|i| format!("scenario-{i}")).collect();
        v.sort();
        v
    };
    assert_eq!(seen, all, "every scenario exactly once across the shards");
}

#[test]
fn bad_partitions_are_invalid_input() {
    let p = Project::new();
    scenarios(&p, 1);
    for bad in ["0/3", "4/3", "a/b", "3", "1/0"] {
        let out = p
            .cmd(&["run", "--partition", bad, "."])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("K/N"),
            "{bad}"
        );
    }
}

#[test]
fn progress_shows_on_a_terminal_only() {
    let p = Project::new();
    scenarios(&p, 2);
    // Piped: no progress line anywhere.
    let out = p.cmd(&["run", "."]).output().expect("run");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("scenarios done"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("scenarios done"));
    if !require_tool("script") {
        return;
    }
    let bin = assert_cmd::cargo::cargo_bin("envtwin");
    let tty = |no_color: bool| {
        let mut c = std::process::Command::new("script");
        c.args(["-qec", &format!("{} run .", bin.display()), "/dev/null"])
            .current_dir(p.path())
            .env("ENVTWIN_WORKDIR", p.tmp.path())
            // A terminal has a TERM; CI runners and `env -i` may not.
            .env("TERM", "xterm");
        if no_color {
            c.env("NO_COLOR", "1");
        } else {
            c.env_remove("NO_COLOR");
        }
        let o = c.output().expect("script");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let shown = tty(false);
    assert!(shown.contains("scenarios done"), "{shown}");
    assert!(shown.contains("2 passed, 0 failed, 0 skipped"), "{shown}");
    assert!(
        shown.contains("\u{1b}[36m"),
        "coloured spinner expected: {shown:?}"
    );
    let plain = tty(true);
    assert!(plain.contains("scenarios done"));
    assert!(
        !plain.contains("\u{1b}[36m"),
        "NO_COLOR must turn colour off: {plain:?}"
    );
    // JSON on a terminal: no progress either.
    let o = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("{} run --format json .", bin.display()),
            "/dev/null",
        ])
        .current_dir(p.path())
        .env("ENVTWIN_WORKDIR", p.tmp.path())
        .output()
        .expect("script");
    assert!(!String::from_utf8_lossy(&o.stdout).contains("scenarios done"));
}

#[test]
fn completions_and_help_with_examples() {
    let p = Project::new();
    let out = p
        .cmd(&["completions", "bash"])
        .output()
        .expect("completions");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("_envtwin()") && text.contains("--partition"),
        "bash completion"
    );
    let out = p.cmd(&["completions", "zsh"]).output().expect("zsh");
    assert!(String::from_utf8_lossy(&out.stdout).contains("#compdef envtwin"));
    for cmd in ["run", "validate", "hash", "diff", "completions"] {
        let out = p.cmd(&[cmd, "--help"]).output().expect("help");
        assert_eq!(out.status.code(), Some(0), "{cmd}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Example: envtwin"),
            "{cmd} --help has no example"
        );
    }
}

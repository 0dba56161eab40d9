//! Bad input exits 2 with file:line:column, quickly, without a panic.

use crate::support::Project;
use predicates::prelude::*;

fn invalid(p: &Project, args: &[&str], expect: &str) {
    p.cmd(args)
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(expect))
        .stderr(predicate::str::contains("panicked").not());
}

#[test]
fn malformed_scenarios_exit_2_naming_the_file() {
    let p = Project::new();
    p.file("syntax/s.yaml", "name: x\nbuild: [unclosed\n");
    invalid(&p, &["run", "syntax"], "s.yaml:");
    p.file("empty/s.yaml", "");
    invalid(&p, &["run", "empty"], "s.yaml");
    p.file("list/s.yaml", "- name: x\n  build: y\n");
    invalid(&p, &["run", "list"], "s.yaml");
    std::fs::create_dir_all(p.path().join("garbage")).expect("mkdir");
    std::fs::write(
        p.path().join("garbage/s.yaml"),
        [0u8, 159, 146, 150, 255, 0, 1, 2],
    )
    .expect("write");
    invalid(&p, &["run", "garbage"], "s.yaml");
    let bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    p.file("bomb/s.yaml", bomb);
    invalid(&p, &["run", "bomb"], "s.yaml");
    p.file("typo/s.yaml", "name: x\nbiuld: echo\n");
    invalid(&p, &["validate", "typo"], "s.yaml:2:1");
    invalid(&p, &["validate", "typo"], "build");
    assert!(p.leftovers().is_empty());
}

#[test]
fn nothing_is_built_when_any_scenario_is_invalid() {
    let p = Project::new();
    let marker = p.path().join("built");
    p.file(
        "good.yaml",
        &format!(
            "name: good\nnetwork: true\nbuild: touch {}\n",
            marker.display()
        ),
    );
    p.file("bad.yaml", "name: bad\nbuild: 3\nnonsense: true\n");
    invalid(&p, &["run", "."], "bad.yaml");
    assert!(!marker.exists());
}

#[test]
fn bad_paths_and_flags_exit_2() {
    let p = Project::new();
    invalid(&p, &["run", "does-not-exist"], "does-not-exist");
    invalid(
        &p,
        &["validate", "does-not-exist.yaml"],
        "does-not-exist.yaml",
    );
    invalid(&p, &["run", "--jobs", "0"], "jobs");
    invalid(&p, &["run", "--format", "xml"], "xml");
    invalid(&p, &["run", "--bogus-flag"], "bogus-flag");
    invalid(&p, &["run", "--vary", "hostnme"], "did you mean `hostname`");
    invalid(&p, &["hash", "does-not-exist"], "does-not-exist");
    invalid(&p, &["diff", "does-not-exist", "."], "does-not-exist");
    invalid(&p, &["frobnicate"], "frobnicate");
    p.file("ok.yaml", "name: ok\nbuild: mkdir -p \"$out\"\n");
    invalid(
        &p,
        &["run", "-o", "no/such/dir/report.json", "ok.yaml"],
        "no/such/dir/report.json",
    );
    assert!(p.leftovers().is_empty(), "nothing may be built");
}

#[test]
fn validate_accepts_the_shipped_scenarios() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    assert_cmd::Command::cargo_bin("envtwin")
        .expect("bin")
        .current_dir(root)
        .arg("validate")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("python-todo"))
        .stdout(predicate::str::contains("hello"));
}

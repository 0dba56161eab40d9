//! Truthful verdicts (issue 11): expected failures, SOURCE_DATE_EPOCH
//! honesty, a failing build B explained, culprits per archive member,
//! strict mode comparison, binary hints and time-dependent output.

use crate::support::{Project, scenario};
use serde_json::json;

#[test]
fn expect_build_fail_passes_only_when_both_builds_fail() {
    let p = Project::new();
    p.file(
        "broken.yaml",
        "name: broken\nbuild: |\n  echo 'no such compiler' >&2\n  exit 3\nexpect:\n  build: fail\n",
    );
    p.file(
        "works.yaml",
        "name: works\nbuild: |\n  mkdir -p \"$out\"\nexpect:\n  build: fail\n",
    );
    let (code, report) = p.run_json(&["broken.yaml"]);
    assert_eq!(code, 0, "{report:#}");
    let s = scenario(&report, "broken");
    assert_eq!(s["verdict"], "pass");
    let build = &s["checks"][0];
    assert_eq!(build["check"], "build");
    assert_eq!(build["passed"], true);
    assert!(
        build["message"]
            .as_str()
            .unwrap()
            .starts_with("build A failed as expected (exit 3)"),
        "{build}"
    );
    assert!(s["culprits"].is_null(), "no search when both fail: {s}");

    let (code, report) = p.run_json(&["works.yaml"]);
    assert_eq!(code, 1);
    let s = scenario(&report, "works");
    let msgs: Vec<&str> = s["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["message"].as_str().unwrap())
        .collect();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert!(
        msgs[0].starts_with("expected build A to fail (expect.build: fail), but it succeeded"),
        "{msgs:?}"
    );
}

#[test]
fn expect_build_takes_only_succeed_or_fail() {
    let p = Project::new();
    p.file(
        "s.yaml",
        "name: s\nbuild: \"true\"\nexpect:\n  build: fails\n",
    );
    let out = p.cmd(&["validate", "s.yaml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("s.yaml:4:10: unknown `expect.build` `fails`; did you mean `fail`?"),
        "{err}"
    );
}

#[test]
fn source_date_epoch_null_sets_none_and_the_report_says_which_each_build_had() {
    let p = Project::new();
    let recipe = "build: |\n  mkdir -p \"$out\"\n  echo \"${SOURCE_DATE_EPOCH-unset}\" > \"$out/sde\"\n  env | grep -c '^SOURCE_DATE_EPOCH=' > \"$out/count\" || true\n";
    p.file("set.yaml", &format!("name: set\n{recipe}"));
    p.file(
        "unset.yaml",
        &format!("name: unset\nsource_date_epoch: null\n{recipe}"),
    );
    let (code, report) = p.run_json(&["--keep", "set.yaml", "unset.yaml"]);
    assert_eq!(code, 0, "{report:#}");
    for (name, want, count) in [
        ("set", json!(315532800), "1\n"),
        ("unset", json!(null), "0\n"),
    ] {
        let s = scenario(&report, name);
        for side in ["a", "b"] {
            assert_eq!(
                s["builds"][side]["source_date_epoch"], want,
                "{name} {side}"
            );
        }
        let kept = s["kept"].as_str().unwrap();
        let seen = std::fs::read_to_string(format!("{kept}/a/out/sde")).unwrap();
        let shown = if want.is_null() {
            "unset".to_string()
        } else {
            want.to_string()
        };
        assert_eq!(seen.trim(), shown);
        assert_eq!(
            std::fs::read_to_string(format!("{kept}/a/out/count")).unwrap(),
            count
        );
        std::fs::remove_dir_all(kept).unwrap();
    }
    let out = p.cmd(&["run", "set.yaml", "unset.yaml"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("note: SOURCE_DATE_EPOCH=315532800 was set for the builds of set; `source_date_epoch: null` builds without it"),
        "{text}"
    );
}

#[test]
fn a_build_that_differs_only_without_source_date_epoch_says_so() {
    let p = Project::new();
    // Honours SOURCE_DATE_EPOCH when set, else stamps the nanosecond clock.
    p.file(
        "s.yaml",
        "name: stamp\nsource_date_epoch: null\nvary: [hostname]\nbuild: |\n  mkdir -p \"$out\"\n  date -u -d \"@${SOURCE_DATE_EPOCH:-$(date +%s.%N)}\" +%s.%N > \"$out/stamp\"\n",
    );
    let (code, report) = p.run_json(&["s.yaml"]);
    assert_eq!(code, 1);
    let s = scenario(&report, "stamp");
    assert_eq!(s["reproducible_with_sde"], true, "{s:#}");
    assert_eq!(s["inherent"], true);
    let check = s["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "reproducible")
        .unwrap();
    assert!(
        check["message"]
            .as_str()
            .unwrap()
            .contains("; reproducible only with SOURCE_DATE_EPOCH: a pair built with SOURCE_DATE_EPOCH=315532800 is identical"),
        "{check}"
    );
}

#[test]
fn a_failing_build_b_is_explained_by_the_variation_that_breaks_it() {
    let p = Project::new();
    p.file(
        "s.yaml",
        "name: needs-root\nvary: [hostname, user, umask]\nbuild: |\n  mkdir -p \"$out\"\n  [ \"$(id -u)\" = 0 ] || { echo 'must run as root' >&2; exit 1; }\n",
    );
    let (code, report) = p.run_json(&["s.yaml"]);
    assert_eq!(code, 1);
    let s = scenario(&report, "needs-root");
    assert_eq!(s["culprits"], json!(["user"]), "{s:#}");
    assert_eq!(s["culprits_break_build"], true);
    assert_eq!(s["inherent"], false);
    assert!(
        s["hints"][0]
            .as_str()
            .unwrap()
            .contains("leave `user` out of `vary`"),
        "{s:#}"
    );
    let out = p.cmd(&["run", "s.yaml"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("  culprits (each alone makes build B fail): user\n"),
        "{text}"
    );
    assert!(text.contains("rerun with --keep"), "{text}");
    let out = p.cmd(&["run", "--keep", "s.yaml"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("rerun with --keep"), "{text}");
    let kept = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("trees kept in "))
        .and_then(|l| l.split(' ').next())
        .expect("kept line");
    std::fs::remove_dir_all(kept).unwrap();
}

/// Waits while the clock is more than a day ahead of the kernel's own
/// (boot time + uptime): forever under libfaketime, at once without it.
const HANGS_UNDER_FAKETIME: &str = "name: clock-bound\ntimeout: 3\nvary: [time, hostname, umask]\nbuild: |\n  mkdir -p \"$out\"\n  real=$(( $(awk '/^btime/ {print $2}' /proc/stat) + $(cut -d. -f1 /proc/uptime) ))\n  while [ $(( $(date +%s) - real )) -gt 86400 ]; do sleep 1; done\n";

#[test]
fn a_recipe_that_hangs_under_libfaketime_names_time_with_the_known_hint() {
    if !std::path::Path::new("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1").exists() {
        eprintln!("skipping: libfaketime not installed");
        return;
    }
    let p = Project::new();
    p.file("s.yaml", HANGS_UNDER_FAKETIME);
    let (code, report) = p.run_json(&["s.yaml"]);
    assert_eq!(code, 1);
    let s = scenario(&report, "clock-bound");
    assert_eq!(s["builds"]["a"]["status"], "ok");
    assert_eq!(s["builds"]["b"]["status"], "timeout");
    assert_eq!(s["culprits"], json!(["time"]), "{s:#}");
    assert_eq!(s["culprits_break_build"], true);
    assert_eq!(
        s["hints"],
        json!([
            "libfaketime is known to hang some runtimes (rustc, Go); leave `time` out of `vary` for this recipe"
        ])
    );
    // The search reports what it ran: no variation, then each alone
    // (time first, as the likeliest to hang) until one broke the build.
    let skipped = s["search"]["skipped"].as_array().unwrap().len();
    assert_eq!(s["search"]["builds"], json!(1 + 3 - skipped), "{s:#}");
    assert!(s["search"]["duration_ms"].as_u64().unwrap() >= 3000);
}

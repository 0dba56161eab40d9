//! Truthful verdicts (issue 11): expected failures, SOURCE_DATE_EPOCH
//! honesty, a failing build B explained, culprits per archive member,
//! strict mode comparison, binary hints and time-dependent output.

use crate::support::{Project, require_file, require_tool, scenario};
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
    if !faketime_installed() {
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

/// A zip whose members take their modes from the umask, plus one member of
/// random bytes; dates pinned so only those two causes remain.
const UMASK_ZIP: &str = r#"name: wheel-like
vary: [hostname, umask, locale]
build: |
  mkdir -p "$out" pkg
  for f in a b c; do echo "module $f" > "pkg/$f.py"; done
  head -c 16 /dev/urandom > pkg/RECORD
  touch -d @315532800 pkg/*
  python3 -c 'import sys, zipfile
  with zipfile.ZipFile(sys.argv[1], "w") as z:
      for n in ["a.py", "b.py", "c.py", "RECORD"]:
          z.write("pkg/" + n, n)
  ' "$out/pkg.whl"
"#;

/// The archive members of difference `d`: member, change, culprits and
/// whether inherent.
fn members(d: &serde_json::Value) -> Vec<(String, String, serde_json::Value, bool)> {
    d["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["member"].as_str().unwrap().to_string(),
                m["change"].as_str().unwrap().to_string(),
                m["culprits"].clone(),
                m["inherent"] == true,
            )
        })
        .collect()
}

#[test]
fn an_inherent_member_does_not_hide_the_umask_in_the_other_members() {
    let p = Project::new();
    p.file("s.yaml", UMASK_ZIP);
    let (code, report) = p.run_json(&["s.yaml"]);
    assert_eq!(code, 1);
    let s = scenario(&report, "wheel-like");
    assert_eq!(s["culprits"], json!(["umask"]), "{s:#}");
    assert_eq!(s["inherent"], true);
    let d = &s["differences"][0];
    assert_eq!(d["path"], "pkg.whl");
    assert_eq!(d["culprits"], json!(["umask"]));
    assert_eq!(d["inherent"], true);
    let umask = json!(["umask"]);
    assert_eq!(
        members(d),
        // Content changes come first (the explainer lists them before
        // metadata), then the permission changes in archive order.
        vec![
            (
                "pkg.whl!RECORD".into(),
                "content".into(),
                serde_json::Value::Null,
                true
            ),
            (
                "pkg.whl!a.py".into(),
                "permissions".into(),
                umask.clone(),
                false
            ),
            (
                "pkg.whl!b.py".into(),
                "permissions".into(),
                umask.clone(),
                false
            ),
            (
                "pkg.whl!c.py".into(),
                "permissions".into(),
                umask.clone(),
                false
            ),
            ("pkg.whl!RECORD".into(), "permissions".into(), umask, false),
        ],
        "{d:#}"
    );
    let out = p.cmd(&["run", "s.yaml"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "    pkg.whl: content (caused by umask; some of it differs with no variation)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("      members with no variation: pkg.whl!RECORD (content)\n"),
        "{text}"
    );
}

const UMASK_TREE: &str = "name: modes\nvary: [hostname, umask]\nbuild: |\n  mkdir -p \"$out/lib\"\n  echo x > \"$out/lib/x\"\n";

#[test]
fn strict_compares_mode_bits_and_nar_notes_them() {
    let p = Project::new();
    p.file("nar.yaml", UMASK_TREE);
    p.file(
        "strict.yaml",
        &UMASK_TREE.replace("name: modes\n", "name: modes-strict\ncompare: strict\n"),
    );
    let (code, report) = p.run_json(&["nar.yaml", "strict.yaml"]);
    assert_eq!(code, 1);
    let nar = scenario(&report, "modes");
    assert_eq!(nar["verdict"], "pass");
    assert_eq!(nar["differences"], json!([]));
    let note = nar["notes"][0].as_str().unwrap();
    assert!(
        note.starts_with("2 paths differ in mode bits (e.g. lib: 0755 in A, 0775 in B); the NAR hash ignores modes"),
        "{note}"
    );
    let strict = scenario(&report, "modes-strict");
    assert_eq!(strict["verdict"], "fail");
    assert_eq!(strict["reproducible"], false);
    assert_eq!(strict["culprits"], json!(["umask"]));
    let rows: Vec<(String, String, String, String, serde_json::Value)> = strict["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["path"].as_str().unwrap().into(),
                d["kind"].as_str().unwrap().into(),
                d["a"].as_str().unwrap().into(),
                d["b"].as_str().unwrap().into(),
                d["culprits"].clone(),
            )
        })
        .collect();
    let u = || json!(["umask"]);
    assert_eq!(
        rows,
        vec![
            (
                "lib".into(),
                "mode".into(),
                "0755".into(),
                "0775".into(),
                u()
            ),
            (
                "lib/x".into(),
                "mode".into(),
                "0644".into(),
                "0664".into(),
                u()
            ),
        ]
    );
    assert!(
        strict["differences"][1]["detail"]["hints"][0]
            .as_str()
            .unwrap()
            .starts_with("looks like the umask (0644 in A, 0664 in B")
    );
    let check = strict["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "reproducible")
        .unwrap();
    assert!(
        check["message"]
            .as_str()
            .unwrap()
            .contains("the mode bits differ (compare: strict)"),
        "{check}"
    );
}

#[test]
fn a_binary_with_the_build_path_far_from_its_first_difference_names_it() {
    let p = Project::new();
    // Byte 4 holds the length of the build path, the path itself sits 5 KB on.
    p.file(
        "s.yaml",
        "name: native\nvary: [build_path]\nbuild: |\n  mkdir -p \"$out/bin\"\n  here=$(pwd)\n  { printf '\\177ELF'; printf \"\\\\$(printf %o ${#here})\"; head -c 5000 /dev/zero; printf '%s\\0' \"$here\"; } > \"$out/bin/app\"\n",
    );
    let (code, report) = p.run_json(&["s.yaml"]);
    assert_eq!(code, 1);
    let d = &scenario(&report, "native")["differences"][0];
    assert_eq!(d["detail"]["first_difference"], 4, "{d:#}");
    let hints: Vec<&str> = d["detail"]["hints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert!(
        hints.contains(&"the build path explains it: /envtwin/build at offset 5005 in A, /envtwin/build-b-variant-path at offset 5005 in B"),
        "{hints:?}"
    );
}

/// Writes a source file during the build, then compiles it the way pip
/// does: the `.pyc` header records the source's mtime (without
/// SOURCE_DATE_EPOCH), and `stat` prints it too. Builds A and B run at the
/// same moment, so only the `time` variation can tell them apart.
const PYC_STAMP: &str = r#"name: pyc
source_date_epoch: null
vary: [time]
build: |
  mkdir -p "$out"
  echo 'x = 1' > m.py
  python3 -m py_compile m.py
  cp __pycache__/*.pyc "$out/m.pyc"
  stat -c %Y m.py > "$out/mtime"
"#;

fn faketime_installed() -> bool {
    // The `faketime` command and the library come in one package.
    require_tool("faketime") && require_file("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
}

#[test]
fn source_mtimes_stamped_into_output_are_caught_every_time() {
    if !faketime_installed() {
        return;
    }
    let p = Project::new();
    p.file("s.yaml", PYC_STAMP);
    let mut caught = 0;
    for _ in 0..20 {
        let (code, report) = p.run_json(&["--no-explain", "s.yaml"]);
        let paths: Vec<&str> = scenario(&report, "pyc")["differences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["path"].as_str().unwrap())
            .collect();
        if code == 1 && paths == ["m.pyc", "mtime"] {
            caught += 1;
        }
    }
    assert_eq!(caught, 20, "caught {caught} runs of 20");
    // Explained: the culprit is time, and the header is named. Both files
    // hold times 400 days apart, as far as B's clock ran ahead: `time` is
    // read in the outputs, and the search builds only the
    // SOURCE_DATE_EPOCH pair.
    let (_, report) = p.run_json(&["s.yaml"]);
    let s = scenario(&report, "pyc");
    assert_eq!(s["culprits"], json!(["time"]), "{s:#}");
    assert_eq!(s["inherent"], false, "{s:#}");
    assert_eq!(s["search"]["by_clock"], 2, "{s:#}");
    assert_eq!(s["search"]["builds"], 2, "{s:#}");
    // py_compile honours SOURCE_DATE_EPOCH, `stat` does not.
    assert_eq!(s["reproducible_with_sde"], false);
    assert!(
        s["differences"][0]["detail"]["hints"][0]
            .as_str()
            .unwrap()
            .starts_with("looks like a .pyc header (source mtime)"),
        "{s:#}"
    );
}

/// The clock as a calendar date, which only rebuilds can blame: its digits
/// do not move by the shift's number of seconds.
const CALENDAR_STAMP: &str = r#"name: calendar
vary: [time, hostname]
build: |
  mkdir -p "$out"
  date -u +%Y-%m-%dT%H:%M:%S > "$out/stamp"
"#;

/// Builds that keep `--max-builds` busy: slow, never reproducible, so that
/// their culprit searches take slots too.
const BUSY: &str = r#"name: NAME
vary: [hostname, umask, locale, timezone, home]
build: |
  mkdir -p "$out"
  sleep 0.7
  head -c 8 /dev/urandom > "$out/r"
"#;

#[test]
fn the_clock_is_blamed_on_time_in_a_busy_run_too() {
    if !faketime_installed() {
        return;
    }
    // Two slots for three scenarios: the calendar scenario's two plain rebuilds
    // compete with the others' builds for them. Taken one at a time, they
    // would start seconds apart, disagree on the clock, and the stamp
    // would be called "differs with no variation"; taken as a pair they
    // start together, and only `time` explains it.
    let p = Project::new();
    p.file("s.yaml", CALENDAR_STAMP);
    p.file("busy1.yaml", &BUSY.replace("NAME", "busy1"));
    p.file("busy2.yaml", &BUSY.replace("NAME", "busy2"));
    for _ in 0..2 {
        let (_, report) = p.run_json(&[
            "-j",
            "3",
            "--max-builds",
            "2",
            "s.yaml",
            "busy1.yaml",
            "busy2.yaml",
        ]);
        let s = scenario(&report, "calendar");
        assert_eq!(s["culprits"], json!(["time"]), "{s:#}");
        assert_eq!(s["inherent"], false, "{s:#}");
        // A calendar date is not read as a moved time: the rebuilds decided.
        assert!(s["search"]["by_clock"].is_null(), "{s:#}");
    }
}

/// Random bytes beside a file stamped with the clock (a new file's mtime,
/// as `stat` reads it). The build lasts over a second after the stamp, so
/// the control trials, which start after build A, always stamp another
/// second: both files differ from A with no variation at all.
const RANDOM_AND_CLOCK: &str = r#"name: random-and-clock
vary: [time]
build: |
  mkdir -p "$out"
  head -c 16 /dev/urandom > "$out/r"
  echo x > made
  stat -c %Y made > "$out/mtime"
  sleep 1.1
"#;

/// Paths of `s`'s differences with their culprits and whether inherent.
fn blame(s: &serde_json::Value) -> Vec<(String, serde_json::Value, bool)> {
    s["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["path"].as_str().unwrap().to_string(),
                d["culprits"].clone(),
                d["inherent"] == true,
            )
        })
        .collect()
}

#[test]
fn randomness_stays_inherent_while_the_clock_is_blamed_on_time() {
    if !faketime_installed() {
        return;
    }
    let p = Project::new();
    p.file("s.yaml", RANDOM_AND_CLOCK);
    for _ in 0..2 {
        let (code, report) = p.run_json(&["s.yaml"]);
        assert_eq!(code, 1);
        let s = scenario(&report, "random-and-clock");
        assert_eq!(s["culprits"], json!(["time"]), "{s:#}");
        assert_eq!(s["inherent"], true, "{s:#}");
        assert_eq!(
            blame(s),
            vec![
                ("mtime".to_string(), json!(["time"]), false),
                ("r".to_string(), serde_json::Value::Null, true),
            ],
            "{s:#}"
        );
        // No variation, twice at once, then time alone.
        assert_eq!(s["search"]["builds"], 3, "{s:#}");
    }
    // Without `time` there is no second control: no variation, and
    // hostname alone (started beside it, before the search could stop).
    p.file(
        "h.yaml",
        "name: random-only\nvary: [hostname]\nbuild: |\n  mkdir -p \"$out\"\n  head -c 16 /dev/urandom > \"$out/r\"\n",
    );
    let (_, report) = p.run_json(&["h.yaml"]);
    let s = scenario(&report, "random-only");
    assert_eq!(s["inherent"], true, "{s:#}");
    assert_eq!(s["search"]["builds"], 2, "{s:#}");
}

/// The same in a zip: a member of random bytes, and every member's time
/// is the clock's (files made during the build); zip times count in steps
/// of 2 s, which the build outlasts.
const RANDOM_AND_CLOCK_ZIP: &str = r#"name: zip-clock
vary: [time]
build: |
  mkdir -p "$out" pkg
  echo 'x = 1' > pkg/a.py
  head -c 16 /dev/urandom > pkg/RECORD
  python3 -c 'import sys, zipfile
  with zipfile.ZipFile(sys.argv[1], "w") as z:
      for n in ["a.py", "RECORD"]:
          z.write("pkg/" + n, n)
  ' "$out/pkg.zip"
  sleep 2.1
"#;

#[test]
fn a_random_member_stays_inherent_while_member_times_are_blamed_on_time() {
    if !faketime_installed() {
        return;
    }
    let p = Project::new();
    p.file("s.yaml", RANDOM_AND_CLOCK_ZIP);
    let (code, report) = p.run_json(&["s.yaml"]);
    assert_eq!(code, 1);
    let s = scenario(&report, "zip-clock");
    assert_eq!(s["culprits"], json!(["time"]), "{s:#}");
    let d = &s["differences"][0];
    assert_eq!(d["path"], "pkg.zip");
    assert_eq!(d["culprits"], json!(["time"]), "{s:#}");
    assert_eq!(d["inherent"], true, "{s:#}");
    let time = json!(["time"]);
    assert_eq!(
        members(d),
        vec![
            (
                "pkg.zip!RECORD".into(),
                "content".into(),
                serde_json::Value::Null,
                true
            ),
            (
                "pkg.zip!a.py".into(),
                "timestamp".into(),
                time.clone(),
                false
            ),
            ("pkg.zip!RECORD".into(), "timestamp".into(), time, false),
        ],
        "{s:#}"
    );
}

#[test]
fn the_time_variation_leaves_sources_and_pinned_times_alone() {
    if !faketime_installed() {
        return;
    }
    let p = Project::new();
    // Sources predate the run, as a checkout does.
    let input = p.file("input.txt", "shipped\n");
    let old = std::process::Command::new("touch")
        .args(["-d", "2020-01-01"])
        .arg(&input)
        .status()
        .unwrap();
    assert!(old.success());
    // Archives the shipped source with its own mtime, and a file pinned to
    // SOURCE_DATE_EPOCH: both reproducible, so `time` must not flag them.
    p.file(
        "s.yaml",
        "name: pinned\nvary: [time]\nbuild: |\n  mkdir -p \"$out\"\n  stat -c %Y \"$src/input.txt\" > \"$out/src-mtime\"\n  echo x > made\n  touch -d \"@$SOURCE_DATE_EPOCH\" made\n  stat -c %Y made > \"$out/pinned-mtime\"\n",
    );
    let (code, report) = p.run_json(&["s.yaml"]);
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn which_results_outside_the_environment_are_marked_in_the_human_report() {
    let p = Project::new();
    p.file(
        "s.yaml",
        "name: leaks-host\nvary: [hostname]\npath: [\"$out/bin\", /usr/bin]\nbuild: |\n  mkdir -p \"$out/bin\"\nexpect:\n  which:\n    env: \"*\"\n",
    );
    let out = p.cmd(&["run", "s.yaml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("  note: `env` resolves to /usr/bin/env, outside the environment\n"),
        "{text}"
    );
}

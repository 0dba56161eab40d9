//! Input that validates must run: the semantic fuzzer's failure classes as
//! regression tests (exit 2 with file:line:column and the fix, never a
//! panic or exit 3), and a property test that drives generated scenarios
//! through `validate` and then `run`.

use crate::support::Project;
use predicates::prelude::*;

/// `validate` and `run` both refuse `text` with exit 2, at `at`
/// (`file:line:column`), saying `says`, and build nothing.
fn refused(text: &str, at: &str, says: &str) {
    let p = Project::new();
    p.file("s.yaml", text);
    for cmd in ["validate", "run"] {
        p.cmd(&[cmd, "s.yaml"])
            .timeout(std::time::Duration::from_secs(20))
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!("s.yaml:{at}: ")))
            .stderr(predicate::str::contains(says))
            .stderr(predicate::str::contains("panicked").not());
    }
    assert!(p.leftovers().is_empty(), "nothing may be built");
}

#[test]
fn a_timeout_past_seven_days_is_refused() {
    refused(
        "name: t\nbuild: mkdir -p $out\ntimeout: 18446744073709551615\n",
        "3:10",
        "over the limit of 604800 (7 days)",
    );
    refused(
        "name: t\nbuild: mkdir -p $out\ntimeout: 604801\n",
        "3:10",
        "e.g. `timeout: 3600`",
    );
}

#[test]
fn a_name_past_200_characters_is_refused() {
    let long = "n".repeat(65_536);
    refused(
        &format!("name: {long}\nbuild: mkdir -p $out\n"),
        "1:7",
        "65536 characters long, over the limit of 200",
    );
    refused(
        &format!("name: {}\nbuild: mkdir -p $out\n", "n".repeat(241)),
        "1:7",
        "shorten it",
    );
}

#[test]
fn an_out_on_envtwins_own_paths_or_too_long_is_refused() {
    for out in [
        "/envtwin",
        "/envtwin/src",
        "/envtwin/src/x",
        "/envtwin/bin",
        "/envtwin/home",
        // The time-shift shim's directory and the nix provider's.
        "/envtwin/lib",
        "/envtwin/links",
        "/envtwin/shell/x",
    ] {
        refused(
            &format!("name: o\nout: {out}\nbuild: mkdir -p $out\n"),
            "2:6",
            "which envtwin uses inside the sandbox",
        );
    }
    let deep = format!("/{}", vec!["d"; 3000].join("/"));
    refused(
        &format!("name: o\nout: {deep}\nbuild: mkdir -p $out\n"),
        "2:6",
        "3000 components, over the limit",
    );
    let wide = format!("/envtwin/{}", "w".repeat(300));
    refused(
        &format!("name: o\nout: {wide}\nbuild: mkdir -p $out\n"),
        "2:6",
        "file names are at most 255 bytes",
    );
}

#[test]
fn nonsense_limits_are_refused() {
    refused(
        "name: l\nbuild: mkdir -p $out\nlimits:\n  memory: lots\n",
        "4:11",
        "`limits.memory`: `lots` is not a size",
    );
    refused(
        "name: l\nbuild: mkdir -p $out\nlimits:\n  disk: 4 parsecs\n",
        "4:9",
        "unknown unit `parsecs`",
    );
    refused(
        "name: l\nbuild: mkdir -p $out\nlimits:\n  memory: 1MiB\n",
        "4:11",
        "below the minimum of 16 MiB",
    );
    refused(
        "name: l\nbuild: mkdir -p $out\nlimits:\n  pids: 0\n",
        "4:9",
        "from 8 to 4194304",
    );
    refused(
        "name: l\nbuild: mkdir -p $out\nlimits:\n  memroy: 1GiB\n",
        "4:3",
        "memory",
    );
}

#[test]
fn limits_in_sizes_and_bytes_validate() {
    let p = Project::new();
    p.file(
        "s.yaml",
        "name: l\nbuild: mkdir -p $out\nlimits:\n  memory: 256MiB\n  pids: 64\n  disk: 1073741824\n  log: 64 KiB\n",
    );
    p.cmd(&["validate", "s.yaml"]).assert().code(0);
}

/// No control character but newline and tab reaches a human output, and
/// no line of it starts with what a hostile name tried to forge.
fn assert_harmless(out: &[u8], forged: &str) {
    let text = String::from_utf8_lossy(out);
    assert!(
        !text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'),
        "a control character got through:\n{text:?}"
    );
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with(forged)),
        "a forged line got through:\n{text}"
    );
}

#[test]
fn names_with_control_characters_are_escaped_in_every_human_output() {
    let p = Project::new();
    // A non-reproducible build whose differing file is named to clear the
    // screen and forge a PASS line; its output rings the bell too.
    p.file(
        "evil.yaml",
        "name: evil\nvary: [hostname]\nbuild: |\n  mkdir -p \"$out\"\n  \
         f=$(printf 'x\\n\\033[2JPASS forged')\n  hostname > \"$out/$f\"\n  \
         ln -s \"$(printf 'to\\nPASS link')\" \"$out/link-$(hostname)\"\n  \
         printf '\\007\\033[31mred\\n' >&2\n  exit 0\n",
    );
    let out = p
        .cmd(&["run", "--no-explain", "evil.yaml"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_harmless(&out.stdout, "PASS");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("x\\n\\x1b[2JPASS forged: content"), "{text}");

    // `envtwin diff` of two such trees.
    let a = p.path().join("a");
    let b = p.path().join("b");
    for (dir, content) in [(&a, "1"), (&b, "2")] {
        std::fs::create_dir_all(dir).expect("mkdir");
        std::fs::write(dir.join("n\n\x1b[2JPASS forged"), content).expect("write");
        std::os::unix::fs::symlink(format!("t\n\x1b]0;{content}"), dir.join("l")).expect("ln");
    }
    let out = p
        .cmd(&["diff", a.to_str().expect("utf8"), b.to_str().expect("utf8")])
        .output()
        .expect("diff");
    assert_eq!(out.status.code(), Some(1));
    assert_harmless(&out.stdout, "PASS");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("symlink -> t\\n\\x1b]0;1"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // `envtwin audit` of a scenario in a directory so named.
    let dir = "audit/d\n\x1b[2Jerror forged";
    p.file(
        &format!("{dir}/s.yaml"),
        "name: s\nnetwork: true\nbuild: |\n  pip install flask\n  mkdir -p \"$out\"\n",
    );
    let out = p.cmd(&["audit", "audit"]).output().expect("audit");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_harmless(&out.stdout, "error forged");
    assert!(String::from_utf8_lossy(&out.stdout).contains("d\\n\\x1b[2Jerror forged/s.yaml:"));
}

/// `envtwin ARGS` in a private mount namespace where `prepare` (shell) ran
/// first: how a test as root makes a full or read-only filesystem without
/// touching the host's mounts.
fn in_private_mounts(p: &Project, prepare: &str, args: &[&str]) -> std::process::Output {
    let bin = assert_cmd::cargo::cargo_bin("envtwin");
    let script = format!("set -e; {prepare}; exec \"$0\" \"$@\"");
    let mut c = std::process::Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-c", &script])
        .arg(bin)
        .args(args)
        .current_dir(p.path())
        .env("TMPDIR", p.tmp.path());
    c.output().expect("unshare")
}

#[test]
fn a_read_only_snapshot_directory_is_a_harness_error_naming_it() {
    let p = Project::new();
    p.file("s.yaml", "name: s\nbuild: mkdir -p \"$out\"\n");
    let snaps = p.path().join("snaps");
    std::fs::create_dir(&snaps).expect("mkdir");
    let out = if crate::support::is_root() {
        // Root writes through any mode: only a read-only mount stops it.
        in_private_mounts(
            &p,
            "mount --bind snaps snaps && mount -o remount,bind,ro snaps",
            &["run", "--snapshots", "snaps", "s.yaml"],
        )
    } else {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&snaps, std::fs::Permissions::from_mode(0o555)).expect("chmod");
        p.cmd(&["run", "--snapshots", "snaps", "s.yaml"])
            .output()
            .expect("run")
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("--snapshots snaps: cannot write the snapshots there"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Read-only file system") || stderr.contains("Permission denied"),
        "{stderr}"
    );
    assert!(p.leftovers().is_empty(), "nothing may be built");
}

#[test]
fn a_full_workdir_says_no_space_left_and_where() {
    if !crate::support::is_root() {
        eprintln!("skipping: a small filesystem for the workdir needs root (mount)");
        return;
    }
    let p = Project::new();
    p.file(
        "s.yaml",
        "name: s\nlimits: {disk: 1GiB}\nbuild: |\n  mkdir -p \"$out\"\n  \
         head -c 16777216 /dev/zero > \"$out/big\" || true\n",
    );
    std::fs::create_dir(p.path().join("work")).expect("mkdir");
    let out = in_private_mounts(
        &p,
        "mount -t tmpfs -o size=4m tmpfs work",
        &["run", "--workdir", "work", "s.yaml"],
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("No space left on device"), "{text}");
    assert!(text.contains("the workdir is full at "), "{text}");
    assert!(text.contains("/work/envtwin-run-"), "{text}");
    assert!(!text.contains("without a result"), "{text}");
}

mod generated {
    //! Scenarios generated from the fuzzer's classes of values (huge
    //! timeouts and names, `out` on envtwin's own paths or very deep,
    //! nonsense limits) mixed with good ones, driven through `validate`,
    //! then, when valid, through `run`.

    use crate::support::Project;
    use proptest::prelude::*;

    fn one_of(values: &'static [&'static str]) -> impl Strategy<Value = String> {
        proptest::sample::select(values).prop_map(str::to_owned)
    }

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            6 => one_of(&["n", "a.b_c-d"]),
            1 => one_of(&[".", "..", "bad name", "é"]),
            2 => (190usize..=260).prop_map(|n| "n".repeat(n)),
            1 => Just("n".repeat(65_536)),
        ]
    }

    fn timeout() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(prop_oneof![
            4 => one_of(&["1", "30", "604800"]),
            1 => one_of(&["0", "604801", "18446744073709551615", "-1", "1.5", "ten"]),
        ])
    }

    fn out() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(prop_oneof![
            4 => one_of(&["/envtwin/out", "/opt/env", "/usr/local/env", "/envtwin/buildx", "/srv/é/out"]),
            2 => one_of(&[
                "/envtwin/out",
                "/envtwin",
                "/envtwin/src",
                "/envtwin/src/x",
                "/envtwin/bin",
                "/envtwin/home",
                "/envtwin/buildx",
                "/opt/env",
                "/usr/local/env",
                "/tmp/o",
                "/a:b",
                "/",
                "rel",
                "/srv/é/out",
            ]),
            2 => (1usize..=40).prop_map(|n| format!("/{}", vec!["d"; n].join("/"))),
            1 => (200usize..=300).prop_map(|n| format!("/o/{}", "w".repeat(n))),
            1 => Just(format!("/{}", vec!["d"; 3000].join("/"))),
        ])
    }

    fn size() -> impl Strategy<Value = String> {
        prop_oneof![
            5 => one_of(&["64MiB", "1GiB", "4 GiB", "16TiB", "2GB", "1073741824"]),
            1 => one_of(&["1", "0", "lots", "1.5GiB", "-3"]),
        ]
    }

    fn limits() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(
            (
                proptest::option::of(size()),
                proptest::option::of(prop_oneof![
                    4 => one_of(&["8", "64", "4096"]),
                    1 => one_of(&["0", "7", "99999999"]),
                ]),
                proptest::option::of(size()),
                proptest::option::of(size()),
            )
                .prop_map(|(memory, pids, disk, log)| {
                    let mut block = String::from("limits:\n");
                    for (key, value) in [
                        ("memory", memory),
                        ("pids", pids),
                        ("disk", disk),
                        ("log", log),
                    ] {
                        if let Some(v) = value {
                            block.push_str(&format!("  {key}: {v}\n"));
                        }
                    }
                    block
                }),
        )
    }

    fn build() -> impl Strategy<Value = String> {
        one_of(&[
            "mkdir -p \"$out/bin\"\n  printf '#!/bin/sh\\necho hi\\n' > \"$out/bin/hi\"\n  chmod +x \"$out/bin/hi\"",
            "mkdir -p \"$out\"",
            "mkdir -p \"$out\"\n  hostname > \"$out/h\"",
            "exit 3",
            "true",
            "mkdir -p \"$out\"\n  mkfifo \"$out/fifo\"",
        ])
    }

    fn scenario() -> impl Strategy<Value = String> {
        (name(), timeout(), out(), limits(), build(), any::<bool>()).prop_map(
            |(name, timeout, out, limits, build, reproducible)| {
                let mut text = format!("name: {name}\nvary: [hostname, umask]\n");
                if let Some(t) = timeout {
                    text.push_str(&format!("timeout: {t}\n"));
                }
                if let Some(o) = out {
                    text.push_str(&format!("out: \"{o}\"\n"));
                }
                text.push_str(&limits.unwrap_or_default());
                text.push_str(&format!(
                    "build: |\n  {build}\nexpect:\n  reproducible: {reproducible}\n"
                ));
                text
            },
        )
    }

    fn located(stderr: &str) -> bool {
        stderr.lines().any(|l| {
            let Some(rest) = l.split("s.yaml:").nth(1) else {
                return false;
            };
            let mut parts = rest.splitn(3, ':');
            let line = parts.next().is_some_and(|p| p.parse::<usize>().is_ok());
            let column = parts.next().is_some_and(|p| p.parse::<usize>().is_ok());
            line && column
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 48,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn what_validates_runs_and_what_does_not_is_located(text in scenario()) {
            let p = Project::new();
            p.file("s.yaml", &text);
            let checked = p.cmd(&["validate", "s.yaml"]).output().expect("validate");
            let stderr = String::from_utf8_lossy(&checked.stderr).into_owned();
            prop_assert!(!stderr.contains("panicked"), "{stderr}");
            match checked.status.code() {
                Some(0) => {
                    let ran = p
                        .cmd(&["run", "--no-explain", "--format", "json", "s.yaml"])
                        .timeout(std::time::Duration::from_secs(120))
                        .output()
                        .expect("run");
                    let err = String::from_utf8_lossy(&ran.stderr);
                    prop_assert!(
                        matches!(ran.status.code(), Some(0 | 1)),
                        "validated, then run exited {:?}\n{text}\nstderr: {err}\nstdout: {}",
                        ran.status.code(),
                        String::from_utf8_lossy(&ran.stdout)
                    );
                    prop_assert!(!err.contains("panicked"), "{err}");
                    prop_assert!(p.leftovers().is_empty(), "{:?}", p.leftovers());
                }
                Some(2) => prop_assert!(located(&stderr), "no file:line:column in {stderr}"),
                other => prop_assert!(false, "validate exited {other:?}: {stderr}"),
            }
        }
    }
}

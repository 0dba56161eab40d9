//! `limits:` (SPEC §2, §3): a build that allocates, forks, writes or talks
//! without bound fails cleanly, naming the limit and its figure, as root
//! (cgroups on this host) and as an ordinary user (rlimits); the report
//! says how each limit was enforced.

use crate::support::{Project, is_root, scenario};

/// Run one scenario file and return its scenario report and exit code.
fn run_one(p: &Project, file: &str, name: &str, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["--no-explain", file];
    args.extend_from_slice(extra);
    let (code, report) = p.run_json(&args);
    (code, scenario(&report, name).clone())
}

/// The failed build checks' messages.
fn failures(s: &serde_json::Value) -> Vec<String> {
    s["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn assert_both_builds_say(s: &serde_json::Value, says: &str) {
    let f = failures(s);
    for side in ["A", "B"] {
        let want = format!("build {side} {says}");
        assert!(
            f.iter().any(|m| m.starts_with(&want)),
            "no `{want}` in {f:#?}"
        );
    }
}

#[test]
fn a_build_past_its_memory_fails_naming_the_limit() {
    let p = Project::new();
    p.file(
        "mem.yaml",
        "name: mem\nlimits: {memory: 64MiB}\nbuild: |\n  mkdir -p \"$out\"\n  \
         python3 -c 'x = b\"x\" * (512 * 1024 * 1024); print(len(x))'\n",
    );
    let (code, s) = run_one(&p, "mem.yaml", "mem", &[]);
    assert_eq!(code, 1, "{s:#}");
    assert_both_builds_say(&s, "exceeded limits.memory (64 MiB)");
    let how = s["builds"]["a"]["limits"]["memory"]
        .as_str()
        .expect("memory");
    if is_root() {
        assert!(how.starts_with("64 MiB (cgroup v"), "{how}");
    } else {
        assert!(how.starts_with("64 MiB (") && how.contains(')'), "{how}");
    }
}

#[test]
fn many_processes_each_under_the_memory_limit_fail_together() {
    let p = Project::new();
    // Eight processes of 40 MiB each: every one is below 64 MiB (the
    // per-process rlimit an ordinary user gets), together they are far
    // past it. A cgroup (root) or the watchdog (user) stops the build.
    p.file(
        "many.yaml",
        "name: many\ntimeout: 120\nlimits: {memory: 64MiB}\nbuild: |\n  mkdir -p \"$out\"\n  \
         for i in 1 2 3 4 5 6 7 8; do\n    \
         python3 -c 'import time; x = b\"x\" * (40 << 20); time.sleep(15)' &\n  done\n  wait\n",
    );
    let (code, s) = run_one(&p, "many.yaml", "many", &[]);
    assert_eq!(code, 1, "{s:#}");
    assert_both_builds_say(&s, "exceeded limits.memory (64 MiB)");
    assert!(
        !failures(&s).iter().any(|m| m.contains("timed out")),
        "{s:#}"
    );
    assert!(crate::support::processes_with("time.sleep(15)").is_empty());
}

#[test]
fn a_fork_bomb_fails_naming_the_pids_limit_and_leaves_nothing() {
    let p = Project::new();
    p.file(
        "bomb.yaml",
        "name: bomb\ntimeout: 60\nlimits: {pids: 32}\nbuild: |\n  mkdir -p \"$out\"\n  \
         bomb() { bomb | bomb & }; bomb\n  wait\n",
    );
    let (code, s) = run_one(&p, "bomb.yaml", "bomb", &[]);
    assert_eq!(code, 1, "{s:#}");
    // The bomb ends before the timeout: by the limit, not by the clock.
    assert!(
        !failures(&s).iter().any(|m| m.contains("timed out")),
        "{s:#}"
    );
    assert_both_builds_say(&s, "exceeded limits.pids (32)");
    assert!(crate::support::processes_with("bomb").is_empty());
    assert!(p.leftovers().is_empty());
}

#[test]
fn files_past_the_disk_limit_fail_fast_sparse_or_not() {
    let p = Project::new();
    // One file past the limit: stopped by RLIMIT_FSIZE at once.
    p.file(
        "big.yaml",
        "name: big\nlimits: {disk: 64MiB}\nbuild: |\n  mkdir -p \"$out\"\n  \
         head -c 200000000 /dev/zero > \"$out/big\"\n",
    );
    let (code, s) = run_one(&p, "big.yaml", "big", &[]);
    assert_eq!(code, 1);
    assert_both_builds_say(&s, "exceeded limits.disk (64 MiB)");
    // An exabyte-sized sparse file with the default limit: no endless hashing.
    p.file(
        "sparse.yaml",
        "name: sparse\nbuild: |\n  mkdir -p \"$out\"\n  truncate -s 7E \"$out/sparse\"\n",
    );
    let (code, s) = run_one(&p, "sparse.yaml", "sparse", &[]);
    assert_eq!(code, 1);
    assert_both_builds_say(&s, "exceeded limits.disk (4 GiB)");
    // Many sparse files, each below the limit, together past it: the
    // watchdog counts their apparent size.
    p.file(
        "many.yaml",
        "name: many\nlimits: {disk: 64MiB}\nbuild: |\n  mkdir -p \"$out\" \"$HOME/h\"\n  \
         for i in 1 2 3 4 5 6 7 8; do truncate -s 30M \"$out/s$i\" \"$HOME/h/s$i\"; done\n  \
         sleep 30\n",
    );
    let started = std::time::Instant::now();
    let (code, s) = run_one(&p, "many.yaml", "many", &[]);
    assert_eq!(code, 1);
    assert_both_builds_say(&s, "exceeded limits.disk (64 MiB)");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(25),
        "not stopped early"
    );
    assert_eq!(
        s["builds"]["a"]["limits"]["disk"]
            .as_str()
            .map(|d| d.starts_with("64 MiB (watchdog")),
        Some(true),
        "{s:#}"
    );
}

#[test]
fn empty_files_without_bound_count_against_the_disk_limit() {
    let p = Project::new();
    // Each entry costs the host an inode whatever its size: 20,000 empty
    // files are past 8 MiB at 1 KiB an entry, and the build (which would
    // sleep on) is stopped by the watchdog, not by its timeout.
    p.file(
        "empty.yaml",
        "name: empty\ntimeout: 120\nlimits: {disk: 8MiB}\nbuild: |\n  mkdir -p \"$out\"\n  \
         cd \"$out\" && seq 1 20000 | xargs touch\n  sleep 100\n",
    );
    let (code, s) = run_one(&p, "empty.yaml", "empty", &[]);
    assert_eq!(code, 1, "{s:#}");
    assert_both_builds_say(&s, "exceeded limits.disk (8 MiB)");
    assert!(
        !failures(&s).iter().any(|m| m.contains("timed out")),
        "{s:#}"
    );
    assert!(p.leftovers().is_empty());
}

#[test]
fn output_past_the_log_limit_is_dropped_and_counted() {
    let p = Project::new();
    p.file(
        "log.yaml",
        "name: log\nlimits: {log: 64KiB}\nbuild: |\n  mkdir -p \"$out\"\n  \
         yes 'a line of output' | head -c 50000000\n  echo the end\n",
    );
    let (code, s) = run_one(&p, "log.yaml", "log", &["--keep"]);
    assert_eq!(code, 0, "{s:#}");
    let dropped = s["builds"]["a"]["log_dropped"]
        .as_u64()
        .expect("log_dropped");
    assert!(dropped > 49_000_000 && dropped < 50_000_000, "{dropped}");
    let tail = s["builds"]["a"]["stderr_tail"].as_str().expect("tail");
    assert!(tail.ends_with("the end"), "{tail}");
    let kept = s["kept"].as_str().expect("kept");
    let log = std::fs::read(std::path::Path::new(kept).join("a/build.log")).expect("log");
    assert!(log.len() <= 64 * 1024 + 200, "{}", log.len());
    let text = String::from_utf8_lossy(&log);
    assert!(
        text.contains(&format!(
            "[envtwin: {dropped} bytes of output dropped here: limits.log is 64 KiB]"
        )),
        "{}",
        &text[text.len().saturating_sub(300)..]
    );
    std::fs::remove_dir_all(kept).expect("rm kept");
}

#[test]
fn the_report_says_how_each_limit_was_enforced() {
    let p = Project::new();
    p.file("ok.yaml", "name: ok\nbuild: mkdir -p \"$out\"\n");
    let (code, s) = run_one(&p, "ok.yaml", "ok", &[]);
    assert_eq!(code, 0);
    let l = &s["builds"]["b"]["limits"];
    assert!(
        l["memory"].as_str().expect("memory").starts_with("4 GiB ("),
        "{l}"
    );
    assert!(
        l["pids"].as_str().expect("pids").starts_with("4096 ("),
        "{l}"
    );
    assert!(
        l["disk"].as_str().expect("disk").starts_with("4 GiB ("),
        "{l}"
    );
    assert!(
        l["log"].as_str().expect("log").starts_with("16 MiB ("),
        "{l}"
    );
    let hybrid_v1 = std::path::Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists();
    if is_root() && hybrid_v1 {
        assert_eq!(l["memory"], "4 GiB (cgroup v1)");
        assert_eq!(l["pids"], "4096 (cgroup v1)");
    }
    if !is_root() && hybrid_v1 {
        assert_eq!(
            l["memory"],
            "4 GiB (RLIMIT_DATA per process + watchdog on the resident total)"
        );
    }
}

fn is_sandbox(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| String::from_utf8_lossy(&c).contains("__sandbox"))
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // pid (comm) state ppid ...: comm may hold spaces, so split after `)`.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The most sandbox helpers (`envtwin __sandbox`, not their pid 1) working in `marker` seen at
/// once while `child` runs (sampled every 5 ms), and its output.
fn peak_sandboxes(child: std::process::Child, marker: &str) -> (usize, std::process::Output) {
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let n = crate::support::processes_with(marker)
                    .into_iter()
                    .filter(|pid| is_sandbox(*pid) && !parent_of(*pid).is_some_and(is_sandbox))
                    .count();
                peak = peak.max(n);
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            peak
        });
        let out = child.wait_with_output().expect("wait");
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        (sampler.join().expect("sampler"), out)
    })
}

#[test]
fn max_builds_bounds_the_builds_at_once_culprit_searches_included() {
    let p = Project::new();
    // Non-reproducible on purpose, so each scenario runs its culprit
    // search: 2 builds, then 1 + 6 more.
    for n in 1..=3 {
        p.file(
            &format!("s{n}.yaml"),
            &format!(
                "name: s{n}\nvary: [hostname, umask, locale, timezone, home, build_path]\n\
                 build: |\n  mkdir -p \"$out\"\n  sleep 0.3\n  date +%N > \"$out/stamp\"\n"
            ),
        );
    }
    let work = p.path().join("work");
    std::fs::create_dir(&work).expect("mkdir");
    let marker = work.to_str().expect("utf8").to_owned();
    for (max, want) in [("2", 2), ("3", 3)] {
        let child = p
            .std_cmd(&[
                "run",
                "-j",
                "3",
                "--max-builds",
                max,
                "--workdir",
                &marker,
                "--format",
                "json",
                ".",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let (peak, out) = peak_sandboxes(child, &marker);
        let (code, report) = crate::support::json_output(&out);
        assert_eq!(code, 1, "{report:#}");
        assert_eq!(report["summary"]["failed"], 3);
        assert!(scenario(&report, "s1")["culprits"].is_array(), "{report:#}");
        assert!(peak <= want, "--max-builds {max}: {peak} builds at once");
        assert!(
            peak >= 2,
            "--max-builds {max}: the twins never ran side by side ({peak})"
        );
    }
}

#[test]
fn the_timeout_bounds_hashing_too() {
    let p = Project::new();
    // Built in a blink, but 500 GiB of (sparse) zeros to hash: the
    // scenario's one deadline stops the hash, with the reason.
    p.file(
        "huge.yaml",
        "name: huge\ntimeout: 3\nlimits: {disk: 1TiB}\nbuild: |\n  mkdir -p \"$out\"\n  \
         truncate -s 500G \"$out/zeros\"\n",
    );
    let started = std::time::Instant::now();
    let (code, s) = run_one(&p, "huge.yaml", "huge", &[]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(code, 1, "{s:#}");
    for side in ["a", "b"] {
        assert_eq!(s["builds"][side]["status"], "timeout", "{s:#}");
    }
    assert_both_builds_say(
        &s,
        "hashing stopped at the scenario's deadline (its `timeout`) after ",
    );
    assert!(p.leftovers().is_empty());
}

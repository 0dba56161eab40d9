//! Builds run in parallel; timeouts and interrupts leave nothing behind.

use crate::support::{Project, processes_with, require_tool, scenario};
use std::time::Duration;

/// A meeting point on the host that builds reach through envtwin's proxy:
/// each POST is held until `n` have arrived (or 30 s passed), then answered
/// with how many had. A build that prints `n` was running while `n` builds
/// were. No clock involved but the give-up.
fn meeting_point(n: usize) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.2:0").expect("bind 127.0.0.2");
    let url = format!("http://{}/meet", listener.local_addr().expect("addr"));
    let arrived = std::sync::Arc::new((std::sync::Mutex::new(0usize), std::sync::Condvar::new()));
    // Lives as long as the test binary.
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let arrived = arrived.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn);
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let (count, met) = &*arrived;
                let mut c = count.lock().expect("count");
                *c += 1;
                met.notify_all();
                let (c, _) = met
                    .wait_timeout_while(c, Duration::from_secs(30), |c| *c < n)
                    .expect("wait");
                let answer = format!("{}\n", *c);
                drop(c);
                let mut conn = reader.into_inner();
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            });
        }
    });
    url
}

/// A build that posts to the meeting point and keeps what it was told.
fn rendezvous(name: &str, url: &str, n: usize) -> String {
    format!(
        r#"name: {name}
network: true
vary: [hostname]
build: |
  mkdir -p "$out"
  python3 - <<'PY' > "$out/met"
  import urllib.request
  r = urllib.request.Request("{url}", data=b"x", method="POST")
  print(urllib.request.urlopen(r, timeout=60).read().decode(), end="")
  PY
expect:
  run:
    - cmd: /bin/cat "$out/met"
      stdout: "{n}\n"
"#
    )
}

#[test]
fn build_a_and_build_b_run_at_the_same_time() {
    if !require_tool("python3") {
        return;
    }
    let p = Project::new();
    p.file("s.yaml", &rendezvous("twins", &meeting_point(2), 2));
    let (code, report) = p.run_json(&["-j", "1", "s.yaml"]);
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn scenarios_run_side_by_side_up_to_jobs() {
    if !require_tool("python3") {
        return;
    }
    // Two scenarios, two builds each: all four meet only if -j 2 runs both
    // scenarios at once.
    let p = Project::new();
    let url = meeting_point(4);
    for n in ["one", "two"] {
        p.file(&format!("{n}.yaml"), &rendezvous(n, &url, 4));
    }
    // Four builds at once: --max-builds must allow it on a 2-CPU machine.
    let (code, report) = p.run_json(&["-j", "2", "--max-builds", "4", "."]);
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn a_timeout_kills_every_process_of_the_build_and_removes_its_trees() {
    let p = Project::new();
    let marker = format!("999{}.5", std::process::id());
    p.file(
        "s.yaml",
        &format!("name: slow\ntimeout: 1\nbuild: |\n  sleep {marker} &\n  sleep {marker}\n"),
    );
    let (code, report) = p.run_json(&["s.yaml"]);
    assert_eq!(code, 1);
    let s = scenario(&report, "slow");
    assert_eq!(s["builds"]["a"]["status"], "timeout");
    assert_eq!(s["builds"]["b"]["status"], "timeout");
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        processes_with(&marker).is_empty(),
        "build processes survived the timeout"
    );
    assert!(
        p.leftovers().is_empty(),
        "temp trees left: {:?}",
        p.leftovers()
    );
}

#[test]
fn ctrl_c_stops_the_sandboxes_and_removes_the_trees() {
    let p = Project::new();
    let marker = format!("888{}.5", std::process::id());
    p.file(
        "s.yaml",
        &format!("name: long\nbuild: |\n  sleep {marker}\n"),
    );
    let mut child = run_until_both_build(&p, &marker);
    signal(&child, libc::SIGINT);
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        processes_with(&marker).is_empty(),
        "build processes survived Ctrl-C"
    );
    assert!(
        p.leftovers().is_empty(),
        "temp trees left: {:?}",
        p.leftovers()
    );
}

#[test]
fn a_killed_envtwin_leaves_no_build_running_and_the_next_run_sweeps_its_trees() {
    let p = Project::new();
    let marker = format!("889{}.5", std::process::id());
    p.file(
        "s.yaml",
        &format!("name: long\nbuild: |\n  mkdir -p \"$out\"\n  sleep {marker}\n"),
    );
    let mut child = run_until_both_build(&p, &marker);
    // SIGKILL: no handler runs; only the kernel's parent-death signals
    // and the next run's sweep can clean up.
    signal(&child, libc::SIGKILL);
    child.wait().expect("wait");
    let gone = || processes_with(&marker).is_empty();
    assert!(
        within(Duration::from_secs(2), gone),
        "builds outlived a killed envtwin by 2 s"
    );
    assert!(
        !p.leftovers().is_empty(),
        "a killed envtwin cannot remove its trees; the next run must"
    );
    p.file("ok.yaml", "name: ok\nbuild: mkdir -p \"$out\"\n");
    let out = p
        .cmd(&["run", "ok.yaml"])
        .env("ENVTWIN_WORKDIR", p.tmp.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        p.leftovers().is_empty(),
        "the next run left the killed run's trees: {:?}",
        p.leftovers()
    );
}

/// Starts `envtwin run s.yaml` and returns once both of its builds are in
/// their `sleep MARKER` (within 10 s).
fn run_until_both_build(p: &Project, marker: &str) -> std::process::Child {
    let child = p.spawn(&["run", "s.yaml"]);
    assert!(
        within(Duration::from_secs(10), || sleeping(marker) >= 2),
        "both builds should be running"
    );
    child
}

/// How many `sleep` processes hold `marker`: each build's shell holds it
/// too, so the command name tells the builds apart from their shells.
fn sleeping(marker: &str) -> usize {
    let comm = |pid: u32| std::fs::read_to_string(format!("/proc/{pid}/comm"));
    processes_with(marker)
        .into_iter()
        .filter(|&pid| comm(pid).is_ok_and(|c| c == "sleep\n"))
        .count()
}

/// Whether `done` holds at some check, every 25 ms, within `limit`.
fn within(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn signal(child: &std::process::Child, sig: i32) {
    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: kill has no memory effects; the pid is our own child's,
    // not yet reaped.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill -{sig} {pid}");
}

#[test]
fn keep_leaves_both_trees_and_says_where() {
    let p = Project::new();
    p.file(
        "s.yaml",
        "name: kept\nbuild: |\n  mkdir -p \"$out\"\n  hostname > \"$out/h\"\n",
    );
    let (code, report) = p.run_json(&["--keep", "s.yaml"]);
    assert_eq!(code, 1);
    // The run's report explains the difference: the line and its cause.
    let detail = &scenario(&report, "kept")["differences"][0]["detail"];
    assert_eq!(detail["format"], "text", "{detail}");
    assert_eq!(
        detail["diff"],
        "@@ -1 +1 @@\n-envtwin-a\n+envtwin-b-variant\n"
    );
    assert_eq!(
        detail["hints"][0],
        "looks like the hostname (envtwin-a in A, envtwin-b-variant in B)"
    );
    let kept = scenario(&report, "kept")["kept"]
        .as_str()
        .expect("kept path")
        .to_string();
    let a = std::path::Path::new(&kept).join("a/out/h");
    let b = std::path::Path::new(&kept).join("b/out/h");
    assert_eq!(std::fs::read_to_string(a).expect("a"), "envtwin-a\n");
    assert_eq!(
        std::fs::read_to_string(b).expect("b"),
        "envtwin-b-variant\n"
    );
    let diff = p
        .cmd(&["diff", &format!("{kept}/a/out"), &format!("{kept}/b/out")])
        .output()
        .expect("diff");
    assert_eq!(diff.status.code(), Some(1));
    let shown = String::from_utf8_lossy(&diff.stdout);
    assert!(shown.contains("h: content"));
    // `envtwin diff` on the kept trees prints the same explanation.
    assert!(
        shown.contains("  -envtwin-a\n  +envtwin-b-variant\n"),
        "{shown}"
    );
    assert!(
        shown
            .contains("  hint: looks like the hostname (envtwin-a in A, envtwin-b-variant in B)\n")
    );
    std::fs::remove_dir_all(&kept).expect("cleanup");
}

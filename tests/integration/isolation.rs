//! The sandbox keeps builds away from the host (SPEC §3).

use crate::support::{Project, require_tool, scenario};
use std::net::TcpListener;

#[test]
fn host_root_is_read_only_and_src_too_but_out_tmp_and_cwd_are_writable() {
    let p = Project::new();
    let canary = p.path().join("canary");
    std::fs::write(&canary, "untouched").expect("canary");
    p.file(
        "w.yaml",
        &format!(
            r#"name: writes
build: |
  mkdir -p "$out"
  try() {{ if ( : > "$1" ) 2>/dev/null; then echo "$1 writable"; else echo "$1 blocked"; fi; }}
  {{ try /etc/envtwin-test; try /usr/envtwin-test; try {canary}; try "$src/new"; try /tmp/x; try ./x; try /dev/shm/x; }} > "$out/report"
expect:
  run:
    - cmd: /bin/cat "$out/report"
      stdout: "/etc/envtwin-test blocked\n/usr/envtwin-test blocked\n{canary} blocked\n/envtwin/src/new blocked\n/tmp/x writable\n./x writable\n/dev/shm/x writable\n"
"#,
            canary = canary.display()
        ),
    );
    let (code, report) = p.run_json(&["w.yaml"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        std::fs::read_to_string(&canary).expect("canary"),
        "untouched"
    );
    assert!(!std::path::Path::new("/etc/envtwin-test").exists());
    assert!(!p.path().join("new").exists());
    assert!(
        p.leftovers().is_empty(),
        "temp trees left: {:?}",
        p.leftovers()
    );
}

#[test]
fn tmp_and_out_start_empty_and_src_holds_the_scenario_dir() {
    let p = Project::new();
    p.file("data/input.txt", "from src\n");
    p.file(
        "s.yaml",
        r#"name: empty-start
build: |
  test -z "$(ls -A /tmp)"
  test -z "$(ls -A "$out")"
  test -z "$(ls -A .)"
  mkdir -p "$out" && cp "$src/data/input.txt" "$out/"
expect:
  run:
    - cmd: /bin/cat "$out/input.txt"
      stdout: "from src\n"
"#,
    );
    let (code, report) = p.run_json(&["s.yaml"]);
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn environment_is_cleared_to_the_documented_set() {
    let p = Project::new();
    p.file(
        "s.yaml",
        "name: env\nbuild: |\n  mkdir -p \"$out\"\n  env | cut -d= -f1 | sort | tr '\\n' ' ' > \"$out/names\"\nexpect:\n  run:\n    - cmd: /bin/cat \"$out/names\"\n      stdout: \"HOME LANG PATH PWD SOURCE_DATE_EPOCH TMPDIR TZ out src \"\n",
    );
    let out = p
        .cmd(&["run", "--format", "json", "--no-vary", "s.yaml"])
        .env("SECRET_TOKEN", "x")
        .output()
        .expect("run");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(out.status.code(), Some(0), "{report:#}");
}

#[test]
fn network_is_unreachable_including_the_hosts_loopback() {
    if !require_tool("python3") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    let p = Project::new();
    p.file(
        "s.yaml",
        &format!(
            r#"name: offline
build: |
  mkdir -p "$out"
  python3 -c 'import socket,sys; s=socket.socket(); s.settimeout(2); print("connected" if s.connect_ex(("127.0.0.1", {port})) == 0 else "refused")' > "$out/loopback"
  python3 -c 'import socket; s=socket.socket(); s.settimeout(2); print("reached" if s.connect_ex(("1.1.1.1", 53)) == 0 else "unreachable")' > "$out/internet"
expect:
  run:
    - cmd: /bin/cat "$out/loopback" "$out/internet"
      stdout: "refused\nunreachable\n"
"#
        ),
    );
    let (code, report) = p.run_json(&["s.yaml"]);
    assert_eq!(code, 0, "{report:#}");
    assert!(
        listener.accept().is_err(),
        "the build reached the host's listener"
    );
}

#[test]
fn a_fifo_in_out_is_a_clear_failure_not_a_hang() {
    let p = Project::new();
    p.file(
        "s.yaml",
        "name: fifo\nbuild: |\n  mkdir -p \"$out\"\n  mkfifo \"$out/pipe\"\n",
    );
    let (code, report) = p.run_json(&["s.yaml"]);
    assert_eq!(code, 1);
    let s = scenario(&report, "fifo");
    assert_eq!(s["verdict"], "fail");
    let msg = s["checks"][0]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("pipe") && msg.contains("fifo"), "{msg}");
}

#[test]
fn an_ordinary_user_builds_the_same_environment_as_root() {
    use std::os::unix::fs::PermissionsExt;
    let p = Project::new();
    p.file(
        "s.yaml",
        "name: rootless\nbuild: |\n  mkdir -p \"$out/bin\"\n  printf '#!/bin/sh\\necho hi\\n' > \"$out/bin/hi\"\n  chmod +x \"$out/bin/hi\"\nexpect:\n  which: {hi: $out/bin/hi}\n",
    );
    let (code, report) = p.run_json(&["s.yaml"]);
    assert_eq!(code, 0, "{report:#}");
    let hash = scenario(&report, "rootless")["builds"]["a"]["hash"].clone();
    assert!(hash.as_str().is_some_and(|h| h.starts_with("sha256-")));
    // As root, run the same scenario once more as `nobody`.
    if !crate::support::is_root() || !require_tool("runuser") {
        return;
    }
    for d in [p.path(), p.tmp.path()] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    }
    std::fs::set_permissions(
        p.path().join("s.yaml"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    // A copy the unprivileged user can surely run, wherever the checkout is.
    let bin = p.path().join("envtwin");
    std::fs::copy(assert_cmd::cargo::cargo_bin("envtwin"), &bin).expect("copy binary");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = std::process::Command::new("runuser")
        .args(["-u", "nobody", "--"])
        .arg(&bin)
        .args(["run", "--format", "json", "s.yaml"])
        .current_dir(p.path())
        .env("ENVTWIN_WORKDIR", p.tmp.path())
        .output()
        .expect("runuser");
    let (code, as_user) = crate::support::json_output(&out);
    assert_eq!(code, 0, "{as_user:#}");
    assert_eq!(scenario(&as_user, "rootless")["builds"]["a"]["hash"], hash);
    assert_eq!(scenario(&as_user, "rootless")["builds"]["b"]["hash"], hash);
    assert!(p.leftovers().is_empty(), "{:?}", p.leftovers());
}

#[test]
fn without_user_namespaces_the_run_says_why_and_what_to_do_and_exits_3() {
    if !require_tool("unshare") {
        return;
    }
    let p = Project::new();
    p.file("s.yaml", "name: t\nbuild: mkdir -p \"$out\"\n");
    let bin = assert_cmd::cargo::cargo_bin("envtwin");
    // A user namespace in which no further one may be made: what a host
    // with user namespaces switched off looks like to envtwin.
    let out = std::process::Command::new("unshare")
        .args(["-Ur", "sh", "-c"])
        .arg(format!(
            "echo 0 > /proc/sys/user/max_user_namespaces && exec {} run --workdir {} s.yaml",
            bin.display(),
            p.tmp.path().display()
        ))
        .current_dir(p.path())
        .output()
        .expect("unshare");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("cannot create a user namespace")
            && text.contains("sysctl -w user.max_user_namespaces="),
        "{text}"
    );
}

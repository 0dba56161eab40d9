//! A hostile build against the v2 sandbox (SPEC §3): each escape a build
//! tries, as a scenario whose own checks require that it failed, plus a look
//! at the host afterwards. Runs as root and as an ordinary user alike.

use crate::support::{Project, is_root, scenario};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Run `build` as a scenario whose `$out/report` must read `expected`.
fn attempt(p: &Project, name: &str, build: &str, expected: &str) -> serde_json::Value {
    let indented: String = build.lines().map(|l| format!("  {l}\n")).collect();
    p.file(
        &format!("{name}.yaml"),
        &format!(
            "name: {name}\nbuild: |\n  mkdir -p \"$out\"\n{indented}expect:\n  run:\n    - cmd: /bin/cat \"$out/report\"\n      stdout: {expected:?}\n"
        ),
    );
    let (code, report) = p.run_json(&[&format!("{name}.yaml")]);
    assert_eq!(code, 0, "{report:#}");
    assert!(p.leftovers().is_empty(), "{:?}", p.leftovers());
    report
}

/// `try CMD...`: "denied" when the command fails, "ESCAPED" when it works.
const TRY: &str =
    r#"try() { if "$@" >/dev/null 2>&1; then echo "ESCAPED: $*"; else echo "denied"; fi; }"#;

#[test]
fn remounting_the_host_view_writable_is_denied_also_from_a_nested_namespace() {
    let p = Project::new();
    attempt(
        &p,
        "remount",
        &format!(
            "{TRY}\n{{ try mount -o remount,bind,rw /etc\n  try mount -o remount,rw /usr\n  try mount -o remount,bind,rw \"$src\"\n  try unshare -Urm sh -c 'mount -o remount,bind,rw /etc'\n  try sh -c ': > /etc/envtwin-escape'\n  try sh -c ': > \"$src/envtwin-escape\"'\n}} > \"$out/report\""
        ),
        "denied\ndenied\ndenied\ndenied\ndenied\ndenied\n",
    );
    assert!(!Path::new("/etc/envtwin-escape").exists());
    assert!(!p.path().join("envtwin-escape").exists());
}

#[test]
fn host_wide_kernel_knobs_are_read_only() {
    let before = std::fs::read_to_string("/proc/sys/vm/swappiness").expect("swappiness");
    let other = if before.trim() == "61" { "62" } else { "61" };
    let p = Project::new();
    attempt(
        &p,
        "sysctl",
        &format!(
            "{TRY}\n{{ try sh -c 'echo {other} > /proc/sys/vm/swappiness'\n  try sh -c 'exec 3>/proc/sys/kernel/core_pattern'\n  try sh -c 'echo h > /proc/sysrq-trigger'\n}} > \"$out/report\""
        ),
        "denied\ndenied\ndenied\n",
    );
    let after = std::fs::read_to_string("/proc/sys/vm/swappiness").expect("swappiness");
    assert_eq!(before, after);
}

#[test]
fn cgroups_cannot_be_mounted_so_no_host_process_can_be_killed_through_them() {
    let p = Project::new();
    attempt(
        &p,
        "cgroup",
        &format!(
            "{TRY}\nmkdir -p /tmp/cg\n{{ try mount -t cgroup2 none /tmp/cg\n  try unshare -Urm --cgroup sh -c 'mount -t cgroup2 none /tmp/cg'\n  try test -e /sys/fs/cgroup/cgroup.procs\n}} > \"$out/report\""
        ),
        "denied\ndenied\ndenied\n",
    );
}

#[test]
fn host_secrets_and_private_homes_are_not_visible() {
    let p = Project::new();
    // A private file of the invoking user, outside what builds see.
    let secret_dir = tempfile::tempdir().expect("tempdir");
    let secret = secret_dir.path().join("secret");
    std::fs::write(&secret, "s3cret").expect("secret");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    attempt(
        &p,
        "secrets",
        &format!(
            "{TRY}\n{{ try grep -q . /etc/shadow\n  try grep -q . /etc/gshadow\n  try ls /root\n  try ls /home\n  try cat {secret}\n  try ls /var/lib /run\n}} > \"$out/report\"",
            secret = secret.display()
        ),
        "denied\ndenied\ndenied\ndenied\ndenied\ndenied\n",
    );
}

#[test]
fn host_unix_sockets_are_unreachable() {
    if !crate::support::require_tool("python3") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("host.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let p = Project::new();
    attempt(
        &p,
        "sockets",
        &format!(
            "{TRY}\nconnect() {{ python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' \"$1\"; }}\n{{ try connect {sock}\n  try ls /run /var/run\n  try test -S /run/dbus/system_bus_socket\n}} > \"$out/report\"",
            sock = sock.display()
        ),
        "denied\ndenied\ndenied\n",
    );
    assert!(
        listener.accept().is_err(),
        "a build connected to a host socket"
    );
}

#[test]
fn a_setuid_file_a_build_makes_is_out_of_reach_of_other_host_users() {
    let p = Project::new();
    p.file(
        "suid.yaml",
        "name: suid\nbuild: |\n  mkdir -p \"$out\"\n  cp /usr/bin/id \"$out/id\"\n  chmod 4755 \"$out/id\"\n  if mknod \"$out/null\" c 1 3 2>/dev/null; then echo made > \"$out/mknod\"; fi\n  sleep 3\n",
    );
    let mut child = p.spawn(&["run", "suid.yaml"]);
    // While the build sleeps, its setuid copy exists on the host.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let found = loop {
        if let Some(f) = find(p.tmp.path(), "id") {
            break f;
        }
        assert!(std::time::Instant::now() < deadline, "no $out/id appeared");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    // Every run dir is 0700: no other user can even reach the file.
    let run_dir = found
        .ancestors()
        .find(|a| a.parent() == Some(p.tmp.path()))
        .expect("run dir");
    let mode = std::fs::metadata(run_dir)
        .expect("run dir")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700, "{}", run_dir.display());
    if is_root() && crate::support::require_tool("runuser") {
        let out = std::process::Command::new("runuser")
            .args(["-u", "nobody", "--"])
            .arg(&found)
            .output()
            .expect("setpriv");
        assert!(
            !out.status.success(),
            "nobody ran the build's setuid file: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    assert!(
        find(p.tmp.path(), "mknod").is_none(),
        "a build made a device node"
    );
}

fn find(dir: &Path, name: &str) -> Option<std::path::PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let path = e.path();
        if e.file_name() == name && path.parent().is_some_and(|p| p.ends_with("out")) {
            return Some(path);
        }
        if e.file_type().is_ok_and(|t| t.is_dir())
            && let Some(f) = find(&path, name)
        {
            return Some(f);
        }
    }
    None
}

#[test]
fn twins_under_a_host_workdir_cannot_reach_each_other() {
    // A workdir on the host's disk, in a place the old sandbox mirrored.
    let base = if is_root() {
        Path::new("/var/tmp").to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let wd = tempfile::tempdir_in(&base).expect("workdir");
    let p = Project::new();
    p.file(
        "cross.yaml",
        "name: cross\nbuild: |\n  mkdir -p \"$out\"\n  head -c 16 /dev/urandom | od -An -tx1 > \"$out/random\"\n  for f in $(find / -xdev -path '*/out/random' 2>/dev/null); do cp \"$out/random\" \"$f\" 2>/dev/null || true; done\nexpect:\n  reproducible: false\n",
    );
    let out = p
        .cmd(&["run", "--format", "json", "--no-explain", "--workdir"])
        .arg(wd.path())
        .arg("cross.yaml")
        .output()
        .expect("run");
    let (code, report) = crate::support::json_output(&out);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(scenario(&report, "cross")["reproducible"], false);
}

#[test]
fn a_workdir_that_builds_would_see_is_refused() {
    let p = Project::new();
    p.file("s.yaml", "name: s\nbuild: mkdir -p \"$out\"\n");
    let out = p
        .cmd(&["run", "--workdir", "/usr/share", "s.yaml"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/usr"), "{err}");
}

#[test]
fn a_private_scenario_dir_and_a_0600_input_build_in_both_twins() {
    let p = Project::new();
    p.file("input.txt", "private input\n");
    std::fs::set_permissions(
        p.path().join("input.txt"),
        std::fs::Permissions::from_mode(0o600),
    )
    .expect("chmod");
    std::fs::set_permissions(p.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    p.file(
        "private.yaml",
        "name: private\nbuild: |\n  mkdir -p \"$out\"\n  cp \"$src/input.txt\" \"$out/\"\n",
    );
    std::fs::set_permissions(
        p.path().join("private.yaml"),
        std::fs::Permissions::from_mode(0o600),
    )
    .expect("chmod");
    let (code, report) = p.run_json(&["private.yaml"]);
    assert_eq!(code, 0, "{report:#}");
    let s = scenario(&report, "private");
    assert_eq!(s["builds"]["b"]["status"], "ok", "{s:#}");
    assert_eq!(s["builds"]["b"]["variations"]["user"], "1000:1000");
}

#[test]
fn home_is_empty_writable_and_differs_between_the_twins() {
    let p = Project::new();
    let report = attempt(
        &p,
        "home",
        "test -z \"$(ls -A \"$HOME\")\"\nmkdir -p \"$HOME/.cache/x\" && echo ok > \"$HOME/.npmrc\"\necho writable > \"$out/report\"",
        "writable\n",
    );
    let s = scenario(&report, "home");
    assert_ne!(
        s["builds"]["a"]["variations"]["home"],
        s["builds"]["b"]["variations"]["home"]
    );
}

#[test]
fn host_paths_are_visible_read_only_and_nothing_else_of_their_parent() {
    let p = Project::new();
    // Outside /tmp: the sandbox has a /tmp of its own.
    let tool = tempfile::tempdir_in("/var/tmp").expect("tempdir");
    std::fs::create_dir(tool.path().join("bin")).expect("mkdir");
    std::fs::write(tool.path().join("bin/tool"), "#!/bin/sh\necho tool\n").expect("tool");
    std::fs::set_permissions(
        tool.path().join("bin/tool"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    let sibling = tempfile::tempdir_in("/var/tmp").expect("tempdir");
    let tool_path = tool.path().canonicalize().expect("canonical");
    p.file(
        "hp.yaml",
        &format!(
            "name: hp\nhost_paths: [{t}]\nbuild: |\n  {TRY}\n  mkdir -p \"$out\"\n  {{ {t}/bin/tool; try touch {t}/new; try ls {s}; }} > \"$out/report\"\nexpect:\n  run:\n    - cmd: /bin/cat \"$out/report\"\n      stdout: \"tool\\ndenied\\ndenied\\n\"\n",
            t = tool_path.display(),
            s = sibling.path().display()
        ),
    );
    let (code, report) = p.run_json(&["hp.yaml"]);
    assert_eq!(code, 0, "{report:#}");
    assert!(!tool.path().join("new").exists());
}

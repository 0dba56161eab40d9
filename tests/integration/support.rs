//! Test builder that owns its temp dir (after just's `tests/test.rs`).

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// A temp project: scenario files under `dir`, and a private TMPDIR for
/// envtwin so tests can check nothing is left behind.
pub struct Project {
    pub dir: TempDir,
    pub tmp: TempDir,
}

impl Project {
    pub fn new() -> Project {
        Project {
            dir: tempfile::tempdir().expect("tempdir"),
            tmp: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write `rel` with `text`, creating parents.
    pub fn file(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write");
        p
    }

    /// `envtwin ARGS` with cwd = the project and TMPDIR = the private tmp.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("envtwin").expect("binary");
        c.current_dir(self.dir.path())
            .env("TMPDIR", self.tmp.path())
            .args(args);
        c
    }

    /// The same as `cmd`, as a plain `std::process::Command` (to spawn).
    pub fn std_cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("envtwin"));
        c.current_dir(self.dir.path())
            .env("TMPDIR", self.tmp.path())
            .args(args);
        c
    }

    /// `envtwin ARGS` started in the background with its workdir in the
    /// private tmp (`ENVTWIN_WORKDIR`) and its output discarded: for tests
    /// that look at the builds while they run.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.std_cmd(args)
            .env("ENVTWIN_WORKDIR", self.tmp.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn")
    }

    /// `envtwin run --format json ARGS`: exit code and the parsed report.
    pub fn run_json(&self, args: &[&str]) -> (i32, serde_json::Value) {
        let mut all = vec!["run", "--format", "json"];
        all.extend_from_slice(args);
        json_output(&self.cmd(&all).output().expect("run"))
    }

    /// Entries left in envtwin's TMPDIR.
    pub fn leftovers(&self) -> Vec<String> {
        std::fs::read_dir(self.tmp.path())
            .expect("read tmp")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }
}

/// A command's exit code and its stdout parsed as JSON (failing loudly,
/// with both outputs, when it is not JSON).
pub fn json_output(out: &std::process::Output) -> (i32, serde_json::Value) {
    let code = out.status.code().unwrap_or(-1);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}); exit {code}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    if code == 3 {
        // A harness error is rarely what a test expects: keep its reason in
        // the failing test's output.
        eprintln!(
            "envtwin exited 3\nstderr: {}\nreport: {json:#}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (code, json)
}

/// `envtwin run --format json PATHS` with CI=true in a fresh network
/// namespace, which has no route and no resolver answer: exit code and
/// report. `unshare -n` needs root: as another user, `None`, saying so.
pub fn run_offline(p: &Project, paths: &[PathBuf]) -> Option<(i32, serde_json::Value)> {
    if !is_root() {
        eprintln!("skipping: a machine without network (unshare -n) needs root");
        return None;
    }
    if !require_tool("unshare") {
        return None;
    }
    let out = std::process::Command::new("unshare")
        .arg("-n")
        .arg(assert_cmd::cargo::cargo_bin("envtwin"))
        .args(["run", "--format", "json"])
        .args(paths)
        .env("TMPDIR", p.tmp.path())
        .env("CI", "true")
        .output()
        .expect("unshare");
    Some(json_output(&out))
}

/// Whether scenario `s` (named `name`) was skipped; a skip is only right
/// for an unreachable registry, and is told on stderr.
pub fn skipped_offline(s: &serde_json::Value, name: &str) -> bool {
    if s["verdict"] != "skipped" {
        return false;
    }
    let reason = s["reason"].as_str().expect("reason");
    assert!(reason.starts_with("network unreachable: "), "{reason}");
    eprintln!("{name} skipped: {reason}");
    true
}

/// The one scenario of a report, by name.
pub fn scenario<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["scenarios"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no scenario {name} in {report:#}"))
}

/// Whether `tool` is on PATH. Under CI=true a missing tool fails the test
/// instead of skipping it, so CI never silently tests less.
pub fn require_tool(tool: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    found || missing(tool)
}

/// Whether the file `path` exists: what a test needs that is not a command
/// on PATH (a library, a toolchain). Missing, it fails under CI=true and is
/// skipped otherwise, as in `require_tool`.
pub fn require_file(path: &str) -> bool {
    std::path::Path::new(path).exists() || missing(path)
}

/// `false`, saying that `what` is missing; under CI=true a panic instead.
fn missing(what: &str) -> bool {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what} is required in CI but not installed (see .ci/run)");
    }
    eprintln!("skipping: {what} not installed");
    false
}

/// Processes whose command line contains `marker`.
pub fn processes_with(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(marker) {
                found.push(pid);
            }
        }
    }
    found
}

/// Whether the tests run as root (some checks need a second user).
pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

//! Linux-namespace sandboxes, one per build (SPEC §3); variations are applied here.
//!
//! The parent (`run`) writes a `SandboxSpec` to a file and starts
//! `envtwin __sandbox SPEC`, a fresh single-threaded process that enters new
//! namespaces (`inside`), so no fork happens in the multi-threaded parent.
//! The parent only waits, enforces the timeout and reads the `SandboxResult`.

pub mod cleanup;
pub mod inside;
mod mounts;
pub mod plan;
pub mod variation;

use crate::probe::{ProbeRequest, Probes};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Why a build cannot run as a non-root user.
pub const NEEDS_ROOT: &str = "envtwin's sandbox needs root (it creates mount, pid, net, uts and ipc namespaces); run it as root, e.g. in a CI container";

/// Sandboxes running right now (for the progress display).
pub static RUNNING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Where envtwin's own binary is mounted when probes run through a wrapper.
pub const PROBE_EXE: &str = "/envtwin/bin/envtwin";

/// Where the scenario directory appears inside every sandbox.
pub const SRC_MOUNT: &str = "/envtwin/src";
/// With `fileordering`, the plain read-only view of the scenario directory
/// that disorderfs serves, shuffled, at `SRC_MOUNT`.
pub const SRC_PLAIN: &str = "/envtwin/.src-plain";
/// The disorderfs binary (Debian's `disorderfs`).
pub const DISORDERFS: &str = "/usr/bin/disorderfs";

/// Everything the sandbox process needs to build and probe one environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxSpec {
    /// Host directory holding this build's trees (root, out, build, log).
    pub work: PathBuf,
    /// `$out` inside the sandbox.
    pub out: String,
    /// The working directory inside the sandbox.
    pub build_dir: String,
    /// Host directory mounted read-only at `SRC_MOUNT`.
    pub src: PathBuf,
    /// Extra host directories mounted writable at a path inside (e.g. a private `/nix`).
    pub writable_mounts: Vec<(PathBuf, String)>,
    /// Empty directories that must exist inside (e.g. exec_path's extra entry).
    pub empty_dirs: Vec<String>,
    /// Host files or directories mounted read-only at a path inside.
    pub readonly_binds: Vec<(PathBuf, String)>,
    /// Mount the `$out` storage at this path instead, and make `out` a
    /// symlink to `<this>/result` (the nix provider's build mode, where
    /// `$out` is the result link `nix-build -o` writes).
    pub out_storage_at: Option<String>,
    pub hostname: String,
    pub domainname: String,
    pub uid: u32,
    pub gid: u32,
    pub umask: u32,
    /// Restrict the build to this many CPUs; `None` = all.
    pub cpus: Option<usize>,
    /// Which allowed CPU the restricted set starts at, so that builds
    /// restricted to one CPU do not all queue on CPU 0.
    pub cpu_start: usize,
    /// Disable address space randomisation for the build.
    pub no_aslr: bool,
    /// Show `$src` through disorderfs with shuffled directory order.
    pub shuffle_src: bool,
    /// The build's whole environment, in this order.
    pub env: Vec<(String, String)>,
    pub network: bool,
    /// argv of the build command (e.g. `/bin/sh -eu -c SCRIPT`).
    pub build_argv: Vec<String>,
    /// What to probe after a successful build.
    pub probe: ProbeRequest,
}

impl SandboxSpec {
    /// Host directory that backs `$out`.
    pub fn out_storage(&self) -> PathBuf {
        self.work.join("out")
    }
    pub fn build_storage(&self) -> PathBuf {
        self.work.join("build")
    }
    pub fn root_mount(&self) -> PathBuf {
        self.work.join("root")
    }
    pub fn log_file(&self) -> PathBuf {
        self.work.join("build.log")
    }
    pub fn result_file(&self) -> PathBuf {
        self.work.join("result.json")
    }
    pub fn spec_file(&self) -> PathBuf {
        self.work.join("spec.json")
    }
}

/// What the sandbox process reports back (written by pid 1 inside).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SandboxResult {
    /// The sandbox could not be set up (a harness error, not a verdict).
    pub setup_error: Option<String>,
    /// Exit code of the build command; `None` if killed by a signal.
    pub exit_code: Option<i32>,
    /// Signal that killed the build, if any.
    pub signal: Option<i32>,
    /// Probes, present only when the build succeeded.
    pub probes: Option<Probes>,
}

/// How a sandboxed build ended, seen from the parent.
#[derive(Debug, Clone)]
pub struct SandboxOutcome {
    pub result: SandboxResult,
    pub timed_out: bool,
    pub duration: Duration,
    /// Last lines of the build's stdout+stderr.
    pub log_tail: String,
}

/// Run one sandboxed build to completion (or timeout) and return its result.
/// `work` must exist; its `out` and `build` subdirectories are created here.
pub fn run(spec: &SandboxSpec, timeout: Duration) -> Result<SandboxOutcome, String> {
    if !nix::unistd::geteuid().is_root() {
        return Err(NEEDS_ROOT.into());
    }
    let start = Instant::now();
    let writable = spec.writable_mounts.iter().map(|(h, _)| h.clone());
    let dirs: Vec<PathBuf> = [spec.out_storage(), spec.build_storage(), spec.root_mount()]
        .into_iter()
        .chain(writable)
        .collect();
    for dir in dirs {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        // The build may run as another uid (the `user` variation): it must own
        // the trees it writes, as it would on a real machine.
        if dir != spec.root_mount() {
            std::os::unix::fs::chown(&dir, Some(spec.uid), Some(spec.gid))
                .map_err(|e| format!("chown {}: {e}", dir.display()))?;
        }
    }
    let spec_json = serde_json::to_vec(spec).map_err(|e| e.to_string())?;
    std::fs::write(spec.spec_file(), spec_json)
        .map_err(|e| format!("{}: {e}", spec.spec_file().display()))?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find envtwin's binary: {e}"))?;
    let helper_err = spec.work.join("sandbox.err");
    let err_file = std::fs::File::create(&helper_err).map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .arg("__sandbox")
        .arg(spec.spec_file())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err_file)
        .spawn()
        .map_err(|e| format!("cannot start the sandbox process: {e}"))?;
    let pid = child.id();
    cleanup::register_pid(pid);
    RUNNING.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let deadline = start + timeout;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => {}
            Err(e) => {
                cleanup::unregister_pid(pid);
                RUNNING.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                return Err(format!("waiting for the sandbox: {e}"));
            }
        }
        if Instant::now() >= deadline {
            // Killing the helper kills pid 1 of the sandbox (PDEATHSIG), and
            // with it every process of the build's pid namespace.
            timed_out = true;
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    cleanup::unregister_pid(pid);
    RUNNING.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    cleanup::park_if_interrupted();
    let duration = start.elapsed();
    let log_tail = tail(&spec.log_file(), 20);
    if timed_out {
        return Ok(SandboxOutcome {
            result: SandboxResult::default(),
            timed_out,
            duration,
            log_tail,
        });
    }
    let result = match std::fs::read(spec.result_file()) {
        Ok(bytes) if !bytes.is_empty() => serde_json::from_slice::<SandboxResult>(&bytes)
            .map_err(|e| format!("unreadable sandbox result: {e}"))?,
        _ => {
            let err = std::fs::read_to_string(&helper_err).unwrap_or_default();
            return Err(format!(
                "the sandbox process ended ({}) without a result: {}",
                status.map(|s| s.to_string()).unwrap_or_default(),
                err.trim()
            ));
        }
    };
    if let Some(e) = &result.setup_error {
        return Err(format!("sandbox unavailable: {e}"));
    }
    Ok(SandboxOutcome {
        result,
        timed_out,
        duration,
        log_tail,
    })
}

/// The last `lines` lines of a file, lossily decoded, from its last 4 KiB
/// (read from the end: a build log can be large).
pub fn tail(path: &Path, lines: usize) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let mut bytes = Vec::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(4096)));
        let _ = f.take(4096).read_to_end(&mut bytes);
    }
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

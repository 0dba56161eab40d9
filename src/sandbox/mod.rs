//! Linux-namespace sandboxes, one per build (SPEC §3); variations are applied here.
//!
//! The parent (`run`) writes a `SandboxSpec` to a file and starts
//! `envtwin __sandbox SPEC`, a fresh single-threaded process that enters a
//! new user namespace and the others with it (`inside`), so no fork happens
//! in the multi-threaded parent and the same code serves root and ordinary
//! users. The parent only waits, enforces the timeout and reads the
//! `SandboxResult`.
//!
//! The boundary, in the order `inside` sets it up: `ids` (one uid mapped to
//! the invoker), `mounts` (a minimal, read-only, locked host view and the
//! build's private trees), then the build runs with no capability,
//! `no_new_privs` and no way to make another user namespace. `lifetime`
//! makes sure nothing outlives envtwin.

pub mod ids;
pub mod inside;
pub mod lifetime;
pub mod limits;
mod mounts;
pub mod plan;
pub mod variation;

use crate::probe::{ProbeRequest, Probes};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    /// The build's uid/gid inside its user namespace (mapped to the invoker).
    pub uid: u32,
    pub gid: u32,
    pub umask: u32,
    /// `HOME` inside: an empty, writable directory of the build's own.
    pub home: String,
    /// What of the host the build sees.
    pub host: plan::HostView,
    /// Extra host paths visible read-only at the same path (`host_paths`).
    pub host_paths: Vec<PathBuf>,
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
    /// Host directory that backs `HOME`.
    pub fn home_storage(&self) -> PathBuf {
        self.work.join("home")
    }
    /// Host directory that backs `/tmp`.
    pub fn tmp_storage(&self) -> PathBuf {
        self.work.join("tmp")
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
/// `work` must exist; the build's trees are created in it, mode 0700.
pub fn run(spec: &SandboxSpec, timeout: Duration) -> Result<SandboxOutcome, String> {
    use std::os::unix::fs::DirBuilderExt;
    use std::os::unix::process::CommandExt;
    let start = Instant::now();
    let writable = spec.writable_mounts.iter().map(|(h, _)| h.clone());
    let dirs: Vec<PathBuf> = [
        spec.out_storage(),
        spec.build_storage(),
        spec.home_storage(),
        spec.tmp_storage(),
        spec.root_mount(),
    ]
    .into_iter()
    .chain(writable)
    .collect();
    for dir in dirs {
        // 0700: nobody else on the host may reach what a build wrote (a
        // setuid file, a secret), even while the build runs.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let spec_json = serde_json::to_vec(spec).map_err(|e| e.to_string())?;
    std::fs::write(spec.spec_file(), spec_json)
        .map_err(|e| format!("{}: {e}", spec.spec_file().display()))?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find envtwin's binary: {e}"))?;
    let helper_err = spec.work.join("sandbox.err");
    let err_file = std::fs::File::create(&helper_err).map_err(|e| e.to_string())?;
    let me = std::process::id() as libc::pid_t;
    let mut command = Command::new(exe);
    command
        .arg("__sandbox")
        .arg(spec.spec_file())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err_file);
    // SAFETY: die_with_parent only makes async-signal-safe calls.
    unsafe {
        command.pre_exec(move || lifetime::die_with_parent(Some(me)));
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start the sandbox process: {e}"))?;
    let pid = child.id();
    lifetime::register_pid(pid);
    RUNNING.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let finished = wait_until(pid, start + timeout);
    let timed_out = !finished;
    if timed_out {
        // Killing the helper kills pid 1 of the sandbox (PDEATHSIG), and
        // with it every process of the build's pid namespace.
        let _ = child.kill();
    }
    let status = child.wait();
    lifetime::unregister_pid(pid);
    RUNNING.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    lifetime::park_if_interrupted();
    let status = status.map_err(|e| format!("waiting for the sandbox: {e}"))?;
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
            if let Some(full) = full_filesystem(&spec.work) {
                return Err(full);
            }
            let err = std::fs::read_to_string(&helper_err).unwrap_or_default();
            return Err(format!(
                "the sandbox process ended ({status}) without a result: {}",
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

/// If the filesystem holding `work` is full, say so and where: a build that
/// fills the workdir leaves pid 1 no room to write its result.
pub fn full_filesystem(work: &Path) -> Option<String> {
    let st = nix::sys::statfs::statfs(work).ok()?;
    let free = st.blocks_available() as u64 * st.block_size() as u64;
    // Less than a page or two left: nothing more can be written there.
    (free < 64 * 1024).then(|| {
        format!(
            "No space left on device: the filesystem holding the workdir is full at {} \
             (a build's trees filled it); free space there, choose another --workdir, \
             or lower the scenario's `limits.disk`",
            work.display()
        )
    })
}

/// Wait for process `pid` to exit, up to `deadline`, without polling: a
/// pidfd becomes readable when the process ends. `true` if it ended.
fn wait_until(pid: u32, deadline: Instant) -> bool {
    // SAFETY: pidfd_open on our own child; the fd is owned below.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return wait_by_polling(pid, deadline);
    }
    // SAFETY: a fresh fd from pidfd_open.
    let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) };
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc > 0 {
            return true;
        }
        if rc < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return wait_by_polling(pid, deadline);
        }
    }
}

/// Kernels before 5.3 have no pidfd: check every 5 ms instead.
fn wait_by_polling(pid: u32, deadline: Instant) -> bool {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitid};
    let pid = nix::unistd::Pid::from_raw(pid as i32);
    loop {
        // WNOWAIT: leave the zombie for `Child::wait` to reap.
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        match waitid(nix::sys::wait::Id::Pid(pid), flags) {
            Ok(WaitStatus::StillAlive) => {}
            _ => return true,
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
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

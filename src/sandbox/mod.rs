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
pub mod slots;
pub mod variation;

use crate::probe::{ProbeRequest, Probes};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where envtwin's own binary is mounted when probes run through a wrapper.
pub const PROBE_EXE: &str = "/envtwin/bin/envtwin";

/// Where the scenario directory appears inside every sandbox.
pub const SRC_MOUNT: &str = "/envtwin/src";
/// With `fileordering`, the plain read-only view of the scenario directory
/// that disorderfs serves, shuffled, at `SRC_MOUNT`.
pub const SRC_PLAIN: &str = "/envtwin/.src-plain";
/// With `fileordering`, the plain writable views of the build directory and
/// of `$out` that disorderfs serves, shuffled, at their usual places.
pub const BUILD_PLAIN: &str = "/envtwin/.build-plain";
pub const OUT_PLAIN: &str = "/envtwin/.out-plain";
/// Where `/etc`'s replacement files are staged inside (`mounts::etc`).
pub const ETC_STAGING: &str = "/envtwin/.etc";
/// The nix provider's: where the `$out` storage is mounted in build mode
/// (`nix-build -o` writes the result link there and `$out` points at it),
/// and the directory nix-shell's shell comes from (nothing but bash, so the
/// entry nix-shell prepends to PATH cannot leak host tools). Declared here
/// so that `OWN_PATHS` lists them.
pub const NIX_LINKS: &str = "/envtwin/links";
pub const NIX_SHELL_DIR: &str = "/envtwin/shell";
/// The directory of envtwin's own libraries (`timeshift::MOUNT`).
pub const LIB_DIR: &str = "/envtwin/lib";
/// With `network:`: where the build's proxy directory is mounted, holding
/// the proxy's socket for this build and the run's CA certificate.
pub const PROXY_DIR: &str = "/envtwin/proxy";
/// The socket's and the CA's names in `PROXY_DIR` (and in the build's
/// `proxy` tree on the host).
pub const PROXY_SOCKET: &str = "sock";
pub const PROXY_CA: &str = "ca.pem";
/// Paths envtwin itself places inside every sandbox: a scenario's `out`
/// may be neither one of them, nor inside one, nor a directory holding one.
pub const OWN_PATHS: &[&str] = &[
    SRC_MOUNT,
    SRC_PLAIN,
    BUILD_PLAIN,
    OUT_PLAIN,
    // PROBE_EXE's directory.
    "/envtwin/bin",
    ETC_STAGING,
    plan::HOME_A,
    plan::HOME_B,
    plan::BUILD_DIR_A,
    plan::BUILD_DIR_B,
    plan::EXTRA_PATH_DIR,
    NIX_LINKS,
    NIX_SHELL_DIR,
    LIB_DIR,
    PROXY_DIR,
];
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
    /// Restrict the build to this many CPUs; `None` = all.
    pub cpus: Option<usize>,
    /// Which allowed CPU the restricted set starts at, so that builds
    /// restricted to one CPU do not all queue on CPU 0.
    pub cpu_start: usize,
    /// Disable address space randomisation for the build.
    pub no_aslr: bool,
    /// Report a 2.6 kernel to `uname` (the `kernel` variation).
    pub uname26: bool,
    /// Show `$src`, the build directory and `$out` through disorderfs with
    /// shuffled directory order (see `mounts::shuffled_views`).
    pub shuffle_dirents: bool,
    /// The build's whole environment, in this order.
    pub env: Vec<(String, String)>,
    /// `network:` on: the build reaches the proxy through a relay on
    /// loopback (`proxy_storage` holds the socket and the CA).
    pub network: bool,
    /// argv of the build command (e.g. `/bin/sh -eu -c SCRIPT`).
    pub build_argv: Vec<String>,
    /// What to probe after a successful build.
    pub probe: ProbeRequest,
    /// This build's resource limits.
    pub limits: limits::Limits,
    /// Whether a cgroup holds memory and pids (set by `run` once it has
    /// made them); where not, the build gets rlimits instead.
    pub memory_by_cgroup: bool,
    pub pids_by_cgroup: bool,
}

impl SandboxSpec {
    /// Every host directory the build can write: `$out`, the build
    /// directory, `HOME`, `/tmp` and the provider's writable mounts. Their
    /// sum is what `limits.disk` bounds.
    pub fn writable_trees(&self) -> Vec<PathBuf> {
        [
            self.out_storage(),
            self.build_storage(),
            self.home_storage(),
            self.tmp_storage(),
        ]
        .into_iter()
        .chain(self.writable_mounts.iter().map(|(h, _)| h.clone()))
        .collect()
    }
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
    /// Host directory mounted at `PROXY_DIR` when `network` is on.
    pub fn proxy_storage(&self) -> PathBuf {
        self.work.join("proxy")
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
    /// Bytes of build output dropped by `limits.log`.
    pub log_dropped: u64,
}

/// How a sandboxed build ended, seen from the parent.
#[derive(Debug, Clone)]
pub struct SandboxOutcome {
    pub result: SandboxResult,
    pub timed_out: bool,
    pub duration: Duration,
    /// Last lines of the build's stdout+stderr.
    pub log_tail: String,
    /// The limit the build went past, if it was stopped by one.
    pub exceeded: Option<limits::Which>,
    /// How each limit was enforced: limit name -> mechanism.
    pub in_force: limits::InForce,
}

/// Run one sandboxed build to completion (or timeout) and return its result.
/// `work` must exist; the build's trees are created in it, mode 0700. The
/// build runs within its `limits` (see `limits`), under a slot of
/// `--max-builds`.
pub fn run(spec: &SandboxSpec, timeout: Duration) -> Result<SandboxOutcome, String> {
    use std::os::unix::fs::DirBuilderExt;
    use std::os::unix::process::CommandExt;
    let _slot = slots::acquire();
    let start = Instant::now();
    let dirs: Vec<PathBuf> = spec
        .writable_trees()
        .into_iter()
        .chain([spec.root_mount()])
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
    let mut in_force = limits::InForce::new();
    let cgroups = limits::Cgroups::create(&spec.limits, &mut in_force);
    in_force.insert(
        "disk".into(),
        "watchdog on the writable trees + RLIMIT_FSIZE + tmpfs size=".into(),
    );
    in_force.insert(
        "log".into(),
        "envtwin (pid 1 keeps the head and tail)".into(),
    );
    let mut spec = spec.clone();
    spec.memory_by_cgroup = cgroups.has_memory();
    spec.pids_by_cgroup = cgroups.has_pids();
    let spec = &spec;
    let spec_json = serde_json::to_vec(spec).map_err(|e| e.to_string())?;
    std::fs::write(spec.spec_file(), spec_json)
        .map_err(|e| format!("{}: {e}", spec.spec_file().display()))?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find envtwin's binary: {e}"))?;
    let helper_err = spec.work.join("sandbox.err");
    let err_file = std::fs::File::create(&helper_err).map_err(|e| e.to_string())?;
    let procs: Vec<std::fs::File> = cgroups
        .procs_files()
        .iter()
        .map(|p| {
            std::fs::OpenOptions::new()
                .write(true)
                .open(p)
                .map_err(|e| format!("{}: {e}", p.display()))
        })
        .collect::<Result<_, _>>()?;
    let procs_fds: Vec<i32> = procs.iter().map(|f| f.as_raw_fd()).collect();
    let me = std::process::id() as libc::pid_t;
    let mut command = Command::new(exe);
    command
        .arg("__sandbox")
        .arg(spec.spec_file())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err_file);
    // SAFETY: die_with_parent and join_cgroups only make async-signal-safe
    // calls (prctl, getppid, write).
    unsafe {
        command.pre_exec(move || {
            lifetime::die_with_parent(Some(me))?;
            join_cgroups(&procs_fds)
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start the sandbox process: {e}"))?;
    drop(procs);
    let pid = child.id();
    lifetime::register_pid(pid);
    let watched = watch(pid, start + timeout, spec, &cgroups);
    let mut namespace_init = None;
    if watched != Watched::Ended {
        // Killing the helper kills pid 1 of the sandbox (PDEATHSIG), and
        // with it every process of the build's pid namespace. That happens
        // after the helper is gone, so keep a handle on pid 1 to wait for.
        namespace_init = child_of(pid).map(ExitWatch::open);
        let _ = child.kill();
    }
    let status = child.wait();
    if let Some(init) = namespace_init {
        // pid 1 of a namespace ends only once every process in it is
        // reaped: when it has, nothing of the build is left running.
        init.until(Instant::now() + Duration::from_secs(30));
    }
    lifetime::unregister_pid(pid);
    lifetime::park_if_interrupted();
    let status = status.map_err(|e| format!("waiting for the sandbox: {e}"))?;
    let duration = start.elapsed();
    let log_tail = tail(&spec.log_file(), 20);
    let mut exceeded = cgroups.exceeded();
    if watched == Watched::OverDisk || (exceeded.is_none() && usage_over_disk(spec)) {
        exceeded = Some(limits::Which::Disk);
    }
    if watched == Watched::OverMemory {
        exceeded = Some(limits::Which::Memory);
    }
    drop(cgroups);
    let stopped = SandboxOutcome {
        result: SandboxResult::default(),
        timed_out: watched == Watched::TimedOut,
        duration,
        log_tail,
        exceeded,
        in_force,
    };
    if watched != Watched::Ended {
        return Ok(stopped);
    }
    let result = match std::fs::read(spec.result_file()) {
        Ok(bytes) if !bytes.is_empty() => serde_json::from_slice::<SandboxResult>(&bytes)
            .map_err(|e| format!("unreadable sandbox result: {e}"))?,
        // pid 1 killed at a limit writes no result: the limit is the answer.
        _ if exceeded.is_some() => return Ok(stopped),
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
    Ok(SandboxOutcome { result, ..stopped })
}

/// In the sandbox helper before exec: move it into the build's cgroups, so
/// everything the build starts is born inside them.
fn join_cgroups(fds: &[i32]) -> std::io::Result<()> {
    for &fd in fds {
        // SAFETY: write(2) of a constant buffer to an fd we own.
        if unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) } != 1 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// How the wait for a sandbox ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Watched {
    /// The sandbox process exited by itself.
    Ended,
    TimedOut,
    /// The build's trees grew past `limits.disk`.
    OverDisk,
    /// With no memory cgroup, the build's processes together held more
    /// than `limits.memory`.
    OverMemory,
}

/// Wait for the sandbox process `pid` until `deadline`, measuring the
/// build's writable trees now and then against `limits.disk` (and, with no
/// memory cgroup, its processes' resident memory against `limits.memory`,
/// which rlimits can only bound per process). The pause
/// between two measurements is at least 200 ms and ten times the last
/// measurement, so a build of many files is not slowed by its watchdog.
fn watch(pid: u32, deadline: Instant, spec: &SandboxSpec, cgroups: &limits::Cgroups) -> Watched {
    let exit = ExitWatch::open(pid);
    let mut pause = Duration::from_millis(200);
    loop {
        let step = deadline.min(Instant::now() + pause);
        if exit.until(step) {
            return Watched::Ended;
        }
        if Instant::now() >= deadline {
            return Watched::TimedOut;
        }
        let t = Instant::now();
        if usage_over_disk(spec) {
            return Watched::OverDisk;
        }
        if !spec.memory_by_cgroup
            && limits::resident_anon(pid, spec.limits.memory) > spec.limits.memory
        {
            return Watched::OverMemory;
        }
        // The cgroup's OOM killer took one process: the build has failed at
        // its memory limit, so stop the rest rather than wait for them.
        if spec.memory_by_cgroup && cgroups.exceeded() == Some(limits::Which::Memory) {
            return Watched::OverMemory;
        }
        pause = (t.elapsed() * 10).max(Duration::from_millis(200));
    }
}

fn usage_over_disk(spec: &SandboxSpec) -> bool {
    limits::usage(&spec.writable_trees(), spec.limits.disk) > spec.limits.disk
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

/// The (first) child of process `pid`: the sandbox helper's one child is
/// pid 1 of the build's pid namespace.
fn child_of(pid: u32) -> Option<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Waits for one child process to exit without polling: a pidfd (opened
/// once per build) becomes readable when the process ends. Kernels before
/// 5.3 have none; there it checks every 5 ms instead.
struct ExitWatch {
    pid: u32,
    pidfd: Option<std::os::fd::OwnedFd>,
}

impl ExitWatch {
    fn open(pid: u32) -> ExitWatch {
        // SAFETY: pidfd_open on our own child; the fd is owned below.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
        // SAFETY: a fresh fd from pidfd_open.
        let pidfd = (fd >= 0).then(|| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) });
        ExitWatch { pid, pidfd }
    }

    /// Wait up to `deadline`; `true` if the process has ended.
    fn until(&self, deadline: Instant) -> bool {
        let Some(fd) = &self.pidfd else {
            return self.by_polling(deadline);
        };
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
                return self.by_polling(deadline);
            }
        }
    }

    fn by_polling(&self, deadline: Instant) -> bool {
        use nix::sys::wait::{WaitPidFlag, WaitStatus, waitid};
        let pid = nix::unistd::Pid::from_raw(self.pid as i32);
        loop {
            // WNOWAIT: leave the zombie for `Child::wait` to reap.
            let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
            match waitid(nix::sys::wait::Id::Pid(pid), flags) {
                Ok(WaitStatus::StillAlive) => {}
                // Not our child (pid 1 of a sandbox): gone when /proc says so.
                Err(nix::errno::Errno::ECHILD) if alive(self.pid) => {}
                _ => return true,
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Whether process `pid` still runs (exists and is not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
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

#[cfg(test)]
mod own_paths_tests {
    use super::OWN_PATHS;

    #[test]
    fn every_path_envtwin_places_inside_is_an_own_path() {
        let placed = [
            super::PROBE_EXE,
            crate::timeshift::MOUNT,
            super::ETC_STAGING,
            super::NIX_LINKS,
            super::NIX_SHELL_DIR,
        ];
        for p in placed {
            assert!(
                OWN_PATHS
                    .iter()
                    .any(|own| p == *own || p.starts_with(&format!("{own}/"))),
                "{p} is placed inside every sandbox but `out` may take it"
            );
        }
    }
}

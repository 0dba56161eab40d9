//! The sandbox process (`envtwin __sandbox SPEC`): the ordered set-up of one
//! build's boundary, then build, probe, report.
//!
//! In order: a user namespace with one id mapped to the invoker (`ids`) and,
//! owned by it, new mount, pid, uts, ipc, cgroup and net namespaces; no
//! further user namespaces; `no_new_privs`; then, as pid 1 of the new pid
//! namespace, the filesystem view (`mounts`), host and domain name,
//! loopback, and with `network:` the relay to the proxy (`start_relay`).
//! Each build or probe process then drops every capability before it runs
//! (`become_build`).
//!
//! This runs in a fresh single-threaded process, so fork/exec here is safe.
//! When pid 1 exits, the kernel kills everything the build left running; pid
//! 1 dies with this process, and this process with envtwin (PDEATHSIG).

use super::ids::{IdMap, userns_unavailable_hint};
use super::{PROBE_EXE, SandboxResult, SandboxSpec, lifetime, mounts};
use crate::probe::{self, Captured};
use nix::sched::{CloneFlags, unshare};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};
use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// `uname -r` says 2.6.(40 + minor): linux/personality.h's UNAME26 (not
/// in the libc crate).
const UNAME26: libc::c_int = 0x0020000;

/// Maximum bytes of a probe command's stdout/stderr kept.
const CAPTURE_CAP: usize = 1 << 20;

/// Entry point of the hidden `__sandbox` subcommand. Returns the exit status.
pub fn main(spec_path: &Path) -> i32 {
    let spec: SandboxSpec = match std::fs::read(spec_path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("envtwin sandbox: cannot read {}: {e}", spec_path.display());
            return 3;
        }
    };
    let mut result_file = match File::create(spec.result_file()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("envtwin sandbox: {}: {e}", spec.result_file().display());
            return 3;
        }
    };
    let fail = |f: &mut File, msg: String| {
        let r = SandboxResult {
            setup_error: Some(msg),
            ..Default::default()
        };
        let _ = f.write_all(&serde_json::to_vec(&r).unwrap_or_default());
        3
    };
    if let Err(e) = enter_namespaces(&spec) {
        return fail(&mut result_file, e);
    }
    // SAFETY: this process is single-threaded (a fresh exec of envtwin).
    match unsafe { fork() } {
        Err(e) => fail(&mut result_file, format!("fork: {e}")),
        Ok(ForkResult::Child) => {
            // If our parent dies (timeout kill, Ctrl-C, SIGKILL of envtwin),
            // take the whole pid namespace down with us.
            if lifetime::die_with_parent(None).is_err() {
                std::process::exit(3);
            }
            let code = pid1(&spec, &mut result_file);
            std::process::exit(code)
        }
        Ok(ForkResult::Parent { child }) => match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => code,
            _ => 3,
        },
    }
}

/// Steps 1-3: the user namespace with the build's one mapped id, and the
/// other namespaces owned by it; no nested user namespaces; no_new_privs.
fn enter_namespaces(spec: &SandboxSpec) -> Result<(), String> {
    let ids = IdMap::to_invoker(spec.uid, spec.gid);
    // A network namespace for every build, `network:` or not: a build
    // reaches the outside only through envtwin's proxy.
    let flags = CloneFlags::CLONE_NEWUSER
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWCGROUP
        | CloneFlags::CLONE_NEWNET;
    unshare(flags).map_err(userns_unavailable_hint)?;
    ids.apply()?;
    deny_nested_user_namespaces()?;
    // SAFETY: plain prctl with constant arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(format!("no_new_privs: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Set this user namespace's limit of nested user namespaces to 0. Inside
/// one of its own, a build would hold every capability again and could try
/// mounts (cgroupfs, a remount of what is locked) that nothing else stops.
fn deny_nested_user_namespaces() -> Result<(), String> {
    std::fs::write("/proc/sys/user/max_user_namespaces", "0")
        .map_err(|e| format!("limiting nested user namespaces: {e}"))
}

fn pid1(spec: &SandboxSpec, result_file: &mut File) -> i32 {
    let mut result = SandboxResult::default();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(spec.log_file());
    let setup = log
        .map_err(|e| format!("{}: {e}", spec.log_file().display()))
        .and_then(|log| setup(spec).map(|_| log));
    let log = match setup {
        Ok(l) => l,
        Err(e) => {
            result.setup_error = Some(e);
            let _ = result_file.write_all(&serde_json::to_vec(&result).unwrap_or_default());
            return 3;
        }
    };
    if spec.shuffle_dirents
        && let Err(e) = start_disorderfs(spec, log.as_raw_fd())
    {
        result.setup_error = Some(e);
        let _ = result_file.write_all(&serde_json::to_vec(&result).unwrap_or_default());
        return 3;
    }
    let status = build_logged(spec, &log, &mut result.log_dropped);
    kill_the_rest();
    match status {
        Ok(WaitStatus::Exited(_, code)) => result.exit_code = Some(code),
        Ok(WaitStatus::Signaled(_, sig, _)) => result.signal = Some(sig as i32),
        Ok(_) => {}
        Err(e) => result.setup_error = Some(format!("running the build: {e}")),
    }
    if result.exit_code == Some(0) {
        if let Err(e) = mounts::seal_out(spec.out_storage_at.as_deref().unwrap_or(&spec.out)) {
            result.setup_error = Some(e);
        } else {
            result.probes = Some(if spec.probe.wrapper.is_empty() {
                let mut exec = |script: &str, args: &[&str], path: &str| {
                    capture(spec, &sh(script, args), path)
                };
                probe::run_probes(&spec.probe, &mut exec)
            } else {
                wrapped_probes(spec)
            });
        }
    }
    let _ = result_file.write_all(&serde_json::to_vec(&result).unwrap_or_default());
    0
}

fn setup(spec: &SandboxSpec) -> Result<(), String> {
    mounts::setup_root(spec)?;
    nix::unistd::sethostname(&spec.hostname).map_err(|e| format!("sethostname: {e}"))?;
    let dn = CString::new(spec.domainname.as_str()).map_err(|e| e.to_string())?;
    // SAFETY: valid pointer and length of a NUL-free string.
    if unsafe { libc::setdomainname(dn.as_ptr(), spec.domainname.len()) } != 0 {
        return Err(format!(
            "setdomainname: {}",
            std::io::Error::last_os_error()
        ));
    }
    loopback_up()?;
    if spec.network {
        start_relay()?;
    }
    Ok(())
}

/// With `network:`, a process that listens on `proxy::INSIDE_ADDR` and
/// copies each connection to the proxy's socket for this build (mounted at
/// `PROXY_DIR`), so tools that know only `http_proxy` reach the proxy. It
/// holds no capability, and dies with pid 1 like every process here.
fn start_relay() -> Result<(), String> {
    let listener = std::net::TcpListener::bind(crate::proxy::INSIDE_ADDR)
        .map_err(|e| format!("relay to the proxy: {}: {e}", crate::proxy::INSIDE_ADDR))?;
    // SAFETY: pid 1 is single-threaded here; the child never returns.
    match unsafe { fork() } {
        Err(e) => Err(format!("relay to the proxy: fork: {e}")),
        Ok(ForkResult::Parent { .. }) => Ok(()),
        Ok(ForkResult::Child) => {
            if drop_capabilities().is_err() {
                std::process::exit(3);
            }
            relay(listener);
            std::process::exit(0)
        }
    }
}

fn relay(listener: std::net::TcpListener) {
    let socket = format!("{}/{}", super::PROXY_DIR, super::PROXY_SOCKET);
    for conn in listener.incoming() {
        let Ok(tcp) = conn else { continue };
        // TLS handshakes are many small writes: without this, Nagle's
        // algorithm holds each one back for the peer's delayed ACK.
        let _ = tcp.set_nodelay(true);
        let socket = socket.clone();
        std::thread::spawn(move || {
            let Ok(unix) = std::os::unix::net::UnixStream::connect(&socket) else {
                return;
            };
            let (Ok(mut tcp_r), Ok(mut unix_w)) = (tcp.try_clone(), unix.try_clone()) else {
                return;
            };
            let up = std::thread::spawn(move || {
                let _ = std::io::copy(&mut tcp_r, &mut unix_w);
                let _ = unix_w.shutdown(std::net::Shutdown::Write);
            });
            let (mut unix_r, mut tcp_w) = (unix, tcp);
            let _ = std::io::copy(&mut unix_r, &mut tcp_w);
            let _ = tcp_w.shutdown(std::net::Shutdown::Write);
            let _ = up.join();
        });
    }
}

/// Bring `lo` up in the new network namespace: loopback is not network.
fn loopback_up() -> Result<(), String> {
    // SAFETY: ioctl on a socket we own with a zeroed, correctly sized ifreq.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(format!("socket: {}", std::io::Error::last_os_error()));
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            ifr.ifr_name[i] = *b as libc::c_char;
        }
        if libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) < 0 {
            return Err(format!(
                "SIOCGIFFLAGS lo: {}",
                std::io::Error::last_os_error()
            ));
        }
        ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(fd.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr) < 0 {
            return Err(format!(
                "SIOCSIFFLAGS lo: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// The disorderfs daemons serving the shuffled views, spared by
/// `kill_the_rest`. pid 1 is single-threaded: the lock is never contended.
static DAEMONS: std::sync::Mutex<Vec<i32>> = std::sync::Mutex::new(Vec::new());

fn daemons() -> Vec<i32> {
    DAEMONS.lock().map(|d| d.clone()).unwrap_or_default()
}

/// As pid 1: kill every other process of the namespace and reap them, so
/// nothing a build started in the background outlives it or touches `$out`.
fn kill_the_rest() {
    let daemons = daemons();
    if daemons.is_empty() {
        let _ = nix::sys::signal::kill(Pid::from_raw(-1), nix::sys::signal::Signal::SIGKILL);
        while waitpid(Pid::from_raw(-1), Some(WaitPidFlag::empty())).is_ok() {}
        return;
    }
    // Everyone but us and the FUSE daemons that `$src`, the build directory
    // and `$out` still need.
    loop {
        let others: Vec<i32> = std::fs::read_dir("/proc")
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
                    .filter(|&p| p != 1 && !daemons.contains(&p))
                    .collect()
            })
            .unwrap_or_default();
        if others.is_empty() {
            break;
        }
        for p in others {
            let _ = nix::sys::signal::kill(Pid::from_raw(p), nix::sys::signal::Signal::SIGKILL);
        }
        while let Ok(s) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            if s == WaitStatus::StillAlive {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// How long the disorderfs daemons get to mount their views.
const MOUNT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Start one disorderfs daemon per shuffled view (`mounts::shuffled_views`)
/// and wait until all are mounted. Each runs in the foreground, as our
/// child, with the build's uid: the build is then the mounts' owner and may
/// use them without `allow_other`, and the files it creates through them
/// get its uid, as without FUSE (`--multi-user=no`, the default: only that
/// one uid exists in the namespace). disorderfs creates files with the
/// mode the kernel hands it, already masked by the build's umask.
///
/// The options keep the variation to readdir order alone:
/// `default_permissions`, spelled out whatever disorderfs' own defaults,
/// has the kernel check access against the files' modes and the build's
/// (empty) capabilities as for the plain tree, not the daemon, which may be
/// root in the namespace (a mode-000 file stays unreadable: the
/// `fileordering` tests check it); `--pad-blocks=0` leaves `st_blocks`
/// (`du`) as it is.
fn start_disorderfs(spec: &SandboxSpec, log: RawFd) -> Result<(), String> {
    let views = mounts::shuffled_views(spec);
    // Opened before any daemon starts: every mount from now on marks it
    // (POLLPRI), so the wait below sleeps on that event, not on a timer.
    let mut mountinfo =
        File::open("/proc/self/mountinfo").map_err(|e| format!("/proc/self/mountinfo: {e}"))?;
    let env = [("PATH".to_string(), "/usr/bin:/bin".to_string())];
    let mut started = Vec::new();
    for view in &views {
        let argv: Vec<String> = [
            super::DISORDERFS,
            "-f",
            "-q",
            "-o",
            "default_permissions",
            "--shuffle-dirents=yes",
            "--reverse-dirents=no",
            "--pad-blocks=0",
            view.plain,
            view.at,
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        let child = spawn(None, &argv, &env, log, log).map_err(|e| format!("fork: {e}"))?;
        if let Ok(mut d) = DAEMONS.lock() {
            d.push(child.as_raw());
        }
        started.push((view, child, pidfd(child)));
    }
    let deadline = std::time::Instant::now() + MOUNT_TIMEOUT;
    loop {
        let mut table = String::new();
        let _ = mountinfo.rewind();
        let _ = mountinfo.read_to_string(&mut table);
        let mounted = |at: &str| {
            table
                .lines()
                .any(|l| l.split(' ').nth(4) == Some(at) && l.contains(" - fuse"))
        };
        let waiting: Vec<_> = started.iter().filter(|(v, ..)| !mounted(v.at)).collect();
        if waiting.is_empty() {
            break;
        }
        for (view, child, _) in &waiting {
            if let Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) =
                waitpid(*child, Some(WaitPidFlag::WNOHANG))
            {
                return Err(format!(
                    "disorderfs exited before mounting {} (see the build log)",
                    view.at
                ));
            }
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            for (_, child, _) in &started {
                let _ = nix::sys::signal::kill(*child, nix::sys::signal::Signal::SIGKILL);
            }
            return Err(format!(
                "disorderfs did not mount {} within {} s",
                waiting[0].0.at,
                MOUNT_TIMEOUT.as_secs()
            ));
        }
        // A daemon's exit wakes us through its pidfd; without pidfds (Linux
        // before 5.3) look at the daemons every 100 ms.
        let mut fds = vec![libc::pollfd {
            fd: mountinfo.as_raw_fd(),
            events: libc::POLLPRI,
            revents: 0,
        }];
        fds.extend(waiting.iter().filter_map(|(_, _, fd)| {
            fd.as_ref().map(|fd| libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
        }));
        let mut wait_ms = left.as_millis().min(i32::MAX as u128) as i32 + 1;
        if waiting.iter().any(|(.., fd)| fd.is_none()) {
            wait_ms = wait_ms.min(100);
        }
        // SAFETY: a valid array of pollfds on descriptors we own.
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait_ms) };
    }
    for view in &views {
        mounts::lock_shuffled(view)?;
    }
    Ok(())
}

/// A pidfd for our child `pid`: readable once it has exited.
fn pidfd(pid: Pid) -> Option<OwnedFd> {
    // SAFETY: plain syscall; the fd, if any, is fresh and ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Run `argv` as the build (see `spawn`) and wait for it, reaping any
/// orphan on the way (we are pid 1).
fn spawn_wait(
    spec: &SandboxSpec,
    argv: &[String],
    env: &[(String, String)],
    stdout: RawFd,
    stderr: RawFd,
) -> nix::Result<WaitStatus> {
    let child = spawn(Some(spec), argv, env, stdout, stderr)?;
    loop {
        match waitpid(Pid::from_raw(-1), None)? {
            s if s.pid() == Some(child) => return Ok(s),
            _ => continue,
        }
    }
}

/// Run the build with its stdout and stderr on a pipe that pid 1 copies to
/// `log` within `limits.log`: the head as it comes, then only the last
/// part; the bytes in between are dropped and counted in `dropped`. Ends
/// when the build's main process has exited (what a background process
/// still writes is then drained, as far as it is there).
fn build_logged(spec: &SandboxSpec, log: &File, dropped: &mut u64) -> nix::Result<WaitStatus> {
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let child = spawn(
        Some(spec),
        &spec.build_argv,
        &spec.env,
        write.as_raw_fd(),
        write.as_raw_fd(),
    );
    drop(write);
    let child = child?;
    let mut sink = LogSink::new(spec.limits.log);
    let mut out = log;
    let mut buf = vec![0u8; 64 * 1024];
    let mut status = None;
    let mut open = true;
    while status.is_none() {
        if open {
            let mut pfd = libc::pollfd {
                fd: read.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let ready = unsafe { libc::poll(&mut pfd, 1, 100) };
            if ready > 0 {
                match nix::unistd::read(read.as_raw_fd(), &mut buf) {
                    Ok(0) => open = false,
                    Ok(n) => sink.feed(&buf[..n], &mut out),
                    Err(nix::errno::Errno::EINTR) => {}
                    Err(_) => open = false,
                }
            }
        }
        // With the pipe closed, nothing is left but to wait for the build.
        let flags = if open {
            Some(WaitPidFlag::WNOHANG)
        } else {
            None
        };
        loop {
            match waitpid(Pid::from_raw(-1), flags) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(s) if s.pid() == Some(child) => {
                    status = Some(s);
                    break;
                }
                Ok(_) => continue,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e),
            }
        }
    }
    if open {
        let _ = nix::fcntl::fcntl(
            read.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
        while let Ok(n @ 1..) = nix::unistd::read(read.as_raw_fd(), &mut buf) {
            sink.feed(&buf[..n], &mut out);
        }
    }
    *dropped = sink.finish(&mut out);
    status.ok_or(nix::errno::Errno::ECHILD)
}

/// `limits.log` applied to a stream: the first `cap - tail` bytes go
/// straight to the log, the last `tail` bytes are held in a ring and
/// written at the end, after a line saying how much was dropped between.
struct LogSink {
    head_left: u64,
    tail: std::collections::VecDeque<u8>,
    tail_cap: usize,
    dropped: u64,
    cap: u64,
}

impl LogSink {
    fn new(cap: u64) -> LogSink {
        let tail_cap = (cap / 4).min(64 * 1024) as usize;
        LogSink {
            head_left: cap - tail_cap as u64,
            tail: std::collections::VecDeque::with_capacity(tail_cap),
            tail_cap,
            dropped: 0,
            cap,
        }
    }

    fn feed(&mut self, mut bytes: &[u8], out: &mut impl Write) {
        if self.head_left > 0 {
            let n = bytes.len().min(self.head_left as usize);
            let _ = out.write_all(&bytes[..n]);
            self.head_left -= n as u64;
            bytes = &bytes[n..];
        }
        // Only the last `tail_cap` bytes of held tail + `bytes` survive:
        // drop the rest in two slices, not byte by byte (a runaway build
        // writes hundreds of MB through here).
        let keep_new = bytes.len().min(self.tail_cap);
        let (gone, kept) = bytes.split_at(bytes.len() - keep_new);
        let overflow = (self.tail.len() + keep_new).saturating_sub(self.tail_cap);
        self.tail.drain(..overflow);
        self.tail.extend(kept);
        self.dropped += (gone.len() + overflow) as u64;
    }

    /// Write the held tail; returns the bytes dropped.
    fn finish(self, out: &mut impl Write) -> u64 {
        if self.dropped > 0 {
            let _ = write!(
                out,
                "\n[envtwin: {} bytes of output dropped here: limits.log is {}]\n",
                self.dropped,
                super::limits::format_size(self.cap)
            );
        }
        let (a, b) = self.tail.as_slices();
        let _ = out.write_all(a);
        let _ = out.write_all(b);
        self.dropped
    }
}

/// Fork and exec `argv` with exactly `env`, stdin from /dev/null and the
/// given stdout/stderr. With `build`, the child takes that build's user,
/// umask, CPUs, ASLR setting and working directory; without, it stays root
/// (for envtwin's own helpers such as disorderfs).
fn spawn(
    build: Option<&SandboxSpec>,
    argv: &[String],
    env: &[(String, String)],
    stdout: RawFd,
    stderr: RawFd,
) -> nix::Result<Pid> {
    let c_argv: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()).unwrap_or_default())
        .collect();
    let c_env: Vec<CString> = env
        .iter()
        .map(|(k, v)| CString::new(format!("{k}={v}")).unwrap_or_default())
        .collect();
    // SAFETY: pid 1 is single-threaded.
    match unsafe { fork() }? {
        ForkResult::Child => {
            let err = child_exec(build, &c_argv, &c_env, stdout, stderr);
            let _ = writeln!(
                std::io::stderr(),
                "envtwin sandbox: cannot run {}: {err}",
                argv.join(" ")
            );
            // SAFETY: leave the forked child without running destructors.
            unsafe { libc::_exit(127) }
        }
        ForkResult::Parent { child } => Ok(child),
    }
}

fn child_exec(
    build: Option<&SandboxSpec>,
    argv: &[CString],
    env: &[CString],
    stdout: RawFd,
    stderr: RawFd,
) -> String {
    // SAFETY: plain syscalls on fds we own, in the freshly forked child.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
        if null >= 0 {
            libc::dup2(null, 0);
        }
        libc::dup2(stdout, 1);
        libc::dup2(stderr, 2);
    }
    let prepared = match build {
        Some(spec) => become_build(spec),
        None => keep_mount_capability(),
    };
    if let Err(e) = prepared {
        return e;
    }
    match argv.first() {
        Some(prog) => match nix::unistd::execve(prog, argv, env) {
            Err(e) => e.to_string(),
        },
        None => "empty command".into(),
    }
}

/// In a forked child: take the build's CPUs, ASLR setting, umask and
/// working directory, then drop every capability for good. The uid is
/// already the build's (the one id the user namespace maps).
fn become_build(spec: &SandboxSpec) -> Result<(), String> {
    // SAFETY: plain syscalls with stack-allocated, zeroed cpu sets.
    unsafe {
        if let Some(n) = spec.cpus {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            let mut cur: libc::cpu_set_t = std::mem::zeroed();
            libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut cur);
            let allowed: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
                .filter(|&c| libc::CPU_ISSET(c, &cur))
                .collect();
            for i in 0..n.min(allowed.len()) {
                libc::CPU_SET(allowed[(spec.cpu_start + i) % allowed.len()], &mut set);
            }
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
        // One personality call: it sets the flags, it does not add them.
        let mut persona = 0;
        if spec.no_aslr {
            persona |= libc::ADDR_NO_RANDOMIZE;
        }
        if spec.uname26 {
            persona |= UNAME26;
        }
        if persona != 0 {
            libc::personality(persona as libc::c_ulong);
        }
        libc::umask(spec.umask as libc::mode_t);
    }
    super::limits::apply_rlimits(&spec.limits, spec.memory_by_cgroup, spec.pids_by_cgroup);
    nix::unistd::chdir(spec.build_dir.as_str())
        .map_err(|e| format!("chdir {}: {e}", spec.build_dir))?;
    drop_capabilities()
}

/// Drop every capability, and the ways back to them: uid 0 inside would
/// otherwise regain the full set at each exec. Bounding set first (it
/// needs CAP_SETPCAP), then the securebits that stop root's exec rule, then
/// the rest.
fn drop_capabilities() -> Result<(), String> {
    use caps::CapSet;
    let err =
        |what: &str, e: caps::errors::CapsError| format!("dropping capabilities ({what}): {e}");
    caps::clear(None, CapSet::Ambient).map_err(|e| err("ambient", e))?;
    caps::clear(None, CapSet::Bounding).map_err(|e| err("bounding", e))?;
    const SECBIT_NOROOT: libc::c_ulong = 1 << 0;
    const SECBIT_NOROOT_LOCKED: libc::c_ulong = 1 << 1;
    const SECBIT_NO_SETUID_FIXUP: libc::c_ulong = 1 << 2;
    const SECBIT_NO_SETUID_FIXUP_LOCKED: libc::c_ulong = 1 << 3;
    const SECBIT_NO_CAP_AMBIENT_RAISE: libc::c_ulong = 1 << 6;
    const SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED: libc::c_ulong = 1 << 7;
    let bits = SECBIT_NOROOT
        | SECBIT_NOROOT_LOCKED
        | SECBIT_NO_SETUID_FIXUP
        | SECBIT_NO_SETUID_FIXUP_LOCKED
        | SECBIT_NO_CAP_AMBIENT_RAISE
        | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    // SAFETY: plain prctl with constant arguments.
    if unsafe { libc::prctl(libc::PR_SET_SECUREBITS, bits, 0, 0, 0) } != 0 {
        return Err(format!(
            "setting securebits: {}",
            std::io::Error::last_os_error()
        ));
    }
    caps::clear(None, CapSet::Inheritable).map_err(|e| err("inheritable", e))?;
    caps::clear(None, CapSet::Effective).map_err(|e| err("effective", e))?;
    caps::clear(None, CapSet::Permitted).map_err(|e| err("permitted", e))
}

/// In a forked child that runs one of envtwin's own helpers (disorderfs):
/// keep CAP_SYS_ADMIN across exec even when the build's uid is not 0, so
/// the helper can mount in the build's namespace.
fn keep_mount_capability() -> Result<(), String> {
    use caps::{CapSet, Capability};
    caps::raise(None, CapSet::Inheritable, Capability::CAP_SYS_ADMIN)
        .and_then(|_| caps::raise(None, CapSet::Ambient, Capability::CAP_SYS_ADMIN))
        .map_err(|e| format!("keeping CAP_SYS_ADMIN for a helper: {e}"))
}

/// argv of `/bin/sh -c SCRIPT sh ARGS...`.
fn sh(script: &str, args: &[&str]) -> Vec<String> {
    let mut argv: Vec<String> = vec!["/bin/sh".into(), "-c".into(), script.into(), "sh".into()];
    argv.extend(args.iter().map(|a| a.to_string()));
    argv
}

/// Probes through a wrapper (nix-shell): one wrapper start runs every probe,
/// by envtwin's own `__probe` inside the wrapper's environment.
fn wrapped_probes(spec: &SandboxSpec) -> probe::Probes {
    let request = serde_json::to_string(&spec.probe).unwrap_or_default();
    let quoted = format!("'{}'", request.replace('\'', "'\\''"));
    let mut argv = spec.probe.wrapper.clone();
    argv.push(format!("exec {PROBE_EXE} __probe {quoted}"));
    let c = capture(spec, &argv, &spec.probe.path.join(":"));
    serde_json::from_str(c.stdout.trim()).unwrap_or_else(|_| probe::Probes {
        error: Some(format!(
            "the probes could not run in `{}` (exit {}): {}",
            spec.probe.wrapper.join(" "),
            c.exit_code.map_or("by signal".into(), |c| c.to_string()),
            c.stderr.trim()
        )),
        ..Default::default()
    })
}

/// Run a command with the build's environment but the given PATH,
/// capturing stdout and stderr in memory files.
fn capture(spec: &SandboxSpec, argv: &[String], path: &str) -> Captured {
    let env: Vec<(String, String)> = spec
        .env
        .iter()
        .map(|(k, v)| {
            if k == "PATH" {
                (k.clone(), path.to_string())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    let (mut out, mut err) = match (memfd("stdout"), memfd("stderr")) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => {
            return Captured {
                exit_code: None,
                stdout: String::new(),
                stderr: format!("envtwin: memfd: {e}"),
            };
        }
    };
    let status = spawn_wait(spec, argv, &env, out.as_raw_fd(), err.as_raw_fd());
    kill_the_rest();
    let exit_code = match status {
        Ok(WaitStatus::Exited(_, c)) => Some(c),
        _ => None,
    };
    Captured {
        exit_code,
        stdout: read_capped(&mut out),
        stderr: read_capped(&mut err),
    }
}

fn memfd(name: &str) -> std::io::Result<File> {
    let c = CString::new(name).unwrap_or_default();
    // SAFETY: valid name; the fd is owned by the returned File. No CLOEXEC:
    // it is dup2'ed onto the child's stdout/stderr anyway.
    let fd = unsafe { libc::memfd_create(c.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh, owned descriptor.
    Ok(unsafe { File::from_raw_fd(fd) })
}

fn read_capped(f: &mut File) -> String {
    let _ = f.rewind();
    let mut buf = Vec::new();
    let _ = f.take(CAPTURE_CAP as u64).read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::LogSink;
    use proptest::prelude::*;

    proptest! {
        /// However the output arrives, the log is its head, a line counting
        /// what was dropped, and its tail.
        #[test]
        fn the_log_keeps_head_and_tail_in_any_chunking(
            len in 0usize..3000,
            cap in 4u64..1200,
            cuts in proptest::collection::vec(1usize..400, 0..20),
        ) {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut sink = LogSink::new(cap);
            let mut out = Vec::new();
            let mut rest = &data[..];
            for c in cuts.iter().chain(std::iter::repeat(&usize::MAX)) {
                if rest.is_empty() {
                    break;
                }
                let (now, later) = rest.split_at((*c).min(rest.len()));
                sink.feed(now, &mut out);
                rest = later;
            }
            let dropped = sink.finish(&mut out);
            let tail_cap = (cap / 4).min(64 * 1024) as usize;
            let head = (cap as usize - tail_cap).min(len);
            let kept_tail = (len - head).min(tail_cap);
            let want_dropped = len - head - kept_tail;
            prop_assert_eq!(dropped, want_dropped as u64);
            let mut want = data[..head].to_vec();
            if want_dropped > 0 {
                want.extend(
                    format!(
                        "\n[envtwin: {want_dropped} bytes of output dropped here: limits.log is {}]\n",
                        super::super::limits::format_size(cap)
                    )
                    .as_bytes(),
                );
            }
            want.extend(&data[len - kept_tail..]);
            prop_assert_eq!(out, want);
        }
    }
}

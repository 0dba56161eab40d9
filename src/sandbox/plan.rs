//! From a scenario and the chosen variations to the two sandbox specs.
//!
//! Build A is the control; build B takes every selected variation that is
//! available here. The values each build used are recorded for the report.

use super::variation::Variation;
use super::{SRC_MOUNT, SandboxSpec};
use crate::probe::ProbeRequest;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The base PATH a build sees (exec_path adds one empty directory in B).
pub const BASE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
pub const EXTRA_PATH_DIR: &str = "/envtwin/empty-bin";
/// HOME in build A, and in build B under the `home` variation.
pub const HOME_A: &str = "/envtwin/home";
pub const HOME_B: &str = "/envtwin/home-b-variant";
/// The build directory in build A, and in build B under `build_path`.
pub const BUILD_DIR_A: &str = "/envtwin/build";
pub const BUILD_DIR_B: &str = "/envtwin/build-b-variant-path";
/// Round-robin start CPU for builds restricted to fewer CPUs than all.
static NEXT_CPU: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
/// How far the `time` variation moves build B's clock ahead.
pub const FAKETIME_DAYS: i64 = 400;

/// What the environment hash covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HashKind {
    /// The `$out` tree.
    #[default]
    Tree,
    /// The store paths listed in `$out` storage's `closure` file, each by
    /// its NAR hash, found in the build's private store (`nix` subdir).
    NixClosure,
}

/// What a provider asks of the sandbox for one build.
#[derive(Debug, Clone, Default)]
pub struct BuildCommand {
    pub hash: HashKind,
    pub argv: Vec<String>,
    /// Extra variables for the build (after the fixed set).
    pub env: Vec<(String, String)>,
    /// Host dirs mounted writable inside (name of host subdir of work, target).
    pub writable_mounts: Vec<(String, String)>,
    /// Host files or dirs mounted read-only inside (host path, target).
    pub readonly_binds: Vec<(PathBuf, String)>,
    /// See `SandboxSpec::out_storage_at`.
    pub out_storage_at: Option<String>,
    pub probe: ProbeRequest,
}

/// The settings of one side; A takes the defaults, B the varied values.
#[derive(Debug, Clone)]
struct Settings {
    hostname: String,
    domainname: String,
    umask: u32,
    lang: String,
    tz: String,
    env_shuffled: bool,
    home: String,
    build_dir: String,
    uid: u32,
    gid: u32,
    cpus: Option<usize>,
    extra_path: bool,
    faketime: bool,
    no_aslr: bool,
    /// `uname` reports a 2.6 kernel (personality UNAME26, as
    /// `setarch --uname-2.6` and reprotest's `kernel` variation).
    uname26: bool,
    shuffle_dirents: bool,
}

impl Settings {
    fn control() -> Settings {
        Settings {
            hostname: "envtwin-a".into(),
            domainname: "a.envtwin.invalid".into(),
            umask: 0o022,
            lang: "C.UTF-8".into(),
            tz: "UTC".into(),
            env_shuffled: false,
            home: HOME_A.into(),
            build_dir: BUILD_DIR_A.into(),
            uid: 0,
            gid: 0,
            cpus: Some(1),
            extra_path: false,
            faketime: false,
            no_aslr: true,
            uname26: false,
            shuffle_dirents: false,
        }
    }

    fn vary(&mut self, v: Variation) {
        match v {
            Variation::Hostname => {
                self.hostname = "envtwin-b-variant".into();
                self.domainname = "b-variant.envtwin.invalid".into();
            }
            Variation::Umask => self.umask = 0o002,
            Variation::Locale => self.lang = "fr_CH.UTF-8".into(),
            Variation::Timezone => self.tz = "GMT-14".into(),
            Variation::EnvOrder => self.env_shuffled = true,
            Variation::Home => self.home = HOME_B.into(),
            Variation::BuildPath => self.build_dir = BUILD_DIR_B.into(),
            Variation::User => {
                self.uid = 1000;
                self.gid = 1000;
            }
            Variation::NumCpus => self.cpus = None,
            Variation::ExecPath => self.extra_path = true,
            Variation::Time => self.faketime = true,
            Variation::Fileordering => self.shuffle_dirents = true,
            Variation::Aslr => self.no_aslr = false,
            Variation::Kernel => self.uname26 = true,
        }
    }

    fn value(&self, v: Variation) -> String {
        match v {
            Variation::Hostname => format!("{} ({})", self.hostname, self.domainname),
            Variation::Umask => format!("{:04o}", self.umask),
            Variation::Locale => self.lang.clone(),
            Variation::Timezone => self.tz.clone(),
            Variation::EnvOrder => {
                if self.env_shuffled {
                    "reversed, plus ENVTWIN_EXTRA".into()
                } else {
                    "sorted".into()
                }
            }
            Variation::Home => self.home.clone(),
            Variation::BuildPath => self.build_dir.clone(),
            Variation::User => format!("{}:{}", self.uid, self.gid),
            Variation::NumCpus => match self.cpus {
                Some(n) => n.to_string(),
                None => format!("{} (all)", available_cpus()),
            },
            Variation::ExecPath => self.path(),
            Variation::Time => {
                if self.faketime {
                    format!("+{FAKETIME_DAYS} days (libfaketime)")
                } else {
                    "real clock".into()
                }
            }
            Variation::Fileordering => if self.shuffle_dirents {
                "shuffled readdir order of $src, the build directory and $out (disorderfs)"
            } else {
                "readdir order of $src, the build directory and $out"
            }
            .into(),
            Variation::Aslr => if self.no_aslr { "off" } else { "on" }.into(),
            Variation::Kernel => {
                let release = nix::sys::utsname::uname()
                    .map(|u| u.release().to_string_lossy().into_owned())
                    .unwrap_or_default();
                if self.uname26 {
                    format!("2.6.x, from {release} (UNAME26)")
                } else {
                    release
                }
            }
        }
    }

    fn path(&self) -> String {
        if self.extra_path {
            format!("{BASE_PATH}:{EXTRA_PATH_DIR}")
        } else {
            BASE_PATH.to_string()
        }
    }
}

/// Values build A and a fully varied build B expose to the build script, as
/// `(what, in A, in B)`: when a file's change shows one of them, that
/// variation is the likely cause (see `tree::explain`).
pub fn telltales() -> Vec<(&'static str, String, String)> {
    let a = Settings::control();
    let mut b = Settings::control();
    for v in Variation::ALL {
        b.vary(v);
    }
    // The sandbox's own /etc/passwd names each build's user (`whoami`,
    // `ls -l`); a tool that prints the bare number shows the uid.
    vec![
        ("user", user_name(a.uid), user_name(b.uid)),
        ("user", user_name(a.uid), b.uid.to_string()),
        ("hostname", a.hostname, b.hostname),
        (
            "umask",
            format!("{:04o}", a.umask),
            format!("{:04o}", b.umask),
        ),
        ("domain name", a.domainname, b.domainname),
        ("build path", a.build_dir, b.build_dir),
        ("home directory", a.home, b.home),
        ("locale", a.lang, b.lang),
        ("timezone", a.tz, b.tz),
        ("uid", format!("uid={}", a.uid), format!("uid={}", b.uid)),
        ("gid", format!("gid={}", a.gid), format!("gid={}", b.gid)),
    ]
}

/// The name a build's uid has in the sandbox's own `/etc/passwd`: `root`
/// for 0, and a name of its own for the `user` variation's uid, so that a
/// build recording its user name differs between the twins as on two
/// machines.
pub fn user_name(uid: u32) -> String {
    match uid {
        0 => "root".into(),
        _ => "builduser".into(),
    }
}

/// The sandbox's `/etc/passwd` and `/etc/group`: root, the build's user
/// (with its HOME) and nobody, nothing of the host's users.
pub fn passwd_group(uid: u32, gid: u32, home: &str) -> (String, String) {
    let mut passwd = String::new();
    let mut group = String::from("root:x:0:\n");
    let root_home = if uid == 0 { home } else { "/nonexistent" };
    passwd.push_str(&format!("root:x:0:0:root:{root_home}:/bin/sh\n"));
    if uid != 0 {
        let name = user_name(uid);
        passwd.push_str(&format!(
            "{name}:x:{uid}:{gid}:envtwin build user:{home}:/bin/sh\n"
        ));
    }
    if gid != 0 {
        group.push_str(&format!("{}:x:{gid}:\n", user_name(uid)));
    }
    passwd.push_str("nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
    group.push_str("nogroup:x:65534:\n");
    (passwd, group)
}

/// Host directories every build sees, read-only, at the same path (SPEC §3).
pub const HOST_ROOTS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt",
];

/// What of the host a build sees: computed once per process from the host,
/// then applied step by step inside (`mounts`). Pure data.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HostView {
    /// Top-level entries of `HOST_ROOTS` that exist: a directory is bound
    /// read-only; a symlink (merged /usr: `/bin -> usr/bin`) is recreated.
    pub roots: Vec<HostEntry>,
    /// Entries under `/etc` hidden behind an empty file or directory:
    /// everything not readable by all (shadow, gshadow, sudoers, private
    /// keys), plus the host's own `passwd`/`group` backups. `passwd` and
    /// `group` themselves are replaced by the build's own.
    pub etc_hidden: Vec<(PathBuf, bool)>,
    /// Targets of `/etc` symlinks that point into a hidden part of the host
    /// (e.g. `resolv.conf -> /run/...`): bound read-only at their own path.
    pub etc_link_targets: Vec<PathBuf>,
}

/// One visible top-level host entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum HostEntry {
    Dir(PathBuf),
    Symlink(PathBuf, PathBuf),
}

/// Whether `path` lies in (or is) a part of the host that every build sees.
pub fn host_visible(path: &Path) -> Option<&'static str> {
    std::iter::once("/etc")
        .chain(HOST_ROOTS.iter().copied())
        .find(|r| path.starts_with(r))
}

/// The host view of this machine (computed once).
pub fn host_view() -> &'static HostView {
    static VIEW: std::sync::OnceLock<HostView> = std::sync::OnceLock::new();
    VIEW.get_or_init(|| compute_host_view(Path::new("/")))
}

/// The host view with `root` standing for the host's `/` (tests use a
/// temp dir); the paths recorded are host paths (under `/`).
pub fn compute_host_view(root: &Path) -> HostView {
    let at = |p: &str| root.join(p.trim_start_matches('/'));
    let mut view = HostView::default();
    for r in HOST_ROOTS {
        match std::fs::symlink_metadata(at(r)) {
            Ok(m) if m.file_type().is_symlink() => {
                if let Ok(t) = std::fs::read_link(at(r)) {
                    view.roots.push(HostEntry::Symlink(PathBuf::from(r), t));
                }
            }
            Ok(m) if m.is_dir() => view.roots.push(HostEntry::Dir(PathBuf::from(r))),
            _ => {}
        }
    }
    hidden_in(&at("/etc"), Path::new("/etc"), &mut view.etc_hidden);
    for backup in ["passwd-", "group-"] {
        let host = Path::new("/etc").join(backup);
        if at(&host.display().to_string()).exists()
            && !view.etc_hidden.iter().any(|(p, _)| *p == host)
        {
            view.etc_hidden.push((host, false));
        }
    }
    view.etc_hidden.sort();
    if let Ok(rd) = std::fs::read_dir(at("/etc")) {
        for e in rd.flatten() {
            let is_link = e.file_type().is_ok_and(|t| t.is_symlink());
            if !is_link || root != Path::new("/") {
                continue;
            }
            if let Ok(target) = std::fs::canonicalize(e.path())
                && host_visible(&target).is_none()
                && std::fs::metadata(&target).is_ok_and(|m| m.is_file() && world_readable(&m))
            {
                view.etc_link_targets.push(target);
            }
        }
    }
    view.etc_link_targets.sort();
    view
}

fn world_readable(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let mode = m.permissions().mode();
    mode & 0o004 != 0 && (!m.is_dir() || mode & 0o001 != 0)
}

/// Collect the entries under `dir` (host path `host`) that not everyone may
/// read: those are the host's secrets, and a build must not see them even
/// when envtwin runs as root.
fn hidden_in(dir: &Path, host: &Path, out: &mut Vec<(PathBuf, bool)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        let h = host.join(e.file_name());
        if !world_readable(&meta) {
            out.push((h, meta.is_dir()));
        } else if meta.is_dir() {
            hidden_in(&e.path(), &h, out);
        }
    }
}

fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Why a variation cannot be applied on this machine, if it cannot.
pub fn unavailable_reason(v: Variation) -> Option<String> {
    match v {
        Variation::NumCpus if available_cpus() < 2 => {
            Some("this machine has one CPU, so 1 and all are the same".into())
        }
        Variation::Time if !Path::new(LIBFAKETIME).exists() => Some(format!(
            "libfaketime is not installed ({LIBFAKETIME}); install it with `apt-get install -y faketime`"
        )),
        Variation::Fileordering if !Path::new(super::DISORDERFS).exists() => Some(format!(
            "disorderfs is not installed ({}); install it with `apt-get install -y disorderfs`",
            super::DISORDERFS
        )),
        Variation::Fileordering if !Path::new("/dev/fuse").exists() => {
            Some("/dev/fuse is missing, so disorderfs cannot mount".into())
        }
        _ => None,
    }
}

/// Both builds' specs, with what each variation was set to.
#[derive(Debug, Clone)]
pub struct Plan {
    pub a: SandboxSpec,
    pub b: SandboxSpec,
    /// Variation name -> value, per build.
    pub values_a: BTreeMap<String, String>,
    pub values_b: BTreeMap<String, String>,
    /// Selected but not available here: name -> reason.
    pub unavailable: BTreeMap<String, String>,
    /// The variations build B actually got.
    pub applied: Vec<Variation>,
}

/// Common inputs of both builds.
pub struct PlanInput<'a> {
    pub out: &'a str,
    pub src: &'a Path,
    pub network: bool,
    /// `None`: SOURCE_DATE_EPOCH is not set at all.
    pub source_date_epoch: Option<i64>,
    /// Extra host paths visible read-only (`host_paths`).
    pub host_paths: &'a [PathBuf],
    pub command: &'a BuildCommand,
    /// Each build's resource limits.
    pub limits: super::limits::Limits,
}

/// Plan build A (control) and build B (with `vary` applied where available).
pub fn plan(
    input: &PlanInput<'_>,
    vary: &BTreeSet<Variation>,
    work_a: PathBuf,
    work_b: PathBuf,
) -> Plan {
    let a = Settings::control();
    let mut b = Settings::control();
    let mut unavailable = BTreeMap::new();
    let mut applied = Vec::new();
    for &v in vary {
        match unavailable_reason(v) {
            Some(reason) => {
                unavailable.insert(v.name().to_string(), reason);
            }
            None => {
                b.vary(v);
                applied.push(v);
            }
        }
    }
    let values = |s: &Settings| -> BTreeMap<String, String> {
        applied
            .iter()
            .map(|v| (v.name().to_string(), s.value(*v)))
            .collect()
    };
    Plan {
        values_a: values(&a),
        values_b: values(&b),
        a: spec(input, &a, work_a),
        b: spec(input, &b, work_b),
        unavailable,
        applied,
    }
}

fn spec(input: &PlanInput<'_>, s: &Settings, work: PathBuf) -> SandboxSpec {
    let mut env: Vec<(String, String)> = vec![
        ("HOME".into(), s.home.clone()),
        ("LANG".into(), s.lang.clone()),
        ("PATH".into(), s.path()),
    ];
    if let Some(sde) = input.source_date_epoch {
        env.push(("SOURCE_DATE_EPOCH".into(), sde.to_string()));
    }
    env.extend([
        ("TMPDIR".into(), "/tmp".into()),
        ("TZ".into(), s.tz.clone()),
        ("out".into(), input.out.to_string()),
        ("src".into(), SRC_MOUNT.to_string()),
    ]);
    env.extend(input.command.env.iter().cloned());
    if input.network {
        env.extend(crate::proxy::build_env(&format!(
            "{}/{}",
            super::PROXY_DIR,
            super::PROXY_CA
        )));
    }
    if s.faketime {
        // The time-shift shim first, so its stat family wins: file times
        // move as far as the clock (libfaketime's own stat faking is off,
        // or times would move twice). See `crate::timeshift`.
        env.push((
            "LD_PRELOAD".into(),
            format!("{}:{LIBFAKETIME}", crate::timeshift::MOUNT),
        ));
        env.push(("FAKETIME".into(), format!("+{FAKETIME_DAYS}d")));
        // Keep timeouts and sleeps working: only the wall clock moves.
        env.push(("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()));
        env.push(("NO_FAKE_STAT".into(), "1".into()));
        env.push((
            crate::timeshift::SHIFT_VAR.into(),
            (FAKETIME_DAYS * 86_400).to_string(),
        ));
        env.push((
            crate::timeshift::SINCE_VAR.into(),
            crate::timeshift::since_now(),
        ));
    }
    if s.env_shuffled {
        env.reverse();
        env.push(("ENVTWIN_EXTRA".into(), "env_order variation".into()));
    }
    let writable_mounts = input
        .command
        .writable_mounts
        .iter()
        .map(|(sub, target)| (work.join(sub), target.clone()))
        .collect();
    let mut empty_dirs = vec![];
    if s.extra_path {
        empty_dirs.push(EXTRA_PATH_DIR.to_string());
    }
    let proxy_bind = input
        .network
        .then(|| (work.join("proxy"), super::PROXY_DIR.to_string()));
    SandboxSpec {
        work,
        out: input.out.to_string(),
        build_dir: s.build_dir.clone(),
        src: input.src.to_path_buf(),
        writable_mounts,
        empty_dirs,
        // `host_paths` are read-only binds like the provider's, each at
        // its own path.
        readonly_binds: input
            .command
            .readonly_binds
            .iter()
            .cloned()
            .chain(
                input
                    .host_paths
                    .iter()
                    .map(|h| (h.clone(), h.display().to_string())),
            )
            .chain(proxy_bind)
            .collect(),
        out_storage_at: input.command.out_storage_at.clone(),
        home: s.home.clone(),
        host: host_view().clone(),
        hostname: s.hostname.clone(),
        domainname: s.domainname.clone(),
        uid: s.uid,
        gid: s.gid,
        umask: s.umask,
        cpus: s.cpus,
        cpu_start: NEXT_CPU.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        no_aslr: s.no_aslr,
        uname26: s.uname26,
        shuffle_dirents: s.shuffle_dirents,
        env,
        network: input.network,
        build_argv: input.command.argv.clone(),
        probe: input.command.probe.clone(),
        limits: input.limits,
        memory_by_cgroup: false,
        pids_by_cgroup: false,
    }
}

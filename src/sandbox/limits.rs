//! Per-build resource limits (SPEC §2 `limits`, §3): what they are, how big
//! by default, and how this host enforces them.
//!
//! Memory and processes go to a cgroup of the build's own where one can be
//! had: cgroup v2 (root, or a delegated subtree with the controllers
//! enabled), or the v1 `memory` and `pids` hierarchies of a hybrid host.
//! Otherwise rlimits in every build process: `RLIMIT_DATA` for memory and
//! `RLIMIT_NPROC` (counted per user namespace, so per build). Disk is
//! `RLIMIT_FSIZE` (no single file, sparse or not, larger than the limit),
//! a watchdog in the parent that sums the apparent size of the build's
//! writable trees, and `size=` on the tmpfs a build may write inside. The
//! log is capped by pid 1, which keeps the output and counts what it drops.
//! `InForce` records which mechanism held each limit, for the report.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Default memory per build. With `--max-builds` at its default (the CPUs,
/// at least 2) two builds of 4 GiB, plus their files, fit a 24 GiB host.
pub const DEFAULT_MEMORY: u64 = 4 * GIB;
/// Default processes per build: far above a parallel compile, far below a
/// fork bomb's reach (the host's `pid_max` is 4 million).
pub const DEFAULT_PIDS: u64 = 4096;
/// Default bytes of all a build's writable trees together.
pub const DEFAULT_DISK: u64 = 4 * GIB;
/// Default bytes of build output kept per build.
pub const DEFAULT_LOG: u64 = 16 * MIB;

/// Smallest accepted values: below these `/bin/sh` and envtwin's own probes
/// cannot run, so a scenario asking for less is a mistake.
pub const MIN_MEMORY: u64 = 16 * MIB;
pub const MIN_PIDS: u64 = 8;
pub const MIN_DISK: u64 = MIB;
pub const MIN_LOG: u64 = 4 * KIB;
/// Largest `pids` (the kernel's own ceiling, `PID_MAX_LIMIT`).
pub const MAX_PIDS: u64 = 4 * 1024 * 1024;
/// What pid 1 and the helper add to the build's own processes.
const OWN_PROCESSES: u64 = 4;
/// `/dev/shm` inside a build is its own tmpfs, at most this big.
pub const DEV_SHM_MAX: u64 = 64 * MIB;

/// One build's limits, in bytes (memory, disk, log) or processes (pids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub memory: u64,
    pub pids: u64,
    pub disk: u64,
    pub log: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: DEFAULT_MEMORY,
            pids: DEFAULT_PIDS,
            disk: DEFAULT_DISK,
            log: DEFAULT_LOG,
        }
    }
}

/// Parse a size: a number of bytes, optionally followed by a unit. Binary
/// units `KiB MiB GiB TiB` (and `K M G T`, as systemd reads them), decimal
/// `kB MB GB TB`, `B` for bytes; case-insensitive, spaces allowed.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let hint = "write e.g. `256MiB`, `4GiB` or a number of bytes";
    if digits.is_empty() {
        return Err(format!("`{text}` is not a size; {hint}"));
    }
    let unit = unit.trim();
    let factor = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => KIB,
        "m" | "mib" => MIB,
        "g" | "gib" => GIB,
        "t" | "tib" => 1 << 40,
        "kb" => 1000,
        "mb" => 1000 * 1000,
        "gb" => 1000 * 1000 * 1000,
        "tb" => 1000 * 1000 * 1000 * 1000,
        _ if unit.starts_with('.') => {
            return Err(format!(
                "`{text}`: give a whole number, e.g. `1536MiB` for 1.5 GiB"
            ));
        }
        _ => return Err(format!("`{text}`: unknown unit `{unit}`; {hint}")),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// A size for people: `256 MiB` when exact in a binary unit, else bytes.
pub fn format_size(bytes: u64) -> String {
    for (unit, size) in [
        ("TiB", 1u64 << 40),
        ("GiB", GIB),
        ("MiB", MIB),
        ("KiB", KIB),
    ] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{} {unit}", bytes / size);
        }
    }
    if bytes >= 10 * MIB {
        return format!("{:.1} MiB", bytes as f64 / MIB as f64);
    }
    format!("{bytes} bytes")
}

/// Which limit a build went past.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Which {
    Memory,
    Pids,
    Disk,
}

/// The message naming the limit and its figure, e.g.
/// `exceeded limits.memory (256 MiB)`.
pub fn exceeded(which: Which, limits: &Limits) -> String {
    match which {
        Which::Memory => format!("exceeded limits.memory ({})", format_size(limits.memory)),
        Which::Pids => format!("exceeded limits.pids ({})", limits.pids),
        Which::Disk => format!("exceeded limits.disk ({})", format_size(limits.disk)),
    }
}

/// How each limit was enforced for a build: limit name -> mechanism.
pub type InForce = BTreeMap<String, String>;

/// The cgroups of one build, created before it starts and removed after.
#[derive(Debug, Default)]
pub struct Cgroups {
    /// `Some` on a cgroup v2 host: one directory for both controllers.
    v2: Option<PathBuf>,
    /// cgroup v1: the build's directory in the `memory` hierarchy.
    v1_memory: Option<PathBuf>,
    /// cgroup v1: the build's directory in the `pids` hierarchy.
    v1_pids: Option<PathBuf>,
}

/// Where this process sits in each cgroup hierarchy that has a controller
/// we use: `(v2 dir, v1 memory dir, v1 pids dir)`, each the directory of
/// our own cgroup, so builds nest under (and inside the limits of) it.
fn own_cgroup_dirs() -> (Option<PathBuf>, Option<PathBuf>, Option<PathBuf>) {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut v2 = None;
    let mut memory = None;
    let mut pids = None;
    for line in mountinfo.lines() {
        // id parent dev root mountpoint opts [optional...] - fstype source superopts
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = left.split(' ').collect();
        let rfields: Vec<&str> = right.split(' ').collect();
        let (Some(root), Some(mnt), Some(fstype)) = (fields.get(3), fields.get(4), rfields.first())
        else {
            continue;
        };
        if *root != "/" {
            continue;
        }
        let supers = rfields.get(2).copied().unwrap_or("");
        let in_hierarchy = |want: &str| {
            own.lines().find_map(|l| {
                let mut parts = l.splitn(3, ':');
                let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
                (ctrls.split(',').any(|c| c == want)).then(|| path.to_owned())
            })
        };
        match *fstype {
            "cgroup2" if v2.is_none() => {
                if let Some(path) = own
                    .lines()
                    .find_map(|l| l.strip_prefix("0::").map(str::to_owned))
                {
                    v2 = Some(Path::new(mnt).join(path.trim_start_matches('/')));
                }
            }
            "cgroup" => {
                for (ctrl, slot) in [("memory", &mut memory), ("pids", &mut pids)] {
                    if slot.is_none()
                        && supers.split(',').any(|o| o == ctrl)
                        && let Some(path) = in_hierarchy(ctrl)
                    {
                        *slot = Some(Path::new(mnt).join(path.trim_start_matches('/')));
                    }
                }
            }
            _ => {}
        }
    }
    (v2, memory, pids)
}

/// Whether the v2 cgroup `dir` lets children use `controller`: it must be
/// enabled in `cgroup.subtree_control`, or be enabled now (which works in a
/// delegated cgroup that holds no process itself).
fn v2_enables(dir: &Path, controller: &str) -> bool {
    let control = dir.join("cgroup.subtree_control");
    let on = |text: String| text.split_whitespace().any(|c| c == controller);
    if std::fs::read_to_string(&control).is_ok_and(on) {
        return true;
    }
    std::fs::write(&control, format!("+{controller}")).is_ok()
        && std::fs::read_to_string(&control).is_ok_and(on)
}

static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Name prefix of envtwin's build cgroups: `envtwin-<pid>-<n>`.
const CGROUP_PREFIX: &str = "envtwin-";

impl Cgroups {
    /// Make this build's cgroups with `limits` set, as far as the host
    /// allows. Records in `in_force` how memory and pids are enforced. The
    /// kernel charges the pages of files a build writes to a tmpfs (the
    /// default workdir, `/dev/shm`) to its memory cgroup too: there, its
    /// files count toward `limits.memory` as well as `limits.disk`.
    pub fn create(limits: &Limits, in_force: &mut InForce) -> Cgroups {
        let memory = limits.memory;
        let (v2, v1_memory, v1_pids) = own_cgroup_dirs();
        let name = format!(
            "{CGROUP_PREFIX}{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let make = |parent: &Path, files: &[(&str, String)]| -> Option<PathBuf> {
            let dir = parent.join(&name);
            std::fs::create_dir(&dir).ok()?;
            for (file, value) in files {
                if std::fs::write(dir.join(file), value).is_err() {
                    let _ = std::fs::remove_dir(&dir);
                    return None;
                }
            }
            Some(dir)
        };
        let mut cg = Cgroups::default();
        if let Some(parent) = v2.filter(|d| v2_enables(d, "memory") && v2_enables(d, "pids"))
            && let Some(dir) = make(
                &parent,
                &[
                    ("memory.max", memory.to_string()),
                    ("memory.swap.max", "0".into()),
                    ("pids.max", (limits.pids + OWN_PROCESSES).to_string()),
                ],
            )
        {
            in_force.insert("memory".into(), "cgroup v2".into());
            in_force.insert("pids".into(), "cgroup v2".into());
            cg.v2 = Some(dir);
            return cg;
        }
        if let Some(parent) = v1_memory {
            cg.v1_memory = make(&parent, &[("memory.limit_in_bytes", memory.to_string())]);
            if let Some(dir) = &cg.v1_memory {
                // Without swap accounting the file is absent: no swap limit.
                let _ = std::fs::write(dir.join("memory.memsw.limit_in_bytes"), memory.to_string());
                in_force.insert("memory".into(), "cgroup v1".into());
            }
        }
        if let Some(parent) = v1_pids {
            cg.v1_pids = make(
                &parent,
                &[("pids.max", (limits.pids + OWN_PROCESSES).to_string())],
            );
            if cg.v1_pids.is_some() {
                in_force.insert("pids".into(), "cgroup v1".into());
            }
        }
        in_force
            .entry("memory".into())
            .or_insert_with(|| MEMORY_WITHOUT_CGROUP.into());
        in_force
            .entry("pids".into())
            .or_insert_with(|| "RLIMIT_NPROC (per build user namespace)".into());
        cg
    }

    /// The `cgroup.procs` files a new process must be written into.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        [&self.v2, &self.v1_memory, &self.v1_pids]
            .into_iter()
            .flatten()
            .map(|d| d.join("cgroup.procs"))
            .collect()
    }

    /// Which limit, if any, the kernel enforced on the build: an OOM kill
    /// in its memory cgroup, or a fork refused at `pids.max`.
    pub fn exceeded(&self) -> Option<Which> {
        let counter = |file: PathBuf, key: &str| -> u64 {
            std::fs::read_to_string(file)
                .unwrap_or_default()
                .lines()
                .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
                .unwrap_or(0)
        };
        let (memory, pids) = match (&self.v2, &self.v1_memory, &self.v1_pids) {
            (Some(d), _, _) => (
                Some(counter(d.join("memory.events"), "oom_kill ")),
                Some(counter(d.join("pids.events"), "max ")),
            ),
            (None, m, p) => (
                m.as_ref()
                    .map(|d| counter(d.join("memory.oom_control"), "oom_kill ")),
                p.as_ref().map(|d| counter(d.join("pids.events"), "max ")),
            ),
        };
        if memory.is_some_and(|n| n > 0) {
            Some(Which::Memory)
        } else if pids.is_some_and(|n| n > 0) {
            Some(Which::Pids)
        } else {
            None
        }
    }

    /// Whether the cgroups already hold memory and pids; otherwise the
    /// build must set rlimits for them.
    pub fn has_memory(&self) -> bool {
        self.v2.is_some() || self.v1_memory.is_some()
    }
    pub fn has_pids(&self) -> bool {
        self.v2.is_some() || self.v1_pids.is_some()
    }
}

impl Drop for Cgroups {
    /// Remove the build's cgroups; by now its processes are gone (pid 1 of
    /// its namespace has exited). A cgroup still busy is retried briefly.
    fn drop(&mut self) {
        for dir in [&self.v2, &self.v1_memory, &self.v1_pids]
            .into_iter()
            .flatten()
        {
            for _ in 0..50 {
                if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}

/// Remove empty build cgroups left by envtwin processes that are gone
/// (killed before they could clean up).
pub fn sweep_stale_cgroups() {
    let (v2, memory, pids) = own_cgroup_dirs();
    for parent in [v2, memory, pids].into_iter().flatten() {
        let Ok(rd) = std::fs::read_dir(&parent) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix(CGROUP_PREFIX)
                .and_then(|r| r.split('-').next())
                .and_then(|p| p.parse::<i32>().ok())
            else {
                continue;
            };
            let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
            if !alive {
                let _ = std::fs::remove_dir(e.path());
            }
        }
    }
}

/// What one directory entry costs at least, whatever its size: the kernel
/// keeps an inode and a dentry for it (most of a KiB on tmpfs), and the hash
/// reads its NAR framing. Without it a build could make millions of empty
/// files, fill the host's memory with inodes and pass a byte-counting
/// watchdog; with it the default 4 GiB `disk` allows 4 million entries.
pub const ENTRY_COST: u64 = KIB;

/// Apparent bytes of everything under `dirs`, as the hash would read them:
/// each path's file size (sparse files at their apparent size, a hard link
/// once per name) or allocated blocks where larger, and at least
/// `ENTRY_COST` per entry. Stops counting once past `stop`, since then the
/// answer is only "too much". Entries that cannot be read count as nothing.
pub fn usage(dirs: &[PathBuf], stop: u64) -> u64 {
    let mut total = 0u64;
    let mut stack: Vec<PathBuf> = dirs.to_vec();
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            total = total.saturating_add(m.len().max(m.blocks() * 512).max(ENTRY_COST));
            if total > stop {
                return total;
            }
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    total
}

/// How memory is bounded where no cgroup can be had (an ordinary user on a
/// host that delegates none): each process by `RLIMIT_DATA`, and the build
/// as a whole by the parent's watchdog over its processes' resident memory.
pub const MEMORY_WITHOUT_CGROUP: &str = "RLIMIT_DATA per process + watchdog on the resident total";

/// Anonymous resident bytes of `root` and every process under it (the
/// sandbox helper, pid 1 of the build and all it started; orphans are
/// re-parented to pid 1, so they are found too): `resident - shared` of
/// `/proc/PID/statm`, the memory a cgroup would charge for the heap and
/// stacks. Pages shared copy-on-write after a fork count once per process,
/// which errs on the side of the host. Stops counting once past `stop`.
pub fn resident_anon(root: u32, stop: u64) -> u64 {
    // SAFETY: sysconf with a constant name has no preconditions.
    let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let mut total = 0u64;
    let mut stack = vec![root];
    let mut seen = std::collections::HashSet::new();
    while let Some(pid) = stack.pop() {
        if !seen.insert(pid) {
            continue;
        }
        if let Ok(statm) = std::fs::read_to_string(format!("/proc/{pid}/statm")) {
            let f: Vec<u64> = statm
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            if let [_, resident, shared, ..] = f[..] {
                total = total.saturating_add(resident.saturating_sub(shared) * page);
            }
        }
        if total > stop {
            return total;
        }
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let children = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            stack.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    total
}

/// Set the rlimits of a build process (called in the forked child, before
/// exec): disk always, memory and pids where no cgroup holds them.
pub fn apply_rlimits(limits: &Limits, memory_by_cgroup: bool, pids_by_cgroup: bool) {
    use nix::sys::resource::{Resource, setrlimit};
    let _ = setrlimit(Resource::RLIMIT_FSIZE, limits.disk, limits.disk);
    if !memory_by_cgroup {
        let _ = setrlimit(Resource::RLIMIT_DATA, limits.memory, limits.memory);
    }
    if !pids_by_cgroup {
        let n = limits.pids + OWN_PROCESSES;
        let _ = setrlimit(Resource::RLIMIT_NPROC, n, n);
    }
}

/// Where an rlimit rather than a cgroup held memory or pids, the kernel
/// does not count the refusals; a build that failed saying so in its last
/// lines of output most likely hit the limit. Which one, if any.
pub fn rlimit_telltale(log_tail: &str, in_force: &InForce) -> Option<Which> {
    let by_rlimit = |name: &str| in_force.get(name).is_some_and(|m| m.starts_with("RLIMIT"));
    let says = |needles: &[&str]| needles.iter().any(|n| log_tail.contains(n));
    if by_rlimit("memory")
        && says(&[
            "MemoryError",
            "Cannot allocate memory",
            "out of memory",
            "Out of memory",
            "bad_alloc",
            "memory allocation of",
        ])
    {
        return Some(Which::Memory);
    }
    if by_rlimit("pids")
        && says(&[
            "Cannot fork",
            "fork: Resource temporarily unavailable",
            "fork: retry",
            "can't fork",
        ])
    {
        return Some(Which::Pids);
    }
    None
}

/// The exit status a shell reports for a child killed by SIGXFSZ: a file
/// grew past `RLIMIT_FSIZE`, i.e. past `limits.disk`.
pub const SHELL_XFSZ_STATUS: i32 = 128 + libc::SIGXFSZ;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("256MiB"), Ok(256 * MIB));
        assert_eq!(parse_size("4GiB"), Ok(4 * GIB));
        assert_eq!(parse_size("4 gib"), Ok(4 * GIB));
        assert_eq!(parse_size("4G"), Ok(4 * GIB));
        assert_eq!(parse_size("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("7B"), Ok(7));
        assert!(parse_size("lots").unwrap_err().contains("not a size"));
        assert!(
            parse_size("4 parsecs")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(parse_size("1.5GiB").unwrap_err().contains("whole number"));
        assert!(
            parse_size("99999999999TiB")
                .unwrap_err()
                .contains("too large")
        );
        assert!(parse_size("-1").is_err());
    }

    #[test]
    fn sizes_format_for_people() {
        assert_eq!(format_size(256 * MIB), "256 MiB");
        assert_eq!(format_size(4 * GIB), "4 GiB");
        assert_eq!(format_size(1536 * MIB), "1536 MiB");
        assert_eq!(format_size(1000), "1000 bytes");
        assert_eq!(format_size(20_000_000), "19.1 MiB");
        assert_eq!(
            exceeded(
                Which::Memory,
                &Limits {
                    memory: 256 * MIB,
                    ..Limits::default()
                }
            ),
            "exceeded limits.memory (256 MiB)"
        );
    }

    #[test]
    fn usage_counts_sparse_files_at_their_apparent_size() {
        let dir = tempfile::tempdir().unwrap();
        let f = std::fs::File::create(dir.path().join("sparse")).unwrap();
        f.set_len(5 * GIB).unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/small"), b"12345").unwrap();
        let all = usage(&[dir.path().to_path_buf()], u64::MAX);
        assert!(all >= 5 * GIB + 5, "{all}");
        assert!(all < 5 * GIB + MIB, "{all}");
        // Past `stop`, counting ends early but the answer is still "over".
        assert!(usage(&[dir.path().to_path_buf()], GIB) > GIB);
    }

    #[test]
    fn resident_anon_sums_a_process_and_its_children() {
        // A child that touches 64 MiB and waits: counted under its parent.
        let mut child = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys,time; x=b'x'*(64<<20); print(1, flush=True); time.sleep(30)",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut one = [0u8; 1];
        use std::io::Read;
        child.stdout.as_mut().unwrap().read_exact(&mut one).unwrap();
        let mine = std::process::id();
        let total = resident_anon(mine, u64::MAX);
        let stopped_early = resident_anon(mine, MIB);
        let _ = child.kill();
        let _ = child.wait();
        assert!(total >= 64 * MIB, "{total}");
        // Past `stop`, counting ends early but the answer is still "over".
        assert!(stopped_early > MIB, "{stopped_early}");
    }

    #[test]
    fn usage_charges_every_entry_even_an_empty_file() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..3000 {
            std::fs::File::create(dir.path().join(i.to_string())).unwrap();
        }
        let all = usage(&[dir.path().to_path_buf()], u64::MAX);
        assert_eq!(all, 3000 * ENTRY_COST);
    }
}

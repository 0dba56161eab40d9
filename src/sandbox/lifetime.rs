//! What must not outlive envtwin: sandbox processes and their trees.
//!
//! Three mechanisms, from the gentlest to the hardest stop:
//! - Ctrl-C / SIGTERM: the handler kills every live sandbox and removes
//!   every registered tree before exiting;
//! - SIGKILL of envtwin: every process envtwin starts carries
//!   `PR_SET_PDEATHSIG = SIGKILL`, so the sandbox helper dies with envtwin and
//!   takes its pid namespace (the build) with it;
//! - the trees a killed run leaves: each run works in its own `RunDir`,
//!   holding an `flock` for as long as the process lives, and every run first
//!   sweeps the run dirs whose lock nobody holds any more.

use std::collections::BTreeSet;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static PIDS: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());
static TREES: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// Name prefix of a run's working directory in the workdir.
pub const RUN_PREFIX: &str = "envtwin-run-";
/// Name prefix of trees kept with `--keep` (moved out of the run dir, so the
/// sweep of a later run leaves them alone).
pub const KEPT_PREFIX: &str = "envtwin-kept-";
const LOCK: &str = ".lock";
/// A run dir before its lock is taken; swept only when old.
const UNBORN_PREFIX: &str = ".envtwin-unborn-";
/// An unborn dir (or a run dir without a lock file, which only an older
/// envtwin makes) is stale only once older than this.
const UNBORN_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

pub fn register_pid(pid: u32) {
    if let Ok(mut p) = PIDS.lock() {
        p.insert(pid);
    }
}

pub fn unregister_pid(pid: u32) {
    if let Ok(mut p) = PIDS.lock() {
        p.remove(&pid);
    }
}

/// Remember a temp tree to remove if envtwin is interrupted.
pub fn register_tree(path: PathBuf) {
    if let Ok(mut t) = TREES.lock() {
        t.insert(path);
    }
}

pub fn unregister_tree(path: &Path) {
    if let Ok(mut t) = TREES.lock() {
        t.remove(path);
    }
}

/// Install the Ctrl-C / SIGTERM handler (once per process).
pub fn install_handler() {
    let _ = ctrlc::set_handler(|| {
        INTERRUPTED.store(true, Ordering::SeqCst);
        let pids: Vec<u32> = PIDS
            .lock()
            .map(|p| p.iter().copied().collect())
            .unwrap_or_default();
        for pid in pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        // Give the kernel a moment to tear the namespaces down before we
        // remove the trees their mounts pointed at.
        std::thread::sleep(std::time::Duration::from_millis(100));
        let trees: Vec<PathBuf> = TREES
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default();
        for tree in trees {
            let _ = remove_tree(&tree);
        }
        eprintln!("envtwin: interrupted; sandboxes stopped and temp trees removed");
        std::process::exit(130);
    });
}

/// After an interrupt, the handler owns the exit: a worker that sees its
/// sandbox die must not race it to report a harness error.
pub fn park_if_interrupted() {
    while INTERRUPTED.load(Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// In a freshly forked child (`pre_exec`): die by SIGKILL when the parent
/// thread dies. With `parent`, returns an error if the parent is already
/// gone, so the child exits instead of running on as an orphan. (Pid 1 of a
/// new pid namespace cannot check: its parent is outside, `getppid` is 0.)
pub fn die_with_parent(parent: Option<libc::pid_t>) -> std::io::Result<()> {
    // SAFETY: plain prctl/getppid calls, async-signal-safe.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if parent.is_some_and(|p| libc::getppid() != p) {
            return Err(std::io::Error::other("the parent died during start-up"));
        }
    }
    Ok(())
}

/// A new directory `PREFIX*` in `parent`, mode 0700 from its creation (no
/// moment in which another host user could enter it), left in place.
pub fn private_dir(parent: &Path, prefix: &str) -> std::io::Result<PathBuf> {
    Ok(tempfile::Builder::new()
        .prefix(prefix)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(parent)?
        .keep())
}

/// One run's private working directory (mode 0700) in the workdir, locked
/// for the life of the process. Dropping it removes it.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    /// Held open: the kernel releases the lock when this process dies.
    _lock: std::fs::File,
}

impl RunDir {
    /// Sweep the stale run dirs of `workdir`, then make and lock our own.
    pub fn create(workdir: &Path) -> Result<RunDir, String> {
        sweep(workdir);
        let cannot = |e: std::io::Error| {
            format!(
                "cannot create a run directory in {}: {e}",
                workdir.display()
            )
        };
        // Made and locked under a name the sweep ignores, then renamed
        // (the lock stays on the inode): a concurrent run's sweep never
        // sees our dir unlocked, nor holds its probe lock as we take ours.
        let unborn = private_dir(workdir, UNBORN_PREFIX).map_err(cannot)?;
        let lock = std::fs::File::create(unborn.join(LOCK))
            .map_err(|e| format!("{}: {e}", unborn.join(LOCK).display()))?;
        // SAFETY: flock on an fd we own.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = std::io::Error::last_os_error();
            let _ = std::fs::remove_dir_all(&unborn);
            return Err(format!("cannot lock {}: {e}", unborn.display()));
        }
        let name = unborn
            .file_name()
            .map(|n| n.to_string_lossy().replacen(UNBORN_PREFIX, RUN_PREFIX, 1))
            .unwrap_or_else(|| RUN_PREFIX.to_string());
        let dir = workdir.join(name);
        if let Err(e) = std::fs::rename(&unborn, &dir) {
            let _ = std::fs::remove_dir_all(&unborn);
            return Err(cannot(e));
        }
        register_tree(dir.clone());
        Ok(RunDir {
            path: dir,
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        unregister_tree(&self.path);
        let _ = remove_tree(&self.path);
    }
}

/// Remove the run dirs in `workdir` that belong to this user and whose run
/// is gone (nobody holds their lock). Live runs, other users' runs and kept
/// trees are left alone. Returns the dirs removed.
pub fn sweep(workdir: &Path) -> Vec<PathBuf> {
    let me = nix::unistd::geteuid().as_raw();
    let mut removed = Vec::new();
    let Ok(rd) = std::fs::read_dir(workdir) else {
        return removed;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let unborn = name.starts_with(UNBORN_PREFIX);
        if !unborn && !name.starts_with(RUN_PREFIX) {
            continue;
        }
        let path = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != me {
            continue;
        }
        // An unborn dir is being locked by a live run, or was left by one
        // killed in that instant: only age tells them apart.
        let stale = if unborn {
            older_than_grace(&meta)
        } else {
            is_stale(&path, &meta)
        };
        if stale && remove_tree(&path).is_ok() {
            removed.push(path);
        }
    }
    removed
}

fn is_stale(dir: &Path, meta: &std::fs::Metadata) -> bool {
    match std::fs::File::open(dir.join(LOCK)) {
        // SAFETY: flock on an fd we own; closing it releases our probe lock.
        Ok(f) => unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 },
        Err(_) => older_than_grace(meta),
    }
}

fn older_than_grace(meta: &std::fs::Metadata) -> bool {
    meta.modified()
        .ok()
        .and_then(|m| m.elapsed().ok())
        .is_some_and(|age| age > UNBORN_GRACE)
}

/// Remove a tree that a build wrote: a build may leave directories without
/// write or search permission (`chmod 0500 "$out"`), which a plain
/// `remove_dir_all` cannot enter as an ordinary user; those get u+rwx first.
pub fn remove_tree(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            open_up(path);
            std::fs::remove_dir_all(path)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

fn open_up(dir: &Path) {
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let mode = meta.permissions().mode();
    if mode & 0o700 != 0o700 {
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o700));
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            open_up(&e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_run_dir_is_not_swept_and_a_dead_one_is() {
        let work = tempfile::tempdir().unwrap();
        let live = RunDir::create(work.path()).unwrap();
        // A dead run: a run dir whose lock file nobody holds.
        let dead = work.path().join(format!("{RUN_PREFIX}dead"));
        std::fs::create_dir(&dead).unwrap();
        std::fs::write(dead.join(LOCK), "").unwrap();
        std::fs::create_dir_all(dead.join("a/out/ro")).unwrap();
        std::fs::set_permissions(dead.join("a/out"), std::fs::Permissions::from_mode(0o500))
            .unwrap();
        let kept = work.path().join(format!("{KEPT_PREFIX}x"));
        std::fs::create_dir(&kept).unwrap();
        let removed = sweep(work.path());
        assert_eq!(removed, vec![dead.clone()]);
        assert!(!dead.exists());
        assert!(live.path().exists());
        assert!(kept.exists());
        let path = live.path().to_path_buf();
        drop(live);
        assert!(!path.exists(), "a run dir is removed when the run ends");
    }

    #[test]
    fn a_run_dir_being_born_is_left_alone() {
        let work = tempfile::tempdir().unwrap();
        let unborn = work.path().join(format!("{UNBORN_PREFIX}young"));
        let young = work.path().join(format!("{RUN_PREFIX}young"));
        std::fs::create_dir(&unborn).unwrap();
        std::fs::create_dir(&young).unwrap();
        assert!(sweep(work.path()).is_empty());
        assert!(unborn.exists());
        assert!(young.exists());
    }

    #[test]
    fn runs_starting_together_never_sweep_or_block_each_other() {
        // Each create sweeps: no run may remove another's fresh dir, or
        // fail to lock its own while another's sweep probes it.
        let work = tempfile::tempdir().unwrap();
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..50 {
                        let run = RunDir::create(work.path()).expect("create");
                        assert!(run.path().join(LOCK).exists(), "swept while alive");
                    }
                });
            }
        });
        assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 0);
    }

    #[test]
    fn run_dirs_are_private() {
        let work = tempfile::tempdir().unwrap();
        let run = RunDir::create(work.path()).unwrap();
        let mode = std::fs::metadata(run.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}

//! What must not outlive envtwin: sandbox processes and temp trees.
//!
//! On Ctrl-C or SIGTERM the handler kills every live sandbox process (whose
//! death tears down its namespaces) and removes every registered tree, so an
//! interrupted run leaves nothing behind.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static PIDS: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());
static TREES: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

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

pub fn unregister_tree(path: &std::path::Path) {
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
            let _ = std::fs::remove_dir_all(&tree);
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

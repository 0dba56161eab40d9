//! `--max-builds`: how many sandboxed builds run at once across the whole
//! run, twins and culprit searches included. Every `sandbox::run` holds a
//! slot for as long as its build runs; a build never waits for another
//! while holding one, so slots cannot deadlock.

use std::sync::{Condvar, Mutex};

struct State {
    max: usize,
    running: usize,
    peak: usize,
}

static STATE: Mutex<State> = Mutex::new(State {
    max: 0,
    running: 0,
    peak: 0,
});
static FREED: Condvar = Condvar::new();

/// The default: the number of CPUs, at least 2, so the twins of one
/// scenario still run side by side.
pub fn default_max() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .max(2)
}

/// Set the number of builds at once (0: no bound, as when never set).
pub fn set_max(max: usize) {
    if let Ok(mut s) = STATE.lock() {
        s.max = max;
    }
    FREED.notify_all();
}

/// Builds holding a slot right now (the progress display's count).
pub fn running() -> usize {
    STATE.lock().map_or(0, |s| s.running)
}

/// The most builds that ran at once so far in this process.
pub fn peak() -> usize {
    STATE.lock().map_or(0, |s| s.peak)
}

/// A held slot; dropping it frees the slot.
pub struct Slot(());

/// Wait for a free slot and take it.
pub fn acquire() -> Slot {
    let Ok(mut s) = STATE.lock() else {
        return Slot(());
    };
    while s.max > 0 && s.running >= s.max {
        s = match FREED.wait(s) {
            Ok(s) => s,
            Err(_) => return Slot(()),
        };
    }
    s.running += 1;
    s.peak = s.peak.max(s.running);
    Slot(())
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut s) = STATE.lock() {
            s.running = s.running.saturating_sub(1);
        }
        FREED.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn no_more_than_max_hold_a_slot_at_once() {
        set_max(3);
        let now = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..12 {
                scope.spawn(|| {
                    let _slot = acquire();
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    now.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert_eq!(most.load(Ordering::SeqCst), 3);
        assert_eq!(peak(), 3);
        assert!(default_max() >= 2);
        set_max(0);
    }
}

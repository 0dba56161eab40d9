//! `--max-builds`: how many sandboxed builds run at once across the whole
//! run, twins and culprit searches included. Every `sandbox::run` holds a
//! slot for as long as its build runs; a build never waits for another
//! while holding one, so slots cannot deadlock.
//!
//! Builds that must start together (the culprit search's two plain
//! rebuilds, whose disagreement is what "differs with no variation" means)
//! take their slots together with [`acquire_pair`]: taken one by one, a
//! busy run would start them far apart, and their clocks would make them
//! differ. While a pair waits, single builds let it go first. The twins
//! take a slot each, so that a run of many scenarios keeps the cores busy.

use std::sync::{Condvar, Mutex};

struct State {
    max: usize,
    running: usize,
    peak: usize,
    /// Pairs waiting for two slots: single builds wait behind them.
    pairs_waiting: usize,
}

static STATE: Mutex<State> = Mutex::new(State {
    max: 0,
    running: 0,
    peak: 0,
    pairs_waiting: 0,
});

thread_local! {
    /// A slot taken for this thread's next build (see [`hold`]).
    static HELD: std::cell::RefCell<Option<Slot>> = const { std::cell::RefCell::new(None) };
}
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

/// Keep `slot` for the next build this thread starts: its
/// [`acquire`] takes it instead of waiting for one.
pub fn hold(slot: Slot) {
    HELD.with(|h| *h.borrow_mut() = Some(slot));
}

/// Give back a slot this thread [`hold`]s and did not use (its build
/// failed to start): it must not be kept while waiting for a pair.
pub fn release_held() {
    drop(HELD.with(|h| h.borrow_mut().take()));
}

/// Wait for two free slots and take both at once, for two builds that must
/// start together. With `--max-builds 1` they cannot: the second is `None`
/// and its build takes a slot of its own later.
pub fn acquire_pair() -> (Slot, Option<Slot>) {
    let Ok(mut s) = STATE.lock() else {
        return (Slot(()), Some(Slot(())));
    };
    let want = if s.max == 1 { 1 } else { 2 };
    s.pairs_waiting += 1;
    while s.max > 0 && s.running + want > s.max {
        s = match FREED.wait(s) {
            Ok(s) => s,
            Err(e) => e.into_inner(),
        };
    }
    s.pairs_waiting -= 1;
    s.running += want;
    s.peak = s.peak.max(s.running);
    // Singles that waited behind this pair may go now.
    FREED.notify_all();
    drop(s);
    // Not `then_some`: a Slot built and dropped would free a slot.
    let second = if want == 2 { Some(Slot(())) } else { None };
    (Slot(()), second)
}

/// Wait for a free slot and take it (or the one this thread [`hold`]s).
pub fn acquire() -> Slot {
    if let Some(slot) = HELD.with(|h| h.borrow_mut().take()) {
        return slot;
    }
    let Ok(mut s) = STATE.lock() else {
        return Slot(());
    };
    while s.max > 0 && (s.running >= s.max || s.pairs_waiting > 0) {
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
        // All: a waiting pair and a waiting single may both be woken.
        FREED.notify_all();
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

        // (Same test: the slots are one global state.) A pair starts only
        // when two slots are free, and a single arriving while it waits
        // goes after it.
        set_max(2);
        let single = acquire();
        let order = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let (a, b) = acquire_pair();
                assert!(b.is_some());
                assert_eq!(running(), 2);
                order.lock().unwrap().push("pair");
                hold(a);
                drop(b);
                // The held slot is what this thread's next acquire gets.
                assert!(HELD.with(|h| h.borrow().is_some()));
                let again = acquire();
                assert!(HELD.with(|h| h.borrow().is_none()));
                drop(again);
            });
            while STATE.lock().unwrap().pairs_waiting == 0 {
                std::thread::yield_now();
            }
            scope.spawn(|| {
                let _s = acquire();
                order.lock().unwrap().push("single");
            });
            std::thread::sleep(std::time::Duration::from_millis(50));
            // One slot is free, but the pair waits for two and the single
            // waits behind the pair.
            assert!(order.lock().unwrap().is_empty());
            drop(single);
        });
        assert_eq!(*order.lock().unwrap(), ["pair", "single"]);
        set_max(1);
        let (_a, b) = acquire_pair();
        assert!(b.is_none());
        set_max(0);
    }
}

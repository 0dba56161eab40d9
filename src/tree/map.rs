//! Reading large files without copying them: a [`Window`] maps a range of
//! a file read-only (`MAP_POPULATE`, so its pages are mapped in one
//! syscall), and [`hash_prefetched`] hashes it with software prefetch.
//!
//! Why: on this class of machine SHA-256 from a buffer in L2 runs at
//! ~1.7 GB/s, from memory at ~1.2 GB/s (the hardware prefetcher stops at
//! each 4 KiB page), and `read(2)` costs a copy at ~9 GB/s on the hashing
//! core. A mapping plus a prefetch one page ahead hashes page-cache bytes
//! in place at close to the in-cache speed, and compares two files with
//! one pass over memory instead of two copies and a pass.
//!
//! Only files without holes are mapped: on tmpfs a read fault in a hole
//! allocates a page (where `read` returns zeros for free), so mapping a
//! sparse file of 500 GiB would fill memory.
//!
//! A file that shrinks while mapped would raise SIGBUS on the bytes past
//! its new end. A process-wide SIGBUS handler maps a zero page over the
//! faulting page when the address lies in this thread's current window
//! and marks the window, which then reports "file shrank while being
//! read", as `read` does; any other SIGBUS goes to the previous handler.

use std::cell::Cell;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU8, Ordering, compiler_fence};
use std::sync::{Once, OnceLock};

/// Bytes mapped at once: large enough that mmap/munmap cost vanishes,
/// small enough to bound the resident pages counted against the process.
pub(crate) const WINDOW: usize = 4 << 20;

/// How far ahead of the hashed byte to prefetch: one page, since the
/// hardware prefetcher already follows a stream within a page.
const PREFETCH_AHEAD: usize = 4096;
/// Bytes hashed per step between prefetches (one page).
const STEP: usize = 4096;

thread_local! {
    /// The address ranges of the windows this thread is reading: a SIGBUS
    /// there is a shrunk file, not a bug.
    static GUARD: Cell<[(usize, usize); 2]> = const { Cell::new([(0, 0); 2]) };
    /// Set by the handler, one bit per window, when it patched a page.
    /// Atomic, and read past a compiler fence: the handler's write is
    /// invisible to the optimizer, which would otherwise fold the read
    /// after `f` to the 0 stored before it (release builds did).
    static FAULTED: AtomicU8 = const { AtomicU8::new(0) };
}

/// The SIGBUS action before ours, called for faults outside any window.
static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();
static INSTALL: Once = Once::new();

/// A read-only mapping of `len` bytes of a file from `offset`.
struct Window {
    ptr: *mut libc::c_void,
    len: usize,
}

impl Window {
    /// Map `len` bytes of `file` from `offset` (a multiple of the page
    /// size), populated. `len` must be at least 1.
    fn map(file: &File, offset: u64, len: usize) -> std::io::Result<Window> {
        install_handler();
        let offset = libc::off_t::try_from(offset).map_err(std::io::Error::other)?;
        // SAFETY: a fresh read-only shared mapping of a file we hold open;
        // the kernel picks the address, nothing aliases it mutably.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                file.as_raw_fd(),
                offset,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Window { ptr, len })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is live and readable for `self`'s lifetime;
        // pages past a new end of file are patched by the handler.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }

    fn range(&self) -> (usize, usize) {
        (self.ptr as usize, self.ptr as usize + self.len)
    }
}

/// Run `f` on the bytes of windows `a` and `b` (`b` may be `a` again);
/// `Err(i)` when window `i` (0 or 1) belongs to a file that shrank
/// meanwhile (its missing bytes read as zeros to `f`).
fn read_guarded<R>(a: &Window, b: &Window, f: impl FnOnce(&[u8], &[u8]) -> R) -> Result<R, usize> {
    GUARD.with(|g| g.set([a.range(), b.range()]));
    FAULTED.with(|x| x.store(0, Ordering::SeqCst));
    compiler_fence(Ordering::SeqCst);
    let out = f(a.bytes(), b.bytes());
    compiler_fence(Ordering::SeqCst);
    GUARD.with(|g| g.set([(0, 0); 2]));
    match FAULTED.with(|x| x.load(Ordering::SeqCst)) {
        0 => Ok(out),
        bits => Err(usize::from(bits & 1 == 0)),
    }
}

/// The page-aligned window holding `from..to` of a file, and where the
/// range starts in it.
fn aligned(from: u64, to: u64) -> (u64, usize, usize) {
    let start = from & !(page_size() as u64 - 1);
    let skip = (from - start) as usize;
    (start, skip, skip + (to - from) as usize)
}

/// Call `f` on bytes `from..to` of `file`, a window at a time. `Ok(false)`
/// when the file cannot be mapped at all (then `f` was never called and
/// the caller reads it instead).
pub(crate) fn for_each_window(
    file: &File,
    from: u64,
    to: u64,
    mut f: impl FnMut(&[u8]),
) -> std::io::Result<bool> {
    if !dense(file) {
        return Ok(false);
    }
    let mut at = from;
    while at < to {
        let end = to.min(at + WINDOW as u64);
        let (start, skip, stop) = aligned(at, end);
        let w = match Window::map(file, start, stop) {
            Ok(w) => w,
            Err(_) if at == from => return Ok(false),
            Err(e) => return Err(e),
        };
        read_guarded(&w, &w, |b, _| f(&b[skip..stop])).map_err(|_| super::walk::shrank())?;
        at = end;
    }
    Ok(true)
}

/// The first offset in `from..to` where files `a` and `b` differ, both
/// mapped. `Ok(None)`: no mapping possible (read them instead);
/// `Err((i, e))`: file `i` (0: `a`, 1: `b`) failed.
pub(crate) fn first_difference(
    a: &File,
    b: &File,
    from: u64,
    to: u64,
) -> Result<Option<Option<u64>>, (usize, std::io::Error)> {
    if !dense(a) || !dense(b) {
        return Ok(None);
    }
    let mut at = from;
    while at < to {
        let end = to.min(at + WINDOW as u64);
        let (start, skip, stop) = aligned(at, end);
        let (wa, wb) = match (Window::map(a, start, stop), Window::map(b, start, stop)) {
            (Ok(wa), Ok(wb)) => (wa, wb),
            _ if at == from => return Ok(None),
            (Err(e), _) => return Err((0, e)),
            (_, Err(e)) => return Err((1, e)),
        };
        let found = read_guarded(&wa, &wb, |x, y| {
            first_mismatch(&x[skip..stop], &y[skip..stop])
        })
        .map_err(|i| (i, super::walk::shrank()))?;
        if let Some(i) = found {
            return Ok(Some(Some(at + i as u64)));
        }
        at = end;
    }
    Ok(Some(None))
}

impl Drop for Window {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `map` mapped, once.
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}

/// Whether `file` has blocks for all its bytes (no holes), so that mapping
/// it allocates nothing. Unknown: no.
fn dense(file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    file.metadata()
        .is_ok_and(|m| m.blocks().saturating_mul(512) >= m.len())
}

/// Feed `bytes` to `h`, prefetching a page ahead.
pub(crate) fn hash_prefetched(h: &mut sha2::Sha256, bytes: &[u8]) {
    use sha2::Digest;
    for (i, step) in bytes.chunks(STEP).enumerate() {
        prefetch(bytes, i * STEP + PREFETCH_AHEAD);
        h.update(step);
    }
}

/// Prefetch the page of `bytes` at `from`, if any.
fn prefetch(bytes: &[u8], from: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        let to = bytes.len().min(from + STEP);
        let mut at = from;
        while at < to {
            // SAFETY: `at` lies within `bytes`; prefetch never faults.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    bytes.as_ptr().add(at).cast(),
                )
            };
            at += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (bytes, from);
}

/// Where two equal-length slices first differ, compared a page at a time
/// with a prefetch ahead on both.
pub(crate) fn first_mismatch(a: &[u8], b: &[u8]) -> Option<usize> {
    let mut at = 0;
    while at < a.len() {
        let end = a.len().min(at + STEP);
        prefetch(a, at + PREFETCH_AHEAD);
        prefetch(b, at + PREFETCH_AHEAD);
        if a[at..end] != b[at..end] {
            let i = a[at..end].iter().zip(&b[at..end]).position(|(x, y)| x != y);
            return Some(at + i.unwrap_or(0));
        }
        at = end;
    }
    None
}

fn install_handler() {
    INSTALL.call_once(|| {
        // SAFETY: sigaction with a handler that only reads this thread's
        // const-initialised thread-locals and calls mmap(2); the previous
        // action is saved before ours is in place, under `Once`.
        unsafe {
            let mut prev: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut prev) != 0 {
                return;
            }
            let _ = PREVIOUS.set(prev);
            let mut ours: libc::sigaction = std::mem::zeroed();
            ours.sa_sigaction = on_sigbus as *const () as usize;
            ours.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut ours.sa_mask);
            libc::sigaction(libc::SIGBUS, &ours, std::ptr::null_mut());
        }
    });
}

extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    let hit = GUARD
        .with(Cell::get)
        .iter()
        .position(|&(lo, hi)| addr >= lo && addr < hi);
    if let Some(i) = hit {
        let page = addr & !(page_size() - 1);
        // SAFETY: replaces one page inside this thread's own window (which
        // `Window` unmaps later) with zeros; mmap is safe in a handler.
        let p = unsafe {
            libc::mmap(
                page as *mut libc::c_void,
                page_size(),
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if p != libc::MAP_FAILED {
            FAULTED.with(|x| x.fetch_or(1 << i, Ordering::SeqCst));
            return;
        }
    }
    // Not ours: hand over to the previous action, or to the default one,
    // which kills the process when the faulting access is retried.
    match PREVIOUS.get().copied() {
        Some(p)
            if p.sa_sigaction != libc::SIG_DFL
                && p.sa_sigaction != libc::SIG_IGN
                && p.sa_flags & libc::SA_SIGINFO != 0 =>
        {
            // SAFETY: a handler installed with SA_SIGINFO takes these arguments.
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                unsafe { std::mem::transmute(p.sa_sigaction) };
            f(sig, info, ctx);
        }
        _ => {
            // SAFETY: restoring the default action for SIGBUS.
            unsafe {
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(libc::SIGBUS, &dfl, std::ptr::null_mut());
            }
        }
    }
}

fn page_size() -> usize {
    // 4 KiB on every Linux target envtwin runs on; sysconf is not on the
    // async-signal-safe list, so it is not called from the handler.
    4096
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn windows_read_and_hash_what_read_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..(2 * WINDOW + 12_345))
            .map(|i| (i * 31 % 253) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        let file = File::open(&path).unwrap();
        // An unaligned start, across two window boundaries.
        let mut got = Vec::new();
        let mapped = for_each_window(&file, 5_000, data.len() as u64, |b| {
            got.extend_from_slice(b)
        });
        assert!(mapped.unwrap());
        assert_eq!(got, &data[5_000..]);
        let mut h = Sha256::new();
        for_each_window(&file, 0, data.len() as u64, |b| hash_prefetched(&mut h, b)).unwrap();
        assert_eq!(h.finalize(), Sha256::digest(&data));
    }

    #[test]
    fn a_sparse_file_is_read_not_mapped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sparse");
        File::create(&path)
            .and_then(|f| f.set_len(64 << 20))
            .unwrap();
        let file = File::open(&path).unwrap();
        assert!(!dense(&file));
        assert!(!for_each_window(&file, 0, 64 << 20, |_| {}).unwrap());
        let got = first_difference(&file, &file, 0, 64 << 20).map_err(|e| e.1.to_string());
        assert_eq!(got, Ok(None));
    }

    #[test]
    fn first_difference_of_mapped_files() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..(WINDOW + 100_000)).map(|i| (i % 241) as u8).collect();
        let mut other = data.clone();
        other[WINDOW + 77] ^= 1;
        std::fs::write(dir.path().join("a"), &data).unwrap();
        std::fs::write(dir.path().join("b"), &other).unwrap();
        let a = File::open(dir.path().join("a")).unwrap();
        let b = File::open(dir.path().join("b")).unwrap();
        let n = data.len() as u64;
        let got = first_difference(&a, &b, 0, n).map_err(|e| e.1.to_string());
        assert_eq!(got, Ok(Some(Some(WINDOW as u64 + 77))));
        let got = first_difference(&a, &b, 8192, WINDOW as u64).map_err(|e| e.1.to_string());
        assert_eq!(got, Ok(Some(None)));
    }

    #[test]
    fn a_file_that_shrinks_under_its_window_is_an_error_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let (pa, pb) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&pa, vec![7u8; 64 << 10]).unwrap();
        std::fs::write(&pb, vec![7u8; 64 << 10]).unwrap();
        let (a, b) = (File::open(&pa).unwrap(), File::open(&pb).unwrap());
        let (wa, wb) = (
            Window::map(&a, 0, 64 << 10).unwrap(),
            Window::map(&b, 0, 64 << 10).unwrap(),
        );
        std::fs::OpenOptions::new()
            .write(true)
            .open(&pb)
            .and_then(|f| f.set_len(4096))
            .unwrap();
        let sum = |x: &[u8], y: &[u8]| x.iter().chain(y).map(|&v| u64::from(v)).sum::<u64>();
        // The bytes past the new end read as zeros; the shrunk file is named.
        assert_eq!(read_guarded(&wa, &wb, sum), Err(1));
        // The next windows read normally.
        let wa = Window::map(&a, 0, 64 << 10).unwrap();
        assert_eq!(read_guarded(&wa, &wa, sum), Ok(2 * 7 * (64 << 10)));
    }

    #[test]
    fn first_mismatch_finds_the_first_differing_byte() {
        let a: Vec<u8> = (0..20_000).map(|i| (i % 251) as u8).collect();
        let mut b = a.clone();
        assert_eq!(first_mismatch(&a, &b), None);
        b[12_345] ^= 1;
        b[19_999] ^= 1;
        assert_eq!(first_mismatch(&a, &b), Some(12_345));
        assert_eq!(first_mismatch(&a[..5], &b[..5]), None);
    }
}

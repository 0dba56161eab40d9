//! The file-time half of the `time` variation: an LD_PRELOAD shim
//! (`shim/timeshift.c`, built by `build.rs` and embedded here) that makes
//! the stat family report every file time as far ahead as libfaketime moves
//! build B's clock, and takes the shift off explicit times a build sets.
//!
//! Why: builds A and B run at the same moment, and the kernel stamps the
//! files each writes with the real time. A build that copies a source
//! file's mtime into its output (CPython's `.pyc` headers, `stat` in a
//! script) was caught only when the twins straddled a second boundary.
//! Debian's libfaketime 0.9.10 fakes `stat`/`__xstat` but not `stat64`,
//! `fstatat64` or `statx`, which glibc >= 2.33 programs call. With the shim,
//! every such time differs in B by the clock's shift, every run. Only
//! times from B's start on move: sources, host files and times a build
//! pins (to SOURCE_DATE_EPOCH, say) look to B as they look to A.
//!
//! What it cannot reach: statically linked programs and raw syscalls (Go
//! binaries, io_uring), which see real file times; and times the kernel
//! reports elsewhere (`/proc`, `getdents` carries none); and a time a
//! build sets explicitly between its start and its fake now reads back
//! shifted (the two frames overlap there).

use std::path::{Path, PathBuf};

/// The shim, compiled for this machine by `build.rs`.
const SHIM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/timeshift.so"));
/// Where the shim appears inside a sandbox (read-only).
pub const MOUNT: &str = "/envtwin/lib/timeshift.so";
/// The variable that tells the shim how many seconds to add.
pub const SHIFT_VAR: &str = "ENVTWIN_STAT_SHIFT";
/// The variable that tells the shim when the build started: only times
/// from then on (the files the build makes) are shifted; the sources, the
/// host's files and times pinned to SOURCE_DATE_EPOCH are not.
pub const SINCE_VAR: &str = "ENVTWIN_STAT_SINCE";

/// A build's start for [`SINCE_VAR`]: the real time now as
/// `SECONDS.NANOSECONDS`, less 20 ms because the kernel stamps files from a
/// coarse clock that lags the fine one by up to a tick.
pub fn since_now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_sub(std::time::Duration::from_millis(20));
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

/// Write the shim into `dir` (a run's private tree) and return its path,
/// to be bound read-only at [`MOUNT`].
pub fn install(dir: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("timeshift.so");
    std::fs::write(&path, SHIM)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

    fn touch(at: i64, path: &std::path::Path) {
        let ok = Command::new("touch")
            .arg("-d")
            .arg(format!("@{at}"))
            .arg(path)
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// `stat -c %Y` (statx), Python's `os.stat` (stat64), `touch -d` and
    /// `touch` under the shim and libfaketime, as build B runs them.
    #[test]
    fn file_times_from_the_build_on_move_with_the_clock_and_round_trip() {
        if !std::path::Path::new(LIBFAKETIME).exists() {
            eprintln!("skipping: libfaketime not installed");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let shim = super::install(dir.path()).unwrap();
        let shift: i64 = 400 * 86_400;
        // As if the build had started on 2019-01-01: `old` predates it
        // (a source), `new` is the build's own.
        let since: i64 = 1_546_300_800;
        let (old, new) = (dir.path().join("old"), dir.path().join("new"));
        for (p, t) in [(&old, 1_500_000_000), (&new, 1_577_836_800)] {
            std::fs::write(p, "x").unwrap();
            touch(t, p);
        }
        let script = r#"
            for f in "$1" "$2"; do
              stat -c %Y "$f"
              python3 -c 'import os, sys; print(int(os.stat(sys.argv[1]).st_mtime))' "$f"
            done
            touch -d @1700000000 "$3/late"; stat -c %Y "$3/late"
            touch -d @1400000000 "$3/pinned"; stat -c %Y "$3/pinned"
            touch "$3/now"; echo $(( $(stat -c %Y "$3/now") - $(date +%s) ))
        "#;
        let child = Command::new("sh")
            .args(["-c", script, "sh"])
            .args([&old, &new, &dir.path().to_path_buf()])
            .env("LD_PRELOAD", format!("{}:{LIBFAKETIME}", shim.display()))
            .env("FAKETIME", "+400d")
            .env("NO_FAKE_STAT", "1")
            .env(super::SHIFT_VAR, shift.to_string())
            .env(super::SINCE_VAR, since.to_string())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let out = child.wait_with_output().unwrap();
        // libfaketime shares its state with the children through POSIX
        // shared memory named after the first process, which it leaves in
        // the host's /dev/shm here (in a build, /dev/shm is the sandbox's).
        let _ = std::fs::remove_file(format!("/dev/shm/faketime_shm_{pid}"));
        let _ = std::fs::remove_file(format!("/dev/shm/sem.faketime_sem_{pid}"));
        let text = String::from_utf8_lossy(&out.stdout);
        let seen: Vec<i64> = text.lines().map(|l| l.trim().parse().unwrap()).collect();
        let want_new = 1_577_836_800 + shift;
        assert_eq!(
            seen[..6],
            [
                1_500_000_000,
                1_500_000_000,
                want_new,
                want_new,
                1_700_000_000,
                1_400_000_000
            ],
            "{text}"
        );
        assert!(
            seen[6].abs() <= 2,
            "a new file is as new as the fake clock: {text}"
        );
        use std::os::unix::fs::MetadataExt;
        let stored = |n: &str| std::fs::metadata(dir.path().join(n)).unwrap().mtime();
        assert_eq!(
            stored("late"),
            1_700_000_000 - shift,
            "kept in the real frame"
        );
        assert_eq!(stored("pinned"), 1_400_000_000);
    }
}

//! The sandbox's filesystem view: host root read-only, private /tmp, /dev,
//! /proc, and the writable trees envtwin made, then `pivot_root` into it.
//!
//! Runs as pid 1 of the new namespaces, after `unshare(CLONE_NEWNS)`.

use super::{SRC_MOUNT, SRC_PLAIN, SandboxSpec};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

type R<T> = Result<T, String>;

fn ctx<T, E: std::fmt::Display>(r: Result<T, E>, what: impl FnOnce() -> String) -> R<T> {
    r.map_err(|e| format!("{}: {e}", what()))
}

/// Host top-level entries the sandbox replaces with its own.
const REPLACED: &[&str] = &["proc", "dev", "tmp"];

/// Build the root under `spec.root_mount()` and pivot into it.
pub fn setup_root(spec: &SandboxSpec) -> R<()> {
    // Nothing we mount may propagate back to the host's namespace.
    ctx(
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        ),
        || "making / private".into(),
    )?;
    let root = spec.root_mount();
    tmpfs(&root, "mode=0755")?;
    let mut skeletons = vec![root.clone()];
    mirror_dir(Path::new("/"), &root, REPLACED)?;

    let proc_dir = root.join("proc");
    mkdir(&proc_dir)?;
    ctx(
        mount(
            Some("proc"),
            &proc_dir,
            Some("proc"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None::<&str>,
        ),
        || "mounting /proc".into(),
    )?;
    setup_dev(&root.join("dev"))?;
    skeletons.push(root.join("dev"));
    let tmp = root.join("tmp");
    mkdir(&tmp)?;
    tmpfs(&tmp, "mode=1777")?;

    let out_at = spec.out_storage_at.as_deref().unwrap_or(&spec.out);
    let mut targets: Vec<&str> = vec![out_at, &spec.build_dir, SRC_MOUNT];
    if spec.shuffle_src {
        targets.push(SRC_PLAIN);
    }
    if spec.out_storage_at.is_some()
        && let Some(parent) = Path::new(&spec.out).parent().and_then(|p| p.to_str())
    {
        targets.push(parent);
    }
    targets.extend(spec.empty_dirs.iter().map(String::as_str));
    targets.extend(spec.writable_mounts.iter().map(|(_, t)| t.as_str()));
    for t in &targets {
        ensure_dir(&root, t, &mut skeletons)?;
    }
    for (_, target) in &spec.readonly_binds {
        if let Some(parent) = Path::new(target).parent().and_then(|p| p.to_str()) {
            ensure_dir(&root, parent, &mut skeletons)?;
        }
    }
    if let Some(at) = &spec.out_storage_at {
        let link = inside(&root, &spec.out);
        let target = format!("{at}/result");
        ctx(std::os::unix::fs::symlink(&target, &link), || {
            format!("symlink {}", spec.out)
        })?;
    }
    bind(&spec.out_storage(), &inside(&root, out_at), false)?;
    bind(
        &spec.build_storage(),
        &inside(&root, &spec.build_dir),
        false,
    )?;
    // With fileordering, disorderfs (started after the pivot) mounts its
    // shuffled view on SRC_MOUNT; here only the plain view it reads from.
    let src_at = if spec.shuffle_src {
        SRC_PLAIN
    } else {
        SRC_MOUNT
    };
    bind(&spec.src, &inside(&root, src_at), true)?;
    for (host, target) in &spec.writable_mounts {
        bind(host, &inside(&root, target), false)?;
    }
    for (host, target) in &spec.readonly_binds {
        let at = inside(&root, target);
        if host.is_dir() {
            mkdir(&at)?;
        } else if std::fs::symlink_metadata(&at).is_err() {
            ctx(std::fs::File::create(&at), || {
                format!("creating {}", at.display())
            })?;
        }
        bind(host, &at, true)?;
    }
    // Seal the skeletons last: every mount point now exists.
    for s in skeletons.iter().rev() {
        ctx(
            mount(
                None::<&str>,
                s,
                None::<&str>,
                MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                None::<&str>,
            ),
            || format!("remounting {} read-only", s.display()),
        )?;
    }
    ctx(nix::unistd::chdir(&root), || "chdir to the new root".into())?;
    ctx(nix::unistd::pivot_root(".", "."), || "pivot_root".into())?;
    // The old root is stacked under the new one; detach it so the host's
    // tree is reachable only through the read-only binds.
    ctx(umount2(".", MntFlags::MNT_DETACH), || {
        "detaching the old root".into()
    })?;
    ctx(nix::unistd::chdir("/"), || "chdir /".into())?;
    Ok(())
}

/// Remount `$out` read-only so probes cannot change what gets hashed.
pub fn seal_out(out: &str) -> R<()> {
    ctx(
        mount(
            None::<&str>,
            out,
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
            None::<&str>,
        ),
        || format!("remounting {out} read-only"),
    )
}

fn inside(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

fn mkdir(p: &Path) -> R<()> {
    match std::fs::create_dir(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(format!("mkdir {}: {e}", p.display())),
    }
}

fn tmpfs(at: &Path, opts: &str) -> R<()> {
    ctx(
        mount(
            Some("tmpfs"),
            at,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(opts),
        ),
        || format!("mounting tmpfs on {}", at.display()),
    )
}

/// Recreate every entry of host directory `host` under `dst` (a writable
/// tmpfs): directories and files as read-only binds, symlinks as symlinks.
fn mirror_dir(host: &Path, dst: &Path, skip: &[&str]) -> R<()> {
    let rd = ctx(std::fs::read_dir(host), || {
        format!("reading {}", host.display())
    })?;
    for entry in rd.flatten() {
        let name = entry.file_name();
        if host == Path::new("/") && skip.iter().any(|s| name.as_bytes() == s.as_bytes()) {
            continue;
        }
        let src = entry.path();
        let to = dst.join(&name);
        let Ok(meta) = std::fs::symlink_metadata(&src) else {
            continue;
        };
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target = ctx(std::fs::read_link(&src), || {
                format!("readlink {}", src.display())
            })?;
            ctx(std::os::unix::fs::symlink(&target, &to), || {
                format!("symlink {}", to.display())
            })?;
        } else if ft.is_dir() {
            mkdir(&to)?;
            bind(&src, &to, true)?;
        } else {
            ctx(std::fs::File::create(&to), || {
                format!("creating {}", to.display())
            })?;
            bind(&src, &to, true)?;
        }
    }
    Ok(())
}

/// Make sure `path` (inside) exists as a directory under `root`. Where a
/// parent is a read-only host bind, it is replaced by a tmpfs "skeleton"
/// mirroring the host directory, in which the new directory can be made.
fn ensure_dir(root: &Path, path: &str, skeletons: &mut Vec<PathBuf>) -> R<()> {
    let mut host = PathBuf::from("/");
    let mut here = root.to_path_buf();
    for comp in Path::new(path).components().skip(1) {
        let parent_host = host.clone();
        host.push(comp);
        let parent = here.clone();
        here.push(comp);
        match std::fs::symlink_metadata(&here) {
            Ok(m) if m.is_dir() => continue,
            Ok(_) => {
                return Err(format!(
                    "{path}: {} exists in the sandbox and is not a directory",
                    host.display()
                ));
            }
            Err(_) => {}
        }
        if std::fs::create_dir(&here).is_err() {
            tmpfs(&parent, "mode=0755")?;
            mirror_dir(&parent_host, &parent, &[])?;
            skeletons.push(parent);
            mkdir(&here)?;
        }
    }
    Ok(())
}

fn bind(src: &Path, dst: &Path, readonly: bool) -> R<()> {
    ctx(
        mount(
            Some(src),
            dst,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        ),
        || format!("bind-mounting {} on {}", src.display(), dst.display()),
    )?;
    if readonly {
        make_readonly_recursive(dst)?;
    }
    Ok(())
}

/// `mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY)`: read-only for the bind
/// and every mount under it, which a plain remount cannot do in one step.
fn make_readonly_recursive(path: &Path) -> R<()> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    const MOUNT_ATTR_RDONLY: u64 = 0x1;
    const AT_RECURSIVE: libc::c_uint = 0x8000;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: valid NUL-terminated path and a correctly sized attr struct.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            c.as_ptr(),
            AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc != 0 {
        return Err(format!(
            "making {} read-only: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// A minimal /dev: the usual character devices bound from the host.
fn setup_dev(dev: &Path) -> R<()> {
    mkdir(dev)?;
    tmpfs(dev, "mode=0755")?;
    for name in ["null", "zero", "full", "random", "urandom", "tty", "fuse"] {
        let to = dev.join(name);
        ctx(std::fs::File::create(&to), || {
            format!("creating {}", to.display())
        })?;
        let from = Path::new("/dev").join(name);
        if from.exists() {
            ctx(
                mount(
                    Some(&from),
                    &to,
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                ),
                || format!("binding {}", from.display()),
            )?;
        }
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        ctx(std::os::unix::fs::symlink(target, dev.join(name)), || {
            format!("/dev/{name}")
        })?;
    }
    // A private devpts: Nix (and many build tools) open pseudoterminals.
    let pts = dev.join("pts");
    mkdir(&pts)?;
    ctx(
        mount(
            Some("devpts"),
            &pts,
            Some("devpts"),
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            Some("newinstance,ptmxmode=0666,mode=0620"),
        ),
        || "mounting /dev/pts".into(),
    )?;
    ctx(
        std::os::unix::fs::symlink("pts/ptmx", dev.join("ptmx")),
        || "/dev/ptmx".into(),
    )?;
    let shm = dev.join("shm");
    mkdir(&shm)?;
    tmpfs(&shm, "mode=1777")
}

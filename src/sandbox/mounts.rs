//! The sandbox's filesystem view (SPEC §3), built in the build's own mount
//! namespace and user namespace, then entered with `pivot_root`.
//!
//! A fresh tmpfs root holds only: the host's `/usr`, `/bin`, `/sbin`, `/lib*`
//! and `/opt` read-only; an `/etc` without secrets and with the build's own
//! `passwd`/`group`; a private `/proc` (its kernel knobs read-only) and
//! `/dev`; the build's private trees (`/tmp`, `HOME`, `$out`, the build
//! directory) `nosuid,nodev`; `$src` and `host_paths` read-only. Every
//! read-only mount is locked for the build: it holds no capability and cannot
//! make a user namespace in which to remount it.
//!
//! With `fileordering`, `$src`, the build directory and `$out` are bound at
//! hidden "plain" paths instead, and `inside` mounts disorderfs' shuffled
//! views of them at their usual places (`shuffled_views`).

use super::plan::HostEntry;
use super::{BUILD_PLAIN, OUT_PLAIN, SRC_MOUNT, SRC_PLAIN, SandboxSpec};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

type R<T> = Result<T, String>;

fn ctx<T, E: std::fmt::Display>(r: Result<T, E>, what: impl FnOnce() -> String) -> R<T> {
    r.map_err(|e| format!("{}: {e}", what()))
}

/// `/proc` entries that write to the whole machine (sysctls, SysRq, IRQ
/// affinity, bus settings): a build whose uid is the host's root would pass
/// their owner check, so they are read-only (as bubblewrap does).
const PROC_READONLY: &[&str] = &["sys", "sysrq-trigger", "irq", "bus", "fs"];

const RO: u64 = ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV;
const PRIVATE_TREE: u64 = ATTR_NOSUID | ATTR_NODEV;

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
    host_roots(&root, spec)?;
    etc(&root, spec)?;
    proc(&root)?;
    let shm_size = spec.limits.disk.min(super::limits::DEV_SHM_MAX);
    setup_dev(&root.join("dev"), shm_size)?;
    skeletons.push(root.join("dev"));
    private_trees(&root, spec, &mut skeletons)?;
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

/// `/usr`, `/lib*`, `/opt`, ... read-only; merged-/usr symlinks as symlinks.
fn host_roots(root: &Path, spec: &SandboxSpec) -> R<()> {
    for entry in &spec.host.roots {
        match entry {
            HostEntry::Symlink(at, target) => {
                let link = inside(root, &at.display().to_string());
                ctx(std::os::unix::fs::symlink(target, &link), || {
                    format!("symlink {}", at.display())
                })?;
            }
            HostEntry::Dir(dir) => {
                let to = inside(root, &dir.display().to_string());
                mkdir(&to)?;
                bind(dir, &to, RO)?;
            }
        }
    }
    Ok(())
}

/// The host's `/etc` read-only, with its secrets hidden behind empty files
/// and directories, and `passwd`/`group` naming the build's own user.
fn etc(root: &Path, spec: &SandboxSpec) -> R<()> {
    let to = root.join("etc");
    mkdir(&to)?;
    bind(Path::new("/etc"), &to, RO)?;
    // The sources of the binds below stay in the root tmpfs (read-only in
    // the end): a tmpfs with unlinked files in use cannot be made read-only.
    let staging = inside(root, super::ETC_STAGING);
    ctx(std::fs::create_dir_all(&staging), || {
        format!("mkdir {}", super::ETC_STAGING)
    })?;
    let empty_file = staging.join("empty");
    let empty_dir = staging.join("empty.d");
    ctx(std::fs::write(&empty_file, ""), || {
        "creating an empty file".into()
    })?;
    mkdir(&empty_dir)?;
    for (hidden, is_dir) in &spec.host.etc_hidden {
        let at = inside(root, &hidden.display().to_string());
        let from = if *is_dir { &empty_dir } else { &empty_file };
        bind(from, &at, RO)?;
    }
    let (passwd, group) = super::plan::passwd_group(spec.uid, spec.gid, &spec.home);
    for (name, text) in [("passwd", passwd), ("group", group)] {
        let staged = staging.join(name);
        ctx(std::fs::write(&staged, text), || format!("writing {name}"))?;
        bind(&staged, &to.join(name), RO)?;
    }
    for target in &spec.host.etc_link_targets {
        let at = inside(root, &target.display().to_string());
        if let Some(parent) = at.parent() {
            ctx(std::fs::create_dir_all(parent), || {
                format!("mkdir {}", parent.display())
            })?;
        }
        ctx(std::fs::write(&at, ""), || {
            format!("creating {}", at.display())
        })?;
        bind(target, &at, RO)?;
    }
    Ok(())
}

/// The build's own `/proc` (its pid namespace), machine-wide knobs read-only.
fn proc(root: &Path) -> R<()> {
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
        || {
            "mounting /proc (in a container whose /proc has masked paths, run it with \
             `--security-opt systempaths=unconfined` or give it an unmasked /proc)"
                .into()
        },
    )?;
    for name in PROC_READONLY {
        let p = proc_dir.join(name);
        if p.exists() {
            bind(&p, &p, RO | ATTR_NOEXEC)?;
        }
    }
    Ok(())
}

/// `/tmp`, `HOME`, `$out`, the build directory and the provider's writable
/// mounts (`nosuid,nodev`), then `$src`, the provider's read-only binds and
/// `host_paths` (read-only).
fn private_trees(root: &Path, spec: &SandboxSpec, skeletons: &mut Vec<PathBuf>) -> R<()> {
    let out_at = spec.out_storage_at.as_deref().unwrap_or(&spec.out);
    let mut targets: Vec<&str> = vec!["/tmp", &spec.home, out_at, &spec.build_dir, SRC_MOUNT];
    let views = shuffled_views(spec);
    targets.extend(views.iter().map(|v| v.plain));
    if spec.out_storage_at.is_some()
        && let Some(parent) = Path::new(&spec.out).parent().and_then(|p| p.to_str())
    {
        targets.push(parent);
    }
    targets.extend(spec.empty_dirs.iter().map(String::as_str));
    targets.extend(spec.writable_mounts.iter().map(|(_, t)| t.as_str()));
    for t in &targets {
        ensure_dir(root, t, skeletons)?;
    }
    for (_, target) in &spec.readonly_binds {
        if let Some(parent) = Path::new(target).parent().and_then(|p| p.to_str()) {
            ensure_dir(root, parent, skeletons)?;
        }
    }
    if let Some(at) = &spec.out_storage_at {
        let link = inside(root, &spec.out);
        let target = format!("{at}/result");
        ctx(std::os::unix::fs::symlink(&target, &link), || {
            format!("symlink {}", spec.out)
        })?;
    }
    bind(&spec.tmp_storage(), &inside(root, "/tmp"), PRIVATE_TREE)?;
    bind(
        &spec.home_storage(),
        &inside(root, &spec.home),
        PRIVATE_TREE,
    )?;
    // With fileordering, disorderfs (started after the pivot) mounts its
    // shuffled views on these; here only the plain views it serves.
    let (out_at, build_at) = (
        plain_or_path(&views, out_at),
        plain_or_path(&views, &spec.build_dir),
    );
    bind(&spec.out_storage(), &inside(root, out_at), PRIVATE_TREE)?;
    bind(&spec.build_storage(), &inside(root, build_at), PRIVATE_TREE)?;
    bind(
        &spec.src,
        &inside(root, plain_or_path(&views, SRC_MOUNT)),
        RO,
    )?;
    for (host, target) in &spec.writable_mounts {
        bind(host, &inside(root, target), PRIVATE_TREE)?;
    }
    for (host, target) in &spec.readonly_binds {
        let at = inside(root, target);
        if host.is_dir() {
            mkdir(&at)?;
        } else if std::fs::symlink_metadata(&at).is_err() {
            ctx(std::fs::File::create(&at), || {
                format!("creating {}", at.display())
            })?;
        }
        bind(host, &at, RO)?;
    }
    Ok(())
}

/// One of disorderfs' shuffled views (`fileordering`): the tree bound at
/// `plain` is served at `at`, with every directory listing shuffled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShuffledView<'a> {
    pub plain: &'a str,
    pub at: &'a str,
    pub writable: bool,
}

/// What `fileordering` shuffles: `$src` (read-only), and, as reprotest runs
/// the whole build tree through disorderfs, the build directory and `$out`
/// (writable), so that a build whose output depends on the order in which
/// it lists files it created itself (`tar cf x.tar .` in `$out`, a glob in
/// the build directory) is caught too. `$out` is left alone where it is the
/// nix provider's result link (`out_storage_at`): nix writes the store
/// path, not that directory.
pub fn shuffled_views(spec: &SandboxSpec) -> Vec<ShuffledView<'_>> {
    if !spec.shuffle_dirents {
        return Vec::new();
    }
    let mut views = vec![
        ShuffledView {
            plain: SRC_PLAIN,
            at: SRC_MOUNT,
            writable: false,
        },
        ShuffledView {
            plain: BUILD_PLAIN,
            at: &spec.build_dir,
            writable: true,
        },
    ];
    if spec.out_storage_at.is_none() {
        views.push(ShuffledView {
            plain: OUT_PLAIN,
            at: &spec.out,
            writable: true,
        });
    }
    views
}

/// Where the tree that belongs at `at` is bound: its plain path if
/// disorderfs serves it shuffled there, else `at` itself.
fn plain_or_path<'a>(views: &[ShuffledView<'a>], at: &'a str) -> &'a str {
    views.iter().find(|v| v.at == at).map_or(at, |v| v.plain)
}

/// Set the flags of a private tree (`nosuid,nodev`, and read-only for
/// `$src`) on a shuffled view once disorderfs has mounted it, whatever
/// libfuse's own defaults.
pub fn lock_shuffled(view: &ShuffledView) -> R<()> {
    set_attrs(
        Path::new(view.at),
        if view.writable { PRIVATE_TREE } else { RO },
    )
}

/// Remount `$out` read-only so probes cannot change what gets hashed.
pub fn seal_out(out: &str) -> R<()> {
    set_attrs(Path::new(out), RO)
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
fn mirror_dir(host: &Path, dst: &Path) -> R<()> {
    let rd = ctx(std::fs::read_dir(host), || {
        format!("reading {}", host.display())
    })?;
    for entry in rd.flatten() {
        let name = entry.file_name();
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
            bind(&src, &to, RO)?;
        } else {
            ctx(std::fs::File::create(&to), || {
                format!("creating {}", to.display())
            })?;
            bind(&src, &to, RO)?;
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
            // Only the read-only host roots can be mirrored: a skeleton of
            // /etc would show the secrets its own binds hide.
            if ["/etc", "/proc", "/dev"]
                .iter()
                .any(|p| parent_host.starts_with(p))
            {
                return Err(format!(
                    "{path}: a build's trees cannot be made under {}",
                    parent_host.display()
                ));
            }
            tmpfs(&parent, "mode=0755")?;
            mirror_dir(&parent_host, &parent)?;
            skeletons.push(parent);
            mkdir(&here)?;
        }
    }
    Ok(())
}

/// Bind `src` on `dst` (recursively), then set `attrs` on every mount of it.
fn bind(src: &Path, dst: &Path, attrs: u64) -> R<()> {
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
    if attrs != 0 {
        set_attrs(dst, attrs)?;
    }
    Ok(())
}

const ATTR_RDONLY: u64 = 0x1;
const ATTR_NOSUID: u64 = 0x2;
const ATTR_NODEV: u64 = 0x4;
const ATTR_NOEXEC: u64 = 0x8;

/// `mount_setattr(AT_RECURSIVE)`: set `attrs` (read-only, nosuid, ...) on the
/// mount at `path` and every mount under it, which a plain remount cannot
/// do in one step.
fn set_attrs(path: &Path, attrs: u64) -> R<()> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    const AT_RECURSIVE: libc::c_uint = 0x8000;
    let attr = MountAttr {
        attr_set: attrs,
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
            "setting mount flags on {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// A minimal /dev: the usual character devices bound from the host, and a
/// `/dev/shm` of at most `shm_size` bytes (it is RAM, outside `limits.disk`'s
/// watch).
fn setup_dev(dev: &Path, shm_size: u64) -> R<()> {
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
    tmpfs(&shm, &format!("mode=1777,size={shm_size}"))
}

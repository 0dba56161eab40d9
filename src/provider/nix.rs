//! The nix provider (SPEC §8): `nix-build` or `nix-shell --pure` on the
//! scenario's expression, each build with its own empty store at `/nix`.
//!
//! Both builds realise everything from scratch at identical store paths; the
//! environment hash covers every realised store path with its NAR hash.

use super::Prepared;
use crate::sandbox::plan::{BuildCommand, HashKind};
use crate::sandbox::{NIX_LINKS as LINKS, NIX_SHELL_DIR as SHELL_DIR, SRC_MOUNT};
use crate::scenario::{NixMode, NixSpec, Scenario};
use std::path::{Path, PathBuf};

/// File (in the `$out` storage) listing the store paths to hash.
pub const CLOSURE_FILE: &str = "closure";
/// How to get Nix on a Debian machine.
pub const INSTALL_HINT: &str = "install it with `apt-get install -y nix-bin busybox-static`";

/// Nix settings for an offline, private, single-user store as root or not.
const NIX_CONFIG: &str =
    "substituters =\nbuild-users-group =\nsandbox = false\nexperimental-features = nix-command\n";

/// Find a Nix tool: in `$ENVTWIN_NIX_BIN` if set (a directory), else on the
/// usual system PATH. The sandbox sees the host's root, so the same path
/// works inside.
fn find_tool(name: &str) -> Option<PathBuf> {
    let dirs: Vec<PathBuf> = match std::env::var_os("ENVTWIN_NIX_BIN") {
        Some(d) => vec![PathBuf::from(d)],
        None => crate::sandbox::plan::BASE_PATH
            .split(':')
            .map(PathBuf::from)
            .collect(),
    };
    dirs.iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// Translate a host path under the scenario directory to its `$src` path.
fn in_src(s: &Scenario, host: &Path) -> Result<String, String> {
    let rel = host.strip_prefix(&s.dir).map_err(|_| {
        format!(
            "{} is outside the scenario directory {}; only that directory is visible in the sandbox (as $src)",
            host.display(),
            s.dir.display()
        )
    })?;
    Ok(Path::new(SRC_MOUNT).join(rel).display().to_string())
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Prepare a nix scenario, or skip it when Nix is not installed.
pub fn prepare(s: &Scenario, nix: &NixSpec) -> Prepared {
    let tools: Vec<Option<PathBuf>> = ["nix-build", "nix-shell", "nix-store"]
        .iter()
        .map(|t| find_tool(t))
        .collect();
    let [Some(nix_build), Some(nix_shell), Some(nix_store)] = tools.as_slice() else {
        return Prepared::Skip(format!("nix-build is not installed; {INSTALL_HINT}"));
    };
    match command(s, nix, nix_build, nix_shell, nix_store) {
        Ok(c) => Prepared::Ready(Box::new(c)),
        Err(e) => Prepared::Fail(e),
    }
}

fn command(
    s: &Scenario,
    nix: &NixSpec,
    nix_build: &Path,
    nix_shell: &Path,
    nix_store: &Path,
) -> Result<BuildCommand, String> {
    // What to evaluate: the file (and attribute), or `-p PACKAGES` like `nix-shell -p`.
    let mut source: Vec<String> = match &nix.file {
        Some(f) => vec![in_src(s, f)?],
        None => std::iter::once("-p".to_string())
            .chain(nix.packages.iter().cloned())
            .collect(),
    };
    if let Some(a) = &nix.attr {
        source.extend(["-A".to_string(), a.clone()]);
    }
    let mut nix_path = Vec::new();
    for (name, host) in &nix.nix_path {
        nix_path.push(format!("{name}={}", in_src(s, host)?));
    }
    let mut env = vec![
        ("NIX_CONFIG".to_string(), NIX_CONFIG.to_string()),
        ("NIX_PATH".to_string(), nix_path.join(":")),
        // HOME does not exist; give Nix a cache it may write.
        ("XDG_CACHE_HOME".to_string(), "/tmp/.cache".to_string()),
    ];
    let (nb, ns, nst) = (
        nix_build.display(),
        nix_shell.display(),
        nix_store.display(),
    );
    let source_q: Vec<String> = source.iter().map(|a| sh_quote(a)).collect();
    let source_q = source_q.join(" ");
    let mut cmd = BuildCommand {
        env: Vec::new(),
        writable_mounts: vec![("nix".into(), "/nix".into())],
        hash: HashKind::NixClosure,
        ..Default::default()
    };
    let mut inside = vec!["/nix/store".to_string()];
    // Shell mode runs the probes inside `nix-shell --pure ... --run`.
    let mut probe_wrapper = Vec::new();
    let script = match nix.mode {
        NixMode::Build => {
            cmd.out_storage_at = Some(LINKS.into());
            inside.push(LINKS.into());
            format!(
                "{nb} {source_q} -o {LINKS}/result\n{nst} -qR {LINKS}/result > {LINKS}/{CLOSURE_FILE}\n"
            )
        }
        NixMode::Shell => {
            let bash = std::fs::canonicalize("/bin/bash")
                .map_err(|e| format!("nix-shell needs bash: /bin/bash: {e}"))?;
            let exe = std::env::current_exe()
                .map_err(|e| format!("cannot find envtwin's binary: {e}"))?;
            cmd.readonly_binds = vec![
                (bash, format!("{SHELL_DIR}/bash")),
                (exe, crate::sandbox::PROBE_EXE.to_string()),
            ];
            env.push(("NIX_BUILD_SHELL".into(), format!("{SHELL_DIR}/bash")));
            let mut wrapper = vec![ns.to_string(), "--pure".into()];
            wrapper.extend(source.iter().cloned());
            wrapper.push("--run".into());
            probe_wrapper = wrapper;
            // nix-shell realises the shell's inputs; the environment is then
            // everything this private store holds.
            format!(
                "{ns} --pure {source_q} --run true\nmkdir -p \"$out\"\nfor p in /nix/store/*; do echo \"$p\"; done > \"$out/{CLOSURE_FILE}\"\n"
            )
        }
    };
    cmd.argv = vec!["/bin/sh".into(), "-eu".into(), "-c".into(), script];
    cmd.env = env;
    cmd.probe = super::probe_request(s, inside);
    cmd.probe.wrapper = probe_wrapper;
    Ok(cmd)
}

/// The environment hash of a nix build: every store path listed in the
/// closure file, each with its NAR hash, in sorted order, hashed together.
/// Returns the hash and store path -> NAR hash (SRI). Hashing stops at
/// `deadline` (the scenario's), as a tree's does: a closure can be large.
pub fn closure_hash(
    out_storage: &Path,
    store: &Path,
    deadline: Option<std::time::Instant>,
) -> Result<
    (
        crate::tree::TreeHash,
        std::collections::BTreeMap<String, String>,
    ),
    String,
> {
    use rayon::prelude::*;
    use sha2::{Digest, Sha256};
    let list = out_storage.join(CLOSURE_FILE);
    let text = std::fs::read_to_string(&list)
        .map_err(|e| format!("no closure list {}: {e}", list.display()))?;
    let mut paths: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("/nix/store/"))
        .collect();
    paths.sort_unstable();
    paths.dedup();
    let hashed: Vec<(String, crate::tree::TreeHash)> = paths
        .par_iter()
        .map(|p| {
            let name = &p["/nix/store/".len()..];
            let bound = crate::tree::Bound {
                deadline,
                ..Default::default()
            };
            crate::tree::hash_path_within(&store.join(name), bound)
                .map(|h| (p.to_string(), h))
                .map_err(|e| match e {
                    crate::tree::TreeError::Stopped { reason, .. } => reason,
                    e => e.to_string(),
                })
        })
        .collect::<Result<_, _>>()?;
    let mut total = Sha256::new();
    let (mut files, mut bytes) = (0, 0);
    let mut components = std::collections::BTreeMap::new();
    for (p, h) in hashed {
        total.update(format!("{p} {}\n", h.sri).as_bytes());
        files += h.files;
        bytes += h.bytes;
        components.insert(p, h.sri);
    }
    use base64::Engine;
    let sri = format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(total.finalize())
    );
    Ok((crate::tree::TreeHash { sri, files, bytes }, components))
}

/// Differences between two builds' closures: store paths on one side only,
/// and for paths in both with different NAR hashes, the files inside them,
/// explained (`diff_trees` fills each `detail`).
pub fn closure_diff(
    a: (&std::collections::BTreeMap<String, String>, &Path),
    b: (&std::collections::BTreeMap<String, String>, &Path),
) -> Result<Vec<crate::tree::Difference>, String> {
    use crate::tree::{DiffKind, Difference};
    let mut out = Vec::new();
    for (p, ha) in a.0 {
        match b.0.get(p) {
            None => out.push(Difference {
                path: p.clone(),
                kind: DiffKind::OnlyInA,
                a: Some(ha.clone()),
                b: None,
                culprits: Vec::new(),
                inherent: false,
                members: Vec::new(),
                detail: None,
            }),
            Some(hb) if hb != ha => {
                let name = &p["/nix/store/".len()..];
                let inner = crate::tree::diff_differing(&a.1.join(name), &b.1.join(name))
                    .map_err(|e| e.to_string())?;
                out.extend(inner.into_iter().map(|mut d| {
                    d.path = if d.path.is_empty() {
                        p.clone()
                    } else {
                        format!("{p}/{}", d.path)
                    };
                    d
                }));
            }
            Some(_) => {}
        }
    }
    for (p, hb) in b.0 {
        if !a.0.contains_key(p) {
            out.push(Difference {
                path: p.clone(),
                kind: DiffKind::OnlyInB,
                a: None,
                b: Some(hb.clone()),
                culprits: Vec::new(),
                inherent: false,
                members: Vec::new(),
                detail: None,
            });
        }
    }
    out.sort_by(|x, y| x.path.cmp(&y.path));
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn closure_hashing_stops_at_the_deadline() {
        let out = tempfile::tempdir().unwrap();
        let store = tempfile::tempdir().unwrap();
        let big = store.path().join("abc-big");
        std::fs::create_dir(&big).unwrap();
        std::fs::write(big.join("data"), vec![7u8; 8 << 20]).unwrap();
        std::fs::write(out.path().join(super::CLOSURE_FILE), "/nix/store/abc-big\n").unwrap();
        let whole = super::closure_hash(out.path(), store.path(), None).expect("hashed");
        assert_eq!(whole.1.len(), 1);
        assert_eq!(whole.0.bytes, 8 << 20);
        let past = std::time::Instant::now();
        let cut = super::closure_hash(out.path(), store.path(), Some(past)).unwrap_err();
        assert!(
            cut.starts_with("hashing stopped at the scenario's deadline"),
            "{cut}"
        );
    }
}

//! Twin builds: build A and build B of one scenario at the same time, each in
//! its own sandbox, then hash both `$out` trees and list their differences.

use crate::probe::Probes;
use crate::provider;
use crate::sandbox::{self, lifetime, limits, plan, variation::Variation};
use crate::scenario::Scenario;
use crate::tree::{self, Difference, TreeHash};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

/// How a build ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BuildStatus {
    Ok,
    Failed,
    Timeout,
}

/// One build's outcome, as later stages need it.
#[derive(Debug, Clone)]
pub struct BuildOutcome {
    pub status: BuildStatus,
    pub exit_code: Option<i32>,
    /// Why the tree has no hash (e.g. a fifo in `$out`), or the signal.
    pub problem: Option<String>,
    pub hash: Option<TreeHash>,
    pub probes: Option<Probes>,
    pub variations: BTreeMap<String, String>,
    pub stderr_tail: String,
    pub duration: Duration,
    /// Host path of this build's `$out` storage (gone unless kept).
    pub tree: PathBuf,
    /// Nix builds: the private store, and each closure path's NAR hash.
    pub store: Option<(PathBuf, BTreeMap<String, String>)>,
    /// Per-file manifest, when asked for (`TwinOptions::want_manifest`).
    pub manifest: Option<tree::Manifest>,
    /// Each limit of the build, with how it was enforced, e.g. `memory` ->
    /// `4 GiB (cgroup v1)`.
    pub limits: BTreeMap<String, String>,
    /// Bytes of build output dropped by `limits.log`.
    pub log_dropped: u64,
}

/// Both builds of a scenario and how their trees differ.
#[derive(Debug, Clone)]
pub struct TwinOutcome {
    pub a: BuildOutcome,
    pub b: BuildOutcome,
    pub differences: Vec<Difference>,
    /// Variations selected but not available here: name -> reason.
    pub unavailable: BTreeMap<String, String>,
    /// Where the trees were kept (`--keep`).
    pub kept: Option<PathBuf>,
    /// Which variations cause the difference, when it was searched.
    pub culprits: Option<Culprits>,
}

/// The answer of the culprit search: rebuild B with each variation alone,
/// and with none, and see which builds still differ from A.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Culprits {
    /// Variations that alone reproduce a difference from build A.
    pub culprits: Vec<String>,
    /// The builds differ even with no variation (randomness, fine clocks).
    pub inherent: bool,
}

/// Options of `run` that shape the twin builds.
#[derive(Debug, Clone, Default)]
pub struct TwinOptions {
    /// Variations forced from the command line (overrides the scenario).
    pub vary: Option<BTreeSet<Variation>>,
    pub keep: bool,
    /// A scenario whose provider is not installed fails instead of skipping.
    pub require_providers: bool,
    /// The workdir the user chose (or the default): kept trees go here.
    pub workdir: PathBuf,
    /// This run's own locked directory in the workdir (`lifetime::RunDir`),
    /// where the builds' trees are created.
    pub run_dir: PathBuf,
    /// Record build A's per-file manifest (for snapshots).
    pub want_manifest: bool,
    /// Search the culprit variations when the builds differ.
    pub explain: bool,
}

/// Where build trees go by default: `/dev/shm` when it is a writable tmpfs
/// with room (builds are metadata-heavy: a venv or a Nix store is thousands
/// of small files and symlinks, 2-3x faster on tmpfs than on a disk), else
/// the system temp dir.
pub fn default_workdir() -> PathBuf {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    const ROOM: u64 = 4 << 30;
    let shm = PathBuf::from("/dev/shm");
    if let Ok(st) = nix::sys::statfs::statfs(&shm) {
        let free = st.blocks_available() * st.block_size() as u64;
        let writable = nix::unistd::access(&shm, nix::unistd::AccessFlags::W_OK).is_ok();
        if st.filesystem_type().0 == TMPFS_MAGIC && free >= ROOM && writable {
            return shm;
        }
    }
    std::env::temp_dir()
}

/// Which variations build B gets for this scenario.
pub fn selected_variations(s: &Scenario, opts: &TwinOptions) -> BTreeSet<Variation> {
    match (&opts.vary, &s.vary) {
        (Some(v), _) => v.clone(),
        (None, Some(v)) => v.iter().copied().collect(),
        (None, None) => Variation::ALL.iter().copied().collect(),
    }
}

/// Build the scenario twice in parallel and compare. `Err` is a harness error.
pub fn build(
    s: &Scenario,
    command: &plan::BuildCommand,
    opts: &TwinOptions,
) -> Result<TwinOutcome, String> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("{}-", s.name))
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir_in(&opts.run_dir)
        .map_err(|e| {
            format!(
                "cannot create a temp dir in {}: {e}",
                opts.run_dir.display()
            )
        })?
        .keep();
    lifetime::register_tree(dir.clone());
    let result = build_in(s, command, opts, dir.clone());
    lifetime::unregister_tree(&dir);
    let kept = match (&result, opts.keep) {
        (Ok(_), true) => Some(keep(&dir, &opts.workdir, &s.name)?),
        _ => {
            let _ = lifetime::remove_tree(&dir);
            None
        }
    };
    let mut outcome = result?;
    outcome.kept = kept;
    Ok(outcome)
}

/// Move a tree out of the run dir, which goes when the run ends, to a
/// `envtwin-kept-*` dir beside it, which stays (and no sweep removes).
fn keep(dir: &std::path::Path, workdir: &std::path::Path, name: &str) -> Result<PathBuf, String> {
    let to = tempfile::Builder::new()
        .prefix(&format!("{}{name}-", lifetime::KEPT_PREFIX))
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir_in(workdir)
        .map_err(|e| format!("cannot keep the trees in {}: {e}", workdir.display()))?
        .keep();
    // Renamed over the empty placeholder: same filesystem, one step.
    std::fs::rename(dir, &to).map_err(|e| {
        format!(
            "cannot keep the trees: moving {} to {}: {e}",
            dir.display(),
            to.display()
        )
    })?;
    Ok(to)
}

fn build_in(
    s: &Scenario,
    command: &plan::BuildCommand,
    opts: &TwinOptions,
    dir: PathBuf,
) -> Result<TwinOutcome, String> {
    let input = plan::PlanInput {
        out: &s.out,
        src: &s.dir,
        network: s.network,
        source_date_epoch: s.source_date_epoch,
        host_paths: &s.host_paths,
        command,
        limits: s.limits,
    };
    let p = plan::plan(
        &input,
        &selected_variations(s, opts),
        dir.join("a"),
        dir.join("b"),
    );
    let timeout = s.timeout;
    let (a, b) = std::thread::scope(|scope| {
        let ha = scope.spawn(|| one(&p.a, &p.values_a, timeout, command.hash));
        let hb = scope.spawn(|| one(&p.b, &p.values_b, timeout, command.hash));
        (join(ha), join(hb))
    });
    let (mut a, b) = (a?, b?);
    if opts.want_manifest && a.status == BuildStatus::Ok {
        a.manifest = Some(build_manifest(&a)?);
    }
    let hashes_differ = matches!((&a.hash, &b.hash), (Some(x), Some(y)) if x.sri != y.sri);
    let mut differences = match (&a.store, &b.store) {
        _ if !hashes_differ => Vec::new(),
        (Some((sa, ca)), Some((sb, cb))) => provider::nix::closure_diff((ca, sa), (cb, sb))?,
        _ => tree::diff_differing(&a.tree, &b.tree).map_err(|e| e.to_string())?,
    };
    let culprits = if opts.explain && !differences.is_empty() && a.status == BuildStatus::Ok {
        Some(find_culprits(
            &input,
            &p.applied,
            &a,
            &mut differences,
            &dir,
            timeout,
        )?)
    } else {
        None
    };
    Ok(TwinOutcome {
        a,
        b,
        differences,
        unavailable: p.unavailable,
        kept: None,
        culprits,
    })
}

/// Rebuild B once per applied variation alone and once with none, all in
/// parallel, and compare each with build A (the control, already built).
/// Marks each difference with the variations that alone change its path.
fn find_culprits(
    input: &plan::PlanInput<'_>,
    applied: &[Variation],
    a: &BuildOutcome,
    differences: &mut [Difference],
    dir: &std::path::Path,
    timeout: Duration,
) -> Result<Culprits, String> {
    let mut trials: Vec<Option<Variation>> = vec![None];
    trials.extend(applied.iter().copied().map(Some));
    let specs: Vec<(Option<Variation>, plan::Plan)> = trials
        .iter()
        .map(|v| {
            let name = v.map_or("none", |v| v.name());
            let set: BTreeSet<Variation> = v.iter().copied().collect();
            let p = plan::plan(
                input,
                &set,
                dir.join("unused"),
                dir.join(format!("alone-{name}")),
            );
            (*v, p)
        })
        .collect();
    let results: Vec<(Option<Variation>, Result<BuildOutcome, String>)> =
        std::thread::scope(|scope| {
            let handles: Vec<_> = specs
                .iter()
                .map(|(v, p)| {
                    (
                        *v,
                        scope.spawn(move || one(&p.b, &p.values_b, timeout, input.command.hash)),
                    )
                })
                .collect();
            handles.into_iter().map(|(v, h)| (v, join(h))).collect()
        });
    let manifest_a = match &a.manifest {
        Some(m) => m.clone(),
        None => build_manifest(a)?,
    };
    let mut changed: BTreeMap<Option<Variation>, BTreeSet<String>> = BTreeMap::new();
    for (v, r) in &results {
        let b = r.as_ref().map_err(|e| e.clone())?;
        let same = b.status == BuildStatus::Ok
            && b.hash.as_ref().map(|h| &h.sri) == a.hash.as_ref().map(|h| &h.sri);
        if same {
            continue;
        }
        // A build that fails or cannot be hashed under a variation is caused
        // by it as much as a changed file is; it then touches every path.
        let paths: BTreeSet<String> = match (b.status, build_manifest(b)) {
            (BuildStatus::Ok, Ok(m)) => tree::diff_manifests(&manifest_a, &m)
                .into_iter()
                .map(|d| d.path)
                .collect(),
            _ => differences.iter().map(|d| d.path.clone()).collect(),
        };
        changed.insert(*v, paths);
    }
    for (_, p) in &specs {
        let _ = std::fs::remove_dir_all(&p.b.work);
    }
    let inherent_paths = changed.get(&None).cloned();
    let inherent = inherent_paths.is_some();
    let mut culprits = Vec::new();
    for v in applied {
        let Some(paths) = changed.get(&Some(*v)) else {
            continue;
        };
        // With inherent noise, a variation counts only where it changes a
        // path the noise alone does not.
        let beyond_noise = match &inherent_paths {
            Some(noise) => paths.iter().any(|p| !noise.contains(p)),
            None => !paths.is_empty(),
        };
        if beyond_noise {
            culprits.push(v.name().to_string());
        }
    }
    for d in differences.iter_mut() {
        // A path that differs with no variation at all cannot be pinned on one.
        d.inherent = inherent_paths
            .as_ref()
            .is_some_and(|noise| noise.contains(&d.path));
        if d.inherent {
            continue;
        }
        d.culprits = applied
            .iter()
            .filter(|v| changed.get(&Some(**v)).is_some_and(|p| p.contains(&d.path)))
            .filter(|v| culprits.iter().any(|c| c == v.name()))
            .map(|v| v.name().to_string())
            .collect();
    }
    Ok(Culprits { culprits, inherent })
}

/// The per-file manifest of a build: `$out`, or each closure store path's
/// files keyed `/nix/store/<name>/<path>`.
fn build_manifest(b: &BuildOutcome) -> Result<tree::Manifest, String> {
    let Some((store, closure)) = &b.store else {
        return tree::manifest(&b.tree).map_err(|e| e.to_string());
    };
    let mut all = tree::Manifest::new();
    for p in closure.keys() {
        let name = &p["/nix/store/".len()..];
        let m = tree::manifest(&store.join(name)).map_err(|e| e.to_string())?;
        for (k, v) in m {
            let key = if k.is_empty() {
                p.clone()
            } else {
                format!("{p}/{k}")
            };
            all.insert(key, v);
        }
    }
    Ok(all)
}

/// Each limit with its figure and how it was enforced, for the report.
fn limits_in_force(l: &limits::Limits, how: &limits::InForce) -> BTreeMap<String, String> {
    let figures = [
        ("memory", limits::format_size(l.memory)),
        ("pids", l.pids.to_string()),
        ("disk", limits::format_size(l.disk)),
        ("log", limits::format_size(l.log)),
    ];
    figures
        .into_iter()
        .map(|(name, figure)| {
            let text = match how.get(name) {
                Some(m) => format!("{figure} ({m})"),
                None => figure,
            };
            (name.to_string(), text)
        })
        .collect()
}

fn join(
    h: std::thread::ScopedJoinHandle<'_, Result<BuildOutcome, String>>,
) -> Result<BuildOutcome, String> {
    h.join()
        .unwrap_or_else(|_| Err("a build thread panicked".into()))
}

fn one(
    spec: &sandbox::SandboxSpec,
    values: &BTreeMap<String, String>,
    timeout: Duration,
    kind: plan::HashKind,
) -> Result<BuildOutcome, String> {
    std::fs::create_dir_all(&spec.work).map_err(|e| format!("{}: {e}", spec.work.display()))?;
    for (host, _) in &spec.writable_mounts {
        std::fs::create_dir_all(host).map_err(|e| format!("{}: {e}", host.display()))?;
    }
    let o = sandbox::run(spec, timeout)?;
    let tree = spec.out_storage();
    let mut outcome = BuildOutcome {
        status: BuildStatus::Failed,
        exit_code: o.result.exit_code,
        problem: o.result.signal.map(|s| format!("killed by signal {s}")),
        hash: None,
        probes: o.result.probes,
        variations: values.clone(),
        stderr_tail: o.log_tail,
        duration: o.duration,
        tree,
        store: None,
        manifest: None,
        limits: limits_in_force(&spec.limits, &o.in_force),
        log_dropped: o.result.log_dropped,
    };
    // A file past RLIMIT_FSIZE kills its writer with SIGXFSZ: the build
    // went past limits.disk, whether the shell reports it or a signal does.
    let xfsz = outcome.exit_code == Some(limits::SHELL_XFSZ_STATUS)
        || o.result.signal == Some(libc::SIGXFSZ);
    if let Some(which) = o.exceeded.or(xfsz.then_some(limits::Which::Disk)) {
        outcome.problem = Some(limits::exceeded(which, &spec.limits));
        return Ok(outcome);
    }
    // A fork refused counts even if the build went on, as under a cgroup.
    if let Some(which) = limits::rlimit_telltale(&outcome.stderr_tail, &o.in_force)
        .filter(|w| *w == limits::Which::Pids || outcome.exit_code != Some(0))
    {
        outcome.problem = Some(format!(
            "{} (as far as its output shows: the rlimit made a request fail)",
            limits::exceeded(which, &spec.limits)
        ));
        return Ok(outcome);
    }
    if o.timed_out {
        outcome.status = BuildStatus::Timeout;
        outcome.problem = Some(format!(
            "timed out after {} s; every process of the build was killed",
            timeout.as_secs()
        ));
        return Ok(outcome);
    }
    if outcome.exit_code == Some(0) {
        let hashed = match kind {
            plan::HashKind::Tree => tree::hash_path(&outcome.tree).map_err(|e| e.to_string()),
            plan::HashKind::NixClosure => {
                let store = spec.work.join("nix/store");
                provider::nix::closure_hash(&outcome.tree, &store).map(|(h, c)| {
                    outcome.store = Some((store, c));
                    h
                })
            }
        };
        match hashed {
            Ok(h) => {
                outcome.hash = Some(h);
                outcome.status = BuildStatus::Ok;
            }
            Err(e) => outcome.problem = Some(e),
        }
    }
    Ok(outcome)
}

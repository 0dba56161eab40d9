//! Twin builds: build A and build B of one scenario at the same time, each in
//! its own sandbox, then hash both `$out` trees and list their differences.

use crate::probe::Probes;
use crate::provider;
use crate::proxy::{self, Proxy};
use crate::sandbox::{self, lifetime, limits, plan, variation::Variation};
use crate::scenario::{Compare, Network, Scenario};
use crate::tree::{self, Difference, TreeHash};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

mod clock;

/// How a build ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// The limit the build went past (`problem` then names it).
    pub exceeded: Option<limits::Which>,
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
    /// SOURCE_DATE_EPOCH this build had; `None`: not set.
    pub source_date_epoch: Option<i64>,
}

/// Both builds of a scenario and how their trees differ.
#[derive(Debug, Clone)]
pub struct TwinOutcome {
    pub a: BuildOutcome,
    pub b: BuildOutcome,
    /// Differing paths; under `compare: strict` mode changes too.
    pub differences: Vec<Difference>,
    /// Under `compare: nar`: paths whose mode bits differ, which the NAR
    /// hash ignores (shown as a note, never failing the scenario).
    pub mode_differences: Vec<Difference>,
    /// Variations selected but not available here: name -> reason.
    pub unavailable: BTreeMap<String, String>,
    /// Where the trees were kept (`--keep`).
    pub kept: Option<PathBuf>,
    /// Which variations cause the difference or break build B, when searched.
    pub culprits: Option<Culprits>,
    /// What the scenario's deadline cut short (listing the differences,
    /// the culprit search), if anything.
    pub cut_short: Option<String>,
    /// With `network:`: every URL the builds fetched through the proxy.
    pub fetches: Vec<proxy::Fetch>,
}

/// The deadline of a scenario's twin builds with their hashing and
/// diffing, or of its culprit search: each ends by `at`.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    pub at: Instant,
    /// The scenario's `timeout`, for messages.
    pub timeout: Duration,
}

impl Deadline {
    /// A deadline `timeout` from now.
    pub fn after(timeout: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + timeout,
            timeout,
        }
    }

    fn left(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    fn passed(&self) -> bool {
        Instant::now() >= self.at
    }

    fn cut(&self, what: &str) -> String {
        format!(
            "{what}: the scenario's timeout ({} s) ran out; raise `timeout` to see more",
            self.timeout.as_secs()
        )
    }
}

/// The answer of the culprit search: rebuild B with each variation alone,
/// and with none, and see which builds still differ from A (or fail).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Culprits {
    /// Variations that alone reproduce a difference from build A, or, when
    /// `breaks_build`, that alone make build B fail.
    pub culprits: Vec<String>,
    /// The builds differ even with no variation (a clock, random data); for
    /// a failing build B: B fails even with no variation.
    pub inherent: bool,
    /// Build A succeeded and build B failed: the culprits break the build.
    pub breaks_build: bool,
    /// Known advice for these culprits, e.g. that libfaketime hangs rustc.
    pub hints: Vec<String>,
    /// SOURCE_DATE_EPOCH was unset and the builds differ: whether a pair
    /// built with it set (to the default) is identical.
    pub reproducible_with_sde: Option<bool>,
    /// What the search cost.
    pub cost: SearchCost,
}

/// The cost of a culprit search.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SearchCost {
    /// Sandboxed builds the search ran.
    pub builds: usize,
    /// Variations not tried because every difference was already explained.
    pub skipped: Vec<String>,
    /// Wall time of the search.
    pub duration_ms: u64,
    /// Differing files blamed on `time` from the outputs alone: their only
    /// changes are times moved by build B's clock shift (no rebuild).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub by_clock: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A scenario's way to the network: the run's proxy and its policy.
#[derive(Clone, Copy)]
struct Net<'n> {
    proxy: &'n Proxy,
    scenario: &'n str,
    policy: &'n proxy::Policy,
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
    /// The run's proxy, started when a selected scenario has `network:`.
    pub proxy: Option<std::sync::Arc<Proxy>>,
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
    let dir = lifetime::private_dir(&opts.run_dir, &format!("{}-", s.name)).map_err(|e| {
        format!(
            "cannot create a temp dir in {}: {e}",
            opts.run_dir.display()
        )
    })?;
    lifetime::register_tree(dir.clone());
    let policy = match &s.network {
        Network::Allow(hosts) => proxy::Policy::Allow(hosts.clone()),
        _ => proxy::Policy::Any,
    };
    let net = match (&opts.proxy, s.network.is_on()) {
        (Some(p), true) => Some(Net {
            proxy: p,
            scenario: &s.name,
            policy: &policy,
        }),
        (None, true) => {
            return Err("the scenario has `network:` but the run started no proxy".into());
        }
        _ => None,
    };
    let mut result = build_in(s, command, opts, dir.clone(), net);
    if let (Some(net), Ok(outcome)) = (net, result.as_mut()) {
        outcome.fetches = net.proxy.take_fetches(&s.name, &s.dir);
    }
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
    let to = lifetime::private_dir(workdir, &format!("{}{name}-", lifetime::KEPT_PREFIX))
        .map_err(|e| format!("cannot keep the trees in {}: {e}", workdir.display()))?;
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
    net: Option<Net<'_>>,
) -> Result<TwinOutcome, String> {
    // The `time` variation preloads the time-shift shim: every build of
    // the scenario may bind it (only a build varying time loads it).
    let with_shim;
    let command = if selected_variations(s, opts).contains(&Variation::Time) {
        let shim = crate::timeshift::install(&dir)
            .map_err(|e| format!("cannot write the time-shift shim: {e}"))?;
        let mut c = command.clone();
        c.readonly_binds
            .push((shim, crate::timeshift::MOUNT.to_string()));
        with_shim = c;
        &with_shim
    } else {
        command
    };
    let input = plan::PlanInput {
        out: &s.out,
        src: &s.dir,
        network: s.network.is_on(),
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
    let deadline = Deadline::after(s.timeout);
    let twins_started = Instant::now();
    // Each twin takes its build slot on its own: what tells a clock from a
    // variation is the culprit search's pair of plain rebuilds, which do
    // start together (`PairStart`); the twins need not, and a run of many
    // scenarios keeps both cores busy this way.
    let (a, b) = std::thread::scope(|scope| {
        let ha = scope.spawn(|| one(&p.a, &p.values_a, deadline, command.hash, net));
        let hb = scope.spawn(|| one(&p.b, &p.values_b, deadline, command.hash, net));
        (join(ha), join(hb))
    });
    let (mut a, b) = (a?, b?);
    let hashes_differ = matches!((&a.hash, &b.hash), (Some(x), Some(y)) if x.sri != y.sri);
    // Past the deadline nothing is diffed: a listing cut short, maybe in
    // the middle of a huge tree, would mislead.
    let in_time = !deadline.passed();
    let cut_short =
        (!in_time && hashes_differ).then(|| deadline.cut("the differences are not listed"));
    if opts.want_manifest && a.status == BuildStatus::Ok && in_time {
        a.manifest = Some(build_manifest(&a)?);
    }
    let both_ok = a.status == BuildStatus::Ok && b.status == BuildStatus::Ok && in_time;
    let mut differences = match (&a.store, &b.store) {
        _ if !hashes_differ || !in_time => Vec::new(),
        (Some((sa, ca)), Some((sb, cb))) => provider::nix::closure_diff((ca, sa), (cb, sb))?,
        _ => tree::diff_differing(&a.tree, &b.tree).map_err(|e| e.to_string())?,
    };
    // Modes: a store's are canonical (Nix resets them), a tree's are what
    // the build left, and what a tarball of it would record.
    let mut modes_a = None;
    let mut mode_differences = Vec::new();
    if both_ok && a.store.is_none() {
        let ma = tree::modes(&a.tree).map_err(|e| e.to_string())?;
        let mb = tree::modes(&b.tree).map_err(|e| e.to_string())?;
        mode_differences = tree::diff_modes(&ma, &mb);
        tree::explain_differences(&mut mode_differences, &a.tree, &b.tree);
        modes_a = Some(ma);
    }
    if s.compare == Compare::Strict {
        differences.append(&mut mode_differences);
        differences.sort_by(|x, y| (&x.path, x.kind).cmp(&(&y.path, y.kind)));
    }
    let b_broke = a.status == BuildStatus::Ok && b.status != BuildStatus::Ok;
    let want_search =
        opts.explain && a.status == BuildStatus::Ok && (!differences.is_empty() || b_broke);
    let culprits = if want_search {
        let ctl = Control {
            a: &a,
            // Borrowed when the run already listed A (snapshots).
            manifest: match &a.manifest {
                Some(m) => std::borrow::Cow::Borrowed(m),
                None => std::borrow::Cow::Owned(build_manifest(&a)?),
            },
            modes: modes_a.filter(|_| s.compare == Compare::Strict),
            archives: differences
                .iter()
                .filter(|d| is_archive(d))
                .map(|d| d.path.clone())
                .collect(),
        };
        let search = Search {
            input: &input,
            applied: &p.applied,
            dir: &dir,
            // The search's trials are builds like the twins: they get a
            // deadline of their own, one more `timeout` from here.
            deadline: Deadline::after(s.timeout),
            sde_pair: s.source_date_epoch.is_none() && !differences.is_empty(),
            twins_window: twins_started.elapsed(),
            net,
        };
        Some(find_culprits(&search, &ctl, &b, &mut differences)?)
    } else {
        None
    };
    Ok(TwinOutcome {
        a,
        b,
        differences,
        mode_differences,
        unavailable: p.unavailable,
        kept: None,
        culprits,
        cut_short,
        fetches: Vec::new(),
    })
}

/// What the culprit search may see change: `(path, "")` for a path,
/// `(path, "mode")` for its mode bits, `(path, "member\tchange")` for one
/// change of an archive member.
type Key = (String, String);

/// What a trial has at a key it changed (SHA-256 of the entry and all
/// beneath it, of the mode, or of the member's side and detail), so that
/// two trials can be compared with each other and not only with build A.
type Digest = Vec<u8>;

/// Build A, the control every trial is compared with.
struct Control<'c> {
    a: &'c BuildOutcome,
    manifest: std::borrow::Cow<'c, tree::Manifest>,
    /// A's modes, when modes are compared (`compare: strict`).
    modes: Option<tree::Modes>,
    /// Differing paths that are archives: their members are keys too.
    archives: BTreeSet<String>,
}

/// How to run the trials of one search.
struct Search<'s> {
    input: &'s plan::PlanInput<'s>,
    applied: &'s [Variation],
    dir: &'s std::path::Path,
    deadline: Deadline,
    /// Also build a pair with SOURCE_DATE_EPOCH set (it was not).
    sde_pair: bool,
    /// Since the twins started: how far apart two clock readings of
    /// theirs can be (see `clock`).
    twins_window: Duration,
    net: Option<Net<'s>>,
}

/// One build of the search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Trial {
    /// Build B with this variation alone (`None`: with none at all).
    Alone(Option<Variation>),
    /// Build B with no variation once more, started together with
    /// `Alone(None)` when `time` is applied: two controls of one moment
    /// agree on what the clock wrote and disagree on random data.
    Twin,
    /// Build A, then build B with every variation, both with the default
    /// SOURCE_DATE_EPOCH.
    SdeA,
    SdeB,
}

/// What a trial showed.
enum Seen {
    /// The keys that differ from build A, with what the trial has there.
    Changed(BTreeMap<Key, Digest>),
    /// The build failed or timed out.
    Broke(BuildStatus),
    /// An SOURCE_DATE_EPOCH build: its hash and modes.
    Built(Option<String>, Option<tree::Modes>),
    /// The scenario's deadline came first: no answer.
    OutOfTime,
}

fn is_archive(d: &Difference) -> bool {
    matches!(
        d.detail.as_ref().map(|x| &x.body),
        Some(tree::explain::Body::Archive(_))
    )
}

/// The keys of a difference: its path (or mode), and for an archive each
/// member change its detail lists.
fn keys_of(d: &Difference) -> Vec<Key> {
    let mut out = vec![(
        d.path.clone(),
        if d.kind == tree::DiffKind::Mode {
            "mode".to_string()
        } else {
            String::new()
        },
    )];
    if let Some(detail) = &d.detail {
        let mut members = Vec::new();
        member_keys(&d.path, detail, &mut members);
        out.extend(members.into_iter().map(|(k, _)| k));
    }
    out
}

/// Each member change of an archive's detail as a key, with a digest of
/// its side B and its own detail (what the member is in that build).
fn member_keys(path: &str, detail: &tree::Detail, out: &mut Vec<(Key, Digest)>) {
    if let tree::explain::Body::Archive(ad) = &detail.body {
        for m in &ad.members {
            let change = serde_json::to_value(m.kind)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            let side = serde_json::to_vec(&(&m.b, &m.detail)).unwrap_or_default();
            out.push((
                (path.to_string(), format!("{}\t{change}", m.member)),
                digest(&side),
            ));
            if let Some(inner) = &m.detail {
                member_keys(path, inner, out);
            }
        }
    }
}

fn digest(bytes: &[u8]) -> Digest {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).to_vec()
}

/// What manifest `m` has at `key` and beneath it (nothing: absent).
fn entry_digest(m: &tree::Manifest, key: &str) -> Digest {
    if key.is_empty() {
        return digest(&serde_json::to_vec(m).unwrap_or_default());
    }
    let below = format!("{key}/");
    let entries: Vec<(&String, &tree::Entry)> = m
        .get_key_value(key)
        .into_iter()
        .chain(
            m.range(below.clone()..)
                .take_while(|(k, _)| k.starts_with(&below)),
        )
        .collect();
    digest(&serde_json::to_vec(&entries).unwrap_or_default())
}

/// The keys in which trial build `b` differs from the control, each with
/// what `b` has there.
fn changed_keys(ctl: &Control<'_>, b: &BuildOutcome) -> Result<BTreeMap<Key, Digest>, String> {
    let mb = build_manifest(b)?;
    let ctx = tree::explain::Context::sandbox();
    let mut keys = BTreeMap::new();
    for d in tree::diff_manifests(&ctl.manifest, &mb) {
        if d.kind == tree::DiffKind::Content && ctl.archives.contains(&d.path) {
            let (pa, pb) = (
                tree::explain::key_path(&ctl.a.tree, &d.path),
                tree::explain::key_path(&b.tree, &d.path),
            );
            let mut members = Vec::new();
            member_keys(
                &d.path,
                &tree::explain::explain(&pa, &pb, &ctx),
                &mut members,
            );
            keys.extend(members);
        }
        let at = entry_digest(&mb, &d.path);
        keys.insert((d.path, String::new()), at);
    }
    if let Some(ma) = &ctl.modes {
        let mb = tree::modes(&b.tree).map_err(|e| e.to_string())?;
        for d in tree::diff_modes(ma, &mb) {
            let at = digest(&mb.get(&d.path).copied().unwrap_or(0).to_le_bytes());
            keys.insert((d.path, "mode".to_string()), at);
        }
    }
    Ok(keys)
}

/// The variations to try first: those the differences' hints name (a
/// host name in a file, modes that differ like umasks do), then the rest.
fn likely_first(
    applied: &[Variation],
    differences: &[Difference],
    b: &BuildOutcome,
) -> Vec<Variation> {
    let mut text = String::new();
    for d in differences {
        if d.kind == tree::DiffKind::Mode {
            text.push_str(" umask");
        }
        if let Some(detail) = &d.detail {
            text.push_str(&serde_json::to_string(detail).unwrap_or_default());
        }
    }
    if b.status == BuildStatus::Timeout {
        // libfaketime is the variation known to hang builds.
        text.push_str(" timestamp");
    }
    let named = |v: &Variation| -> bool {
        let words: &[&str] = match v {
            Variation::Hostname => &["hostname", "domain name"],
            Variation::Umask => &["umask"],
            Variation::Locale => &["locale"],
            Variation::Timezone => &["timezone"],
            Variation::Home => &["home directory"],
            Variation::BuildPath => &["build path"],
            Variation::User => &["the user", "uid", "gid"],
            Variation::Time => &["timestamp", "a date", "clock time", ".pyc"],
            _ => &[],
        };
        words.iter().any(|w| text.contains(w))
    };
    let mut order: Vec<Variation> = applied.iter().copied().filter(named).collect();
    order.extend(applied.iter().copied().filter(|v| !named(v)));
    order
}

/// Rebuild B once with no variation and once per applied variation alone,
/// `max_builds` at a time, the likeliest culprits first, and compare each
/// with build A (the control, already built). Stops starting trials once
/// every difference is explained (or, when B failed, once a variation
/// alone breaks it). Marks each difference, and each archive member, with
/// the variations that alone change it.
///
/// The control trial runs after build A, maybe in another second: what a
/// clock wrote differs then with no variation, like random data does. So
/// when `time` is applied, a second control ([`Trial::Twin`]) starts
/// together with the first. What both change from A alike is the clock's
/// doing, blamed on `time` (if the time trial changes it too) and on no
/// other variation; what they change differently is inherent. A clock read
/// a second or more into the build may still tick between the two
/// controls; that difference then counts as inherent, as before.
fn find_culprits(
    search: &Search<'_>,
    ctl: &Control<'_>,
    b: &BuildOutcome,
    differences: &mut [Difference],
) -> Result<Culprits, String> {
    let started = std::time::Instant::now();
    let breaking = b.status != BuildStatus::Ok;
    let twin = !breaking && search.applied.contains(&Variation::Time);
    // Files whose only changes are times moved by B's clock shift: `time`
    // is read in the outputs, no rebuild needed (see `clock`). Under a
    // Nix store the differences name store paths, not files of the trees.
    let by_clock: BTreeSet<Key> = if twin && ctl.a.store.is_none() {
        let slack = search.twins_window.as_secs() as i64 + 2;
        clock::shifted_files(
            &ctl.a.tree,
            &b.tree,
            differences,
            clock::shift_secs(),
            slack,
        )
        .into_iter()
        .map(|p| (p, String::new()))
        .collect()
    } else {
        BTreeSet::new()
    };
    let targets: BTreeSet<Key> = differences
        .iter()
        .flat_map(keys_of)
        .filter(|k| !by_clock.contains(k))
        .collect();
    let mut queue: std::collections::VecDeque<Trial> = std::collections::VecDeque::new();
    if breaking || !targets.is_empty() {
        queue.push_back(Trial::Alone(None));
        if twin {
            // Second in the queue: the next worker takes it at once (there
            // are at least two), and `pair` makes both builds start together.
            queue.push_back(Trial::Twin);
        }
    }
    if search.sde_pair {
        queue.extend([Trial::SdeA, Trial::SdeB]);
    }
    if breaking || !targets.is_empty() {
        queue.extend(
            likely_first(search.applied, differences, b)
                .into_iter()
                .map(|v| Trial::Alone(Some(v))),
        );
    }
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2);
    let state = std::sync::Mutex::new((queue, BTreeMap::<Trial, Seen>::new()));
    let stop = std::sync::atomic::AtomicBool::new(false);
    let pair = PairStart::default();
    let explained = |seen: &BTreeMap<Trial, Seen>| -> bool {
        if !seen.contains_key(&Trial::Alone(None)) || (twin && !seen.contains_key(&Trial::Twin)) {
            return false;
        }
        if breaking {
            return seen
                .iter()
                .any(|(t, r)| matches!((t, r), (Trial::Alone(Some(_)), Seen::Broke(_))));
        }
        // What the clock wrote waits for the time trial, the only one
        // that may take the blame for it.
        let clock = clock_keys(seen);
        targets.iter().all(|k| {
            if clock.contains(k) {
                return seen.contains_key(&Trial::Alone(Some(Variation::Time)));
            }
            seen.values()
                .any(|r| matches!(r, Seen::Changed(c) if c.contains_key(k)))
        })
    };
    let errors = std::sync::Mutex::new(Vec::<String>::new());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let trial = {
                        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
                        let stopping = stop.load(std::sync::atomic::Ordering::Relaxed);
                        // Once explained, only the SOURCE_DATE_EPOCH pair
                        // (a separate question) still runs; and the twin
                        // control, which its partner waits for.
                        let pos =
                            st.0.iter()
                                .position(|t| !stopping || !matches!(t, Trial::Alone(_)));
                        match pos.and_then(|i| st.0.remove(i)) {
                            Some(t) => t,
                            None => return,
                        }
                    };
                    let seen = if search.deadline.passed() {
                        Ok(Seen::OutOfTime)
                    } else {
                        run_trial(search, ctl, trial, twin.then_some(&pair))
                    };
                    match seen {
                        Ok(Seen::OutOfTime) => {
                            let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
                            st.0.push_front(trial);
                            stop.store(true, std::sync::atomic::Ordering::Relaxed);
                            return;
                        }
                        Ok(seen) => {
                            let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
                            st.1.insert(trial, seen);
                            if explained(&st.1) {
                                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                            }
                        }
                        Err(e) => {
                            errors.lock().unwrap_or_else(|e| e.into_inner()).push(e);
                            stop.store(true, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = errors.into_inner().unwrap_or_else(|e| e.into_inner()).pop() {
        return Err(e);
    }
    let (left, seen) = state.into_inner().unwrap_or_else(|e| e.into_inner());
    let tried = |v: &Variation| seen.contains_key(&Trial::Alone(Some(*v)));
    let cost = SearchCost {
        builds: seen.len(),
        // Not tried: what the queue still held, or, when every difference
        // was read as the clock's, all but `time`.
        skipped: if targets.is_empty() && !breaking {
            search
                .applied
                .iter()
                .filter(|v| **v != Variation::Time && !tried(v))
                .map(|v| v.name().to_string())
                .collect()
        } else {
            left.iter()
                .filter_map(|t| match t {
                    Trial::Alone(Some(v)) => Some(v.name().to_string()),
                    _ => None,
                })
                .collect()
        },
        duration_ms: started.elapsed().as_millis() as u64,
        by_clock: by_clock.len(),
    };
    let reproducible_with_sde = match (seen.get(&Trial::SdeA), seen.get(&Trial::SdeB)) {
        (Some(Seen::Built(Some(ha), ma)), Some(Seen::Built(Some(hb), mb))) => {
            Some(ha == hb && (ctl.modes.is_none() || ma == mb))
        }
        (Some(_), Some(_)) => Some(false),
        _ => None,
    };
    let alone = |v: Option<Variation>| seen.get(&Trial::Alone(v));
    if breaking {
        let inherent = matches!(alone(None), Some(Seen::Broke(_)));
        let culprits: Vec<String> = search
            .applied
            .iter()
            .filter(|v| !inherent && matches!(alone(Some(**v)), Some(Seen::Broke(_))))
            .map(|v| v.name().to_string())
            .collect();
        let hints = breaking_hints(&culprits, search, b.status, |v| match alone(Some(v)) {
            Some(Seen::Broke(st)) => Some(*st),
            _ => None,
        });
        return Ok(Culprits {
            culprits,
            inherent,
            breaks_build: true,
            hints,
            reproducible_with_sde,
            cost,
        });
    }
    // A trial that broke changes everything it could: all the differences.
    let changes: BTreeMap<Trial, BTreeSet<Key>> = seen
        .iter()
        .filter_map(|(t, r)| match r {
            Seen::Broke(_) => Some((*t, targets.clone())),
            Seen::Changed(c) if !c.is_empty() => Some((*t, c.keys().cloned().collect())),
            _ => None,
        })
        .collect();
    let keys_for = |v: Option<Variation>| changes.get(&Trial::Alone(v));
    let time_keys = keys_for(Some(Variation::Time));
    // What the clock wrote, and the time trial changes too; what it does
    // not change stays unexplained: inherent.
    let clock: BTreeSet<Key> = clock_keys(&seen)
        .into_iter()
        .filter(|k| time_keys.is_some_and(|t| t.contains(k)))
        .collect();
    let noise: BTreeSet<Key> = [Trial::Alone(None), Trial::Twin]
        .iter()
        .filter_map(|t| changes.get(t))
        .flatten()
        .filter(|k| !clock.contains(*k) && !by_clock.contains(*k))
        .cloned()
        .collect();
    let inherent = !noise.is_empty();
    // With inherent noise, a variation counts only where it changes
    // something the noise alone does not; the clock's keys count for
    // `time` alone.
    let counts =
        |v: Variation, k: &Key| !noise.contains(k) && (v == Variation::Time || !clock.contains(k));
    let mut culprits = Vec::new();
    for v in search.applied {
        if keys_for(Some(*v)).is_some_and(|keys| keys.iter().any(|k| counts(*v, k)))
            || (*v == Variation::Time && !by_clock.is_empty())
        {
            culprits.push(v.name().to_string());
        }
    }
    let blamed = |k: &Key| -> Vec<String> {
        search
            .applied
            .iter()
            .filter(|v| culprits.iter().any(|c| c == v.name()))
            .filter(|v| keys_for(Some(**v)).is_some_and(|keys| keys.contains(k)) && counts(**v, k))
            .map(|v| v.name().to_string())
            .collect()
    };
    for d in differences.iter_mut() {
        let keys = keys_of(d);
        let (own, members) = keys.split_at(1);
        if by_clock.contains(&own[0]) {
            d.inherent = false;
            d.culprits = vec![Variation::Time.name().to_string()];
            continue;
        }
        if members.is_empty() {
            // A path that differs with no variation cannot be pinned on one.
            d.inherent = noise.contains(&own[0]);
            if !d.inherent {
                d.culprits = blamed(&own[0]);
            }
            continue;
        }
        // An archive: each member change on its own, so that one member
        // that differs by itself does not hide a variation in the others.
        let mut union = BTreeSet::new();
        for (_, sub) in members {
            let k = (d.path.clone(), sub.clone());
            let (member, change) = sub.split_once('\t').unwrap_or((sub, ""));
            let inherent = noise.contains(&k);
            let culprits = if inherent { Vec::new() } else { blamed(&k) };
            union.extend(culprits.iter().cloned());
            d.inherent |= inherent;
            d.members.push(tree::MemberCulprits {
                member: member.to_string(),
                change: change.to_string(),
                culprits,
                inherent,
            });
        }
        d.culprits = search
            .applied
            .iter()
            .map(|v| v.name().to_string())
            .filter(|n| union.contains(n))
            .collect();
    }
    Ok(Culprits {
        culprits,
        inherent,
        breaks_build: false,
        hints: Vec::new(),
        reproducible_with_sde,
        cost,
    })
}

/// The keys both control trials changed from build A alike: they ran at
/// one moment, A earlier, so this is what a clock wrote, not random data.
fn clock_keys(seen: &BTreeMap<Trial, Seen>) -> BTreeSet<Key> {
    match (seen.get(&Trial::Alone(None)), seen.get(&Trial::Twin)) {
        (Some(Seen::Changed(x)), Some(Seen::Changed(y))) => x
            .iter()
            .filter(|(k, d)| y.get(*k) == Some(*d))
            .map(|(k, _)| k.clone())
            .collect(),
        _ => BTreeSet::new(),
    }
}

/// Known advice for variations that break build B.
fn breaking_hints(
    culprits: &[String],
    search: &Search<'_>,
    status: BuildStatus,
    how: impl Fn(Variation) -> Option<BuildStatus>,
) -> Vec<String> {
    let mut out = Vec::new();
    for v in search.applied {
        if !culprits.iter().any(|c| c == v.name()) {
            continue;
        }
        let hung = how(*v) == Some(BuildStatus::Timeout);
        out.push(match v {
            Variation::Time if hung => "libfaketime is known to hang some runtimes (rustc, Go); leave `time` out of `vary` for this recipe".to_string(),
            Variation::Time => "libfaketime (the `time` variation) breaks this recipe's tools; leave `time` out of `vary` for this recipe".to_string(),
            Variation::User => "build B runs as another uid than root, which this recipe needs; leave `user` out of `vary` if it must run as root".to_string(),
            other => format!(
                "build B {} with `{other}` alone; build A's value of it works",
                if hung { "hangs" } else { "fails" }
            ),
        });
    }
    if out.is_empty() && status == BuildStatus::Timeout {
        out.push(format!(
            "no variation alone makes build B time out; raise `timeout` (now {} s) if the build is just slow",
            search.deadline.timeout.as_secs()
        ));
    }
    out
}

/// Where the search's two plain rebuilds meet so that they start together:
/// first their `--max-builds` slots, taken as a pair, then the turn of a
/// second.
struct PairStart {
    barrier: std::sync::Barrier,
    /// The slot the first to arrive took for the other.
    handoff: std::sync::Mutex<Option<sandbox::slots::Slot>>,
}

impl Default for PairStart {
    fn default() -> PairStart {
        PairStart {
            barrier: std::sync::Barrier::new(2),
            handoff: std::sync::Mutex::new(None),
        }
    }
}

impl PairStart {
    /// Meet, take two slots at once (one for each), meet again.
    fn take_slots(&self) {
        // Nothing may be held while waiting for the partner and the pair.
        sandbox::slots::release_held();
        let leader = self.barrier.wait().is_leader();
        if leader {
            let (mine, other) = sandbox::slots::acquire_pair();
            *self.handoff.lock().unwrap_or_else(|e| e.into_inner()) = other;
            sandbox::slots::hold(mine);
        }
        self.barrier.wait();
        let other = (!leader)
            .then(|| {
                self.handoff
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take()
            })
            .flatten();
        if let Some(slot) = other {
            sandbox::slots::hold(slot);
        }
    }
}

/// Run one trial of the search and see what it changed; its trees are
/// removed before it returns. The two controls meet at `pair`, when given,
/// so that their builds start together, at the turn of a second (which
/// costs the search half a second on average).
fn run_trial(
    search: &Search<'_>,
    ctl: &Control<'_>,
    trial: Trial,
    pair: Option<&PairStart>,
) -> Result<Seen, String> {
    let (set, name): (BTreeSet<Variation>, String) = match trial {
        Trial::Twin => (BTreeSet::new(), "twin".into()),
        Trial::Alone(v) => (
            v.iter().copied().collect(),
            format!("alone-{}", v.map_or("none", |v| v.name())),
        ),
        Trial::SdeA | Trial::SdeB => (search.applied.iter().copied().collect(), "sde".into()),
    };
    let sde_input;
    let input = match trial {
        Trial::SdeA | Trial::SdeB => {
            sde_input = plan::PlanInput {
                source_date_epoch: Some(crate::scenario::DEFAULT_SOURCE_DATE_EPOCH),
                ..*search.input
            };
            &sde_input
        }
        Trial::Alone(_) | Trial::Twin => search.input,
    };
    let p = plan::plan(
        input,
        &set,
        search.dir.join(format!("{name}-a")),
        search.dir.join(format!("{name}-b")),
    );
    let (spec, values) = match trial {
        Trial::SdeA => (&p.a, &p.values_a),
        _ => (&p.b, &p.values_b),
    };
    if let (Some(pair), Trial::Alone(None) | Trial::Twin) = (pair, trial) {
        // Each sleeps to the next second and waits for the other, so both
        // start just past one second's turn (the later, if they differ):
        // what the clock writes early in a build lands in one second.
        pair.take_slots();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        std::thread::sleep(Duration::from_nanos(
            1_000_000_000 - u64::from(now.subsec_nanos()),
        ));
        pair.barrier.wait();
    }
    // A trial started late (after others, for a slot) that times out was
    // cut by the search's deadline, not slowed by its variation: no answer.
    let full_time =
        search.deadline.left() + search.deadline.timeout / 20 >= search.deadline.timeout;
    let b = one(
        spec,
        values,
        search.deadline,
        input.command.hash,
        search.net,
    )?;
    if b.status == BuildStatus::Timeout && !full_time {
        let _ = lifetime::remove_tree(&spec.work);
        return Ok(Seen::OutOfTime);
    }
    let seen = match (trial, b.status) {
        (Trial::Alone(_) | Trial::Twin, BuildStatus::Ok) => {
            changed_keys(ctl, &b).map(Seen::Changed)
        }
        (Trial::Alone(_) | Trial::Twin, st) => Ok(Seen::Broke(st)),
        (_, BuildStatus::Ok) => Ok(Seen::Built(
            b.hash.as_ref().map(|h| h.sri.clone()),
            match &ctl.modes {
                Some(_) => tree::modes(&b.tree).ok(),
                None => None,
            },
        )),
        (_, _) => Ok(Seen::Built(None, None)),
    };
    let _ = lifetime::remove_tree(&spec.work);
    seen
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

/// The build's proxy directory: the run's CA and a socket of the proxy's
/// that knows this build by its tree's name (`a`, `b`, `alone-time-b`, ...).
fn attach(spec: &sandbox::SandboxSpec, net: Net<'_>) -> Result<proxy::Attachment, String> {
    let dir = spec.proxy_storage();
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let ca = dir.join(sandbox::PROXY_CA);
    std::fs::write(&ca, net.proxy.ca_pem()).map_err(|e| format!("{}: {e}", ca.display()))?;
    let build = spec
        .work
        .file_name()
        .map_or_else(|| "build".into(), |n| n.to_string_lossy().into_owned());
    net.proxy.attach(
        &dir.join(sandbox::PROXY_SOCKET),
        net.scenario,
        &build,
        net.policy,
    )
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
    deadline: Deadline,
    kind: plan::HashKind,
    net: Option<Net<'_>>,
) -> Result<BuildOutcome, String> {
    std::fs::create_dir_all(&spec.work).map_err(|e| format!("{}: {e}", spec.work.display()))?;
    for (host, _) in &spec.writable_mounts {
        std::fs::create_dir_all(host).map_err(|e| format!("{}: {e}", host.display()))?;
    }
    // Served while the build runs; the socket goes with the attachment.
    let _attachment = match (spec.network, net) {
        (true, Some(net)) => Some(attach(spec, net)?),
        _ => None,
    };
    let o = sandbox::run(spec, deadline.left())?;
    let tree = spec.out_storage();
    let mut outcome = BuildOutcome {
        status: BuildStatus::Failed,
        exit_code: o.result.exit_code,
        problem: o.result.signal.map(|s| format!("killed by signal {s}")),
        exceeded: None,
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
        source_date_epoch: spec
            .env
            .iter()
            .find(|(k, _)| k == "SOURCE_DATE_EPOCH")
            .and_then(|(_, v)| v.parse().ok()),
    };
    // A file past RLIMIT_FSIZE kills its writer with SIGXFSZ: the build
    // went past limits.disk, whether the shell reports it or a signal does.
    let xfsz = outcome.exit_code == Some(limits::SHELL_XFSZ_STATUS)
        || o.result.signal == Some(libc::SIGXFSZ);
    if let Some(which) = o.exceeded.or(xfsz.then_some(limits::Which::Disk)) {
        outcome.exceeded = Some(which);
        outcome.problem = Some(limits::exceeded(which, &spec.limits));
        return Ok(outcome);
    }
    // A fork refused counts even if the build went on, as under a cgroup.
    if let Some(which) = limits::rlimit_telltale(&outcome.stderr_tail, &o.in_force)
        .filter(|w| *w == limits::Which::Pids || outcome.exit_code != Some(0))
    {
        outcome.exceeded = Some(which);
        outcome.problem = Some(format!(
            "{} (as far as its output shows: the rlimit made a request fail)",
            limits::exceeded(which, &spec.limits)
        ));
        return Ok(outcome);
    }
    if o.timed_out {
        outcome.status = BuildStatus::Timeout;
        outcome.problem = Some(format!(
            "timed out: the scenario's timeout ({} s) ran out during the build; every process of the build was killed",
            deadline.timeout.as_secs()
        ));
        return Ok(outcome);
    }
    if outcome.exit_code == Some(0) {
        let hashed = match kind {
            plan::HashKind::Tree => tree::hash_path_within(
                &outcome.tree,
                tree::Bound {
                    deadline: Some(deadline.at),
                    max_bytes: Some(spec.limits.disk),
                    max_bytes_name: "limits.disk",
                },
            )
            .map_err(|e| match e {
                tree::TreeError::Stopped { reason, .. } => {
                    if deadline.passed() {
                        outcome.status = BuildStatus::Timeout;
                    }
                    reason
                }
                e => e.to_string(),
            }),
            plan::HashKind::NixClosure => {
                let store = spec.work.join("nix/store");
                provider::nix::closure_hash(&outcome.tree, &store, Some(deadline.at))
                    .map(|(h, c)| {
                        outcome.store = Some((store, c));
                        h
                    })
                    .inspect_err(|_| {
                        if deadline.passed() {
                            outcome.status = BuildStatus::Timeout;
                        }
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

//! The checked `Scenario` the rest of envtwin uses; built only by `scenario::load`.

use crate::sandbox::limits::Limits;
use crate::sandbox::variation::Variation;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Default `out` when a scenario gives none.
pub const DEFAULT_OUT: &str = "/envtwin/out";
/// Default SOURCE_DATE_EPOCH (1980-01-01, as reprotest and Nix use).
pub const DEFAULT_SOURCE_DATE_EPOCH: i64 = 315_532_800;
/// Default per-build timeout in seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 600;
/// Longest `timeout`: 7 days. Longer is a mistake, and deadlines past it
/// come near what `Instant` arithmetic can hold.
pub const MAX_TIMEOUT_SECS: u64 = 7 * 24 * 3600;
/// Longest scenario name: it names temp directories and snapshot files,
/// whose names the filesystem caps at 255 bytes.
pub const MAX_NAME_LEN: usize = 200;

/// A validated scenario: one environment to build twice and judge.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Unique within a run; `[A-Za-z0-9._-]+`.
    pub name: String,
    pub description: Option<String>,
    /// The scenario file, as given or found (not canonicalised).
    pub file: PathBuf,
    /// Absolute path of the directory mounted as `$src`: the one holding
    /// the file, or the scenario's `src:` (e.g. `..`, the project root).
    pub dir: PathBuf,
    pub provider: Provider,
    /// Absolute path of `$out` inside both sandboxes.
    pub out: String,
    /// Shell provider: the script run by `/bin/sh -eu`. Empty for nix.
    pub build: String,
    /// Activated PATH entries with `$out` already expanded.
    pub path: Vec<String>,
    /// The deadline of the whole scenario: builds, hashing, diffing and
    /// explaining together.
    pub timeout: Duration,
    /// What the builds may reach, through envtwin's proxy.
    pub network: Network,
    /// Per-build resource limits (defaults filled in).
    pub limits: Limits,
    /// Extra host paths visible read-only at the same path (absolute,
    /// canonical, existing when validated).
    pub host_paths: Vec<PathBuf>,
    /// SOURCE_DATE_EPOCH for both builds; `None` (`source_date_epoch:
    /// null`) exports none at all.
    pub source_date_epoch: Option<i64>,
    /// What "identical" means for the two builds.
    pub compare: Compare,
    /// Variations for build B as the scenario asks; `None` means all supported.
    pub vary: Option<Vec<Variation>>,
    pub expect: Expect,
    /// `requires.network`: `host:port` endpoints the build downloads from.
    /// When one does not answer, the scenario is skipped with that reason, never
    /// failed: an unreachable registry is the machine's state, not the
    /// environment's fault.
    pub requires_network: Vec<String>,
}

/// `network:`: what a scenario's builds may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Network {
    /// `network: false` (the default): loopback only.
    #[default]
    Off,
    /// `network: true`: any host, through the proxy.
    Any,
    /// `network: {allow: [...]}`: these hosts (`*.domain` for any name
    /// under domain), through the proxy; others get 403.
    Allow(Vec<String>),
}

impl Network {
    /// Whether the builds get the proxy at all.
    pub fn is_on(&self) -> bool {
        *self != Network::Off
    }
}

/// What the fetches of a scenario must be (`expect.fetches`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FetchExpect {
    /// Unpinned fetches are a warning.
    #[default]
    Any,
    /// Every fetch must be pinned by a digest in the scenario's files.
    Pinned,
}

/// How the two builds' trees are compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Compare {
    /// The NAR hash: contents, the executable bit, symlink targets.
    #[default]
    Nar,
    /// The NAR hash and every path's mode bits, as a tarball would record them.
    Strict,
}

/// What the recipe is expected to do (`expect.build`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BuildExpect {
    /// Both builds must succeed (the default).
    #[default]
    Succeed,
    /// Both builds must fail, e.g. a scenario documenting a broken recipe.
    Fail,
}

/// How the environment gets built.
#[derive(Debug, Clone, PartialEq)]
pub enum Provider {
    Shell,
    Nix(NixSpec),
}

impl Provider {
    pub fn name(&self) -> &'static str {
        match self {
            Provider::Shell => "shell",
            Provider::Nix(_) => "nix",
        }
    }
}

/// SPEC §8 `nix:` block, paths resolved against the scenario directory.
#[derive(Debug, Clone, PartialEq)]
pub struct NixSpec {
    /// Absolute path of the expression file; `None` when `packages` is used.
    pub file: Option<PathBuf>,
    /// `nix-shell -p` packages (attribute names of `<nixpkgs>`), instead of a file.
    pub packages: Vec<String>,
    pub attr: Option<String>,
    pub mode: NixMode,
    /// NIX_PATH entries, name -> absolute path.
    pub nix_path: BTreeMap<String, PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NixMode {
    Shell,
    Build,
}

/// What the two builds must satisfy (SPEC §6). `$out` is already expanded
/// in `which`, `path_contains` and `path_excludes`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    pub reproducible: bool,
    /// Whether the recipe must succeed or fail in both builds.
    pub build: BuildExpect,
    /// SRI `sha256-...`.
    pub hash: Option<String>,
    /// command -> glob the `command -v` result must match.
    pub which: BTreeMap<String, String>,
    pub missing: Vec<String>,
    pub path_contains: Vec<String>,
    pub path_excludes: Vec<String>,
    pub run: Vec<RunExpect>,
    /// Whether unpinned fetches fail the scenario.
    pub fetches: FetchExpect,
}

impl Default for Expect {
    fn default() -> Self {
        Expect {
            reproducible: true,
            build: BuildExpect::Succeed,
            hash: None,
            which: BTreeMap::new(),
            missing: Vec::new(),
            path_contains: Vec::new(),
            path_excludes: Vec::new(),
            run: Vec::new(),
            fetches: FetchExpect::Any,
        }
    }
}

/// One `expect.run` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct RunExpect {
    /// Run by `/bin/sh -c` with PATH = the activated PATH.
    pub cmd: String,
    pub stdout: Option<String>,
    pub stdout_contains: Option<String>,
    pub exit: i32,
}

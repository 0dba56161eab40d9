//! Command-line definitions (clap). Parsing only; `lib::run` acts on them.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Build each environment scenario twice, in parallel, in isolated and
/// varied sandboxes, and check the builds are bit-for-bit identical and
/// resolve their tools inside the environment.
///
/// Exit status: 0 all passed (or skipped), 1 a check failed, 2 invalid
/// input, 3 the harness could not work.
#[derive(Debug, Parser)]
#[command(name = "envtwin", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What `run --help` says about the sandbox: the README's "The sandbox"
/// in brief.
const SANDBOX_HELP: &str = "\
Sandbox (as root or as an ordinary user; the same for both):
  Each build gets its own user namespace (one uid inside, mapped to you) and mount, pid,
  UTS, IPC, cgroup and network namespaces; no capabilities, no_new_privs, no nested user
  namespaces. It sees /usr, /bin, /sbin, /lib*, /opt and an /etc without secrets,
  read-only, plus host_paths; its own empty /tmp, HOME, build dir and $out (0700, nosuid,
  nodev); $src read-only; no network but its own loopback. Every build process dies with
  envtwin, even on SIGKILL; a later run removes a killed run's trees.

Network (`network: true` or `network: {allow: [hosts]}`):
  Builds still have loopback only; they reach envtwin's recording, caching proxy at
  http_proxy=http://127.0.0.1:3128 (HTTP, and HTTPS via CONNECT, opened with a per-run CA
  that only the sandboxes trust: SSL_CERT_FILE, PIP_CERT, ... are set). A GET answered 2xx
  is fetched once per run; the report lists every fetch and whether a file beside the
  scenario pins its digest. The proxy verifies upstream with the host's CA store, plus the
  PEM file in $ENVTWIN_UPSTREAM_CA if set (a private registry, or a test's own CA).
  Needs unprivileged user namespaces (Debian: on). In Docker: --security-opt
  seccomp=unconfined (and apparmor=unconfined where AppArmor is on); no --privileged.";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build and judge scenarios (files, or directories searched for *.yaml/*.yml).
    ///
    /// Example: envtwin run scenarios/ --format json -o report.json
    #[command(after_long_help = SANDBOX_HELP)]
    Run(RunArgs),
    /// Parse and check scenarios without building anything (exit 0 valid, 2 invalid).
    ///
    /// Example: envtwin validate scenarios/
    Validate {
        /// Scenario files or directories [default: scenarios/]
        paths: Vec<PathBuf>,
    },
    /// Print the environment hash (NAR SHA-256, SRI form) of a directory, file or symlink.
    ///
    /// Equals `nix hash path PATH`. Example: envtwin hash ./result
    Hash {
        /// Write the NAR serialisation itself to stdout instead.
        #[arg(long)]
        nar: bool,
        path: PathBuf,
    },
    /// Compare two trees as `run` compares builds (exit 0 identical, 1 different, 2 bad path).
    ///
    /// Example: envtwin diff /tmp/envtwin-x/a/out /tmp/envtwin-x/b/out
    Diff {
        a: PathBuf,
        b: PathBuf,
        /// Output format: human, json, or html (one self-contained page).
        #[arg(long, value_enum, default_value_t = DiffFormat::Human)]
        format: DiffFormat,
    },
    /// Merge the JSON reports of sharded runs (--partition K/N) into one
    /// report (exit 0 all passed, 1 a failure, 2 bad input, 3 a harness error
    /// in a shard).
    ///
    /// Refuses a scenario that is in two reports and a report of another
    /// format version. Example:
    /// envtwin merge report-*.json --format html -o report.html
    Merge(MergeArgs),
    /// Write a starter scenario under DIR/scenarios/ for each environment
    /// definition found in DIR (exit 0, 2 when a file to write exists).
    ///
    /// Finds shell.nix/default.nix, requirements*.txt, package-lock.json,
    /// Cargo.lock, and pyproject.toml with uv.lock. Never overwrites a file.
    /// Example: envtwin init . && envtwin validate
    Init {
        /// The project's directory [default: .]
        dir: Option<PathBuf>,
    },
    /// Print a shell completion script to stdout.
    ///
    /// Example: envtwin completions bash > /etc/bash_completion.d/envtwin
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Statically audit how well inputs are pinned (exit 0 clean, 1 findings, 2 bad input).
    ///
    /// Reads scenario files (their build script, `network`, and the .nix and
    /// requirements files they use), *.nix files and requirements*.txt files;
    /// directories are searched recursively. Builds and downloads nothing.
    /// Each finding is `file:line:column: severity rule-id: message` plus a
    /// fix. Exit 1 when a finding is an error (or a warning, with --deny
    /// warning).
    ///
    /// Example: envtwin audit scenarios/ requirements.txt --deny warning
    #[command(after_long_help = crate::audit::rules_help())]
    Audit(AuditArgs),
    /// Internal: run one sandboxed build from a spec file.
    #[command(name = "__sandbox", hide = true)]
    Sandbox { spec: PathBuf },
    /// Internal: run the probes of a JSON request in the current environment.
    #[command(name = "__probe", hide = true)]
    Probe { request: String },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files or directories [default: scenarios/]
    pub paths: Vec<PathBuf>,
    /// Scenarios built at the same time (each is two builds) [default: number of CPUs]
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub jobs: Option<u32>,
    /// Sandboxed builds running at once across the whole run, culprit
    /// searches included [default: number of CPUs, at least 2]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_builds: Option<u32>,
    /// Report format on stdout: human, json, junit (JUnit XML), markdown
    /// (for $GITHUB_STEP_SUMMARY), or html (one self-contained page).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Also write the report to FILE (in the same format).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Run only shard K of N (1-based), split by a hash of scenario names,
    /// so N CI machines share the work: the shards are disjoint and cover all.
    #[arg(long, value_name = "K/N")]
    pub partition: Option<Partition>,
    /// Only scenarios whose name contains TEXT.
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// Keep both builds' trees and print where they are.
    #[arg(long)]
    pub keep: bool,
    /// Fail, instead of skip, a scenario whose provider (e.g. nix-build) is
    /// not installed. Implied when CI=true.
    #[arg(long)]
    pub require_providers: bool,
    /// Directory for the builds' trees [default: /dev/shm if it is a tmpfs
    /// with 4 GiB free, else $TMPDIR or /tmp]
    #[arg(long, value_name = "DIR", env = "ENVTWIN_WORKDIR")]
    pub workdir: Option<PathBuf>,
    /// Check each scenario's environment against its regression snapshot
    /// DIR/<name>.snap (insta format) [DIR default: snapshots]. A missing or
    /// changed one is written as .snap.new for `cargo insta review`.
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "snapshots")]
    pub snapshots: Option<PathBuf>,
    /// With --snapshots: accept new and changed snapshots (write .snap).
    #[arg(long, requires = "snapshots")]
    pub accept: bool,
    /// Do not search which variations cause a difference (by default,
    /// builds that differ are rebuilt with each variation alone, in parallel).
    #[arg(long)]
    pub no_explain: bool,
    /// Keep what builds download in DIR across runs (content-addressed by
    /// SHA-256, indexed by URL), and answer from it before going upstream;
    /// for CI caches. Without it, downloads are cached for one run only.
    #[arg(long, value_name = "DIR")]
    pub fetch_cache: Option<PathBuf>,
    /// Build B exactly like build A (no variations).
    #[arg(long, conflicts_with = "vary")]
    pub no_vary: bool,
    /// Variations for build B, comma-separated, overriding the scenarios'
    /// own: hostname, umask, locale, timezone, env_order, home, build_path,
    /// user, num_cpus, exec_path, time, fileordering, aslr, kernel.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub vary: Option<Vec<String>>,
}

/// `envtwin merge` arguments.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// JSON reports written by `envtwin run --format json`.
    #[arg(required = true, value_name = "REPORT")]
    pub reports: Vec<PathBuf>,
    /// Format of the merged report on stdout.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// Also write the merged report to FILE (in the same format).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `envtwin audit` arguments.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Scenario, .nix or requirements*.txt files, or directories [default: scenarios/]
    pub paths: Vec<PathBuf>,
    /// Report format on stdout: human, json, or sarif (SARIF 2.1.0, for
    /// GitHub code scanning).
    #[arg(long, value_enum, default_value_t = AuditFormat::Human)]
    pub format: AuditFormat,
    /// Lowest severity that fails the audit (exit 1).
    #[arg(long, value_enum, value_name = "LEVEL", default_value_t = DenyLevel::Error)]
    pub deny: DenyLevel,
}

/// Which findings fail `envtwin audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DenyLevel {
    /// Errors and warnings.
    Warning,
    /// Errors only.
    Error,
}

/// Formats of the report of `run` and `merge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
    /// JUnit XML, one testcase per scenario.
    Junit,
    /// A table and the failures' details, for step summaries and PR comments.
    Markdown,
    /// One self-contained HTML page.
    Html,
}

/// Output formats of `diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Human,
    Json,
    /// One self-contained HTML page.
    Html,
}

/// Output formats of `audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    Human,
    Json,
    /// SARIF 2.1.0.
    Sarif,
}

/// `--partition K/N`: this machine runs shard K of N (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub index: u32,
    pub count: u32,
}

impl std::str::FromStr for Partition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not K/N with 1 <= K <= N (e.g. `--partition 2/3`)");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Partition { index, count })
    }
}

impl Partition {
    /// Whether the scenario named `name` belongs to this shard. By a hash
    /// of the name, so a scenario stays on its shard as others come and go.
    pub fn contains(&self, name: &str) -> bool {
        use sha2::{Digest, Sha256};
        let d = Sha256::digest(name.as_bytes());
        let h = u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]);
        h % u64::from(self.count) == u64::from(self.index - 1)
    }
}

/// Shells `completions` can write a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
}

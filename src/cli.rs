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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build and judge scenarios (files, or directories searched for *.yaml/*.yml).
    ///
    /// Example: envtwin run scenarios/ --format json -o report.json
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
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
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
    #[command(after_long_help = crate::audit::RULES_HELP)]
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
    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Also write the report to FILE (in the same format).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
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
    /// Build B exactly like build A (no variations).
    #[arg(long, conflicts_with = "vary")]
    pub no_vary: bool,
    /// Variations for build B, comma-separated, overriding the scenarios'
    /// own: hostname, umask, locale, timezone, env_order, home, build_path,
    /// user, num_cpus, exec_path, time, fileordering, aslr.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub vary: Option<Vec<String>>,
}

/// `envtwin audit` arguments.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Scenario, .nix or requirements*.txt files, or directories [default: scenarios/]
    pub paths: Vec<PathBuf>,
    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

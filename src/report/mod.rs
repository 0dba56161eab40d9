//! One serde `Report` model of a run (SPEC §7); `human`, `json`, `junit`,
//! `markdown` and `html` render it, `merge` reads sharded JSON reports back.
//!
//! Renderers are pure functions of the report into a writer, so tests can
//! render into a String and snapshot it.

#[cfg(test)]
pub(crate) mod fixture;
pub mod html;
pub mod human;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod merge;
pub mod terminal;

use crate::probe::{PathEntry, RunResult, WhichResult};
use crate::tree::Difference;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The JSON report's format version; `merge` reads only this one.
pub const REPORT_VERSION: u32 = 1;

/// A difference's path as shown: `.` for the root itself.
pub(crate) fn shown_path(d: &Difference) -> &str {
    if d.path.is_empty() { "." } else { &d.path }
}

/// A serde enum's name as it appears in JSON, e.g. `only_in_a`.
pub(crate) fn snake(v: &impl Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// The characters of hex bytes (`41`, `00`), `.` for the unprintable.
pub(crate) fn printable<'a>(hex: impl IntoIterator<Item = &'a str>) -> String {
    hex.into_iter()
        .filter_map(|x| u8::from_str_radix(x, 16).ok())
        .map(|b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        })
        .collect()
}

/// The report of one `envtwin run`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Format version of this JSON.
    pub version: u32,
    pub scenarios: Vec<ScenarioReport>,
    pub summary: Summary,
}

impl Report {
    pub fn new(scenarios: Vec<ScenarioReport>) -> Report {
        let count = |v: Verdict| scenarios.iter().filter(|s| s.verdict == v).count();
        let summary = Summary {
            total: scenarios.len(),
            passed: count(Verdict::Pass),
            failed: count(Verdict::Fail),
            errors: count(Verdict::Error),
            skipped: count(Verdict::Skipped),
        };
        Report {
            version: REPORT_VERSION,
            scenarios,
            summary,
        }
    }

    /// Variations not available on this machine, name -> reason, over all
    /// scenarios: a property of the machine, said once in a report.
    pub fn unavailable_variations(&self) -> BTreeMap<&String, &String> {
        self.scenarios
            .iter()
            .flat_map(|s| s.unavailable_variations.iter())
            .collect()
    }

    /// The CI gate: 3 if the harness failed anywhere, else 1 if a check failed.
    pub fn exit_code(&self) -> i32 {
        if self.summary.errors > 0 {
            crate::error::EXIT_HARNESS
        } else if self.summary.failed > 0 {
            crate::error::EXIT_FAILED
        } else {
            crate::error::EXIT_OK
        }
    }
}

/// Counts of verdicts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub skipped: usize,
}

impl Summary {
    /// `2 passed, 1 failed, 0 skipped`, and `, N errors` when there are any.
    pub fn counts(&self) -> String {
        let mut out = format!(
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        );
        if self.errors > 0 {
            let plural = if self.errors == 1 { "" } else { "s" };
            out.push_str(&format!(", {} error{plural}", self.errors));
        }
        out
    }
}

/// A scenario's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// The harness could not judge (sandbox unavailable, I/O error).
    Error,
    Skipped,
}

/// Everything known about one scenario after the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioReport {
    pub name: String,
    /// The scenario file as found.
    pub file: String,
    pub provider: String,
    pub verdict: Verdict,
    /// Why it was skipped or errored.
    pub reason: Option<String>,
    /// Whether the two builds' hashes are equal (`None` if not both built).
    pub reproducible: Option<bool>,
    pub builds: Option<Builds>,
    /// Differing paths between build A and build B.
    pub differences: Vec<Difference>,
    /// Variations that alone reproduce the difference (culprit search), if searched.
    pub culprits: Option<Vec<String>>,
    /// Whether the builds differ even with no variation, if searched.
    pub inherent: Option<bool>,
    /// Build A succeeded and build B failed: `culprits` are the variations
    /// that alone make build B fail.
    pub culprits_break_build: bool,
    /// Known advice for the culprits, e.g. that libfaketime hangs rustc.
    pub hints: Vec<String>,
    /// SOURCE_DATE_EPOCH was unset and the builds differ: whether a pair
    /// built with it set is identical (`true`: reproducible only with it).
    pub reproducible_with_sde: Option<bool>,
    /// What the culprit search cost, if one ran.
    pub search: Option<crate::twin::SearchCost>,
    /// Things worth knowing that fail nothing, e.g. mode bits that differ
    /// under `compare: nar`.
    pub notes: Vec<String>,
    pub checks: Vec<Check>,
    /// Selected variations not available on this machine: name -> reason.
    pub unavailable_variations: BTreeMap<String, String>,
    /// Where `--keep` left the trees.
    pub kept: Option<String>,
    pub duration_ms: u64,
    /// With `network:`: every URL the builds fetched through the proxy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fetches: Vec<crate::proxy::Fetch>,
}

impl ScenarioReport {
    /// A report for a scenario that was not built.
    pub fn without_builds(
        name: &str,
        file: &str,
        provider: &str,
        verdict: Verdict,
        reason: String,
    ) -> Self {
        ScenarioReport {
            name: name.into(),
            file: file.into(),
            provider: provider.into(),
            verdict,
            reason: Some(reason),
            reproducible: None,
            builds: None,
            differences: Vec::new(),
            culprits: None,
            inherent: None,
            culprits_break_build: false,
            hints: Vec::new(),
            reproducible_with_sde: None,
            search: None,
            notes: Vec::new(),
            checks: Vec::new(),
            unavailable_variations: BTreeMap::new(),
            kept: None,
            duration_ms: 0,
            fetches: Vec::new(),
        }
    }
}

/// Build A (control) and build B (varied).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Builds {
    pub a: BuildReport,
    pub b: BuildReport,
}

impl Builds {
    /// The variations whose value in build B is not build A's, by name.
    pub fn varied(&self) -> impl Iterator<Item = &String> {
        self.b
            .variations
            .iter()
            .filter(|(k, v)| self.a.variations.get(*k) != Some(*v))
            .map(|(k, _)| k)
    }
}

/// One build as reported.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildReport {
    /// `ok`, `failed` or `timeout`.
    pub status: crate::twin::BuildStatus,
    pub exit_code: Option<i32>,
    /// Why the build has no hash or was stopped, if so.
    pub problem: Option<String>,
    /// Environment hash (`sha256-...`).
    pub hash: Option<String>,
    /// Regular files and symlinks in `$out`.
    pub files: u64,
    /// Bytes of regular files in `$out`.
    pub bytes: u64,
    /// The activated PATH as the environment's shell saw it.
    pub path: Vec<String>,
    /// Each PATH entry with its executables.
    pub path_entries: Vec<PathEntry>,
    /// command -> what `command -v` found, or null.
    pub which: BTreeMap<String, Option<WhichResult>>,
    /// `expect.run` results.
    pub run: Vec<RunResult>,
    /// Variation name -> value used in this build.
    pub variations: BTreeMap<String, String>,
    /// SOURCE_DATE_EPOCH this build had; null: not set.
    pub source_date_epoch: Option<i64>,
    /// Last lines of the build's output.
    pub stderr_tail: String,
    pub duration_ms: u64,
    /// Each limit of the build with how it was enforced, e.g. `memory` ->
    /// `4 GiB (cgroup v1)`.
    pub limits: BTreeMap<String, String>,
    /// Bytes of build output dropped by `limits.log` (the log keeps its
    /// head and tail).
    pub log_dropped: u64,
}

/// One judged expectation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Check {
    /// `build`, `reproducible`, `hash`, `which`, `missing`, `path` or `run`.
    pub check: String,
    /// What was checked (a command, a glob, a build).
    pub subject: String,
    pub passed: bool,
    /// Expected vs seen, and in which build.
    pub message: String,
}

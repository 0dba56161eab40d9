//! `envtwin audit`: a static audit of how well environment definitions pin
//! their inputs (SPEC §9, issue 5). Main types: `Rule`, `Finding`, `Report`.
//!
//! Data flows one way: `inputs` finds and reads the files; `nix`, `shell`
//! and `requirements` each look at one kind of text and return located
//! `Hit`s; `scenario` audits a scenario file (its build script, `network`,
//! the Nix and requirements files it uses) and names the files to follow;
//! `render` prints the `Report`. Nothing here builds, runs or downloads.

mod inputs;
mod nix;
pub mod render;
mod requirements;
mod rules;
pub mod sarif;
mod scenario;
mod shell;

pub use rules::{RULES, Rule, RuleInfo, rules_help};

use crate::error::{Diagnostic, EXIT_FAILED, EXIT_INVALID, EXIT_OK, Error};
use inputs::{Job, Kind};
use serde::Serialize;
use std::collections::{HashSet, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};

/// How bad a finding is. `Error` fails the audit; `Warning` fails it only
/// under `--deny warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    /// `error` or `warning`, as printed.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// A finding inside one file, before the file is attached: what the
/// per-format analysers return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    pub rule: Rule,
    pub message: String,
    pub fix: String,
}

impl Hit {
    pub(crate) fn new(
        line: usize,
        column: usize,
        rule: Rule,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Hit {
        Hit {
            line,
            column,
            rule,
            message: message.into(),
            fix: fix.into(),
        }
    }
}

/// Text from the input quoted in a message, cut to a readable length: a
/// hostile or generated file must not turn one finding into megabytes.
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 80;
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(MAX).collect();
    if chars.next().is_some() {
        format!("{head}...")
    } else {
        head
    }
}

/// How many of a definition's downloads are pinned; feeds `network-unpinned`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Fetches {
    pub pinned: usize,
    pub unpinned: usize,
}

impl Fetches {
    pub(crate) fn add(&mut self, pinned: bool) {
        if pinned {
            self.pinned += 1;
        } else {
            self.unpinned += 1;
        }
    }

    pub(crate) fn merge(&mut self, other: Fetches) {
        self.pinned += other.pinned;
        self.unpinned += other.unpinned;
    }
}

/// One finding of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The file, as given on the command line or found from it.
    pub file: String,
    /// 1-based line of the offending text.
    pub line: usize,
    /// 1-based column (characters) of the offending text.
    pub column: usize,
    /// Stable rule id, e.g. `nix-lookup-path`.
    pub rule: &'static str,
    /// `error` or `warning`.
    pub severity: Severity,
    /// What is unpinned and why it matters.
    pub message: String,
    /// What to write instead.
    pub fix: String,
}

/// Totals of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Files audited (each once, however often it was reached).
    pub files: usize,
    /// Findings at error level.
    pub errors: usize,
    /// Findings at warning level.
    pub warnings: usize,
}

/// The audit's result: findings sorted by file, line, column and rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Every finding, in order.
    pub findings: Vec<Finding>,
    /// Totals.
    pub summary: Summary,
}

impl Report {
    fn new(mut findings: Vec<Finding>, files: usize) -> Report {
        findings.sort_by(|a, b| {
            (&a.file, a.line, a.column, a.rule).cmp(&(&b.file, b.line, b.column, b.rule))
        });
        findings.dedup();
        let errors = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        Report {
            summary: Summary {
                files,
                errors,
                warnings: findings.len() - errors,
            },
            findings,
        }
    }

    /// Exit status: 1 when a finding is at or above the `deny` severity.
    pub fn exit_code(&self, deny: Severity) -> i32 {
        let failing = match deny {
            Severity::Error => self.summary.errors,
            Severity::Warning => self.summary.errors + self.summary.warnings,
        };
        if failing > 0 { EXIT_FAILED } else { EXIT_OK }
    }
}

/// How `envtwin audit` prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `file:line:column: severity rule-id: message` and a `fix:` line.
    Human,
    /// `{"findings": [...], "summary": {...}}`.
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF readers.
    Sarif,
}

/// What `envtwin audit` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Files or directories; empty means `scenarios/`.
    pub paths: Vec<PathBuf>,
    pub format: Format,
    /// The lowest severity that fails the audit (exit 1).
    pub deny: Severity,
}

/// `envtwin audit`: audit, print the report on stdout, return the exit status.
/// Bad input (a missing path, a file that is not UTF-8 text, an invalid
/// scenario) is listed on stderr, file first, and gives exit 2 with no report.
pub fn run(args: Options) -> Result<i32, Error> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from("scenarios")]
    } else {
        args.paths
    };
    let report = match audit(&paths) {
        Ok(report) => report,
        Err(problems) => {
            for d in &problems {
                eprintln!("{d}");
            }
            let n = problems.len();
            eprintln!(
                "envtwin audit: {n} problem{} in the input; nothing was audited",
                if n == 1 { "" } else { "s" }
            );
            return Ok(EXIT_INVALID);
        }
    };
    let mut out = Vec::new();
    match args.format {
        Format::Human => render::human(&report, &mut out),
        Format::Json => render::json(&report, &mut out),
        Format::Sarif => sarif::render(&report, &mut out),
    }
    .map_err(|e| Error::Harness(format!("rendering the audit: {e}")))?;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(&out);
    let _ = stdout.flush();
    Ok(report.exit_code(args.deny))
}

/// Audit `paths` (scenario files, `.nix` files, requirements files, or
/// directories searched recursively for them) and every file the scenarios
/// among them use. `Err` lists every bad input found, not only the first.
pub fn audit(paths: &[PathBuf]) -> Result<Report, Vec<Diagnostic>> {
    let mut auditor = Auditor::default();
    for path in paths {
        let (jobs, problems) = inputs::expand(path);
        auditor.problems.extend(problems);
        for job in jobs {
            auditor.enqueue(job);
        }
    }
    while let Some(job) = auditor.queue.pop_front() {
        auditor.audit_file(job);
    }
    if auditor.problems.is_empty() {
        Ok(Report::new(auditor.findings, auditor.files))
    } else {
        Err(auditor.problems)
    }
}

#[derive(Default)]
struct Auditor {
    queue: VecDeque<Job>,
    /// Canonical paths already queued: each file is audited once, however
    /// many scenarios use it or directories reach it.
    seen: HashSet<PathBuf>,
    findings: Vec<Finding>,
    problems: Vec<Diagnostic>,
    files: usize,
}

impl Auditor {
    fn enqueue(&mut self, job: Job) {
        let key = std::fs::canonicalize(&job.path).unwrap_or_else(|_| job.path.clone());
        if self.seen.insert(key) {
            self.queue.push_back(job);
        }
    }

    fn audit_file(&mut self, job: Job) {
        let text = match inputs::read_text(&job.path, &job.display) {
            Ok(text) => text,
            Err(d) => {
                self.problems.push(d);
                return;
            }
        };
        self.files += 1;
        let hits = match job.kind {
            Kind::Nix => nix::audit(&text).hits,
            Kind::Requirements => {
                let audited = requirements::audit(&text);
                let base = job.path.parent().unwrap_or(Path::new("."));
                let shown = job.display.parent().unwrap_or(Path::new(""));
                let mut hits = audited.hits;
                for include in audited.includes {
                    let path = base.join(&include.path);
                    if path.is_file() {
                        self.enqueue(Job {
                            display: shown.join(&include.path),
                            path,
                            kind: Kind::Requirements,
                        });
                    } else {
                        hits.push(requirements::missing_include(&include));
                    }
                }
                hits
            }
            Kind::Scenario => match crate::scenario::load(std::slice::from_ref(&job.path)) {
                Err(diagnostics) => {
                    self.problems.extend(diagnostics.into_iter().map(|mut d| {
                        d.file = job.display.clone();
                        d
                    }));
                    return;
                }
                Ok(scenarios) => {
                    let mut hits = Vec::new();
                    for s in &scenarios {
                        let audited = scenario::audit(s, &job.display, &text);
                        self.problems.extend(audited.problems);
                        for follow in audited.follow {
                            self.enqueue(follow);
                        }
                        hits.extend(audited.hits);
                    }
                    hits
                }
            },
        };
        let file = job.display.display().to_string();
        self.findings.extend(hits.into_iter().map(|h| Finding {
            file: file.clone(),
            line: h.line,
            column: h.column,
            rule: h.rule.id(),
            severity: h.rule.severity(),
            message: h.message,
            fix: h.fix,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_input_is_shortened() {
        assert_eq!(shorten("flask"), "flask");
        let long = "é".repeat(200);
        assert_eq!(shorten(&long), format!("{}...", "é".repeat(80)));
    }

    #[test]
    fn warnings_fail_only_when_denied() {
        let finding = |severity| Finding {
            file: "f".into(),
            line: 1,
            column: 1,
            rule: "r",
            severity,
            message: String::new(),
            fix: String::new(),
        };
        let warn = Report::new(vec![finding(Severity::Warning)], 1);
        assert_eq!(warn.exit_code(Severity::Error), EXIT_OK);
        assert_eq!(warn.exit_code(Severity::Warning), EXIT_FAILED);
        let err = Report::new(vec![finding(Severity::Error)], 1);
        assert_eq!(err.exit_code(Severity::Error), EXIT_FAILED);
        let clean = Report::new(Vec::new(), 3);
        assert_eq!(clean.exit_code(Severity::Warning), EXIT_OK);
        assert_eq!(
            clean.summary,
            Summary {
                files: 3,
                errors: 0,
                warnings: 0
            }
        );
    }
}

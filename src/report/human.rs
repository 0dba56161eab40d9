//! The human renderer: a line per scenario, failure details, a summary line.

use super::{Report, ScenarioReport, Verdict};
use std::io::Write;

/// Write the human report.
pub fn render(report: &Report, w: &mut dyn Write) -> std::io::Result<()> {
    let width = report
        .scenarios
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(0);
    for s in &report.scenarios {
        let verdict = match s.verdict {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Error => "ERROR",
            Verdict::Skipped => "SKIP",
        };
        let extra = match (&s.verdict, &s.reason, s.reproducible) {
            (Verdict::Skipped | Verdict::Error, Some(r), _) => format!("  {r}"),
            (_, _, Some(true)) => format!("  {}", hash_a(s)),
            (_, _, Some(false)) => "  builds differ".into(),
            _ => String::new(),
        };
        writeln!(
            w,
            "{verdict:<5} {:<width$}  {:>6.2}s{extra}",
            s.name,
            s.duration_ms as f64 / 1000.0
        )?;
    }
    for s in &report.scenarios {
        details(s, w)?;
    }
    // Unavailability is a property of this machine, not of a scenario: say it once.
    let unavailable: std::collections::BTreeMap<&String, &String> = report
        .scenarios
        .iter()
        .flat_map(|s| s.unavailable_variations.iter())
        .collect();
    if !unavailable.is_empty() {
        writeln!(w)?;
        for (name, reason) in unavailable {
            writeln!(w, "note: variation {name} was not applied: {reason}")?;
        }
    }
    let sum = &report.summary;
    writeln!(w)?;
    if sum.errors > 0 {
        writeln!(
            w,
            "{} passed, {} failed, {} skipped, {} errors",
            sum.passed, sum.failed, sum.skipped, sum.errors
        )
    } else {
        writeln!(
            w,
            "{} passed, {} failed, {} skipped",
            sum.passed, sum.failed, sum.skipped
        )
    }
}

fn hash_a(s: &ScenarioReport) -> String {
    s.builds
        .as_ref()
        .and_then(|b| b.a.hash.clone())
        .unwrap_or_default()
}

fn details(s: &ScenarioReport, w: &mut dyn Write) -> std::io::Result<()> {
    let failed: Vec<_> = s.checks.iter().filter(|c| !c.passed).collect();
    // Passing snapshot checks that wrote or accepted something are worth a note.
    let notes: Vec<_> = s
        .checks
        .iter()
        .filter(|c| {
            c.passed && c.check == "snapshot" && !c.message.starts_with("the environment matches")
        })
        .collect();
    let show =
        !failed.is_empty() || !notes.is_empty() || !s.differences.is_empty() || s.kept.is_some();
    if !show {
        return Ok(());
    }
    writeln!(w)?;
    writeln!(w, "--- {} ({})", s.name, s.file)?;
    for c in &failed {
        writeln!(w, "  ✗ {}: {}", c.check, c.message)?;
    }
    for c in &notes {
        writeln!(w, "  note: {}: {}", c.check, c.message)?;
    }
    if !s.differences.is_empty() {
        writeln!(w, "  differences between build A and build B:")?;
        for d in &s.differences {
            let kind = serde_json::to_value(d.kind)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            let path = if d.path.is_empty() {
                "."
            } else {
                d.path.as_str()
            };
            if d.culprits.is_empty() {
                writeln!(w, "    {path}: {kind}")?;
            } else {
                writeln!(
                    w,
                    "    {path}: {kind} (caused by {})",
                    d.culprits.join(", ")
                )?;
            }
            if let Some(a) = &d.a {
                writeln!(w, "      A: {a}")?;
            }
            if let Some(b) = &d.b {
                writeln!(w, "      B: {b}")?;
            }
        }
        if let Some(b) = &s.builds {
            let varied: Vec<String> =
                b.b.variations
                    .iter()
                    .filter(|(k, v)| b.a.variations.get(*k) != Some(v))
                    .map(|(k, _)| k.clone())
                    .collect();
            if !varied.is_empty() {
                writeln!(w, "  build B varied: {}", varied.join(", "))?;
            }
        }
        if let (Some(c), Some(inherent)) = (&s.culprits, s.inherent) {
            if !c.is_empty() {
                writeln!(
                    w,
                    "  culprits (each alone reproduces a difference): {}",
                    c.join(", ")
                )?;
            }
            if inherent {
                writeln!(
                    w,
                    "  inherent: the builds differ even with no variation (randomness, a fine-grained clock, ...)"
                )?;
            } else if c.is_empty() {
                writeln!(
                    w,
                    "  no single variation reproduces the difference alone; it needs several together"
                )?;
            }
        }
    }
    if let Some(k) = &s.kept {
        writeln!(
            w,
            "  trees kept in {k} (a/out, b/out; compare with `envtwin diff {k}/a/out {k}/b/out`)"
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{BuildReport, Builds, Check, Report, ScenarioReport, Verdict};
    use crate::tree::{DiffKind, Difference};
    use crate::twin::BuildStatus;
    use std::collections::BTreeMap;

    fn build(hash: &str, host: &str) -> BuildReport {
        BuildReport {
            status: BuildStatus::Ok,
            exit_code: Some(0),
            problem: None,
            hash: Some(hash.into()),
            files: 2,
            bytes: 40,
            path: vec!["/envtwin/out/bin".into()],
            path_entries: Vec::new(),
            which: BTreeMap::new(),
            run: Vec::new(),
            variations: [("hostname".to_string(), host.to_string())].into(),
            stderr_tail: String::new(),
            duration_ms: 70,
        }
    }

    fn sample() -> Report {
        let pass = ScenarioReport {
            name: "hello".into(),
            file: "scenarios/hello/hello.yaml".into(),
            provider: "shell".into(),
            verdict: Verdict::Pass,
            reason: None,
            reproducible: Some(true),
            builds: Some(Builds {
                a: build("sha256-AAAA", "envtwin-a"),
                b: build("sha256-AAAA", "envtwin-b"),
            }),
            differences: Vec::new(),
            culprits: None,
            inherent: None,
            checks: Vec::new(),
            unavailable_variations: BTreeMap::new(),
            kept: None,
            duration_ms: 71,
        };
        let mut fail = pass.clone();
        fail.name = "stamped".into();
        fail.file = "scenarios/stamped.yaml".into();
        fail.verdict = Verdict::Fail;
        fail.reproducible = Some(false);
        fail.builds = Some(Builds {
            a: build("sha256-AAAA", "envtwin-a"),
            b: build("sha256-BBBB", "envtwin-b"),
        });
        fail.differences = vec![Difference {
            path: "share/info".into(),
            kind: DiffKind::Content,
            a: Some("regular, 10 bytes".into()),
            b: Some("regular, 18 bytes".into()),
            culprits: Vec::new(),
        }];
        fail.checks = vec![Check {
            check: "reproducible".into(),
            subject: "A vs B".into(),
            passed: false,
            message: "expected identical builds, but A is sha256-AAAA and B is sha256-BBBB; 1 differing path: share/info (content)".into(),
        }];
        fail.unavailable_variations = [(
            "fileordering".to_string(),
            "disorderfs is not installed".to_string(),
        )]
        .into();
        let skip = ScenarioReport::without_builds(
            "nix-env",
            "scenarios/nix.yaml",
            "nix",
            Verdict::Skipped,
            "nix-build is not installed".into(),
        );
        Report::new(vec![pass, fail, skip])
    }

    #[test]
    fn human_report_layout() {
        let mut out = Vec::new();
        render(&sample(), &mut out).expect("render");
        insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!("human_report", String::from_utf8_lossy(&out));
        });
    }

    #[test]
    fn exit_code_follows_the_worst_verdict() {
        let r = sample();
        assert_eq!(r.summary.passed, 1);
        assert_eq!(r.summary.failed, 1);
        assert_eq!(r.summary.skipped, 1);
        assert_eq!(r.exit_code(), crate::error::EXIT_FAILED);
    }
}

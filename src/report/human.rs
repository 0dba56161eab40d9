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
    let show = !failed.is_empty() || !s.differences.is_empty() || s.kept.is_some();
    if !show {
        return Ok(());
    }
    writeln!(w)?;
    writeln!(w, "--- {} ({})", s.name, s.file)?;
    for c in &failed {
        writeln!(w, "  ✗ {}: {}", c.check, c.message)?;
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
            writeln!(w, "    {path}: {kind}")?;
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
    }
    if let Some(k) = &s.kept {
        writeln!(
            w,
            "  trees kept in {k} (a/out, b/out; compare with `envtwin diff {k}/a/out {k}/b/out`)"
        )?;
    }
    Ok(())
}

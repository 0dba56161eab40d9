//! Audit renderers: pure functions of a `Report` into a writer.
//! Human: `file:line:column: severity rule-id: message`, an indented
//! `fix:` line, then a summary line. JSON: `{"findings": [...], "summary": {...}}`.

use super::Report;
use crate::report::terminal::{Escaping, one_line};
use std::io::Write;

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The human report.
/// File names and quoted source text are escaped (`report::terminal`).
pub fn human(report: &Report, w: &mut dyn Write) -> std::io::Result<()> {
    let mut escaping = Escaping::new(w);
    let w: &mut dyn Write = &mut escaping;
    for f in &report.findings {
        writeln!(
            w,
            "{}:{}:{}: {} {}: {}",
            one_line(&f.file),
            f.line,
            f.column,
            f.severity.name(),
            f.rule,
            one_line(&f.message)
        )?;
        writeln!(w, "  fix: {}", one_line(&f.fix))?;
    }
    let s = &report.summary;
    writeln!(
        w,
        "{} audited, {}, {}",
        plural(s.files, "file", "files"),
        plural(s.errors, "error", "errors"),
        plural(s.warnings, "warning", "warnings")
    )
}

/// The JSON report, pretty-printed, with a final newline.
pub fn json(report: &Report, w: &mut dyn Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, report)?;
    writeln!(w)
}

#[cfg(test)]
mod tests {
    use super::super::{Finding, Severity, Summary};
    use super::*;

    fn report() -> Report {
        Report {
            findings: vec![Finding {
                file: "a/default.nix".into(),
                line: 3,
                column: 13,
                rule: "nix-lookup-path",
                severity: Severity::Error,
                message: "m".into(),
                fix: "f".into(),
            }],
            summary: Summary {
                files: 1,
                errors: 1,
                warnings: 0,
            },
        }
    }

    #[test]
    fn human_lines() {
        let mut out = Vec::new();
        human(&report(), &mut out).expect("render");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "a/default.nix:3:13: error nix-lookup-path: m\n  fix: f\n1 file audited, 1 error, 0 warnings\n"
        );
    }

    #[test]
    fn json_shape() {
        let mut out = Vec::new();
        json(&report(), &mut out).expect("render");
        let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(
            v["findings"][0],
            serde_json::json!({"file": "a/default.nix", "line": 3, "column": 13,
                "rule": "nix-lookup-path", "severity": "error", "message": "m", "fix": "f"})
        );
        assert_eq!(v["summary"]["errors"], 1);
    }
}

//! The audit as SARIF 2.1.0, for GitHub code scanning and other SARIF
//! readers: one `reportingDescriptor` per rule of [`RULES`] (id, summary,
//! help, default level) and one result per finding, located at its file,
//! line and column.

use super::{RULES, Report, Severity};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use std::io::Write;

/// Characters kept as they are in a file path turned into a URI reference:
/// the unreserved ones and the path separator; everything else (spaces,
/// `#`, `?`, `%`, non-ASCII) is percent-encoded.
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// Write the report as one SARIF 2.1.0 log, pretty-printed.
pub fn render(report: &Report, w: &mut dyn Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, &log(report))?;
    writeln!(w)
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// The SARIF log as a JSON value.
pub fn log(report: &Report) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "shortDescription": {"text": r.summary},
                "fullDescription": {"text": r.help},
                "help": {"text": r.help},
                "defaultConfiguration": {"level": level(r.severity)},
                "properties": {"tags": ["reproducibility", "supply-chain"]},
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let rule_index = RULES.iter().position(|r| r.id == f.rule);
            let mut location = json!({"uri": uri(&f.file)});
            // Relative paths are relative to where envtwin ran: in CI, the
            // checkout's root, which code scanning calls %SRCROOT%.
            if !f.file.starts_with('/') {
                location["uriBaseId"] = json!("%SRCROOT%");
            }
            let mut result = json!({
                "ruleId": f.rule,
                "level": level(f.severity),
                "message": {"text": format!("{}\nfix: {}", f.message, f.fix)},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": location,
                        "region": {"startLine": f.line, "startColumn": f.column},
                    }
                }],
            });
            if let Some(i) = rule_index {
                result["ruleIndex"] = json!(i);
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "envtwin",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }
            },
            // The audit counts columns in characters.
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}

/// A file path as a SARIF URI reference: absolute paths as `file://` URIs.
fn uri(path: &str) -> String {
    let encoded = utf8_percent_encode(path, PATH).to_string();
    if path.starts_with('/') {
        format!("file://{encoded}")
    } else {
        encoded
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Finding, Summary};
    use super::*;

    #[test]
    fn findings_point_at_their_rule_and_location() {
        let report = Report {
            findings: vec![
                Finding {
                    file: "my dir/default#1.nix".into(),
                    line: 3,
                    column: 13,
                    rule: "nix-lookup-path",
                    severity: Severity::Error,
                    message: "m".into(),
                    fix: "f".into(),
                },
                Finding {
                    file: "/abs/requirements.txt".into(),
                    line: 1,
                    column: 1,
                    rule: "requirements-no-hashes",
                    severity: Severity::Warning,
                    message: "m2".into(),
                    fix: "f2".into(),
                },
            ],
            summary: Summary {
                files: 2,
                errors: 1,
                warnings: 1,
            },
        };
        let v = log(&report);
        let run = &v["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
        assert_eq!(rules.len(), RULES.len());
        let first = &run["results"][0];
        assert_eq!(first["ruleId"], "nix-lookup-path");
        assert_eq!(
            rules[first["ruleIndex"].as_u64().unwrap() as usize]["id"],
            "nix-lookup-path"
        );
        assert_eq!(first["level"], "error");
        assert_eq!(first["message"]["text"], "m\nfix: f");
        let loc = &first["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "my%20dir/default%231.nix");
        assert_eq!(loc["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        assert_eq!(loc["region"], json!({"startLine": 3, "startColumn": 13}));
        let second = &run["results"][1];
        assert_eq!(second["level"], "warning");
        assert_eq!(
            second["locations"][0]["physicalLocation"]["artifactLocation"],
            json!({"uri": "file:///abs/requirements.txt"})
        );
        let warn_rule = rules
            .iter()
            .find(|r| r["id"] == "requirements-no-hashes")
            .expect("rule");
        assert_eq!(warn_rule["defaultConfiguration"]["level"], "warning");
    }
}

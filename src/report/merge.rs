//! `envtwin merge`: the JSON reports of sharded runs (`--partition K/N`)
//! read back into one `Report`, as the unsharded run would have made it.
//!
//! Pure: the caller reads the files; this parses, checks and combines.

use super::{REPORT_VERSION, Report, ScenarioReport};
use crate::error::Diagnostic;
use std::collections::BTreeMap;

/// One report to merge: where it came from (as shown in messages) and its text.
pub struct Input {
    /// The file as given on the command line.
    pub file: String,
    /// Its contents.
    pub text: String,
}

/// Merge the reports. Every problem is listed, not only the first: a file
/// that is not a report, one of another format version, and a scenario
/// that appears in two reports (shards overlap, or one file is given twice).
pub fn merge(inputs: &[Input]) -> Result<Report, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    let mut scenarios: Vec<ScenarioReport> = Vec::new();
    let mut first_seen: BTreeMap<String, String> = BTreeMap::new();
    for input in inputs {
        let Some(report) = parse(input, &mut problems) else {
            continue;
        };
        for s in report.scenarios {
            if let Some(other) = first_seen.get(&s.name) {
                problems.push(Diagnostic::new(
                    &input.file,
                    format!(
                        "scenario `{}` is also in {other}; shards must be disjoint \
                         (same N in every --partition K/N, each K once), and each report given once",
                        s.name
                    ),
                ));
                continue;
            }
            first_seen.insert(s.name.clone(), input.file.clone());
            scenarios.push(s);
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    // The order an unsharded run reports in: scenario files sorted by path.
    scenarios.sort_by(|a, b| (&a.file, &a.name).cmp(&(&b.file, &b.name)));
    Ok(Report::new(scenarios))
}

fn parse(input: &Input, problems: &mut Vec<Diagnostic>) -> Option<Report> {
    let located = |e: serde_json::Error, what: &str| {
        let d = Diagnostic::new(&input.file, format!("{what}: {e}"));
        if e.line() > 0 {
            d.at(e.line(), e.column())
        } else {
            d
        }
    };
    // The version first, so a report of another format version is named
    // as such rather than as a confusing shape error.
    let value: serde_json::Value = match serde_json::from_str(&input.text) {
        Ok(v) => v,
        Err(e) => {
            problems.push(located(
                e,
                "not a JSON report (write one with `envtwin run --format json -o FILE`)",
            ));
            return None;
        }
    };
    match value.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(REPORT_VERSION) => {}
        Some(v) => {
            problems.push(Diagnostic::new(
                &input.file,
                format!(
                    "report format version {v}, but this envtwin reads version {REPORT_VERSION}; \
                     merge reports written by the same envtwin version"
                ),
            ));
            return None;
        }
        None => {
            problems.push(Diagnostic::new(
                &input.file,
                "no `version` number: not an envtwin JSON report \
                 (write one with `envtwin run --format json -o FILE`)",
            ));
            return None;
        }
    }
    // Parsed from the text, not the value, so shape errors keep their line.
    match serde_json::from_str::<Report>(&input.text) {
        Ok(r) => Some(r),
        Err(e) => {
            problems.push(located(e, "not an envtwin report of this version"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;

    fn report_json(names: &[(&str, Verdict)]) -> String {
        let scenarios = names
            .iter()
            .map(|(n, v)| {
                ScenarioReport::without_builds(
                    n,
                    &format!("scenarios/{n}.yaml"),
                    "shell",
                    *v,
                    "r".into(),
                )
            })
            .collect();
        serde_json::to_string(&Report::new(scenarios)).expect("json")
    }

    fn input(file: &str, text: String) -> Input {
        Input {
            file: file.into(),
            text,
        }
    }

    #[test]
    fn shards_merge_into_one_sorted_report_with_summed_summary() {
        let merged = merge(&[
            input("2.json", report_json(&[("zeta", Verdict::Fail)])),
            input(
                "1.json",
                report_json(&[("alpha", Verdict::Pass), ("mid", Verdict::Skipped)]),
            ),
        ])
        .expect("merge");
        let names: Vec<&str> = merged.scenarios.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["alpha", "mid", "zeta"]);
        assert_eq!(
            (
                merged.summary.total,
                merged.summary.passed,
                merged.summary.failed,
                merged.summary.skipped
            ),
            (3, 1, 1, 1)
        );
        assert_eq!(merged.exit_code(), crate::error::EXIT_FAILED);
    }

    #[test]
    fn a_report_with_every_kind_of_detail_round_trips() {
        let sample = crate::report::fixture::sample();
        let text = serde_json::to_string_pretty(&sample).expect("json");
        let merged = merge(&[input("r.json", text)]).expect("merge");
        let mut expected = sample.scenarios.clone();
        expected.sort_by(|a, b| (&a.file, &a.name).cmp(&(&b.file, &b.name)));
        assert_eq!(
            serde_json::to_value(&merged.scenarios).expect("json"),
            serde_json::to_value(&expected).expect("json")
        );
        assert_eq!(merged.summary, sample.summary);
    }

    #[test]
    fn duplicates_versions_and_garbage_are_all_listed() {
        let other_version =
            report_json(&[("b", Verdict::Pass)]).replacen("\"version\":1", "\"version\":2", 1);
        let problems = merge(&[
            input("1.json", report_json(&[("a", Verdict::Pass)])),
            input("again.json", report_json(&[("a", Verdict::Pass)])),
            input("v2.json", other_version),
            input("bad.json", "{\n  \"version\": 1,\n  oops\n}".into()),
            input("shape.json", "{\"version\": 1, \"scenarios\": 3}".into()),
        ])
        .expect_err("problems");
        let shown: Vec<String> = problems.iter().map(|d| d.to_string()).collect();
        assert_eq!(shown.len(), 4, "{shown:#?}");
        assert!(
            shown[0].starts_with("again.json: scenario `a` is also in 1.json"),
            "{}",
            shown[0]
        );
        assert!(
            shown[1]
                .starts_with("v2.json: report format version 2, but this envtwin reads version 1"),
            "{}",
            shown[1]
        );
        assert!(
            shown[2].starts_with("bad.json:3:3: not a JSON report"),
            "{}",
            shown[2]
        );
        assert!(shown[3].starts_with("shape.json:1:"), "{}", shown[3]);
    }
}

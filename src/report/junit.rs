//! The JUnit XML renderer: one testcase per scenario, a failure element
//! listing the failed checks, for CI systems that read JUnit.

use super::{Report, Verdict};
use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
use std::io::Write;
use std::time::Duration;

/// Write the report as JUnit XML.
pub fn render(report: &Report, w: &mut dyn Write) -> std::io::Result<()> {
    let mut suite = TestSuite::new("envtwin");
    let mut total = Duration::ZERO;
    for s in &report.scenarios {
        let failed: Vec<String> = s
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| format!("{}: {}", c.check, c.message))
            .collect();
        let status = match s.verdict {
            Verdict::Pass => TestCaseStatus::success(),
            Verdict::Skipped => {
                let mut st = TestCaseStatus::skipped();
                st.set_message(s.reason.clone().unwrap_or_default());
                st
            }
            Verdict::Fail | Verdict::Error => {
                let kind = if s.verdict == Verdict::Fail {
                    NonSuccessKind::Failure
                } else {
                    NonSuccessKind::Error
                };
                let mut st = TestCaseStatus::non_success(kind);
                let summary = match (&s.reason, failed.first()) {
                    (Some(r), _) => r.clone(),
                    (None, Some(first)) => {
                        format!("{} failed check(s); first: {first}", failed.len())
                    }
                    (None, None) => "failed".into(),
                };
                st.set_message(summary);
                st.set_type(if s.verdict == Verdict::Fail {
                    "check"
                } else {
                    "harness"
                });
                let mut description = failed.join("\n");
                for d in &s.differences {
                    description.push_str(&format!("\ndifference: {} ({:?})", d.path, d.kind));
                }
                st.set_description(description);
                st
            }
        };
        let mut case = TestCase::new(s.name.clone(), status);
        case.set_classname(s.file.clone());
        let time = Duration::from_millis(s.duration_ms);
        total += time;
        case.set_time(time);
        suite.add_test_case(case);
    }
    suite.set_time(total);
    let mut junit = quick_junit::Report::new("envtwin");
    junit.add_test_suite(suite);
    junit
        .serialize(&mut *w)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    writeln!(w)
}

//! The human renderer: a line per scenario, failure details, a summary line.

use super::terminal::{Escaping, one_line};
use super::{Report, ScenarioReport, Verdict, printable, shown_path, snake};
use crate::tree::Difference;
use crate::tree::explain::{Body, Detail};
use std::io::Write;

/// Most lines of detail shown under one difference; `--format json` has
/// the whole (itself capped) detail.
pub(crate) const MAX_DETAIL_LINES: usize = 40;
/// Differences of one scenario shown with their detail; the rest are
/// listed by path and kind only, so one broken build cannot bury the report.
pub(crate) const MAX_DETAILED: usize = 20;

/// Write the human report.
pub fn render(report: &Report, w: &mut dyn Write) -> std::io::Result<()> {
    let mut escaping = Escaping::new(w);
    let w: &mut dyn Write = &mut escaping;
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
    let unavailable = report.unavailable_variations();
    if !unavailable.is_empty() {
        writeln!(w)?;
        for (name, reason) in unavailable {
            writeln!(w, "note: variation {name} was not applied: {reason}")?;
        }
    }
    sde_line(report, w)?;
    writeln!(w)?;
    writeln!(w, "{}", report.summary.counts())
}

/// One line saying which SOURCE_DATE_EPOCH the builds had, when any had
/// one: a build passing only because of it must not pass silently.
fn sde_line(report: &Report, w: &mut dyn Write) -> std::io::Result<()> {
    let mut by_value: std::collections::BTreeMap<i64, Vec<&str>> = Default::default();
    let mut built = 0;
    for s in &report.scenarios {
        let Some(b) = &s.builds else { continue };
        built += 1;
        for v in [b.a.source_date_epoch, b.b.source_date_epoch]
            .into_iter()
            .flatten()
        {
            let names = by_value.entry(v).or_default();
            if names.last() != Some(&s.name.as_str()) {
                names.push(&s.name);
            }
        }
    }
    for (v, names) in &by_value {
        let whom = if names.len() == built {
            "every build".to_string()
        } else {
            format!("the builds of {}", names.join(", "))
        };
        writeln!(w)?;
        writeln!(
            w,
            "note: SOURCE_DATE_EPOCH={v} was set for {whom}; `source_date_epoch: null` builds without it"
        )?;
    }
    Ok(())
}

pub(crate) fn hash_a(s: &ScenarioReport) -> String {
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
    let show = !failed.is_empty()
        || !notes.is_empty()
        || !s.notes.is_empty()
        || !s.differences.is_empty()
        || !s.fetches.is_empty()
        || s.kept.is_some();
    if !show {
        return Ok(());
    }
    writeln!(w)?;
    writeln!(w, "--- {} ({})", s.name, one_line(&s.file))?;
    for c in &failed {
        writeln!(w, "  ✗ {}: {}", c.check, c.message)?;
    }
    for c in &notes {
        writeln!(w, "  note: {}: {}", c.check, c.message)?;
    }
    for n in &s.notes {
        writeln!(w, "  note: {n}")?;
    }
    if !s.fetches.is_empty() {
        writeln!(w, "  fetches: {}", crate::proxy::summary(&s.fetches))?;
    }
    if s.culprits_break_build {
        if let Some(c) = s.culprits.as_ref().filter(|c| !c.is_empty()) {
            writeln!(
                w,
                "  culprits (each alone makes build B fail): {}",
                c.join(", ")
            )?;
        } else if s.inherent == Some(true) {
            writeln!(w, "  build B fails even with no variation")?;
        }
        for h in &s.hints {
            writeln!(w, "  hint: {h}")?;
        }
        search_line(s, w)?;
    }
    if !s.differences.is_empty() {
        writeln!(w, "  differences between build A and build B:")?;
        for (i, d) in s.differences.iter().enumerate() {
            write_one(d, 4, i < MAX_DETAILED, w)?;
        }
        if s.differences.len() > MAX_DETAILED {
            writeln!(
                w,
                "    (details of the last {} differences: --format json)",
                s.differences.len() - MAX_DETAILED
            )?;
        }
        if let Some(b) = &s.builds {
            let varied: Vec<&str> = b.varied().map(String::as_str).collect();
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
                    "  inherent: the builds differ with no variation (e.g. a clock or random data)"
                )?;
            } else if c.is_empty() {
                writeln!(
                    w,
                    "  no single variation reproduces the difference alone; it needs several together"
                )?;
            }
            search_line(s, w)?;
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

/// What the culprit search cost.
fn search_line(s: &ScenarioReport, w: &mut dyn Write) -> std::io::Result<()> {
    let Some(c) = &s.search else { return Ok(()) };
    let skipped = if c.skipped.is_empty() {
        String::new()
    } else {
        format!(
            "; not tried, everything was already explained: {}",
            c.skipped.join(", ")
        )
    };
    writeln!(
        w,
        "  culprit search: {} build{} in {:.1} s{skipped}",
        c.builds,
        if c.builds == 1 { "" } else { "s" },
        c.duration_ms as f64 / 1000.0
    )?;
    if c.by_clock > 0 {
        writeln!(
            w,
            "  time, read in the outputs: {} file{} differ only in times {} days apart, as far as build B's clock ran ahead (no rebuild needed)",
            c.by_clock,
            if c.by_clock == 1 { "" } else { "s" },
            crate::sandbox::plan::FAKETIME_DAYS
        )?;
    }
    Ok(())
}

/// Write one difference — `path: kind`, the two sides, then what changed
/// and its hints — indented by `indent` spaces. `envtwin diff` prints the
/// same, through an `Escaping` writer.
pub fn write_difference(d: &Difference, indent: usize, w: &mut dyn Write) -> std::io::Result<()> {
    write_one(d, indent, true, &mut Escaping::new(w))
}

fn write_one(
    d: &Difference,
    indent: usize,
    with_detail: bool,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    let pad = " ".repeat(indent);
    let path = one_line(shown_path(d));
    if d.inherent && !d.culprits.is_empty() {
        writeln!(
            w,
            "{pad}{path}: {} (caused by {}; some of it differs with no variation)",
            d.kind.name(),
            d.culprits.join(", ")
        )?;
    } else if d.inherent {
        writeln!(
            w,
            "{pad}{path}: {} (differs with no variation)",
            d.kind.name()
        )?;
    } else if d.culprits.is_empty() {
        writeln!(w, "{pad}{path}: {}", d.kind.name())?;
    } else {
        writeln!(
            w,
            "{pad}{path}: {} (caused by {})",
            d.kind.name(),
            d.culprits.join(", ")
        )?;
    }
    if let Some(a) = &d.a {
        writeln!(w, "{pad}  A: {}", one_line(a))?;
    }
    if let Some(b) = &d.b {
        writeln!(w, "{pad}  B: {}", one_line(b))?;
    }
    member_culprits(d, &pad, w)?;
    if let Some(detail) = d.detail.as_ref().filter(|_| with_detail) {
        for l in capped_detail_lines(detail) {
            writeln!(w, "{pad}  {}", one_line(&l))?;
        }
    }
    Ok(())
}

/// For an archive, which members each culprit changed: one line per cause.
fn member_culprits(d: &Difference, pad: &str, w: &mut dyn Write) -> std::io::Result<()> {
    let mut by_cause: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for m in &d.members {
        let cause = if m.inherent {
            "with no variation".to_string()
        } else if m.culprits.is_empty() {
            "by several variations together".to_string()
        } else {
            format!("caused by {}", m.culprits.join(", "))
        };
        by_cause
            .entry(cause)
            .or_default()
            .push(format!("{} ({})", m.member, m.change));
    }
    for (cause, members) in by_cause {
        let shown: Vec<&str> = members.iter().take(3).map(String::as_str).collect();
        writeln!(
            w,
            "{pad}  members {cause}: {}{}",
            shown.join(", "),
            if members.len() > 3 {
                format!(" and {} more", members.len() - 3)
            } else {
                String::new()
            }
        )?;
    }
    Ok(())
}

/// The lines of a detail, each prefixed by `pad`: hints first (the likely
/// cause matters most and must survive the line cap), then the change.
/// The detail's lines, at most [`MAX_DETAIL_LINES`] of them and then a
/// count of the rest. An archive's per-class `more:` summaries are kept
/// past the cut: they say what kind of difference was left out, which the
/// bare count does not.
pub(crate) fn capped_detail_lines(d: &Detail) -> Vec<String> {
    let mut lines = Vec::new();
    detail_lines(d, "", &mut lines);
    if lines.len() <= MAX_DETAIL_LINES {
        return lines;
    }
    let rest = lines.split_off(MAX_DETAIL_LINES);
    let (summaries, cut): (Vec<String>, Vec<String>) = rest
        .into_iter()
        .partition(|l| l.trim_start().starts_with("more: "));
    if !cut.is_empty() {
        lines.push(format!(
            "… {} more lines of detail (--format json shows them)",
            cut.len()
        ));
    }
    lines.extend(summaries);
    lines
}

pub(crate) fn detail_lines(d: &Detail, pad: &str, out: &mut Vec<String>) {
    for h in &d.hints {
        out.push(format!("{pad}hint: {h}"));
    }
    match &d.body {
        Body::Text(t) => {
            if let Some(e) = &t.encoding {
                out.push(format!("{pad}encoding: {e}"));
            }
            out.extend(t.diff.lines().map(|l| format!("{pad}{l}")));
            if let Some(cut) = &t.truncated {
                out.push(format!("{pad}… {cut}"));
            }
        }
        Body::Binary(b) => {
            out.push(format!(
                "{pad}binary: {} bytes in A, {} in B; first difference at byte {} (0x{:x})",
                b.size_a, b.size_b, b.first_difference, b.first_difference
            ));
            let width = b.hex_a.len().max(b.hex_b.len());
            for (side, hex) in [("A", &b.hex_a), ("B", &b.hex_b)] {
                out.push(format!(
                    "{pad}{side} @{:08x}: {hex:<width$}  |{}|",
                    b.window_offset,
                    printable(hex.split(' '))
                ));
            }
            if let Some(n) = &b.note {
                out.push(format!("{pad}({n})"));
            }
        }
        Body::Archive(a) => {
            for m in &a.members {
                out.push(format!("{pad}{}: {}", m.member, snake(&m.kind)));
                if let Some(x) = &m.a {
                    out.push(format!("{pad}  A: {x}"));
                }
                if let Some(x) = &m.b {
                    out.push(format!("{pad}  B: {x}"));
                }
                if let Some(inner) = &m.detail {
                    detail_lines(inner, &format!("{pad}    "), out);
                }
            }
            for o in &a.omitted {
                out.push(format!(
                    "{pad}more: {} {} differences not shown",
                    o.count, o.class
                ));
            }
            if let (Some(n), true) = (a.more, a.omitted.is_empty()) {
                out.push(format!("{pad}… {n} more member differences"));
            }
            if let Some(n) = &a.note {
                out.push(format!("{pad}({} read incompletely: {n})", a.archive));
            }
        }
        Body::Name => {}
        Body::Unreadable { reason } => out.push(format!("{pad}could not explain: {reason}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{BuildReport, Builds, Check, Report, ScenarioReport, Verdict};
    use crate::tree::explain::{
        ArchiveDetail, BinaryDetail, MemberChange, MemberDiff, Omitted, TextDetail,
    };
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
            source_date_epoch: Some(315_532_800),
            stderr_tail: String::new(),
            duration_ms: 70,
            limits: BTreeMap::new(),
            log_dropped: 0,
        }
    }

    fn sample() -> Report {
        let mut pass = ScenarioReport::without_builds(
            "hello",
            "scenarios/hello/hello.yaml",
            "shell",
            Verdict::Pass,
            String::new(),
        );
        pass.reason = None;
        pass.reproducible = Some(true);
        pass.builds = Some(Builds {
            a: build("sha256-AAAA", "envtwin-a"),
            b: build("sha256-AAAA", "envtwin-b"),
        });
        pass.duration_ms = 71;
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
            inherent: false,
            members: Vec::new(),
            detail: Some(Detail {
                body: Body::Text(TextDetail {
                    diff: "@@ -1,2 +1,2 @@\n version 1\n-host envtwin-a\n+host envtwin-b\n".into(),
                    removed: 1,
                    added: 1,
                    truncated: None,
                    encoding: None,
                }),
                hints: vec!["looks like the hostname (envtwin-a in A, envtwin-b in B)".into()],
            }),
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

    /// A differing archive with these member differences and nothing else.
    fn archive_difference(
        path: &str,
        archive: &str,
        members: Vec<MemberDiff>,
        omitted: Vec<Omitted>,
    ) -> Difference {
        Difference {
            path: path.into(),
            kind: DiffKind::Content,
            a: None,
            b: None,
            culprits: Vec::new(),
            inherent: false,
            members: Vec::new(),
            detail: Some(Detail {
                body: Body::Archive(ArchiveDetail {
                    archive: archive.into(),
                    members,
                    more: omitted.iter().map(|o| o.count).reduce(|a, b| a + b),
                    omitted,
                    note: None,
                }),
                hints: Vec::new(),
            }),
        }
    }

    #[test]
    fn archive_and_binary_details_are_indented_and_capped() {
        let inner = Detail {
            body: Body::Binary(BinaryDetail {
                size_a: 4,
                size_b: 4,
                first_difference: 2,
                window_offset: 0,
                hex_a: "41 42 00 01".into(),
                hex_b: "41 42 ff 01".into(),
                note: None,
            }),
            hints: Vec::new(),
        };
        let member = |n: usize| MemberDiff {
            member: format!("b.zip!m{n}"),
            kind: MemberChange::Timestamp,
            a: Some("2026-11-26 10:00:00".into()),
            b: Some("2026-11-26 10:00:02".into()),
            detail: None,
        };
        let mut members = vec![MemberDiff {
            member: "b.zip!x.bin".into(),
            kind: MemberChange::Content,
            a: Some("file, 4 bytes".into()),
            b: Some("file, 4 bytes".into()),
            detail: Some(Box::new(inner)),
        }];
        members.extend((0..20).map(member));
        let mut d = archive_difference("lib/b.zip", "zip", members, Vec::new());
        if let Some(Detail {
            body: Body::Archive(a),
            hints,
        }) = &mut d.detail
        {
            a.more = Some(3);
            hints.push("20 member timestamps differ".into());
        }
        let mut out = Vec::new();
        write_difference(&d, 2, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[..11],
            [
                "  lib/b.zip: content",
                "    hint: 20 member timestamps differ",
                "    b.zip!x.bin: content",
                "      A: file, 4 bytes",
                "      B: file, 4 bytes",
                "        binary: 4 bytes in A, 4 in B; first difference at byte 2 (0x2)",
                "        A @00000000: 41 42 00 01  |AB..|",
                "        B @00000000: 41 42 ff 01  |AB..|",
                "    b.zip!m0: timestamp",
                "      A: 2026-11-26 10:00:00",
                "      B: 2026-11-26 10:00:02",
            ]
        );
        // 1 + 40 detail lines + the line saying how many more.
        assert_eq!(lines.len(), 42);
        assert_eq!(
            lines[41],
            "    … 28 more lines of detail (--format json shows them)"
        );
    }

    #[test]
    fn per_class_summaries_survive_the_detail_cap() {
        let member = |n: usize| MemberDiff {
            member: format!("t.tar!m{n}"),
            kind: MemberChange::Timestamp,
            a: Some("2026-11-26 10:00:00".into()),
            b: Some("2026-11-26 10:00:02".into()),
            detail: None,
        };
        let omitted = vec![Omitted {
            class: "metadata".into(),
            count: 60,
        }];
        let d = archive_difference("t.tar", "tar", (0..20).map(member).collect(), omitted);
        let mut out = Vec::new();
        write_difference(&d, 2, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[lines.len() - 2..],
            [
                "    … 20 more lines of detail (--format json shows them)",
                "    more: 60 metadata differences not shown",
            ],
            "{out}"
        );
    }

    #[test]
    fn only_the_first_differences_of_a_scenario_show_details() {
        let mut r = sample();
        let d = r.scenarios[1].differences[0].clone();
        r.scenarios[1].differences = (0..25)
            .map(|i| Difference {
                path: format!("f{i:02}"),
                ..d.clone()
            })
            .collect();
        let mut out = Vec::new();
        render(&r, &mut out).expect("render");
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out.matches("      hint: looks like the hostname").count(),
            20
        );
        assert!(out.contains("    f24: content\n      A: regular, 10 bytes\n      B: regular, 18 bytes\n    (details of the last 5 differences: --format json)\n"), "{out}");
    }
}

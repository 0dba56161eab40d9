//! The Markdown renderer: a compact table of scenarios, then the details of
//! each failure, for `$GITHUB_STEP_SUMMARY`, GitLab and PR comments.
//!
//! Everything that comes from a build (file names, contents, messages) is
//! escaped: as text it cannot open a link, a table cell or raw HTML, and in
//! a fenced block it cannot close the fence.

use super::human::{MAX_DETAILED, capped_detail_lines, hash_a};
use super::{Report, ScenarioReport, Verdict, shown_path};
use crate::tree::Difference;
use std::io::Write;

/// Write the Markdown report.
pub fn render(report: &Report, w: &mut dyn Write) -> std::io::Result<()> {
    let s = &report.summary;
    let mark = if s.failed + s.errors > 0 {
        "❌"
    } else {
        "✅"
    };
    let mut counts = format!(
        "{} passed, {} failed, {} skipped",
        s.passed, s.failed, s.skipped
    );
    if s.errors > 0 {
        counts.push_str(&format!(
            ", {} error{}",
            s.errors,
            if s.errors == 1 { "" } else { "s" }
        ));
    }
    let total_ms: u64 = report.scenarios.iter().map(|s| s.duration_ms).sum();
    writeln!(
        w,
        "## {mark} envtwin: {counts} ({:.1} s of scenario time)\n",
        total_ms as f64 / 1000.0
    )?;
    writeln!(w, "| scenario | verdict | time | hash or reason |")?;
    writeln!(w, "| --- | --- | ---: | --- |")?;
    for sc in &report.scenarios {
        let verdict = match sc.verdict {
            Verdict::Pass => "✅ pass",
            Verdict::Fail => "❌ **fail**",
            Verdict::Error => "💥 **error**",
            Verdict::Skipped => "⏭️ skipped",
        };
        let note = match (&sc.verdict, &sc.reason, sc.reproducible) {
            (Verdict::Skipped | Verdict::Error, Some(r), _) => inline(r),
            (_, _, Some(true)) => code(&hash_a(sc)),
            (_, _, Some(false)) => "builds differ".into(),
            (_, Some(r), _) => inline(r),
            _ => String::new(),
        };
        writeln!(
            w,
            "| {} | {verdict} | {:.2} s | {note} |",
            inline(&sc.name),
            sc.duration_ms as f64 / 1000.0
        )?;
    }
    for sc in report
        .scenarios
        .iter()
        .filter(|s| matches!(s.verdict, Verdict::Fail | Verdict::Error))
    {
        failure(sc, w)?;
    }
    for sc in report.scenarios.iter().filter(|s| !s.fetches.is_empty()) {
        fetches(sc, w)?;
    }
    let unavailable = report.unavailable_variations();
    if !unavailable.is_empty() {
        writeln!(w)?;
        for (name, reason) in unavailable {
            writeln!(
                w,
                "> note: variation {} was not applied: {}",
                inline(name),
                inline(reason)
            )?;
        }
    }
    Ok(())
}

/// The list of what a scenario's builds downloaded.
fn fetches(s: &ScenarioReport, w: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        w,
        "\n### Fetches of {}: {}\n",
        inline(&s.name),
        crate::proxy::summary(&s.fetches)
    )?;
    writeln!(
        w,
        "| method | URL | status | bytes | SHA-256 | builds | from cache | pinned |"
    )?;
    writeln!(w, "| --- | --- | ---: | ---: | --- | --- | --- | --- |")?;
    for f in &s.fetches {
        let pinned = match (f.artifact, f.pinned) {
            (false, _) => "n/a",
            (true, true) => "yes",
            (true, false) => "**no**",
        };
        writeln!(
            w,
            "| {} | {} | {} | {} | {} | {} | {} | {pinned} |",
            f.method,
            inline(&f.url),
            f.status,
            f.bytes,
            code(&f.sha256),
            inline(&f.builds.iter().cloned().collect::<Vec<_>>().join(", ")),
            if f.from_cache { "yes" } else { "no" },
        )?;
    }
    Ok(())
}

fn failure(s: &ScenarioReport, w: &mut dyn Write) -> std::io::Result<()> {
    writeln!(w, "\n### {} ({})\n", inline(&s.name), inline(&s.file))?;
    if let (Verdict::Error, Some(r)) = (s.verdict, &s.reason) {
        writeln!(w, "- harness error: {}", inline(r))?;
    }
    for c in s.checks.iter().filter(|c| !c.passed) {
        writeln!(w, "- ✗ **{}**: {}", inline(&c.check), inline(&c.message))?;
    }
    if let Some(c) = s.culprits.as_ref().filter(|c| !c.is_empty()) {
        writeln!(
            w,
            "- culprits (each alone reproduces a difference): {}",
            inline(&c.join(", "))
        )?;
    }
    if s.inherent == Some(true) {
        writeln!(w, "- inherent: the builds differ even with no variation")?;
    }
    if s.differences.is_empty() {
        return Ok(());
    }
    writeln!(w, "\n| differing path | kind | caused by |")?;
    writeln!(w, "| --- | --- | --- |")?;
    for d in &s.differences {
        writeln!(
            w,
            "| {} | {} | {} |",
            inline(shown_path(d)),
            d.kind.name(),
            cause(d)
        )?;
    }
    for d in s.differences.iter().take(MAX_DETAILED) {
        let Some(detail) = &d.detail else { continue };
        let lines = capped_detail_lines(detail);
        let body = lines.join("\n");
        let fence = "`".repeat(longest_backtick_run(&body).max(2) + 1);
        writeln!(
            w,
            "\n<details><summary>{}</summary>\n\n{fence}text\n{body}\n{fence}\n\n</details>",
            html(shown_path(d))
        )?;
    }
    if s.differences.len() > MAX_DETAILED {
        writeln!(
            w,
            "\n(details of the last {} differences: `--format json` or `--format html`)",
            s.differences.len() - MAX_DETAILED
        )?;
    }
    Ok(())
}

fn cause(d: &Difference) -> String {
    if d.inherent {
        "differs even with no variation".into()
    } else {
        inline(&d.culprits.join(", "))
    }
}

/// Text for a Markdown line or table cell: ASCII punctuation that Markdown
/// reads as syntax is backslash-escaped, `<`, `>` and `&` become entities,
/// line breaks become spaces.
fn inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '!' | '|'
            | '~' | '"' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// A code span; backslashes are literal inside one, so text that could
/// end it or the table cell is written as escaped plain text instead.
fn code(s: &str) -> String {
    if s.is_empty() || s.contains(['`', '|', '\n', '\r', '<', '&']) {
        inline(s)
    } else {
        format!("`{s}`")
    }
}

/// Text inside raw HTML (a `<summary>`).
fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\n', " ")
}

fn longest_backtick_run(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::sample;

    fn rendered(r: &Report) -> String {
        let mut out = Vec::new();
        render(r, &mut out).expect("render");
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn markdown_report_layout() {
        insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!("markdown_report", rendered(&sample()));
        });
    }

    #[test]
    fn build_text_cannot_break_the_table_or_the_fence() {
        let mut r = sample();
        let fail = &mut r.scenarios[1];
        fail.differences[0].path = "a|b\n| x | [link](http://e) <img src=x>".into();
        if let Some(crate::tree::explain::Detail {
            body: crate::tree::explain::Body::Text(t),
            ..
        }) = &mut fail.differences[0].detail
        {
            t.diff = "+```\n+</details><script>x</script>\n".into();
        }
        let out = rendered(&r);
        let row = out
            .lines()
            .find(|l| l.starts_with("| a"))
            .expect("the path's row");
        // Three cells: the escaped pipes are not separators.
        assert_eq!(row.matches(" | ").count(), 2, "{row}");
        assert!(
            row.contains(r"a\|b \| x \| \[link\]\(http://e\) &lt;img src=x&gt;"),
            "{row}"
        );
        // The fence is longer than the backtick run inside it.
        assert!(
            out.contains("envtwin-b-variant in B)\n+```\n+</details><script>x</script>\n````"),
            "{out}"
        );
        assert!(
            out.contains(
                "<details><summary>a|b | x | [link](http://e) &lt;img src=x&gt;</summary>"
            ),
            "{out}"
        );
        assert!(!out.contains("<summary>a|b\n"), "{out}");
    }

    #[test]
    fn a_passing_run_has_a_table_and_no_details() {
        let mut r = sample();
        r.scenarios.retain(|s| s.verdict == Verdict::Pass);
        let r = Report::new(r.scenarios);
        let out = rendered(&r);
        assert!(
            out.starts_with("## ✅ envtwin: 1 passed, 0 failed, 0 skipped"),
            "{out}"
        );
        assert!(!out.contains("###"), "{out}");
    }
}

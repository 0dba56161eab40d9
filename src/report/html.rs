//! The HTML renderer: one self-contained page (inline CSS, no JavaScript,
//! nothing fetched) with a summary bar, a section per scenario, a side-by-
//! side A/B view of each difference and a culprit matrix.
//!
//! The page is written with `maud`, which escapes every interpolated value:
//! file names and contents from builds cannot inject markup. It keeps the
//! human report's caps (details for the first differences of a scenario, a
//! bounded number of lines per difference) so one broken build cannot make
//! a page the browser chokes on.

use super::human::{MAX_DETAIL_LINES, MAX_DETAILED, hash_a};
use super::{Report, ScenarioReport, Verdict, printable, shown_path, snake};
use crate::tree::Difference;
use crate::tree::explain::{ArchiveDetail, BinaryDetail, Body, Detail, TextDetail};
use maud::{DOCTYPE, Markup, html};
use std::cell::Cell;
use std::collections::BTreeSet;
use std::io::Write;

/// Rows of a scenario's difference list and culprit matrix; past it the
/// rest is counted (the paths past it have no detail or culprits anyway).
const MAX_LISTED: usize = crate::tree::explain::MAX_EXPLAINED;

const STYLE: &str = r#"
:root{--fg:#1f2328;--muted:#57606a;--line:#d0d7de;--pass:#116329;--fail:#a40e26;--skip:#6e5600;--err:#8c2f00;--del:#ffebe9;--delm:#ffb3ad;--ins:#dafbe1;--insm:#8ee6a5;--bg2:#f6f8fa}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:#fff;margin:0 auto;max-width:1200px;padding:0 1rem 3rem}
h1{font-size:1.5rem;margin:1rem 0 .5rem}h2{font-size:1.25rem;margin:0 0 .5rem}h3{font-size:1.05rem;margin:1rem 0 .4rem}h4{font-size:.95rem;margin:.2rem 0;display:inline}
code,pre,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:.85rem}
.bar{display:flex;flex-wrap:wrap;gap:.5rem;margin:.5rem 0 1rem;padding:0;list-style:none}
.bar li{padding:.3rem .7rem;border-radius:6px;border:1px solid var(--line);background:var(--bg2)}
.pass{color:var(--pass)}.fail{color:var(--fail)}.skipped{color:var(--skip)}.error{color:var(--err)}
.verdict{font-weight:700;text-transform:uppercase;font-size:.8rem;border:1px solid currentColor;border-radius:4px;padding:0 .35rem;margin-left:.4rem;vertical-align:middle}
table{border-collapse:collapse;margin:.3rem 0 .8rem}th,td{border:1px solid var(--line);padding:.2rem .5rem;text-align:left;vertical-align:top}th{background:var(--bg2)}
section.scenario{border:1px solid var(--line);border-radius:8px;padding:1rem;margin:1rem 0}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:0}dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;overflow-wrap:anywhere}
details.diff{border-top:1px solid var(--line);padding:.4rem 0}details.diff>summary{cursor:pointer}
.sbs{width:100%;table-layout:fixed}.sbs td{white-space:pre-wrap;overflow-wrap:anywhere;padding:0 .4rem;border-width:0 1px}
.sbs col.n{width:3.2em}.sbs td.n{width:3.2em;color:var(--muted);text-align:right;user-select:none;border:0}
.sbs .hunk td{background:var(--bg2);color:var(--muted)}
.sbs td.del{background:var(--del)}.sbs td.ins{background:var(--ins)}
mark.del{background:var(--delm);color:inherit}mark.ins{background:var(--insm);color:inherit}
ul.hints{margin:.3rem 0;padding-left:0;list-style:none}ul.hints li::before{content:"hint: ";color:var(--muted)}
.matrix td.hit{text-align:center;font-weight:700;color:var(--fail)}.matrix td{text-align:center}.matrix td:first-child{text-align:left}
.muted{color:var(--muted)}
"#;

/// Column widths of a side-by-side table: line numbers narrow, A and B halves.
const SBS_COLS: maud::PreEscaped<&str> =
    maud::PreEscaped(r#"<colgroup><col class="n"><col><col class="n"><col></colgroup>"#);

/// Write the whole report as one HTML page.
pub fn render(report: &Report, w: &mut dyn Write) -> std::io::Result<()> {
    let s = &report.summary;
    let total_ms: u64 = report.scenarios.iter().map(|s| s.duration_ms).sum();
    let title = format!("envtwin: {}", s.counts());
    let unavailable = report.unavailable_variations();
    let body = html! {
        header {
            h1 { "envtwin report" }
            ul.bar aria-label="summary" {
                li.pass { strong { (s.passed) } " passed" }
                li.fail { strong { (s.failed) } " failed" }
                li.skipped { strong { (s.skipped) } " skipped" }
                @if s.errors > 0 { li.error { strong { (s.errors) } " errors" } }
                li { strong { (secs(total_ms)) } " of scenario time" }
            }
            table {
                thead { tr { th { "scenario" } th { "verdict" } th { "time" } th { "hash or reason" } } }
                tbody {
                    @for (i, sc) in report.scenarios.iter().enumerate() {
                        tr {
                            td { a href={ "#s" (i) } { (sc.name) } }
                            td class=(verdict_class(sc.verdict)) { (verdict_name(sc.verdict)) }
                            td { (secs(sc.duration_ms)) }
                            td { (one_line(sc)) }
                        }
                    }
                }
            }
            @if !unavailable.is_empty() {
                ul.hints {
                    @for (name, reason) in &unavailable {
                        li { "variation " code { (name) } " was not applied: " (reason) }
                    }
                }
            }
        }
        main {
            @for (i, sc) in report.scenarios.iter().enumerate() {
                (scenario(i, sc))
            }
        }
    };
    page(&title, body, w)
}

/// Write the differences of `envtwin diff A B` as one HTML page.
pub fn render_diff(
    a: &str,
    b: &str,
    differences: &[Difference],
    w: &mut dyn Write,
) -> std::io::Result<()> {
    let title = if differences.is_empty() {
        "envtwin diff: identical".to_string()
    } else {
        format!("envtwin diff: {} differing paths", differences.len())
    };
    let body = html! {
        header {
            h1 { "envtwin diff" }
            dl.facts { dt { "A" } dd { code { (a) } } dt { "B" } dd { code { (b) } } }
            ul.bar aria-label="summary" {
                @if differences.is_empty() { li.pass { "identical" } }
                @else { li.fail { strong { (differences.len()) } " differing paths" } }
            }
        }
        main { section.scenario { (difference_list(differences)) } }
    };
    page(&title, body, w)
}

fn page(title: &str, body: Markup, w: &mut dyn Write) -> std::io::Result<()> {
    let doc = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content={ "envtwin " (env!("CARGO_PKG_VERSION")) };
                title { (title) }
                style { (maud::PreEscaped(STYLE)) }
            }
            body { (body) }
        }
    };
    w.write_all(doc.into_string().as_bytes())?;
    writeln!(w)
}

fn scenario(i: usize, s: &ScenarioReport) -> Markup {
    let builds = s.builds.as_ref();
    let varied: BTreeSet<&String> = builds.map(|b| b.varied().collect()).unwrap_or_default();
    html! {
        section.scenario id={ "s" (i) } aria-labelledby={ "h" (i) } {
            h2 id={ "h" (i) } { (s.name) span class={ "verdict " (verdict_class(s.verdict)) } { (verdict_name(s.verdict)) } }
            dl.facts {
                dt { "file" } dd { code { (s.file) } }
                dt { "provider" } dd { (s.provider) }
                dt { "time" } dd { (secs(s.duration_ms)) }
                @if let Some(r) = &s.reason { dt { "reason" } dd { (r) } }
                @if let Some(b) = builds {
                    dt { "hash A" } dd { code { (b.a.hash.as_deref().unwrap_or("none")) } " " span.muted { (b.a.files) " files, " (b.a.bytes) " bytes" } }
                    dt { "hash B" } dd { code { (b.b.hash.as_deref().unwrap_or("none")) } " " span.muted { (b.b.files) " files, " (b.b.bytes) " bytes" } }
                }
                @if let Some(r) = s.reproducible { dt { "reproducible" } dd { (if r { "yes: the builds are identical" } else { "no: the builds differ" }) } }
                @if let Some(k) = &s.kept { dt { "trees kept in" } dd { code { (k) } } }
            }
            @if let Some(b) = builds {
                @if !b.a.variations.is_empty() || !b.b.variations.is_empty() {
                    details {
                        summary { h3 style="display:inline" { "Variations" } " (" (varied.len()) " varied in B)" }
                        table {
                            thead { tr { th { "variation" } th { "build A" } th { "build B" } } }
                            tbody {
                                @for name in b.a.variations.keys().chain(b.b.variations.keys()).collect::<BTreeSet<_>>() {
                                    tr {
                                        td { @if varied.contains(name) { strong { (name) } } @else { (name) } }
                                        td.mono { (b.a.variations.get(name).map(String::as_str).unwrap_or("")) }
                                        td.mono { (b.b.variations.get(name).map(String::as_str).unwrap_or("")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if !s.unavailable_variations.is_empty() {
                ul.hints { @for (n, r) in &s.unavailable_variations { li { "variation " code { (n) } " was not applied: " (r) } } }
            }
            @if !s.checks.is_empty() {
                h3 { "Checks" }
                table {
                    thead { tr { th { "check" } th { "subject" } th { "result" } th { "message" } } }
                    tbody {
                        @for c in &s.checks {
                            tr {
                                td { (c.check) }
                                td.mono { (c.subject) }
                                @if c.passed { td.pass { "passed" } } @else { td.fail { strong { "failed" } } }
                                td { (c.message) }
                            }
                        }
                    }
                }
            }
            @if !s.differences.is_empty() {
                (culprits(s, &varied))
                (difference_list(&s.differences))
            }
            @if !s.fetches.is_empty() {
                details {
                    summary { h3 style="display:inline" { "Fetches" } " (" (crate::proxy::summary(&s.fetches)) ")" }
                    table {
                        thead { tr { th { "method" } th { "URL" } th { "status" } th { "bytes" } th { "SHA-256" } th { "builds" } th { "from cache" } th { "pinned" } } }
                        tbody {
                            @for f in &s.fetches {
                                tr {
                                    td { (f.method) }
                                    td.mono { (f.url) }
                                    td { (f.status) }
                                    td { (f.bytes) }
                                    td.mono { (f.sha256) }
                                    td { (f.builds.iter().cloned().collect::<Vec<_>>().join(", ")) }
                                    td { (if f.from_cache { "yes" } else { "no" }) }
                                    @if !f.artifact { td { "n/a" } } @else if f.pinned { td.pass { "yes" } } @else { td.fail { strong { "no" } } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn culprits(s: &ScenarioReport, varied: &BTreeSet<&String>) -> Markup {
    let Some(found) = &s.culprits else {
        return html! {
            p.muted { "Culprits were not searched (--no-explain, or the builds did not both succeed)." }
        };
    };
    // Columns: the culprits; the other variations B had change no path alone.
    let columns: BTreeSet<&String> = found
        .iter()
        .chain(s.differences.iter().flat_map(|d| d.culprits.iter()))
        .collect();
    let innocent: Vec<&str> = varied
        .iter()
        .filter(|v| !columns.contains(**v))
        .map(|v| v.as_str())
        .collect();
    let inherent = s.inherent == Some(true);
    html! {
        h3 { "Culprits" }
        p {
            @if found.is_empty() { "No single variation reproduces a difference alone." }
            @else { "Each of these alone reproduces a difference: " strong { (found.join(", ")) } "." }
            @if inherent { " Some paths differ even with no variation (randomness, a fine-grained clock, …)." }
        }
        table.matrix {
            caption.muted { "Differing paths × variations: ● = this variation alone changes this path" }
            thead {
                tr {
                    th scope="col" { "path" }
                    @for c in &columns { th scope="col" { (c) } }
                    th scope="col" { "no variation" }
                }
            }
            tbody {
                @for d in s.differences.iter().take(MAX_LISTED) {
                    tr {
                        th scope="row" { code { (shown_path(d)) } }
                        @for c in &columns {
                            @if d.culprits.contains(*c) { td.hit { "●" } } @else { td { "" } }
                        }
                        @if d.inherent { td.hit { "●" } } @else { td { "" } }
                    }
                }
            }
        }
        @if s.differences.len() > MAX_LISTED {
            p.muted { (s.differences.len() - MAX_LISTED) " more differing paths (--format json lists them)" }
        }
        @if !innocent.is_empty() {
            p.muted { "Also varied in B, changing no path alone: " (innocent.join(", ")) "." }
        }
    }
}

fn difference_list(differences: &[Difference]) -> Markup {
    let hints: BTreeSet<&String> = differences
        .iter()
        .take(MAX_DETAILED)
        .filter_map(|d| d.detail.as_ref())
        .flat_map(|d| d.hints.iter())
        .collect();
    html! {
        @if !hints.is_empty() {
            h3 { "Hints" }
            ul.hints { @for h in &hints { li { (h) } } }
        }
        h3 { "Differences (" (differences.len()) ")" }
        @for (i, d) in differences.iter().enumerate().take(MAX_LISTED) {
            @if i < MAX_DETAILED {
                details.diff open[i < 3] {
                    summary { (difference_title(d)) }
                    (difference(d))
                }
            } @else {
                div.diff { (difference_title(d)) }
            }
        }
        @if differences.len() > MAX_DETAILED {
            p.muted { "Details are shown for the first " (MAX_DETAILED) " differences; --format json has them all." }
        }
        @if differences.len() > MAX_LISTED {
            p.muted { (differences.len() - MAX_LISTED) " more differing paths (--format json lists them)" }
        }
    }
}

fn difference_title(d: &Difference) -> Markup {
    html! {
        h4 { code { (shown_path(d)) } }
        ": " (d.kind.name())
        @if d.inherent { " " span.fail { "(differs even with no variation)" } }
        @else if !d.culprits.is_empty() { " " span.fail { "(caused by " (d.culprits.join(", ")) ")" } }
    }
}

fn difference(d: &Difference) -> Markup {
    let budget = Cell::new(MAX_DETAIL_LINES);
    html! {
        table.sbs {
            (SBS_COLS)
            thead { tr { th.n { "" } th { "A" } th.n { "" } th { "B" } } }
            tbody { tr { td.n { "" } td { (d.a.as_deref().unwrap_or("absent")) } td.n { "" } td { (d.b.as_deref().unwrap_or("absent")) } } }
        }
        @if let Some(detail) = &d.detail { (detail_view(detail, &budget)) }
    }
}

fn detail_view(d: &Detail, budget: &Cell<usize>) -> Markup {
    html! {
        @if !d.hints.is_empty() {
            ul.hints { @for h in &d.hints { li { (h) } } }
        }
        @match &d.body {
            Body::Text(t) => (text_view(t, budget)),
            Body::Binary(b) => (binary_view(b, budget)),
            Body::Archive(a) => (archive_view(a, budget)),
            Body::Name => "",
            Body::Unreadable { reason } => p.muted { "could not explain: " (reason) },
        }
    }
}

/// One row of the side-by-side text view.
enum Row<'a> {
    Hunk(&'a str),
    Same(usize, usize, &'a str),
    Change(Option<(usize, &'a str)>, Option<(usize, &'a str)>),
}

/// The unified diff as side-by-side rows: context on both sides, each run
/// of removed lines paired in order with the added lines that follow it.
fn rows(diff: &str) -> Vec<Row<'_>> {
    let mut out = Vec::new();
    let (mut la, mut lb) = (0usize, 0usize);
    let mut del: Vec<(usize, &str)> = Vec::new();
    let mut ins: Vec<(usize, &str)> = Vec::new();
    for line in diff.lines() {
        if let Some(rest) = line.strip_prefix('-') {
            la += 1;
            del.push((la, rest));
        } else if let Some(rest) = line.strip_prefix('+') {
            lb += 1;
            ins.push((lb, rest));
        } else {
            flush(&mut del, &mut ins, &mut out);
            if line.starts_with("@@") {
                (la, lb) = hunk_starts(line);
                out.push(Row::Hunk(line));
            } else {
                let text = line.strip_prefix(' ').unwrap_or(line);
                la += 1;
                lb += 1;
                out.push(Row::Same(la, lb, text));
            }
        }
    }
    flush(&mut del, &mut ins, &mut out);
    out
}

fn flush<'a>(
    del: &mut Vec<(usize, &'a str)>,
    ins: &mut Vec<(usize, &'a str)>,
    out: &mut Vec<Row<'a>>,
) {
    for k in 0..del.len().max(ins.len()) {
        out.push(Row::Change(del.get(k).copied(), ins.get(k).copied()));
    }
    del.clear();
    ins.clear();
}

/// The line numbers before the first line of a hunk `@@ -a,n +b,m @@`.
fn hunk_starts(header: &str) -> (usize, usize) {
    let num = |prefix: char| {
        header
            .split_whitespace()
            .find_map(|t| t.strip_prefix(prefix))
            .and_then(|t| t.split(',').next())
            .and_then(|n| n.parse::<usize>().ok())
            .map_or(0, |n| n.saturating_sub(1))
    };
    (num('-'), num('+'))
}

/// `old` and `new` with their differing characters marked.
fn marked(old: &str, new: &str) -> (Markup, Markup) {
    use similar::{ChangeTag, TextDiff};
    let diff = TextDiff::configure()
        .timeout(std::time::Duration::from_millis(50))
        .diff_chars(old, new);
    let mut ops: Vec<(ChangeTag, String)> = Vec::new();
    for change in diff.iter_all_changes() {
        match ops.last_mut() {
            Some((tag, text)) if *tag == change.tag() => text.push_str(change.value()),
            _ => ops.push((change.tag(), change.value().to_string())),
        }
    }
    let mut a: Vec<(bool, String)> = Vec::new();
    let mut b: Vec<(bool, String)> = Vec::new();
    let push = |v: &mut Vec<(bool, String)>, changed: bool, s: &str| match v.last_mut() {
        Some((c, text)) if *c == changed => text.push_str(s),
        _ => v.push((changed, s.to_string())),
    };
    for (i, (tag, text)) in ops.iter().enumerate() {
        match tag {
            ChangeTag::Equal => {
                // A character diff finds stray common letters inside a
                // changed word (`envtwin-a` and `b-variant` share the `a`);
                // a short common run between two changes is shown changed,
                // on both sides, so the change reads as one.
                let gap = i > 0
                    && i + 1 < ops.len()
                    && text.chars().count() <= 2
                    && ops[i + 1].0 != ChangeTag::Equal;
                push(&mut a, gap, text);
                push(&mut b, gap, text);
            }
            ChangeTag::Delete => push(&mut a, true, text),
            ChangeTag::Insert => push(&mut b, true, text),
        }
    }
    let show = |parts: &[(bool, String)], class: &str| {
        html! { @for (changed, text) in parts { @if *changed { mark class=(class) { (text) } } @else { (text) } } }
    };
    (show(&a, "del"), show(&b, "ins"))
}

fn text_view(t: &TextDetail, budget: &Cell<usize>) -> Markup {
    let rows = rows(&t.diff);
    let shown = rows.len().min(budget.get());
    budget.set(budget.get() - shown);
    html! {
        table.sbs aria-label="text difference, A left, B right" {
            (SBS_COLS)
            tbody {
                @for row in &rows[..shown] {
                    @match row {
                        Row::Hunk(h) => tr.hunk { td colspan="4" { (h) } },
                        Row::Same(na, nb, text) => tr { td.n { (na) } td { (text) } td.n { (nb) } td { (text) } },
                        Row::Change(Some((na, old)), Some((nb, new))) => {
                            @let (ma, mb) = marked(old, new);
                            tr { td.n { (na) } td.del { (ma) } td.n { (nb) } td.ins { (mb) } }
                        },
                        Row::Change(old, new) => tr {
                            @if let Some((n, text)) = old { td.n { (n) } td.del { mark.del { (text) } } } @else { td.n { "" } td { "" } }
                            @if let Some((n, text)) = new { td.n { (n) } td.ins { mark.ins { (text) } } } @else { td.n { "" } td { "" } }
                        },
                    }
                }
            }
        }
        @if shown < rows.len() { p.muted { "… " (rows.len() - shown) " more lines (--format json shows them)" } }
        @if let Some(cut) = &t.truncated { p.muted { "… " (cut) } }
        p.muted { (t.removed) (if t.removed == 1 { " line" } else { " lines" }) " only in A, " (t.added) " only in B" }
    }
}

fn binary_view(b: &BinaryDetail, budget: &Cell<usize>) -> Markup {
    budget.set(budget.get().saturating_sub(3));
    let bytes_a: Vec<&str> = b.hex_a.split(' ').filter(|x| !x.is_empty()).collect();
    let bytes_b: Vec<&str> = b.hex_b.split(' ').filter(|x| !x.is_empty()).collect();
    let side = |mine: &[&str], theirs: &[&str], class: &str| {
        html! {
            @for (j, x) in mine.iter().enumerate() {
                @if j > 0 { " " }
                @if theirs.get(j) != Some(x) { mark class=(class) { (x) } } @else { (x) }
            }
            "  |" (printable(mine.iter().copied())) "|"
        }
    };
    html! {
        p {
            "binary: " (b.size_a) " bytes in A, " (b.size_b) " in B; first difference at byte "
            (b.first_difference) " (0x" (format!("{:x}", b.first_difference)) ")"
        }
        table.sbs aria-label="hex window, A left, B right" {
            (SBS_COLS)
            thead { tr { th.n { "" } th { "A @" (format!("{:08x}", b.window_offset)) } th.n { "" } th { "B @" (format!("{:08x}", b.window_offset)) } } }
            tbody { tr { td.n { "" } td.del { (side(&bytes_a, &bytes_b, "del")) } td.n { "" } td.ins { (side(&bytes_b, &bytes_a, "ins")) } } }
        }
        @if let Some(n) = &b.note { p.muted { "(" (n) ")" } }
    }
}

fn archive_view(a: &ArchiveDetail, budget: &Cell<usize>) -> Markup {
    let mut shown = 0;
    html! {
        p { (a.archive) " archive, compared member by member:" }
        ul {
            @for m in &a.members {
                @if budget.get() > 0 {
                    ({
                        budget.set(budget.get() - 1);
                        shown += 1;
                        html! {
                            li {
                                code { (m.member) } ": " (snake(&m.kind))
                                @if m.a.is_some() || m.b.is_some() {
                                    ul {
                                        @if let Some(x) = &m.a { li { "A: " span.mono { (x) } } }
                                        @if let Some(x) = &m.b { li { "B: " span.mono { (x) } } }
                                    }
                                }
                                @if let Some(inner) = &m.detail { (detail_view(inner, budget)) }
                            }
                        }
                    })
                }
            }
        }
        @if shown < a.members.len() { p.muted { "… " (a.members.len() - shown) " more member differences (--format json shows them)" } }
        @for o in &a.omitted { p.muted { "more: " (o.count) " " (o.class) " differences not shown" } }
        @if let (Some(n), true) = (a.more, a.omitted.is_empty()) { p.muted { "… " (n) " more member differences" } }
        @if let Some(n) = &a.note { p.muted { "(" (a.archive) " read incompletely: " (n) ")" } }
    }
}

fn secs(ms: u64) -> String {
    format!("{:.2} s", ms as f64 / 1000.0)
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Error => "error",
        Verdict::Skipped => "skipped",
    }
}

fn verdict_class(v: Verdict) -> &'static str {
    verdict_name(v)
}

fn one_line(s: &ScenarioReport) -> Markup {
    html! {
        @match (&s.verdict, &s.reason, s.reproducible) {
            (Verdict::Skipped | Verdict::Error, Some(r), _) => (r),
            (_, _, Some(true)) => code { (hash_a(s)) },
            (_, _, Some(false)) => "builds differ",
            (_, Some(r), _) => (r),
            _ => "",
        }
    }
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
    fn the_page_is_self_contained_and_escapes_build_text() {
        let out = rendered(&sample());
        assert!(
            out.starts_with("<!DOCTYPE html><html lang=\"en\">"),
            "{}",
            &out[..80]
        );
        // No fetches, no scripts: the archive's file name is a script tag.
        for needle in ["<script", "src=", "http://", "https://", "<link"] {
            assert!(!out.contains(needle), "{needle} in the page");
        }
        assert!(out.contains("lib/&lt;script&gt;alert(1)&lt;/script&gt;.zip"));
        assert!(out.contains("same &lt;line&gt;"));
    }

    #[test]
    fn text_differences_are_side_by_side_with_the_changed_characters_marked() {
        let out = rendered(&sample());
        // Line 1 of A against line 1 of B: only "envtwin-a" vs "envtwin-b-variant" differ.
        assert!(
            out.contains(
                "<td class=\"n\">1</td><td class=\"del\">built on envtwin-<mark class=\"del\">a</mark></td>"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "<td class=\"ins\">built on envtwin-<mark class=\"ins\">b-variant</mark></td>"
            ),
            "{out}"
        );
        // The context line is on both sides with its own numbers.
        assert!(
            out.contains("<td class=\"n\">3</td><td>same &lt;line&gt;</td><td class=\"n\">3</td>"),
            "{out}"
        );
    }

    #[test]
    fn the_culprit_matrix_marks_each_path_under_its_variations() {
        let out = rendered(&sample());
        let matrix = &out[out.find("<table class=\"matrix\">").expect("matrix")..];
        let matrix = &matrix[..matrix.find("</table>").expect("end")];
        // Columns: hostname, time, umask (varied in B), then "no variation".
        let row = |path: &str| {
            let start = matrix.find(&format!("<code>{path}</code>")).expect(path);
            let row = &matrix[start..];
            row[..row.find("</tr>").expect("row end")]
                .split("<td")
                .skip(1)
                .map(|c| c.contains('●'))
                .collect::<Vec<bool>>()
        };
        assert_eq!(row("share/build-info.txt"), [true, false, true, false]);
        assert_eq!(row("share/random.bin"), [false, false, false, true]);
        assert_eq!(
            row("lib/&lt;script&gt;alert(1)&lt;/script&gt;.zip"),
            [false, true, false, false]
        );
    }

    #[test]
    fn hex_windows_mark_differing_bytes_and_archives_nest() {
        let out = rendered(&sample());
        assert!(
            out.contains("41 42 <mark class=\"del\">00</mark> 01  |AB..|"),
            "{out}"
        );
        assert!(
            out.contains("41 42 <mark class=\"ins\">ff</mark> 01  |AB..|"),
            "{out}"
        );
        assert!(
            out.contains("<li><code>b.zip!stamp.txt</code>: timestamp<ul><li>A: "),
            "{out}"
        );
        assert!(out.contains("… 3 more member differences"), "{out}");
    }

    #[test]
    fn an_archive_says_per_class_what_was_left_out() {
        let mut r = sample();
        for s in &mut r.scenarios {
            for d in &mut s.differences {
                if let Some(Detail {
                    body: Body::Archive(a),
                    ..
                }) = &mut d.detail
                {
                    a.omitted = vec![crate::tree::explain::Omitted {
                        class: "metadata".into(),
                        count: 3,
                    }];
                }
            }
        }
        let out = rendered(&r);
        assert!(
            out.contains("more: 3 metadata differences not shown"),
            "{out}"
        );
        assert!(!out.contains("… 3 more member differences"), "{out}");
    }

    #[test]
    fn long_diffs_keep_the_human_caps() {
        let mut r = sample();
        let d = r.scenarios[1].differences[0].clone();
        r.scenarios[1].differences = (0..(MAX_DETAILED + 5))
            .map(|i| Difference {
                path: format!("f{i:02}"),
                ..d.clone()
            })
            .collect();
        let out = rendered(&r);
        assert_eq!(out.matches("<details class=\"diff\"").count(), MAX_DETAILED);
        assert!(
            out.contains("<div class=\"diff\"><h4><code>f24</code></h4>"),
            "{out}"
        );
        let mut long = d.clone();
        if let Some(Detail {
            body: Body::Text(t),
            ..
        }) = &mut long.detail
        {
            t.diff = (0..100).map(|i| format!("-old {i}\n+new {i}\n")).collect();
        }
        let mut out = Vec::new();
        render_diff("a", "b", &[long], &mut out).expect("render");
        let out = String::from_utf8(out).expect("utf8");
        assert_eq!(out.matches("<td class=\"del\">").count(), MAX_DETAIL_LINES);
        assert!(
            out.contains("… 60 more lines (--format json shows them)"),
            "{out}"
        );
    }
}

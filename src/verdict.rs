//! Expectations + two builds -> checks -> verdict (SPEC §6).
//!
//! Pure: it reads the twin outcome and the scenario, never the disk.

use crate::probe::{Probes, WhichResult};
use crate::report::{BuildReport, Builds, Check, ScenarioReport, Verdict};
use crate::scenario::{BuildExpect, Compare, FetchExpect, Scenario};
use crate::tree::DiffKind;
use crate::twin::{BuildOutcome, BuildStatus, TwinOutcome};

/// Judge a scenario's twin builds.
pub fn judge(s: &Scenario, t: &TwinOutcome, duration_ms: u64) -> ScenarioReport {
    let mut checks = Vec::new();
    let expect_fail = s.expect.build == BuildExpect::Fail;
    for (side, b) in [("A", &t.a), ("B", &t.b)] {
        checks.push(if expect_fail {
            expected_failure_check(side, b)
        } else {
            let net = network_problems(t, &side.to_ascii_lowercase());
            build_check(side, b, t.kept.is_none(), net.as_deref().unwrap_or(""))
        });
    }
    if s.network.is_on() && s.expect.fetches == FetchExpect::Pinned {
        checks.push(fetches_check(t));
    }
    let built = t.a.status == BuildStatus::Ok && t.b.status == BuildStatus::Ok;
    let mut reproducible = None;
    if built && !expect_fail {
        let (ha, hb) = (hash_of(&t.a), hash_of(&t.b));
        let modes_differ =
            s.compare == Compare::Strict && t.differences.iter().any(|d| d.kind == DiffKind::Mode);
        let same = ha == hb && !modes_differ;
        reproducible = Some(same);
        checks.push(reproducible_check(s, t, same, ha, hb));
        if let Some(want) = &s.expect.hash {
            for (side, h) in [("A", ha), ("B", hb)] {
                checks.push(Check {
                    check: "hash".into(),
                    subject: format!("build {side}"),
                    passed: h == want,
                    message: if h == want {
                        format!("build {side} has the expected hash {want}")
                    } else {
                        format!("expected hash {want}, build {side} has {h}")
                    },
                });
            }
        }
        for (side, b) in [("A", &t.a), ("B", &t.b)] {
            if let Some(e) = b.probes.as_ref().and_then(|p| p.error.as_ref()) {
                checks.push(Check {
                    check: "probe".into(),
                    subject: format!("build {side}"),
                    passed: false,
                    message: format!("build {side}: {e}"),
                });
            }
        }
        if let (Some(pa), Some(pb)) = (&t.a.probes, &t.b.probes) {
            probe_checks(s, pa, pb, &mut checks);
        }
    }
    let passed = checks.iter().all(|c| c.passed);
    ScenarioReport {
        name: s.name.clone(),
        file: s.file.display().to_string(),
        provider: s.provider.name().into(),
        verdict: if passed { Verdict::Pass } else { Verdict::Fail },
        reason: None,
        reproducible,
        builds: Some(Builds {
            a: build_report(&t.a),
            b: build_report(&t.b),
        }),
        differences: t.differences.clone(),
        culprits: t.culprits.as_ref().map(|c| c.culprits.clone()),
        inherent: t.culprits.as_ref().map(|c| c.inherent),
        culprits_break_build: t.culprits.as_ref().is_some_and(|c| c.breaks_build),
        hints: t
            .culprits
            .as_ref()
            .map(|c| c.hints.clone())
            .unwrap_or_default(),
        reproducible_with_sde: t.culprits.as_ref().and_then(|c| c.reproducible_with_sde),
        search: t.culprits.as_ref().map(|c| c.cost.clone()),
        notes: mode_note(s, t)
            .into_iter()
            .chain(outside_notes(t))
            .chain(unpinned_note(s, t))
            .collect(),
        checks,
        unavailable_variations: t.unavailable.clone(),
        kept: t.kept.as_ref().map(|p| p.display().to_string()),
        duration_ms,
        fetches: t.fetches.clone(),
    }
}

/// What the proxy refused or could not reach for this build (`a` or `b`),
/// said after its failure: the likely cause of it.
fn network_problems(t: &TwinOutcome, side: &str) -> Option<String> {
    let mine = |status: u16| -> Vec<String> {
        let mut hosts: Vec<String> = t
            .fetches
            .iter()
            .filter(|f| f.status == status && f.problem.is_some() && f.builds.contains(side))
            .map(|f| host_of(&f.url))
            .collect();
        hosts.sort();
        hosts.dedup();
        hosts
    };
    let (refused, unreachable) = (mine(403), mine(502));
    let mut out = String::new();
    if !refused.is_empty() {
        out.push_str(&format!(
            "; the proxy refused {} (not in network.allow)",
            refused.join(", ")
        ));
    }
    if !unreachable.is_empty() {
        out.push_str(&format!(
            "; upstream unreachable: {} (is this machine offline?)",
            unreachable.join(", ")
        ));
    }
    (!out.is_empty()).then_some(out)
}

fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#'])
        .next()
        .unwrap_or(rest)
        .to_string()
}

fn unpinned(t: &TwinOutcome) -> Vec<&str> {
    t.fetches
        .iter()
        .filter(|f| f.artifact && !f.pinned)
        .map(|f| f.url.as_str())
        .collect()
}

/// `expect.fetches: pinned`: every download's digest is in a scenario file.
fn fetches_check(t: &TwinOutcome) -> Check {
    let bad = unpinned(t);
    let n = t.fetches.iter().filter(|f| f.artifact).count();
    Check {
        check: "fetches".into(),
        subject: "pinned".into(),
        passed: bad.is_empty(),
        message: if bad.is_empty() {
            format!("all {n} downloads are pinned by a digest in the scenario's files")
        } else {
            format!(
                "{} of {n} downloads are not pinned by a digest in the scenario's files \
                 (e.g. `--hash=sha256:…` in requirements, a lock file): {}",
                bad.len(),
                bad.join(", ")
            )
        },
    }
}

/// Unpinned downloads warn, unless `expect.fetches: pinned` made them a check.
fn unpinned_note(s: &Scenario, t: &TwinOutcome) -> Option<String> {
    let bad = unpinned(t);
    (!bad.is_empty() && s.expect.fetches != FetchExpect::Pinned).then(|| {
        format!(
            "{} download{} not pinned by a digest in the scenario's files: {}; \
             `expect.fetches: pinned` makes this fail",
            bad.len(),
            if bad.len() == 1 { " is" } else { "s are" },
            bad.join(", ")
        )
    })
}

fn hash_of(b: &BuildOutcome) -> &str {
    b.hash.as_ref().map_or("", |h| h.sri.as_str())
}

/// Under `compare: nar`, mode bits that differ fail nothing, but a tarball
/// or an image of the tree would differ: say so.
fn mode_note(s: &Scenario, t: &TwinOutcome) -> Option<String> {
    let first = t.mode_differences.first()?;
    let n = t.mode_differences.len();
    Some(format!(
        "{n} path{} differ{} in mode bits (e.g. {}: {} in A, {} in B); the NAR hash ignores modes, \
         so a tarball or image of the two trees would still differ; `compare: strict` checks them",
        if n == 1 { "" } else { "s" },
        if n == 1 { "s" } else { "" },
        if first.path.is_empty() {
            "."
        } else {
            &first.path
        },
        first.a.as_deref().unwrap_or("?"),
        first.b.as_deref().unwrap_or("?"),
    ))
    .filter(|_| s.compare == Compare::Nar)
}

/// `expect.build: fail`: the build must fail (exit non-zero), not succeed
/// and not time out.
fn expected_failure_check(side: &str, b: &BuildOutcome) -> Check {
    let secs = b.duration.as_secs_f64();
    let (passed, message) = match (b.status, b.exit_code) {
        (BuildStatus::Failed, Some(c)) if c != 0 => (
            true,
            format!("build {side} failed as expected (exit {c}) after {secs:.1} s"),
        ),
        (BuildStatus::Failed, _) => (
            true,
            format!(
                "build {side} failed as expected ({}) after {secs:.1} s",
                b.problem.as_deref().unwrap_or("no exit status")
            ),
        ),
        (BuildStatus::Ok, _) => (
            false,
            format!(
                "expected build {side} to fail (expect.build: fail), but it succeeded in {secs:.1} s"
            ),
        ),
        (BuildStatus::Timeout, _) => (
            false,
            format!(
                "expected build {side} to fail (expect.build: fail), but it {}",
                b.problem.as_deref().unwrap_or("timed out")
            ),
        ),
    };
    Check {
        check: "build".into(),
        subject: format!("build {side}"),
        passed,
        message,
    }
}

/// `net`: what the proxy refused or could not reach for this build, if
/// anything (`; the proxy refused …`), said right after how it failed.
fn build_check(side: &str, b: &BuildOutcome, advise_keep: bool, net: &str) -> Check {
    let secs = b.duration.as_secs_f64();
    let tail = if b.stderr_tail.trim().is_empty() {
        String::new()
    } else {
        let last: Vec<&str> = b.stderr_tail.lines().rev().take(12).collect();
        let last: Vec<&str> = last.into_iter().rev().collect();
        format!("; last lines of output:\n{}", indent(&last.join("\n")))
    };
    let (passed, message) = match b.status {
        BuildStatus::Ok => (true, format!("build {side} succeeded in {secs:.1} s")),
        BuildStatus::Timeout => (
            false,
            format!(
                "build {side} {}{net}{tail}",
                b.problem.as_deref().unwrap_or("timed out")
            ),
        ),
        BuildStatus::Failed => {
            let how = match (b.exit_code, &b.problem) {
                (_, Some(p)) if b.exceeded.is_some() => p.clone(),
                (Some(0), Some(p)) => format!("built, but its $out cannot be hashed: {p}"),
                (Some(c), _) => format!("exited {c}"),
                (None, Some(p)) => p.clone(),
                (None, None) => "failed".into(),
            };
            (
                false,
                format!(
                    "build {side} {how} after {secs:.1} s{net}{tail}{}",
                    if advise_keep {
                        "; rerun with --keep to inspect the tree"
                    } else {
                        ""
                    }
                ),
            )
        }
    };
    Check {
        check: "build".into(),
        subject: format!("build {side}"),
        passed,
        message,
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn reproducible_check(s: &Scenario, t: &TwinOutcome, same: bool, ha: &str, hb: &str) -> Check {
    let summary = || {
        if let Some(cut) = &t.cut_short
            && t.differences.is_empty()
        {
            return cut.clone();
        }
        let first: Vec<String> = t
            .differences
            .iter()
            .take(3)
            .map(|d| {
                let path = if d.path.is_empty() { "." } else { &d.path };
                format!(
                    "{} ({})",
                    crate::report::terminal::one_line(path),
                    d.kind.name()
                )
            })
            .collect();
        format!(
            "{} differing path{}: {}{}{}",
            t.differences.len(),
            if t.differences.len() == 1 { "" } else { "s" },
            first.join(", "),
            if t.differences.len() > 3 { ", ..." } else { "" },
            t.cut_short
                .as_ref()
                .map(|c| format!("; {c}"))
                .unwrap_or_default()
        )
    };
    let (passed, message) = match (s.expect.reproducible, same) {
        (true, true) => (true, format!("builds A and B are identical ({ha})")),
        (true, false) => (
            false,
            format!(
                "expected identical builds, but {}; {}{}",
                if ha == hb {
                    format!("both are {ha} and the mode bits differ (compare: strict)")
                } else {
                    format!("A is {ha} and B is {hb}")
                },
                summary(),
                sde_remark(t)
            ),
        ),
        (false, false) => (
            true,
            format!(
                "builds differ, as expected (reproducible: false); {}",
                summary()
            ),
        ),
        (false, true) => (
            false,
            format!("expected the builds to differ (reproducible: false), but both are {ha}"),
        ),
    };
    Check {
        check: "reproducible".into(),
        subject: "A vs B".into(),
        passed,
        message,
    }
}

/// What the SOURCE_DATE_EPOCH pair of the culprit search showed.
fn sde_remark(t: &TwinOutcome) -> String {
    match t.culprits.as_ref().and_then(|c| c.reproducible_with_sde) {
        Some(true) => format!(
            "; reproducible only with SOURCE_DATE_EPOCH: a pair built with SOURCE_DATE_EPOCH={} is identical \
             (this scenario sets `source_date_epoch: null`)",
            crate::scenario::DEFAULT_SOURCE_DATE_EPOCH
        ),
        Some(false) => format!(
            "; not caused by the missing SOURCE_DATE_EPOCH: a pair built with SOURCE_DATE_EPOCH={} differs too",
            crate::scenario::DEFAULT_SOURCE_DATE_EPOCH
        ),
        None => String::new(),
    }
}

fn glob_match(pattern: &str, text: &str) -> bool {
    match glob::Pattern::new(pattern) {
        Ok(p) => p.matches(text),
        Err(_) => pattern == text,
    }
}

fn show(w: Option<&Option<WhichResult>>) -> String {
    match w {
        Some(Some(r)) if r.inside => found_at(r),
        Some(Some(r)) => format!("{} (outside the environment)", found_at(r)),
        _ => "nothing".into(),
    }
}

/// Where a `which` result points: its path, and what it resolves to.
fn found_at(r: &WhichResult) -> String {
    match &r.resolved {
        Some(res) if res != &r.path => format!("{} (-> {res})", r.path),
        _ => r.path.clone(),
    }
}

/// A note for each `which` result of build A that lies outside the
/// environment: it passes a loose glob, but the host provides it.
fn outside_notes(t: &TwinOutcome) -> Vec<String> {
    let Some(p) = &t.a.probes else {
        return Vec::new();
    };
    p.which
        .iter()
        .filter_map(|(cmd, r)| {
            let r = r.as_ref().filter(|r| !r.inside)?;
            Some(format!(
                "`{cmd}` resolves to {}, outside the environment",
                found_at(r)
            ))
        })
        .collect()
}

fn probe_checks(s: &Scenario, pa: &Probes, pb: &Probes, checks: &mut Vec<Check>) {
    let sides = [("A", pa), ("B", pb)];
    for (cmd, pattern) in &s.expect.which {
        let mut problems = Vec::new();
        for (side, p) in sides {
            let found = p.which.get(cmd);
            match found {
                Some(Some(r)) if glob_match(pattern, &r.path) => {}
                _ => problems.push(format!("build {side} found {}", show(found))),
            }
        }
        let (wa, wb) = (pa.which.get(cmd), pb.which.get(cmd));
        let same = wa.cloned().flatten().map(|r| (r.path, r.resolved))
            == wb.cloned().flatten().map(|r| (r.path, r.resolved));
        if !same {
            problems.push(format!("A found {} but B found {}", show(wa), show(wb)));
        }
        checks.push(Check {
            check: "which".into(),
            subject: cmd.clone(),
            passed: problems.is_empty(),
            message: if problems.is_empty() {
                format!("`{cmd}` resolves to {} in both builds", show(wa))
            } else {
                format!(
                    "`which {cmd}`: expected a match for {pattern}; {}",
                    problems.join("; ")
                )
            },
        });
    }
    for cmd in &s.expect.missing {
        let found: Vec<String> = sides
            .iter()
            .filter_map(|(side, p)| match p.which.get(cmd) {
                Some(Some(r)) => Some(format!("build {side} found {}", r.path)),
                _ => None,
            })
            .collect();
        checks.push(Check {
            check: "missing".into(),
            subject: cmd.clone(),
            passed: found.is_empty(),
            message: if found.is_empty() {
                format!("`{cmd}` is not on the activated PATH, as expected")
            } else {
                format!(
                    "expected `{cmd}` not to be found on the activated PATH, but {}",
                    found.join(" and ")
                )
            },
        });
    }
    for (side, p) in sides {
        let dirs: Vec<&str> = p.path.iter().map(|e| e.dir.as_str()).collect();
        for pattern in &s.expect.path_contains {
            let ok = dirs.iter().any(|d| glob_match(pattern, d));
            checks.push(Check {
                check: "path".into(),
                subject: format!("contains {pattern}"),
                passed: ok,
                message: if ok {
                    format!("build {side}: PATH has an entry matching {pattern}")
                } else {
                    format!(
                        "expected a PATH entry matching {pattern}; build {side} has PATH={}",
                        dirs.join(":")
                    )
                },
            });
        }
        for pattern in &s.expect.path_excludes {
            let bad: Vec<&str> = dirs
                .iter()
                .copied()
                .filter(|d| glob_match(pattern, d))
                .collect();
            checks.push(Check {
                check: "path".into(),
                subject: format!("excludes {pattern}"),
                passed: bad.is_empty(),
                message: if bad.is_empty() {
                    format!("build {side}: no PATH entry matches {pattern}")
                } else {
                    format!(
                        "expected no PATH entry matching {pattern}; build {side} has {}",
                        bad.join(", ")
                    )
                },
            });
        }
    }
    let a_path: Vec<&str> = pa.path.iter().map(|e| e.dir.as_str()).collect();
    let b_path: Vec<&str> = pb.path.iter().map(|e| e.dir.as_str()).collect();
    if a_path != b_path {
        checks.push(Check {
            check: "path".into(),
            subject: "A vs B".into(),
            passed: false,
            message: format!(
                "PATH differs: build A has {}, build B has {}",
                a_path.join(":"),
                b_path.join(":")
            ),
        });
    }
    for (i, want) in s.expect.run.iter().enumerate() {
        let mut problems = Vec::new();
        let results: Vec<_> = sides
            .iter()
            .map(|(side, p)| (*side, p.run.get(i)))
            .collect();
        for (side, r) in &results {
            let Some(r) = r else {
                problems.push(format!("build {side} did not run it"));
                continue;
            };
            if r.exit_code != Some(want.exit) {
                let seen = r
                    .exit_code
                    .map_or("a signal".to_string(), |c| c.to_string());
                let err = r.stderr.trim();
                let err = if err.is_empty() {
                    String::new()
                } else {
                    format!(" (stderr: {})", clip(err, 200))
                };
                problems.push(format!(
                    "expected exit {}, build {side} exited {seen}{err}",
                    want.exit
                ));
            }
            if let Some(out) = &want.stdout
                && &r.stdout != out
            {
                problems.push(format!(
                    "expected stdout {:?}, build {side} printed {:?}",
                    out,
                    clip(&r.stdout, 200)
                ));
            }
            if let Some(part) = &want.stdout_contains
                && !r.stdout.contains(part.as_str())
            {
                problems.push(format!(
                    "expected stdout containing {:?}, build {side} printed {:?}",
                    part,
                    clip(&r.stdout, 200)
                ));
            }
        }
        if let [(_, Some(ra)), (_, Some(rb))] = results.as_slice()
            && (ra.exit_code, &ra.stdout) != (rb.exit_code, &rb.stdout)
        {
            problems.push(format!(
                "builds disagree: A exited {:?} printing {:?}, B exited {:?} printing {:?}",
                ra.exit_code,
                clip(&ra.stdout, 100),
                rb.exit_code,
                clip(&rb.stdout, 100)
            ));
        }
        checks.push(Check {
            check: "run".into(),
            subject: want.cmd.clone(),
            passed: problems.is_empty(),
            message: if problems.is_empty() {
                format!("`{}` behaved as expected in both builds", want.cmd)
            } else {
                format!("`{}`: {}", want.cmd, problems.join("; "))
            },
        });
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

fn build_report(b: &BuildOutcome) -> BuildReport {
    let probes = b.probes.clone().unwrap_or_default();
    BuildReport {
        status: b.status,
        exit_code: b.exit_code,
        problem: b.problem.clone(),
        hash: b.hash.as_ref().map(|h| h.sri.clone()),
        files: b.hash.as_ref().map_or(0, |h| h.files),
        bytes: b.hash.as_ref().map_or(0, |h| h.bytes),
        path: probes.path.iter().map(|e| e.dir.clone()).collect(),
        path_entries: probes.path,
        which: probes.which,
        run: probes.run,
        variations: b.variations.clone(),
        source_date_epoch: b.source_date_epoch,
        stderr_tail: b.stderr_tail.clone(),
        duration_ms: b.duration.as_millis() as u64,
        limits: b.limits.clone(),
        log_dropped: b.log_dropped,
    }
}

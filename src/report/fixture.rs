//! A sample `Report` for the renderers' tests: a pass, a failure with a
//! text, a binary and an archive difference (with culprits, hints and
//! markup in file names), an error and a skip.

use super::{BuildReport, Builds, Check, Report, ScenarioReport, Verdict};
use crate::probe::WhichResult;
use crate::tree::explain::{
    ArchiveDetail, BinaryDetail, Body, Detail, MemberChange, MemberDiff, TextDetail,
};
use crate::tree::{DiffKind, Difference};
use crate::twin::BuildStatus;
use std::collections::BTreeMap;

fn build(hash: &str, varied: bool) -> BuildReport {
    let variations: BTreeMap<String, String> = if varied {
        [
            ("hostname", "envtwin-b-variant"),
            ("umask", "0002"),
            ("time", "+373 days"),
        ]
    } else {
        [
            ("hostname", "envtwin-a"),
            ("umask", "0022"),
            ("time", "real"),
        ]
    }
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    BuildReport {
        status: BuildStatus::Ok,
        exit_code: Some(0),
        problem: None,
        hash: Some(hash.into()),
        files: 3,
        bytes: 120,
        path: vec!["/envtwin/out/bin".into()],
        path_entries: Vec::new(),
        which: [(
            "hello".to_string(),
            Some(WhichResult {
                path: "/envtwin/out/bin/hello".into(),
                resolved: Some("/envtwin/out/bin/hello".into()),
                inside: true,
                sha256: Some("ab".repeat(32)),
            }),
        )]
        .into(),
        run: Vec::new(),
        variations,
        source_date_epoch: Some(315_532_800),
        stderr_tail: String::new(),
        duration_ms: 70,
        limits: [("memory".to_string(), "4 GiB (cgroup v1)".to_string())].into(),
        log_dropped: 0,
    }
}

fn text_difference() -> Difference {
    Difference {
        path: "share/build-info.txt".into(),
        kind: DiffKind::Content,
        a: Some("regular, 30 bytes, sha256 54d214338b81…".into()),
        b: Some("regular, 38 bytes, sha256 b2448e3b2fb7…".into()),
        culprits: vec!["hostname".into(), "umask".into()],
        inherent: false,
        members: Vec::new(),
        detail: Some(Detail {
            body: Body::Text(TextDetail {
                diff: "@@ -1,3 +1,3 @@\n-built on envtwin-a\n-umask 0022\n+built on envtwin-b-variant\n+umask 0002\n same <line>\n".into(),
                removed: 2,
                added: 2,
                truncated: None,
                encoding: None,
            }),
            hints: vec!["looks like the hostname (envtwin-a in A, envtwin-b-variant in B)".into()],
        }),
    }
}

fn binary_difference() -> Difference {
    Difference {
        path: "share/random.bin".into(),
        kind: DiffKind::Content,
        a: Some("regular, 16 bytes".into()),
        b: Some("regular, 16 bytes".into()),
        culprits: Vec::new(),
        inherent: true,
        members: Vec::new(),
        detail: Some(Detail {
            body: Body::Binary(BinaryDetail {
                size_a: 16,
                size_b: 16,
                first_difference: 2,
                window_offset: 0,
                hex_a: "41 42 00 01".into(),
                hex_b: "41 42 ff 01".into(),
                note: None,
            }),
            hints: Vec::new(),
        }),
    }
}

fn archive_difference() -> Difference {
    Difference {
        path: "lib/<script>alert(1)</script>.zip".into(),
        kind: DiffKind::Content,
        a: None,
        b: None,
        culprits: vec!["time".into()],
        inherent: false,
        members: Vec::new(),
        detail: Some(Detail {
            body: Body::Archive(ArchiveDetail {
                archive: "zip".into(),
                members: vec![
                    MemberDiff {
                        member: "b.zip!stamp.txt".into(),
                        kind: MemberChange::Timestamp,
                        a: Some("2026-11-26 10:00:00".into()),
                        b: Some("2027-12-04 10:00:00".into()),
                        detail: None,
                    },
                    MemberDiff {
                        member: "b.zip!x.bin".into(),
                        kind: MemberChange::Content,
                        a: Some("file, 4 bytes".into()),
                        b: Some("file, 4 bytes".into()),
                        detail: Some(Box::new(binary_difference().detail.expect("detail"))),
                    },
                ],
                more: Some(3),
                omitted: Vec::new(),
                note: None,
            }),
            hints: vec!["2 member timestamps differ".into()],
        }),
    }
}

/// The sample report.
pub(crate) fn sample() -> Report {
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
        a: build("sha256-AAAA", false),
        b: build("sha256-AAAA", true),
    });
    pass.checks = vec![Check {
        check: "which".into(),
        subject: "hello".into(),
        passed: true,
        message: "hello resolves to /envtwin/out/bin/hello in A and B".into(),
    }];
    pass.duration_ms = 71;
    let mut fail = pass.clone();
    fail.name = "stamped".into();
    fail.file = "scenarios/stamped/stamped.yaml".into();
    fail.verdict = Verdict::Fail;
    fail.reproducible = Some(false);
    fail.builds = Some(Builds {
        a: build("sha256-AAAA", false),
        b: build("sha256-BBBB", true),
    });
    fail.differences = vec![text_difference(), binary_difference(), archive_difference()];
    fail.culprits = Some(vec!["hostname".into(), "time".into(), "umask".into()]);
    fail.inherent = Some(true);
    fail.checks.push(Check {
        check: "reproducible".into(),
        subject: "A vs B".into(),
        passed: false,
        message: "expected identical builds, but A is sha256-AAAA and B is sha256-BBBB; 3 differing paths".into(),
    });
    fail.unavailable_variations = [(
        "fileordering".to_string(),
        "disorderfs is not installed".to_string(),
    )]
    .into();
    fail.duration_ms = 220;
    let mut error = ScenarioReport::without_builds(
        "broken",
        "scenarios/broken.yaml",
        "shell",
        Verdict::Error,
        "cannot create the sandbox: Operation not permitted".into(),
    );
    error.duration_ms = 5;
    let skip = ScenarioReport::without_builds(
        "nix-env",
        "scenarios/nix.yaml",
        "nix",
        Verdict::Skipped,
        "nix-build is not installed".into(),
    );
    Report::new(vec![pass, fail, error, skip])
}

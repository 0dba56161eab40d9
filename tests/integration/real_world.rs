//! The real-world scenarios of issue 11 (scenarios/real-world): a pip venv
//! and a setuptools wheel without SOURCE_DATE_EPOCH, `npm ci` and
//! `cargo build --locked`, against the real PyPI, npm and crates.io. Each
//! scenario is skipped, with its reason, when its registry is unreachable.

use crate::support::{Project, require_file, require_tool, run_offline, scenario, skipped_offline};

/// The toolchain the cargo scenario binds through `host_paths` (rustup's,
/// which `.ci/as-user` lets an ordinary user traverse); without it the
/// cargo scenario is left out, and CI fails.
const TOOLCHAIN: &str = "/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu";

fn real_world() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/real-world")
}

#[test]
fn real_registries_give_the_right_verdicts_and_culprits() {
    if !require_tool("python3") || !require_tool("npm") {
        return;
    }
    let cargo = require_file(&format!("{TOOLCHAIN}/bin/cargo"));
    let p = Project::new();
    let mut dirs = vec!["flask-venv-no-sde", "wheel-no-sde", "npm-ci"];
    if cargo {
        dirs.push("cargo-locked");
    }
    let mut cmd = p.cmd(&["run", "--format", "json"]);
    for d in &dirs {
        cmd.arg(real_world().join(d));
    }
    let (code, report) = crate::support::json_output(&cmd.output().expect("run"));
    assert_eq!(code, 0, "{report:#}");

    // The venv: every .pyc header holds its source's mtime, which only
    // `time` moves, and SOURCE_DATE_EPOCH alone makes it reproducible.
    let s = scenario(&report, "real-flask-venv-no-sde");
    if !skipped_offline(s, "real-flask-venv-no-sde") {
        assert_eq!(s["verdict"], "pass", "{s:#}");
        assert_eq!(s["reproducible"], false);
        // Every .pyc holds times 400 days apart, as far as B's clock ran
        // ahead: `time` is read in the outputs, every time, however busy
        // the run; the search builds only the SOURCE_DATE_EPOCH pair.
        assert_eq!(s["culprits"], serde_json::json!(["time"]), "{s:#}");
        assert_eq!(s["inherent"], false, "{s:#}");
        assert_eq!(s["search"]["builds"], 2, "{s:#}");
        assert_eq!(s["reproducible_with_sde"], true, "{s:#}");
        assert!(s["builds"]["a"]["source_date_epoch"].is_null(), "{s:#}");
        let diffs = s["differences"].as_array().expect("differences");
        assert!(diffs.len() > 100, "{}", diffs.len());
        assert_eq!(s["search"]["by_clock"], diffs.len(), "{s:#}");
        for d in diffs {
            let path = d["path"].as_str().expect("path");
            assert!(path.ends_with(".pyc"), "{path}");
            assert_eq!(d["culprits"], serde_json::json!(["time"]), "{d:#}");
            // The report details only the first differences.
            if let Some(hint) = d["detail"]["hints"][0].as_str() {
                assert!(
                    hint.starts_with("looks like a .pyc header (source mtime)"),
                    "{hint}"
                );
            }
        }
        assert!(!diffs[0]["detail"]["hints"].is_null(), "{:#}", diffs[0]);
    }

    // The wheel: member by member, the modes are the umask's doing and the
    // zip times the clock's (or, when a two-second zip time ticks between
    // the two plain rebuilds, differ with no variation); with
    // SOURCE_DATE_EPOCH the modes still differ.
    let s = scenario(&report, "real-wheel-no-sde");
    if !skipped_offline(s, "real-wheel-no-sde") {
        assert_eq!(s["verdict"], "pass", "{s:#}");
        assert_eq!(s["reproducible"], false);
        assert_eq!(s["reproducible_with_sde"], false, "{s:#}");
        let culprits = s["culprits"].as_array().expect("culprits");
        assert!(culprits.contains(&"umask".into()), "{s:#}");
        let d = &s["differences"][0];
        assert_eq!(d["path"], "tinypkg-1.0.0-py3-none-any.whl");
        let members = d["members"].as_array().expect("members");
        let of = |change: &str| {
            members
                .iter()
                .filter(|m| m["change"] == change)
                .collect::<Vec<_>>()
        };
        let modes = of("permissions");
        assert!(modes.len() >= 4, "{members:#?}");
        for m in modes {
            assert_eq!(m["culprits"], serde_json::json!(["umask"]), "{m:#}");
        }
        let times = of("timestamp");
        assert!(times.len() >= 6, "{members:#?}");
        for m in times {
            assert!(
                m["culprits"] == serde_json::json!(["time"]) || m["inherent"] == true,
                "{m:#}"
            );
        }
    }

    for name in ["real-npm-ci", "real-cargo-locked"] {
        if name == "real-cargo-locked" && !cargo {
            continue;
        }
        let s = scenario(&report, name);
        if skipped_offline(s, name) {
            continue;
        }
        assert_eq!(s["verdict"], "pass", "{name}: {s:#}");
        assert_eq!(s["reproducible"], true, "{name}");
        assert_eq!(s["builds"]["a"]["hash"], s["builds"]["b"]["hash"], "{name}");
    }
    assert!(p.leftovers().is_empty());
}

#[test]
fn the_real_world_scenarios_skip_without_a_network() {
    // A fresh network namespace reaches no registry: all four are skipped
    // with the endpoint that failed, and nothing is built.
    let p = Project::new();
    let Some((code, report)) = run_offline(&p, &[real_world()]) else {
        return;
    };
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["skipped"], 4, "{report:#}");
    for (name, host) in [
        ("real-flask-venv-no-sde", "pypi.org:443"),
        ("real-wheel-no-sde", "pypi.org:443"),
        ("real-npm-ci", "registry.npmjs.org:443"),
        ("real-cargo-locked", "index.crates.io:443"),
    ] {
        let reason = scenario(&report, name)["reason"].as_str().expect("reason");
        assert!(reason.starts_with("network unreachable: "), "{reason}");
        assert!(reason.contains(host), "{name}: {reason}");
    }
    assert!(p.leftovers().is_empty());
}

//! Culprit search: which variations cause a difference, and noise.

use crate::support::{Project, scenario};

#[test]
fn culprits_of_a_build_leaking_hostname_and_umask_are_exactly_those() {
    let p = Project::new();
    p.file(
        "s.yaml",
        "name: leaky\nbuild: |\n  mkdir -p \"$out\"\n  hostname > \"$out/host\"\n  umask > \"$out/mask\"\n  echo same > \"$out/same\"\n",
    );
    let (code, report) = p.run_json(&["s.yaml"]);
    assert_eq!(code, 1);
    let s = scenario(&report, "leaky");
    assert_eq!(s["culprits"], serde_json::json!(["hostname", "umask"]));
    assert_eq!(s["inherent"], false);
    let per_path: Vec<(String, serde_json::Value)> = s["differences"]
        .as_array()
        .expect("differences")
        .iter()
        .map(|d| {
            (
                d["path"].as_str().unwrap_or("").to_string(),
                d["culprits"].clone(),
            )
        })
        .collect();
    assert_eq!(
        per_path,
        vec![
            ("host".to_string(), serde_json::json!(["hostname"])),
            ("mask".to_string(), serde_json::json!(["umask"])),
        ]
    );
    assert!(p.leftovers().is_empty(), "{:?}", p.leftovers());
}

#[test]
fn randomness_is_inherent_and_no_explain_skips_the_search() {
    let p = Project::new();
    p.file(
        "s.yaml",
        "name: noisy\nbuild: |\n  mkdir -p \"$out\"\n  head -c 8 /dev/urandom > \"$out/r\"\n",
    );
    let (_, report) = p.run_json(&["s.yaml"]);
    let s = scenario(&report, "noisy");
    assert_eq!(s["inherent"], true);
    assert_eq!(s["culprits"], serde_json::json!([]));
    let (_, report) = p.run_json(&["--no-explain", "s.yaml"]);
    let s = scenario(&report, "noisy");
    assert!(s["culprits"].is_null() && s["inherent"].is_null(), "{s}");
}

#[test]
fn identical_builds_start_no_search() {
    let p = Project::new();
    p.file(
        "s.yaml",
        "name: steady\nbuild: |\n  mkdir -p \"$out\"\n  echo same > \"$out/x\"\n",
    );
    let (code, report) = p.run_json(&["s.yaml"]);
    assert_eq!(code, 0);
    assert!(scenario(&report, "steady")["culprits"].is_null());
}

#[test]
fn culprits_are_found_beside_inherent_noise_and_noise_paths_are_marked() {
    let p = Project::new();
    p.file(
        "s.yaml",
        "name: mixed\nbuild: |\n  mkdir -p \"$out\"\n  hostname > \"$out/host\"\n  umask > \"$out/mask\"\n  head -c 8 /dev/urandom > \"$out/noise\"\n",
    );
    let (_, report) = p.run_json(&["s.yaml"]);
    let s = scenario(&report, "mixed");
    assert_eq!(s["culprits"], serde_json::json!(["hostname", "umask"]));
    assert_eq!(s["inherent"], true);
    let rows: Vec<(String, serde_json::Value, bool)> = s["differences"]
        .as_array()
        .expect("differences")
        .iter()
        .map(|d| {
            (
                d["path"].as_str().unwrap_or("").to_string(),
                d["culprits"].clone(),
                d["inherent"] == true,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("host".to_string(), serde_json::json!(["hostname"]), false),
            ("mask".to_string(), serde_json::json!(["umask"]), false),
            ("noise".to_string(), serde_json::Value::Null, true),
        ]
    );
}

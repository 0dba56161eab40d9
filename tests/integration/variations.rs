//! Each variation of build B is caught by a build that leaks it into $out,
//! disappears with --no-vary, and is caught alone with --vary NAME.

use crate::support::{Project, scenario};

/// (variation, shell command whose output depends on it, a variation it must not depend on)
const LEAKS: &[(&str, &str, &str)] = &[
    ("hostname", "hostname", "umask"),
    ("umask", "umask", "hostname"),
    ("build_path", "pwd", "umask"),
    ("user", "id -u", "umask"),
    ("num_cpus", "nproc", "umask"),
    ("home", "echo \"$HOME\"", "umask"),
    ("exec_path", "echo \"$PATH\"", "umask"),
    ("locale", "echo \"$LANG\"", "umask"),
    ("timezone", "date +%Z", "umask"),
    ("env_order", "env | cut -d= -f1", "umask"),
    ("time", "date +%Y%m%d", "umask"),
    ("aslr", "head -n 1 /proc/self/maps", "umask"),
    ("kernel", "uname -r", "umask"),
    // Last, so the scenario directory holds a dozen files to shuffle.
    ("fileordering", "ls -f \"$src\"", "umask"),
];

fn leaky(p: &Project, var: &str, cmd: &str) {
    p.file(
        &format!("{var}.yaml"),
        &format!("name: leak-{var}\nbuild: |\n  mkdir -p \"$out\"\n  {cmd} > \"$out/leak\"\n"),
    );
}

fn verdict(p: &Project, var: &str, args: &[&str]) -> (i32, String) {
    let mut all = vec![format!("{var}.yaml")];
    all.extend(args.iter().map(|a| a.to_string()));
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let (code, report) = p.run_json(&refs);
    let s = scenario(&report, &format!("leak-{var}"));
    (code, s["verdict"].as_str().unwrap_or_default().to_string())
}

#[test]
fn every_variation_is_caught_alone_and_only_by_itself() {
    let p = Project::new();
    for (var, cmd, other) in LEAKS {
        if let Some(reason) = envtwin::sandbox::plan::unavailable_reason(
            envtwin::sandbox::variation::Variation::parse(var).expect("known variation"),
        ) {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{var} unavailable in CI: {reason}"
            );
            eprintln!("skipping {var}: {reason}");
            continue;
        }
        leaky(&p, var, cmd);
        assert_eq!(
            verdict(&p, var, &[]),
            (1, "fail".into()),
            "{var}: default variations must catch `{cmd}`"
        );
        assert_eq!(
            verdict(&p, var, &["--no-vary"]),
            (0, "pass".into()),
            "{var}: --no-vary must pass"
        );
        assert_eq!(
            verdict(&p, var, &["--vary", var]),
            (1, "fail".into()),
            "{var}: --vary {var} must catch `{cmd}`"
        );
        assert_eq!(
            verdict(&p, var, &["--vary", other]),
            (0, "pass".into()),
            "{var}: --vary {other} must not change `{cmd}`"
        );
    }
}

#[test]
fn report_records_each_variation_value_per_build() {
    let p = Project::new();
    leaky(&p, "umask", "umask");
    let (_, report) = p.run_json(&["umask.yaml", "--vary", "umask,hostname"]);
    let s = scenario(&report, "leak-umask");
    assert_eq!(s["builds"]["a"]["variations"]["umask"], "0022");
    assert_eq!(s["builds"]["b"]["variations"]["umask"], "0002");
    assert_eq!(
        s["builds"]["a"]["variations"]["hostname"],
        "envtwin-a (a.envtwin.invalid)"
    );
    assert_ne!(
        s["builds"]["b"]["variations"]["hostname"],
        s["builds"]["a"]["variations"]["hostname"]
    );
    // Only the selected variations are recorded.
    assert!(s["builds"]["b"]["variations"].get("locale").is_none());
    let diffs = s["differences"].as_array().expect("differences");
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    assert_eq!(diffs[0]["path"], "leak");
    assert_eq!(diffs[0]["kind"], "content");
}

#[test]
fn scenario_vary_list_is_honoured_and_cli_overrides_it() {
    let p = Project::new();
    p.file(
        "s.yaml",
        "name: only-umask\nvary: [hostname]\nbuild: |\n  mkdir -p \"$out\"\n  umask > \"$out/u\"\n",
    );
    let (code, _) = p.run_json(&["s.yaml"]);
    assert_eq!(
        code, 0,
        "the scenario varies only hostname, so umask does not leak"
    );
    let (code, _) = p.run_json(&["s.yaml", "--vary", "umask"]);
    assert_eq!(
        code, 1,
        "--vary on the command line overrides the scenario's list"
    );
}

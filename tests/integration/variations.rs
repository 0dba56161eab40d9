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

/// Whether `fileordering` can run here; in CI it must (as above).
fn fileordering_available() -> bool {
    let v = envtwin::sandbox::variation::Variation::parse("fileordering").expect("known variation");
    match envtwin::sandbox::plan::unavailable_reason(v) {
        None => true,
        Some(reason) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "fileordering unavailable in CI: {reason}"
            );
            eprintln!("skipping: {reason}");
            false
        }
    }
}

/// Two dozen files the build creates in `dir`: enough that a shuffled
/// listing matching the plain one by chance (1 in 24!) never happens.
const MAKE_FILES: &str = "for i in $(seq 1 24); do echo \"$i\" > \"$DIR/f$i\"; done";

/// `fileordering` also shuffles the trees the build writes, as reprotest's
/// disorderfs does the build tree: a listing of files the build created,
/// in its build directory or in `$out` (`cd $out && tar cf x.tar .`), is
/// caught and blamed on fileordering alone; the same builds sorting pass.
#[test]
fn fileordering_shuffles_the_files_a_build_creates() {
    if !fileordering_available() {
        return;
    }
    let p = Project::new();
    let tar = "tar --mtime=@0 --owner=0 --group=0 --numeric-owner";
    // (name, build, the differing path in $out)
    let cases = [
        (
            "build-dir",
            format!("mkdir work; DIR=work; {MAKE_FILES}\nls -f work > \"$out/listing\""),
            "listing",
        ),
        (
            "out-tar",
            format!(
                "DIR=\"$out\"; {MAKE_FILES}\ncd \"$out\" && {tar} -cf /tmp/x.tar . && mv /tmp/x.tar x.tar"
            ),
            "x.tar",
        ),
    ];
    let sorted = [
        format!("mkdir work; DIR=work; {MAKE_FILES}\nls work > \"$out/listing\""),
        format!(
            "DIR=\"$out\"; {MAKE_FILES}\ncd \"$out\" && {tar} --sort=name -cf /tmp/x.tar . && mv /tmp/x.tar x.tar"
        ),
    ];
    for ((name, build, path), sorted) in cases.iter().zip(sorted) {
        let indent = |s: &str| s.replace('\n', "\n  ");
        p.file(
            &format!("{name}.yaml"),
            &format!(
                "name: {name}\nbuild: |\n  mkdir -p \"$out\"\n  {}\n",
                indent(build)
            ),
        );
        p.file(
            &format!("{name}-sorted.yaml"),
            &format!(
                "name: {name}-sorted\nbuild: |\n  mkdir -p \"$out\"\n  {}\n",
                indent(&sorted)
            ),
        );
        let (code, report) = p.run_json(&[&format!("{name}.yaml"), "--vary", "fileordering"]);
        let s = scenario(&report, name);
        assert_eq!(
            (code, s["verdict"].as_str()),
            (1, Some("fail")),
            "{name}: {s}"
        );
        assert_eq!(
            s["culprits"],
            serde_json::json!(["fileordering"]),
            "{name}: {s}"
        );
        let diffs: Vec<&str> = s["differences"]
            .as_array()
            .expect("differences")
            .iter()
            .filter_map(|d| d["path"].as_str())
            .collect();
        assert_eq!(diffs, [*path], "{name}");
        let (code, report) = p.run_json(&[&format!("{name}.yaml"), "--no-vary"]);
        assert_eq!(code, 0, "{name} without variations: {report}");
        let (code, report) =
            p.run_json(&[&format!("{name}-sorted.yaml"), "--vary", "fileordering"]);
        assert_eq!(code, 0, "{name}, sorted: {report}");
    }
}

/// Files a build creates through disorderfs get the modes its umask gives
/// and its own user, are denied to it at mode 000 (it holds no capability)
/// and link, move and execute as in a plain tree: a deterministic build
/// stays reproducible with every variation on, `user` and `umask` among
/// them.
#[test]
fn a_deterministic_build_stays_reproducible_through_the_shuffled_trees() {
    if !fileordering_available() {
        return;
    }
    let p = Project::new();
    p.file(
        "modes.yaml",
        r#"name: modes
build: |
  mkdir -p "$out/bin" work
  check() {
    want=$(printf %o $(( $2 & ~$(umask) )))
    got=$(stat -c %a "$1")
    [ "$got" = "$want" ] && [ -O "$1" ] && [ -G "$1" ] || { echo "$1: mode $got, want $want; $(stat -c %u:%g "$1") for $(id -u):$(id -g)" >&2; exit 1; }
  }
  for d in work "$out"; do
    echo data > "$d/file"; check "$d/file" 0666
    mkdir "$d/dir"; check "$d/dir" 0777
    printf '#!/bin/sh\necho ran\n' > "$d/tool"; chmod +x "$d/tool"; "$d/tool" > "$d/ran"
    ln -s file "$d/link"; [ "$(cat "$d/link")" = data ]
    echo secret > "$d/secret"; chmod 000 "$d/secret"
    if cat "$d/secret" 2>/dev/null; then echo "$d/secret: readable at mode 000" >&2; exit 1; fi
    chmod 600 "$d/secret"
    mv "$d/file" "$d/moved"; ln "$d/moved" "$d/hard"; rm "$d/hard"
  done
  cp work/tool "$out/bin/tool2"
  ls work > "$out/listing"
"#,
    );
    let (code, report) = p.run_json(&["modes.yaml"]);
    let s = scenario(&report, "modes");
    assert_eq!(code, 0, "{s}");
    assert!(
        s["builds"]["b"]["variations"]["fileordering"]
            .as_str()
            .is_some_and(|v| v.starts_with("shuffled")),
        "{s}"
    );
    assert_eq!(s["builds"]["b"]["variations"]["user"], "1000:1000");
    assert_eq!(s["builds"]["b"]["variations"]["umask"], "0002");
}

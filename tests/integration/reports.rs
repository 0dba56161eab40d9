//! Reports people look at: `merge` of the shipped scenarios' shards, the
//! HTML report rendered in a real headless Chromium, Markdown, SARIF
//! validated against the SARIF 2.1.0 schema, and `init` on a sample project.

use crate::support::{Project, json_output, require_tool};
use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn envtwin(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("envtwin").expect("binary");
    c.current_dir(dir);
    c
}

/// The DOM Chromium builds from `page`, as `--dump-dom` prints it.
fn chromium_dom(page: &Path) -> String {
    let out = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--dump-dom",
            &format!("file://{}", page.display()),
        ])
        .output()
        .expect("chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8 DOM")
}

#[test]
fn shards_of_the_shipped_scenarios_merge_into_one_report_in_every_format() {
    let work = tempfile::tempdir().expect("tmp");
    let tmp = tempfile::tempdir().expect("tmp");
    let mut shards = Vec::new();
    for k in 1..=2 {
        let file = work.path().join(format!("report-{k}.json"));
        let out = envtwin(&repo())
            .env("TMPDIR", tmp.path())
            .args(["run", "scenarios/", "--partition", &format!("{k}/2")])
            .args(["--format", "json", "-o"])
            .arg(&file)
            .output()
            .expect("run");
        let (code, report) = json_output(&out);
        assert_eq!(code, 0, "shard {k}: {report:#}");
        shards.push((file, report));
    }
    let merged_file = work.path().join("merged.json");
    let out = envtwin(work.path())
        .args(["merge"])
        .args(shards.iter().map(|(f, _)| f))
        .arg("-o")
        .arg(&merged_file)
        .output()
        .expect("merge");
    let (code, merged) = json_output(&out);
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&out.stderr));

    // Every scenario of every shard, unchanged, once, and nothing else.
    let mut expected: Vec<serde_json::Value> = shards
        .iter()
        .flat_map(|(_, r)| r["scenarios"].as_array().expect("scenarios").clone())
        .collect();
    expected.sort_by_key(|s| (s["file"].to_string(), s["name"].to_string()));
    assert_eq!(merged["scenarios"].as_array().expect("merged"), &expected);
    let validated = envtwin(&repo())
        .args(["validate", "scenarios/"])
        .output()
        .expect("validate");
    let listed = String::from_utf8_lossy(&validated.stdout)
        .lines()
        .filter(|l| l.starts_with("ok "))
        .count();
    assert_eq!(merged["summary"]["total"], listed);
    assert_eq!(merged["summary"]["passed"], listed);
    assert_eq!(merged["version"], 1);
    assert_eq!(
        std::fs::read_to_string(&merged_file).expect("-o file"),
        String::from_utf8_lossy(&out.stdout)
    );

    // A shard given twice is refused, naming both files.
    let (first, _) = &shards[0];
    let copy = work.path().join("again.json");
    std::fs::copy(first, &copy).expect("copy");
    let out = envtwin(work.path())
        .arg("merge")
        .arg(first)
        .arg(&copy)
        .output()
        .expect("merge");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("again.json: scenario `"), "{err}");
    assert!(
        err.contains(&format!("is also in {}", first.display())),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    // Markdown: a row per scenario, no failures to detail.
    let md = envtwin(work.path())
        .args(["merge", "--format", "markdown"])
        .args(shards.iter().map(|(f, _)| f))
        .output()
        .expect("merge");
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(
        md.starts_with(&format!(
            "## ✅ envtwin: {listed} passed, 0 failed, 0 skipped"
        )),
        "{md}"
    );
    assert!(md.contains("| stamped | ✅ pass | "), "{md}");
    assert!(md.contains("| python-todo | ✅ pass | "), "{md}");

    // HTML, in a real browser.
    let html_file = work.path().join("report.html");
    let out = envtwin(work.path())
        .args(["merge", "--format", "html", "-o"])
        .arg(&html_file)
        .args(shards.iter().map(|(f, _)| f))
        .output()
        .expect("merge");
    assert_eq!(out.status.code(), Some(0));
    if !require_tool("chromium") {
        return;
    }
    let dom = chromium_dom(&html_file);
    for s in expected {
        let name = s["name"].as_str().expect("name");
        assert!(
            dom.contains(&format!(">{name}</a>")),
            "{name} missing from the DOM"
        );
    }
    // The stamped scenario's differing path, its culprits in the matrix.
    assert!(dom.contains("<code>share/build-info.txt</code>"), "{dom}");
    let matrix = &dom[dom.find("class=\"matrix\"").expect("a culprit matrix")..];
    assert!(matrix.contains("<th scope=\"col\">hostname</th>"), "{dom}");
    assert!(dom.contains("(caused by hostname, umask)"), "{dom}");
    assert!(
        dom.contains("built on envtwin-<mark class=\"del\">a</mark>"),
        "{dom}"
    );
}

#[test]
fn run_writes_html_and_markdown_and_diff_writes_html() {
    let p = Project::new();
    p.file(
        "host.yaml",
        "name: host\nvary: [hostname]\nbuild: |\n  mkdir -p \"$out\"\n  echo \"built on $(hostname) <b>\" > \"$out/info\"\n",
    );
    // The kept trees go in the project's own workdir, removed with it.
    std::fs::create_dir(p.path().join("work")).expect("mkdir work");
    let out = p
        .cmd(&[
            "run",
            "--format",
            "html",
            "-o",
            "r.html",
            "--keep",
            "--workdir",
            "work",
            "host.yaml",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let html = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        std::fs::read_to_string(p.path().join("r.html")).expect("r.html"),
        html
    );
    assert!(
        html.contains("&lt;b&gt;") && !html.contains("<b>"),
        "{html}"
    );
    assert!(
        html.contains("<h4><code>info</code></h4>: content"),
        "{html}"
    );
    let md = p
        .cmd(&["run", "--format", "markdown", "."])
        .output()
        .expect("run");
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(md.contains("| host | ❌ **fail** | "), "{md}");
    assert!(md.contains("| info | content | hostname |"), "{md}");
    assert!(md.contains("\n+built on envtwin-b"), "{md}");

    let a = p.file("a/x", "one\n");
    p.file("b/x", "two\n");
    let out = p
        .cmd(&["diff", "a", "b", "--format", "html"])
        .output()
        .expect("diff");
    assert_eq!(out.status.code(), Some(1));
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains("1 differing paths"), "{page}");
    assert!(page.contains("<mark class=\"del\">one</mark>"), "{page}");
    drop(a);
}

#[test]
fn audit_sarif_is_valid_sarif_2_1_0_with_a_rule_per_audit_rule() {
    let out = envtwin(&repo())
        .args(["audit", "--format", "sarif", "scenarios/"])
        .output()
        .expect("audit");
    let (code, sarif) = json_output(&out);
    assert_eq!(code, 1, "the shipped .nix files import <nixpkgs>");

    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/data/sarif-schema-2.1.0.json"))
            .expect("schema"),
    )
    .expect("schema JSON");
    let validator = jsonschema::validator_for(&schema).expect("compile schema");
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The validator does reject a log without its required parts.
    let mut broken = sarif.clone();
    broken["runs"][0]
        .as_object_mut()
        .expect("run")
        .remove("tool");
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    assert_eq!(validator.iter_errors(&broken).count(), 2);

    // The schema's required fields, spelled out: sarifLog {version, runs},
    // run {tool}, tool {driver}, toolComponent {name}, reportingDescriptor
    // {id}, result {message}, message {text}.
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "envtwin");
    let rules = driver["rules"].as_array().expect("rules");
    let help = envtwin(&repo())
        .args(["audit", "--help"])
        .output()
        .expect("help");
    let help = String::from_utf8_lossy(&help.stdout);
    let ids_in_help = help
        .lines()
        .filter(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.len() > 2 && (w[1] == "error" || w[1] == "warning") && w[0].contains('-')
        })
        .count();
    assert_eq!(rules.len(), ids_in_help, "a rule per audit rule");
    for r in rules {
        assert!(r["id"].is_string());
        assert!(r["shortDescription"]["text"].is_string());
        assert!(r["help"]["text"].as_str().is_some_and(|t| !t.is_empty()));
        let level = r["defaultConfiguration"]["level"].as_str().expect("level");
        assert!(level == "error" || level == "warning", "{r}");
    }
    let results = run["results"].as_array().expect("results");
    let (_, json) = json_output(
        &envtwin(&repo())
            .args(["audit", "--format", "json", "scenarios/"])
            .output()
            .expect("audit"),
    );
    let findings = json["findings"].as_array().expect("findings");
    assert_eq!(results.len(), findings.len());
    for (r, f) in results.iter().zip(findings) {
        assert_eq!(r["ruleId"], f["rule"]);
        assert!(
            r["message"]["text"]
                .as_str()
                .expect("text")
                .starts_with(f["message"].as_str().expect("m"))
        );
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], f["file"]);
        assert_eq!(loc["region"]["startLine"], f["line"]);
        assert_eq!(loc["region"]["startColumn"], f["column"]);
        let index = r["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[index]["id"], f["rule"]);
    }
}

#[test]
fn init_writes_starters_that_validate_and_never_overwrites() {
    let p = Project::new();
    p.file(
        "shell.nix",
        "{ pkgs ? import <nixpkgs> {} }:\npkgs.mkShell { buildInputs = [ pkgs.hello pkgs.jq ]; }\n",
    );
    p.file("requirements.txt", "# nothing to install yet\n");
    p.file(
        "requirements-dev.txt",
        "pytest==8.0.0 \\\n    --hash=sha256:0000\n",
    );
    p.file("web/package.json", "{}\n");
    p.file(
        "web/package-lock.json",
        r#"{"lockfileVersion": 3, "packages": {"": {}, "node_modules/cowsay": {"bin": {"cowsay": "cli.js"}}}}"#,
    );
    p.file(
        "tool/Cargo.toml",
        "[package]\nname = \"tool\"\nversion = \"0.1.0\"\n",
    );
    p.file("tool/Cargo.lock", "version = 4\n");
    p.file("tool/src/main.rs", "fn main() {}\n");
    p.file(
        "py/pyproject.toml",
        "[project]\nname = \"p\"\n[project.scripts]\npcli = \"p:main\"\n",
    );
    p.file("py/uv.lock", "version = 1\n");
    p.file("node_modules/x/requirements.txt", "ignored\n");

    let out = p.cmd(&["init"]).output().expect("init");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    let mut files: Vec<String> = std::fs::read_dir(p.path().join("scenarios"))
        .expect("scenarios/")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "nix-shell.yaml",
            "py-uv.yaml",
            "tool-cargo.yaml",
            "venv-dev.yaml",
            "venv.yaml",
            "web-npm.yaml"
        ]
    );
    for f in &files {
        assert!(
            printed.contains(&format!("scenarios/{f}  (from ")),
            "{printed}"
        );
    }
    assert!(printed.contains("what to check:"), "{printed}");
    let read = |f: &str| std::fs::read_to_string(p.path().join("scenarios").join(f)).expect(f);
    assert!(
        read("venv-dev.yaml")
            .contains("pip\" install --require-hashes -r \"$src/requirements-dev.txt\"")
    );
    assert!(read("venv.yaml").contains("pip\" install -r \"$src/requirements.txt\""));
    assert!(read("nix-shell.yaml").contains("\"jq\": \"/nix/store/*/bin/jq\""));
    assert!(read("web-npm.yaml").contains("npm ci "));
    assert!(read("web-npm.yaml").contains("\"cowsay\": \"$out/node_modules/.bin/cowsay\""));
    assert!(read("tool-cargo.yaml").contains("cargo build --locked"));
    assert!(read("tool-cargo.yaml").contains("\"tool\": \"$out/bin/tool\""));
    assert!(read("py-uv.yaml").contains("\"pcli\": \"$out/bin/pcli\""));

    let out = p.cmd(&["validate"]).output().expect("validate");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("6 scenarios valid"));

    // The venv starter really builds, reproducibly, with the project as $src.
    let (code, report) = p.run_json(&["scenarios/venv.yaml"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["scenarios"][0]["reproducible"], true);

    // Again: nothing is overwritten, and the file is named.
    let edited = "# mine\nname: venv\nbuild: mkdir -p \"$out\"\n";
    std::fs::write(p.path().join("scenarios/venv.yaml"), edited).expect("edit");
    let out = p.cmd(&["init"]).output().expect("init");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("scenarios/venv.yaml: exists; envtwin init never overwrites a file"),
        "{err}"
    );
    assert_eq!(read("venv.yaml"), edited);

    let out = p.cmd(&["init", "missing-dir"]).output().expect("init");
    assert_eq!(out.status.code(), Some(2));
}

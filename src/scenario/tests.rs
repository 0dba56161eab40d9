//! Tests of the whole scenario stage through `load`: real files in temp
//! dirs, asserting the rendered `file:line:column: message` of each problem.

use super::*;
use crate::sandbox::variation::Variation;
use base64::Engine;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

/// A temp dir of scenario files; diagnostics are rendered with the dir
/// replaced by `[ROOT]` so expected strings stay readable.
struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    fn new() -> Dir {
        Dir {
            tmp: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn root(&self) -> &Path {
        self.tmp.path()
    }

    fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.root().join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("mkdir");
        }
        fs::write(&path, content).expect("write");
        path
    }

    /// Load the whole dir; the rendered diagnostics, or panic if it loads.
    fn errors(&self) -> Vec<String> {
        self.errors_of(&[self.root().to_path_buf()])
    }

    fn errors_of(&self, paths: &[PathBuf]) -> Vec<String> {
        match load(paths) {
            Ok(s) => panic!("expected problems, loaded {s:#?}"),
            Err(diags) => diags.iter().map(|d| self.redact(&d.to_string())).collect(),
        }
    }

    fn redact(&self, s: &str) -> String {
        let root = self.root().display().to_string();
        let canon = self
            .root()
            .canonicalize()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| root.clone());
        s.replace(&canon, "[ROOT]").replace(&root, "[ROOT]")
    }
}

/// Problems of a single file `s.yaml` holding `text`.
fn errors(text: &str) -> Vec<String> {
    let dir = Dir::new();
    dir.write("s.yaml", text);
    dir.errors()
}

const GOOD_HASH_BYTES: [u8; 32] = [42; 32];

fn good_hash() -> String {
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(GOOD_HASH_BYTES)
    )
}

/// The SPEC §2 example, with a real hash in place of `sha256-...`.
fn spec_example() -> String {
    r#"name: hello                # required; [A-Za-z0-9._-]+, unique within a run
description: seed example  # optional
provider: shell            # optional, default shell; also nix (section 8)
out: /envtwin/out          # optional: absolute path where the environment is
                           # built, the same path in both sandboxes ($out)
build: |                   # shell provider: run by `/bin/sh -eu` in the sandbox
  mkdir -p "$out/bin"
  printf '#!/bin/sh\necho hello\n' > "$out/bin/hello"
  chmod +x "$out/bin/hello"
path: ["$out/bin"]         # the activated PATH, in order; default ["$out/bin"]
timeout: 600               # seconds per build; default 600
network: false             # default false: no network in the sandbox
source_date_epoch: 315532800  # exported as SOURCE_DATE_EPOCH; this is the default
vary: [hostname, umask]    # optional: the variations for build B; default: all supported
expect:
  reproducible: true       # default true: the two builds must be identical
  hash: HASH               # optional: the environment hash must equal this
  which:                   # command -> glob the `which` result must match
    hello: $out/bin/hello
  missing: [gcc]           # commands that must NOT be found on the activated PATH
  path_contains: ["$out/bin"]   # globs; each must match some PATH entry
  path_excludes: ["/usr/*"]     # globs; none may match any PATH entry
  run:                     # run in the activated environment, in both sandboxes
    - cmd: hello           # by /bin/sh -c, PATH = the activated PATH
      stdout: "hello\n"    # optional, exact
      stdout_contains: hel # optional
      exit: 0              # default 0
"#
    .replace("HASH", &good_hash())
}

#[test]
fn the_spec_example_loads_into_exactly_this_scenario() {
    let dir = Dir::new();
    let file = dir.write("scenarios/hello.yaml", spec_example());
    let scenarios = load(&[dir.root().join("scenarios")]).expect("valid");
    let expected = Scenario {
        name: "hello".into(),
        description: Some("seed example".into()),
        file,
        dir: dir.root().join("scenarios").canonicalize().expect("canon"),
        provider: Provider::Shell,
        out: "/envtwin/out".into(),
        build: "mkdir -p \"$out/bin\"\nprintf '#!/bin/sh\\necho hello\\n' > \"$out/bin/hello\"\nchmod +x \"$out/bin/hello\"\n".into(),
        path: vec!["/envtwin/out/bin".into()],
        timeout: Duration::from_secs(600),
        network: Network::Off,
        limits: crate::sandbox::limits::Limits::default(),
        host_paths: vec![],
        source_date_epoch: Some(315_532_800),
        compare: Compare::Nar,
        vary: Some(vec![Variation::Hostname, Variation::Umask]),
        expect: Expect {
            reproducible: true,
            build: BuildExpect::Succeed,
            hash: Some(good_hash()),
            which: BTreeMap::from([("hello".into(), "/envtwin/out/bin/hello".into())]),
            missing: vec!["gcc".into()],
            path_contains: vec!["/envtwin/out/bin".into()],
            path_excludes: vec!["/usr/*".into()],
            run: vec![RunExpect {
                cmd: "hello".into(),
                stdout: Some("hello\n".into()),
                stdout_contains: Some("hel".into()),
                exit: 0,
            }],
            fetches: FetchExpect::Any,
        },
        requires_network: vec![],
    };
    assert_eq!(scenarios, vec![expected]);
}

#[test]
fn requires_network_takes_hosts_with_an_optional_port() {
    let dir = Dir::new();
    dir.write(
        "r.yaml",
        "name: r\nbuild: \"true\"\nrequires:\n  network: [files.pythonhosted.org, 127.0.0.1:8080]\n",
    );
    let scenarios = load(&[dir.root().join("r.yaml")]).expect("valid");
    assert_eq!(
        scenarios[0].requires_network,
        vec!["files.pythonhosted.org:443", "127.0.0.1:8080"]
    );
}

#[test]
fn requires_network_rejects_what_is_not_a_host() {
    let dir = Dir::new();
    dir.write(
        "r.yaml",
        "name: r\nbuild: \"true\"\nrequires:\n  network: [\"https://pypi.org/simple\", \"h:0\"]\n  disk: 1\n",
    );
    let errors = load(&[dir.root().join("r.yaml")]).expect_err("invalid");
    let text: Vec<String> = errors.iter().map(|d| d.to_string()).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("r.yaml:4:13: `https://pypi.org/simple` is not a host to reach")),
        "{text:#?}"
    );
    assert!(
        text.iter().any(|t| t.contains("`h:0` is not a host")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|t| t.contains("r.yaml:5:3: unknown key `disk`")),
        "{text:#?}"
    );
}

#[test]
fn network_takes_a_boolean_or_an_allowlist() {
    let dir = Dir::new();
    dir.write("t.yaml", "name: t\nbuild: \"true\"\nnetwork: true\n");
    dir.write(
        "a.yaml",
        "name: a\nbuild: \"true\"\nnetwork:\n  allow: [PyPI.org, \"*.pythonhosted.org\"]\nexpect:\n  fetches: pinned\n",
    );
    let scenarios = load(&[dir.root().join("t.yaml"), dir.root().join("a.yaml")]).expect("valid");
    assert_eq!(scenarios[0].network, Network::Any);
    assert_eq!(scenarios[0].expect.fetches, FetchExpect::Any);
    assert_eq!(
        scenarios[1].network,
        Network::Allow(vec!["pypi.org".into(), "*.pythonhosted.org".into()])
    );
    assert_eq!(scenarios[1].expect.fetches, FetchExpect::Pinned);
}

#[test]
fn a_bad_allowlist_or_fetches_is_located() {
    let dir = Dir::new();
    dir.write(
        "n.yaml",
        "name: n\nbuild: \"true\"\nnetwork:\n  allow: [pypi.org, \"https://x.org/\"]\nexpect:\n  fetches: pined\n",
    );
    dir.write("m.yaml", "name: m\nbuild: \"true\"\nnetwork: {}\n");
    let errors =
        load(&[dir.root().join("n.yaml"), dir.root().join("m.yaml")]).expect_err("invalid");
    let text: Vec<String> = errors.iter().map(|d| d.to_string()).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("n.yaml:4:21: `https://x.org/` is not a host")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|t| t.contains("n.yaml:6:12: unknown `expect.fetches` `pined`")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|t| t.contains("m.yaml:3:10: `network` as a mapping needs `allow`")),
        "{text:#?}"
    );
}

#[test]
fn a_minimal_scenario_gets_the_documented_defaults() {
    let dir = Dir::new();
    dir.write("min.yml", "name: min\nout: /opt/env\nbuild: \"true\"\n");
    let scenarios = load(&[dir.root().join("min.yml")]).expect("valid");
    let s = &scenarios[0];
    assert_eq!(s.provider, Provider::Shell);
    assert_eq!(s.path, vec!["/opt/env/bin".to_owned()]);
    assert_eq!(s.timeout, Duration::from_secs(DEFAULT_TIMEOUT_SECS));
    assert_eq!(s.source_date_epoch, Some(DEFAULT_SOURCE_DATE_EPOCH));
    assert_eq!(s.compare, Compare::Nar);
    assert_eq!(s.network, Network::Off);
    assert_eq!(s.vary, None);
    assert_eq!(s.expect, Expect::default());
    assert_eq!(s.description, None);

    let dir = Dir::new();
    dir.write("min.yml", "name: min\nbuild: \"true\"\nvary: []\n");
    let s = load(&[dir.root().join("min.yml")]).expect("valid");
    assert_eq!(s[0].out, DEFAULT_OUT);
    assert_eq!(s[0].path, vec![format!("{DEFAULT_OUT}/bin")]);
    assert_eq!(s[0].vary, Some(vec![]));
}

#[test]
fn the_nix_example_resolves_paths_against_the_scenario_dir() {
    let dir = Dir::new();
    dir.write("s/default.nix", "{}");
    dir.write("s/mini-nixpkgs/default.nix", "{}");
    dir.write(
        "s/n.yaml",
        "name: n\nprovider: nix\nnix:\n  file: default.nix\n  attr: env\n  mode: build\n  nix_path:\n    nixpkgs: ./mini-nixpkgs\n",
    );
    let s = load(&[dir.root().join("s")]).expect("valid");
    let canon = dir.root().join("s").canonicalize().expect("canon");
    assert_eq!(
        s[0].provider,
        Provider::Nix(NixSpec {
            file: Some(canon.join("default.nix")),
            packages: Vec::new(),
            attr: Some("env".into()),
            mode: NixMode::Build,
            nix_path: BTreeMap::from([("nixpkgs".into(), canon.join("mini-nixpkgs"))]),
        })
    );
    assert_eq!(s[0].build, "");
}

#[test]
fn yaml_syntax_errors_are_located() {
    assert_eq!(
        errors("name: x\nbuild: \"true\"\nexpect:\n  which: {a: b\n"),
        vec![
            "[ROOT]/s.yaml:5:1: YAML syntax error: did not find expected ',' or '}', while parsing a flow mapping; check the indentation and quoting here"
        ]
    );
    assert_eq!(
        errors("name: x\nbuild: y\n  bad: z\n"),
        vec![
            "[ROOT]/s.yaml:3:6: YAML syntax error: mapping values are not allowed in this context; check the indentation and quoting here"
        ]
    );
}

#[test]
fn empty_files_and_non_mappings_are_refused() {
    assert_eq!(
        errors(""),
        vec![
            "[ROOT]/s.yaml:1:1: file is empty; a scenario is a YAML mapping with at least `name:` and `build:`"
        ]
    );
    assert_eq!(
        errors("# just a comment\n"),
        vec![
            "[ROOT]/s.yaml:1:1: file is empty; a scenario is a YAML mapping with at least `name:` and `build:`"
        ]
    );
    assert_eq!(
        errors("# list\n- name: a\n- name: b\n"),
        vec![
            "[ROOT]/s.yaml:2:1: a scenario file must be a YAML mapping (`key: value` lines), found a list; write one scenario per file, starting with `name:`"
        ]
    );
    assert_eq!(
        errors("42\n"),
        vec![
            "[ROOT]/s.yaml:1:1: a scenario file must be a YAML mapping (`key: value` lines), found a number; write one scenario per file, starting with `name:`"
        ]
    );
}

#[test]
fn binary_and_non_utf8_files_are_refused_where_the_bad_byte_is() {
    let dir = Dir::new();
    dir.write("bin.yaml", b"\x7fELF\x02\x01\x01\x00\x00\xff\xfe");
    dir.write("latin1.yaml", b"name: x\ndescription: caf\xe9\n");
    dir.write("nul.yaml", b"name: x\nbuild: a\x00b\n");
    dir.write("utf16.yaml", b"\xff\xfen\x00a\x00");
    assert_eq!(
        dir.errors(),
        vec![
            "[ROOT]/bin.yaml:1:10: file looks binary, not a YAML scenario (byte 0xff here); scenario files are UTF-8 text",
            "[ROOT]/latin1.yaml:2:17: file is not valid UTF-8 (byte 0xe9 here); scenario files are UTF-8 text",
            "[ROOT]/nul.yaml:2:9: file contains a NUL byte; it looks binary, not a YAML scenario",
            "[ROOT]/utf16.yaml:1:1: file is UTF-16 encoded; save it as UTF-8",
        ]
    );
}

#[test]
fn a_billion_laughs_file_errors_quickly() {
    let mut text = String::from(
        "name: lol\nbuild: \"true\"\nlol0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for i in 1..10 {
        let prev = format!("*a{}", i - 1);
        text.push_str(&format!("lol{i}: &a{i} [{}]\n", vec![prev; 9].join(",")));
    }
    let started = std::time::Instant::now();
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("alias bomb"), "{errs:?}");
    // Not asserted (timing is not a contract), but worth seeing when it regresses.
    eprintln!("billion laughs rejected in {:?}", started.elapsed());
}

#[test]
fn files_over_the_size_limit_are_refused_unread() {
    let dir = Dir::new();
    let line = "# padding padding padding padding padding padding padding padding\n";
    let big = line.repeat(MAX_FILE_BYTES as usize / line.len() + 1);
    dir.write("big.yaml", &big);
    assert_eq!(
        dir.errors(),
        vec![format!(
            "[ROOT]/big.yaml: file is {} bytes, over the 1048576-byte limit for a scenario; keep large inputs beside it and read them from `$src`",
            big.len()
        )]
    );
}

#[test]
fn unknown_keys_at_every_level_suggest_the_closest_key() {
    let text = "name: x\nbiuld: y\nexpect:\n  whihc: {}\n  run:\n    - cmd: a\n      stdot: b\nnix:\n  atr: e\n  zzzzzz: 1\n";
    assert_eq!(
        errors(text),
        vec![
            "[ROOT]/s.yaml:2:1: unknown key `biuld`; did you mean `build`?",
            "[ROOT]/s.yaml:4:3: unknown key `whihc` in `expect`; did you mean `which`?",
            "[ROOT]/s.yaml:7:7: unknown key `stdot` in `expect.run[0]`; did you mean `stdout`?",
            "[ROOT]/s.yaml:8:1: `nix:` is only for `provider: nix`; add `provider: nix` or remove the `nix:` block",
            "[ROOT]/s.yaml:9:3: unknown key `atr` in `nix`; did you mean `attr`?",
            "[ROOT]/s.yaml:10:3: unknown key `zzzzzz` in `nix`; known keys: file, attr, mode, nix_path, packages",
        ]
    );
}

#[test]
fn wrong_types_name_the_field_and_the_right_form() {
    let text = "name: 12\nbuild: \"true\"\ntimeout: \"ten\"\npath: 3\nnetwork: yes\nexpect:\n  which:\n    a: [x]\n  run: {cmd: a}\n";
    assert_eq!(
        errors(text),
        vec![
            "[ROOT]/s.yaml:1:7: `name` must be a string, found integer `12`; put it in quotes to make it text",
            "[ROOT]/s.yaml:3:10: `timeout` must be a whole number of 0 or more, found string \"ten\"; e.g. `timeout: 600` (seconds per build)",
            "[ROOT]/s.yaml:4:7: `path` must be a list, found integer `3`; e.g. `path: [\"$out/bin\"]`",
            "[ROOT]/s.yaml:5:10: `network` must be `true` or `false`, found string \"yes\"; e.g. `network: false`",
            "[ROOT]/s.yaml:8:8: `expect.which.a` must be a string, found a list",
            "[ROOT]/s.yaml:9:8: `expect.run` must be a list, found a mapping; e.g. `run: [{cmd: hello, exit: 0}]`",
        ]
    );
}

#[test]
fn required_keys_and_provider_rules() {
    assert_eq!(
        errors("description: no name or build\n"),
        vec![
            "[ROOT]/s.yaml:1:1: missing `name`; add e.g. `name: s` (unique within a run)",
            "[ROOT]/s.yaml:1:1: missing `build`: the shell provider needs a script, e.g. `build: |` followed by indented commands that fill \"$out\"",
        ]
    );
    assert_eq!(
        errors("name: x\nprovider: nix\nbuild: make\n"),
        vec![
            "[ROOT]/s.yaml:2:11: `provider: nix` needs a `nix:` block, e.g. `nix: {file: default.nix}`",
            "[ROOT]/s.yaml:3:1: `build` is for the shell provider; the nix provider builds `nix.file`, remove `build`",
        ]
    );
    assert_eq!(
        errors("name: x\nprovider: shel\nbuild: make\n"),
        vec!["[ROOT]/s.yaml:2:11: unknown provider `shel`; did you mean `shell`?"]
    );
    assert_eq!(
        errors("name: x\nprovider: docker\nbuild: make\n"),
        vec!["[ROOT]/s.yaml:2:11: unknown provider `docker`; known providers: `shell`, `nix`"]
    );
    assert_eq!(
        errors("name: x\nbuild: \"  \"\n"),
        vec!["[ROOT]/s.yaml:2:8: `build` is empty; give the commands that fill \"$out\""]
    );
}

#[test]
fn names_must_be_plain_words() {
    assert_eq!(
        errors("name: \"hello world\"\nbuild: b\n"),
        vec![
            "[ROOT]/s.yaml:1:7: invalid name \"hello world\": use only letters, digits, `.`, `_` and `-` (it names files and report entries)"
        ]
    );
    assert_eq!(
        errors("name: ..\nbuild: b\n"),
        vec!["[ROOT]/s.yaml:1:7: invalid name `..`: it would name a directory's link; pick a word"]
    );
    let dir = Dir::new();
    dir.write("ok.yaml", "name: a-Z_0.9\nbuild: b\n");
    assert_eq!(
        load(&[dir.root().to_path_buf()]).expect("valid")[0].name,
        "a-Z_0.9"
    );
}

#[test]
fn out_must_be_absolute_and_outside_system_dirs() {
    let cases = [
        (
            "relative",
            "`out` must be an absolute path (the same in both sandboxes), found `relative`; e.g. `/envtwin/out`",
        ),
        (
            "/",
            "`out` cannot be `/`: the sandbox keeps the host root read-only; use a directory such as `/envtwin/out`",
        ),
        (
            "/proc/x",
            "`out` cannot be under `/proc`, which the sandbox mounts itself; use a directory such as `/envtwin/out`",
        ),
        (
            "/dev",
            "`out` cannot be under `/dev`, which the sandbox mounts itself; use a directory such as `/envtwin/out`",
        ),
        (
            "/sys/fs",
            "`out` cannot be under `/sys`, which the sandbox mounts itself; use a directory such as `/envtwin/out`",
        ),
        (
            "/usr",
            "`out` cannot be `/usr`: it would hide the host's `/usr` inside the sandbox; use a subdirectory or `/envtwin/out`",
        ),
    ];
    for (out, message) in cases {
        assert_eq!(
            errors(&format!("name: x\nbuild: b\nout: {out}\n")),
            vec![format!("[ROOT]/s.yaml:3:6: {message}")],
            "{out}"
        );
    }
}

#[test]
fn timeout_zero_and_bad_exit_and_negative_epoch() {
    assert_eq!(
        errors(
            "name: x\nbuild: b\ntimeout: 0\nsource_date_epoch: -1\nexpect:\n  run:\n    - {cmd: a, exit: 256}\n"
        ),
        vec![
            "[ROOT]/s.yaml:3:10: `timeout` must be at least 1 second (it bounds the whole scenario: builds, hashing, diffing), e.g. `timeout: 600`",
            "[ROOT]/s.yaml:4:20: `source_date_epoch` must be 0 or more (seconds since 1970), or null to set none, found -1",
            "[ROOT]/s.yaml:7:22: `expect.run[0].exit` must be an exit status from 0 to 255, found 256",
        ]
    );
}

#[test]
fn unknown_variations_are_suggested() {
    assert_eq!(
        errors("name: x\nbuild: b\nvary:\n  - hostname\n  - umsk\n  - hostname\n  - wibble\n"),
        vec![
            "[ROOT]/s.yaml:5:5: unknown variation `umsk`; did you mean `umask`?",
            "[ROOT]/s.yaml:6:5: variation `hostname` is listed twice; remove one",
            "[ROOT]/s.yaml:7:5: unknown variation `wibble`; known variations: hostname, umask, locale, timezone, env_order, home, build_path, user, num_cpus, exec_path, time, fileordering, aslr, kernel",
        ]
    );
}

#[test]
fn expect_hash_must_be_sri_sha256() {
    let hex = "a".repeat(64);
    assert_eq!(
        errors(&format!("name: x\nbuild: b\nexpect:\n  hash: {hex}\n")),
        vec![format!(
            "[ROOT]/s.yaml:4:9: `expect.hash` must be `sha256-` followed by 44 base64 characters, as `envtwin hash` prints it, found `{hex}`; this looks like a hex digest, write the SRI form"
        )]
    );
    assert_eq!(
        errors("name: x\nbuild: b\nexpect: {hash: sha256-...}\n"),
        vec![
            "[ROOT]/s.yaml:3:16: `expect.hash` must be `sha256-` followed by 44 base64 characters, as `envtwin hash` prints it, found `sha256-...`"
        ]
    );
}

#[test]
fn expect_globs_and_commands_are_checked() {
    assert_eq!(
        errors(
            "name: x\nbuild: b\nexpect:\n  which:\n    \"two words\": \"$out/[\"\n  missing: [\"\"]\n  path_excludes: [\"/usr/***\"]\n  run:\n    - stdout: x\n"
        ),
        vec![
            "[ROOT]/s.yaml:5:5: `expect.which` command \"two words\" must be a single command name, without spaces or control characters",
            "[ROOT]/s.yaml:5:18: `expect.which` pattern `$out/[` is not a valid glob: invalid range pattern",
            "[ROOT]/s.yaml:6:13: `expect.missing` command \"\" is empty",
            "[ROOT]/s.yaml:7:19: `expect.path_excludes` pattern `/usr/***` is not a valid glob: wildcards are either regular `*` or recursive `**`",
            "[ROOT]/s.yaml:9:7: `expect.run[0]` needs `cmd:`, the command to run, e.g. `- cmd: hello`",
        ]
    );
}

#[test]
fn path_entries_must_be_absolute_directories() {
    assert_eq!(
        errors("name: x\nbuild: b\npath:\n  - $out/bin\n  - bin\n  - \"/a:/b\"\n"),
        vec![
            "[ROOT]/s.yaml:5:5: PATH entry `bin` is not absolute; a relative entry depends on the working directory, write e.g. `$out/bin`",
            "[ROOT]/s.yaml:6:5: PATH entry \"/a:/b\" must not contain `:` or control characters; list each directory as its own entry",
        ]
    );
}

#[test]
fn nix_block_paths_and_mode_are_checked() {
    let dir = Dir::new();
    dir.write(
        "s.yaml",
        "name: x\nprovider: nix\nnix:\n  file: missing.nix\n  mode: biuld\n  attr: \"\"\n  nix_path:\n    nixpkgs: ./nope\n",
    );
    assert_eq!(
        dir.errors(),
        vec![
            "[ROOT]/s.yaml:4:9: `nix.file` `missing.nix` does not exist (looked for [ROOT]/missing.nix); paths are relative to the scenario file",
            "[ROOT]/s.yaml:5:9: `nix.mode` must be `shell` or `build`, found `biuld`; did you mean `build`?",
            "[ROOT]/s.yaml:6:9: `nix.attr` is empty; name an attribute or remove `attr`",
            "[ROOT]/s.yaml:8:14: `nix.nix_path.nixpkgs` `./nope` does not exist (looked for [ROOT]/./nope); paths are relative to the scenario file",
        ]
    );
    assert_eq!(
        errors("name: x\nprovider: nix\nnix: {attr: a}\n"),
        vec![
            "[ROOT]/s.yaml:3:6: `nix` needs `file:`, the Nix expression relative to this scenario, e.g. `file: default.nix` (or `packages: [hello]`, like `nix-shell -p hello`)"
        ]
    );
}

#[test]
fn nix_packages_are_nix_shell_p() {
    let dir = Dir::new();
    dir.write(
        "s.yaml",
        "name: p\nprovider: nix\nnix: {packages: [hello, python3Packages.flask]}\n",
    );
    let loaded = load(&[dir.root().to_path_buf()]).expect("valid");
    let Provider::Nix(spec) = &loaded[0].provider else {
        panic!("not nix")
    };
    assert_eq!(spec.file, None);
    assert_eq!(
        spec.packages,
        vec!["hello".to_string(), "python3Packages.flask".to_string()]
    );
    assert_eq!(spec.mode, NixMode::Shell);
    let dir = Dir::new();
    dir.write("default.nix", "{}");
    dir.write(
        "s.yaml",
        "name: p\nprovider: nix\nnix:\n  file: default.nix\n  packages: [\"he llo\"]\n  mode: build\n",
    );
    assert_eq!(
        dir.errors(),
        vec![
            "[ROOT]/s.yaml:5:13: give `nix.file` or `nix.packages` (like `nix-shell -p`), not both",
            "[ROOT]/s.yaml:5:14: `nix.packages` entry \"he llo\" must be an attribute name like `hello` or `python3Packages.flask`",
            "[ROOT]/s.yaml:6:9: `nix.packages` is `nix-shell -p`: use `mode: shell`, or a `file` for `mode: build`",
        ]
    );
}

#[test]
fn duplicate_names_across_files_name_both_places() {
    let dir = Dir::new();
    dir.write("a.yaml", "name: same\nbuild: b\n");
    dir.write("sub/b.yaml", "# second\nname:   same\nbuild: b\n");
    // A file with other problems still takes part in the name check.
    dir.write("sub/c.yaml", "name: same\nbiuld: b\n");
    assert_eq!(
        dir.errors(),
        vec![
            "[ROOT]/sub/b.yaml:2:9: duplicate scenario name `same`, already used at [ROOT]/a.yaml:1:7; names must be unique within a run, rename one",
            "[ROOT]/sub/c.yaml:1:7: duplicate scenario name `same`, already used at [ROOT]/a.yaml:1:7; names must be unique within a run, rename one",
            "[ROOT]/sub/c.yaml:2:1: unknown key `biuld`; did you mean `build`?",
        ]
    );
}

#[test]
fn problems_in_every_file_and_every_path_are_collected() {
    let dir = Dir::new();
    dir.write("a.yaml", "name: a\nbuild: b\ntimeout: 0\n");
    dir.write("b.yaml", "name: [b\n");
    dir.write("c.yaml", "name: c\nbuild: b\n");
    let errs = dir.errors_of(&[dir.root().to_path_buf(), dir.root().join("missing")]);
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert!(
        errs[0].starts_with("[ROOT]/missing: no such file"),
        "{errs:?}"
    );
    assert!(
        errs[1].starts_with("[ROOT]/a.yaml:3:10: `timeout`"),
        "{errs:?}"
    );
    assert!(
        errs[2].starts_with("[ROOT]/b.yaml:2:1: YAML syntax error"),
        "{errs:?}"
    );
}

#[test]
fn parse_and_semantic_problems_of_one_file_come_sorted_by_position() {
    assert_eq!(
        errors("name: x\nbuild: b\njunk: 1\nvary: [umsk]\nout: rel\nexpect:\n  junk: 2\n"),
        vec![
            "[ROOT]/s.yaml:3:1: unknown key `junk`; known keys: name, description, provider, out, src, build, path, timeout, network, host_paths, source_date_epoch, compare, vary, expect, nix, requires, limits",
            "[ROOT]/s.yaml:4:8: unknown variation `umsk`; did you mean `umask`?",
            "[ROOT]/s.yaml:5:6: `out` must be an absolute path (the same in both sandboxes), found `rel`; e.g. `/envtwin/out`",
            "[ROOT]/s.yaml:7:3: unknown key `junk` in `expect`; known keys: reproducible, build, hash, which, missing, path_contains, path_excludes, run, fetches",
        ]
    );
}

#[test]
fn duplicate_keys_are_reported_at_the_second_key() {
    assert_eq!(
        errors("name: x\nbuild: b\nexpect:\n  missing: [a]\n  missing: [b]\n"),
        vec![
            "[ROOT]/s.yaml:5:3: duplicate key `missing`; each key may appear once in a mapping, remove one"
        ]
    );
}

/// Valid example text with random edits: reaches the semantic checks and
/// the locator far more often than random bytes do.
fn mutated_example() -> impl Strategy<Value = String> {
    let example = spec_example();
    let len = example.len();
    prop::collection::vec(
        (
            0..len,
            prop::sample::select(vec![
                "", ":", "-", " ", "\n", "[", "{", "\"", "'", "&a", "*a", "#", "!t", "\t", "|",
                "0", "$out", "é",
            ]),
        ),
        1..6,
    )
    .prop_map(move |edits| {
        let mut text = example.clone();
        for (at, insert) in edits {
            let mut at = at.min(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            // Replace one character (or none at the end) with the insert.
            let end = text[at..].chars().next().map_or(at, |c| at + c.len_utf8());
            text.replace_range(at..end, insert);
        }
        text
    })
}

/// Any input gives a scenario or at least one diagnostic; never a panic.
fn assert_total(bytes: &[u8]) {
    let dir = Path::new("/nonexistent-envtwin-dir");
    let outcome = load::load_bytes(Path::new("p.yaml"), dir, bytes);
    if let Err(diags) = outcome.result {
        assert!(!diags.is_empty());
        for d in diags {
            assert_eq!(d.file, Path::new("p.yaml"));
            assert!(!d.message.is_empty());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        assert_total(&bytes);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        assert_total(text.as_bytes());
    }

    #[test]
    fn yaml_shaped_text_never_panics(text in "[a-z_:\\- \\n\\[\\]{},&*!|>'\"#0-9$]{0,300}") {
        assert_total(text.as_bytes());
    }

    #[test]
    fn edited_examples_never_panic(text in mutated_example()) {
        assert_total(text.as_bytes());
    }
}

#[test]
fn a_file_full_of_problems_is_capped_and_locates_only_what_it_shows() {
    // Parse problems (unknown keys) are located first, then semantic ones
    // (bad variations) while the budget lasts; the rest are only counted.
    let mut text = String::from("name: x\nbuild: b\nvary:\n");
    for _ in 0..3_000 {
        text.push_str("- zz\n");
    }
    for i in 0..3_000 {
        text.push_str(&format!("k{i}: 1\n"));
    }
    let errs = errors(&text);
    assert_eq!(errs.len(), MAX_DIAGNOSTICS_PER_FILE + 1);
    assert!(
        errs[0].starts_with("[ROOT]/s.yaml:3004:1: unknown key `k0`; known keys: name,"),
        "{}",
        errs[0]
    );
    assert!(errs[MAX_DIAGNOSTICS_PER_FILE - 1].starts_with(&format!(
        "[ROOT]/s.yaml:{}:1: unknown key `k{}`",
        3004 + MAX_DIAGNOSTICS_PER_FILE - 1,
        MAX_DIAGNOSTICS_PER_FILE - 1
    )));
    assert_eq!(
        errs[MAX_DIAGNOSTICS_PER_FILE],
        format!(
            "[ROOT]/s.yaml: ... and {} more problems in this file; fix the ones above first",
            6_000 - MAX_DIAGNOSTICS_PER_FILE
        )
    );
}

#[test]
fn no_paths_means_no_scenarios() {
    assert_eq!(load(&[]), Ok(Vec::new()));
    assert_eq!(find_files(&[]), Ok(Vec::new()));
}

#[test]
fn src_names_the_directory_shown_as_src() {
    let dir = Dir::new();
    dir.write("shell.nix", "{}\n");
    dir.write(
        "scenarios/up.yaml",
        "name: up\nsrc: ..\nprovider: nix\nnix:\n  file: ../shell.nix\n",
    );
    let scenarios = load(&[dir.root().join("scenarios")]).expect("valid");
    assert_eq!(scenarios[0].dir, dir.root().canonicalize().expect("canon"));

    let bad = Dir::new();
    bad.write("a.yaml", "name: a\nbuild: b\nsrc: nowhere\n");
    bad.write("b.yaml", "name: b\nbuild: b\nsrc: b.yaml\n");
    let errs = bad.errors();
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(
        errs[0].starts_with("[ROOT]/a.yaml:3:6: `src` `nowhere` does not exist"),
        "{errs:?}"
    );
    assert!(
        errs[1].starts_with("[ROOT]/b.yaml:3:6: `src` `b.yaml` is [ROOT]/b.yaml, not a directory"),
        "{errs:?}"
    );
}

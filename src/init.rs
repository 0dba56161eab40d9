//! `envtwin init [DIR]`: find the environment definitions of a project
//! (`shell.nix`/`default.nix`, `requirements*.txt`, `package-lock.json`,
//! `Cargo.lock`, `pyproject.toml` with `uv.lock`) and write a commented
//! starter scenario for each under `DIR/scenarios/`. Main type: `Starter`.
//!
//! Each starter sets `src: ..`, so the project root is `$src` in the
//! sandbox and the scenario gates the definition where it lives. `init`
//! never overwrites a file: if any file it would write exists, it writes
//! none and names it (exit 2).

use crate::error::{EXIT_INVALID, EXIT_OK, Error};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Directories not searched: dependencies, build output, VCS data, and
/// the scenarios themselves.
const SKIP_DIRS: &[&str] = &[
    "node_modules",
    "target",
    "venv",
    "scenarios",
    "__pycache__",
    "dist",
    "build",
    "result",
];
/// How deep below DIR definitions are looked for.
const MAX_DEPTH: usize = 3;
/// Most `which` expectations written per scenario.
const MAX_WHICH: usize = 8;

/// One scenario `init` would write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Starter {
    /// File name under `scenarios/`, e.g. `web-npm.yaml`.
    pub file: String,
    /// The definition it was made from, relative to DIR.
    pub from: String,
    /// What to check before relying on it.
    pub check: String,
    /// The YAML.
    pub text: String,
}

/// `envtwin init DIR`: write the starters, print what was written and what to check.
pub fn run(dir: &Path) -> Result<i32, Error> {
    if !dir.is_dir() {
        return Err(Error::Usage(format!(
            "init: {} is not a directory; give the project's directory, e.g. `envtwin init .`",
            dir.display()
        )));
    }
    let starters = find(dir);
    if starters.is_empty() {
        println!(
            "no environment definitions found in {} (looked for shell.nix, default.nix, \
             requirements*.txt, package-lock.json, Cargo.lock, pyproject.toml with uv.lock); \
             nothing written",
            dir.display()
        );
        return Ok(EXIT_OK);
    }
    // Printed as `scenarios/...` rather than `./scenarios/...` for the default DIR.
    let out_dir = if dir == Path::new(".") {
        PathBuf::from("scenarios")
    } else {
        dir.join("scenarios")
    };
    let existing: Vec<PathBuf> = starters
        .iter()
        .map(|s| out_dir.join(&s.file))
        .filter(|p| p.symlink_metadata().is_ok())
        .collect();
    if !existing.is_empty() {
        for p in &existing {
            eprintln!(
                "{}: exists; envtwin init never overwrites a file: move it away or edit it yourself",
                p.display()
            );
        }
        eprintln!("envtwin init: nothing written");
        return Ok(EXIT_INVALID);
    }
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| Error::Harness(format!("cannot create {}: {e}", out_dir.display())))?;
    for s in &starters {
        let path = out_dir.join(&s.file);
        // create_new: a file that appeared since the check is not overwritten either.
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, s.text.as_bytes()));
        match written {
            Ok(()) => println!("wrote {}  (from {})", path.display(), s.from),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                eprintln!(
                    "{}: exists; envtwin init never overwrites a file",
                    path.display()
                );
                return Ok(EXIT_INVALID);
            }
            Err(e) => {
                return Err(Error::Harness(format!(
                    "cannot write {}: {e}",
                    path.display()
                )));
            }
        }
    }
    println!("\nwhat to check:");
    for s in &starters {
        println!("  {}: {}", s.file, s.check);
    }
    println!(
        "  every scenario: the `which` expectations, then `envtwin validate {}` and `envtwin run {}`",
        out_dir.display(),
        out_dir.display()
    );
    Ok(EXIT_OK)
}

/// The starters for every definition found under `dir`, in path order.
pub fn find(dir: &Path) -> Vec<Starter> {
    let mut dirs = Vec::new();
    walk(dir, Path::new(""), 0, &mut dirs);
    let mut starters = Vec::new();
    for rel in dirs {
        let abs = dir.join(&rel);
        let has = |name: &str| abs.join(name).is_file();
        let prefix = slug(&rel);
        if has("shell.nix") {
            starters.push(nix(&abs, &rel, &prefix, "shell.nix"));
        }
        if has("default.nix") {
            starters.push(nix(&abs, &rel, &prefix, "default.nix"));
        }
        for req in requirements_files(&abs) {
            starters.push(venv(&abs, &rel, &prefix, &req));
        }
        if has("package-lock.json") {
            starters.push(npm(&abs, &rel, &prefix));
        }
        if has("Cargo.lock") && has("Cargo.toml") {
            starters.push(cargo(&abs, &rel, &prefix));
        }
        if has("pyproject.toml") && has("uv.lock") {
            starters.push(uv(&abs, &rel, &prefix));
        }
    }
    starters
}

fn walk(root: &Path, rel: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    out.push(rel.to_path_buf());
    if depth >= MAX_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(root.join(rel)) else {
        return;
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        // A name that is not UTF-8 or holds a control character (a newline)
        // cannot be written into a YAML block and a shell line faithfully.
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.chars().any(char::is_control))
        .filter(|n| !n.starts_with('.') && !SKIP_DIRS.contains(&n.as_str()))
        .collect();
    names.sort();
    for n in names {
        walk(root, &rel.join(n), depth + 1, out);
    }
}

fn requirements_files(dir: &Path) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("requirements") && n.ends_with(".txt"))
        .collect();
    found.sort();
    found
}

/// `web/api` -> `web-api`: a scenario-name-safe prefix ("" for the root).
fn slug(rel: &Path) -> String {
    let s: String = rel
        .to_string_lossy()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    s.trim_matches('-').to_string()
}

fn name(prefix: &str, kind: &str) -> String {
    if prefix.is_empty() {
        kind.to_string()
    } else {
        format!("{prefix}-{kind}")
    }
}

/// `rel/file` as written in YAML from `scenarios/` (`$src` is the project root).
fn in_project(rel: &Path, file: &str) -> String {
    let p = rel.join(file);
    p.to_string_lossy().into_owned()
}

/// `$src/rel/file` as one shell word for the build script: double-quoted
/// when the path is plain, else `"$src"/'…'` so that a directory named with
/// `"`, `$` or a backquote is a name to the shell, not code. `file` may be
/// empty (the directory itself).
fn src_word(rel: &Path, file: &str) -> String {
    let p = rel.join(file);
    let p = p.to_string_lossy();
    let p = p.trim_end_matches('/');
    if p.is_empty() {
        return "\"$src\"".to_string();
    }
    let plain = p
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-/+@%,:=".contains(c));
    if plain {
        format!("\"$src/{p}\"")
    } else {
        format!("\"$src\"/'{}'", p.replace('\'', "'\\''"))
    }
}

/// A YAML double-quoted scalar: safe for any path.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn read(path: &Path) -> String {
    // Definitions are small; a huge or unreadable one just yields no hints.
    match std::fs::metadata(path) {
        Ok(m) if m.len() <= 8 << 20 => std::fs::read_to_string(path).unwrap_or_default(),
        _ => String::new(),
    }
}

fn which_block(commands: &[(String, String)]) -> String {
    let mut out = String::new();
    if commands.is_empty() {
        return out;
    }
    out.push_str("  which:\n");
    for (cmd, glob) in commands.iter().take(MAX_WHICH) {
        let _ = writeln!(out, "    {}: {}", quoted(cmd), quoted(glob));
    }
    out
}

fn header(what: &str, from: &str) -> String {
    format!(
        "# Starter scenario written by `envtwin init` for {from} ({what}).\n\
         # envtwin builds it twice, in two isolated and varied sandboxes, and checks\n\
         # the builds are identical and that the commands below resolve inside it.\n\
         # Read it, adjust it, then: envtwin validate scenarios/ && envtwin run scenarios/\n"
    )
}

fn nix(abs: &Path, rel: &Path, prefix: &str, file: &str) -> Starter {
    let shell = file == "shell.nix";
    let kind = if shell { "nix-shell" } else { "nix-build" };
    let scenario = name(prefix, kind);
    let from = in_project(rel, file);
    let packages = nix_packages(&read(&abs.join(file)));
    let commands: Vec<(String, String)> = packages
        .iter()
        .map(|p| (p.clone(), format!("/nix/store/*/bin/{p}")))
        .collect();
    let mut text = header(
        if shell {
            "entered with nix-shell --pure"
        } else {
            "built with nix-build"
        },
        &from,
    );
    let _ = write!(
        text,
        "name: {scenario}\n\
         provider: nix\n\
         # The project root is $src, so the expression and what it imports are visible.\n\
         src: ..\n\
         nix:\n  file: {}\n  mode: {}\n\
         \x20 # Each build starts from an empty Nix store with no channel: if the\n\
         \x20 # expression imports <nixpkgs>, map it to a nixpkgs checkout in the\n\
         \x20 # repository (or pin it with fetchTarball and a sha256, and set network: true):\n\
         \x20 # nix_path:\n\
         \x20 #   nixpkgs: ../nixpkgs\n\
         timeout: 1800\n\
         expect:\n\
         \x20 reproducible: true\n",
        quoted(&format!("../{from}")),
        if shell { "shell" } else { "build" },
    );
    text.push_str(&which_block(&commands));
    text.push_str("  # Host tools that must not leak into the environment:\n  path_excludes: [\"/usr/*\", \"/bin\", \"/sbin\"]\n");
    let check = if packages.is_empty() {
        format!("{from}: no package list could be read; add `which` expectations for its commands")
    } else {
        format!(
            "the `which` names come from {from}'s package list ({}); a package's command may have another name (nodejs: node)",
            packages.join(", ")
        )
    };
    Starter {
        file: format!("{scenario}.yaml"),
        from,
        check: format!("{check}; how <nixpkgs> is provided (nix_path)"),
        text,
    }
}

/// Plain package names in `buildInputs`/`nativeBuildInputs`/`packages`
/// lists (`pkgs.` stripped); attribute paths like `python3Packages.x` are
/// left out, their command names are not readable from the expression.
fn nix_packages(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for key in ["buildInputs", "nativeBuildInputs", "packages", "paths"] {
        let mut rest = text;
        while let Some(i) = rest.find(key) {
            let after = &rest[i + key.len()..];
            rest = after;
            let after = after.trim_start();
            let Some(after) = after.strip_prefix('=') else {
                continue;
            };
            let after = after.trim_start();
            let after = after
                .strip_prefix("with pkgs;")
                .unwrap_or(after)
                .trim_start();
            let Some(list) = after.strip_prefix('[') else {
                continue;
            };
            let Some(end) = list.find(']') else { continue };
            for item in list[..end].split_whitespace() {
                let item = item.strip_prefix("pkgs.").unwrap_or(item);
                let plain = !item.is_empty()
                    && item
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                    && item.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
                if plain && !out.iter().any(|o| o == item) {
                    out.push(item.to_string());
                }
            }
        }
    }
    out
}

fn venv(abs: &Path, rel: &Path, prefix: &str, req: &str) -> Starter {
    let text_in = read(&abs.join(req));
    let hashes = text_in.contains("--hash=") || text_in.contains("--hash ");
    let suffix = req
        .trim_start_matches("requirements")
        .trim_end_matches(".txt")
        .trim_matches(|c| c == '-' || c == '_' || c == '.');
    let kind = if suffix.is_empty() {
        "venv".to_string()
    } else {
        format!("venv-{}", slug(Path::new(suffix)))
    };
    let scenario = name(prefix, &kind);
    let from = in_project(rel, req);
    let require = if hashes { " --require-hashes" } else { "" };
    let mut text = header("a Python venv installed with pip", &from);
    let _ = write!(
        text,
        "name: {scenario}\n\
         # The project root is $src, so the requirements file is visible.\n\
         src: ..\n\
         # pip downloads from the package index.\n\
         network: true\n\
         timeout: 1800\n\
         build: |\n\
         \x20 # Reproducibility knobs: hash-based .pyc files, pinned str hashing,\n\
         \x20 # no user site, no pip cache or version check.\n\
         \x20 : \"${{SOURCE_DATE_EPOCH:=315532800}}\"\n\
         \x20 export SOURCE_DATE_EPOCH PYTHONHASHSEED=0 PYTHONNOUSERSITE=1\n\
         \x20 export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_NO_INPUT=1\n\
         \x20 export PIP_CONFIG_FILE=/dev/null PIP_ROOT_USER_ACTION=ignore\n\
         \x20 /usr/bin/python3 -m venv \"$out\"\n\
         \x20 \"$out/bin/pip\" install{require} -r {}\n\
         path: [\"$out/bin\"]\n\
         expect:\n\
         \x20 reproducible: true\n\
         \x20 which:\n\
         \x20   python3: $out/bin/python3\n\
         \x20   pip: $out/bin/pip\n\
         \x20   # Add the console scripts your requirements install, e.g.:\n\
         \x20   # flask: $out/bin/flask\n",
        src_word(rel, req),
    );
    let check = if hashes {
        format!(
            "{from} has hashes, installed with --require-hashes; add `which` for the console scripts it installs"
        )
    } else {
        format!(
            "{from} has no --hash lines: `envtwin audit` will flag it; pin with `pip-compile --generate-hashes`, then add --require-hashes"
        )
    };
    Starter {
        file: format!("{scenario}.yaml"),
        from,
        check,
        text,
    }
}

/// Commands the lock file's top-level packages install (`bin` entries).
fn npm_bins(lock: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(lock) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let Some(packages) = v.get("packages").and_then(|p| p.as_object()) else {
        return out;
    };
    for (key, pkg) in packages {
        let top = key
            .strip_prefix("node_modules/")
            .is_some_and(|n| !n.contains("/node_modules/"));
        if !top {
            continue;
        }
        if let Some(bins) = pkg.get("bin").and_then(|b| b.as_object()) {
            out.extend(bins.keys().cloned());
        }
    }
    out.sort();
    out.dedup();
    out
}

fn npm(abs: &Path, rel: &Path, prefix: &str) -> Starter {
    let scenario = name(prefix, "npm");
    let from = in_project(rel, "package-lock.json");
    let bins = npm_bins(&read(&abs.join("package-lock.json")));
    let commands: Vec<(String, String)> = bins
        .iter()
        .map(|b| (b.clone(), format!("$out/node_modules/.bin/{b}")))
        .collect();
    let mut text = header("npm ci from the lock file", &from);
    let _ = write!(
        text,
        "name: {scenario}\n\
         # The project root is $src, so package.json and the lock file are visible.\n\
         src: ..\n\
         # npm ci downloads from the registry.\n\
         network: true\n\
         timeout: 1800\n\
         build: |\n\
         \x20 mkdir -p \"$out\"\n\
         \x20 cp {} {} \"$out/\"\n\
         \x20 cd \"$out\"\n\
         \x20 # npm ci installs exactly the lock file; --ignore-scripts keeps install\n\
         \x20 # scripts (a common source of differences) out until you need them.\n\
         \x20 npm ci --ignore-scripts --no-audit --no-fund --cache \"$HOME/.npm\"\n\
         path: [\"$out/node_modules/.bin\"]\n\
         expect:\n\
         \x20 reproducible: true\n",
        src_word(rel, "package.json"),
        src_word(rel, "package-lock.json"),
    );
    text.push_str(&which_block(&commands));
    Starter {
        file: format!("{scenario}.yaml"),
        from: from.clone(),
        check: if bins.is_empty() {
            format!("{from} lists no commands (`bin`); add `which`/`run` checks for what you need")
        } else {
            format!(
                "the `which` commands are the `bin` entries of {from} ({}); npm must be on the sandbox's /usr/bin",
                bins.join(", ")
            )
        },
        text,
    }
}

/// The binaries `cargo install` would put in `bin/`: `[[bin]] name`s, or
/// the package name when there is a `src/main.rs`.
fn cargo_bins(abs: &Path) -> Vec<String> {
    let toml = read(&abs.join("Cargo.toml"));
    let mut section = String::new();
    let mut package = None;
    let mut bins = Vec::new();
    for line in toml.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            section = line.to_string();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"').to_string();
        if key.trim() == "name" {
            match section.as_str() {
                "[package]" => package = Some(value),
                "[[bin]]" => bins.push(value),
                _ => {}
            }
        }
    }
    if bins.is_empty() && abs.join("src/main.rs").is_file() {
        bins.extend(package);
    }
    bins.retain(|b| {
        !b.is_empty()
            && b.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    });
    bins
}

fn cargo(abs: &Path, rel: &Path, prefix: &str) -> Starter {
    let scenario = name(prefix, "cargo");
    let from = in_project(rel, "Cargo.lock");
    let bins = cargo_bins(abs);
    let commands: Vec<(String, String)> = bins
        .iter()
        .map(|b| (b.clone(), format!("$out/bin/{b}")))
        .collect();
    let mut text = header("cargo build --locked", &from);
    let _ = write!(
        text,
        "name: {scenario}\n\
         # The project root is $src, so Cargo.toml, Cargo.lock and the sources are visible.\n\
         src: ..\n\
         # cargo downloads the locked crates from the registry.\n\
         network: true\n\
         timeout: 3600\n\
         build: |\n\
         \x20 # $src is read-only: build in the build directory. --locked fails\n\
         \x20 # instead of changing Cargo.lock; --remap-path-prefix keeps the build\n\
         \x20 # directory out of the binaries (it differs between the two builds).\n\
         \x20 export CARGO_HOME=\"$HOME/.cargo\" CARGO_TARGET_DIR=\"$PWD/target\"\n\
         \x20 export RUSTFLAGS=\"--remap-path-prefix=$PWD=/build --remap-path-prefix=$src=/src\"\n\
         \x20 cargo build --locked --release --manifest-path {}\n\
         \x20 mkdir -p \"$out/bin\"\n\
         \x20 find \"$CARGO_TARGET_DIR/release\" -maxdepth 1 -type f -perm -u+x -exec cp {{}} \"$out/bin/\" \\;\n\
         path: [\"$out/bin\"]\n\
         expect:\n\
         \x20 reproducible: true\n",
        src_word(rel, "Cargo.toml"),
    );
    text.push_str(&which_block(&commands));
    Starter {
        file: format!("{scenario}.yaml"),
        from: from.clone(),
        check: format!(
            "cargo must be on the sandbox's /usr/bin (Debian's cargo; a rustup toolchain under $HOME is not visible){}",
            if bins.is_empty() {
                "; no binary target found: add checks for what it builds".to_string()
            } else {
                format!("; `which` lists its binaries ({})", bins.join(", "))
            }
        ),
        text,
    }
}

/// `[project.scripts]` names of a pyproject.toml.
fn pyproject_scripts(toml: &str) -> Vec<String> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in toml.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == "[project.scripts]";
            continue;
        }
        if !inside {
            continue;
        }
        if let Some((key, _)) = line.split_once('=') {
            let key = key.trim().trim_matches('"');
            if !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
            {
                out.push(key.to_string());
            }
        }
    }
    out
}

fn uv(abs: &Path, rel: &Path, prefix: &str) -> Starter {
    let scenario = name(prefix, "uv");
    let from = in_project(rel, "uv.lock");
    let scripts = pyproject_scripts(&read(&abs.join("pyproject.toml")));
    let mut commands = vec![("python3".to_string(), "$out/bin/python3".to_string())];
    commands.extend(scripts.iter().map(|s| (s.clone(), format!("$out/bin/{s}"))));
    let mut text = header("uv sync from uv.lock", &from);
    let _ = write!(
        text,
        "name: {scenario}\n\
         # The project root is $src, so pyproject.toml and uv.lock are visible.\n\
         src: ..\n\
         # uv downloads the locked packages from the index.\n\
         network: true\n\
         timeout: 1800\n\
         build: |\n\
         \x20 : \"${{SOURCE_DATE_EPOCH:=315532800}}\"\n\
         \x20 export SOURCE_DATE_EPOCH PYTHONHASHSEED=0 UV_CACHE_DIR=\"$HOME/.cache/uv\"\n\
         \x20 # --frozen installs exactly uv.lock and never rewrites it; the venv is\n\
         \x20 # $out; --no-editable installs the project itself as a wheel, so the\n\
         \x20 # environment does not point back into $src. --python-preference\n\
         \x20 # only-system uses the host's python3 instead of downloading one.\n\
         \x20 cd {}\n\
         \x20 UV_PROJECT_ENVIRONMENT=\"$out\" uv sync --frozen --no-dev --no-editable \\\n\
         \x20   --python-preference only-system\n\
         path: [\"$out/bin\"]\n\
         expect:\n\
         \x20 reproducible: true\n",
        src_word(rel, ""),
    );
    text.push_str(&which_block(&commands));
    Starter {
        file: format!("{scenario}.yaml"),
        from: from.clone(),
        check: format!(
            "uv must be on the sandbox's /usr/bin; the project's build backend must not write into the read-only $src{}",
            if scripts.is_empty() {
                String::new()
            } else {
                format!(
                    "; `which` lists its [project.scripts] ({})",
                    scripts.join(", ")
                )
            }
        ),
        text,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn src_word_quotes_what_the_shell_would_read_as_code() {
        use std::path::Path;
        assert_eq!(super::src_word(Path::new(""), ""), "\"$src\"");
        assert_eq!(
            super::src_word(Path::new("web/app"), "package.json"),
            "\"$src/web/app/package.json\""
        );
        assert_eq!(
            super::src_word(Path::new("a\"$(id)`x'y"), ""),
            "\"$src\"/'a\"$(id)`x'\\''y'"
        );
        // The shell reads it back as the name, running nothing.
        let word = super::src_word(Path::new("d $(id)\"`x'y/z"), "req.txt");
        let out = std::process::Command::new("sh")
            .args(["-c", &format!("printf %s {word}")])
            .env("src", "/S")
            .output()
            .expect("sh");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "/S/d $(id)\"`x'y/z/req.txt"
        );
    }

    use super::*;

    #[test]
    fn nix_package_lists_give_command_names() {
        let text = "{ pkgs ? import <nixpkgs> {} }:\npkgs.mkShell {\n  buildInputs = with pkgs; [ hello jq python3Packages.flask ];\n  nativeBuildInputs = [ pkgs.cowsay ];\n}\n";
        assert_eq!(nix_packages(text), ["hello", "jq", "cowsay"]);
    }

    #[test]
    fn npm_bins_are_the_top_level_packages_bin_entries() {
        let lock = r#"{"lockfileVersion": 3, "packages": {
            "": {"name": "app"},
            "node_modules/cowsay": {"bin": {"cowsay": "cli.js", "cowthink": "cli.js"}},
            "node_modules/a/node_modules/nested": {"bin": {"nested": "x.js"}},
            "node_modules/lodash": {}}}"#;
        assert_eq!(npm_bins(lock), ["cowsay", "cowthink"]);
    }

    #[test]
    fn pyproject_scripts_and_slugs() {
        let toml = "[project]\nname = \"x\"\n[project.scripts]\ntodo = \"x:main\"\n\"todo-admin\" = \"x:admin\"\n[tool.uv]\ndev = 1\n";
        assert_eq!(pyproject_scripts(toml), ["todo", "todo-admin"]);
        assert_eq!(slug(Path::new("web/api v2")), "web-api-v2");
    }
}

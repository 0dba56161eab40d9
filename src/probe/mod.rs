//! Probes of a built environment (SPEC §6): PATH entries, `which`, `run`.
//!
//! They execute inside the build's own sandbox after the build (see
//! `sandbox::inside`), so what they see is what the environment activates,
//! not the host. Commands are run through a caller-supplied executor.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

/// What to probe after a build.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ProbeRequest {
    /// The activated PATH, in order.
    pub path: Vec<String>,
    /// Commands to look up with `command -v`.
    pub which: Vec<String>,
    /// `expect.run` commands, run by `/bin/sh -c`.
    pub run: Vec<String>,
    /// A resolved target under one of these prefixes is "inside" the environment.
    pub inside: Vec<String>,
    /// Wrap every probe command in this prefix argv (e.g. `nix-shell --pure --run`);
    /// empty for a plain `/bin/sh -c`.
    pub wrapper: Vec<String>,
}

/// Everything the probes saw in one build.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Probes {
    /// Set when the probes could not run at all (e.g. the wrapper failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub path: Vec<PathEntry>,
    pub which: BTreeMap<String, Option<WhichResult>>,
    pub run: Vec<RunResult>,
}

/// One PATH entry and the executables it holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PathEntry {
    pub dir: String,
    pub exists: bool,
    /// Names of executable non-directories, sorted.
    pub executables: Vec<String>,
}

/// What `command -v NAME` found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WhichResult {
    /// What `command -v` printed.
    pub path: String,
    /// The fully resolved target (symlinks followed), if it is a file.
    pub resolved: Option<String>,
    /// Whether the resolved target lies inside the environment.
    pub inside: bool,
    /// SHA-256 (hex) of the resolved target.
    pub sha256: Option<String>,
}

/// One `run` command's outcome.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunResult {
    pub cmd: String,
    /// `None` when killed by a signal.
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Output of one probe command.
pub struct Captured {
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `/bin/sh -c SCRIPT ARGS...` with PATH set to the given value.
pub type Exec<'a> = dyn FnMut(&str, &[&str], &str) -> Captured + 'a;

/// Run every probe of `req`; `exec(script, args, path)` runs a shell command.
pub fn run_probes(req: &ProbeRequest, exec: &mut Exec<'_>) -> Probes {
    let path_var = req.path.join(":");
    // Ask the environment's own shell: a wrapper such as nix-shell changes PATH.
    let seen = exec("printf '%s' \"$PATH\"", &[], &path_var);
    let path = if seen.exit_code == Some(0) {
        seen.stdout.split(':').map(path_entry).collect()
    } else {
        req.path.iter().map(|d| path_entry(d)).collect()
    };
    let mut which = BTreeMap::new();
    for name in &req.which {
        let found = exec("command -v -- \"$1\"", &[name], &path_var);
        let printed = found.stdout.trim_end_matches('\n').to_string();
        let result = if found.exit_code == Some(0) && !printed.is_empty() {
            Some(resolve(&printed, &req.inside))
        } else {
            None
        };
        which.insert(name.clone(), result);
    }
    let run = req
        .run
        .iter()
        .map(|cmd| {
            let c = exec(cmd, &[], &path_var);
            RunResult {
                cmd: cmd.clone(),
                exit_code: c.exit_code,
                stdout: c.stdout,
                stderr: c.stderr,
            }
        })
        .collect();
    Probes {
        error: None,
        path,
        which,
        run,
    }
}

/// Run `/bin/sh -c SCRIPT sh ARGS...` in this process's environment (PATH
/// inherited, as a wrapper like nix-shell set it), capturing its output.
pub fn local_exec(script: &str, args: &[&str], _path: &str) -> Captured {
    match std::process::Command::new("/bin/sh")
        .args(["-c", script, "sh"])
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
    {
        Ok(o) => Captured {
            exit_code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        },
        Err(e) => Captured {
            exit_code: None,
            stdout: String::new(),
            stderr: format!("envtwin: cannot run /bin/sh: {e}"),
        },
    }
}

/// The hidden `__probe REQUEST` command: run every probe from inside a
/// wrapper's environment (one nix-shell for all probes) and print JSON.
pub fn main(request: &str) -> i32 {
    let probes = match serde_json::from_str::<ProbeRequest>(request) {
        Ok(req) => run_probes(&req, &mut local_exec),
        Err(e) => Probes {
            error: Some(format!("bad probe request: {e}")),
            ..Default::default()
        },
    };
    println!("{}", serde_json::to_string(&probes).unwrap_or_default());
    0
}

fn path_entry(dir: &str) -> PathEntry {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return PathEntry {
            dir: dir.to_string(),
            exists: false,
            executables: Vec::new(),
        };
    };
    let mut executables: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter(|e| {
            // Follow symlinks: a venv's `python3` is a link to the interpreter.
            std::fs::metadata(e.path())
                .map(|m| !m.is_dir() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    executables.sort();
    PathEntry {
        dir: dir.to_string(),
        exists: true,
        executables,
    }
}

fn resolve(printed: &str, inside: &[String]) -> WhichResult {
    // `command -v` prints a bare name for builtins and functions: nothing to resolve.
    if !printed.starts_with('/') {
        return WhichResult {
            path: printed.to_string(),
            resolved: None,
            inside: false,
            sha256: None,
        };
    }
    let resolved = std::fs::canonicalize(printed).ok();
    let inside = resolved.as_ref().is_some_and(|r| {
        inside
            .iter()
            .any(|p| r.starts_with(p) || r.to_string_lossy() == p.as_str())
    });
    let sha256 = resolved
        .as_ref()
        .and_then(|r| crate::tree::file_sha256(r).ok());
    WhichResult {
        path: printed.to_string(),
        resolved: resolved.map(|r| r.to_string_lossy().into_owned()),
        inside,
        sha256,
    }
}

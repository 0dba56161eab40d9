//! Providers: how a scenario's environment gets built (shell script, Nix).
//!
//! A provider turns a `Scenario` into the command the sandbox runs and the
//! probes to make afterwards; it never judges the result.

pub mod nix;
pub mod requires;
pub mod shell;

use crate::sandbox::plan::BuildCommand;
use crate::scenario::{Provider, Scenario};

/// Ready to build, skipped with a reason (e.g. the provider's tool is
/// missing), or failed before building (a scenario the provider cannot take).
pub enum Prepared {
    Ready(Box<BuildCommand>),
    Skip(String),
    Fail(String),
}

/// Prepare the build of `s` with its provider. With `require`, a provider
/// whose tools are missing fails the scenario instead of skipping it; an
/// unreachable `requires.network` endpoint skips it even then, unless
/// `cached` (a `--fetch-cache` may hold every download: the caller then
/// skips only if a download was missing, see `requires::unmet`).
pub fn prepare(s: &Scenario, require: bool, cached: bool) -> Prepared {
    if let Some(reason) = requires::unmet(s).filter(|_| !cached) {
        return Prepared::Skip(reason);
    }
    let p = match &s.provider {
        Provider::Shell => Prepared::Ready(Box::new(shell::command(s))),
        Provider::Nix(spec) => nix::prepare(s, spec),
    };
    match p {
        Prepared::Skip(reason) if require => Prepared::Fail(format!(
            "{reason} (providers are required: --require-providers or CI=true)"
        )),
        other => other,
    }
}

/// The probe request every provider shares: PATH, `which` and `run` from `expect`.
pub fn probe_request(s: &Scenario, inside: Vec<String>) -> crate::probe::ProbeRequest {
    let mut which: Vec<String> = s.expect.which.keys().cloned().collect();
    which.extend(
        s.expect
            .missing
            .iter()
            .filter(|m| !s.expect.which.contains_key(*m))
            .cloned(),
    );
    crate::probe::ProbeRequest {
        path: s.path.clone(),
        which,
        run: s.expect.run.iter().map(|r| r.cmd.clone()).collect(),
        inside,
        wrapper: Vec::new(),
    }
}

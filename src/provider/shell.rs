//! The shell provider: `build` is run by `/bin/sh -eu` in the sandbox.

use crate::sandbox::plan::BuildCommand;
use crate::scenario::Scenario;

/// The sandbox command for a shell scenario.
pub fn command(s: &Scenario) -> BuildCommand {
    BuildCommand {
        argv: vec!["/bin/sh".into(), "-eu".into(), "-c".into(), s.build.clone()],
        probe: super::probe_request(s, vec![s.out.clone()]),
        ..Default::default()
    }
}

//! The YAML shape of a scenario file (serde_yaml lives only here).

use super::model::Scenario;
use crate::error::Diagnostic;
use std::path::PathBuf;

pub fn load_all(_paths: &[PathBuf]) -> Result<Vec<Scenario>, Vec<Diagnostic>> {
    todo!("scenario loading")
}

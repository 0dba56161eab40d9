//! Scenario files: YAML on disk -> validated `Scenario` (SPEC §2, §8).
//!
//! `discover` finds the files, `load` reads and checks them, `schema`
//! mirrors the YAML (serde_yaml lives only there), `validate` turns the raw
//! shape into the checked `model`. Every problem becomes a `Diagnostic` with
//! file:line:column and what to do about it.

mod discover;
mod load;
pub mod model;
mod schema;
mod validate;

pub use discover::{find_files, walk_matching};
pub use load::{MAX_DIAGNOSTICS_PER_FILE, MAX_FILE_BYTES};
pub use model::*;

use crate::error::Diagnostic;
use std::path::PathBuf;

/// Find scenario files under `paths` (files as given; directories searched
/// recursively for `*.yaml`/`*.yml`, sorted, hidden entries skipped), load
/// and validate them all, and check names are unique across files. Returns
/// every problem found, not only the first; no paths means no scenarios.
pub fn load(paths: &[PathBuf]) -> Result<Vec<Scenario>, Vec<Diagnostic>> {
    load::load(paths)
}

/// 1-based line and column of the value at `keys` (e.g. `["nix",
/// "packages"]`) in a scenario file's text, for tools that point into a
/// scenario without parsing YAML themselves (the pinning audit). For a block
/// scalar (`build: |`) it is the position of the `|`. Where a key is
/// missing, the nearest existing ancestor's position; `None` if the text
/// does not parse.
pub fn locate_value(text: &str, keys: &[&str]) -> Option<(usize, usize)> {
    let path: Vec<schema::Seg> = keys.iter().map(|k| schema::Seg::key(k)).collect();
    schema::locate(text, &path, schema::Target::Value)
}

#[cfg(test)]
mod tests;

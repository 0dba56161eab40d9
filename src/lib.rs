//! envtwin: build each environment scenario twice in isolated, varied
//! sandboxes and judge whether the builds are identical and correct.
//!
//! Data flows one way: `scenario::load` -> `twin::build` (sandbox +
//! provider, twice) -> `tree` + `probe` per build -> `verdict::judge` ->
//! `report` renderers. `cli` and `run` (this file's `main_with_args`) glue it.

pub mod error;
pub mod sandbox;
pub mod scenario;
pub mod tree;

//! Integration tests: the real `envtwin` binary on real scenario files in
//! temp dirs, with real namespaces. One test binary, one module per area.

mod audit;
mod bad_input;
mod checks;
mod ci_tools;
mod escapes;
mod explain;
mod isolation;
mod lifecycle;
mod limits;
mod network;
mod nix;
mod real_world;
mod reports;
mod robustness;
mod snapshots;
mod support;
mod tools;
mod truthful;
mod variations;

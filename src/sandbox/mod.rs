//! Linux-namespace sandboxes for one build each; variations are applied here.

pub mod variation;

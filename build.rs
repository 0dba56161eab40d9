//! Build script: compiles `shim/timeshift.c`, the LD_PRELOAD shim that shifts
//! file times for the `time` variation (see `src/timeshift.rs`), into a
//! shared object that the binary embeds.

use std::path::PathBuf;

fn main() {
    let src = "shim/timeshift.c";
    println!("cargo:rerun-if-changed={src}");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("timeshift.so");
    let compiler = cc::Build::new().get_compiler();
    let status = compiler
        .to_command()
        .args([
            "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", "-o",
        ])
        .arg(&out)
        .arg(src)
        .arg("-ldl")
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler for {src}: {e}"));
    assert!(status.success(), "compiling {src} failed");
}

//! Stopgap entry point for the `tree` branch only: `hash` and `diff`, so
//! bench/hash_diff.sh can run. The real CLI (src/cli.rs, clap) replaces it.

use envtwin::error::{EXIT_FAILED, EXIT_INVALID, EXIT_OK};
use std::io::Write;
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let code = match args.as_slice() {
        ["hash", "--nar", path] => {
            let mut out = std::io::stdout().lock();
            match envtwin::tree::write_nar(Path::new(path), &mut out) {
                Ok(()) => EXIT_OK,
                Err(e) => fail(&e),
            }
        }
        ["hash", path] => match envtwin::tree::hash_path(Path::new(path)) {
            Ok(h) => {
                println!("{}", h.sri);
                EXIT_OK
            }
            Err(e) => fail(&e),
        },
        ["diff", a, b] => match envtwin::tree::diff_trees(Path::new(a), Path::new(b)) {
            Ok(d) if d.is_empty() => EXIT_OK,
            Ok(d) => {
                let mut out = std::io::stdout().lock();
                for x in d {
                    let side = |s: Option<String>| s.unwrap_or_else(|| "absent".into());
                    let _ = writeln!(
                        out,
                        "{} ({:?}): A {}; B {}",
                        x.path,
                        x.kind,
                        side(x.a),
                        side(x.b)
                    );
                }
                EXIT_FAILED
            }
            Err(e) => fail(&e),
        },
        _ => {
            eprintln!("usage: envtwin hash [--nar] PATH | envtwin diff A B");
            EXIT_INVALID
        }
    };
    std::process::exit(code);
}

fn fail(e: &envtwin::tree::TreeError) -> i32 {
    eprintln!("envtwin: {e}");
    e.exit_code()
}

//! envtwin's entry point: parse arguments, run, exit with the CI gate's status.

use clap::Parser;

fn main() {
    let cli = envtwin::cli::Cli::parse();
    std::process::exit(envtwin::run(cli));
}

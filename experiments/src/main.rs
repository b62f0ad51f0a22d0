//! `quill`: run TOML experiments, validate them, inspect data and registered plugins.

use clap::Parser;
use quill_experiments::cli;

fn main() {
    let args = cli::Cli::parse();
    if let Err(e) = cli::dispatch(args) {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}

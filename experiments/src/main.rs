//! `quill`: run TOML experiments, validate them, inspect data and registered plugins.

use clap::Parser;
use quill_experiments::cli;

fn main() {
    let args = cli::Cli::parse();
    if !args.serves() {
        default_sigpipe();
    }
    if let Err(e) = cli::dispatch(args) {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}

/// Rust ignores SIGPIPE, so `println!` to a closed pipe (`quill validate FILE | head -1`)
/// panics. A command that prints ends quietly there instead, as Unix tools do. The servers
/// keep SIGPIPE ignored: a client that goes away must not end the process.
#[cfg(unix)]
fn default_sigpipe() {
    // SAFETY: sets one signal's disposition, before this process starts any thread.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn default_sigpipe() {}

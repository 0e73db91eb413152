//! The `release` binary: parse arguments, set up logging, dispatch.

use clap::Parser;
use release_agent::cli::args::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    release_agent::cli::init_logging(cli.verbose, cli.quiet);
    match release_agent::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", release_agent::cli::describe(&e));
            ExitCode::FAILURE
        }
    }
}

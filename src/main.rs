//! The `release` binary: parse arguments, set up logging, dispatch.

use clap::Parser;
use release_agent::cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    release_agent::commands::init_logging(cli.verbose, cli.quiet);
    match release_agent::commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", release_agent::commands::describe(&e));
            ExitCode::FAILURE
        }
    }
}

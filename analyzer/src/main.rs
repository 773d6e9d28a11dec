//! `analyzer`: predicts deadlocks and finds data races in lock traces.
//!
//! Exit codes: 0 when nothing fails the check, 1 when a finding fails it, 2 for
//! usage errors and unreadable input.

mod cli;

use std::process::ExitCode;

use clap::Parser;

use cli::args::Cli;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return cli::usage_error(&err),
    };
    match cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("analyzer: error: {}", cli::one_line(&err));
            ExitCode::from(cli::EXIT_ERROR)
        }
    }
}

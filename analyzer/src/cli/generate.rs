//! `analyzer generate`: writes a synthetic trace (see [`analyzer::generate`]).

use std::path::PathBuf;
use std::process::ExitCode;

use analyzer::generate::{GenerateFormat, GenerateOptions, write_generated};
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use super::{EXIT_OK, output};

/// `analyzer generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of events written (exactly).
    #[arg(long, value_name = "N", default_value_t = GenerateOptions::default().events)]
    pub events: u64,
    /// Number of threads.
    #[arg(long, value_name = "T", default_value_t = GenerateOptions::default().threads)]
    pub threads: u32,
    /// Number of locks (always taken in one global order).
    #[arg(long, value_name = "L", default_value_t = GenerateOptions::default().locks)]
    pub locks: u32,
    /// Number of shared variables (each guarded by one lock).
    #[arg(long, value_name = "V", default_value_t = GenerateOptions::default().vars)]
    pub vars: u32,
    /// Deepest lock nesting.
    #[arg(long, value_name = "D", default_value_t = GenerateOptions::default().depth)]
    pub depth: u32,
    /// Plant an ABBA lock-order inversion (a predictable deadlock) halfway through.
    #[arg(long)]
    pub plant_cycle: bool,
    /// Plant an unprotected write/write data race halfway through.
    #[arg(long)]
    pub plant_race: bool,
    /// Seed of the pseudo-random choices; the same seed gives the same bytes.
    #[arg(long, default_value_t = GenerateOptions::default().seed)]
    pub seed: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GenFormat::Std)]
    pub format: GenFormat,
    /// Where to write the trace (atomically).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

/// `generate --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GenFormat {
    /// RAPID's STD text format.
    Std,
    /// instrumented-sync's native binary format.
    Native,
}

/// Runs `analyzer generate`.
pub fn run(args: &GenerateArgs) -> Result<ExitCode> {
    let options = GenerateOptions {
        events: args.events,
        threads: args.threads,
        locks: args.locks,
        vars: args.vars,
        depth: args.depth,
        plant_cycle: args.plant_cycle,
        plant_race: args.plant_race,
        seed: args.seed,
    };
    let format = match args.format {
        GenFormat::Std => GenerateFormat::Std,
        GenFormat::Native => GenerateFormat::Native,
    };
    // Checked first so bad options do not leave a temporary file behind.
    analyzer::generate::validate(&options)?;
    output::write_atomically(&args.output, |out| {
        write_generated(&options, format, out)
            .with_context(|| format!("{}: cannot generate", args.output.display()))?;
        Ok(())
    })?;
    Ok(ExitCode::from(EXIT_OK))
}

//! The command line, as clap derive types.

use std::path::PathBuf;

use analyzer::analysis::AnalysisOptions;
use analyzer::finding::FindingKind;
use analyzer::report::OutputFormat;
use analyzer::trace::Format;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Predicts deadlocks and finds data races in lock traces, and explains every finding.
#[derive(Debug, Parser)]
#[command(name = "analyzer", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyze traces; exit 1 when a finding fails the check.
    #[command(
        after_help = "Exit status: 0 when no finding fails the check, 1 when one does, \
                            2 for usage errors and unreadable input."
    )]
    Check(CheckArgs),
    /// Convert a trace to another format.
    Convert(ConvertArgs),
    /// Print per-trace statistics (threads, locks, events, dependencies, patterns, time).
    Stats(StatsArgs),
    /// Write a report directory: DOT, SVG, index.html, SARIF, JUnit XML and JSON.
    #[command(
        after_help = "Exit status: 0 when no finding fails the check, 1 when one does, \
                            2 for usage errors, unreadable input and unwritable output."
    )]
    Report(super::report_command::ReportArgs),
    /// Write a synthetic trace (for benchmarks and scale tests).
    Generate(super::generate::GenerateArgs),
}

/// How traces are read.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Reject ill-formed traces (for example a release of an unheld lock) instead of warning.
    #[arg(long)]
    pub strict: bool,
    /// Analyze a trace whose last record is torn (a killed process) instead of failing.
    #[arg(long)]
    pub allow_truncated: bool,
    /// Read every input as this format instead of detecting it from the content.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub input_format: Option<InputFormat>,
    /// Analyze the readable traces when some are not (those become warnings).
    #[arg(long)]
    pub keep_going: bool,
}

/// How the analysis is bounded.
#[derive(Debug, Args)]
pub struct BoundArgs {
    /// Longest lock-order cycle searched, in locks (at least 2).
    #[arg(long, value_name = "N", default_value_t = AnalysisOptions::default().max_cycle_len, value_parser = parse_cycle_len)]
    pub max_cycle_len: usize,
    /// Most cycles enumerated before the search stops (and says so).
    #[arg(long, value_name = "N", default_value_t = AnalysisOptions::default().max_cycles)]
    pub max_cycles: usize,
    /// Also run the Eraser lockset algorithm: report `potential-race` for variables
    /// whose accesses share no common lock, even when this run ordered them.
    #[arg(long)]
    pub lockset: bool,
    /// Most race pairs reported per kind and trace before reporting stops (and says so).
    #[arg(long, value_name = "N", default_value_t = AnalysisOptions::default().max_race_pairs)]
    pub max_race_pairs: usize,
    /// Most held locks (the innermost) recorded per lock dependency; deeper nesting loses
    /// the edges from its outer locks (and says so). At least 1.
    #[arg(long, value_name = "N", default_value_t = AnalysisOptions::default().max_held, value_parser = parse_max_held)]
    pub max_held: usize,
}

/// `analyzer check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Trace files, or directories searched recursively for them.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Finding kinds that fail the check, comma-separated, or `none`.
    #[arg(long, value_name = "KIND,...", value_delimiter = ',', value_parser = parse_fail_on, help = fail_on_help())]
    pub fail_on: Option<Vec<FailOn>>,
    /// With `--format dot`: draw only the finding with this id, with its Coffman conditions.
    #[arg(long, value_name = "ID")]
    pub finding: Option<String>,
    /// Write the report to FILE (atomically) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Baseline.
    #[command(flatten)]
    pub baseline: super::report_command::BaselineArgs,
    /// Analysis bounds.
    #[command(flatten)]
    pub bounds: BoundArgs,
    /// Loading.
    #[command(flatten)]
    pub load: LoadArgs,
}

/// `analyzer convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The trace to convert.
    #[arg(value_name = "INPUT")]
    pub input: PathBuf,
    /// The format to write.
    #[arg(long, value_enum)]
    pub to: ConvertFormat,
    /// Where to write it (atomically).
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
    /// Loading.
    #[command(flatten)]
    pub load: ConvertLoadArgs,
}

/// How `convert` reads its one input: as [`LoadArgs`] without `--keep-going`, which has
/// nothing to go on to with a single input.
#[derive(Debug, Args)]
pub struct ConvertLoadArgs {
    /// Reject ill-formed traces (for example a release of an unheld lock) instead of warning.
    #[arg(long)]
    pub strict: bool,
    /// Convert a trace whose last record is torn (a killed process), up to the tear,
    /// instead of failing.
    #[arg(long)]
    pub allow_truncated: bool,
    /// Read the input as this format instead of detecting it from the content.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub input_format: Option<InputFormat>,
}

impl From<&ConvertLoadArgs> for LoadArgs {
    fn from(args: &ConvertLoadArgs) -> Self {
        LoadArgs {
            strict: args.strict,
            allow_truncated: args.allow_truncated,
            input_format: args.input_format,
            keep_going: false,
        }
    }
}

/// `analyzer stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Trace files, or directories searched recursively for them.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Analysis bounds.
    #[command(flatten)]
    pub bounds: BoundArgs,
    /// Loading.
    #[command(flatten)]
    pub load: LoadArgs,
}

/// `--format` of `check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Human-readable report.
    Text,
    /// One JSON document (see analyzer/JSON.md).
    Json,
    /// Graphviz DOT of the whole-run lock-order graph (locks and edges, cycles in red; no
    /// Coffman tables: `--finding ID` draws one finding with its Coffman conditions).
    Dot,
}

impl From<ReportFormat> for OutputFormat {
    fn from(f: ReportFormat) -> Self {
        match f {
            ReportFormat::Text => OutputFormat::Text,
            ReportFormat::Json => OutputFormat::Json,
            ReportFormat::Dot => OutputFormat::Dot,
        }
    }
}

/// `--input-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// instrumented-sync's binary format.
    Native,
    /// JSON Lines of native records.
    Jsonl,
    /// RAPID's STD text format.
    Std,
    /// RAPID's binary format.
    Rapidbin,
}

impl From<InputFormat> for Format {
    fn from(f: InputFormat) -> Self {
        match f {
            InputFormat::Native => Format::Native,
            InputFormat::Jsonl => Format::Jsonl,
            InputFormat::Std => Format::Std,
            InputFormat::Rapidbin => Format::RapidBin,
        }
    }
}

/// `convert --to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ConvertFormat {
    /// instrumented-sync's binary format.
    Native,
    /// JSON Lines of native records.
    Jsonl,
    /// RAPID's STD text format.
    Std,
}

impl From<ConvertFormat> for Format {
    fn from(f: ConvertFormat) -> Self {
        match f {
            ConvertFormat::Native => Format::Native,
            ConvertFormat::Jsonl => Format::Jsonl,
            ConvertFormat::Std => Format::Std,
        }
    }
}

/// One item of `--fail-on`: a kind, or `none` for no kind at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailOn(pub Option<FindingKind>);

fn parse_fail_on(s: &str) -> Result<FailOn, String> {
    let s = s.trim();
    if s == "none" {
        return Ok(FailOn(None));
    }
    FindingKind::parse(s)
        .map(|k| FailOn(Some(k)))
        .ok_or_else(|| {
            let names: Vec<&str> = FindingKind::ALL.iter().map(|k| k.as_str()).collect();
            format!(
                "unknown finding kind, expected `none` or one of: {}",
                names.join(", ")
            )
        })
}

/// The `--fail-on` help, listing the default from [`FindingKind::fails_by_default`].
fn fail_on_help() -> String {
    let defaults: Vec<&str> = FindingKind::ALL
        .iter()
        .filter(|k| k.fails_by_default())
        .map(|k| k.as_str())
        .collect();
    format!(
        "Finding kinds that fail the check, comma-separated, or `none` [default: {}]",
        defaults.join(",")
    )
}

fn parse_cycle_len(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 2 => Ok(n),
        Ok(_) => Err("a lock-order cycle has at least 2 locks".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_max_held(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        Ok(_) => Err("a lock dependency holds at least 1 lock".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

impl CheckArgs {
    /// The kinds that fail the check.
    pub fn fail_on(&self) -> Vec<FindingKind> {
        match &self.fail_on {
            None => AnalysisOptions::default().fail_on,
            Some(items) => {
                let mut kinds: Vec<FindingKind> = items.iter().filter_map(|f| f.0).collect();
                kinds.sort();
                kinds.dedup();
                kinds
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn fail_on_parses_lists_and_none() {
        let cli = Cli::try_parse_from([
            "analyzer",
            "check",
            "t.std",
            "--fail-on",
            "data-race,self-deadlock",
        ])
        .unwrap();
        let Command::Check(args) = cli.command else {
            panic!("check")
        };
        assert_eq!(
            args.fail_on(),
            vec![FindingKind::SelfDeadlock, FindingKind::DataRace]
        );
        let cli = Cli::try_parse_from(["analyzer", "check", "t.std", "--fail-on", "none"]).unwrap();
        let Command::Check(args) = cli.command else {
            panic!("check")
        };
        assert!(args.fail_on().is_empty());
        assert!(
            Cli::try_parse_from(["analyzer", "check", "t.std", "--fail-on", "deadlock"]).is_err()
        );
        assert!(
            Cli::try_parse_from(["analyzer", "check", "t.std", "--max-cycle-len", "1"]).is_err()
        );
    }

    #[test]
    fn defaults_match_the_analysis_defaults() {
        let cli = Cli::try_parse_from(["analyzer", "check", "t.std"]).unwrap();
        let Command::Check(args) = cli.command else {
            panic!("check")
        };
        let defaults = AnalysisOptions::default();
        assert_eq!(args.fail_on(), defaults.fail_on);
        assert_eq!(args.bounds.max_cycle_len, 8);
        assert_eq!(args.bounds.max_cycles, defaults.max_cycles);
        assert_eq!(args.format, ReportFormat::Text);
    }
}

//! The `analyzer` subcommands: argument handling, loading, rendering, exit codes.

pub mod args;
pub mod generate;
pub mod output;
pub mod report_command;

use std::path::Path;
use std::process::ExitCode;

use analyzer::analysis::AnalysisOptions;
use analyzer::report::{self, OutputFormat, ReportOptions};
use analyzer::trace::{LoadOptions, load_path};
use anyhow::{Context, Result, bail};

use args::{BoundArgs, CheckArgs, Cli, Command, ConvertArgs, LoadArgs, StatsArgs};

/// Exit code when nothing fails the check.
pub const EXIT_OK: u8 = 0;
/// Exit code when a finding fails the check.
pub const EXIT_FAILING: u8 = 1;
/// Exit code for usage errors and unreadable input.
pub const EXIT_ERROR: u8 = 2;

/// Runs a parsed command line, returning the exit code.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Check(args) => check(&args),
        Command::Convert(args) => convert(&args),
        Command::Stats(args) => stats(&args),
        Command::Report(args) => report_command::report(&args),
        Command::Generate(args) => generate::run(&args),
    }
}

/// Reports a command-line parse error; `--help` and `--version` are not errors.
pub fn usage_error(err: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // Help requested explicitly (or a bare `analyzer`): clap's text, on its stream.
            let _ = err.print();
            if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(EXIT_ERROR)
            } else {
                ExitCode::from(EXIT_OK)
            }
        }
        _ => {
            // clap names the subcommand only in its usage line, which some errors lack.
            let subcommands: Vec<String> = <Cli as clap::CommandFactory>::command()
                .get_subcommands()
                .map(|c| c.get_name().to_owned())
                .collect();
            let named = std::env::args().skip(1).find(|a| subcommands.contains(a));
            eprintln!(
                "analyzer: error: {}",
                usage_error_line(&err.render().to_string(), named.as_deref())
            );
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// clap's multi-line rendering of a usage error as one line: what is wrong with its
/// details (the missing argument, the possible values, clap's tip), then a pointer at the
/// help of the subcommand concerned: the one clap names in its usage line, else `named`
/// (the subcommand on the command line).
fn usage_error_line(rendered: &str, named: Option<&str>) -> String {
    let mut what = String::new();
    let mut help = match named {
        Some(sub) => format!("analyzer {sub} --help"),
        None => "analyzer --help".to_owned(),
    };
    for line in rendered.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(usage) = line.strip_prefix("Usage:") {
            let mut words = usage.split_whitespace();
            if let (Some("analyzer"), Some(sub)) = (words.next(), words.next())
                && sub.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            {
                help = format!("analyzer {sub} --help");
            }
            // The usage synopsis and "For more information" follow; the pointer replaces them.
            break;
        }
        if line.starts_with("For more information") {
            break;
        }
        let line = line.strip_prefix("error: ").unwrap_or(line);
        if !what.is_empty() {
            what.push_str(if line.starts_with("tip:") { "; " } else { " " });
        }
        what.push_str(line);
    }
    if what.is_empty() {
        what.push_str("invalid arguments");
    }
    format!("{what} (see '{help}')")
}

/// An error and its causes on one line: `outer: inner: innermost`.
pub fn one_line(err: &anyhow::Error) -> String {
    format!("{err:#}")
        .split('\n')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn load_options(args: &LoadArgs) -> LoadOptions {
    LoadOptions {
        strict: args.strict,
        allow_truncated: args.allow_truncated,
        format: args.input_format.map(Into::into),
    }
}

fn analysis_options(
    bounds: &BoundArgs,
    fail_on: Vec<analyzer::finding::FindingKind>,
) -> AnalysisOptions {
    AnalysisOptions {
        max_cycle_len: bounds.max_cycle_len,
        max_cycles: bounds.max_cycles,
        fail_on,
        lockset: bounds.lockset,
        max_race_pairs: bounds.max_race_pairs,
        max_held: bounds.max_held,
    }
}

fn check(args: &CheckArgs) -> Result<ExitCode> {
    let options = analysis_options(&args.bounds, args.fail_on());
    let format = OutputFormat::from(args.format);
    if args.finding.is_some() && format != OutputFormat::Dot {
        bail!("--finding selects a finding to draw and needs --format dot");
    }
    let analysis = report_command::analyze_paths(
        &args.paths,
        &load_options(&args.load),
        args.load.keep_going,
        &options,
    )?;
    let mut report_options = ReportOptions::from(&options);
    report_command::apply_baseline(&args.baseline, &analysis, &mut report_options)?;
    let rendered = match &args.finding {
        Some(id) => {
            let Some(finding) = analysis.findings.iter().find(|f| &f.id == id) else {
                let ids: Vec<&str> = analysis.findings.iter().map(|f| f.id.as_str()).collect();
                bail!(
                    "no finding with id {id}; the findings are: {}",
                    if ids.is_empty() {
                        "none".to_owned()
                    } else {
                        ids.join(", ")
                    }
                );
            };
            report::dot::render_finding(finding)
        }
        None => report::render(&analysis, format, &report_options),
    };
    emit(args.output.as_deref(), rendered.as_bytes())?;
    if let (Some(_), OutputFormat::Text) = (&args.output, format) {
        // The report went to a file; keep the CI log informative.
        eprintln!("{}", report::text::summary_line(&analysis, &report_options));
    }
    let failing = report_options.failing_count(&analysis);
    Ok(ExitCode::from(if failing > 0 {
        EXIT_FAILING
    } else {
        EXIT_OK
    }))
}

fn emit(path: Option<&Path>, bytes: &[u8]) -> Result<()> {
    match path {
        Some(path) => output::write_file(path, bytes),
        None => output::write_stdout(bytes),
    }
}

fn convert(args: &ConvertArgs) -> Result<ExitCode> {
    let trace = load_path(&args.input, &load_options(&LoadArgs::from(&args.load)))?;
    let to = args.to.into();
    let mut report = None;
    output::write_atomically(&args.output, |out| {
        let written =
            analyzer::trace::convert::write_trace(&trace, to, out).with_context(|| {
                format!(
                    "{}: cannot convert {}",
                    args.output.display(),
                    args.input.display()
                )
            })?;
        report = Some(written);
        Ok(())
    })?;
    let dropped = report.map(|r| r.dropped).unwrap_or_default();
    if !dropped.is_empty() {
        // Not an error: the target format cannot express these events; say which.
        let parts: Vec<String> = dropped
            .iter()
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect();
        eprintln!(
            "analyzer: note: {}: left out events the format cannot express: {}",
            args.output.display(),
            parts.join(", ")
        );
    }
    for warning in &trace.warnings {
        eprintln!("analyzer: warning: {warning}");
    }
    Ok(ExitCode::from(EXIT_OK))
}

fn stats(args: &StatsArgs) -> Result<ExitCode> {
    let options = analysis_options(&args.bounds, AnalysisOptions::default().fail_on);
    let header = [
        "file",
        "threads",
        "locks",
        "events",
        "dependencies",
        "patterns",
        "confirmed",
        "time ms",
    ];
    // One trace in memory at a time: each row is made as its trace is loaded.
    let mut rows: Vec<[String; 8]> = Vec::new();
    let skipped = report_command::for_each_trace(
        &args.paths,
        &load_options(&args.load),
        args.load.keep_going,
        |trace| {
            let s = analyzer::analysis::trace_stats(&trace, &options);
            // A `+` marks a pattern count cut short by --max-cycles / --max-cycle-len.
            let patterns = if s.patterns_truncated {
                format!("{}+", s.patterns)
            } else {
                s.patterns.to_string()
            };
            rows.push([
                s.source,
                s.threads.to_string(),
                s.locks.to_string(),
                s.events.to_string(),
                s.dependencies.to_string(),
                patterns,
                s.confirmed.to_string(),
                format!("{:.1}", s.elapsed.as_secs_f64() * 1000.0),
            ]);
        },
    )?;
    // Without an analysis to carry them, skipped files stay the warnings already printed.
    drop(skipped);
    output::write_stdout(format_table(&header, &rows).as_bytes())?;
    Ok(ExitCode::from(EXIT_OK))
}

/// Left-aligns the first column and right-aligns the numbers.
fn format_table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths: [usize; N] = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(header.as_slice()).chain(rows.iter().map(|r| r.as_slice())) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                if i == 0 {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let rows = [
            ["a.std".to_owned(), "12".to_owned()],
            ["longer.std".to_owned(), "3".to_owned()],
        ];
        assert_eq!(
            format_table(&["file", "events"], &rows),
            "file        events\na.std           12\nlonger.std       3\n"
        );
    }

    #[test]
    fn usage_errors_keep_what_clap_says_on_one_line() {
        let missing = "error: the following required arguments were not provided:\n  --out <DIR>\n\n\
                       Usage: analyzer report --out <DIR> <PATH>...\n\nFor more information, try '--help'.\n";
        assert_eq!(
            usage_error_line(missing, None),
            "the following required arguments were not provided: --out <DIR> (see 'analyzer report --help')"
        );
        let top = "error: unrecognized subcommand 'chek'\n\n  tip: a similar subcommand exists: 'check'\n\n\
                   Usage: analyzer <COMMAND>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            usage_error_line(top, None),
            "unrecognized subcommand 'chek'; tip: a similar subcommand exists: 'check' (see 'analyzer --help')"
        );
        let value = "error: invalid value 'xml' for '--format <FORMAT>'\n  [possible values: text, json, dot]\n\n\
                     For more information, try '--help'.\n";
        assert_eq!(
            usage_error_line(value, Some("check")),
            "invalid value 'xml' for '--format <FORMAT>' [possible values: text, json, dot] \
             (see 'analyzer check --help')"
        );
    }

    #[test]
    fn errors_print_on_one_line_with_causes() {
        let err = anyhow::anyhow!("inner\nproblem").context("out.json");
        assert_eq!(one_line(&err), "out.json: inner problem");
    }
}

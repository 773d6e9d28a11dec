//! `analyzer report`, the baseline flags of `check`, and batch loading of many traces
//! (progress on a terminal, every unreadable file named, `--keep-going`).

use std::collections::BTreeMap;
use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use analyzer::analysis::{Analysis, AnalysisBuilder, AnalysisOptions};
use analyzer::finding::FindingKind;
use analyzer::model::{Trace, Warning};
use analyzer::report::baseline::{Baseline, BaselineError};
use analyzer::report::svg::{GraphvizLimits, SvgBatch, SvgRenderer};
use analyzer::report::{self, ReportOptions, bundle};
use analyzer::trace::{LoadError, LoadOptions, collect_inputs, load_path};
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

use super::args::{BoundArgs, FailOn, LoadArgs};
use super::output::write_file;
use super::{EXIT_FAILING, EXIT_OK};

/// Baseline flags of `check` and `report`.
#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// Accepted findings (JSON `[{id, kind, message, reason}]`): only findings not listed
    /// fail; listed ones that no longer occur are reported as stale.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Write the current findings to the --baseline FILE (keeping the reasons of entries
    /// still found, dropping stale ones), then check against it.
    #[arg(long, requires = "baseline")]
    pub update_baseline: bool,
}

/// `--svg-renderer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SvgRendererArg {
    /// Graphviz when `dot` is on PATH, else the built-in layout.
    Auto,
    /// Graphviz `dot` (an error when it is not installed).
    Graphviz,
    /// The built-in layout (no system dependency).
    Builtin,
}

impl From<SvgRendererArg> for SvgRenderer {
    fn from(r: SvgRendererArg) -> Self {
        match r {
            SvgRendererArg::Auto => SvgRenderer::Auto,
            SvgRendererArg::Graphviz => SvgRenderer::Graphviz,
            SvgRendererArg::Builtin => SvgRenderer::Builtin,
        }
    }
}

/// `analyzer report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Trace files, or directories searched recursively for them.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The directory to write the report into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Who draws the SVG graphs.
    #[arg(long, value_enum, default_value_t = SvgRendererArg::Auto)]
    pub svg_renderer: SvgRendererArg,
    /// Seconds one Graphviz `dot` call may run; a slower graph is killed and drawn by the
    /// built-in layout, as are later graphs at least as large (and all after 3 timeouts).
    /// auto also leaves graphs over 200 nodes or 400 edges to the built-in layout.
    #[arg(long, value_name = "SECS", default_value_t = 20.0, value_parser = parse_timeout)]
    pub dot_timeout: f64,
    /// Source paths in SARIF are made relative to this directory [default: the current directory].
    #[arg(long, value_name = "DIR")]
    pub repo_root: Option<PathBuf>,
    /// Finding kinds that fail the check, comma-separated, or `none` (as for `check`).
    #[arg(long, value_name = "KIND,...", value_delimiter = ',', value_parser = parse_fail_on_item)]
    pub fail_on: Option<Vec<FailOn>>,
    /// Baseline.
    #[command(flatten)]
    pub baseline: BaselineArgs,
    /// Analysis bounds.
    #[command(flatten)]
    pub bounds: BoundArgs,
    /// Loading.
    #[command(flatten)]
    pub load: LoadArgs,
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs <= 86_400.0 => Ok(secs),
        _ => Err("expected a number of seconds above 0 (at most 86400)".to_owned()),
    }
}

fn parse_fail_on_item(s: &str) -> Result<FailOn, String> {
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

impl ReportArgs {
    /// The kinds that fail the check.
    pub fn fail_on(&self) -> Vec<FindingKind> {
        match &self.fail_on {
            None => analyzer::analysis::AnalysisOptions::default().fail_on,
            Some(items) => {
                let mut kinds: Vec<FindingKind> = items.iter().filter_map(|f| f.0).collect();
                kinds.sort();
                kinds.dedup();
                kinds
            }
        }
    }
}

/// Files with this many traces or more get a progress bar (on a terminal).
const PROGRESS_THRESHOLD: usize = 20;

/// Fewer files than [`PROGRESS_THRESHOLD`] that hold this many bytes together get a
/// spinner naming the phase (loading, analysing), since one such trace takes seconds.
const BIG_INPUT_BYTES: u64 = 16 << 20;

/// Progress is drawn only for a person watching: never into a log, a pipe or a test.
fn on_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// A spinner with `message` and the elapsed time, ticking on its own thread.
fn spinner(message: String) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.set_message(message);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// `12.3 MB`.
fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Expands `paths` and hands each readable trace to `visit` as soon as it is loaded,
/// in the order of [`collect_inputs`], so a caller that does not keep them holds one
/// trace at a time. Every unreadable file is named on
/// standard error once all are tried, then an error without `keep_going`, else
/// returned as warnings (an error still when nothing was readable).
pub fn for_each_trace(
    paths: &[PathBuf],
    options: &LoadOptions,
    keep_going: bool,
    visit: impl FnMut(Trace),
) -> Result<Vec<Warning>> {
    Ok(for_each_trace_sized(paths, options, keep_going, visit)?.0)
}

/// [`for_each_trace`], also returning whether the input was big enough for a spinner
/// (so a caller can keep showing one for its own later phases).
fn for_each_trace_sized(
    paths: &[PathBuf],
    options: &LoadOptions,
    keep_going: bool,
    mut visit: impl FnMut(Trace),
) -> Result<(Vec<Warning>, bool)> {
    let files = collect_inputs(paths)?;
    if files.is_empty() {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        bail!(
            "{}: no trace files found (expected .istrace, .jsonl, .std, .data or .rapidbin files)",
            names.join(", ")
        );
    }
    let terminal = on_terminal();
    let progress = (files.len() >= PROGRESS_THRESHOLD && terminal).then(|| {
        let bar = indicatif::ProgressBar::new(files.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("analyzing {bar:40} {pos}/{len} traces {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    // Sizes only matter on a terminal; a CI run does not stat every file for nothing.
    let sizes: Vec<u64> = if terminal && progress.is_none() {
        files
            .iter()
            .map(|f| fs::metadata(f).map(|m| m.len()).unwrap_or(0))
            .collect()
    } else {
        Vec::new()
    };
    let big = sizes.iter().sum::<u64>() >= BIG_INPUT_BYTES;
    let mut loaded = 0usize;
    let mut failures: Vec<LoadError> = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let phase = big.then(|| {
            spinner(format!(
                "loading {}, {}",
                file.display(),
                megabytes(sizes[i])
            ))
        });
        match load_path(file, options) {
            Ok(trace) => {
                loaded += 1;
                if let Some(phase) = &phase {
                    phase.set_message(format!(
                        "analyzing {}, {} events",
                        file.display(),
                        trace.events.len()
                    ));
                }
                visit(trace);
            }
            Err(err) => failures.push(err),
        }
        if let Some(phase) = phase {
            phase.finish_and_clear();
        }
        if let Some(bar) = &progress {
            bar.inc(1);
        }
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if failures.is_empty() {
        return Ok((Vec::new(), big));
    }
    // A single unreadable input is the error itself; in a batch every failure is named first.
    if failures.len() == 1 && files.len() == 1 {
        return Err(anyhow::Error::new(failures.remove(0)));
    }
    let level = if keep_going { "warning" } else { "error" };
    for failure in &failures {
        eprintln!("analyzer: {level}: {failure}");
    }
    if !keep_going || loaded == 0 {
        bail!(
            "{} of {} traces unreadable{}",
            failures.len(),
            files.len(),
            if keep_going {
                ""
            } else {
                " (--keep-going analyzes the rest)"
            }
        );
    }
    let warnings = failures
        .into_iter()
        .map(|e| Warning {
            file: e.file.display().to_string(),
            position: e.position,
            message: format!("unreadable, skipped (--keep-going): {}", e.message),
        })
        .collect();
    Ok((warnings, big))
}

/// Expands `paths` and analyzes every trace with `options`, one at a time: each
/// trace is added to an [`AnalysisBuilder`] and dropped before the next is loaded,
/// so memory holds one trace plus the merged graph. Skipped files (`keep_going`)
/// become warnings of the analysis.
pub fn analyze_paths(
    paths: &[PathBuf],
    load: &LoadOptions,
    keep_going: bool,
    options: &AnalysisOptions,
) -> Result<Analysis> {
    Ok(analyze_paths_sized(paths, load, keep_going, options)?.0)
}

/// [`analyze_paths`], also returning whether the input was big (see [`for_each_trace_sized`]).
fn analyze_paths_sized(
    paths: &[PathBuf],
    load: &LoadOptions,
    keep_going: bool,
    options: &AnalysisOptions,
) -> Result<(Analysis, bool)> {
    let mut builder = AnalysisBuilder::new(options.clone());
    let (skipped, big) =
        for_each_trace_sized(paths, load, keep_going, |trace| builder.add_trace(&trace))?;
    let phase = big.then(|| spinner("confirming and explaining findings".to_owned()));
    let mut analysis = builder.finish();
    if let Some(phase) = phase {
        phase.finish_and_clear();
    }
    analysis.warnings.extend(skipped);
    Ok((analysis, big))
}

/// Loads or updates the baseline named by `args` and records its verdict in `options`.
pub fn apply_baseline(
    args: &BaselineArgs,
    analysis: &Analysis,
    options: &mut ReportOptions,
) -> Result<()> {
    let Some(path) = &args.baseline else {
        return Ok(());
    };
    let baseline = if args.update_baseline {
        let old = if path.exists() {
            Baseline::load(path)?
        } else {
            Baseline::default()
        };
        let new = old.updated(&analysis.findings);
        write_file(path, new.to_json().as_bytes())?;
        eprintln!(
            "analyzer: wrote {} ({} entries)",
            path.display(),
            new.entries().len()
        );
        new
    } else {
        match Baseline::load(path) {
            Ok(baseline) => baseline,
            // A repository that has not accepted anything yet has no file: the ready CI job
            // must still work there, and --update-baseline creates the file when wanted.
            Err(BaselineError::Read { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                eprintln!(
                    "analyzer: note: {}: no baseline yet, so every finding counts \
                     (--update-baseline creates it)",
                    path.display()
                );
                Baseline::default()
            }
            Err(err) => return Err(err.into()),
        }
    };
    options.baseline = Some(baseline.apply(&analysis.findings));
    Ok(())
}

/// Runs `analyzer report`.
pub fn report(args: &ReportArgs) -> Result<ExitCode> {
    let options = super::analysis_options(&args.bounds, args.fail_on());
    let load = super::load_options(&args.load);
    fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create the output directory", args.out.display()))?;
    if !args.out.is_dir() {
        bail!("{}: not a directory", args.out.display());
    }
    let (analysis, big) = analyze_paths_sized(&args.paths, &load, args.load.keep_going, &options)?;
    let mut report_options = ReportOptions::from(&options);
    apply_baseline(&args.baseline, &analysis, &mut report_options)?;
    let renderer = SvgRenderer::from(args.svg_renderer);
    let repo_root = match &args.repo_root {
        Some(root) => root.clone(),
        None => std::env::current_dir().context("the current directory")?,
    };
    let limits = GraphvizLimits {
        timeout: Duration::from_secs_f64(args.dot_timeout),
        ..GraphvizLimits::default()
    };
    let mut batch = SvgBatch::new(renderer, limits).context("rendering SVG")?;
    // Drawing is the slow part of a report with many findings; say what is going on.
    let graphs = analysis.findings.len() + 1;
    let phase = (big || (graphs >= PROGRESS_THRESHOLD && on_terminal()))
        .then(|| spinner(format!("drawing {graphs} graphs")));
    let bundle = bundle::render_bundle(&analysis, &report_options, &mut batch, &repo_root);
    if let Some(phase) = phase {
        phase.finish_and_clear();
    }
    let bundle = bundle.context("rendering SVG")?;
    // Said once here and once in index.html, however many graphs fell back.
    for note in &bundle.notes {
        eprintln!("analyzer: note: {note}");
    }
    let files = bundle.files;
    for (name, bytes) in &files {
        write_file(&args.out.join(name), bytes.as_bytes())?;
    }
    remove_stale_finding_files(&args.out, &files)?;
    println!(
        "analyzer: wrote {} files to {} (SVG by {}{})",
        files.len(),
        args.out.display(),
        batch.renderer(),
        if batch.fallbacks().is_empty() {
            ""
        } else {
            ", some by builtin"
        }
    );
    println!("{}", report::text::summary_line(&analysis, &report_options));
    let failing = report_options.failing_count(&analysis);
    Ok(ExitCode::from(if failing > 0 {
        EXIT_FAILING
    } else {
        EXIT_OK
    }))
}

/// Drops `finding-*.dot`/`.svg` left by an earlier run whose findings are gone.
fn remove_stale_finding_files(dir: &Path, files: &BTreeMap<String, String>) -> Result<()> {
    let entries = fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if bundle::is_finding_file(&name) && !files.contains_key(&name) {
            fs::remove_file(entry.path())
                .with_context(|| format!("{}: cannot remove stale file", entry.path().display()))?;
        }
    }
    Ok(())
}

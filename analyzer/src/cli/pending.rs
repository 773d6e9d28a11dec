//! Calls into library functions that are still being written by others
//! (`analyzer::trace::convert::write_trace`, `analyzer::analysis::trace_stats`).
//! Until they land, the subcommands that need them fail with a clear error.

use std::io::Write;

use analyzer::analysis::AnalysisOptions;
use analyzer::model::Trace;
use analyzer::trace::Format;
use anyhow::{Result, bail};

/// Writes `trace` as `to` (see `analyzer::trace::convert::write_trace`).
pub fn write_trace(trace: &Trace, to: Format, out: &mut dyn Write) -> Result<()> {
    let _ = (trace, to, out);
    bail!("converting traces is not available in this build (analyzer::trace::convert is missing)")
}

/// One `analyzer stats` row (see `analyzer::analysis::trace_stats`).
pub fn stats_row(trace: &Trace, options: &AnalysisOptions) -> Result<[String; 8]> {
    let _ = (trace, options);
    bail!(
        "trace statistics are not available in this build (analyzer::analysis::trace_stats is missing)"
    )
}

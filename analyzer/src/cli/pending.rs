//! The call into `analyzer::trace::convert::write_trace`, which the loading work
//! has not landed yet. Until it does, `analyzer convert` fails with a clear error.

use std::io::Write;

use analyzer::model::Trace;
use analyzer::trace::Format;
use anyhow::{Result, bail};

/// Writes `trace` as `to` (see `analyzer::trace::convert::write_trace`).
pub fn write_trace(trace: &Trace, to: Format, out: &mut dyn Write) -> Result<()> {
    let _ = (trace, to, out);
    bail!("converting traces is not available in this build (analyzer::trace::convert is missing)")
}

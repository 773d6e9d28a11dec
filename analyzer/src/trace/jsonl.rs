//! JSON Lines of native records, read through `sync_trace::jsonl`.

use std::io::BufRead;
use std::path::Path;

use super::records::RecordLoader;
use super::{LoadError, LoadOptions};
use crate::model::{Position, Trace};

/// Loads a JSON Lines trace from `input`.
pub(crate) fn load(
    input: impl BufRead,
    source: &str,
    file: &Path,
    options: &LoadOptions,
) -> Result<Trace, LoadError> {
    let mut loader = RecordLoader::new(source);
    for item in sync_trace::jsonl::read_records(input) {
        match item {
            Ok((line, record)) => loader.add(record, Some(Position::Line(line))),
            Err(e) => {
                return Err(LoadError::new(
                    file,
                    Some(Position::Line(e.line)),
                    e.message,
                ));
            }
        }
    }
    if !loader.ended() {
        loader.warn(
            None,
            "no End record: the recording did not finish cleanly; the trace may be incomplete",
        );
    }
    loader.finish(file, options)
}

//! The native binary format, read through `sync_trace::codec`.

use std::io::Read;
use std::path::Path;

use sync_trace::codec::{DecodeError, TraceReader};

use super::records::RecordLoader;
use super::{LoadError, LoadOptions};
use crate::model::{Position, Trace};

/// The byte offset a decode error names.
fn offset_of(e: &DecodeError) -> u64 {
    match e {
        DecodeError::Empty | DecodeError::BadMagic => 0,
        DecodeError::TruncatedHeader { found } => *found,
        DecodeError::FutureVersion { .. } => 8,
        DecodeError::Truncated { offset, .. }
        | DecodeError::FrameTooLarge { offset, .. }
        | DecodeError::Checksum { offset }
        | DecodeError::Record { offset, .. }
        | DecodeError::Invalid { offset, .. }
        | DecodeError::Io { offset, .. } => *offset,
    }
}

/// The error's message without its own `byte N: ` prefix (the position carries it).
fn message_of(e: &DecodeError) -> String {
    let text = e.to_string();
    let prefix = format!("byte {}: ", offset_of(e));
    text.strip_prefix(&prefix)
        .map_or(text.clone(), str::to_owned)
}

fn decode_error(file: &Path, e: &DecodeError) -> LoadError {
    LoadError::new(file, Some(Position::Byte(offset_of(e))), message_of(e))
}

/// What to do with a torn end: an error, or (with `allow_truncated`) a warning.
fn truncation(
    loader: &mut RecordLoader,
    file: &Path,
    e: &DecodeError,
    options: &LoadOptions,
) -> Result<(), LoadError> {
    if !options.allow_truncated {
        return Err(LoadError::new(
            file,
            Some(Position::Byte(offset_of(e))),
            format!(
                "{} (use --allow-truncated to analyze the complete part)",
                message_of(e)
            ),
        ));
    }
    let (at, ignored) = match *e {
        DecodeError::Truncated { offset, found, .. } => (offset, found),
        DecodeError::TruncatedHeader { found } => (0, found),
        _ => (offset_of(e), 0),
    };
    loader.warn(
        Some(Position::Byte(at)),
        format!("truncated at byte {at}: {ignored} bytes of an incomplete record ignored"),
    );
    Ok(())
}

/// Loads a native trace from `input`.
pub(crate) fn load(
    input: impl Read,
    source: &str,
    file: &Path,
    options: &LoadOptions,
) -> Result<Trace, LoadError> {
    let mut loader = RecordLoader::new(source);
    let reader = match TraceReader::new(input) {
        Ok(r) => Some(r),
        Err(e) if e.is_truncation() => {
            truncation(&mut loader, file, &e, options)?;
            None
        }
        Err(e) => return Err(decode_error(file, &e)),
    };
    let mut truncated = reader.is_none();
    for item in reader.into_iter().flatten() {
        match item {
            Ok((offset, record)) => loader.add(record, Some(Position::Byte(offset))),
            Err(e) if e.is_truncation() => {
                truncation(&mut loader, file, &e, options)?;
                truncated = true;
            }
            Err(e) => return Err(decode_error(file, &e)),
        }
    }
    if !truncated && !loader.ended() {
        loader.warn(
            None,
            "no End record: the recording did not finish cleanly; the trace may be incomplete",
        );
    }
    loader.finish(file, options)
}

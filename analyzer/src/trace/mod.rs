//! Loading trace files of every supported format into the [`crate::model`].
//!
//! Native, JSON Lines, RAPID STD and RapidBin readers, format detection,
//! linearisation of per-thread batches, and well-formedness warnings.
//!
//! Every reader ends in the same model: STD and RapidBin events are already in
//! one global order and are appended as read; native and JSON Lines records
//! carry per-thread batches that `linearize` merges into one order consistent
//! with their synchronisation. `wellformed` then checks lock discipline.

pub mod convert;
mod detect;
mod foreign;
mod jsonl;
mod linearize;
mod native;
mod rapidbin;
mod records;
mod std_text;
mod wellformed;

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::model::{Position, Trace};

pub use convert::{ConvertError, ConvertReport, write_trace};

/// The input formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// instrumented-sync's binary format.
    Native,
    /// JSON Lines of native records.
    Jsonl,
    /// RAPID's STD text format.
    Std,
    /// RAPID's binary format.
    RapidBin,
}

/// How tolerant loading is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Reject ill-formed events (releases of unheld locks, …) instead of warning.
    pub strict: bool,
    /// Analyze a trace whose last frame is torn (a killed process) instead of failing.
    pub allow_truncated: bool,
    /// Skip content detection and read as this format.
    pub format: Option<Format>,
}

/// Why a trace could not be loaded. Displays as `file: position: what was expected`.
#[derive(Debug, Error)]
#[error("{}: {}{message}", file.display(), position.map(|p| format!("{p}: ")).unwrap_or_default())]
pub struct LoadError {
    /// The file.
    pub file: PathBuf,
    /// Where in it.
    pub position: Option<Position>,
    /// What was wrong and what was expected.
    pub message: String,
}

impl LoadError {
    /// An error in `file` at `position`.
    pub fn new(
        file: impl Into<PathBuf>,
        position: Option<Position>,
        message: impl Into<String>,
    ) -> LoadError {
        LoadError {
            file: file.into(),
            position,
            message: message.into(),
        }
    }
}

/// File extensions taken from directories by [`collect_inputs`].
pub const TRACE_EXTENSIONS: [&str; 5] = ["istrace", "jsonl", "std", "data", "rapidbin"];

/// The input name that means standard input.
pub const STDIN_PATH: &str = "-";

/// Expands directories (recursively, sorted) into the trace files inside them.
/// Files named explicitly are kept whatever their extension, and `-` (standard input).
pub fn collect_inputs(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut out = Vec::new();
    for path in paths {
        // `-` is standard input (read by `load_path`).
        if path.as_os_str() == STDIN_PATH {
            out.push(path.clone());
            continue;
        }
        let meta = std::fs::metadata(path).map_err(|e| io_error(path, &e))?;
        if meta.is_dir() {
            collect_dir(path, &mut out)?;
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|e| io_error(dir, &e))?;
    let mut paths = Vec::new();
    for entry in entries {
        paths.push(entry.map_err(|e| io_error(dir, &e))?.path());
    }
    // Sorted so that runs over a directory are reproducible.
    paths.sort();
    for path in paths {
        let meta = std::fs::metadata(&path).map_err(|e| io_error(&path, &e))?;
        if meta.is_dir() {
            collect_dir(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| TRACE_EXTENSIONS.contains(&e))
        {
            out.push(path);
        }
    }
    Ok(())
}

fn io_error(path: &Path, e: &std::io::Error) -> LoadError {
    let message = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => format!("cannot read: {e}"),
    };
    LoadError::new(path, None, message)
}

/// How many bytes of a file detection looks at.
const DETECT_PREFIX: usize = 4096;

/// Loads one trace file, detecting its format from its content.
pub fn load_path(path: &Path, options: &LoadOptions) -> Result<Trace, LoadError> {
    if path.as_os_str() == STDIN_PATH {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(|e| io_error(Path::new("<stdin>"), &e))?;
        return load_bytes("<stdin>", &bytes, options);
    }
    let mut file = File::open(path).map_err(|e| io_error(path, &e))?;
    let meta = file.metadata().map_err(|e| io_error(path, &e))?;
    if meta.is_dir() {
        return Err(LoadError::new(
            path,
            None,
            "is a directory, expected a trace file",
        ));
    }
    if !meta.is_file() {
        // A pipe, `/dev/stdin`, `<(zcat trace.std.gz)`: it cannot seek back after
        // the format is detected, nor be opened twice; read it whole.
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| io_error(path, &e))?;
        return load_bytes(&path.display().to_string(), &bytes, options);
    }
    let len = meta.len();
    let format = match options.format {
        Some(f) => f,
        None => {
            let mut prefix = Vec::with_capacity(DETECT_PREFIX);
            (&mut file)
                .take(DETECT_PREFIX as u64)
                .read_to_end(&mut prefix)
                .map_err(|e| io_error(path, &e))?;
            file.seek(SeekFrom::Start(0))
                .map_err(|e| io_error(path, &e))?;
            detect::detect(&prefix, len)
                .map_err(|message| LoadError::new(path, Some(Position::Byte(0)), message))?
        }
    };
    let source = path.display().to_string();
    let input = BufReader::with_capacity(1 << 16, file);
    match format {
        Format::Native => native::load(input, &source, path, options),
        Format::Jsonl => jsonl::load(input, &source, path, options),
        Format::Std if len >= std_text::PARALLEL_MIN_BYTES => {
            load_std_file(input.into_inner(), len, &source, path, options)
        }
        Format::Std => std_text::load(input, len, &source, path, options),
        Format::RapidBin => rapidbin::load(input, len, &source, path, options),
    }
}

/// Loads a large STD file (positioned at its start) on two threads: a second handle
/// reads from the first line break past [`std_text::second_part_target`]. Falls back to
/// one thread when there is no line break there within [`std_text::MAX_LINE_LEN`] bytes
/// (the sequential parse then reports the overlong line).
fn load_std_file(
    file: File,
    len: u64,
    source: &str,
    path: &Path,
    options: &LoadOptions,
) -> Result<Trace, LoadError> {
    let target = std_text::second_part_target(len);
    let mut second = File::open(path).map_err(|e| io_error(path, &e))?;
    second
        .seek(SeekFrom::Start(target))
        .map_err(|e| io_error(path, &e))?;
    let mut second = BufReader::with_capacity(1 << 16, second);
    let mut skipped = Vec::new();
    (&mut second)
        .take(std_text::MAX_LINE_LEN as u64 + 1)
        .read_until(b'\n', &mut skipped)
        .map_err(|e| io_error(path, &e))?;
    if skipped.last() != Some(&b'\n') {
        let input = BufReader::with_capacity(1 << 16, file);
        return std_text::load(input, len, source, path, options);
    }
    let first = BufReader::with_capacity(1 << 16, file.take(target + skipped.len() as u64));
    std_text::load_two_parts(first, second, len, source, path, options)
}

/// Loads a trace held in memory; `name` is used in messages. Detection as for [`load_path`].
pub fn load_bytes(name: &str, bytes: &[u8], options: &LoadOptions) -> Result<Trace, LoadError> {
    let path = Path::new(name);
    let format = match options.format {
        Some(f) => f,
        None => detect::detect(&bytes[..bytes.len().min(DETECT_PREFIX)], bytes.len() as u64)
            .map_err(|message| LoadError::new(path, Some(Position::Byte(0)), message))?,
    };
    match format {
        Format::Native => native::load(bytes, name, path, options),
        Format::Jsonl => jsonl::load(bytes, name, path, options),
        Format::Std => std_text::load_slice(bytes, name, path, options),
        Format::RapidBin => rapidbin::load(bytes, bytes.len() as u64, name, path, options),
    }
}

/// Builds a trace from native records (used in-process by instrumented-sync).
/// Positions in warnings are record indices (as [`Position::Event`] after linearisation).
pub fn from_records(
    source: &str,
    records: impl IntoIterator<Item = sync_trace::Record>,
    options: &LoadOptions,
) -> Result<Trace, LoadError> {
    let mut loader = records::RecordLoader::new(source);
    for record in records {
        loader.add(record, None);
    }
    loader.finish(Path::new(source), options)
}

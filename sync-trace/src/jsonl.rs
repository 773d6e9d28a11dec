//! JSON Lines: one [`Record`] per line, for people and other tools.

use std::io::{self, BufRead, Write};

use thiserror::Error;

use crate::record::Record;

/// A line that is not a record.
#[derive(Debug, Error)]
#[error("line {line}: {message}")]
pub struct JsonlError {
    /// 1-based line number.
    pub line: u64,
    /// What was wrong.
    pub message: String,
}

/// Writes one record as one line.
pub fn write_record(out: &mut impl Write, record: &Record) -> io::Result<()> {
    serde_json::to_writer(&mut *out, record)?;
    out.write_all(b"\n")
}

/// Reads records line by line, skipping blank lines; stops after the first error.
pub fn read_records(
    input: impl BufRead,
) -> impl Iterator<Item = Result<(u64, Record), JsonlError>> {
    let mut failed = false;
    input.lines().enumerate().filter_map(move |(i, line)| {
        if failed {
            return None;
        }
        let line_no = i as u64 + 1;
        let result = match line {
            Err(e) => Err(JsonlError {
                line: line_no,
                message: format!("read error: {e}"),
            }),
            Ok(text) if text.trim().is_empty() => return None,
            Ok(text) => serde_json::from_str(&text)
                .map(|r| (line_no, r))
                .map_err(|e| JsonlError {
                    line: line_no,
                    message: format!("expected a trace record as JSON: {e}"),
                }),
        };
        failed = result.is_err();
        Some(result)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ProcessInfo, Record};

    #[test]
    fn round_trips_and_reports_lines() {
        let mut out = Vec::new();
        write_record(
            &mut out,
            &Record::Process(ProcessInfo {
                pid: 7,
                program: "p".into(),
            }),
        )
        .unwrap();
        write_record(&mut out, &Record::End).unwrap();
        out.extend_from_slice(b"\n{not json}\n");
        let results: Vec<_> = read_records(&out[..]).collect();
        assert_eq!(results.len(), 3);
        assert_eq!(results[1].as_ref().unwrap().1, Record::End);
        assert_eq!(results[2].as_ref().unwrap_err().line, 4);
    }
}

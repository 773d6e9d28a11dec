//! JSON Lines: one [`Record`] per line, for people and other tools.

use std::io::{self, BufRead, Read, Write};

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

/// Longest accepted line, in bytes: the native frame bound
/// ([`crate::codec::MAX_FRAME_LEN`]), far above one recorder batch in JSON.
/// Longer lines are refused after reading this many bytes, so a file without
/// newlines cannot exhaust memory.
pub const MAX_LINE_LEN: usize = crate::codec::MAX_FRAME_LEN as usize;

/// Reads records line by line, skipping blank lines; stops after the first error.
pub fn read_records(
    mut input: impl BufRead,
) -> impl Iterator<Item = Result<(u64, Record), JsonlError>> {
    let mut failed = false;
    let mut line_no = 0u64;
    let mut buf = Vec::new();
    std::iter::from_fn(move || {
        while !failed {
            line_no += 1;
            buf.clear();
            // One byte past the cap tells a too-long line from one exactly at it.
            let read = (&mut input)
                .take(MAX_LINE_LEN as u64 + 1)
                .read_until(b'\n', &mut buf);
            let result = match read {
                Ok(0) => return None,
                Err(e) => Err(format!("read error: {e}")),
                Ok(_) if buf.len() > MAX_LINE_LEN && buf.last() != Some(&b'\n') => Err(format!(
                    "line longer than {MAX_LINE_LEN} bytes, expected one trace record per line"
                )),
                Ok(_) => match std::str::from_utf8(&buf) {
                    Err(e) => Err(format!("invalid UTF-8 at column {}", e.valid_up_to() + 1)),
                    Ok(text) if text.trim().is_empty() => continue,
                    Ok(text) => serde_json::from_str(text)
                        .map_err(|e| format!("expected a trace record as JSON: {e}")),
                },
            };
            failed = result.is_err();
            return Some(result.map(|r| (line_no, r)).map_err(|message| JsonlError {
                line: line_no,
                message,
            }));
        }
        None
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

//! RAPID's STD text format: one `THREAD|OP(OPERAND)|LOCATION` event per line.
//!
//! Streaming: lines are read into one reused buffer, capped at
//! [`MAX_LINE_LEN`] bytes so a file without newlines cannot exhaust memory,
//! and names are interned so a known name costs no allocation.

use std::io::BufRead;
use std::path::Path;

use super::foreign::{ForeignLoader, ForeignOp};
use super::{LoadError, LoadOptions};
use crate::model::{Position, ThreadIdx, Trace};

/// Longest accepted line, in bytes.
pub(crate) const MAX_LINE_LEN: usize = 64 * 1024;

/// How much of a bad line an error message echoes.
const ECHO_LEN: usize = 60;

/// The operations of the STD format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StdOp {
    /// `acq`.
    Acq,
    /// `rel`.
    Rel,
    /// `req`.
    Req,
    /// `r`.
    Read,
    /// `w`.
    Write,
    /// `fork`.
    Fork,
    /// `join`.
    Join,
    /// `begin`.
    Begin,
    /// `end`.
    End,
    /// `branch`.
    Branch,
    /// `wait`.
    Wait,
    /// `notify`.
    Notify,
    /// `notifyAll`.
    NotifyAll,
}

impl StdOp {
    fn from_name(name: &[u8]) -> Option<StdOp> {
        Some(match name {
            b"acq" => StdOp::Acq,
            b"rel" => StdOp::Rel,
            b"req" => StdOp::Req,
            b"r" => StdOp::Read,
            b"w" => StdOp::Write,
            b"fork" => StdOp::Fork,
            b"join" => StdOp::Join,
            b"begin" => StdOp::Begin,
            b"end" => StdOp::End,
            b"branch" => StdOp::Branch,
            b"wait" => StdOp::Wait,
            b"notify" => StdOp::Notify,
            b"notifyAll" => StdOp::NotifyAll,
            _ => return None,
        })
    }

    /// Whether the operand may be left out.
    fn operand_optional(self) -> bool {
        matches!(self, StdOp::Begin | StdOp::End | StdOp::Branch)
    }
}

/// One parsed line, borrowing from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StdLine<'a> {
    /// The thread name.
    pub thread: &'a str,
    /// The operation.
    pub op: StdOp,
    /// The operand, when written.
    pub operand: Option<&'a str>,
    /// The location id.
    pub loc: u32,
}

/// `s` as a name: non-empty UTF-8 without whitespace, `|`, `(` or `)`.
fn name(s: &[u8]) -> Option<&str> {
    if s.is_empty()
        || s.iter()
            .any(|&b| b.is_ascii_whitespace() || matches!(b, b'|' | b'(' | b')'))
    {
        return None;
    }
    std::str::from_utf8(s).ok()
}

/// Parses `THREAD|OP(OPERAND)|LOCATION` or `THREAD|OP|LOCATION`.
pub(crate) fn parse_line(line: &str) -> Option<StdLine<'_>> {
    parse_line_bytes(line.as_bytes())
}

/// [`parse_line`] over bytes: the loader parses straight out of its read buffer, and
/// only the names are checked as UTF-8 (the rest must be ASCII anyway).
pub(crate) fn parse_line_bytes(line: &[u8]) -> Option<StdLine<'_>> {
    let bar1 = line.iter().position(|&b| b == b'|')?;
    let rest = &line[bar1 + 1..];
    let bar2 = rest.iter().position(|&b| b == b'|')?;
    let (thread, op_field, loc) = (&line[..bar1], &rest[..bar2], &rest[bar2 + 1..]);
    let thread = name(thread)?;
    let (op_name, operand) = match op_field.iter().position(|&b| b == b'(') {
        Some(open) => {
            let operand = op_field[open + 1..].strip_suffix(b")")?;
            (&op_field[..open], Some(name(operand)?))
        }
        None => (op_field, None),
    };
    let op = StdOp::from_name(op_name)?;
    if operand.is_none() && !op.operand_optional() {
        return None;
    }
    // Digits only (this also rejects a fourth `|` field), fitting a u32.
    if loc.is_empty() {
        return None;
    }
    let mut value: u32 = 0;
    for &d in loc {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u32::from(d - b'0'))?;
    }
    let loc = value;
    Some(StdLine {
        thread,
        op,
        operand,
        loc,
    })
}

/// Reads one line (without its `\n`) into `buf`; `Ok(false)` at end of input.
/// Fails when the line exceeds [`MAX_LINE_LEN`] bytes, without reading the rest of it.
fn read_line_capped(input: &mut impl BufRead, buf: &mut Vec<u8>) -> Result<bool, std::io::Error> {
    buf.clear();
    let mut any = false;
    loop {
        let available = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(any);
        }
        any = true;
        let (chunk, found, used) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], true, i + 1),
            None => (available, false, available.len()),
        };
        if buf.len() + chunk.len() > MAX_LINE_LEN {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "line too long",
            ));
        }
        buf.extend_from_slice(chunk);
        input.consume(used);
        if found {
            return Ok(true);
        }
    }
}

fn echo(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(&line[..line.len().min(ECHO_LEN * 4)]);
    let mut out: String = text.chars().take(ECHO_LEN).collect();
    if out.len() < text.len() || line.len() > ECHO_LEN * 4 {
        out.push('…');
    }
    out
}

/// The thread and the model-level operation of a parsed line, interning its names.
fn resolve(
    loader: &mut ForeignLoader,
    line: &StdLine<'_>,
    fork_name: &mut String,
) -> (ThreadIdx, ForeignOp) {
    let thread = loader.thread(line.thread);
    // Operands of required-operand ops are present (checked by parse_line).
    let operand = line.operand.unwrap_or("");
    let op = match line.op {
        StdOp::Acq => ForeignOp::Acquire(loader.lock(operand)),
        StdOp::Rel => ForeignOp::Release(loader.lock(operand)),
        StdOp::Req => ForeignOp::Request(loader.lock(operand)),
        StdOp::Read => ForeignOp::Read(loader.var(operand)),
        StdOp::Write => ForeignOp::Write(loader.var(operand)),
        StdOp::Fork | StdOp::Join => {
            // A bare number `9` names thread `T9`.
            let child = if operand.bytes().all(|b| b.is_ascii_digit()) {
                fork_name.clear();
                fork_name.push('T');
                fork_name.push_str(operand);
                loader.thread(fork_name)
            } else {
                loader.thread(operand)
            };
            if line.op == StdOp::Fork {
                ForeignOp::Fork(child)
            } else {
                ForeignOp::Join(child)
            }
        }
        StdOp::Begin => ForeignOp::Begin,
        StdOp::End => ForeignOp::End,
        StdOp::Branch => ForeignOp::Branch,
        StdOp::Wait => ForeignOp::Wait(loader.lock(operand)),
        StdOp::Notify => ForeignOp::Notify(loader.lock(operand), false),
        StdOp::NotifyAll => ForeignOp::Notify(loader.lock(operand), true),
    };
    (thread, op)
}

/// Bytes per event assumed when sizing the event array from the input's length: a
/// short STD line (`T1|acq(L40)|161`) takes about 15, so this rarely falls short.
const BYTES_PER_EVENT_ESTIMATE: u64 = 14;

/// Most events reserved up front, whatever the input's length claims.
const MAX_RESERVED_EVENTS: u64 = 1 << 26;

/// How many events to reserve for an STD input of `input_len` bytes.
fn events_estimate(input_len: u64) -> usize {
    (input_len / BYTES_PER_EVENT_ESTIMATE).min(MAX_RESERVED_EVENTS) as usize
}

/// Loads an STD trace from `input`, which is about `input_len` bytes long (0 when
/// unknown): the event array is sized from it once rather than grown step by step.
pub(crate) fn load(
    mut input: impl BufRead,
    input_len: u64,
    source: &str,
    file: &Path,
    options: &LoadOptions,
) -> Result<Trace, LoadError> {
    let mut loader = ForeignLoader::new(source, file, options.strict);
    loader.reserve(events_estimate(input_len));
    let mut buf = Vec::with_capacity(256);
    let mut line_no: u64 = 0;
    let mut fork_name = String::new();
    loop {
        line_no += 1;
        let position = Position::Line(line_no);
        // Fast path: a complete, well-formed line inside the read buffer is parsed in place.
        let available = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                line_no -= 1;
                continue;
            }
            Err(e) => {
                return Err(LoadError::new(
                    file,
                    Some(position),
                    format!("read error: {e}"),
                ));
            }
        };
        if let Some(end) = available.iter().position(|&b| b == b'\n')
            && end <= MAX_LINE_LEN
            && let Some(line) = parse_line_bytes(
                available[..end]
                    .strip_suffix(b"\r")
                    .unwrap_or(&available[..end]),
            )
        {
            let (thread, op) = resolve(&mut loader, &line, &mut fork_name);
            let site = loader.site(line.loc);
            input.consume(end + 1);
            loader.event(thread, op, site, position)?;
            continue;
        }
        match read_line_capped(&mut input, &mut buf) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(LoadError::new(
                    file,
                    Some(position),
                    format!(
                        "line longer than {MAX_LINE_LEN} bytes, expected THREAD|OP(OPERAND)|LOCATION"
                    ),
                ));
            }
            Err(e) => {
                return Err(LoadError::new(
                    file,
                    Some(position),
                    format!("read error: {e}"),
                ));
            }
        }
        let bytes = buf.strip_suffix(b"\r").unwrap_or(&buf);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let Some(line) = parse_line_bytes(bytes) else {
            return Err(LoadError::new(
                file,
                Some(position),
                format!(
                    "expected THREAD|OP(OPERAND)|LOCATION, found \"{}\"",
                    echo(bytes)
                ),
            ));
        };
        let (thread, op) = resolve(&mut loader, &line, &mut fork_name);
        let site = loader.site(line.loc);
        loader.event(thread, op, site, position)?;
    }
    loader.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_grammar() {
        let l = parse_line("T0|acq(L34)|12").unwrap();
        assert_eq!(
            (l.thread, l.op, l.operand, l.loc),
            ("T0", StdOp::Acq, Some("L34"), 12)
        );
        assert_eq!(parse_line("T0|begin|0").unwrap().operand, None);
        assert!(parse_line("T0|acq|0").is_none());
        assert!(parse_line("T0|acq(L1)|x").is_none());
        assert!(parse_line("T0|acq(L1)|1|2").is_none());
        assert!(parse_line("T0|frob(L1)|1").is_none());
        assert!(parse_line("T0|acq(L1|1").is_none());
        assert!(parse_line("|acq(L1)|1").is_none());
    }

    #[test]
    fn estimates_events_from_length() {
        assert_eq!(events_estimate(0), 0);
        assert_eq!(events_estimate(140), 10);
        assert_eq!(events_estimate(u64::MAX), MAX_RESERVED_EVENTS as usize);
        // The estimate is only a capacity: a trace longer than it loads completely.
        let text = "T0|acq(L1)|1\nT0|rel(L1)|2\n".repeat(50);
        let trace = load(
            text.as_bytes(),
            14,
            "t.std",
            Path::new("t.std"),
            &LoadOptions::default(),
        )
        .unwrap();
        assert_eq!(trace.events.len(), 100);
    }

    #[test]
    fn caps_line_length() {
        let long = vec![b'x'; MAX_LINE_LEN + 10];
        let mut buf = Vec::new();
        assert!(read_line_capped(&mut &long[..], &mut buf).is_err());
        let mut input = &b"ab\r\ncd"[..];
        assert!(read_line_capped(&mut input, &mut buf).unwrap());
        assert_eq!(buf, b"ab\r");
        assert!(read_line_capped(&mut input, &mut buf).unwrap());
        assert_eq!(buf, b"cd");
        assert!(!read_line_capped(&mut input, &mut buf).unwrap());
    }
}

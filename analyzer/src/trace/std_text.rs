//! RAPID's STD text format: one `THREAD|OP(OPERAND)|LOCATION` event per line.
//!
//! Streaming: lines are read into one reused buffer, capped at
//! [`MAX_LINE_LEN`] bytes so a file without newlines cannot exhaust memory,
//! and names are interned so a known name costs no allocation.

use std::io::BufRead;
use std::path::Path;

use super::foreign::{ForeignLoader, ForeignOp};
use super::{LoadError, LoadOptions};
use crate::model::fast_hash::FastHashMap;
use crate::model::{ObjIdx, Position, SiteIdx, ThreadIdx, Trace};

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

/// Where parsed lines go: the model directly ([`ForeignLoader`]), or the second half's
/// compact records ([`PartParse`]) when a large file is parsed on two threads.
trait LineSink {
    /// One well-formed line, numbered `line_no` (1-based).
    fn line(&mut self, line: &StdLine<'_>, line_no: u64) -> Result<(), LoadError>;
}

/// Feeds `sink` every line of `input` and returns how many lines were read (blank ones
/// too). Errors name the 1-based line, counted from the start of `input`.
fn parse_lines(
    mut input: impl BufRead,
    file: &Path,
    sink: &mut impl LineSink,
) -> Result<u64, LoadError> {
    let mut buf = Vec::with_capacity(256);
    let mut line_no: u64 = 0;
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
            sink.line(&line, line_no)?;
            input.consume(end + 1);
            continue;
        }
        match read_line_capped(&mut input, &mut buf) {
            Ok(true) => {}
            Ok(false) => return Ok(line_no - 1),
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
        sink.line(&line, line_no)?;
    }
}

/// Lines straight into the model.
struct ModelSink {
    loader: ForeignLoader,
    fork_name: String,
}

impl LineSink for ModelSink {
    fn line(&mut self, line: &StdLine<'_>, line_no: u64) -> Result<(), LoadError> {
        let (thread, op) = resolve(&mut self.loader, line, &mut self.fork_name);
        let site = self.loader.site(line.loc);
        self.loader.event(thread, op, site, Position::Line(line_no))
    }
}

/// Loads an STD trace from `input`, which is about `input_len` bytes long (0 when
/// unknown): the event array is sized from it once rather than grown step by step.
pub(crate) fn load(
    input: impl BufRead,
    input_len: u64,
    source: &str,
    file: &Path,
    options: &LoadOptions,
) -> Result<Trace, LoadError> {
    let mut sink = ModelSink {
        loader: ForeignLoader::new(source, file, options.strict),
        fork_name: String::new(),
    };
    sink.loader.reserve(events_estimate(input_len));
    parse_lines(input, file, &mut sink)?;
    sink.loader.finish()
}

/// Inputs at least this long are parsed on two threads (below it, starting a thread
/// costs more than it saves).
pub(crate) const PARALLEL_MIN_BYTES: u64 = 1 << 20;

/// Where the second half starts, as a fraction of the input: this thread parses the
/// first part into the model and then replays the second part's records, which costs
/// a fraction of parsing them, so the other thread takes the larger share.
const SECOND_PART_START: f64 = 0.30;

/// The byte offset where the second part of `bytes` starts: just after the first
/// newline at or after `at`, or `None` when there is none.
pub(crate) fn split_after_newline(bytes: &[u8], at: usize) -> Option<usize> {
    let at = at.min(bytes.len());
    let i = bytes[at..].iter().position(|&b| b == b'\n')?;
    Some(at + i + 1)
}

/// Where the second part of an input of `len` bytes should start looking for a line break.
pub(crate) fn second_part_target(len: u64) -> u64 {
    (len as f64 * SECOND_PART_START) as u64
}

/// One line of the second part, with names as ids local to that part.
#[derive(Clone, Copy, Debug)]
struct PartRecord {
    thread: u32,
    /// A local object id for lock and variable operations, a local thread id for
    /// `fork`/`join`, unused otherwise.
    operand: u32,
    site: u32,
    op: StdOp,
}

/// The second part of a file, parsed without the model: each name is given a local id
/// in order of first appearance, per table (threads; locks and variables, which share
/// the model's object table; location ids), so that interning them in that order after
/// the first part gives every name the index a sequential parse gives it.
#[derive(Debug, Default)]
struct PartParse {
    records: Vec<PartRecord>,
    /// `(record index, line)` wherever a record's line is not the previous record's + 1
    /// (blank lines; the first record when the part starts with blank lines).
    line_jumps: Vec<(usize, u64)>,
    threads: Vec<String>,
    thread_ids: FastHashMap<String, u32>,
    /// Local objects: name and whether it is a variable.
    objects: Vec<(String, bool)>,
    object_ids: [FastHashMap<String, u32>; 2],
    sites: Vec<u32>,
    site_ids: FastHashMap<u32, u32>,
    /// The thread of the previous record, by name (consecutive lines mostly share it).
    last_thread: Option<(String, u32)>,
    last_line: u64,
    fork_name: String,
}

impl PartParse {
    fn thread(&mut self, name: &str) -> u32 {
        if let Some(&t) = self.thread_ids.get(name) {
            return t;
        }
        let t = self.threads.len() as u32;
        self.threads.push(name.to_owned());
        self.thread_ids.insert(name.to_owned(), t);
        t
    }

    fn object(&mut self, name: &str, var: bool) -> u32 {
        if let Some(&o) = self.object_ids[usize::from(var)].get(name) {
            return o;
        }
        let o = self.objects.len() as u32;
        self.objects.push((name.to_owned(), var));
        self.object_ids[usize::from(var)].insert(name.to_owned(), o);
        o
    }
}

impl LineSink for PartParse {
    fn line(&mut self, line: &StdLine<'_>, line_no: u64) -> Result<(), LoadError> {
        // Same interning order within a line as `resolve`: thread, operand, site.
        let thread = match &self.last_thread {
            Some((last, t)) if last == line.thread => *t,
            _ => {
                let t = self.thread(line.thread);
                let last = self.last_thread.get_or_insert_with(|| (String::new(), t));
                last.0.clear();
                last.0.push_str(line.thread);
                last.1 = t;
                t
            }
        };
        let operand_name = line.operand.unwrap_or("");
        let operand = match line.op {
            StdOp::Acq
            | StdOp::Rel
            | StdOp::Req
            | StdOp::Wait
            | StdOp::Notify
            | StdOp::NotifyAll => self.object(operand_name, false),
            StdOp::Read | StdOp::Write => self.object(operand_name, true),
            StdOp::Fork | StdOp::Join => {
                if operand_name.bytes().all(|b| b.is_ascii_digit()) {
                    let mut name = std::mem::take(&mut self.fork_name);
                    name.clear();
                    name.push('T');
                    name.push_str(operand_name);
                    let child = self.thread(&name);
                    self.fork_name = name;
                    child
                } else {
                    self.thread(operand_name)
                }
            }
            StdOp::Begin | StdOp::End | StdOp::Branch => 0,
        };
        let site = match self.site_ids.get(&line.loc) {
            Some(&s) => s,
            None => {
                let s = self.sites.len() as u32;
                self.sites.push(line.loc);
                self.site_ids.insert(line.loc, s);
                s
            }
        };
        if line_no != self.last_line + 1 {
            self.line_jumps.push((self.records.len(), line_no));
        }
        self.last_line = line_no;
        self.records.push(PartRecord {
            thread,
            operand,
            site,
            op: line.op,
        });
        Ok(())
    }
}

/// `error` with its line moved down by `lines` (it was counted from a part's start).
fn shift_line(mut error: LoadError, lines: u64) -> LoadError {
    if let Some(Position::Line(n)) = error.position {
        error.position = Some(Position::Line(n + lines));
    }
    error
}

/// Parses the second part of a file; stops at its first error, keeping the records
/// before it (the first part and those records may hold an earlier error).
fn parse_part(input: impl BufRead, file: &Path, reserve: usize) -> (PartParse, Option<LoadError>) {
    let mut part = PartParse::default();
    part.records.reserve(reserve);
    let error = parse_lines(input, file, &mut part).err();
    (part, error)
}

/// Appends the second part's records to the model after the first part's `lines` lines.
fn replay(loader: &mut ForeignLoader, part: PartParse, lines: u64) -> Result<(), LoadError> {
    let threads: Vec<ThreadIdx> = part.threads.iter().map(|n| loader.thread(n)).collect();
    let objects: Vec<u32> = part
        .objects
        .iter()
        .map(|(n, var)| {
            if *var {
                loader.var(n).0
            } else {
                loader.lock(n).0
            }
        })
        .collect();
    let sites: Vec<SiteIdx> = part.sites.iter().map(|&s| loader.site(s)).collect();
    let mut jumps = part.line_jumps.iter().peekable();
    let mut line = 0;
    for (i, r) in part.records.iter().enumerate() {
        line += 1;
        if let Some(&&(at, n)) = jumps.peek()
            && at == i
        {
            line = n;
            jumps.next();
        }
        let object = || ObjIdx(objects[r.operand as usize]);
        let op = match r.op {
            StdOp::Acq => ForeignOp::Acquire(object()),
            StdOp::Rel => ForeignOp::Release(object()),
            StdOp::Req => ForeignOp::Request(object()),
            StdOp::Read => ForeignOp::Read(object()),
            StdOp::Write => ForeignOp::Write(object()),
            StdOp::Fork => ForeignOp::Fork(threads[r.operand as usize]),
            StdOp::Join => ForeignOp::Join(threads[r.operand as usize]),
            StdOp::Begin => ForeignOp::Begin,
            StdOp::End => ForeignOp::End,
            StdOp::Branch => ForeignOp::Branch,
            StdOp::Wait => ForeignOp::Wait(object()),
            StdOp::Notify => ForeignOp::Notify(object(), false),
            StdOp::NotifyAll => ForeignOp::Notify(object(), true),
        };
        loader.event(
            threads[r.thread as usize],
            op,
            sites[r.site as usize],
            Position::Line(lines + line),
        )?;
    }
    Ok(())
}

/// Loads an STD trace from two parts split at a line break: `first` into the model on
/// this thread while `second` is parsed on another, then the second's records are
/// replayed. The result, warnings and errors (with their line numbers) are those of
/// [`load`] over the whole input.
pub(crate) fn load_two_parts(
    first: impl BufRead,
    second: impl BufRead + Send,
    input_len: u64,
    source: &str,
    file: &Path,
    options: &LoadOptions,
) -> Result<Trace, LoadError> {
    let estimate = events_estimate(input_len);
    let second_estimate = (estimate as f64 * (1.0 - SECOND_PART_START)) as usize;
    let mut sink = ModelSink {
        loader: ForeignLoader::new(source, file, options.strict),
        fork_name: String::new(),
    };
    sink.loader.reserve(estimate);
    let (first_result, (part, part_error)) = std::thread::scope(|scope| {
        let second = scope.spawn(move || parse_part(second, file, second_estimate));
        let first_result = parse_lines(first, file, &mut sink);
        let part = second
            .join()
            .unwrap_or_else(|payload| std::panic::resume_unwind(payload));
        (first_result, part)
    });
    let lines = first_result?;
    replay(&mut sink.loader, part, lines)?;
    if let Some(e) = part_error {
        return Err(shift_line(e, lines));
    }
    sink.loader.finish()
}

/// [`load`] of `bytes`, on two threads when they are at least [`PARALLEL_MIN_BYTES`] long.
pub(crate) fn load_slice(
    bytes: &[u8],
    source: &str,
    file: &Path,
    options: &LoadOptions,
) -> Result<Trace, LoadError> {
    let len = bytes.len() as u64;
    let split = (len >= PARALLEL_MIN_BYTES)
        .then(|| split_after_newline(bytes, second_part_target(len) as usize))
        .flatten();
    match split {
        Some(at) => load_two_parts(&bytes[..at], &bytes[at..], len, source, file, options),
        None => load(bytes, len, source, file, options),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::PathBuf;

    /// A load's outcome in comparable form: the trace, or the error's file, position and message.
    fn outcome(r: Result<Trace, LoadError>) -> Result<Trace, (PathBuf, Option<Position>, String)> {
        r.map_err(|e| (e.file, e.position, e.message))
    }

    /// One random STD line: mostly events (including monitor waits, forks by number,
    /// optional operands), some blank, CRLF-ended or malformed.
    fn std_line() -> impl Strategy<Value = String> {
        let thread = prop_oneof![Just("T0"), Just("T1"), Just("T2"), Just("main")];
        let op = prop_oneof![
            Just("acq(L0)"),
            Just("acq(L1)"),
            Just("rel(L0)"),
            Just("rel(L1)"),
            Just("req(L1)"),
            Just("r(V0)"),
            Just("w(L0)"),
            Just("w(V1)"),
            Just("fork(1)"),
            Just("fork(T2)"),
            Just("join(2)"),
            Just("begin"),
            Just("end(x)"),
            Just("branch"),
            Just("wait(L0)"),
            Just("notify(L0)"),
            Just("notifyAll(L1)"),
        ];
        prop_oneof![
            8 => (thread, op, 0u32..6).prop_map(|(t, o, l)| format!("{t}|{o}|{l}")),
            1 => prop_oneof![Just(""), Just("  "), Just("T1|acq(L1)|2\r")].prop_map(str::to_owned),
            1 => prop_oneof![Just("T0|acq|1"), Just("garbage"), Just("T0|frob(L1)|1")]
                .prop_map(str::to_owned),
        ]
    }

    proptest! {
        /// Parsing a text as two parts split at any line break gives exactly the sequential
        /// load: the same trace (names interned in the same order, warnings at the same
        /// lines) or the same error at the same line.
        #[test]
        fn two_parts_equal_sequential(
            lines in proptest::collection::vec(std_line(), 0..40),
            strict in any::<bool>(),
            final_newline in any::<bool>(),
        ) {
            let mut text = lines.join("\n");
            if final_newline {
                text.push('\n');
            }
            let bytes = text.as_bytes();
            let options = LoadOptions { strict, ..LoadOptions::default() };
            let file = Path::new("t.std");
            let expected = outcome(load(bytes, 0, "t.std", file, &options));
            let mut splits: Vec<usize> = vec![0];
            splits.extend(
                bytes.iter().enumerate().filter(|&(_, &b)| b == b'\n').map(|(i, _)| i + 1),
            );
            for at in splits {
                let got = outcome(load_two_parts(
                    &bytes[..at], &bytes[at..], 0, "t.std", file, &options,
                ));
                prop_assert_eq!(&got, &expected, "split at byte {}", at);
            }
        }
    }

    #[test]
    fn splits_after_a_newline() {
        assert_eq!(split_after_newline(b"ab\ncd\n", 1), Some(3));
        assert_eq!(split_after_newline(b"ab\ncd\n", 3), Some(6));
        assert_eq!(split_after_newline(b"ab\ncd", 3), None);
        assert_eq!(split_after_newline(b"ab", 9), None);
    }

    /// A file past the threshold goes through both the file and the in-memory two-part
    /// loaders, and both equal the one-thread load (an error in the second part keeps
    /// its line number).
    #[test]
    fn large_inputs_load_in_two_parts() {
        let mut text = String::new();
        for i in 0..120_000 {
            let t = i % 3;
            text.push_str(&format!(
                "T{t}|acq(L{})|{}\nT{t}|rel(L{})|7\n",
                i % 5,
                i % 11,
                i % 5
            ));
        }
        assert!(text.len() as u64 >= PARALLEL_MIN_BYTES);
        let options = LoadOptions::default();
        let file = Path::new("big.std");
        let sequential = load(text.as_bytes(), 0, "big.std", file, &options).unwrap();
        let sliced = load_slice(text.as_bytes(), "big.std", file, &options).unwrap();
        assert_eq!(sliced, sequential);
        let dir = std::env::temp_dir().join(format!("std-two-parts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("big.std");
        std::fs::write(&path, &text).unwrap();
        let from_file = crate::trace::load_path(&path, &options).unwrap();
        assert_eq!(from_file.events, sequential.events);
        assert_eq!(from_file.objects, sequential.objects);
        assert_eq!(from_file.threads, sequential.threads);
        // A bad line near the end: found by the second part, reported at its line.
        let bad = format!("{text}T0|acq(L1)|1\nnot an event\n");
        std::fs::write(&path, &bad).unwrap();
        let e = crate::trace::load_path(&path, &options).unwrap_err();
        assert_eq!(e.position, Some(Position::Line(240_002)));
        assert!(e.message.contains("not an event"), "{}", e.message);
        std::fs::remove_dir_all(&dir).unwrap();
    }

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

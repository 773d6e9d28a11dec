//! RAPID's binary format (big-endian): an 18-byte header (`i16` threads,
//! `i32` locks, `i32` variables, `i64` events), then one `i64` per event with
//! bit fields: thread 0–9, op 10–13, operand 14–47, location 48–62.
//!
//! Names follow the STD twins of the shared traces (`T<n>`, `L<n>`, `V<n>`),
//! so a RapidBin file and its STD decoding load to the same model.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;

use super::foreign::{ForeignLoader, ForeignOp};
use super::{LoadError, LoadOptions};
use crate::model::{Position, ThreadIdx, Trace};

/// Size of the header in bytes.
pub(crate) const HEADER_LEN: u64 = 18;

/// The op codes, in bit-field order.
const OPS: [&str; 10] = [
    "acq", "rel", "r", "w", "fork", "join", "begin", "end", "req", "branch",
];

struct Header {
    threads: i16,
    locks: i32,
    vars: i32,
    events: i64,
}

fn parse_header(b: &[u8]) -> Header {
    Header {
        threads: i16::from_be_bytes([b[0], b[1]]),
        locks: i32::from_be_bytes([b[2], b[3], b[4], b[5]]),
        vars: i32::from_be_bytes([b[6], b[7], b[8], b[9]]),
        events: i64::from_be_bytes(b[10..18].try_into().expect("8 bytes")),
    }
}

/// Whether a file starting with `prefix` of length `len` looks like RapidBin:
/// non-negative counts, at most 1024 threads (10 bits), and either exactly
/// `8 * events` bytes after the header or a shorter (truncated) file whose
/// first event is plausible.
pub(crate) fn plausible_header(prefix: &[u8], len: u64) -> bool {
    if prefix.len() < HEADER_LEN as usize {
        return false;
    }
    let h = parse_header(prefix);
    if h.threads <= 0 || h.threads > 1024 || h.locks < 0 || h.vars < 0 || h.events < 0 {
        return false;
    }
    let body = len.saturating_sub(HEADER_LEN);
    let events = h.events as u64;
    if events.checked_mul(8) == Some(body) {
        return true;
    }
    // A truncated file: let the reader name the offset, but only when the
    // first event decodes to a declared thread and a known op.
    body < events.saturating_mul(8) && prefix.len() >= HEADER_LEN as usize + 8 && {
        let e = u64::from_be_bytes(prefix[18..26].try_into().expect("8 bytes"));
        (e & 0x3ff) < h.threads as u64 && ((e >> 10) & 0xf) < OPS.len() as u64
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Interned names by number, formatted only on first use.
struct Names {
    threads: Vec<Option<ThreadIdx>>,
    locks: HashMap<u64, crate::model::ObjIdx>,
    vars: HashMap<u64, crate::model::ObjIdx>,
    scratch: String,
}

impl Names {
    fn name(&mut self, prefix: char, n: u64) -> &str {
        self.scratch.clear();
        let _ = write!(self.scratch, "{prefix}{n}");
        &self.scratch
    }

    fn thread(&mut self, loader: &mut ForeignLoader, n: u64) -> ThreadIdx {
        let i = n as usize;
        if let Some(Some(t)) = self.threads.get(i) {
            return *t;
        }
        let t = loader.thread(self.name('T', n));
        if i < 1 << 16 {
            if self.threads.len() <= i {
                self.threads.resize(i + 1, None);
            }
            self.threads[i] = Some(t);
        }
        t
    }

    fn lock(&mut self, loader: &mut ForeignLoader, n: u64) -> crate::model::ObjIdx {
        if let Some(&o) = self.locks.get(&n) {
            return o;
        }
        let o = loader.lock(self.name('L', n));
        self.locks.insert(n, o);
        o
    }

    fn var(&mut self, loader: &mut ForeignLoader, n: u64) -> crate::model::ObjIdx {
        if let Some(&o) = self.vars.get(&n) {
            return o;
        }
        let o = loader.var(self.name('V', n));
        self.vars.insert(n, o);
        o
    }
}

/// Loads a RapidBin trace of `len` bytes from `input`.
pub(crate) fn load(
    mut input: impl Read,
    len: u64,
    source: &str,
    file: &Path,
    options: &LoadOptions,
) -> Result<Trace, LoadError> {
    let err =
        |offset: u64, message: String| LoadError::new(file, Some(Position::Byte(offset)), message);
    let mut header = [0u8; HEADER_LEN as usize];
    let n = read_full(&mut input, &mut header).map_err(|e| err(0, format!("read error: {e}")))?;
    if n < header.len() {
        return Err(err(
            n as u64,
            format!("truncated RapidBin header, expected {HEADER_LEN} bytes but the file has {n}"),
        ));
    }
    let h = parse_header(&header);
    if h.threads < 0 || h.locks < 0 || h.vars < 0 || h.events < 0 {
        return Err(err(
            0,
            format!(
                "RapidBin header has negative counts (threads {}, locks {}, variables {}, events {})",
                h.threads, h.locks, h.vars, h.events
            ),
        ));
    }
    let claimed = h.events as u64;
    let mut loader = ForeignLoader::new(source, file, options.strict);
    // Never trust the claimed count for allocation: the bytes present bound it.
    let remaining = len.saturating_sub(HEADER_LEN) / 8;
    loader.reserve(claimed.min(remaining) as usize);
    let mut names = Names {
        threads: Vec::new(),
        locks: HashMap::new(),
        vars: HashMap::new(),
        scratch: String::new(),
    };
    let mut word = [0u8; 8];
    for i in 0..claimed {
        let offset = HEADER_LEN + 8 * i;
        let got = read_full(&mut input, &mut word)
            .map_err(|e| err(offset, format!("read error: {e}")))?;
        if got < 8 {
            return Err(err(
                offset + got as u64,
                format!(
                    "truncated RapidBin event {} of {claimed}: expected 8 bytes at byte {offset}, found {got}",
                    i + 1
                ),
            ));
        }
        let e = u64::from_be_bytes(word);
        let thread_no = e & 0x3ff;
        let code = ((e >> 10) & 0xf) as usize;
        let operand = (e >> 14) & ((1 << 34) - 1);
        let loc = ((e >> 48) & 0x7fff) as u32;
        let Some(&op_name) = OPS.get(code) else {
            return Err(err(
                offset,
                format!(
                    "RapidBin event {} has op code {code}, expected 0 to 9",
                    i + 1
                ),
            ));
        };
        let position = Position::Byte(offset);
        let thread = names.thread(&mut loader, thread_no);
        let site = loader.site(loc);
        let op = match op_name {
            "acq" => ForeignOp::Acquire(names.lock(&mut loader, operand)),
            "rel" => ForeignOp::Release(names.lock(&mut loader, operand)),
            "req" => ForeignOp::Request(names.lock(&mut loader, operand)),
            "r" => ForeignOp::Read(names.var(&mut loader, operand)),
            "w" => ForeignOp::Write(names.var(&mut loader, operand)),
            "fork" => ForeignOp::Fork(names.thread(&mut loader, operand)),
            "join" => ForeignOp::Join(names.thread(&mut loader, operand)),
            "begin" => ForeignOp::Begin,
            "end" => ForeignOp::End,
            _ => ForeignOp::Branch,
        };
        loader.event(thread, op, site, position)?;
    }
    let end = HEADER_LEN + 8 * claimed;
    let mut rest = [0u8; 1];
    if read_full(&mut input, &mut rest).map_err(|e| err(end, format!("read error: {e}")))? > 0 {
        loader.warn(
            Position::Byte(end),
            format!("bytes after the {claimed} events the RapidBin header declares are ignored"),
        );
    }
    loader.finish()
}

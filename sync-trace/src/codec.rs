//! The native binary trace format (see `FORMAT.md` at the repository root).
//!
//! ```text
//! header : magic (8 bytes: 89 'I' 'S' 'T' 'R' 0D 0A 1A) · version u16 LE · flags u16 LE
//! frame* : length u32 LE · crc32 u32 LE (of the payload) · payload
//! ```
//!
//! Version 2 (written) lays payloads out by hand ([`crate::wire`]): fixed-width
//! 16-byte events with dense ids. Version 1 (still read) holds one
//! postcard-encoded [`Record`] per payload.
//!
//! Each frame is written with one `write_all` call, so a process killed at any
//! moment leaves a file whose complete frames are all readable; a torn last
//! frame is reported as [`DecodeError::Truncated`] with its offset.

use std::collections::HashMap;
use std::io::{self, Read, Write};

use thiserror::Error;

use crate::event::{Event, ObjectId, Op, SiteId, ThreadId};
use crate::record::{ObjectInfo, ProcessInfo, Record, Site, ThreadInfo};
use crate::wire::{self, WireError, WireEvent, WireRecord};

/// The first eight bytes of every native trace file.
pub const MAGIC: [u8; 8] = [0x89, b'I', b'S', b'T', b'R', b'\r', b'\n', 0x1a];
/// The format version this crate writes, and the newest it reads.
pub const VERSION: u16 = 2;
/// Size of the file header in bytes.
pub const HEADER_LEN: u64 = 12;
/// Frames larger than this are treated as corruption rather than allocated.
pub const MAX_FRAME_LEN: u32 = 64 << 20;

/// Why a trace could not be decoded. Every variant names the byte offset.
#[derive(Debug, Error)]
pub enum DecodeError {
    /// The file has no bytes at all.
    #[error("byte 0: empty file, expected a trace header")]
    Empty,
    /// The magic number is missing.
    #[error(
        "byte 0: not an instrumented-sync trace (expected the magic bytes 89 49 53 54 52 0D 0A 1A)"
    )]
    BadMagic,
    /// The file ends inside the header.
    #[error("byte {found}: truncated header, expected {HEADER_LEN} bytes")]
    TruncatedHeader {
        /// How many bytes there were.
        found: u64,
    },
    /// Written by a newer version of the format.
    #[error(
        "byte 8: trace format version {found} is newer than this reader supports (version {VERSION}); upgrade the analyzer"
    )]
    FutureVersion {
        /// The version in the header.
        found: u16,
    },
    /// The file ends inside a frame.
    #[error(
        "byte {offset}: truncated frame, expected {expected} bytes but the file ends after {found} (the recording process probably died)"
    )]
    Truncated {
        /// Where the torn frame starts.
        offset: u64,
        /// Bytes the frame should have (including its 8-byte frame header).
        expected: u64,
        /// Bytes actually present.
        found: u64,
    },
    /// A frame length beyond [`MAX_FRAME_LEN`].
    #[error(
        "byte {offset}: frame length {len} exceeds the maximum of {MAX_FRAME_LEN} bytes; the file is corrupt"
    )]
    FrameTooLarge {
        /// Where the frame starts.
        offset: u64,
        /// The claimed length.
        len: u32,
    },
    /// The checksum does not match the payload.
    #[error("byte {offset}: frame checksum mismatch; the file is corrupt")]
    Checksum {
        /// Where the frame starts.
        offset: u64,
    },
    /// The payload is not a valid record.
    #[error("byte {offset}: undecodable record: {source}")]
    Record {
        /// Where the frame starts.
        offset: u64,
        /// The decoder's complaint.
        source: postcard::Error,
    },
    /// A version-2 payload that is not a valid record.
    #[error("byte {offset}: undecodable record: {source}")]
    Invalid {
        /// Where the frame starts.
        offset: u64,
        /// What is wrong with it.
        source: WireError,
    },
    /// Reading failed.
    #[error("byte {offset}: read error: {source}")]
    Io {
        /// How far reading got.
        offset: u64,
        /// The I/O error.
        source: io::Error,
    },
}

impl DecodeError {
    /// Whether this error only means the file ends early, which a killed process causes.
    pub fn is_truncation(&self) -> bool {
        matches!(
            self,
            DecodeError::Truncated { .. } | DecodeError::TruncatedHeader { .. }
        )
    }
}

/// Whether `bytes` (the start of a file) look like a native trace.
pub fn has_magic(bytes: &[u8]) -> bool {
    bytes.len() >= MAGIC.len() && bytes[..MAGIC.len()] == MAGIC
}

/// Writes a native trace in the current format (version 2): the header on
/// creation, then one frame per record.
///
/// The caller's thread, object and site ids may be any numbers: the writer
/// numbers them densely in order of first use (as the format requires),
/// declares each before the first frame that uses it, and keeps the caller's
/// id in the declaration, so a [`TraceReader`] gives back the records as written.
pub struct TraceWriter<W: Write> {
    out: W,
    scratch: Vec<u8>,
    slots: Vec<u8>,
    ids: DenseIds,
}

/// The dense id of `key` in `map` (numbered from `first` in order of first
/// use), and whether it is new.
fn dense_id<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, u32>,
    key: K,
    first: usize,
    what: &str,
) -> io::Result<(u32, bool)> {
    if let Some(&d) = map.get(&key) {
        return Ok((d, false));
    }
    let d = u32::try_from(map.len() + first).map_err(|_| too_many(what))?;
    map.insert(key, d);
    Ok((d, true))
}

/// The writer's map from the caller's ids to dense ids.
#[derive(Default)]
struct DenseIds {
    threads: HashMap<u32, u32>,
    objects: HashMap<u64, u32>,
    /// Site 0 (unknown) is always dense 0 and never declared.
    sites: HashMap<u32, u32>,
}

/// Too many distinct ids of one kind for 32-bit dense ids.
fn too_many(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("more than 2^32 distinct {what} ids in one trace"),
    )
}

impl<W: Write> TraceWriter<W> {
    /// Writes the header to `out`.
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(&header(VERSION))?;
        Ok(TraceWriter {
            out,
            scratch: Vec::with_capacity(4096),
            slots: Vec::new(),
            ids: DenseIds::default(),
        })
    }

    /// Writes one payload (in `self.scratch`) as a frame, with one `write_all` call.
    fn emit(&mut self, record: &WireRecord<'_>) -> io::Result<()> {
        self.scratch.clear();
        self.scratch.extend_from_slice(&[0u8; 8]);
        wire::write_record(record, &mut self.scratch);
        seal_frame(&mut self.scratch)?;
        self.out.write_all(&self.scratch)
    }

    fn thread(&mut self, id: ThreadId) -> io::Result<(u32, bool)> {
        dense_id(&mut self.ids.threads, id.0, 0, "thread")
    }

    /// The dense id of thread `id`, declared first if new.
    fn declared_thread(&mut self, id: ThreadId) -> io::Result<u32> {
        let (dense, new) = self.thread(id)?;
        if new {
            self.emit(&WireRecord::Thread {
                dense,
                original: id.0,
                name: None,
            })?;
        }
        Ok(dense)
    }

    fn object(&mut self, id: ObjectId) -> io::Result<(u32, bool)> {
        dense_id(&mut self.ids.objects, id.0, 0, "object")
    }

    fn declared_object(&mut self, id: ObjectId) -> io::Result<u32> {
        let (dense, new) = self.object(id)?;
        if new {
            self.emit(&WireRecord::Object {
                dense,
                original: id.0,
                description: None,
            })?;
        }
        Ok(dense)
    }

    fn site(&mut self, id: SiteId) -> io::Result<(u32, bool)> {
        if id == SiteId::UNKNOWN {
            return Ok((0, false));
        }
        // Dense 0 is the unknown site, so known sites start at 1.
        dense_id(&mut self.ids.sites, id.0, 1, "site")
    }

    fn declared_site(&mut self, id: SiteId) -> io::Result<u32> {
        let (dense, new) = self.site(id)?;
        if new {
            self.emit(&WireRecord::Site {
                dense,
                original: id.0,
                place: None,
            })?;
        }
        Ok(dense)
    }

    /// `op` with every id replaced by its dense id (declaring new ones).
    fn dense_op(&mut self, op: Op) -> io::Result<Op> {
        let obj = |w: &mut Self, o: ObjectId| w.declared_object(o).map(|d| ObjectId(u64::from(d)));
        Ok(match op {
            Op::Request { lock, mode } => Op::Request {
                lock: obj(self, lock)?,
                mode,
            },
            Op::Acquire {
                lock,
                mode,
                attempt,
                seq,
            } => Op::Acquire {
                lock: obj(self, lock)?,
                mode,
                attempt,
                seq,
            },
            Op::TryFailed { lock, mode } => Op::TryFailed {
                lock: obj(self, lock)?,
                mode,
            },
            Op::Release { lock, mode, seq } => Op::Release {
                lock: obj(self, lock)?,
                mode,
                seq,
            },
            Op::CondWait {
                condvar,
                lock,
                timed,
            } => Op::CondWait {
                condvar: obj(self, condvar)?,
                lock: obj(self, lock)?,
                timed,
            },
            Op::CondWake {
                condvar,
                notified_seen,
                timed_out,
            } => Op::CondWake {
                condvar: obj(self, condvar)?,
                notified_seen,
                timed_out,
            },
            Op::Notify { condvar, all, seq } => Op::Notify {
                condvar: obj(self, condvar)?,
                all,
                seq,
            },
            Op::BarrierArrive {
                barrier,
                generation,
            } => Op::BarrierArrive {
                barrier: obj(self, barrier)?,
                generation,
            },
            Op::BarrierDepart {
                barrier,
                generation,
            } => Op::BarrierDepart {
                barrier: obj(self, barrier)?,
                generation,
            },
            Op::Send { channel, seq } => Op::Send {
                channel: obj(self, channel)?,
                seq,
            },
            Op::Recv { channel, seq } => Op::Recv {
                channel: obj(self, channel)?,
                seq,
            },
            Op::Fork { child } => Op::Fork {
                child: ThreadId(self.declared_thread(child)?),
            },
            Op::Join { child } => Op::Join {
                child: ThreadId(self.declared_thread(child)?),
            },
            Op::Begin => Op::Begin,
            Op::End => Op::End,
            Op::Access {
                var,
                write,
                order,
                version,
            } => Op::Access {
                var: obj(self, var)?,
                write,
                order,
                version,
            },
        })
    }

    /// Appends one record (after the declarations of any ids it uses first).
    pub fn write(&mut self, record: &Record) -> io::Result<()> {
        match record {
            Record::Site(s) => {
                let (dense, _) = self.site(s.id)?;
                self.emit(&WireRecord::Site {
                    dense,
                    original: s.id.0,
                    place: Some((&s.file, s.line, s.column)),
                })
            }
            Record::Thread(t) => {
                let (dense, _) = self.thread(t.id)?;
                self.emit(&WireRecord::Thread {
                    dense,
                    original: t.id.0,
                    name: Some(t.name.as_deref()),
                })
            }
            Record::Object(o) => {
                let class = self.declared_site(o.class)?;
                let (dense, _) = self.object(o.id)?;
                self.emit(&WireRecord::Object {
                    dense,
                    original: o.id.0,
                    description: Some((o.kind, class, o.name.as_deref())),
                })
            }
            Record::Events { thread, events } => {
                let thread = self.declared_thread(*thread)?;
                let mut dense = Vec::with_capacity(events.len());
                for e in events {
                    let op = self.dense_op(e.op)?;
                    let site = SiteId(self.declared_site(e.site)?);
                    dense.push(Event { op, site });
                }
                let mut slots = std::mem::take(&mut self.slots);
                slots.clear();
                if let Err(e) = encode_slots(&dense, &mut slots) {
                    self.slots = slots;
                    return Err(e);
                }
                let result = self.emit(&WireRecord::Events {
                    thread,
                    slots: &slots,
                });
                self.slots = slots;
                result
            }
            other => {
                let mut slots = Vec::new();
                self.emit(&wire_record(other, &mut slots)?)
            }
        }
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Returns the underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// The 12-byte file header of `version`.
pub fn header(version: u16) -> [u8; HEADER_LEN as usize] {
    let mut header = [0u8; HEADER_LEN as usize];
    header[..8].copy_from_slice(&MAGIC);
    header[8..10].copy_from_slice(&version.to_le_bytes());
    header
}

/// Event slots for `events` (ids taken as dense), fusing an uncontended
/// `Request` + `Acquire` pair into one slot. An event whose values do not fit
/// a slot is refused (nothing is truncated).
fn encode_slots(events: &[Event], out: &mut Vec<u8>) -> io::Result<()> {
    let unfit = |i: usize, e: WireError| {
        io::Error::new(io::ErrorKind::InvalidData, format!("event {i}: {e}"))
    };
    let mut i = 0;
    while i < events.len() {
        let fused = match events.get(i + 1) {
            Some(next) => wire::fuses(&events[i], next).map_err(|e| unfit(i + 1, e))?,
            None => None,
        };
        if let Some(fused) = fused {
            out.extend_from_slice(&fused.to_bytes());
            i += 2;
        } else {
            let slot = WireEvent::from_op(events[i].op, events[i].site).map_err(|e| unfit(i, e))?;
            out.extend_from_slice(&slot.to_bytes());
            i += 1;
        }
    }
    Ok(())
}

/// `record` as a v2 record with its ids taken as dense ids (`slots` holds event slots).
fn wire_record<'a>(record: &'a Record, slots: &'a mut Vec<u8>) -> io::Result<WireRecord<'a>> {
    Ok(match record {
        Record::Process(p) => WireRecord::Process {
            pid: p.pid,
            program: &p.program,
        },
        Record::Site(s) => WireRecord::Site {
            dense: s.id.0,
            original: s.id.0,
            place: Some((&s.file, s.line, s.column)),
        },
        Record::Thread(t) => WireRecord::Thread {
            dense: t.id.0,
            original: t.id.0,
            name: Some(t.name.as_deref()),
        },
        Record::Object(o) => WireRecord::Object {
            dense: u32::try_from(o.id.0).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "object id {} is not dense (use TraceWriter to renumber)",
                        o.id.0
                    ),
                )
            })?,
            original: o.id.0,
            description: Some((o.kind, o.class.0, o.name.as_deref())),
        },
        Record::Events { thread, events } => {
            slots.clear();
            encode_slots(events, slots)?;
            WireRecord::Events {
                thread: thread.0,
                slots,
            }
        }
        Record::Observed {
            kind,
            message,
            json,
        } => WireRecord::Observed {
            kind,
            message,
            json,
        },
        Record::End => WireRecord::End,
    })
}

/// Fills in the length and CRC of a frame built as 8 placeholder bytes and a payload.
pub fn seal_frame(buf: &mut [u8]) -> io::Result<()> {
    let payload_len = u32::try_from(buf.len() - 8)
        .ok()
        .filter(|&n| n <= MAX_FRAME_LEN)
        .ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "record too large for one frame")
        })?;
    let crc = crc32fast::hash(&buf[8..]);
    buf[..4].copy_from_slice(&payload_len.to_le_bytes());
    buf[4..8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// Encodes `record` as a complete version-2 frame into `buf` (cleared first),
/// taking its ids as the file's dense ids: for writers that number threads,
/// objects and sites densely themselves (the recorder). Others use [`TraceWriter`].
pub fn encode_frame(record: &Record, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut slots = Vec::new();
    let wire = wire_record(record, &mut slots)?;
    buf.clear();
    buf.extend_from_slice(&[0u8; 8]);
    wire::write_record(&wire, buf);
    seal_frame(buf)
}

/// Encodes `record` as a complete version-1 (postcard) frame into `buf`, for
/// tests and tools that need the old format.
pub fn encode_frame_v1(record: &Record, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    buf.extend_from_slice(&[0u8; 8]);
    let encoded = postcard::to_extend(record, std::mem::take(buf))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    *buf = encoded;
    seal_frame(buf)
}

/// Writes version-1 files (postcard records), for tests and tools that need the old format.
pub struct TraceWriterV1<W: Write> {
    out: W,
    scratch: Vec<u8>,
}

impl<W: Write> TraceWriterV1<W> {
    /// Writes a version-1 header to `out`.
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(&header(1))?;
        Ok(TraceWriterV1 {
            out,
            scratch: Vec::new(),
        })
    }

    /// Appends one record as a frame.
    pub fn write(&mut self, record: &Record) -> io::Result<()> {
        encode_frame_v1(record, &mut self.scratch)?;
        self.out.write_all(&self.scratch)
    }

    /// Returns the underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Reads the frames of a native trace: checks the header, then each frame's
/// length and checksum, and hands out payloads as slices of its own buffer.
///
/// It reads the input in chunks of [`READ_CHUNK`] bytes, so a `BufReader`
/// underneath passes reads straight through instead of copying every frame
/// through its own smaller buffer first.
pub struct FrameReader<R: Read> {
    input: R,
    /// File offset of `buf[pos]`.
    offset: u64,
    /// Bytes read and not yet consumed are `buf[pos..end]`.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    eof: bool,
    version: u16,
}

/// How many bytes a [`FrameReader`] asks its input for at a time (and by how
/// much its buffer grows while a large frame arrives, so a frame length that
/// lies costs no memory the input does not fill).
pub const READ_CHUNK: usize = 1 << 20;

impl<R: Read> FrameReader<R> {
    /// Reads and checks the header.
    pub fn new(mut input: R) -> Result<Self, DecodeError> {
        let mut header = [0u8; HEADER_LEN as usize];
        let n = read_full(&mut input, &mut header)
            .map_err(|source| DecodeError::Io { offset: 0, source })?;
        if n == 0 {
            return Err(DecodeError::Empty);
        }
        if !header[..n.min(8)].iter().zip(MAGIC).all(|(a, b)| *a == b) {
            return Err(DecodeError::BadMagic);
        }
        if n < header.len() {
            return Err(DecodeError::TruncatedHeader { found: n as u64 });
        }
        let version = u16::from_le_bytes([header[8], header[9]]);
        if version > VERSION {
            return Err(DecodeError::FutureVersion { found: version });
        }
        Ok(FrameReader {
            input,
            offset: HEADER_LEN,
            buf: Vec::new(),
            pos: 0,
            end: 0,
            eof: false,
            version,
        })
    }

    /// The format version from the header (0 and 1 are both read as version 1).
    pub fn version(&self) -> u16 {
        self.version
    }

    /// The offset of the next frame (after the last: how many bytes were read cleanly).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads until `need` unconsumed bytes are buffered or the input ends.
    fn fill(&mut self, need: usize) -> io::Result<()> {
        if self.end - self.pos >= need || self.eof {
            return Ok(());
        }
        // Move the unconsumed tail to the front once it is past the first half.
        if self.pos > 0 && (self.pos >= self.buf.len() / 2 || self.buf.len() - self.pos < need) {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        while self.end - self.pos < need {
            if self.buf.len() - self.end < READ_CHUNK / 2 {
                let target = (self.pos + need).max(READ_CHUNK).min(self.end + READ_CHUNK);
                if target > self.buf.len() {
                    self.buf.resize(target, 0);
                }
            }
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The next frame's offset and payload, `None` at a clean end of file.
    pub fn next_frame(&mut self) -> Result<Option<(u64, &[u8])>, DecodeError> {
        let start = self.offset;
        let io_err = |source| DecodeError::Io {
            offset: start,
            source,
        };
        self.fill(8).map_err(io_err)?;
        let avail = self.end - self.pos;
        if avail == 0 {
            return Ok(None);
        }
        if avail < 8 {
            return Err(DecodeError::Truncated {
                offset: start,
                expected: 8,
                found: avail as u64,
            });
        }
        let h = &self.buf[self.pos..self.pos + 8];
        let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        if len > MAX_FRAME_LEN {
            return Err(DecodeError::FrameTooLarge { offset: start, len });
        }
        let total = 8 + len as usize;
        self.fill(total).map_err(io_err)?;
        let avail = self.end - self.pos;
        if avail < total {
            return Err(DecodeError::Truncated {
                offset: start,
                expected: total as u64,
                found: avail as u64,
            });
        }
        let payload = self.pos + 8..self.pos + total;
        if crc32fast::hash(&self.buf[payload.clone()]) != crc {
            return Err(DecodeError::Checksum { offset: start });
        }
        self.pos += total;
        self.offset = start + total as u64;
        Ok(Some((start, &self.buf[payload])))
    }
}

/// The dense-to-caller id tables of a v2 file being read back as records.
#[derive(Default)]
struct CallerIds {
    threads: Vec<Option<u32>>,
    objects: Vec<Option<u64>>,
    sites: Vec<Option<u32>>,
}

/// Checks that `id` is dense enough at `offset`.
fn dense(what: &'static str, id: u64, offset: u64) -> Result<usize, WireError> {
    let max = wire::max_dense_id(offset);
    if id > max {
        return Err(WireError::NotDense { what, id, max });
    }
    Ok(id as usize)
}

/// Records `original` as the caller's id of dense `id` in `table`.
fn declare<T: Copy>(
    table: &mut Vec<Option<T>>,
    what: &'static str,
    id: u64,
    original: T,
    offset: u64,
) -> Result<(), WireError> {
    let i = dense(what, id, offset)?;
    if i >= table.len() {
        table.resize(i + 1, None);
    }
    table[i] = Some(original);
    Ok(())
}

/// The caller's id of dense `id` (an undeclared id is its own).
fn caller<T: Copy>(
    table: &[Option<T>],
    what: &'static str,
    id: u64,
    offset: u64,
    same: impl Fn(u64) -> T,
) -> Result<T, WireError> {
    let i = dense(what, id, offset)?;
    Ok(table.get(i).copied().flatten().unwrap_or_else(|| same(id)))
}

impl CallerIds {
    fn object(&self, id: ObjectId, offset: u64) -> Result<ObjectId, WireError> {
        caller(&self.objects, "object", id.0, offset, |x| x).map(ObjectId)
    }

    fn thread(&self, id: u64, offset: u64) -> Result<ThreadId, WireError> {
        caller(&self.threads, "thread", id, offset, |x| x as u32).map(ThreadId)
    }

    fn site(&self, id: u32, offset: u64) -> Result<SiteId, WireError> {
        caller(&self.sites, "site", u64::from(id), offset, |x| x as u32).map(SiteId)
    }

    fn op(&self, op: Op, offset: u64) -> Result<Op, WireError> {
        let o = |id| self.object(id, offset);
        Ok(match op {
            Op::Request { lock, mode } => Op::Request {
                lock: o(lock)?,
                mode,
            },
            Op::Acquire {
                lock,
                mode,
                attempt,
                seq,
            } => Op::Acquire {
                lock: o(lock)?,
                mode,
                attempt,
                seq,
            },
            Op::TryFailed { lock, mode } => Op::TryFailed {
                lock: o(lock)?,
                mode,
            },
            Op::Release { lock, mode, seq } => Op::Release {
                lock: o(lock)?,
                mode,
                seq,
            },
            Op::CondWait {
                condvar,
                lock,
                timed,
            } => Op::CondWait {
                condvar: o(condvar)?,
                lock: o(lock)?,
                timed,
            },
            Op::CondWake {
                condvar,
                notified_seen,
                timed_out,
            } => Op::CondWake {
                condvar: o(condvar)?,
                notified_seen,
                timed_out,
            },
            Op::Notify { condvar, all, seq } => Op::Notify {
                condvar: o(condvar)?,
                all,
                seq,
            },
            Op::BarrierArrive {
                barrier,
                generation,
            } => Op::BarrierArrive {
                barrier: o(barrier)?,
                generation,
            },
            Op::BarrierDepart {
                barrier,
                generation,
            } => Op::BarrierDepart {
                barrier: o(barrier)?,
                generation,
            },
            Op::Send { channel, seq } => Op::Send {
                channel: o(channel)?,
                seq,
            },
            Op::Recv { channel, seq } => Op::Recv {
                channel: o(channel)?,
                seq,
            },
            Op::Fork { child } => Op::Fork {
                child: self.thread(u64::from(child.0), offset)?,
            },
            Op::Join { child } => Op::Join {
                child: self.thread(u64::from(child.0), offset)?,
            },
            Op::Access {
                var,
                write,
                order,
                version,
            } => Op::Access {
                var: o(var)?,
                write,
                order,
                version,
            },
            Op::Begin => Op::Begin,
            Op::End => Op::End,
        })
    }

    /// The record a v2 payload stands for; `None` for a declaration only.
    fn record(&mut self, wire: WireRecord<'_>, offset: u64) -> Result<Option<Record>, WireError> {
        Ok(Some(match wire {
            WireRecord::Process { pid, program } => Record::Process(ProcessInfo {
                pid,
                program: program.to_owned(),
            }),
            WireRecord::Site {
                dense,
                original,
                place,
            } => {
                declare(&mut self.sites, "site", u64::from(dense), original, offset)?;
                let Some((file, line, column)) = place else {
                    return Ok(None);
                };
                Record::Site(Site {
                    id: SiteId(original),
                    file: file.to_owned(),
                    line,
                    column,
                })
            }
            WireRecord::Thread {
                dense,
                original,
                name,
            } => {
                declare(
                    &mut self.threads,
                    "thread",
                    u64::from(dense),
                    original,
                    offset,
                )?;
                let Some(name) = name else { return Ok(None) };
                Record::Thread(ThreadInfo {
                    id: ThreadId(original),
                    name: name.map(str::to_owned),
                })
            }
            WireRecord::Object {
                dense,
                original,
                description,
            } => {
                declare(
                    &mut self.objects,
                    "object",
                    u64::from(dense),
                    original,
                    offset,
                )?;
                let Some((kind, class, name)) = description else {
                    return Ok(None);
                };
                Record::Object(ObjectInfo {
                    id: ObjectId(original),
                    kind,
                    class: self.site(class, offset)?,
                    name: name.map(str::to_owned),
                })
            }
            WireRecord::Events { thread, slots } => {
                let thread = self.thread(u64::from(thread), offset)?;
                let mut events = Vec::with_capacity(slots.len() / wire::EVENT_LEN);
                for (i, slot) in slots.chunks_exact(wire::EVENT_LEN).enumerate() {
                    let slot = WireEvent::from_bytes(slot.try_into().expect("a whole slot"));
                    let site = self.site(slot.site, offset)?;
                    let (first, second) = slot.ops(i)?;
                    events.push(Event {
                        op: self.op(first, offset)?,
                        site,
                    });
                    if let Some(second) = second {
                        events.push(Event {
                            op: self.op(second, offset)?,
                            site,
                        });
                    }
                }
                Record::Events { thread, events }
            }
            WireRecord::Observed {
                kind,
                message,
                json,
            } => Record::Observed {
                kind: kind.to_owned(),
                message: message.to_owned(),
                json: json.to_owned(),
            },
            WireRecord::End => Record::End,
        }))
    }
}

/// Reads a native trace (version 1 or 2) record by record, with the byte
/// offset of each. Version 2 ids come back as the writer's ids. Stops after the first error.
pub struct TraceReader<R: Read> {
    frames: FrameReader<R>,
    ids: CallerIds,
    done: bool,
    /// The format version from the header.
    pub version: u16,
}

impl<R: Read> TraceReader<R> {
    /// Reads and checks the header.
    pub fn new(input: R) -> Result<Self, DecodeError> {
        Ok(TraceReader::from_frames(FrameReader::new(input)?))
    }

    /// Reads records from `frames` (whose header was read already).
    pub fn from_frames(frames: FrameReader<R>) -> Self {
        let version = frames.version();
        TraceReader {
            frames,
            ids: CallerIds::default(),
            done: false,
            version,
        }
    }

    /// The offset of the next frame (after iteration: how many bytes were read cleanly).
    pub fn offset(&self) -> u64 {
        self.frames.offset()
    }

    fn next_record(&mut self) -> Result<Option<(u64, Record)>, DecodeError> {
        loop {
            let Some((offset, payload)) = self.frames.next_frame()? else {
                return Ok(None);
            };
            if self.version < 2 {
                let record = postcard::from_bytes(payload)
                    .map_err(|source| DecodeError::Record { offset, source })?;
                return Ok(Some((offset, record)));
            }
            let parsed = wire::parse_record(payload)
                .and_then(|w| self.ids.record(w, offset))
                .map_err(|source| DecodeError::Invalid { offset, source })?;
            if let Some(record) = parsed {
                return Ok(Some((offset, record)));
            }
        }
    }
}

impl<R: Read> Iterator for TraceReader<R> {
    type Item = Result<(u64, Record), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_record() {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Attempt, Event, Mode, ObjectId, Op, SiteId, ThreadId};

    fn sample() -> Vec<Record> {
        vec![
            Record::Events {
                thread: ThreadId(0),
                events: vec![
                    Event {
                        op: Op::Acquire {
                            lock: ObjectId(3),
                            mode: Mode::Write,
                            attempt: Attempt::Blocking,
                            seq: 1,
                        },
                        site: SiteId(2),
                    },
                    Event {
                        op: Op::Release {
                            lock: ObjectId(3),
                            mode: Mode::Write,
                            seq: 2,
                        },
                        site: SiteId(2),
                    },
                ],
            },
            Record::End,
        ]
    }

    fn encode(records: &[Record]) -> Vec<u8> {
        let mut w = TraceWriter::new(Vec::new()).unwrap();
        for r in records {
            w.write(r).unwrap();
        }
        w.into_inner()
    }

    #[test]
    fn round_trips() {
        let bytes = encode(&sample());
        let back: Vec<Record> = TraceReader::new(&bytes[..])
            .unwrap()
            .map(|r| r.unwrap().1)
            .collect();
        assert_eq!(back, sample());
    }

    #[test]
    fn lock_events_are_one_slot_each() {
        let events: Vec<Event> = (0..1000u64)
            .map(|i| Event {
                op: Op::Acquire {
                    lock: ObjectId(i % 50),
                    mode: Mode::Write,
                    attempt: Attempt::Blocking,
                    seq: i,
                },
                site: SiteId(7),
            })
            .collect();
        let bytes = encode(&[Record::Events {
            thread: ThreadId(1),
            events,
        }]);
        // Header, thread and object declarations, then one frame of 1000 slots.
        let batch = 8 + wire::EVENTS_HEADER_LEN + 1000 * wire::EVENT_LEN;
        // Thread and site declarations: 18 bytes each; object declarations: 22.
        let declarations = 18 + 50 * 22 + 18;
        assert_eq!(bytes.len(), HEADER_LEN as usize + declarations + batch);
    }

    #[test]
    fn errors_name_offsets() {
        assert!(matches!(TraceReader::new(&[][..]), Err(DecodeError::Empty)));
        assert!(matches!(
            TraceReader::new(&b"hello world!!"[..]),
            Err(DecodeError::BadMagic)
        ));
        let bytes = encode(&sample());
        assert!(matches!(
            TraceReader::new(&bytes[..10]),
            Err(DecodeError::TruncatedHeader { found: 10 })
        ));
        let mut future = bytes.clone();
        future[8] = 9;
        assert!(matches!(
            TraceReader::new(&future[..]),
            Err(DecodeError::FutureVersion { found: 9 })
        ));
        let cut = &bytes[..bytes.len() - 3];
        let results: Vec<_> = TraceReader::new(cut).unwrap().collect();
        assert!(results[0].is_ok());
        let err = results.last().unwrap().as_ref().unwrap_err();
        assert!(err.is_truncation(), "{err}");
        let mut flipped = bytes.clone();
        flipped[HEADER_LEN as usize + 9] ^= 0xff;
        let err = TraceReader::new(&flipped[..])
            .unwrap()
            .next()
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(err, DecodeError::Checksum { offset: HEADER_LEN }),
            "{err}"
        );
    }
}

//! The byte layout of format version 2 (see `FORMAT.md`): fixed-width
//! little-endian events and hand-laid-out description records, with objects,
//! threads and sites numbered densely per file.
//!
//! This module only turns payloads into values and back; framing (length,
//! CRC) lives in [`crate::codec`]. Ids here are the file's dense ids, which
//! a reader uses directly as indices; [`crate::codec::TraceWriter`] maps a
//! caller's ids to dense ones and records the caller's ids in the
//! descriptions.

use thiserror::Error;

use crate::event::{Attempt, Event, MemoryOrder, Mode, ObjectId, Op, SiteId, ThreadId};
use crate::record::ObjectKind;

/// Bytes of one event slot: two little-endian 64-bit words (see [`WireEvent`]).
pub const EVENT_LEN: usize = 16;

/// Bits of a slot's `b` field (sequence number, generation, version,
/// `notified_seen`, or `CondWait`'s dense lock id).
pub const B_BITS: u32 = 48;

/// The largest value of a slot's `b` field.
pub const MAX_B: u64 = (1 << B_BITS) - 1;

/// Record kind byte: `Process`.
pub const KIND_PROCESS: u8 = 1;
/// Record kind byte: `Site`.
pub const KIND_SITE: u8 = 2;
/// Record kind byte: `Thread`.
pub const KIND_THREAD: u8 = 3;
/// Record kind byte: `Object`.
pub const KIND_OBJECT: u8 = 4;
/// Record kind byte: `Events`.
pub const KIND_EVENTS: u8 = 5;
/// Record kind byte: `Observed`.
pub const KIND_OBSERVED: u8 = 6;
/// Record kind byte: `End`.
pub const KIND_END: u8 = 7;

/// Bytes before the first event slot of an `Events` payload: kind, thread, slot count.
pub const EVENTS_HEADER_LEN: usize = 9;

/// Description flag: this is a description (not only a declaration of a dense id).
pub const FLAG_DESCRIBED: u8 = 1;
/// Description flag: a name follows.
pub const FLAG_NAMED: u8 = 2;

/// Event tags (byte 0 of a slot). `REQUEST_ACQUIRE` stands for two events.
pub mod tag {
    /// `Op::Request`.
    pub const REQUEST: u8 = 0;
    /// `Op::Acquire`.
    pub const ACQUIRE: u8 = 1;
    /// `Op::TryFailed`.
    pub const TRY_FAILED: u8 = 2;
    /// `Op::Release`.
    pub const RELEASE: u8 = 3;
    /// `Op::CondWait`.
    pub const COND_WAIT: u8 = 4;
    /// `Op::CondWake`.
    pub const COND_WAKE: u8 = 5;
    /// `Op::Notify`.
    pub const NOTIFY: u8 = 6;
    /// `Op::BarrierArrive`.
    pub const BARRIER_ARRIVE: u8 = 7;
    /// `Op::BarrierDepart`.
    pub const BARRIER_DEPART: u8 = 8;
    /// `Op::Send`.
    pub const SEND: u8 = 9;
    /// `Op::Recv`.
    pub const RECV: u8 = 10;
    /// `Op::Fork`.
    pub const FORK: u8 = 11;
    /// `Op::Join`.
    pub const JOIN: u8 = 12;
    /// `Op::Begin`.
    pub const BEGIN: u8 = 13;
    /// `Op::End`.
    pub const END: u8 = 14;
    /// `Op::Access`.
    pub const ACCESS: u8 = 15;
    /// `Op::Request` then `Op::Acquire { attempt: Blocking }` of the same lock, mode and site.
    pub const REQUEST_ACQUIRE: u8 = 16;
}

/// How far dense ids may run ahead of the bytes read so far: a dense writer
/// spends far more than 16 bytes per new id, so a larger id is corruption,
/// and tables indexed by ids stay proportional to the input.
pub fn max_dense_id(offset: u64) -> u64 {
    (1 << 16) + offset / 16
}

/// Why a v2 payload is not a valid record (the codec adds the byte offset).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum WireError {
    /// The payload is empty.
    #[error("empty record")]
    Empty,
    /// An unknown record kind byte.
    #[error("unknown record kind {0}")]
    Kind(u8),
    /// The payload ends inside a field.
    #[error("record ends early: needs {needed} bytes, has {len}")]
    Short {
        /// Bytes the record needs.
        needed: usize,
        /// Bytes it has.
        len: usize,
    },
    /// Bytes after the last field.
    #[error("{0} unexpected bytes after the record")]
    Trailing(usize),
    /// A string that is not UTF-8.
    #[error("a string is not UTF-8")]
    Utf8,
    /// A field with a value outside its range.
    #[error("event {index}: {what}")]
    Field {
        /// The slot index in its batch (0 for descriptions).
        index: usize,
        /// What is wrong.
        what: String,
    },
    /// A value too wide for its slot field (the writer refuses it rather than truncate it).
    #[error("{what} {value} does not fit the event slot's {bits}-bit field")]
    TooWide {
        /// Which field (`object id`, `seq`, ...).
        what: &'static str,
        /// The value.
        value: u64,
        /// The field's width.
        bits: u32,
    },
    /// A dense id beyond what the bytes read so far allow.
    #[error("{what} id {id} is not dense (at most {max} here); the file is corrupt")]
    NotDense {
        /// `object`, `thread` or `site`.
        what: &'static str,
        /// The id.
        id: u64,
        /// The largest id allowed at this offset.
        max: u64,
    },
}

/// One event slot, field by field. On disk (16 bytes) it is two
/// little-endian 64-bit words, `tag | codes << 8 | b << 16` and
/// `site | a << 32`, where `codes` is `f1 | f2 << 4`: a writer fills a slot
/// with two aligned stores and a reader takes it apart with two loads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WireEvent {
    /// The `tag` constant.
    pub tag: u8,
    /// A `Mode` code or a flag (see `FORMAT.md`); 4 bits on disk.
    pub f1: u8,
    /// An `Attempt` or `MemoryOrder` code; 4 bits on disk.
    pub f2: u8,
    /// The dense site id (0: unknown).
    pub site: u32,
    /// The dense object id, or the dense child thread id of `Fork`/`Join`.
    pub a: u32,
    /// The sequence number, generation, version, `notified_seen`, or the
    /// dense lock id of `CondWait`: at most [`MAX_B`].
    pub b: u64,
}

/// `id` as a slot's 32-bit `a` field, or why not.
fn narrow_id(what: &'static str, id: u64) -> Result<u32, WireError> {
    u32::try_from(id).map_err(|_| WireError::TooWide {
        what,
        value: id,
        bits: 32,
    })
}

/// `value` as a slot's 48-bit `b` field, or why not.
fn narrow_b(what: &'static str, value: u64) -> Result<u64, WireError> {
    if value > MAX_B {
        return Err(WireError::TooWide {
            what,
            value,
            bits: B_BITS,
        });
    }
    Ok(value)
}

/// The code of `mode` in `f1`.
pub fn mode_code(m: Mode) -> u8 {
    match m {
        Mode::Write => 0,
        Mode::Read => 1,
        Mode::Upgradable => 2,
    }
}

/// The mode with code `c`.
pub fn mode_of(c: u8) -> Option<Mode> {
    Some(match c {
        0 => Mode::Write,
        1 => Mode::Read,
        2 => Mode::Upgradable,
        _ => return None,
    })
}

/// The code of `attempt` in `f2`.
pub fn attempt_code(a: Attempt) -> u8 {
    match a {
        Attempt::Blocking => 0,
        Attempt::Try => 1,
        Attempt::Timed => 2,
    }
}

/// The attempt with code `c`.
pub fn attempt_of(c: u8) -> Option<Attempt> {
    Some(match c {
        0 => Attempt::Blocking,
        1 => Attempt::Try,
        2 => Attempt::Timed,
        _ => return None,
    })
}

/// The code of an access's ordering in `f2` (0: a plain access).
pub fn order_code(o: Option<MemoryOrder>) -> u8 {
    match o {
        None => 0,
        Some(MemoryOrder::Relaxed) => 1,
        Some(MemoryOrder::Acquire) => 2,
        Some(MemoryOrder::Release) => 3,
        Some(MemoryOrder::AcqRel) => 4,
        Some(MemoryOrder::SeqCst) => 5,
    }
}

/// The ordering with code `c` (`Some(None)` is a plain access).
pub fn order_of(c: u8) -> Option<Option<MemoryOrder>> {
    Some(match c {
        0 => None,
        1 => Some(MemoryOrder::Relaxed),
        2 => Some(MemoryOrder::Acquire),
        3 => Some(MemoryOrder::Release),
        4 => Some(MemoryOrder::AcqRel),
        5 => Some(MemoryOrder::SeqCst),
        _ => return None,
    })
}

/// The code of an object kind.
pub fn kind_code(k: ObjectKind) -> u8 {
    match k {
        ObjectKind::Mutex => 0,
        ObjectKind::RwLock => 1,
        ObjectKind::ReentrantMutex => 2,
        ObjectKind::SpinLock => 3,
        ObjectKind::Condvar => 4,
        ObjectKind::Barrier => 5,
        ObjectKind::Semaphore => 6,
        ObjectKind::Channel => 7,
        ObjectKind::Once => 8,
        ObjectKind::Variable => 9,
    }
}

/// The object kind with code `c`.
pub fn kind_of(c: u8) -> Option<ObjectKind> {
    Some(match c {
        0 => ObjectKind::Mutex,
        1 => ObjectKind::RwLock,
        2 => ObjectKind::ReentrantMutex,
        3 => ObjectKind::SpinLock,
        4 => ObjectKind::Condvar,
        5 => ObjectKind::Barrier,
        6 => ObjectKind::Semaphore,
        7 => ObjectKind::Channel,
        8 => ObjectKind::Once,
        9 => ObjectKind::Variable,
        _ => return None,
    })
}

fn flag(f: u8, index: usize, name: &str) -> Result<bool, WireError> {
    match f {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(WireError::Field {
            index,
            what: format!("flag `{name}` is {f}, expected 0 or 1"),
        }),
    }
}

impl WireEvent {
    /// The slot of `op` at `site`, with the ids as given (the caller's ids
    /// must be dense). An object id beyond 32 bits or a `b` value beyond
    /// [`MAX_B`] is refused, never truncated.
    pub fn from_op(op: Op, site: SiteId) -> Result<WireEvent, WireError> {
        let slot = |tag: u8, f1: u8, f2: u8, a: u32, b: u64| WireEvent {
            tag,
            f1,
            f2,
            site: site.0,
            a,
            b,
        };
        let obj = |id: ObjectId| narrow_id("object id", id.0);
        Ok(match op {
            Op::Request { lock, mode } => slot(tag::REQUEST, mode_code(mode), 0, obj(lock)?, 0),
            Op::Acquire {
                lock,
                mode,
                attempt,
                seq,
            } => slot(
                tag::ACQUIRE,
                mode_code(mode),
                attempt_code(attempt),
                obj(lock)?,
                narrow_b("seq", seq)?,
            ),
            Op::TryFailed { lock, mode } => {
                slot(tag::TRY_FAILED, mode_code(mode), 0, obj(lock)?, 0)
            }
            Op::Release { lock, mode, seq } => slot(
                tag::RELEASE,
                mode_code(mode),
                0,
                obj(lock)?,
                narrow_b("seq", seq)?,
            ),
            Op::CondWait {
                condvar,
                lock,
                timed,
            } => slot(
                tag::COND_WAIT,
                u8::from(timed),
                0,
                obj(condvar)?,
                u64::from(obj(lock)?),
            ),
            Op::CondWake {
                condvar,
                notified_seen,
                timed_out,
            } => slot(
                tag::COND_WAKE,
                u8::from(timed_out),
                0,
                obj(condvar)?,
                narrow_b("notified_seen", notified_seen)?,
            ),
            Op::Notify { condvar, all, seq } => slot(
                tag::NOTIFY,
                u8::from(all),
                0,
                obj(condvar)?,
                narrow_b("seq", seq)?,
            ),
            Op::BarrierArrive {
                barrier,
                generation,
            } => slot(
                tag::BARRIER_ARRIVE,
                0,
                0,
                obj(barrier)?,
                narrow_b("generation", generation)?,
            ),
            Op::BarrierDepart {
                barrier,
                generation,
            } => slot(
                tag::BARRIER_DEPART,
                0,
                0,
                obj(barrier)?,
                narrow_b("generation", generation)?,
            ),
            Op::Send { channel, seq } => {
                slot(tag::SEND, 0, 0, obj(channel)?, narrow_b("seq", seq)?)
            }
            Op::Recv { channel, seq } => {
                slot(tag::RECV, 0, 0, obj(channel)?, narrow_b("seq", seq)?)
            }
            Op::Fork { child } => slot(tag::FORK, 0, 0, child.0, 0),
            Op::Join { child } => slot(tag::JOIN, 0, 0, child.0, 0),
            Op::Begin => slot(tag::BEGIN, 0, 0, 0, 0),
            Op::End => slot(tag::END, 0, 0, 0, 0),
            Op::Access {
                var,
                write,
                order,
                version,
            } => slot(
                tag::ACCESS,
                u8::from(write),
                order_code(order),
                obj(var)?,
                narrow_b("version", version)?,
            ),
        })
    }

    /// The two words of this slot (`b` is taken modulo 2^48 and the codes
    /// modulo 16: [`WireEvent::from_op`] has checked them).
    #[inline]
    pub fn to_words(&self) -> [u64; 2] {
        let codes = (self.f1 & 0xf) | (self.f2 << 4);
        [
            u64::from(self.tag) | u64::from(codes) << 8 | self.b << 16,
            u64::from(self.site) | u64::from(self.a) << 32,
        ]
    }

    /// The slot with these two words.
    #[inline]
    pub fn from_words([head, ids]: [u64; 2]) -> WireEvent {
        let codes = (head >> 8) as u8;
        WireEvent {
            tag: head as u8,
            f1: codes & 0xf,
            f2: codes >> 4,
            b: head >> 16,
            site: ids as u32,
            a: (ids >> 32) as u32,
        }
    }

    /// The 16 bytes of this slot.
    #[inline]
    pub fn to_bytes(&self) -> [u8; EVENT_LEN] {
        let [head, ids] = self.to_words();
        let mut out = [0u8; EVENT_LEN];
        out[..8].copy_from_slice(&head.to_le_bytes());
        out[8..].copy_from_slice(&ids.to_le_bytes());
        out
    }

    /// Reads a slot.
    #[inline]
    pub fn from_bytes(bytes: &[u8; EVENT_LEN]) -> WireEvent {
        let mut head = [0u8; 8];
        let mut ids = [0u8; 8];
        head.copy_from_slice(&bytes[..8]);
        ids.copy_from_slice(&bytes[8..]);
        WireEvent::from_words([u64::from_le_bytes(head), u64::from_le_bytes(ids)])
    }

    /// The events this slot stands for, with dense ids as they are: one, or
    /// two for `REQUEST_ACQUIRE`. `index` (the slot's place in its batch) goes
    /// into errors.
    pub fn ops(&self, index: usize) -> Result<(Op, Option<Op>), WireError> {
        let (a, b) = (u64::from(self.a), self.b);
        let bad = |what: String| WireError::Field { index, what };
        let mode = || {
            mode_of(self.f1).ok_or_else(|| bad(format!("mode code {} (expected 0 to 2)", self.f1)))
        };
        let op = match self.tag {
            tag::REQUEST => Op::Request {
                lock: ObjectId(a),
                mode: mode()?,
            },
            tag::ACQUIRE => Op::Acquire {
                lock: ObjectId(a),
                mode: mode()?,
                attempt: attempt_of(self.f2)
                    .ok_or_else(|| bad(format!("attempt code {} (expected 0 to 2)", self.f2)))?,
                seq: b,
            },
            tag::TRY_FAILED => Op::TryFailed {
                lock: ObjectId(a),
                mode: mode()?,
            },
            tag::RELEASE => Op::Release {
                lock: ObjectId(a),
                mode: mode()?,
                seq: b,
            },
            tag::COND_WAIT => Op::CondWait {
                condvar: ObjectId(a),
                lock: ObjectId(b),
                timed: flag(self.f1, index, "timed")?,
            },
            tag::COND_WAKE => Op::CondWake {
                condvar: ObjectId(a),
                notified_seen: b,
                timed_out: flag(self.f1, index, "timed_out")?,
            },
            tag::NOTIFY => Op::Notify {
                condvar: ObjectId(a),
                all: flag(self.f1, index, "all")?,
                seq: b,
            },
            tag::BARRIER_ARRIVE => Op::BarrierArrive {
                barrier: ObjectId(a),
                generation: b,
            },
            tag::BARRIER_DEPART => Op::BarrierDepart {
                barrier: ObjectId(a),
                generation: b,
            },
            tag::SEND => Op::Send {
                channel: ObjectId(a),
                seq: b,
            },
            tag::RECV => Op::Recv {
                channel: ObjectId(a),
                seq: b,
            },
            tag::FORK => Op::Fork {
                child: ThreadId(self.a),
            },
            tag::JOIN => Op::Join {
                child: ThreadId(self.a),
            },
            tag::BEGIN => Op::Begin,
            tag::END => Op::End,
            tag::ACCESS => Op::Access {
                var: ObjectId(a),
                write: flag(self.f1, index, "write")?,
                order: order_of(self.f2).ok_or_else(|| {
                    bad(format!("memory order code {} (expected 0 to 5)", self.f2))
                })?,
                version: b,
            },
            tag::REQUEST_ACQUIRE => {
                let (lock, mode) = (ObjectId(a), mode()?);
                return Ok((
                    Op::Request { lock, mode },
                    Some(Op::Acquire {
                        lock,
                        mode,
                        attempt: Attempt::Blocking,
                        seq: b,
                    }),
                ));
            }
            t => return Err(bad(format!("unknown event tag {t}"))),
        };
        Ok((op, None))
    }
}

/// The `REQUEST_ACQUIRE` slot of `request` and `next` when they can share
/// one, `Ok(None)` when they cannot, or why `next` does not fit a slot.
pub fn fuses(request: &Event, next: &Event) -> Result<Option<WireEvent>, WireError> {
    match (request.op, next.op) {
        (
            Op::Request { lock, mode },
            Op::Acquire {
                lock: l2,
                mode: m2,
                attempt: Attempt::Blocking,
                ..
            },
        ) if lock == l2 && mode == m2 && request.site == next.site => {
            // A blocking `Acquire`'s slot with the tag of both events.
            let acquire = WireEvent::from_op(next.op, next.site)?;
            Ok(Some(WireEvent {
                tag: tag::REQUEST_ACQUIRE,
                ..acquire
            }))
        }
        _ => Ok(None),
    }
}

/// A v2 record, borrowed from its payload; ids are the file's dense ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireRecord<'a> {
    /// The recorded process.
    Process {
        /// Operating-system process id.
        pid: u32,
        /// Program name.
        program: &'a str,
    },
    /// A site's dense id, the writer's id for it and, when described, where it is.
    Site {
        /// Dense id.
        dense: u32,
        /// The writer's id.
        original: u32,
        /// `Some((file, line, column))` for a description, `None` for a declaration only.
        place: Option<(&'a str, u32, u32)>,
    },
    /// A thread's dense id, the writer's id and, when described, its name.
    Thread {
        /// Dense id.
        dense: u32,
        /// The writer's id.
        original: u32,
        /// `Some(name)` for a description, `None` for a declaration only.
        name: Option<Option<&'a str>>,
    },
    /// An object's dense id, the writer's id and, when described, what it is.
    Object {
        /// Dense id.
        dense: u32,
        /// The writer's id.
        original: u64,
        /// `Some((kind, dense class site, name))` for a description.
        description: Option<(ObjectKind, u32, Option<&'a str>)>,
    },
    /// A batch of one thread's events: `slots` is a whole number of [`EVENT_LEN`]-byte slots.
    Events {
        /// Dense thread id.
        thread: u32,
        /// The slots.
        slots: &'a [u8],
    },
    /// A finding observed at run time.
    Observed {
        /// Finding kind.
        kind: &'a str,
        /// One-line message.
        message: &'a str,
        /// JSON report.
        json: &'a str,
    },
    /// The recording ended cleanly.
    End,
}

/// A cursor over a payload's fields.
struct Fields<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(WireError::Short {
                needed: self.at.saturating_add(n),
                len: self.bytes.len(),
            });
        };
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, WireError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }

    fn str(&mut self) -> Result<&'a str, WireError> {
        let len = self.u32()? as usize;
        std::str::from_utf8(self.take(len)?).map_err(|_| WireError::Utf8)
    }

    fn end(self) -> Result<(), WireError> {
        match self.bytes.len() - self.at {
            0 => Ok(()),
            n => Err(WireError::Trailing(n)),
        }
    }
}

/// Parses one v2 payload. Event slots are returned unparsed (see [`WireEvent::from_bytes`]).
pub fn parse_record(payload: &[u8]) -> Result<WireRecord<'_>, WireError> {
    let mut f = Fields {
        bytes: payload,
        at: 0,
    };
    let kind = f.u8().map_err(|_| WireError::Empty)?;
    let record = match kind {
        KIND_EVENTS => {
            let thread = f.u32()?;
            let count = f.u32()? as usize;
            let slots = f.take(count.saturating_mul(EVENT_LEN))?;
            f.end()?;
            return Ok(WireRecord::Events { thread, slots });
        }
        KIND_PROCESS => WireRecord::Process {
            pid: f.u32()?,
            program: f.str()?,
        },
        KIND_SITE => {
            let flags = f.u8()?;
            let dense = f.u32()?;
            let original = f.u32()?;
            let place = if flags & FLAG_DESCRIBED != 0 {
                let (line, column) = (f.u32()?, f.u32()?);
                Some((f.str()?, line, column))
            } else {
                None
            };
            WireRecord::Site {
                dense,
                original,
                place,
            }
        }
        KIND_THREAD => {
            let flags = f.u8()?;
            let dense = f.u32()?;
            let original = f.u32()?;
            let name = if flags & FLAG_DESCRIBED != 0 {
                Some(if flags & FLAG_NAMED != 0 {
                    Some(f.str()?)
                } else {
                    None
                })
            } else {
                None
            };
            WireRecord::Thread {
                dense,
                original,
                name,
            }
        }
        KIND_OBJECT => {
            let flags = f.u8()?;
            let dense = f.u32()?;
            let original = f.u64()?;
            let description = if flags & FLAG_DESCRIBED != 0 {
                let code = f.u8()?;
                let kind = kind_of(code).ok_or_else(|| WireError::Field {
                    index: 0,
                    what: format!("object kind code {code} (expected 0 to 9)"),
                })?;
                let class = f.u32()?;
                let name = if flags & FLAG_NAMED != 0 {
                    Some(f.str()?)
                } else {
                    None
                };
                Some((kind, class, name))
            } else {
                None
            };
            WireRecord::Object {
                dense,
                original,
                description,
            }
        }
        KIND_OBSERVED => WireRecord::Observed {
            kind: f.str()?,
            message: f.str()?,
            json: f.str()?,
        },
        KIND_END => WireRecord::End,
        k => return Err(WireError::Kind(k)),
    };
    f.end()?;
    Ok(record)
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Appends the payload of `record` to `out`.
pub fn write_record(record: &WireRecord<'_>, out: &mut Vec<u8>) {
    match *record {
        WireRecord::Process { pid, program } => {
            out.push(KIND_PROCESS);
            out.extend_from_slice(&pid.to_le_bytes());
            put_str(out, program);
        }
        WireRecord::Site {
            dense,
            original,
            place,
        } => {
            out.extend_from_slice(&[KIND_SITE, if place.is_some() { FLAG_DESCRIBED } else { 0 }]);
            out.extend_from_slice(&dense.to_le_bytes());
            out.extend_from_slice(&original.to_le_bytes());
            if let Some((file, line, column)) = place {
                out.extend_from_slice(&line.to_le_bytes());
                out.extend_from_slice(&column.to_le_bytes());
                put_str(out, file);
            }
        }
        WireRecord::Thread {
            dense,
            original,
            name,
        } => {
            let flags = match name {
                None => 0,
                Some(None) => FLAG_DESCRIBED,
                Some(Some(_)) => FLAG_DESCRIBED | FLAG_NAMED,
            };
            out.extend_from_slice(&[KIND_THREAD, flags]);
            out.extend_from_slice(&dense.to_le_bytes());
            out.extend_from_slice(&original.to_le_bytes());
            if let Some(Some(name)) = name {
                put_str(out, name);
            }
        }
        WireRecord::Object {
            dense,
            original,
            description,
        } => {
            let flags = match description {
                None => 0,
                Some((_, _, None)) => FLAG_DESCRIBED,
                Some((_, _, Some(_))) => FLAG_DESCRIBED | FLAG_NAMED,
            };
            out.extend_from_slice(&[KIND_OBJECT, flags]);
            out.extend_from_slice(&dense.to_le_bytes());
            out.extend_from_slice(&original.to_le_bytes());
            if let Some((kind, class, name)) = description {
                out.push(kind_code(kind));
                out.extend_from_slice(&class.to_le_bytes());
                if let Some(name) = name {
                    put_str(out, name);
                }
            }
        }
        WireRecord::Events { thread, slots } => {
            write_events_header(thread, (slots.len() / EVENT_LEN) as u32, out);
            out.extend_from_slice(slots);
        }
        WireRecord::Observed {
            kind,
            message,
            json,
        } => {
            out.push(KIND_OBSERVED);
            put_str(out, kind);
            put_str(out, message);
            put_str(out, json);
        }
        WireRecord::End => out.push(KIND_END),
    }
}

/// Appends the header of an `Events` payload with `slots` slots to follow.
#[inline]
pub fn write_events_header(thread: u32, slots: u32, out: &mut Vec<u8>) {
    out.push(KIND_EVENTS);
    out.extend_from_slice(&thread.to_le_bytes());
    out.extend_from_slice(&slots.to_le_bytes());
}

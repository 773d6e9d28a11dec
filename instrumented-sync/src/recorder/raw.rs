//! The compact form of an event in a thread's ring: plain integers written
//! field by field on the hot path, turned into a [`sync_trace::Event`] only
//! when the ring is drained. (Moving the `Op` enum itself through the ring
//! made the compiler copy it byte-wise through the stack, with store-forwarding
//! stalls that cost more than the lock.)

use sync_trace::wire::{self, tag};
use sync_trace::{Attempt, Event, MemoryOrder, Mode, ObjectId, Op, SiteId, ThreadId};

/// One recorded event: 16 bytes, the trace file's event slot (format
/// version 2) as two words, so a drain copies it as is.
///
/// Ids fit their fields: the recorder numbers objects densely from 1, and
/// 2^32 objects would first take more than 80 GiB of descriptions (each at
/// least 20 bytes) in the trace; thread ids are `u32`. A `b` value (a
/// per-object sequence number, generation or version, or a lock id) is kept
/// modulo 2^48: one object reaching 2^48 events would have written 4 PiB of
/// slots for that object alone (days of nothing but locking it), so the wrap
/// is not reached in practice, and checking for it would cost every event
/// a compare on the hot path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct RawEvent {
    /// `tag | (f1 | f2 << 4) << 8 | b << 16`: the `TAG_*` constant; a `Mode`
    /// (`mode_code`) or the first flag; an `Attempt` (`attempt_code`) or a
    /// `MemoryOrder` (`order_code`); the sequence number, generation,
    /// version or second object.
    head: u64,
    /// `site | a << 32`: the site, and the object (lock, condvar, barrier,
    /// channel, variable) or child thread.
    ids: u64,
}

// The ring's tags are the trace file's (format version 2), so a slot is written as is.
const TAG_REQUEST: u8 = tag::REQUEST;
const TAG_ACQUIRE: u8 = tag::ACQUIRE;
const TAG_TRY_FAILED: u8 = tag::TRY_FAILED;
const TAG_RELEASE: u8 = tag::RELEASE;
const TAG_COND_WAIT: u8 = tag::COND_WAIT;
const TAG_COND_WAKE: u8 = tag::COND_WAKE;
const TAG_NOTIFY: u8 = tag::NOTIFY;
const TAG_BARRIER_ARRIVE: u8 = tag::BARRIER_ARRIVE;
const TAG_BARRIER_DEPART: u8 = tag::BARRIER_DEPART;
const TAG_SEND: u8 = tag::SEND;
const TAG_RECV: u8 = tag::RECV;
const TAG_FORK: u8 = tag::FORK;
const TAG_JOIN: u8 = tag::JOIN;
const TAG_BEGIN: u8 = tag::BEGIN;
const TAG_END: u8 = tag::END;
const TAG_ACCESS: u8 = tag::ACCESS;
/// An uncontended blocking acquisition: `Request` and `Acquire` in one slot.
const TAG_REQUEST_ACQUIRE: u8 = tag::REQUEST_ACQUIRE;

#[inline(always)]
fn mode_code(m: Mode) -> u8 {
    match m {
        Mode::Write => 0,
        Mode::Read => 1,
        Mode::Upgradable => 2,
    }
}

fn mode_of(c: u8) -> Mode {
    match c {
        0 => Mode::Write,
        1 => Mode::Read,
        _ => Mode::Upgradable,
    }
}

#[inline(always)]
fn attempt_code(a: Attempt) -> u8 {
    match a {
        Attempt::Blocking => 0,
        Attempt::Try => 1,
        Attempt::Timed => 2,
    }
}

fn attempt_of(c: u8) -> Attempt {
    match c {
        0 => Attempt::Blocking,
        1 => Attempt::Try,
        _ => Attempt::Timed,
    }
}

/// 0 is `None` (a plain access).
#[inline(always)]
fn order_code(o: Option<MemoryOrder>) -> u8 {
    match o {
        None => 0,
        Some(MemoryOrder::Relaxed) => 1,
        Some(MemoryOrder::Acquire) => 2,
        Some(MemoryOrder::Release) => 3,
        Some(MemoryOrder::AcqRel) => 4,
        Some(MemoryOrder::SeqCst) => 5,
    }
}

fn order_of(c: u8) -> Option<MemoryOrder> {
    match c {
        0 => None,
        1 => Some(MemoryOrder::Relaxed),
        2 => Some(MemoryOrder::Acquire),
        3 => Some(MemoryOrder::Release),
        4 => Some(MemoryOrder::AcqRel),
        _ => Some(MemoryOrder::SeqCst),
    }
}

impl RawEvent {
    /// The compact form of `op` at `site`. Inlined where `op` is built, the
    /// match folds away and only the stores of one variant remain.
    #[inline(always)]
    pub(crate) fn new(op: Op, site: SiteId) -> RawEvent {
        let raw = |tag: u8, f1: u8, f2: u8, a: u64, b: u64| RawEvent::pack(tag, f1, f2, site, a, b);
        match op {
            Op::Request { lock, mode } => raw(TAG_REQUEST, mode_code(mode), 0, lock.0, 0),
            Op::Acquire {
                lock,
                mode,
                attempt,
                seq,
            } => raw(
                TAG_ACQUIRE,
                mode_code(mode),
                attempt_code(attempt),
                lock.0,
                seq,
            ),
            Op::TryFailed { lock, mode } => raw(TAG_TRY_FAILED, mode_code(mode), 0, lock.0, 0),
            Op::Release { lock, mode, seq } => raw(TAG_RELEASE, mode_code(mode), 0, lock.0, seq),
            Op::CondWait {
                condvar,
                lock,
                timed,
            } => raw(TAG_COND_WAIT, u8::from(timed), 0, condvar.0, lock.0),
            Op::CondWake {
                condvar,
                notified_seen,
                timed_out,
            } => raw(
                TAG_COND_WAKE,
                u8::from(timed_out),
                0,
                condvar.0,
                notified_seen,
            ),
            Op::Notify { condvar, all, seq } => raw(TAG_NOTIFY, u8::from(all), 0, condvar.0, seq),
            Op::BarrierArrive {
                barrier,
                generation,
            } => raw(TAG_BARRIER_ARRIVE, 0, 0, barrier.0, generation),
            Op::BarrierDepart {
                barrier,
                generation,
            } => raw(TAG_BARRIER_DEPART, 0, 0, barrier.0, generation),
            Op::Send { channel, seq } => raw(TAG_SEND, 0, 0, channel.0, seq),
            Op::Recv { channel, seq } => raw(TAG_RECV, 0, 0, channel.0, seq),
            Op::Fork { child } => raw(TAG_FORK, 0, 0, u64::from(child.0), 0),
            Op::Join { child } => raw(TAG_JOIN, 0, 0, u64::from(child.0), 0),
            Op::Begin => raw(TAG_BEGIN, 0, 0, 0, 0),
            Op::End => raw(TAG_END, 0, 0, 0, 0),
            Op::Access {
                var,
                write,
                order,
                version,
            } => raw(
                TAG_ACCESS,
                u8::from(write),
                order_code(order),
                var.0,
                version,
            ),
        }
    }

    /// An uncontended blocking acquisition of `lock`: `Request` then
    /// `Acquire { attempt: Blocking, seq }`, in one slot.
    #[inline(always)]
    pub(crate) fn request_acquire(lock: ObjectId, mode: Mode, seq: u64, site: SiteId) -> RawEvent {
        RawEvent::pack(
            TAG_REQUEST_ACQUIRE,
            mode_code(mode),
            attempt_code(Attempt::Blocking),
            site,
            lock.0,
            seq,
        )
    }

    /// The two words of a slot. `a` is an id below 2^32 and `b` is kept
    /// modulo 2^48 (see the type's doc for why neither is checked here).
    #[inline(always)]
    fn pack(tag: u8, f1: u8, f2: u8, site: SiteId, a: u64, b: u64) -> RawEvent {
        debug_assert!(a <= u64::from(u32::MAX), "object id {a} beyond 32 bits");
        RawEvent {
            head: u64::from(tag) | u64::from(f1 | f2 << 4) << 8 | b << 16,
            ids: u64::from(site.0) | a << 32,
        }
    }

    #[inline(always)]
    fn tag(self) -> u8 {
        self.head as u8
    }

    fn f1(self) -> u8 {
        (self.head >> 8) as u8 & 0xf
    }

    fn f2(self) -> u8 {
        (self.head >> 12) as u8 & 0xf
    }

    fn site(self) -> SiteId {
        SiteId(self.ids as u32)
    }

    fn a(self) -> u64 {
        self.ids >> 32
    }

    fn b(self) -> u64 {
        self.head >> 16
    }

    /// Appends the events this stands for (one, or two for `request_acquire`).
    pub(crate) fn push_events(self, out: &mut Vec<Event>) {
        if self.tag() == TAG_REQUEST_ACQUIRE {
            let site = self.site();
            let (lock, mode) = (ObjectId(self.a()), mode_of(self.f1()));
            out.push(Event {
                op: Op::Request { lock, mode },
                site,
            });
            out.push(Event {
                op: Op::Acquire {
                    lock,
                    mode,
                    attempt: Attempt::Blocking,
                    seq: self.b(),
                },
                site,
            });
        } else {
            out.push(self.event());
        }
    }

    /// The event this was made from (not for `request_acquire`).
    pub(crate) fn event(self) -> Event {
        let (a, b, f1, f2) = (self.a(), self.b(), self.f1(), self.f2());
        let flag = f1 != 0;
        // Child ids were widened from a `u32` by `new`.
        let child = ThreadId(a as u32);
        let op = match self.tag() {
            TAG_REQUEST => Op::Request {
                lock: ObjectId(a),
                mode: mode_of(f1),
            },
            TAG_ACQUIRE => Op::Acquire {
                lock: ObjectId(a),
                mode: mode_of(f1),
                attempt: attempt_of(f2),
                seq: b,
            },
            TAG_TRY_FAILED => Op::TryFailed {
                lock: ObjectId(a),
                mode: mode_of(f1),
            },
            TAG_RELEASE => Op::Release {
                lock: ObjectId(a),
                mode: mode_of(f1),
                seq: b,
            },
            TAG_COND_WAIT => Op::CondWait {
                condvar: ObjectId(a),
                lock: ObjectId(b),
                timed: flag,
            },
            TAG_COND_WAKE => Op::CondWake {
                condvar: ObjectId(a),
                notified_seen: b,
                timed_out: flag,
            },
            TAG_NOTIFY => Op::Notify {
                condvar: ObjectId(a),
                all: flag,
                seq: b,
            },
            TAG_BARRIER_ARRIVE => Op::BarrierArrive {
                barrier: ObjectId(a),
                generation: b,
            },
            TAG_BARRIER_DEPART => Op::BarrierDepart {
                barrier: ObjectId(a),
                generation: b,
            },
            TAG_SEND => Op::Send {
                channel: ObjectId(a),
                seq: b,
            },
            TAG_RECV => Op::Recv {
                channel: ObjectId(a),
                seq: b,
            },
            TAG_FORK => Op::Fork { child },
            TAG_JOIN => Op::Join { child },
            TAG_BEGIN => Op::Begin,
            TAG_END => Op::End,
            _ => Op::Access {
                var: ObjectId(a),
                write: flag,
                order: order_of(f2),
                version: b,
            },
        };
        Event {
            op,
            site: self.site(),
        }
    }
}

/// How many events `raws` stand for.
pub(crate) fn event_count(raws: &[RawEvent]) -> usize {
    raws.len()
        + raws
            .iter()
            .filter(|r| r.tag() == TAG_REQUEST_ACQUIRE)
            .count()
}

/// The payload bytes of an `Events` record (format version 2, see `FORMAT.md`)
/// for the events `raws` stand for: a slot is the ring's event byte for byte
/// (little endian), so this is the trace file's hot loop without any decoding.
/// The ring's ids are the recorder's, which are dense as the format requires.
pub(crate) fn encode_events_payload(thread: ThreadId, raws: &[RawEvent], out: &mut Vec<u8>) {
    // A batch is at most a ring (4096 slots), far below `u32::MAX`.
    wire::write_events_header(thread.0, raws.len() as u32, out);
    out.reserve(raws.len() * wire::EVENT_LEN);
    for r in raws {
        let mut slot = [0u8; wire::EVENT_LEN];
        slot[..8].copy_from_slice(&r.head.to_le_bytes());
        slot[8..].copy_from_slice(&r.ids.to_le_bytes());
        out.extend_from_slice(&slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The recorder's object ids: dense, so below 2^32 (see `RawEvent`).
    fn id() -> impl Strategy<Value = ObjectId> {
        any::<u32>().prop_map(|id| ObjectId(u64::from(id)))
    }

    /// Sequence numbers, generations and versions below 2^48 (see `RawEvent`).
    fn count() -> impl Strategy<Value = u64> {
        0..=wire::MAX_B
    }

    fn mode() -> impl Strategy<Value = Mode> {
        prop_oneof![Just(Mode::Write), Just(Mode::Read), Just(Mode::Upgradable)]
    }

    fn op() -> impl Strategy<Value = Op> {
        let attempt = prop_oneof![
            Just(Attempt::Blocking),
            Just(Attempt::Try),
            Just(Attempt::Timed)
        ];
        let order = prop_oneof![
            Just(None),
            Just(Some(MemoryOrder::Relaxed)),
            Just(Some(MemoryOrder::Acquire)),
            Just(Some(MemoryOrder::Release)),
            Just(Some(MemoryOrder::AcqRel)),
            Just(Some(MemoryOrder::SeqCst)),
        ];
        let child = any::<u32>().prop_map(ThreadId);
        prop_oneof![
            (id(), mode()).prop_map(|(lock, mode)| Op::Request { lock, mode }),
            (id(), mode(), attempt, count()).prop_map(|(lock, mode, attempt, seq)| {
                Op::Acquire {
                    lock,
                    mode,
                    attempt,
                    seq,
                }
            }),
            (id(), mode()).prop_map(|(lock, mode)| Op::TryFailed { lock, mode }),
            (id(), mode(), count()).prop_map(|(lock, mode, seq)| Op::Release { lock, mode, seq }),
            (id(), id(), any::<bool>()).prop_map(|(condvar, lock, timed)| Op::CondWait {
                condvar,
                lock,
                timed
            }),
            (id(), count(), any::<bool>()).prop_map(|(condvar, notified_seen, timed_out)| {
                Op::CondWake {
                    condvar,
                    notified_seen,
                    timed_out,
                }
            }),
            (id(), any::<bool>(), count()).prop_map(|(condvar, all, seq)| Op::Notify {
                condvar,
                all,
                seq
            }),
            (id(), count()).prop_map(|(barrier, generation)| Op::BarrierArrive {
                barrier,
                generation
            }),
            (id(), count()).prop_map(|(barrier, generation)| Op::BarrierDepart {
                barrier,
                generation
            }),
            (id(), count()).prop_map(|(channel, seq)| Op::Send { channel, seq }),
            (id(), count()).prop_map(|(channel, seq)| Op::Recv { channel, seq }),
            child.clone().prop_map(|child| Op::Fork { child }),
            child.prop_map(|child| Op::Join { child }),
            Just(Op::Begin),
            Just(Op::End),
            (id(), any::<bool>(), order, count()).prop_map(|(var, write, order, version)| {
                Op::Access {
                    var,
                    write,
                    order,
                    version,
                }
            }),
        ]
    }

    proptest! {
        #[test]
        fn every_op_survives_the_compact_form(op in op(), site in any::<u32>()) {
            let event = Event { op, site: SiteId(site) };
            prop_assert_eq!(RawEvent::new(op, SiteId(site)).event(), event);
        }
    }

    fn raw() -> impl Strategy<Value = RawEvent> {
        prop_oneof![
            (op(), any::<u32>()).prop_map(|(op, site)| RawEvent::new(op, SiteId(site))),
            (id(), mode(), count(), any::<u32>()).prop_map(|(lock, mode, seq, site)| {
                RawEvent::request_acquire(lock, mode, seq, SiteId(site))
            }),
        ]
    }

    proptest! {
        /// The direct encoder against the events the ring stands for (the
        /// oracle), read back through the format's own parser.
        #[test]
        fn the_payload_reads_back_as_the_events(
            raws in proptest::collection::vec(raw(), 0..40),
            thread in any::<u32>(),
        ) {
            let mut events = Vec::new();
            for r in &raws {
                r.push_events(&mut events);
            }
            let mut payload = Vec::new();
            encode_events_payload(ThreadId(thread), &raws, &mut payload);
            let wire::WireRecord::Events { thread: t, slots } = wire::parse_record(&payload).unwrap() else {
                panic!("not an Events record");
            };
            prop_assert_eq!(t, thread);
            let mut back = Vec::new();
            for (i, slot) in slots.chunks_exact(wire::EVENT_LEN).enumerate() {
                let slot = wire::WireEvent::from_bytes(slot.try_into().unwrap());
                let (first, second) = slot.ops(i).unwrap();
                let site = SiteId(slot.site);
                back.push(Event { op: first, site });
                back.extend(second.map(|op| Event { op, site }));
            }
            prop_assert_eq!(back, events);
        }

        /// Every single event's slot is the one the format's own encoder makes.
        #[test]
        fn a_slot_is_the_formats(op in op(), site in any::<u32>()) {
            let mut payload = Vec::new();
            encode_events_payload(ThreadId(0), &[RawEvent::new(op, SiteId(site))], &mut payload);
            let expected = wire::WireEvent::from_op(op, SiteId(site)).unwrap().to_bytes();
            prop_assert_eq!(&payload[wire::EVENTS_HEADER_LEN..], &expected[..]);
        }
    }

    #[test]
    fn request_acquire_stands_for_two_events() {
        let (lock, site) = (ObjectId(7), SiteId(3));
        let mut out = Vec::new();
        RawEvent::request_acquire(lock, Mode::Read, 9, site).push_events(&mut out);
        let request = Op::Request {
            lock,
            mode: Mode::Read,
        };
        let acquire = Op::Acquire {
            lock,
            mode: Mode::Read,
            attempt: Attempt::Blocking,
            seq: 9,
        };
        assert_eq!(
            out,
            [Event { op: request, site }, Event { op: acquire, site }]
        );
    }

    #[test]
    fn a_raw_event_is_a_slot() {
        assert_eq!(std::mem::size_of::<RawEvent>(), wire::EVENT_LEN);
        assert_eq!(wire::EVENT_LEN, 16);
    }

    /// The documented behaviour past 2^48 (not reached in practice): the
    /// number is kept modulo 2^48, and nothing else in the slot changes.
    #[test]
    fn a_seq_beyond_48_bits_wraps_without_touching_other_fields() {
        let (lock, site) = (ObjectId(u64::from(u32::MAX)), SiteId(u32::MAX));
        let op = |seq| Op::Release {
            lock,
            mode: Mode::Upgradable,
            seq,
        };
        let event = RawEvent::new(op(wire::MAX_B + 1 + 42), site).event();
        assert_eq!(event, Event { op: op(42), site });
    }
}

//! The recorder's hot path against its slow paths, on one lock: rounds that
//! fill and wrap the thread's ring several times (the owner drains it when
//! full), rounds with a `tracing` subscriber (every event through the slow
//! path, which also fills the ring), then hot rounds again, and a thread
//! that exits (its ring freed after the last drain). Every event must be in
//! the in-memory copy once, in program order, with consecutive sequence
//! numbers, and the subscriber must see exactly its rounds' events.
//!
//! One test in this binary, so no other test thread records meanwhile.
// Under `passthrough` the locks are std's own and nothing is recorded.
#![cfg(not(feature = "passthrough"))]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use instrumented_sync::Mutex;
use sync_trace::{Mode, ObjectId, Op, Record};
use tracing::span::{Attributes, Id, Record as SpanRecord};
use tracing::{Event, Metadata, Subscriber};

/// Rounds before the subscriber: more than three rings of slots (a ring is
/// 2048 slots; a round takes two).
const HOT_ROUNDS: u64 = 3 * 1024 + 7;
/// Rounds seen by the subscriber: more than a ring's worth, so the slow path
/// fills the ring and drains it too.
const TRACED_ROUNDS: u64 = 1100;
const LATER_ROUNDS: u64 = 1000;
const THREAD_ROUNDS: u64 = 2500;

/// Counts the `instrumented_sync` events it is given.
struct CountingSubscriber {
    events: AtomicUsize,
}

impl Subscriber for CountingSubscriber {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &SpanRecord<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        if event.metadata().target() == "instrumented_sync" {
            self.events.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn rounds(m: &Mutex<u64>, n: u64) {
    for _ in 0..n {
        *m.lock().unwrap() += 1;
    }
}

/// The ops on `lock`, in recorded order.
fn ops_on(records: &[Record], lock: ObjectId) -> Vec<Op> {
    let on_lock = |op: &Op| match *op {
        Op::Request { lock: l, .. } | Op::Acquire { lock: l, .. } | Op::Release { lock: l, .. } => {
            l == lock
        }
        _ => false,
    };
    records
        .iter()
        .filter_map(|r| match r {
            Record::Events { events, .. } => Some(events.iter().map(|e| e.op)),
            _ => None,
        })
        .flatten()
        .filter(on_lock)
        .collect()
}

/// `ops` are `rounds` rounds of `Request`, `Acquire`, `Release` on one lock,
/// with sequence numbers `first_seq`, `first_seq + 1`, ... in order.
fn assert_rounds(ops: &[Op], rounds: u64, first_seq: u64) {
    assert_eq!(ops.len() as u64, 3 * rounds, "one event each, none lost");
    let mut seq = first_seq;
    for (k, round) in ops.chunks(3).enumerate() {
        let ok = matches!(
            round[0],
            Op::Request {
                mode: Mode::Write,
                ..
            }
        ) && matches!(round[1], Op::Acquire { seq: s, .. } if s == seq)
            && matches!(round[2], Op::Release { seq: s, .. } if s == seq + 1);
        assert!(ok, "round {k}: {round:?} (expected sequence {seq})");
        seq += 2;
    }
}

/// The id of the object named `name` in `records`.
fn lock_id(records: &[Record], name: &str) -> ObjectId {
    records
        .iter()
        .find_map(|r| match r {
            Record::Object(o) if o.name.as_deref() == Some(name) => Some(o.id),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no object named {name}"))
}

#[test]
fn every_event_survives_hot_and_slow_paths_in_order() {
    let m = Mutex::new(0u64).named("hot-path lock");
    rounds(&m, HOT_ROUNDS);
    let subscriber = Arc::new(CountingSubscriber {
        events: AtomicUsize::new(0),
    });
    tracing::subscriber::with_default(Arc::clone(&subscriber), || rounds(&m, TRACED_ROUNDS));
    rounds(&m, LATER_ROUNDS);
    assert_eq!(
        subscriber.events.load(Ordering::Relaxed) as u64,
        3 * TRACED_ROUNDS,
        "the subscriber sees exactly the events recorded while it was the default"
    );

    // A thread that records, exits (its ring drained by its destructor and
    // freed), while this one keeps recording on another lock.
    let shared = Arc::new(Mutex::new(0u64).named("exiting-thread lock"));
    let other = Arc::clone(&shared);
    std::thread::spawn(move || rounds(&other, THREAD_ROUNDS))
        .join()
        .unwrap();
    rounds(&m, 1);

    let records = instrumented_sync::recorded();
    let total = HOT_ROUNDS + TRACED_ROUNDS + LATER_ROUNDS + 1;
    assert_rounds(
        &ops_on(&records, lock_id(&records, "hot-path lock")),
        total,
        1,
    );
    let exited = ops_on(&records, lock_id(&records, "exiting-thread lock"));
    assert_rounds(&exited, THREAD_ROUNDS, 1);
    assert_eq!(*m.lock().unwrap(), total);
    assert_eq!(instrumented_sync::dropped_events(), 0);
}

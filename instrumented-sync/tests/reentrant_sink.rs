//! A user sink that itself uses instrumented primitives neither deadlocks nor
//! recurses; its own lock traffic is not recorded.
#![cfg(not(feature = "passthrough"))]

use std::sync::Arc;

use instrumented_sync::{Mutex, Sink, thread};
use sync_trace::{ObjectId, Op, Record};

/// Keeps records behind an instrumented mutex.
struct LockingSink {
    records: Arc<Mutex<Vec<Record>>>,
}

impl Sink for LockingSink {
    fn write(&self, records: &[Record]) {
        // First use of this mutex happens inside the recorder's output section.
        self.records.lock().unwrap().extend_from_slice(records);
        // Flushing from inside a sink is a no-op rather than a deadlock.
        instrumented_sync::flush();
    }
}

#[test]
fn a_sink_using_instrumented_locks_works() {
    let kept = Arc::new(Mutex::new(Vec::new()));
    instrumented_sync::set_sink(Box::new(LockingSink {
        records: Arc::clone(&kept),
    }));
    let counter = Arc::new(Mutex::new(0).named("counter"));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let c = Arc::clone(&counter);
            thread::spawn(move || {
                for _ in 0..100 {
                    *c.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    instrumented_sync::flush();
    let records = kept.lock().unwrap().clone();
    let described: Vec<ObjectId> = records
        .iter()
        .filter_map(|r| {
            if let Record::Object(o) = r {
                Some(o.id)
            } else {
                None
            }
        })
        .collect();
    let mut acquires = 0;
    for r in &records {
        if let Record::Events { events, .. } = r {
            for e in events {
                if let Op::Acquire { lock, .. } = e.op {
                    assert!(
                        described.contains(&lock),
                        "only described objects appear: {lock:?}"
                    );
                    acquires += 1;
                }
            }
        }
    }
    assert_eq!(acquires, 200, "the sink's own lock traffic is not recorded");
}

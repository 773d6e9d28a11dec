//! A semaphore orders the thread that hands a permit back before the thread
//! that takes it next: state guarded by a one-permit semaphore is no race, and
//! a permit added as a signal publishes what was written before it.
#![cfg(not(feature = "passthrough"))]

use std::sync::Arc;
use std::time::Duration;

use instrumented_sync::{RaceCell, Semaphore, thread};

/// Race findings (any kind) about the variable called `name`.
fn race_findings(name: &str) -> Vec<String> {
    instrumented_sync::findings()
        .findings
        .iter()
        .filter(|f| f.variable.as_ref().is_some_and(|v| v.name == name))
        .map(|f| format!("{}: {}", f.kind, f.message))
        .collect()
}

#[test]
fn a_one_permit_semaphore_used_as_a_lock_is_no_race() {
    let gate = Arc::new(Semaphore::new(1).named("gate"));
    let total = Arc::new(RaceCell::new(0u64).named("gated_total"));
    let workers: Vec<_> = (0..2)
        .map(|i| {
            let (gate, total) = (Arc::clone(&gate), Arc::clone(&total));
            thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20 * i));
                let _permit = gate.acquire();
                total.set(total.get() + 1);
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(race_findings("gated_total"), Vec::<String>::new());
}

#[test]
fn a_permit_added_as_a_signal_publishes_the_write_before_it() {
    let ready = Arc::new(Semaphore::new(0).named("ready"));
    let data = Arc::new(RaceCell::new(0u64).named("signalled_data"));
    let producer = {
        let (ready, data) = (Arc::clone(&ready), Arc::clone(&data));
        thread::spawn(move || {
            data.set(42);
            ready.add_permits(1);
        })
    };
    let consumer = {
        let (ready, data) = (Arc::clone(&ready), Arc::clone(&data));
        thread::spawn(move || {
            let _p = ready.acquire();
            assert_eq!(data.get(), 42);
        })
    };
    producer.join().unwrap();
    consumer.join().unwrap();
    assert_eq!(race_findings("signalled_data"), Vec::<String>::new());
}

#[test]
fn writes_under_different_semaphores_still_race() {
    let (a, b) = (Arc::new(Semaphore::new(1)), Arc::new(Semaphore::new(1)));
    let shared = Arc::new(RaceCell::new(0u64).named("two_gates_total"));
    let t1 = {
        let (a, shared) = (Arc::clone(&a), Arc::clone(&shared));
        thread::spawn(move || {
            let _p = a.acquire();
            shared.set(1);
        })
    };
    let t2 = {
        let (b, shared) = (Arc::clone(&b), Arc::clone(&shared));
        thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let _p = b.acquire();
            shared.set(2);
        })
    };
    t1.join().unwrap();
    t2.join().unwrap();
    let found = race_findings("two_gates_total");
    assert!(
        found.iter().any(|f| f.starts_with("data-race")),
        "{found:?}"
    );
}

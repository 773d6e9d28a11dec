//! In-process check of a program that always takes its locks in one order.
//! (Its own test binary: the in-process recording covers the whole process.)
#![cfg(not(feature = "passthrough"))]

use std::sync::Arc;

use instrumented_sync::{Mutex, RwLock, thread};

#[test]
fn consistent_lock_order_passes_the_assertion() {
    let a = Arc::new(Mutex::new(0).named("A"));
    let b = Arc::new(RwLock::new(0).named("B"));
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let (a, b) = (Arc::clone(&a), Arc::clone(&b));
            thread::spawn(move || {
                for _ in 0..50 {
                    let mut ga = a.lock().unwrap();
                    *ga += *b.read().unwrap();
                    *b.write().unwrap() += 1;
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    instrumented_sync::assert_no_deadlock_risk();
    let analysis = instrumented_sync::findings();
    assert_eq!(analysis.inputs, ["<this process>"]);
    assert!(
        analysis.summary.events >= 3 * 50 * 6,
        "events counted: {:?}",
        analysis.summary
    );
    assert!(analysis.summary.locks >= 2, "{:?}", analysis.summary);
    assert!(
        analysis.warnings.is_empty(),
        "a well-formed recording: {:?}",
        analysis.warnings
    );
}

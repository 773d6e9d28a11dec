//! In-process check of a lock-order inversion that did not deadlock in this run.
//! (Its own test binary: the in-process recording covers the whole process.)
#![cfg(not(feature = "passthrough"))]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use analyzer::finding::FindingKind;
use instrumented_sync::{Mutex, thread};

#[test]
fn an_inversion_is_found_and_fails_the_assertion() {
    let a = Arc::new(Mutex::new(0).named("A"));
    let b = Arc::new(Mutex::new(0).named("B"));
    // An uninstrumented flag keeps the two threads apart in real time without
    // ordering them for the analyzer, so the inversion stays a prediction.
    let first_done = Arc::new(AtomicBool::new(false));
    let t1 = {
        let (a, b, done) = (Arc::clone(&a), Arc::clone(&b), Arc::clone(&first_done));
        thread::spawn(move || {
            let _ga = a.lock().unwrap();
            let _gb = b.lock().unwrap();
            drop((_gb, _ga));
            done.store(true, Ordering::Release);
        })
    };
    let t2 = {
        let (a, b, done) = (Arc::clone(&a), Arc::clone(&b), Arc::clone(&first_done));
        thread::spawn(move || {
            while !done.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
            let _gb = b.lock().unwrap();
            let _ga = a.lock().unwrap();
        })
    };
    t1.join().unwrap();
    t2.join().unwrap();

    let analysis = instrumented_sync::findings();
    let deadlocks: Vec<_> = analysis
        .findings
        .iter()
        .filter(|f| {
            matches!(
                f.kind,
                FindingKind::PredictedDeadlock | FindingKind::LockOrderInversion
            )
        })
        .collect();
    assert_eq!(
        deadlocks.len(),
        1,
        "one cycle between A and B: {:#?}",
        analysis.findings
    );
    let mut names: Vec<&str> = deadlocks[0].locks.iter().map(|l| l.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["A", "B"]);
    assert_eq!(
        deadlocks[0].kind,
        FindingKind::PredictedDeadlock,
        "unordered threads: a predicted deadlock"
    );

    let panic = std::panic::catch_unwind(instrumented_sync::assert_no_deadlock_risk).unwrap_err();
    let report = panic.downcast_ref::<String>().expect("a formatted report");
    assert!(report.contains("predicted-deadlock"), "{report}");
    assert!(
        report.contains("check_inversion.rs"),
        "the report names the sites: {report}"
    );
}

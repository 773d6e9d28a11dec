//! The implicit joins at the end of `thread::scope` are waits the deadlock
//! detector sees: a scope whose children can never finish is reported, not hung.
#![cfg(not(feature = "passthrough"))]

use std::time::Duration;

use instrumented_sync::{Condvar, Mutex, thread};

mod scenario;

use scenario::run;

/// A consumer waits for a flag inside a scope; the producer sets it and notifies only if `fixed`.
fn scoped_forgotten_notify(fixed: bool) {
    let ready = Mutex::new(false).named("ready");
    let cv = Condvar::new().named("ready_cv");
    thread::scope(|s| {
        thread::Builder::new()
            .name("consumer".into())
            .spawn_scoped(s, || {
                drop(cv.wait_while(ready.lock().unwrap(), |r| !*r).unwrap())
            })
            .unwrap();
        thread::Builder::new()
            .name("producer".into())
            .spawn_scoped(s, || {
                std::thread::sleep(Duration::from_millis(20));
                *ready.lock().unwrap() = true;
                if fixed {
                    cv.notify_all();
                }
            })
            .unwrap();
        // No explicit joins: the scope's end joins both.
    });
}

#[test]
fn a_scope_blocked_on_a_child_that_never_wakes_is_reported() {
    let msg = run(|| scoped_forgotten_notify(false)).expect("must panic with a deadlock report");
    assert!(msg.contains("deadlock"), "{msg}");
    assert!(msg.contains("consumer"), "{msg}");
}

#[test]
fn a_scope_whose_children_finish_is_silent() {
    assert_eq!(run(|| scoped_forgotten_notify(true)), None);
}

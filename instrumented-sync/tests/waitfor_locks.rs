//! Live deadlock detection over locks and joins: each deadlocking program ends
//! by itself (a thread of the cycle panics with the report), and its fixed
//! twin passes silently.
#![cfg(not(feature = "passthrough"))]

use std::sync::Arc;
use std::time::Duration;

use instrumented_sync::{Barrier, Mutex, thread};

mod scenario;

use scenario::{join, run};

fn abba(ordered: bool) {
    let a = Arc::new(Mutex::new(0).named("account_a"));
    let b = Arc::new(Mutex::new(0).named("account_b"));
    let barrier = Arc::new(Barrier::new(2));
    let (a2, b2, barrier2) = (Arc::clone(&a), Arc::clone(&b), Arc::clone(&barrier));
    let t1 = thread::Builder::new()
        .name("clerk-1".into())
        .spawn(move || {
            let _ga = a2.lock().unwrap();
            barrier2.wait();
            let _gb = b2.lock().unwrap();
        })
        .unwrap();
    let t2 = thread::Builder::new()
        .name("clerk-2".into())
        .spawn(move || {
            let (first, second) = if ordered { (&a, &b) } else { (&b, &a) };
            if ordered {
                barrier.wait();
            }
            let _g1 = first.lock().unwrap();
            if !ordered {
                barrier.wait();
            }
            let _g2 = second.lock().unwrap();
        })
        .unwrap();
    let r1 = t1.join();
    let r2 = t2.join();
    for r in [r1, r2] {
        if let Err(e) = r {
            std::panic::resume_unwind(e);
        }
    }
}

#[test]
fn abba_with_barrier_is_reported_when_the_cycle_closes() {
    let msg = run(|| abba(false)).expect("the ABBA program must panic with the report");
    assert!(msg.contains("deadlock"), "{msg}");
    assert!(msg.contains("clerk-1") && msg.contains("clerk-2"), "{msg}");
    assert!(
        msg.contains("account_a") && msg.contains("account_b"),
        "{msg}"
    );
    assert!(msg.contains("circular wait"), "{msg}");
    assert!(msg.contains("digraph wait_for"), "{msg}");
    assert!(msg.contains("waitfor_locks.rs"), "sites are shown: {msg}");
    let observed = instrumented_sync::recorded().into_iter().any(|r| {
        matches!(r, sync_trace::Record::Observed { kind, json, .. }
            if kind == "observed-deadlock" && json.contains("account_a"))
    });
    assert!(observed, "the report is recorded into the trace");
}

#[test]
fn abba_fixed_twin_is_silent() {
    assert_eq!(run(|| abba(true)), None);
}

#[test]
fn relocking_a_held_mutex_is_reported() {
    let msg = run(|| {
        let m = Mutex::new(1).named("config");
        let _g = m.lock().unwrap();
        let _again = m.lock().unwrap();
    })
    .expect("re-locking must panic");
    assert!(msg.contains("deadlock") && msg.contains("config"), "{msg}");
}

#[test]
fn relocking_fixed_twin_is_silent() {
    assert_eq!(
        run(|| {
            let m = Mutex::new(1).named("config");
            let v = *m.lock().unwrap();
            *m.lock().unwrap() = v + 1;
        }),
        None
    );
}

fn join_holding(fixed: bool) {
    let m = Arc::new(Mutex::new(0).named("results"));
    let m2 = Arc::clone(&m);
    let guard = m.lock().unwrap();
    let h = thread::Builder::new()
        .name("worker".into())
        .spawn(move || *m2.lock().unwrap() += 1)
        .unwrap();
    if fixed {
        drop(guard);
        join(h);
    } else {
        // Give the worker time to block on the lock first (either order is detected).
        std::thread::sleep(Duration::from_millis(20));
        join(h);
        drop(guard);
    }
}

#[test]
fn joining_a_thread_that_needs_a_held_lock_is_reported() {
    let msg = run(|| join_holding(false)).expect("must panic");
    assert!(msg.contains("deadlock"), "{msg}");
    assert!(msg.contains("worker") && msg.contains("results"), "{msg}");
}

#[test]
fn joining_after_releasing_is_silent() {
    assert_eq!(run(|| join_holding(true)), None);
}

#[test]
fn slow_holder_is_not_a_deadlock() {
    assert_eq!(
        run(|| {
            let m = Arc::new(Mutex::new(0));
            let m2 = Arc::clone(&m);
            let g = m.lock().unwrap();
            let h = thread::spawn(move || *m2.lock().unwrap() += 1);
            std::thread::sleep(Duration::from_millis(300));
            drop(g);
            join(h);
        }),
        None
    );
}

#[test]
fn relocking_a_held_spin_lock_is_reported_as_spinning() {
    let msg = run(|| {
        let s = instrumented_sync::SpinLock::new(0).named("ring_head");
        let _g = s.lock().unwrap();
        let _again = s.lock().unwrap();
    })
    .expect("re-locking a spin lock must panic, not spin forever");
    assert!(
        msg.contains("deadlock") && msg.contains("ring_head"),
        "{msg}"
    );
    assert!(msg.contains("spins on ring_head"), "{msg}");
    assert!(msg.contains("(spin-lock) is held exclusively"), "{msg}");
}

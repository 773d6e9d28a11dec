//! Live deadlock detection over waits with no single owner (condvar, barrier,
//! semaphore) found by the watchdog, and the absence of false alarms.
#![cfg(not(feature = "passthrough"))]

use std::sync::Arc;
use std::time::Duration;

use instrumented_sync::{Condvar, Mutex, Semaphore, thread};

mod scenario;

use scenario::{join, run};

fn forgotten_notify(fixed: bool) {
    let pair = Arc::new((
        Mutex::new(false).named("ready"),
        Condvar::new().named("ready_cv"),
    ));
    let p2 = Arc::clone(&pair);
    let consumer = thread::Builder::new()
        .name("consumer".into())
        .spawn(move || {
            let g = p2.1.wait_while(p2.0.lock().unwrap(), |r| !*r).unwrap();
            assert!(*g);
        })
        .unwrap();
    let p3 = Arc::clone(&pair);
    let producer = thread::Builder::new()
        .name("producer".into())
        .spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            *p3.0.lock().unwrap() = true;
            if fixed {
                p3.1.notify_one();
            }
        })
        .unwrap();
    join(producer);
    join(consumer);
}

#[test]
fn condvar_whose_producer_forgets_to_notify_is_reported() {
    let msg = run(|| forgotten_notify(false)).expect("must panic");
    assert!(msg.contains("deadlock") && msg.contains("all"), "{msg}");
    assert!(
        msg.contains("consumer") && msg.contains("ready_cv"),
        "{msg}"
    );
}

#[test]
fn condvar_with_notify_is_silent() {
    assert_eq!(run(|| forgotten_notify(true)), None);
}

fn one_notify_two_waiters(fixed: bool) {
    let pair = Arc::new((Mutex::new(false), Condvar::new().named("done_cv")));
    let waiters: Vec<_> = (0..2)
        .map(|i| {
            let p = Arc::clone(&pair);
            thread::Builder::new()
                .name(format!("waiter-{i}"))
                .spawn(move || drop(p.1.wait_while(p.0.lock().unwrap(), |d| !*d).unwrap()))
                .unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    *pair.0.lock().unwrap() = true;
    if fixed {
        pair.1.notify_all();
    } else {
        pair.1.notify_one();
    }
    for w in waiters {
        join(w);
    }
}

#[test]
fn one_notify_one_with_two_waiters_is_reported() {
    let msg = run(|| one_notify_two_waiters(false)).expect("must panic");
    assert!(msg.contains("deadlock") && msg.contains("done_cv"), "{msg}");
}

#[test]
fn notify_all_with_two_waiters_is_silent() {
    assert_eq!(run(|| one_notify_two_waiters(true)), None);
}

fn semaphore_leak(fixed: bool) {
    let permits = Arc::new(Semaphore::new(2).named("permits"));
    let results = Arc::new(Mutex::new(Vec::new()).named("results"));
    let guard = results.lock().unwrap();
    let workers: Vec<_> = (0..2)
        .map(|i| {
            let (permits, results) = (Arc::clone(&permits), Arc::clone(&results));
            thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || {
                    let _permit = permits.acquire();
                    results.lock().unwrap().push(i);
                })
                .unwrap()
        })
        .collect();
    while permits.available_permits() > 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(20));
    if fixed {
        drop(guard);
        drop(permits.acquire());
    } else {
        // Bug: waits for a permit while holding the lock every permit holder needs.
        drop(permits.acquire());
        drop(guard);
    }
    for w in workers {
        join(w);
    }
}

#[test]
fn semaphore_permits_held_by_blocked_holders_are_reported() {
    let msg = run(|| semaphore_leak(false)).expect("must panic");
    assert!(msg.contains("deadlock") && msg.contains("permits"), "{msg}");
    assert!(msg.contains("worker-0") && msg.contains("results"), "{msg}");
}

#[test]
fn semaphore_released_first_is_silent() {
    assert_eq!(run(|| semaphore_leak(true)), None);
}

#[test]
fn timed_waits_are_not_deadlocks() {
    assert_eq!(
        run(|| {
            let pair = Arc::new((Mutex::new(()), Condvar::new()));
            let sem = Arc::new(Semaphore::new(0));
            let p2 = Arc::clone(&pair);
            let s2 = Arc::clone(&sem);
            let h = thread::spawn(move || {
                for _ in 0..3 {
                    let g = p2.0.lock().unwrap();
                    drop(p2.1.wait_timeout(g, Duration::from_millis(100)).unwrap());
                }
                assert!(s2.acquire_timeout(Duration::from_millis(150)).is_none());
            });
            let g = pair.0.lock().unwrap();
            drop(pair.1.wait_timeout(g, Duration::from_millis(400)).unwrap());
            join(h);
        }),
        None
    );
}

#[test]
fn a_slow_notifier_is_not_a_deadlock() {
    assert_eq!(run(forgotten_notify_slow), None);
}

fn forgotten_notify_slow() {
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let p2 = Arc::clone(&pair);
    let h = thread::spawn(move || {
        // Busy outside instrumented code (a sleep), then notifies.
        std::thread::sleep(Duration::from_millis(300));
        *p2.0.lock().unwrap() = true;
        p2.1.notify_all();
    });
    drop(pair.1.wait_while(pair.0.lock().unwrap(), |r| !*r).unwrap());
    join(h);
}

#[test]
fn spurious_wakeups_are_not_deadlocks() {
    assert_eq!(
        run(|| {
            let pair = Arc::new((Mutex::new(0), Condvar::new()));
            let p2 = Arc::clone(&pair);
            let h = thread::spawn(move || {
                // Wakes the waiter many times without making its condition true.
                for _ in 0..20 {
                    std::thread::sleep(Duration::from_millis(15));
                    p2.1.notify_all();
                }
                *p2.0.lock().unwrap() = 1;
                p2.1.notify_all();
            });
            drop(
                pair.1
                    .wait_while(pair.0.lock().unwrap(), |v| *v == 0)
                    .unwrap(),
            );
            join(h);
        }),
        None
    );
}

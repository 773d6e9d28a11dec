//! Threads the detector does not know (plain `std::thread`s, a pool's
//! workers) can still wake an instrumented wait: while one of them sleeps or
//! works, "every thread is blocked" must not be reported. A thread that is
//! itself blocked outside instrumented code for good (a harness waiting for
//! the result) does not stop a real report.
#![cfg(not(feature = "passthrough"))]

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use instrumented_sync::{Condvar, Mutex, mpsc};

mod scenario;

use scenario::run;

/// Longer than the watchdog's default interval (100 ms), several times over.
const SLOW: Duration = Duration::from_millis(400);

#[test]
fn a_std_thread_that_sleeps_then_notifies_is_no_deadlock() {
    assert_eq!(
        run(|| {
            let ready = Arc::new((Mutex::new(false), Condvar::new()));
            let r2 = Arc::clone(&ready);
            let notifier = std::thread::spawn(move || {
                std::thread::sleep(SLOW);
                *r2.0.lock().unwrap() = true;
                r2.1.notify_all();
            });
            let (m, cv) = &*ready;
            let g = cv.wait_while(m.lock().unwrap(), |done| !*done).unwrap();
            assert!(*g);
            drop(g);
            notifier.join().unwrap();
        }),
        None
    );
}

#[test]
fn a_std_thread_that_computes_then_sends_is_no_deadlock() {
    assert_eq!(
        run(|| {
            let (tx, rx) = mpsc::channel();
            let worker = std::thread::spawn(move || {
                // Busy outside instrumented code, then a result.
                let deadline = std::time::Instant::now() + SLOW;
                let mut n = 0u64;
                while std::time::Instant::now() < deadline {
                    n = std::hint::black_box(n + 1);
                }
                tx.send(n).unwrap();
            });
            assert!(rx.recv().unwrap() > 0);
            worker.join().unwrap();
        }),
        None
    );
}

#[test]
fn a_pool_of_std_workers_feeding_an_instrumented_channel_is_no_deadlock() {
    assert_eq!(
        run(|| {
            let (results_tx, results_rx) = mpsc::channel();
            let (jobs_tx, jobs_rx) = std::sync::mpsc::channel::<u64>();
            let jobs_rx = Arc::new(StdMutex::new(jobs_rx));
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    let (jobs_rx, results_tx) = (Arc::clone(&jobs_rx), results_tx.clone());
                    std::thread::spawn(move || {
                        loop {
                            let job = jobs_rx.lock().unwrap().recv();
                            let Ok(job) = job else { return };
                            std::thread::sleep(SLOW / 2);
                            results_tx.send(job * 2).unwrap();
                        }
                    })
                })
                .collect();
            drop(results_tx);
            for j in 0..4 {
                jobs_tx.send(j).unwrap();
            }
            drop(jobs_tx);
            let sum: u64 = results_rx.iter().sum();
            assert_eq!(sum, 12);
            for w in workers {
                w.join().unwrap();
            }
        }),
        None
    );
}

#[test]
fn a_condvar_nobody_notifies_is_still_reported_beside_a_blocked_std_thread() {
    let msg = run(|| {
        // A std thread blocked for good outside instrumented code (as a harness is).
        let (_keep, never) = std::sync::mpsc::channel::<()>();
        let bystander = std::thread::spawn(move || {
            let _ = never.recv();
        });
        let pair = (Mutex::new(false), Condvar::new());
        let g = pair.0.lock().unwrap();
        let _g = pair.1.wait_while(g, |ready| !*ready).unwrap();
        drop(bystander);
    })
    .expect("a wait nobody can end must be reported");
    assert!(msg.contains("deadlock"), "{msg}");
}

//! Correct hand-offs never trip the deadlock detector, even when a woken
//! thread is not scheduled for a while: a notified condvar waiter, a released
//! barrier waiter and a receiver with a message waiting all count as running
//! until they run again.
//!
//! The parent re-runs this binary with a 1 ms watchdog interval (so an
//! all-blocked state is reported after 1 ms instead of 100 ms) and busy
//! threads competing for the two cores, which makes "woken but not yet
//! running" common; any report makes the child panic.
#![cfg(not(feature = "passthrough"))]

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use instrumented_sync::{Barrier, Condvar, Mutex, mpsc, thread};

const CHILD_VAR: &str = "INSTRUMENTED_SYNC_NO_FALSE_ALARM_CHILD";
const ROUNDS: usize = 200;

/// A consumer waits for a flag in a scope; the producer sets it, notifies and ends.
fn condvar_handoff() {
    let ready = Mutex::new(false).named("ready");
    let cv = Condvar::new().named("ready_cv");
    thread::scope(|s| {
        s.spawn(|| drop(cv.wait_while(ready.lock().unwrap(), |r| !*r).unwrap()));
        s.spawn(|| {
            *ready.lock().unwrap() = true;
            cv.notify_one();
        });
    });
}

/// Three threads meet at a barrier; the last arrival ends at once.
fn barrier_handoff() {
    let barrier = Barrier::new(3);
    thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                barrier.wait();
            });
        }
    });
}

/// A receiver blocks; the sender sends one message and ends.
fn channel_handoff() {
    let (tx, rx) = mpsc::channel::<u32>();
    let receiver = thread::spawn(move || rx.recv().unwrap());
    let sender = thread::spawn(move || tx.send(7).unwrap());
    sender.join().unwrap();
    assert_eq!(receiver.join().unwrap(), 7);
}

#[test]
#[ignore = "run by the other test in a child process"]
fn child_entry() {
    assert!(
        std::env::var_os(CHILD_VAR).is_some(),
        "run by woken_threads_that_have_not_run_yet_are_not_a_deadlock"
    );
    // Plain std threads spinning: they compete for the cores without being
    // instrumented threads the detector would count as live.
    let stop = Arc::new(AtomicBool::new(false));
    let spinners: Vec<_> = (0..3)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    for _ in 0..ROUNDS {
        condvar_handoff();
        barrier_handoff();
        channel_handoff();
    }
    stop.store(true, Ordering::Relaxed);
    for s in spinners {
        s.join().unwrap();
    }
}

#[test]
fn woken_threads_that_have_not_run_yet_are_not_a_deadlock() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_entry",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_VAR, "1")
        .env("INSTRUMENTED_SYNC_WATCHDOG_MS", "1")
        .env_remove("INSTRUMENTED_SYNC_TRACE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("1 passed"),
        "the child did not run its rounds:\n{stdout}\n{stderr}"
    );
    assert!(
        out.status.success() && !stderr.contains("deadlock"),
        "false deadlock report:\n{stderr}"
    );
}

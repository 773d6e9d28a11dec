//! Two threads handing a turn back and forth through one condvar, many times:
//! every notification reaches the thread that waits for it (a thread that
//! starts waiting right after notifying must not take its own wakeup), so the
//! exchange finishes and the deadlock detector stays silent.
#![cfg(not(feature = "passthrough"))]

use std::sync::Arc;

use instrumented_sync::{Condvar, Mutex, thread};

#[test]
fn a_long_ping_pong_finishes_without_a_deadlock_report() {
    const ROUNDS: u64 = 5_000;
    let pair = Arc::new((Mutex::new(0u64), Condvar::new()));
    let other = Arc::clone(&pair);
    let pong = thread::spawn(move || {
        let (m, cv) = &*other;
        let mut turn = m.lock().unwrap();
        for i in 0..ROUNDS {
            while *turn != 2 * i + 1 {
                turn = cv.wait(turn).unwrap();
            }
            *turn += 1;
            cv.notify_one();
        }
    });
    let (m, cv) = &*pair;
    let mut turn = m.lock().unwrap();
    for i in 0..ROUNDS {
        while *turn != 2 * i {
            turn = cv.wait(turn).unwrap();
        }
        *turn += 1;
        cv.notify_one();
    }
    while *turn != 2 * ROUNDS {
        turn = cv.wait(turn).unwrap();
    }
    drop(turn);
    pong.join().unwrap();
}

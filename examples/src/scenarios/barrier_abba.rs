//! ABBA with a barrier between the first and second lock.
//!
//! Each clerk locks one account, meets the other at a barrier, then locks the
//! other account. The barrier makes the deadlock certain (ThreadSanitizer's
//! lock-order check misses it: the barrier orders the two critical sections).
//! The live detector reports the cycle the moment the second lock request
//! closes it, and that clerk panics with the report. The ordered twin meets at
//! the barrier first and locks in one global order.

use instrumented_sync::{Barrier, Mutex, thread};

fn run(ordered: bool) {
    let checking = Mutex::new(100i64).named("checking");
    let savings = Mutex::new(100i64).named("savings");
    let barrier = Barrier::new(2);
    thread::scope(|s| {
        let clerks: Vec<_> = [(&checking, &savings), (&savings, &checking)]
            .into_iter()
            .enumerate()
            .map(|(c, (from, to))| {
                let barrier = &barrier;
                let (first, second) = if ordered {
                    (&checking, &savings)
                } else {
                    (from, to)
                };
                thread::Builder::new()
                    .name(format!("clerk-{c}"))
                    .spawn_scoped(s, move || {
                        if ordered {
                            barrier.wait();
                        }
                        let mut a = first.lock().unwrap();
                        if !ordered {
                            barrier.wait();
                        }
                        let mut b = second.lock().unwrap();
                        *a -= 10;
                        *b += 10;
                    })
                    .unwrap()
            })
            .collect();
        for c in clerks {
            if let Err(e) = c.join() {
                std::panic::resume_unwind(e);
            }
        }
    });
}

/// Bug twin: opposite lock orders with a barrier between the locks — a real deadlock.
pub fn abba() {
    run(false);
}

/// Fixed: the barrier first, then both accounts in one order.
pub fn ordered() {
    run(true);
}

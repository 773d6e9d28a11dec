//! Lost wakeup: the bug twin of the producer/consumer condvar (seed scenario 6).
//!
//! Two consumers wait on a predicate under the shelf lock; the producer stocks
//! the shelf but forgets to notify, so both consumers sleep forever. The live
//! detector's watchdog sees every thread blocked and the consumers panic with
//! the report. The fixed twin notifies all.

use std::time::Duration;

use instrumented_sync::{Condvar, Mutex, thread};

struct Shelf {
    /// Items, and how many consumers have started waiting.
    state: Mutex<(Vec<u32>, u32)>,
    stocked: Condvar,
}

fn run(notify: bool) {
    let shelf = Shelf {
        state: Mutex::new((Vec::new(), 0)).named("shelf"),
        stocked: Condvar::new().named("stocked"),
    };
    thread::scope(|s| {
        let mut threads = Vec::new();
        for c in 0..2 {
            let shelf = &shelf;
            let consumer = thread::Builder::new()
                .name(format!("consumer-{c}"))
                .spawn_scoped(s, move || {
                    let mut state = shelf.state.lock().unwrap();
                    state.1 += 1;
                    let mut state = shelf
                        .stocked
                        .wait_while(state, |(items, _)| items.is_empty())
                        .unwrap();
                    let item = state.0.pop().expect("an item after waking");
                    assert!(item < 2);
                })
                .unwrap();
            threads.push(consumer);
        }
        let shelf = &shelf;
        let producer = thread::Builder::new()
            .name("producer".into())
            .spawn_scoped(s, move || {
                // Both consumers waiting first makes the lost wakeup certain, not a matter of timing.
                loop {
                    let mut state = shelf.state.lock().unwrap();
                    if state.1 == 2 {
                        state.0.extend([0, 1]);
                        if notify {
                            shelf.stocked.notify_all();
                        }
                        return;
                    }
                    drop(state);
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
            .unwrap();
        threads.push(producer);
        // Explicit joins: waits the detector sees (the scope's implicit join is not one).
        for t in threads {
            if let Err(e) = t.join() {
                std::panic::resume_unwind(e);
            }
        }
    });
}

/// Bug twin: the producer stocks the shelf without notifying.
pub fn forgotten_notify() {
    run(false);
}

/// Fixed: the producer notifies all waiting consumers.
pub fn fixed() {
    run(true);
}

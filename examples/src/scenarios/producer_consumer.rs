//! Condition variable with a producer and two consumers (seed scenario 6).
//!
//! Two consumers lock the condition and wait; the producer locks it, produces,
//! and notifies all; both consumers wake and consume.

use instrumented_sync::{Condvar, Mutex, thread};

struct Shelf {
    items: Mutex<Vec<u32>>,
    stocked: Condvar,
}

/// The correct version: consumers wait in a loop on a predicate, so a
/// notification sent before they start waiting is not lost.
pub fn notify_all() {
    let shelf = Shelf {
        items: Mutex::new(Vec::new()).named("shelf"),
        stocked: Condvar::new(),
    };
    thread::scope(|s| {
        for c in 0..2 {
            let shelf = &shelf;
            thread::Builder::new()
                .name(format!("consumer-{c}"))
                .spawn_scoped(s, move || {
                    let items = shelf.items.lock().unwrap();
                    let mut items = shelf
                        .stocked
                        .wait_while(items, |items| items.is_empty())
                        .unwrap();
                    let item = items.pop().expect("an item after waking");
                    assert!(item < 2);
                })
                .unwrap();
        }
        let shelf = &shelf;
        thread::Builder::new()
            .name("producer".into())
            .spawn_scoped(s, move || {
                let mut items = shelf.items.lock().unwrap();
                items.extend([0, 1]);
                shelf.stocked.notify_all();
            })
            .unwrap();
    });
    assert!(
        shelf.items.lock().unwrap().is_empty(),
        "both items consumed"
    );
}

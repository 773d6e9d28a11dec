//! A shared counter object (seed scenario 10).
//!
//! The counter's `increment` and `decrement` take the object's own lock
//! through a scoped guard, so a forgotten release is impossible.

use instrumented_sync::{Mutex, thread};

/// A counter whose every operation holds its own lock.
pub struct Counter {
    value: Mutex<i64>,
}

impl Counter {
    fn new() -> Counter {
        Counter {
            value: Mutex::new(0).named("counter"),
        }
    }

    fn increment(&self) {
        *self.value.lock().unwrap() += 1;
    }

    fn decrement(&self) {
        *self.value.lock().unwrap() -= 1;
    }

    fn get(&self) -> i64 {
        *self.value.lock().unwrap()
    }
}

/// Three incrementers and two decrementers: the result is exact.
pub fn scoped_guards() {
    let counter = Counter::new();
    thread::scope(|s| {
        for i in 0..5 {
            let counter = &counter;
            thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn_scoped(s, move || {
                    for _ in 0..1000 {
                        if i < 3 {
                            counter.increment()
                        } else {
                            counter.decrement()
                        }
                    }
                })
                .unwrap();
        }
    });
    assert_eq!(
        counter.get(),
        1000,
        "3 × 1000 increments − 2 × 1000 decrements"
    );
}

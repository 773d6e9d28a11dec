//! Dining philosophers: five forks, five philosophers, a circular wait.
//!
//! Each philosopher takes the fork on the left, then the one on the right. If
//! all five take their left fork at once, nobody can take a right one. The
//! ordered version breaks the circle: everyone takes the lower-numbered fork first.

use std::time::Duration;

use instrumented_sync::{Mutex, thread};

const PHILOSOPHERS: usize = 5;

fn dine(ordered: bool) {
    const NAMES: [&str; PHILOSOPHERS] = ["fork-0", "fork-1", "fork-2", "fork-3", "fork-4"];
    // One construction site for all five forks: one lock class, five instances.
    let forks: Vec<Mutex<u32>> = NAMES.iter().map(|name| Mutex::new(0).named(name)).collect();
    thread::scope(|s| {
        for seat in 0..PHILOSOPHERS {
            let forks = &forks;
            thread::Builder::new()
                .name(format!("philosopher-{seat}"))
                .spawn_scoped(s, move || {
                    let left = seat;
                    let right = (seat + 1) % PHILOSOPHERS;
                    let (first, second) = if ordered {
                        (left.min(right), left.max(right))
                    } else {
                        (left, right)
                    };
                    // Staggered so this demonstration run finishes.
                    thread::sleep(Duration::from_millis(20 * seat as u64));
                    let mut a = forks[first].lock().unwrap();
                    let mut b = forks[second].lock().unwrap();
                    *a += 1;
                    *b += 1;
                })
                .unwrap();
        }
    });
    let uses: u32 = forks.iter().map(|f| *f.lock().unwrap()).sum();
    assert_eq!(uses, 2 * PHILOSOPHERS as u32, "every philosopher ate once");
}

/// Left fork, then right fork: a 5-lock circular wait.
pub fn naive() {
    dine(false);
}

/// Lower-numbered fork first: no cycle.
pub fn ordered() {
    dine(true);
}

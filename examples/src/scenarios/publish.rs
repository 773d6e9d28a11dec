//! Publishing shared state to other threads: correctly by fork and join, and
//! incorrectly by writing under a read lock.

use instrumented_sync::{RaceCell, RwLock, thread};

/// The main thread prepares the input before starting the workers, each worker
/// writes only its own result slot, and the main thread reads the results after
/// joining them: fork and join order every access, with no lock at all. Clean.
pub fn fork_join() {
    let input = RaceCell::new(Vec::new()).named("input");
    input.set((1..=100u64).collect());
    let results: Vec<RaceCell<u64>> = (0..4)
        .map(|_| RaceCell::new(0).named("partial_sum"))
        .collect();
    thread::scope(|s| {
        for (i, slot) in results.iter().enumerate() {
            let input = &input;
            thread::Builder::new()
                .name(format!("summer-{i}"))
                .spawn_scoped(s, move || {
                    let sum = input.with(|v| v.iter().skip(i * 25).take(25).sum());
                    slot.set(sum);
                })
                .unwrap();
        }
    });
    let total: u64 = results.iter().map(RaceCell::get).sum();
    println!("fork/join: sum of 1..=100 = {total}");
    assert_eq!(total, 5050);
}

/// Two threads count requests in a shared counter while holding the
/// configuration lock, but only for reading: read locks are shared, so both
/// can be inside at once and the write races. Flagged as a `data-race` whose
/// accesses both hold the read lock.
pub fn write_under_read_lock() {
    let config = RwLock::new(String::from("v1")).named("config");
    let requests = RaceCell::new(0u64).named("requests");
    thread::scope(|s| {
        for i in 0..2 {
            let (config, requests) = (&config, &requests);
            thread::Builder::new()
                .name(format!("handler-{i}"))
                .spawn_scoped(s, move || {
                    for _ in 0..200 {
                        let cfg = config.read().unwrap();
                        // Bug: a write made under a *read* lock.
                        requests.update(|n| n + 1);
                        drop(cfg);
                    }
                })
                .unwrap();
        }
    });
    println!(
        "write under read lock: expected 400 observed {}",
        requests.get()
    );
}

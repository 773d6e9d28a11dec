//! The racy counter (seed scenario 7), in its three Rust forms.
//!
//! The seed: five threads each increment a shared counter 100,000 times
//! without a lock; expected 500,000, observed about 367,540, because an update
//! made between another thread's read and write is overwritten. With a lock
//! around the increment the result is exact.
//!
//! These versions run 5 × 1,000 increments instead of 5 × 100,000, so the
//! stored trace stays small (the seed's count records a million events, a
//! ~10 MB trace); the bug and its report are the same at either size.

use instrumented_sync::atomic::{AtomicU64, Ordering};
use instrumented_sync::{Barrier, Mutex, RaceCell, thread};

/// Threads incrementing the counter.
const THREADS: u64 = 5;
/// Increments per thread (the seed used 100,000).
const INCREMENTS: u64 = 1_000;

/// Runs `increment` `INCREMENTS` times on each of `THREADS` named threads,
/// started together at a barrier (so their loops overlap, as in the seed).
fn run_workers(increment: impl Fn() + Sync) {
    let start = Barrier::new(THREADS as usize);
    thread::scope(|s| {
        for i in 0..THREADS {
            let (start, increment) = (&start, &increment);
            thread::Builder::new()
                .name(format!("incrementer-{i}"))
                .spawn_scoped(s, move || {
                    start.wait();
                    for _ in 0..INCREMENTS {
                        increment();
                    }
                })
                .unwrap();
        }
    });
}

fn report(form: &str, observed: u64) {
    println!(
        "{form}: expected {} observed {observed}",
        THREADS * INCREMENTS
    );
}

/// The seed's bug as written with shared state and no lock: `counter = counter + 1`
/// is a read and a separate write, ordered by nothing. Flagged as a `data-race`
/// between the read and write sites of different threads.
pub fn unprotected() {
    let counter = RaceCell::new(0u64).named("counter");
    run_workers(|| {
        let v = counter.get();
        // A context switch here loses every increment made meanwhile.
        std::thread::yield_now();
        counter.set(v + 1);
    });
    report("unprotected", counter.get());
}

/// The same bug with an atomic: `x.store(x.load() + 1)` is two atomic
/// operations, so increments made between them are lost. No data race (every
/// access is atomic), but a `lost-update`. `fetch_add` is the fix.
pub fn atomic_load_store() {
    let counter = AtomicU64::new(0).named("counter");
    run_workers(|| {
        let v = counter.load(Ordering::SeqCst);
        std::thread::yield_now();
        counter.store(v + 1, Ordering::SeqCst);
    });
    report("atomic load+store", counter.load(Ordering::SeqCst));
}

/// The fix: the whole read-modify-write under one lock. Exact, and clean.
pub fn locked() {
    let counter = RaceCell::new(0u64).named("counter");
    let lock = Mutex::new(()).named("counter_lock");
    run_workers(|| {
        let _held = lock.lock().unwrap();
        let v = counter.get();
        std::thread::yield_now();
        counter.set(v + 1);
    });
    let total = counter.get();
    report("locked", total);
    assert_eq!(
        total,
        THREADS * INCREMENTS,
        "the lock makes every increment count"
    );
}

//! Deadlock detection latency (issue #4's targets):
//! - a lock cycle is reported within 10 ms of closing: from the later of the
//!   two cycle-closing `lock` calls to the report callback;
//! - an all-blocked state is reported within the watchdog interval plus 50 ms:
//!   from the last thread entering its wait to the report callback.
//!
//! Run with `cargo bench -p instrumented-sync --bench detection`. Each
//! iteration builds a fresh deadlock, so criterion's "time" is the latency
//! itself (per deadlock), not a throughput.
//!
//! Every thread here is a plain std thread, and the bench's own thread never
//! touches an instrumented primitive: the all-blocked rule counts every live
//! instrumented thread, and a registered bench thread would always be running.

#![allow(missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier as StdBarrier, PoisonError};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use instrumented_sync::{Condvar, DeadlockAction, Mutex, set_deadlock_action};

/// Unwinds the thread whose lock request closed the cycle (the callback runs
/// on it, before it blocks), so the other thread of the cycle can go on.
struct Detected;

/// Nanoseconds since `base`.
fn since(base: Instant) -> u64 {
    u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// One ABBA deadlock between two threads; returns the time from the cycle
/// closing (the later second-lock call) to the report callback.
fn one_cycle(base: Instant, closed: &Arc<AtomicU64>, reported: &Arc<AtomicU64>) -> Duration {
    closed.store(0, Ordering::SeqCst);
    reported.store(0, Ordering::SeqCst);
    let a = Arc::new(Mutex::new(0u32).named("bench_a"));
    let b = Arc::new(Mutex::new(0u32).named("bench_b"));
    let both_hold = Arc::new(StdBarrier::new(2));
    let threads: Vec<_> = [(Arc::clone(&a), Arc::clone(&b)), (b, a)]
        .into_iter()
        .map(|(first, second)| {
            let (both_hold, closed) = (Arc::clone(&both_hold), Arc::clone(closed));
            std::thread::spawn(move || {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let _g1 = first.lock().unwrap_or_else(PoisonError::into_inner);
                    both_hold.wait();
                    closed.fetch_max(since(base), Ordering::SeqCst);
                    let _g2 = second.lock().unwrap_or_else(PoisonError::into_inner);
                }));
            })
        })
        .collect();
    for t in threads {
        t.join().expect("bench thread");
    }
    let (c, r) = (
        closed.load(Ordering::SeqCst),
        reported.load(Ordering::SeqCst),
    );
    assert!(r != 0, "the cycle was not reported");
    Duration::from_nanos(r.saturating_sub(c))
}

fn cycle_latency(c: &mut Criterion) {
    let base = Instant::now();
    let closed = Arc::new(AtomicU64::new(0));
    let reported = Arc::new(AtomicU64::new(0));
    let r = Arc::clone(&reported);
    set_deadlock_action(DeadlockAction::Callback(Arc::new(move |_report| {
        r.store(since(base), Ordering::SeqCst);
        // The cycle-closing thread runs the callback before it blocks; never unwind the watchdog.
        if std::thread::current().name() != Some("instrumented-sync-watchdog") {
            std::panic::resume_unwind(Box::new(Detected));
        }
    })));
    let mut group = c.benchmark_group("deadlock detection");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(30);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("lock cycle closing → report", |bench| {
        bench.iter_custom(|iters| {
            (0..iters)
                .map(|_| one_cycle(base, &closed, &reported))
                .sum()
        });
    });
    group.finish();
}

/// One consumer waits on a condvar nobody will notify (the only live
/// instrumented thread, so every such thread is blocked); returns the time
/// from its wait starting to the watchdog's report callback.
fn one_all_blocked(base: Instant, reported: &Arc<AtomicU64>) -> Duration {
    reported.store(0, Ordering::SeqCst);
    let pair = Arc::new((Mutex::new(false).named("bench_ready"), Condvar::new()));
    let started = Arc::new(AtomicU64::new(0));
    let (p2, s2) = (Arc::clone(&pair), Arc::clone(&started));
    let waiter = std::thread::spawn(move || {
        let ready = p2.0.lock().unwrap_or_else(PoisonError::into_inner);
        s2.store(since(base), Ordering::SeqCst);
        drop(p2.1.wait_while(ready, |r| !*r));
    });
    while reported.load(Ordering::SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    // Wake it from a short-lived thread, which unregisters when it ends.
    let p3 = Arc::clone(&pair);
    std::thread::spawn(move || {
        *p3.0.lock().unwrap_or_else(PoisonError::into_inner) = true;
        p3.1.notify_all();
    })
    .join()
    .expect("notifier");
    waiter.join().expect("waiter");
    Duration::from_nanos(
        reported
            .load(Ordering::SeqCst)
            .saturating_sub(started.load(Ordering::SeqCst)),
    )
}

fn all_blocked_latency(c: &mut Criterion) {
    let base = Instant::now();
    let reported = Arc::new(AtomicU64::new(0));
    let r = Arc::clone(&reported);
    set_deadlock_action(DeadlockAction::Callback(Arc::new(move |_report| {
        r.store(since(base), Ordering::SeqCst);
    })));
    let mut group = c.benchmark_group("deadlock detection");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(200));
    group.measurement_time(Duration::from_secs(2));
    group.bench_function(
        "all blocked (watchdog, default 100 ms interval) → report",
        |bench| {
            bench.iter_custom(|iters| (0..iters).map(|_| one_all_blocked(base, &reported)).sum());
        },
    );
    group.finish();
}

criterion_group!(benches, cycle_latency, all_blocked_latency);
criterion_main!(benches);

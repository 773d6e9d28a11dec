//! Recording cost of the instrumented primitives against std, parking_lot and
//! tracing-mutex, side by side in one run (ratios are what matter: the
//! machines are noisy).
//!
//! Run with `cargo bench -p instrumented-sync --bench locks -- --quick`; with
//! `INSTRUMENTED_SYNC=off` to measure the runtime off switch, and with
//! `INSTRUMENTED_SYNC_TRACE=<dir>` to include writing a trace file.

#![allow(missing_docs)]

use std::hint::black_box;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, criterion_group, measurement::WallTime};

/// One lock implementation under test. Its `lock` and `read` are inlined
/// always, as a direct call in user code would be: a call layer that the
/// compiler inlines for std but not for a larger lock would copy the guard
/// through memory for that one only.
trait Impl: 'static {
    const NAME: &'static str;
    type Mutex<T: Send + 'static>: Send + Sync + 'static;
    type RwLock<T: Send + Sync + 'static>: Send + Sync + 'static;
    fn new<T: Send + 'static>(value: T) -> Self::Mutex<T>;
    fn lock<T: Send + 'static>(m: &Self::Mutex<T>) -> impl DerefMut<Target = T> + '_;
    fn new_rw<T: Send + Sync + 'static>(value: T) -> Self::RwLock<T>;
    fn read<T: Send + Sync + 'static>(l: &Self::RwLock<T>) -> impl Deref<Target = T> + '_;
    /// `rounds` round trips of a token between two threads through a mutex and condvar.
    fn ping_pong(rounds: u64) -> Duration;
}

/// The std-like `Mutex` + `Condvar` ping-pong, for every implementation with std's API.
macro_rules! std_like_ping_pong {
    ($mutex:ty, $condvar:ty, $rounds:expr) => {{
        let pair: Arc<($mutex, $condvar)> = Arc::new((<$mutex>::new(0u64), <$condvar>::new()));
        let rounds: u64 = $rounds;
        let other = Arc::clone(&pair);
        let start = Instant::now();
        let pong = std::thread::spawn(move || {
            let (m, cv) = &*other;
            let mut turn = m.lock().unwrap();
            for i in 0..rounds {
                while *turn != 2 * i + 1 {
                    turn = cv.wait(turn).unwrap();
                }
                *turn += 1;
                cv.notify_one();
            }
        });
        let (m, cv) = &*pair;
        let mut turn = m.lock().unwrap();
        for i in 0..rounds {
            while *turn != 2 * i {
                turn = cv.wait(turn).unwrap();
            }
            *turn += 1;
            cv.notify_one();
        }
        while *turn != 2 * rounds {
            turn = cv.wait(turn).unwrap();
        }
        drop(turn);
        pong.join().unwrap();
        start.elapsed()
    }};
}

struct Std;
impl Impl for Std {
    const NAME: &'static str = "std";
    type Mutex<T: Send + 'static> = std::sync::Mutex<T>;
    type RwLock<T: Send + Sync + 'static> = std::sync::RwLock<T>;
    fn new<T: Send + 'static>(value: T) -> Self::Mutex<T> {
        std::sync::Mutex::new(value)
    }
    #[inline(always)]
    fn lock<T: Send + 'static>(m: &Self::Mutex<T>) -> impl DerefMut<Target = T> + '_ {
        m.lock().unwrap()
    }
    fn new_rw<T: Send + Sync + 'static>(value: T) -> Self::RwLock<T> {
        std::sync::RwLock::new(value)
    }
    #[inline(always)]
    fn read<T: Send + Sync + 'static>(l: &Self::RwLock<T>) -> impl Deref<Target = T> + '_ {
        l.read().unwrap()
    }
    fn ping_pong(rounds: u64) -> Duration {
        std_like_ping_pong!(std::sync::Mutex<u64>, std::sync::Condvar, rounds)
    }
}

struct Ours;
impl Impl for Ours {
    const NAME: &'static str = "instrumented_sync";
    type Mutex<T: Send + 'static> = instrumented_sync::Mutex<T>;
    type RwLock<T: Send + Sync + 'static> = instrumented_sync::RwLock<T>;
    fn new<T: Send + 'static>(value: T) -> Self::Mutex<T> {
        instrumented_sync::Mutex::new(value)
    }
    #[inline(always)]
    fn lock<T: Send + 'static>(m: &Self::Mutex<T>) -> impl DerefMut<Target = T> + '_ {
        m.lock().unwrap()
    }
    fn new_rw<T: Send + Sync + 'static>(value: T) -> Self::RwLock<T> {
        instrumented_sync::RwLock::new(value)
    }
    #[inline(always)]
    fn read<T: Send + Sync + 'static>(l: &Self::RwLock<T>) -> impl Deref<Target = T> + '_ {
        l.read().unwrap()
    }
    fn ping_pong(rounds: u64) -> Duration {
        std_like_ping_pong!(
            instrumented_sync::Mutex<u64>,
            instrumented_sync::Condvar,
            rounds
        )
    }
}

struct TracingMutex;
impl Impl for TracingMutex {
    const NAME: &'static str = "tracing-mutex";
    type Mutex<T: Send + 'static> = tracing_mutex::stdsync::tracing::Mutex<T>;
    type RwLock<T: Send + Sync + 'static> = tracing_mutex::stdsync::tracing::RwLock<T>;
    fn new<T: Send + 'static>(value: T) -> Self::Mutex<T> {
        tracing_mutex::stdsync::tracing::Mutex::new(value)
    }
    #[inline(always)]
    fn lock<T: Send + 'static>(m: &Self::Mutex<T>) -> impl DerefMut<Target = T> + '_ {
        m.lock().unwrap()
    }
    fn new_rw<T: Send + Sync + 'static>(value: T) -> Self::RwLock<T> {
        tracing_mutex::stdsync::tracing::RwLock::new(value)
    }
    #[inline(always)]
    fn read<T: Send + Sync + 'static>(l: &Self::RwLock<T>) -> impl Deref<Target = T> + '_ {
        l.read().unwrap()
    }
    fn ping_pong(rounds: u64) -> Duration {
        std_like_ping_pong!(
            tracing_mutex::stdsync::tracing::Mutex<u64>,
            tracing_mutex::stdsync::tracing::Condvar,
            rounds
        )
    }
}

struct ParkingLot;
impl Impl for ParkingLot {
    const NAME: &'static str = "parking_lot";
    type Mutex<T: Send + 'static> = parking_lot::Mutex<T>;
    type RwLock<T: Send + Sync + 'static> = parking_lot::RwLock<T>;
    fn new<T: Send + 'static>(value: T) -> Self::Mutex<T> {
        parking_lot::Mutex::new(value)
    }
    #[inline(always)]
    fn lock<T: Send + 'static>(m: &Self::Mutex<T>) -> impl DerefMut<Target = T> + '_ {
        m.lock()
    }
    fn new_rw<T: Send + Sync + 'static>(value: T) -> Self::RwLock<T> {
        parking_lot::RwLock::new(value)
    }
    #[inline(always)]
    fn read<T: Send + Sync + 'static>(l: &Self::RwLock<T>) -> impl Deref<Target = T> + '_ {
        l.read()
    }
    fn ping_pong(rounds: u64) -> Duration {
        let pair = Arc::new((parking_lot::Mutex::new(0u64), parking_lot::Condvar::new()));
        let other = Arc::clone(&pair);
        let start = Instant::now();
        let pong = std::thread::spawn(move || {
            let (m, cv) = &*other;
            let mut turn = m.lock();
            for i in 0..rounds {
                while *turn != 2 * i + 1 {
                    cv.wait(&mut turn);
                }
                *turn += 1;
                cv.notify_one();
            }
        });
        let (m, cv) = &*pair;
        let mut turn = m.lock();
        for i in 0..rounds {
            while *turn != 2 * i {
                cv.wait(&mut turn);
            }
            *turn += 1;
            cv.notify_one();
        }
        while *turn != 2 * rounds {
            cv.wait(&mut turn);
        }
        drop(turn);
        pong.join().unwrap();
        start.elapsed()
    }
}

/// A lock alone on its cache line, so disjoint locks share nothing.
#[repr(align(128))]
struct Padded<T>(T);

fn uncontended<I: Impl>(g: &mut BenchmarkGroup<'_, WallTime>) {
    let m = I::new(0u64);
    g.bench_function(I::NAME, |b| b.iter(|| *I::lock(black_box(&m)) += 1));
}

fn nested_pair<I: Impl>(g: &mut BenchmarkGroup<'_, WallTime>) {
    let (a, b_) = (I::new(0u64), I::new(0u64));
    g.bench_function(I::NAME, |b| {
        b.iter(|| {
            let mut ga = I::lock(black_box(&a));
            let mut gb = I::lock(black_box(&b_));
            *ga += 1;
            *gb += 1;
        })
    });
}

fn chain4<I: Impl>(g: &mut BenchmarkGroup<'_, WallTime>) {
    let locks: Vec<_> = (0..4).map(|_| I::new(0u64)).collect();
    g.bench_function(I::NAME, |b| {
        b.iter(|| {
            let mut g0 = I::lock(black_box(&locks[0]));
            let mut g1 = I::lock(black_box(&locks[1]));
            let mut g2 = I::lock(black_box(&locks[2]));
            let mut g3 = I::lock(black_box(&locks[3]));
            *g0 += 1;
            *g1 += 1;
            *g2 += 1;
            *g3 += 1;
        })
    });
}

fn rw_read<I: Impl>(g: &mut BenchmarkGroup<'_, WallTime>) {
    let l = I::new_rw(7u64);
    g.bench_function(I::NAME, |b| b.iter(|| *I::read(black_box(&l))));
}

fn ping_pong<I: Impl>(g: &mut BenchmarkGroup<'_, WallTime>) {
    g.bench_function(I::NAME, |b| b.iter_custom(I::ping_pong));
}

/// Two threads each doing `iters` lock+unlock pairs, on their own lock
/// (`shared == false`) or on one lock; the time is per operation of one thread.
fn two_threads<I: Impl>(g: &mut BenchmarkGroup<'_, WallTime>, shared: bool) {
    g.bench_function(I::NAME, |b| {
        b.iter_custom(|iters| {
            let locks = Arc::new([Padded(I::new(0u64)), Padded(I::new(0u64))]);
            let start_line = Arc::new(std::sync::Barrier::new(3));
            let workers: Vec<_> = (0..2)
                .map(|t| {
                    let (locks, start_line) = (Arc::clone(&locks), Arc::clone(&start_line));
                    std::thread::spawn(move || {
                        let m = &locks[if shared { 0 } else { t }].0;
                        start_line.wait();
                        for _ in 0..iters {
                            *I::lock(black_box(m)) += 1;
                        }
                    })
                })
                .collect();
            start_line.wait();
            let start = Instant::now();
            for w in workers {
                w.join().unwrap();
            }
            start.elapsed()
        })
    });
}

/// Locks taken by the random-nesting workload: sorted sets of 1 to 4 of the
/// 100 locks (a consistent global order), from a fixed xorshift seed.
fn nesting_plan() -> Vec<Vec<usize>> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..4096)
        .map(|_| {
            let depth = 1 + (next() % 4) as usize;
            let mut set: Vec<usize> = (0..depth).map(|_| (next() % 100) as usize).collect();
            set.sort_unstable();
            set.dedup();
            set
        })
        .collect()
}

fn nest<I: Impl>(locks: &[I::Mutex<u64>], order: &[usize]) {
    if let Some((&first, rest)) = order.split_first() {
        let mut g = I::lock(&locks[first]);
        *g += 1;
        nest::<I>(locks, rest);
    }
}

fn random_nesting<I: Impl>(g: &mut BenchmarkGroup<'_, WallTime>, plan: &[Vec<usize>]) {
    let locks: Vec<_> = (0..100).map(|_| I::new(0u64)).collect();
    let mut k = 0;
    g.bench_function(I::NAME, |b| {
        b.iter(|| {
            k = (k + 1) % plan.len();
            nest::<I>(black_box(&locks), &plan[k]);
        })
    });
}

macro_rules! each_impl {
    ($c:expr, $group:expr, $f:ident $(, $arg:expr)*) => {{
        let mut g = $c.benchmark_group($group);
        $f::<Std>(&mut g $(, $arg)*);
        $f::<ParkingLot>(&mut g $(, $arg)*);
        $f::<TracingMutex>(&mut g $(, $arg)*);
        $f::<Ours>(&mut g $(, $arg)*);
        g.finish();
    }};
}

fn all(c: &mut Criterion) {
    each_impl!(c, "uncontended lock+unlock", uncontended);
    each_impl!(c, "nested pair", nested_pair);
    each_impl!(c, "chain of 4", chain4);
    each_impl!(c, "RwLock read", rw_read);
    each_impl!(c, "condvar ping-pong round trip", ping_pong);
    each_impl!(c, "2 threads disjoint locks (per op)", two_threads, false);
    each_impl!(c, "2 threads one shared lock (per op)", two_threads, true);
    let plan = nesting_plan();
    each_impl!(
        c,
        "100-lock random nesting (per set)",
        random_nesting,
        &plan
    );
}

/// `LOCKS_LOOP=<workload>[:<impl>]`: instead of criterion, runs one workload
/// in a plain loop for a few seconds per implementation and prints ns per
/// operation, wall clock and the looping threads' CPU time (which a loaded
/// machine inflates far less): a clean target for `perf record` (criterion's
/// own statistics otherwise dominate the profile). Workloads: `uncontended`, `nested`,
/// `disjoint`; impls: `std`, `parking_lot`, `tracing-mutex`, `ours` (default: all).
fn plain_loop(spec: &str) {
    let (workload, only) = spec.split_once(':').unwrap_or((spec, ""));
    fn run<I: Impl>(workload: &str) {
        let iters: u64 = std::env::var("LOCKS_ITERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(50_000_000);
        let start = Instant::now();
        let cpu_start = thread_cpu_ns();
        // The workers' CPU time (disjoint), or this thread's.
        let mut cpu = None;
        match workload {
            "uncontended" => {
                let m = I::new(0u64);
                for _ in 0..iters {
                    *I::lock(black_box(&m)) += 1;
                }
            }
            "nested" => {
                let (a, b) = (I::new(0u64), I::new(0u64));
                for _ in 0..iters {
                    let mut ga = I::lock(black_box(&a));
                    let mut gb = I::lock(black_box(&b));
                    *ga += 1;
                    *gb += 1;
                }
            }
            "disjoint" => {
                let locks = Arc::new([Padded(I::new(0u64)), Padded(I::new(0u64))]);
                let workers: Vec<_> = (0..2)
                    .map(|t| {
                        let locks = Arc::clone(&locks);
                        std::thread::spawn(move || {
                            let cpu_start = thread_cpu_ns();
                            for _ in 0..iters {
                                *I::lock(black_box(&locks[t].0)) += 1;
                            }
                            thread_cpu_ns()
                                .zip(cpu_start)
                                .map(|(end, start)| end - start)
                        })
                    })
                    .collect();
                let spent: Option<Vec<u64>> =
                    workers.into_iter().map(|w| w.join().unwrap()).collect();
                // Per operation of one thread: the mean of the two.
                cpu = spent.map(|s| s.iter().sum::<u64>() / 2);
            }
            other => {
                panic!("LOCKS_LOOP: unknown workload {other:?} (uncontended, nested, disjoint)")
            }
        }
        let ns = start.elapsed().as_nanos() as f64 / iters as f64;
        let cpu = cpu.or_else(|| {
            thread_cpu_ns()
                .zip(cpu_start)
                .map(|(end, start)| end - start)
        });
        match cpu {
            Some(cpu) => {
                let cpu = cpu as f64 / iters as f64;
                println!(
                    "{workload:12} {:18} {ns:8.2} ns/op wall {cpu:8.2} ns/op cpu",
                    I::NAME
                );
            }
            None => println!("{workload:12} {:18} {ns:8.2} ns/op", I::NAME),
        }
    }
    let wanted =
        |name: &str| only.is_empty() || only == name || (only == "ours" && name == Ours::NAME);
    if wanted(Std::NAME) {
        run::<Std>(workload);
    }
    if wanted(ParkingLot::NAME) {
        run::<ParkingLot>(workload);
    }
    if wanted(TracingMutex::NAME) {
        run::<TracingMutex>(workload);
    }
    if wanted(Ours::NAME) {
        run::<Ours>(workload);
    }
}

/// This thread's CPU time in ns (Linux's `/proc/thread-self/schedstat`),
/// which a loaded machine inflates far less than wall time: time spent
/// descheduled does not count.
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

criterion_group!(benches, all);

fn main() {
    if let Ok(spec) = std::env::var("LOCKS_LOOP") {
        return plain_loop(&spec);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

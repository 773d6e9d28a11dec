//! Uncontended lock+unlock cost of the instrumented primitives against std's.
//!
//! Run with `cargo bench -p instrumented-sync --bench locks -- --quick`.

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

fn uncontended(c: &mut Criterion) {
    let mut group = c.benchmark_group("uncontended lock+unlock");
    let std_mutex = std::sync::Mutex::new(0u64);
    group.bench_function("std::sync::Mutex", |b| {
        b.iter(|| *black_box(&std_mutex).lock().unwrap() += 1)
    });
    let mutex = instrumented_sync::Mutex::new(0u64);
    group.bench_function("instrumented_sync::Mutex", |b| {
        b.iter(|| *black_box(&mutex).lock().unwrap() += 1)
    });
    let std_rw = std::sync::RwLock::new(0u64);
    group.bench_function("std::sync::RwLock read", |b| {
        b.iter(|| *black_box(&std_rw).read().unwrap())
    });
    let rw = instrumented_sync::RwLock::new(0u64);
    group.bench_function("instrumented_sync::RwLock read", |b| {
        b.iter(|| *black_box(&rw).read().unwrap())
    });
    group.finish();
}

criterion_group!(benches, uncontended);
criterion_main!(benches);

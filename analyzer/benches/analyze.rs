//! Analyzer benchmarks on one generated trace (see BENCHMARKS.md):
//! parsing STD vs native, prediction only, races only, end to end.
//!
//! `cargo bench -p analyzer --bench analyze -- --quick`

use std::hint::black_box;

use analyzer::analysis::{AnalysisOptions, analyze};
use analyzer::generate::{GenerateFormat, GenerateOptions, write_generated};
use analyzer::graph::{LockOrderGraph, elementary_cycles};
use analyzer::predict::{ClosureIndex, deadlock_patterns, lock_dependencies};
use analyzer::race::{DEFAULT_MAX_RACE_PAIRS, RaceOptions, detect};
use analyzer::trace::{LoadOptions, load_bytes};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Events per benchmark trace: big enough to be dominated by per-event work,
/// small enough for `--quick` runs on a 2-core machine.
const EVENTS: u64 = 200_000;

fn trace_bytes(format: GenerateFormat) -> Vec<u8> {
    let options = GenerateOptions {
        events: EVENTS,
        plant_cycle: true,
        plant_race: true,
        ..GenerateOptions::default()
    };
    let mut out = Vec::new();
    write_generated(&options, format, &mut out).expect("generate into memory");
    out
}

fn benches(c: &mut Criterion) {
    let std_bytes = trace_bytes(GenerateFormat::Std);
    let native_bytes = trace_bytes(GenerateFormat::Native);
    let load = LoadOptions::default();
    let trace = load_bytes("bench.std", &std_bytes, &load).expect("load generated STD");

    let mut parse = c.benchmark_group("parse");
    parse.throughput(Throughput::Elements(EVENTS));
    parse.bench_function("std", |b| {
        b.iter(|| load_bytes("bench.std", black_box(&std_bytes), &load).unwrap())
    });
    parse.bench_function("native", |b| {
        b.iter(|| load_bytes("bench.istrace", black_box(&native_bytes), &load).unwrap())
    });
    parse.finish();

    let mut group = c.benchmark_group("analysis");
    group.throughput(Throughput::Elements(EVENTS));
    group.bench_function("prediction", |b| {
        b.iter(|| {
            let deps = lock_dependencies(black_box(&trace));
            let graph =
                LockOrderGraph::build(std::slice::from_ref(&trace), std::slice::from_ref(&deps));
            let cycles = elementary_cycles(&graph.successors(), 8, 10_000);
            let patterns = deadlock_patterns(&deps.deps, 8, 10_000);
            let index = ClosureIndex::new(&trace);
            let confirmed = patterns
                .patterns
                .iter()
                .filter(|p| index.confirm(&trace, &deps.deps, p).is_some())
                .count();
            (cycles.cycles.len(), confirmed)
        })
    });
    let race_options = RaceOptions {
        lockset: false,
        max_pairs: DEFAULT_MAX_RACE_PAIRS,
    };
    group.bench_function("races", |b| {
        b.iter(|| detect(black_box(&trace), &race_options))
    });
    group.bench_function("end_to_end_std", |b| {
        b.iter(|| {
            let t = load_bytes("bench.std", black_box(&std_bytes), &load).unwrap();
            analyze(std::slice::from_ref(&t), &AnalysisOptions::default())
        })
    });
    group.finish();
}

criterion_group!(analyzer_benches, benches);
criterion_main!(analyzer_benches);

//! Times each analysis phase of one trace file, single-threaded, for BENCHMARKS.md:
//!
//! `cargo run --release -p analyzer --example phases -- FILE [REPEAT] [load]`
//!
//! With `load` only the loading phase runs (for profiling the loaders), with `deps`
//! loading and dependency collection.
//! Each phase runs REPEAT times (default 1) and the fastest run is shown, as wall time
//! and as this thread's CPU time (on a shared machine the wall time is inflated by other
//! processes, the CPU time much less so).

use std::time::Instant;

use analyzer::analysis::{AnalysisOptions, analyze};
use analyzer::graph::{LockOrderGraph, elementary_cycles};
use analyzer::predict::{ClosureIndex, deadlock_patterns, lock_dependencies};
use analyzer::race::{DEFAULT_MAX_RACE_PAIRS, RaceOptions, detect};
use analyzer::trace::{LoadOptions, load_path};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: phases FILE [REPEAT]");
        std::process::exit(2);
    };
    let repeat: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(1).max(1);
    let only = args.next();
    let load_only = only.as_deref() == Some("load");
    let start = Instant::now();
    let trace = timed("load", repeat, || {
        load_path(std::path::Path::new(&path), &LoadOptions::default())
    });
    let trace = match trace {
        Ok(trace) => trace,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    if load_only {
        eprintln!("{} events", trace.events.len());
        return;
    }
    let deps = timed("dependencies", repeat, || lock_dependencies(&trace));
    if only.as_deref() == Some("deps") {
        return;
    }
    let graph = timed("graph", repeat, || {
        LockOrderGraph::build(std::slice::from_ref(&trace), std::slice::from_ref(&deps))
    });
    let cycles = timed("cycles", repeat, || {
        elementary_cycles(&graph.successors(), 8, 10_000)
    });
    let patterns = timed("patterns", repeat, || {
        deadlock_patterns(&deps.deps, 8, 10_000)
    });
    let index = timed("closure", repeat, || ClosureIndex::new(&trace));
    let confirmed = timed("confirm", repeat, || {
        patterns
            .patterns
            .iter()
            .filter(|p| index.confirm(&trace, &deps.deps, p).is_some())
            .count()
    });
    let races = timed("races", repeat, || {
        detect(
            &trace,
            &RaceOptions {
                lockset: false,
                max_pairs: DEFAULT_MAX_RACE_PAIRS,
            },
        )
    });
    drop(index);
    let dep_count = deps.deps.len();
    // Dropping them frees two vectors per dependency: on the critical path in `analyze`.
    let mut deps = Some(deps);
    timed("drop deps", 1, || drop(deps.take()));
    let analysis = timed("analyze", repeat, || {
        analyze(std::slice::from_ref(&trace), &AnalysisOptions::default())
    });
    eprintln!(
        "{} events, {} deps, {} cycles, {} patterns ({} confirmed), {} race pairs, {} findings; total {:.1} ms",
        trace.events.len(),
        dep_count,
        cycles.cycles.len(),
        patterns.patterns.len(),
        confirmed,
        races.races.len(),
        analysis.findings.len(),
        start.elapsed().as_secs_f64() * 1e3
    );
}

/// Runs `phase` `repeat` times (dropping all results but the last, untimed) and prints the
/// fastest wall and CPU times.
fn timed<T>(what: &str, repeat: usize, mut phase: impl FnMut() -> T) -> T {
    let (mut best_wall, mut best_cpu) = (f64::INFINITY, None::<u64>);
    let mut last = None;
    for _ in 0..repeat {
        drop(last.take());
        let (wall, cpu) = (Instant::now(), thread_cpu_ns());
        let out = phase();
        best_wall = best_wall.min(wall.elapsed().as_secs_f64() * 1e3);
        if let (Some(before), Some(after)) = (cpu, thread_cpu_ns()) {
            let spent = after.saturating_sub(before);
            best_cpu = Some(best_cpu.map_or(spent, |b: u64| b.min(spent)));
        }
        last = Some(out);
    }
    match best_cpu {
        Some(cpu) => eprintln!(
            "{what:>12}: {best_wall:8.1} ms wall {:8.1} ms cpu",
            cpu as f64 / 1e6
        ),
        None => eprintln!("{what:>12}: {best_wall:8.1} ms wall"),
    }
    last.expect("repeat is at least 1")
}

/// CPU time of the calling thread in nanoseconds (Linux `schedstat`), if readable.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

//! Times each analysis phase of one trace file, single-threaded, for BENCHMARKS.md:
//!
//! `cargo run --release -p analyzer --example phases -- FILE`

use std::time::Instant;

use analyzer::analysis::{AnalysisOptions, analyze};
use analyzer::graph::{LockOrderGraph, elementary_cycles};
use analyzer::predict::{ClosureIndex, deadlock_patterns, lock_dependencies};
use analyzer::race::{DEFAULT_MAX_RACE_PAIRS, RaceOptions, detect};
use analyzer::trace::{LoadOptions, load_path};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: phases FILE");
        std::process::exit(2);
    };
    let start = Instant::now();
    let lap = |what: &str, since: &mut Instant| {
        eprintln!("{what:>12}: {:8.1} ms", since.elapsed().as_secs_f64() * 1e3);
        *since = Instant::now();
    };
    let mut t = Instant::now();
    let trace = match load_path(std::path::Path::new(&path), &LoadOptions::default()) {
        Ok(trace) => trace,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    lap("load", &mut t);
    let deps = lock_dependencies(&trace);
    lap("dependencies", &mut t);
    let graph = LockOrderGraph::build(std::slice::from_ref(&trace), std::slice::from_ref(&deps));
    lap("graph", &mut t);
    let cycles = elementary_cycles(&graph.successors(), 8, 10_000);
    lap("cycles", &mut t);
    let patterns = deadlock_patterns(&deps.deps, 8, 10_000);
    lap("patterns", &mut t);
    let index = ClosureIndex::new(&trace);
    lap("closure", &mut t);
    let confirmed = patterns
        .patterns
        .iter()
        .filter(|p| index.confirm(&trace, &deps.deps, p).is_some())
        .count();
    lap("confirm", &mut t);
    let races = detect(
        &trace,
        &RaceOptions {
            lockset: false,
            max_pairs: DEFAULT_MAX_RACE_PAIRS,
        },
    );
    lap("races", &mut t);
    let analysis = analyze(std::slice::from_ref(&trace), &AnalysisOptions::default());
    lap("analyze", &mut t);
    eprintln!(
        "{} events, {} deps, {} cycles, {} patterns ({} confirmed), {} race pairs, {} findings; total {:.1} ms",
        trace.events.len(),
        deps.deps.len(),
        cycles.cycles.len(),
        patterns.patterns.len(),
        confirmed,
        races.races.len(),
        analysis.findings.len(),
        start.elapsed().as_secs_f64() * 1e3
    );
}

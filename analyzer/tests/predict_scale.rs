//! Prediction on real benchmark traces and on a synthetic 1M-event trace (timings are
//! printed; run with `--nocapture` to see them).

use std::path::Path;
use std::time::Instant;

use analyzer::model::{Attempt, Event, Mode, ObjectKind, Op, SiteIdx, Trace, TraceBuilder};
use analyzer::predict::{ClosureIndex, HappensBefore, deadlock_patterns, lock_dependencies};

/// Runs dependencies → patterns → confirmation, returning (deps, patterns, confirmed,
/// confirmed without plain reads-from, seconds).
fn run(trace: &Trace) -> (usize, usize, usize, usize, f64) {
    let start = Instant::now();
    let deps = lock_dependencies(trace);
    let search = deadlock_patterns(&deps.deps, 6, 10_000);
    let index = ClosureIndex::new(trace);
    let confirmed = search
        .patterns
        .iter()
        .filter(|p| index.confirm(trace, &deps.deps, p).is_some())
        .count();
    let secs = start.elapsed().as_secs_f64();
    let loose = ClosureIndex::build(trace, false);
    let confirmed_loose = search
        .patterns
        .iter()
        .filter(|p| loose.confirm(trace, &deps.deps, p).is_some())
        .count();
    (
        deps.deps.len(),
        search.patterns.len(),
        confirmed,
        confirmed_loose,
        secs,
    )
}

#[test]
fn std_benchmark_traces() {
    let dir = Path::new("/work/shared/traces/std");
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("skipped: {} is not readable", dir.display());
        return;
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "std"))
        .collect();
    files.sort();
    for path in files {
        let loaded = analyzer::trace::load_path(&path, &analyzer::trace::LoadOptions::default());
        let trace = match loaded {
            Ok(t) => t,
            Err(e) => {
                eprintln!("skipped {}: {e}", path.display());
                continue;
            }
        };
        let (deps, patterns, confirmed, confirmed_loose, secs) = run(&trace);
        eprintln!(
            "{:<20} events {:>8} deps {:>4} patterns {:>4} confirmed {:>4} (without plain rf {:>4}) time {:.3}s",
            path.file_name().unwrap().to_string_lossy(),
            trace.events.len(),
            deps,
            patterns,
            confirmed,
            confirmed_loose,
            secs
        );
        // Dropping constraints can only confirm more.
        assert!(confirmed <= confirmed_loose && confirmed_loose <= patterns);
    }
}

/// `threads` threads each taking ABBA-ordered nested sections round-robin, with variable
/// accesses in between, until `events` events.
fn synthetic(threads: usize, events: usize) -> Trace {
    let mut b = TraceBuilder::new("synthetic");
    let ts: Vec<_> = (0..threads).map(|i| b.thread(&format!("T{i}"))).collect();
    let locks: Vec<_> = (0..8)
        .map(|i| b.object(&format!("L{i}"), ObjectKind::Mutex))
        .collect();
    let vars: Vec<_> = (0..16)
        .map(|i| b.object(&format!("v{i}"), ObjectKind::Variable))
        .collect();
    let mut n = 0;
    let mut round = 0usize;
    while n < events {
        let t = round % threads;
        let (outer, inner) = (
            locks[(round / threads) % 8],
            locks[(round / threads + 1 + t) % 8],
        );
        let ops = [
            Op::Request {
                lock: outer,
                mode: Mode::Write,
            },
            Op::Acquire {
                lock: outer,
                mode: Mode::Write,
                attempt: Attempt::Blocking,
            },
            Op::Write {
                var: vars[round % 16],
            },
            Op::Request {
                lock: inner,
                mode: Mode::Write,
            },
            Op::Acquire {
                lock: inner,
                mode: Mode::Write,
                attempt: Attempt::Blocking,
            },
            Op::Read {
                var: vars[(round + 3) % 16],
            },
            Op::Release {
                lock: inner,
                mode: Mode::Write,
            },
            Op::Release {
                lock: outer,
                mode: Mode::Write,
            },
        ];
        for op in ops {
            b.push(Event {
                thread: ts[t],
                op,
                site: SiteIdx::UNKNOWN,
            });
        }
        n += ops.len();
        round += 1;
    }
    b.finish()
}

#[test]
fn synthetic_million_events() {
    let trace = synthetic(4, 1_000_000);
    let start = Instant::now();
    let deps = lock_dependencies(&trace);
    let t_deps = start.elapsed();
    let start = Instant::now();
    let hb = HappensBefore::compute(&trace);
    let t_hb = start.elapsed();
    let start = Instant::now();
    let search = deadlock_patterns(&deps.deps, 4, 10_000);
    let t_patterns = start.elapsed();
    let start = Instant::now();
    let index = ClosureIndex::new(&trace);
    let confirmed = search
        .patterns
        .iter()
        .take(50)
        .filter(|p| index.confirm(&trace, &deps.deps, p).is_some())
        .count();
    let t_confirm = start.elapsed();
    eprintln!(
        "1M events: deps {} ({t_deps:?}), hb {} stored changes ({t_hb:?}), patterns {}{} ({t_patterns:?}), \
         confirmed {confirmed} of the first {} ({t_confirm:?})",
        deps.deps.len(),
        hb.stored_changes(),
        search.patterns.len(),
        if search.truncated { "+" } else { "" },
        search.patterns.len().min(50),
    );
    // Every nested section is a dependency instance.
    let instances: usize = deps.deps.iter().map(|d| d.instances.len()).sum();
    assert_eq!(instances, 125_000);
    assert!(!search.patterns.is_empty());
    // Sections are serialised round-robin through shared locks, so they are ordered by
    // happens-before, yet the clock store stays far below events × threads.
    assert!(hb.stored_changes() <= trace.events.len());
}

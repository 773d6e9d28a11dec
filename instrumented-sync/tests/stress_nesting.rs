//! Stress without loss: many threads take random nested sets of 100 locks in
//! one global order, in a child process writing a trace file; the parent
//! checks that every acquisition and release is in the file, that the
//! analyzer finds nothing (or exactly the one planted inversion), and that the
//! child's memory stayed bounded.
//!
//! CI size: `cargo test -p instrumented-sync --test stress_nesting`. Full size
//! (64 threads × 100,000 lock operations, see ROBUSTNESS.md):
//! `cargo test --release -p instrumented-sync --test stress_nesting -- --ignored full_size`.
#![cfg(not(feature = "passthrough"))]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use analyzer::analysis::{AnalysisOptions, analyze};
use analyzer::trace::{LoadOptions, load_path};
use instrumented_sync::{Mutex, thread};
use sync_trace::codec::TraceReader;
use sync_trace::{Op, Record};

/// `<threads>:<operations per thread>:<clean|inverted>` selects the child's workload.
const STRESS_VAR: &str = "INSTRUMENTED_SYNC_STRESS";

/// 100 locks, each built on its own line: each its own class, so nesting two
/// of them is not "same-class nesting".
fn hundred_locks() -> Vec<Mutex<u64>> {
    vec![
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
        Mutex::new(0u64),
    ]
}

/// Takes `order` (ascending indices) nested, innermost last; returns the acquisitions.
fn nest(locks: &[Mutex<u64>], order: &[usize]) -> u64 {
    match order.split_first() {
        None => 0,
        Some((&first, rest)) => {
            let mut guard = locks[first].lock().unwrap();
            *guard += 1;
            1 + nest(locks, rest)
        }
    }
}

/// One thread's share: random sets of 1 to 4 locks, sorted, until `ops` acquisitions.
fn worker(locks: &[Mutex<u64>], seed: u64, ops: u64) -> u64 {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut done = 0;
    while done < ops {
        let depth = (1 + next() % 4).min(ops - done) as usize;
        let mut set: Vec<usize> = (0..depth).map(|_| (next() % 100) as usize).collect();
        set.sort_unstable();
        set.dedup();
        done += nest(locks, &set);
    }
    done
}

/// The peak resident set of this process, in KiB (Linux), or 0.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The child's side: runs the workload and prints what it did.
#[test]
#[ignore = "run by the other tests in a child process"]
fn child_entry() {
    let Ok(spec) = std::env::var(STRESS_VAR) else {
        return;
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let threads: u64 = parts[0].parse().unwrap();
    let ops: u64 = parts[1].parse().unwrap();
    let inverted = parts[2] == "inverted";
    let locks = Arc::new(hundred_locks());
    let (p, q) = (
        Arc::new(Mutex::new(()).named("planted-p")),
        Arc::new(Mutex::new(()).named("planted-q")),
    );
    let mut acquisitions = 0;
    if inverted {
        // P then Q here, Q then P in a worker: one lock-order cycle.
        let _p = p.lock().unwrap();
        let _q = q.lock().unwrap();
        acquisitions += 2;
    }
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (locks, p, q) = (Arc::clone(&locks), Arc::clone(&p), Arc::clone(&q));
            thread::spawn(move || {
                let mut n = 0;
                if inverted && t == 0 {
                    let _q = q.lock().unwrap();
                    let _p = p.lock().unwrap();
                    n += 2;
                }
                n + worker(&locks, t + 1, ops)
            })
        })
        .collect();
    for w in workers {
        acquisitions += w.join().unwrap();
    }
    println!("acquisitions={acquisitions}");
    println!("peak_rss_kib={}", peak_rss_kib());
}

struct Outcome {
    expected: u64,
    acquires: u64,
    releases: u64,
    findings: usize,
    peak_rss_kib: u64,
    trace: PathBuf,
    _dir: tempfile::TempDir,
}

fn run(threads: u64, ops: u64, inverted: bool) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let kind = if inverted { "inverted" } else { "clean" };
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_entry",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(STRESS_VAR, format!("{threads}:{ops}:{kind}"))
        .env("INSTRUMENTED_SYNC_TRACE", dir.path())
        // A file trace: the in-memory copy for in-process checks is not needed.
        .env("INSTRUMENTED_SYNC_MEMORY_CAP", "0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let value = |key: &str| -> u64 {
        stdout
            .lines()
            // The test harness may print `test child_entry ... ` before it.
            .find_map(|l| l.split_once(key).map(|(_, v)| v))
            .unwrap_or_else(|| panic!("no {key} in the child's output:\n{stdout}"))
            .trim()
            .parse()
            .unwrap()
    };
    let trace = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    // Count from the raw records, independently of the analyzer.
    let file = std::fs::File::open(&trace).unwrap();
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    let mut ended = false;
    for record in TraceReader::new(std::io::BufReader::new(file)).unwrap() {
        match record.unwrap().1 {
            Record::Events { events, .. } => {
                for e in events {
                    match e.op {
                        Op::Acquire { .. } => *counts.entry("acquire").or_default() += 1,
                        Op::Release { .. } => *counts.entry("release").or_default() += 1,
                        _ => {}
                    }
                }
            }
            Record::End => ended = true,
            _ => {}
        }
    }
    assert!(ended, "the trace is complete");
    let loaded = load_path(&trace, &LoadOptions::default()).unwrap();
    let analysis = analyze(std::slice::from_ref(&loaded), &AnalysisOptions::default());
    for f in &analysis.findings {
        eprintln!("finding: {:?} {}", f.kind, f.message);
    }
    Outcome {
        expected: value("acquisitions="),
        acquires: counts.get("acquire").copied().unwrap_or(0),
        releases: counts.get("release").copied().unwrap_or(0),
        findings: analysis.findings.len(),
        peak_rss_kib: value("peak_rss_kib="),
        trace,
        _dir: dir,
    }
}

fn check(threads: u64, ops: u64, inverted: bool) -> Outcome {
    let o = run(threads, ops, inverted);
    let bytes = std::fs::metadata(&o.trace).unwrap().len();
    eprintln!(
        "{threads} threads x {ops} ops ({}): {} acquisitions, {} acquires and {} releases recorded, {} findings, peak RSS {} KiB, trace {bytes} bytes ({:.1} bytes per lock event)",
        if inverted { "inverted" } else { "clean" },
        o.expected,
        o.acquires,
        o.releases,
        o.findings,
        o.peak_rss_kib,
        // Each acquisition is Request + Acquire + Release.
        bytes as f64 / (3 * o.expected) as f64,
    );
    assert_eq!(o.acquires, o.expected, "every acquisition recorded");
    assert_eq!(o.releases, o.expected, "every release recorded");
    assert_eq!(o.findings, usize::from(inverted));
    o
}

/// Recorder memory is per thread (a 32 KiB ring) plus the writer's buffer:
/// far below this bound whatever the operation count.
const RSS_BOUND_KIB: u64 = 256 * 1024;

#[test]
fn stress_clean_nesting_loses_nothing() {
    let o = check(64, 500, false);
    assert!(
        o.peak_rss_kib < RSS_BOUND_KIB,
        "peak RSS {} KiB",
        o.peak_rss_kib
    );
}

#[test]
fn stress_planted_inversion_is_the_one_finding() {
    check(64, 200, true);
}

#[test]
#[ignore = "full size: 6.4M lock operations; run in release (see ROBUSTNESS.md)"]
fn full_size_64_threads_100k_ops() {
    let o = check(64, 100_000, false);
    assert!(
        o.peak_rss_kib < RSS_BOUND_KIB,
        "peak RSS {} KiB",
        o.peak_rss_kib
    );
    check(64, 100_000, true);
}

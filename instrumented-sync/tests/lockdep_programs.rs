//! The lockdep self-test families as real threaded programs using our locks.
//!
//! Each family runs in a child process (this test binary re-invoked, so no
//! other test's locks share its trace), records a trace file, and the parent
//! analyzes it with the analyzer library. Threads take turns through a plain
//! std atomic, which the recorder does not see, so the programs never really
//! deadlock however loaded the machine is, and the analyzer must predict the
//! deadlocks another schedule would hit.
#![cfg(not(feature = "passthrough"))]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use analyzer::analysis::{AnalysisOptions, analyze};
use analyzer::finding::{Finding, FindingKind};
use analyzer::trace::{LoadOptions, load_path};
use instrumented_sync::{Mutex, RwLock, thread};

const FAMILY_VAR: &str = "LOCKDEP_PROGRAM_FAMILY";

/// The child side: runs the family named in the environment.
#[test]
#[ignore = "runs only as a child process of the tests below"]
fn child() {
    let family = std::env::var(FAMILY_VAR).expect("family name");
    run_family(&family);
    instrumented_sync::flush();
}

/// Turn-taking invisible to the recorder: thread `i` runs its part after threads `0..i`.
struct Turns(AtomicUsize);

impl Turns {
    fn new() -> Turns {
        Turns(AtomicUsize::new(0))
    }

    /// Runs `part` as turn `i`.
    fn take<T>(&self, i: usize, part: impl FnOnce() -> T) -> T {
        while self.0.load(Ordering::Acquire) != i {
            std::thread::sleep(Duration::from_millis(1));
        }
        let value = part();
        self.0.fetch_add(1, Ordering::Release);
        value
    }
}

/// Locks named A, B, C, D (each its own construction site is irrelevant: names identify them).
fn locks() -> [Mutex<u32>; 4] {
    [
        Mutex::new(0).named("A"),
        Mutex::new(0).named("B"),
        Mutex::new(0).named("C"),
        Mutex::new(0).named("D"),
    ]
}

/// Runs `pairs` (indices into A..D) in separate threads, each taking its first lock then its
/// second, one after the other (turns the recorder does not see).
fn nested_pairs(pairs: &[(usize, usize)]) {
    let l = locks();
    let turns = Turns::new();
    thread::scope(|s| {
        for (i, &(a, b)) in pairs.iter().enumerate() {
            let (l, turns) = (&l, &turns);
            thread::Builder::new()
                .name(format!("ctx-{i}"))
                .spawn_scoped(s, move || {
                    turns.take(i, || {
                        let _first = l[a].lock().unwrap();
                        let _second = l[b].lock().unwrap();
                    })
                })
                .unwrap();
        }
    });
}

fn run_family(family: &str) {
    const A: usize = 0;
    const B: usize = 1;
    const C: usize = 2;
    const D: usize = 3;
    match family {
        "ABBA" => nested_pairs(&[(A, B), (B, A)]),
        "ABBCCA" => nested_pairs(&[(A, B), (B, C), (C, A)]),
        "ABCABC" => nested_pairs(&[(A, B), (C, A), (B, C)]),
        "ABBCCDDA" => nested_pairs(&[(A, B), (B, C), (C, D), (D, A)]),
        "ABCDBDDA" => nested_pairs(&[(A, B), (C, D), (B, D), (D, A)]),
        "ABCDBCDA" => nested_pairs(&[(A, B), (C, D), (B, C), (D, A)]),
        "consistent" => {
            let l = locks();
            thread::scope(|s| {
                for t in 0..4 {
                    let l = &l;
                    s.spawn(move || {
                        for round in 0..50 {
                            let first = (t + round) % 3;
                            let _x = l[first].lock().unwrap();
                            let _y = l[first + 1].lock().unwrap();
                        }
                    });
                }
            });
        }
        "gated-ABBA" => {
            let gate = Mutex::new(()).named("G");
            let l = locks();
            thread::scope(|s| {
                for (i, (a, b)) in [(A, B), (B, A)].into_iter().enumerate() {
                    let (gate, l) = (&gate, &l);
                    s.spawn(move || {
                        thread::sleep(Duration::from_millis(30 * i as u64));
                        let _g = gate.lock().unwrap();
                        let _x = l[a].lock().unwrap();
                        let _y = l[b].lock().unwrap();
                    });
                }
            });
        }
        "joined-ABBA" => {
            let l = locks();
            thread::scope(|s| {
                s.spawn(|| {
                    let _x = l[A].lock().unwrap();
                    let _y = l[B].lock().unwrap();
                })
                .join()
                .unwrap();
                s.spawn(|| {
                    let _x = l[B].lock().unwrap();
                    let _y = l[A].lock().unwrap();
                });
            });
        }
        "single-thread-ABBA" => {
            let l = locks();
            drop((l[A].lock().unwrap(), l[B].lock().unwrap()));
            let b = l[B].lock().unwrap();
            let a = l[A].lock().unwrap();
            drop((a, b));
        }
        "read-read-ABBA" | "write-read-ABBA" => {
            let a = RwLock::new(0).named("A");
            let b = RwLock::new(0).named("B");
            let write_first = family == "write-read-ABBA";
            let turns = Turns::new();
            thread::scope(|s| {
                for (i, (x, y)) in [(&a, &b), (&b, &a)].into_iter().enumerate() {
                    let turns = &turns;
                    s.spawn(move || {
                        turns.take(i, || {
                            if write_first {
                                let _x = x.write().unwrap();
                                let _y = y.read().unwrap();
                            } else {
                                let _x = x.read().unwrap();
                                let _y = y.read().unwrap();
                            }
                        })
                    });
                }
            });
        }
        "try-ABBA" => {
            let l = locks();
            thread::scope(|s| {
                s.spawn(|| {
                    let _x = l[A].lock().unwrap();
                    // A try_lock cannot block, so it adds no A→B wait.
                    let _y = l[B].try_lock();
                });
                s.spawn(|| {
                    thread::sleep(Duration::from_millis(30));
                    let _x = l[B].lock().unwrap();
                    let _y = l[A].lock().unwrap();
                });
            });
        }
        other => panic!("unknown family {other}"),
    }
}

/// Runs `family` in a child process and returns the findings of its trace.
fn findings_of(family: &str) -> Vec<Finding> {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(FAMILY_VAR, family)
        .env("INSTRUMENTED_SYNC_TRACE", dir.path())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "family {family} failed: {status}");
    let files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let trace = load_path(&files[0], &LoadOptions::default()).unwrap();
    assert!(trace.warnings.is_empty(), "{:?}", trace.warnings);
    analyze(&[trace], &AnalysisOptions::default()).findings
}

/// The (kind, sorted lock names) of every finding, ignoring notes about same-class nesting.
fn summary(findings: &[Finding]) -> Vec<(FindingKind, Vec<String>)> {
    findings
        .iter()
        .filter(|f| f.kind != FindingKind::SameClassNesting)
        .map(|f| {
            let mut locks: Vec<String> = f.locks.iter().map(|l| l.name.clone()).collect();
            locks.sort();
            (f.kind, locks)
        })
        .collect()
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn abba_is_a_predicted_deadlock() {
    assert_eq!(
        summary(&findings_of("ABBA")),
        [(FindingKind::PredictedDeadlock, names(&["A", "B"]))]
    );
}

#[test]
fn three_and_four_lock_cycles_are_predicted() {
    for (family, locks) in [
        ("ABBCCA", &["A", "B", "C"][..]),
        ("ABCABC", &["A", "B", "C"][..]),
        ("ABBCCDDA", &["A", "B", "C", "D"][..]),
        ("ABCDBCDA", &["A", "B", "C", "D"][..]),
    ] {
        assert_eq!(
            summary(&findings_of(family)),
            [(FindingKind::PredictedDeadlock, names(locks))],
            "{family}"
        );
    }
}

#[test]
fn abcdbdda_leaves_the_distractor_out_of_the_cycle() {
    assert_eq!(
        summary(&findings_of("ABCDBDDA")),
        [(FindingKind::PredictedDeadlock, names(&["A", "B", "D"]))]
    );
}

#[test]
fn consistent_order_over_many_threads_is_clean() {
    assert_eq!(summary(&findings_of("consistent")), []);
}

#[test]
fn a_gate_lock_makes_abba_a_guarded_cycle() {
    assert_eq!(
        summary(&findings_of("gated-ABBA")),
        [(FindingKind::GuardedCycle, names(&["A", "B"]))]
    );
}

#[test]
fn ordered_or_single_thread_abba_is_an_inversion_not_a_prediction() {
    for family in ["joined-ABBA", "single-thread-ABBA"] {
        assert_eq!(
            summary(&findings_of(family)),
            [(FindingKind::LockOrderInversion, names(&["A", "B"]))],
            "{family}"
        );
    }
}

#[test]
fn read_write_modes() {
    assert_eq!(summary(&findings_of("read-read-ABBA")), []);
    assert_eq!(
        summary(&findings_of("write-read-ABBA")),
        [(FindingKind::PredictedDeadlock, names(&["A", "B"]))]
    );
}

#[test]
fn try_lock_adds_no_wait() {
    assert_eq!(summary(&findings_of("try-ABBA")), []);
}

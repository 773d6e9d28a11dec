//! End-to-end: a child process (this test binary, re-invoked) records into a
//! trace file via `INSTRUMENTED_SYNC_TRACE`; the parent decodes it.
#![cfg(not(feature = "passthrough"))]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use instrumented_sync::{Barrier, Condvar, Mutex, RwLock, thread};
use sync_trace::codec::TraceReader;
use sync_trace::{ObjectKind, Op, Record};

/// Which scenario the re-invoked binary runs.
const SCENARIO_VAR: &str = "INSTRUMENTED_SYNC_TEST_SCENARIO";
const ROUNDS: usize = 1000;

/// Runs the ignored test `entry` of this binary in a child process writing into a fresh directory.
fn run_child(entry: &str, scenario: &str) -> (tempfile::TempDir, PathBuf) {
    run_child_with(entry, scenario, &[])
}

/// Like [`run_child`], with extra environment variables.
fn run_child_with(
    entry: &str,
    scenario: &str,
    env: &[(&str, &str)],
) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            entry,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SCENARIO_VAR, scenario)
        .env("INSTRUMENTED_SYNC_TRACE", dir.path())
        .envs(env.iter().copied())
        .status()
        .unwrap();
    assert!(
        status.success(),
        "child scenario {scenario} failed: {status}"
    );
    let files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one trace file per process: {files:?}");
    assert!(
        files[0].extension().is_some_and(|e| e == "istrace"),
        "{files:?}"
    );
    let path = files[0].clone();
    (dir, path)
}

fn decode(path: &Path) -> Vec<Record> {
    let file = std::fs::File::open(path).unwrap();
    TraceReader::new(std::io::BufReader::new(file))
        .unwrap()
        .map(|r| r.unwrap_or_else(|e| panic!("{}: {e}", path.display())).1)
        .collect()
}

/// The scenario: two named workers contend for a named counter, use a
/// condvar, a barrier and an rwlock.
fn workload() {
    let counter = Arc::new(Mutex::new(0usize).named("counter"));
    let table = Arc::new(RwLock::new(Vec::<usize>::new()));
    let barrier = Arc::new(Barrier::new(2));
    let signal = Arc::new((Mutex::new(false), Condvar::new()));
    let workers: Vec<_> = (0..2)
        .map(|i| {
            let (counter, table, barrier, signal) = (
                Arc::clone(&counter),
                Arc::clone(&table),
                Arc::clone(&barrier),
                Arc::clone(&signal),
            );
            thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || {
                    for _ in 0..ROUNDS / 2 {
                        *counter.lock().unwrap() += 1;
                    }
                    barrier.wait();
                    table.write().unwrap().push(i);
                    if i == 0 {
                        let (m, cv) = &*signal;
                        *m.lock().unwrap() = true;
                        cv.notify_all();
                    } else {
                        let (m, cv) = &*signal;
                        drop(cv.wait_while(m.lock().unwrap(), |ready| !*ready).unwrap());
                    }
                    table.read().unwrap().len()
                })
                .unwrap()
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(*counter.lock().unwrap(), ROUNDS);
}

#[test]
#[ignore = "child process of the trace_file tests; run by them"]
fn child_entry() {
    match std::env::var(SCENARIO_VAR).as_deref() {
        Ok("normal") => workload(),
        Ok("exit") => {
            workload();
            // A thread still holding events in its buffer when the process exits.
            let m = Arc::new(Mutex::new(0).named("at-exit"));
            let m2 = Arc::clone(&m);
            let (send, receive) = std::sync::mpsc::channel();
            let _still_running = thread::spawn(move || {
                *m2.lock().unwrap() += 1;
                send.send(()).unwrap();
                std::thread::park();
            });
            receive.recv().unwrap();
            *m.lock().unwrap() += 1;
            std::process::exit(0);
        }
        Ok("capped") => {
            workload();
            assert!(instrumented_sync::dropped_events() > 0);
            let analysis = instrumented_sync::findings();
            assert!(
                analysis
                    .warnings
                    .iter()
                    .any(|w| w.message.contains("dropped")
                        && w.message.contains("cap of 100 events")),
                "{:?}",
                analysis.warnings
            );
        }
        Ok("killed") => {
            workload();
            // The parent kills this process: no exit handler runs, only the
            // periodic flusher saves the events.
            println!("ready");
            loop {
                std::thread::park();
            }
        }
        other => panic!("{SCENARIO_VAR} must name a scenario, got {other:?}"),
    }
}

/// Checks the whole file: structure, descriptions before use, and counts.
fn check_complete_trace(records: &[Record]) -> BTreeMap<String, usize> {
    assert!(
        matches!(records.first(), Some(Record::Process(p)) if p.pid > 0),
        "{:?}",
        records.first()
    );
    assert_eq!(
        records.last(),
        Some(&Record::End),
        "the trace ends with End"
    );
    assert_eq!(records.iter().filter(|r| **r == Record::End).count(), 1);
    let mut threads = BTreeMap::new();
    let mut objects = BTreeMap::new();
    let mut sites = BTreeSet::new();
    let mut acquires_by_name: BTreeMap<String, usize> = BTreeMap::new();
    let mut ends = BTreeSet::new();
    for r in records {
        match r {
            Record::Site(s) => {
                assert!(s.line > 0 && !s.file.is_empty());
                sites.insert(s.id);
            }
            Record::Thread(t) => {
                threads.insert(t.id, t.name.clone());
            }
            Record::Object(o) => {
                assert!(sites.contains(&o.class), "object class described first");
                objects.insert(o.id, (o.kind, o.name.clone()));
            }
            Record::Events { thread, events } => {
                assert!(
                    threads.contains_key(thread),
                    "thread described before its events"
                );
                for e in events {
                    assert!(e.site.0 == 0 || sites.contains(&e.site));
                    match e.op {
                        Op::Acquire { lock, .. } => {
                            let (kind, name) = &objects[&lock];
                            let key = name.clone().unwrap_or_else(|| format!("{kind:?}"));
                            *acquires_by_name.entry(key).or_default() += 1;
                        }
                        Op::End => {
                            ends.insert(*thread);
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let names: BTreeSet<Option<String>> = threads.values().cloned().collect();
    assert!(
        names.contains(&Some("worker-0".into())) && names.contains(&Some("worker-1".into())),
        "{names:?}"
    );
    let kinds: BTreeSet<ObjectKind> = objects.values().map(|(k, _)| *k).collect();
    for kind in [
        ObjectKind::Mutex,
        ObjectKind::RwLock,
        ObjectKind::Condvar,
        ObjectKind::Barrier,
    ] {
        assert!(kinds.contains(&kind), "{kind:?} described: {kinds:?}");
    }
    for (id, name) in &threads {
        if name.as_deref().is_some_and(|n| n.starts_with("worker-")) {
            assert!(ends.contains(id), "worker {name:?} ended");
        }
    }
    acquires_by_name
}

#[test]
fn a_child_process_writes_a_complete_trace() {
    let (_dir, path) = run_child("child_entry", "normal");
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("trace_file-"),
        "<program>-<pid>.istrace: {name}"
    );
    let records = decode(&path);
    let acquires = check_complete_trace(&records);
    // Every round plus the final check in the main thread.
    assert_eq!(acquires["counter"], ROUNDS + 1);
}

#[test]
fn process_exit_still_completes_the_trace() {
    let (_dir, path) = run_child("child_entry", "exit");
    let records = decode(&path);
    let acquires = check_complete_trace(&records);
    assert_eq!(acquires["counter"], ROUNDS + 1);
    // One acquisition in the still-running thread, one in the exiting thread.
    assert_eq!(acquires["at-exit"], 2, "{acquires:?}");
}

#[test]
fn the_periodic_flusher_saves_events_of_a_killed_process() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_entry",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SCENARIO_VAR, "killed")
        .env("INSTRUMENTED_SYNC_TRACE", dir.path())
        .env("INSTRUMENTED_SYNC_FLUSH_MS", "20")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let ready = stdout
        .lines()
        .map(Result::unwrap)
        .any(|line| line.ends_with("ready"));
    assert!(ready, "the child reports it is ready");
    // Several flush periods.
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success());
    let files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let path = &files[0];
    let records = decode(path);
    assert!(!records.contains(&Record::End), "no exit handler ran");
    let counter_acquires = {
        let objects: BTreeMap<_, _> = records
            .iter()
            .filter_map(|r| {
                if let Record::Object(o) = r {
                    Some((o.id, o.name.clone()))
                } else {
                    None
                }
            })
            .collect();
        records
            .iter()
            .filter_map(|r| if let Record::Events { events, .. } = r { Some(events) } else { None })
            .flatten()
            .filter(|e| matches!(e.op, Op::Acquire { lock, .. } if objects[&lock].as_deref() == Some("counter")))
            .count()
    };
    assert_eq!(counter_acquires, ROUNDS + 1);
}

#[test]
fn the_memory_cap_drops_events_but_not_the_file() {
    let (_dir, path) = run_child_with(
        "child_entry",
        "capped",
        &[("INSTRUMENTED_SYNC_MEMORY_CAP", "100")],
    );
    let acquires = check_complete_trace(&decode(&path));
    assert_eq!(
        acquires["counter"],
        ROUNDS + 1,
        "the file keeps every event"
    );
}

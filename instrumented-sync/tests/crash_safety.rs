//! Crash safety with real child processes (this test binary re-invoked with
//! `INSTRUMENTED_SYNC_CRASH` naming the scenario): a SIGKILL, an `abort()` and
//! a panic each leave a trace the analyzer reads (up to the last complete
//! record), holding every event older than the flush period, idle threads'
//! included; locks in static initializers, thread-local destructors and
//! `atexit` handlers neither crash nor recurse; a poisoning panic is recorded.
#![cfg(not(feature = "passthrough"))]

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use analyzer::trace::{LoadOptions, load_path};
use instrumented_sync::{Mutex, thread};
use sync_trace::codec::TraceReader;
use sync_trace::{Op, Record, ThreadId};

const CRASH_VAR: &str = "INSTRUMENTED_SYNC_CRASH";
/// The flush period the children use; the parent waits several of them.
const FLUSH_MS: &str = "20";
const EARLY_ROUNDS: usize = 100;
const IDLE_ROUNDS: usize = 10;

/// Locks `early` in this thread and `idle` in a thread that then blocks
/// forever (so only the background flusher can save its events).
fn workload() {
    let early = Mutex::new(0).named("early");
    for _ in 0..EARLY_ROUNDS {
        *early.lock().unwrap() += 1;
    }
    let (started, wait_started) = std::sync::mpsc::channel();
    thread::Builder::new()
        .name("idle".into())
        .spawn(move || {
            let idle = Mutex::new(0).named("idle");
            for _ in 0..IDLE_ROUNDS {
                *idle.lock().unwrap() += 1;
            }
            started.send(()).unwrap();
            loop {
                std::thread::park();
            }
        })
        .unwrap();
    wait_started.recv().unwrap();
}

/// Waits several flush periods, so the events above are older than one.
fn wait_flush_periods() {
    std::thread::sleep(Duration::from_millis(300));
}

static INNER: Mutex<u32> = Mutex::new(0);
/// A static whose initializer takes an instrumented lock (the process's first recorded event).
static LAZY: LazyLock<Mutex<u32>> = LazyLock::new(|| {
    instrumented_sync::name(&INNER, "static-inner");
    *INNER.lock().unwrap() += 1;
    Mutex::new(1)
});

static TEARDOWN: Mutex<u32> = Mutex::new(0);

/// Locks [`TEARDOWN`] when dropped (a thread-local destructor).
struct LocksOnDrop;
impl Drop for LocksOnDrop {
    fn drop(&mut self) {
        *TEARDOWN.lock().unwrap() += 1;
    }
}

thread_local! {
    static DROPS_LOCKING: LocksOnDrop = const { LocksOnDrop };
}

unsafe extern "C" {
    /// ISO C's exit-handler registration.
    fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
}

extern "C" fn lock_at_exit() {
    // Never unwind out of an `extern "C"` function.
    let _ = std::panic::catch_unwind(|| *TEARDOWN.lock().unwrap() += 1);
}

fn register_at_exit() {
    // SAFETY: `atexit` is declared with its C signature; the callback is an
    // `extern "C" fn()` that catches panics and touches only `'static` state.
    assert_eq!(unsafe { atexit(lock_at_exit) }, 0);
}

/// The child's side.
#[test]
#[ignore = "run by the other tests in a child process"]
fn child_entry() {
    let Ok(scenario) = std::env::var(CRASH_VAR) else {
        return;
    };
    match scenario.as_str() {
        "sigkill" => {
            workload();
            wait_flush_periods();
            println!("ready");
            loop {
                std::thread::park();
            }
        }
        "abort" => {
            workload();
            wait_flush_periods();
            std::process::abort();
        }
        "panic" => {
            workload();
            panic!("a panic in the child's main test function");
        }
        "teardown" => {
            // Registered before the recorder's own exit hook: runs after it.
            register_at_exit();
            assert_eq!(*LAZY.lock().unwrap(), 1);
            // Registered after: runs before the recorder finishes the trace.
            register_at_exit();
            instrumented_sync::name(&TEARDOWN, "teardown");
            // A plain std thread whose thread-local destructor locks, before
            // and after the recorder's own per-thread state exists.
            std::thread::spawn(|| {
                DROPS_LOCKING.with(|_| ());
                *TEARDOWN.lock().unwrap() += 1;
            })
            .join()
            .unwrap();
            std::thread::spawn(|| {
                *TEARDOWN.lock().unwrap() += 1;
                DROPS_LOCKING.with(|_| ());
            })
            .join()
            .unwrap();
            DROPS_LOCKING.with(|_| ());
        }
        other => panic!("unknown scenario {other}"),
    }
}

struct Child {
    _dir: tempfile::TempDir,
    trace: PathBuf,
    status: std::process::ExitStatus,
}

fn child(scenario: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "child_entry",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CRASH_VAR, scenario)
    .env("INSTRUMENTED_SYNC_FLUSH_MS", FLUSH_MS)
    .stderr(Stdio::null());
    cmd
}

fn the_trace(dir: tempfile::TempDir, status: std::process::ExitStatus) -> Child {
    let files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one trace file: {files:?}");
    Child {
        trace: files[0].clone(),
        _dir: dir,
        status,
    }
}

fn run(scenario: &str) -> Child {
    let dir = tempfile::tempdir().unwrap();
    let status = child(scenario)
        .env("INSTRUMENTED_SYNC_TRACE", dir.path())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    the_trace(dir, status)
}

/// What the analyzer needs: the trace loads (a torn last frame allowed).
fn loads(path: &Path) {
    let options = LoadOptions {
        allow_truncated: true,
        ..LoadOptions::default()
    };
    let trace = load_path(path, &options).unwrap_or_else(|e| panic!("{e}"));
    assert!(!trace.events.is_empty());
}

/// Complete records of the file (a torn last frame is ignored), whether it
/// ended with `End`, and acquisitions per lock name.
fn acquisitions(path: &Path) -> (bool, BTreeMap<String, usize>, Vec<Record>) {
    let file = std::fs::File::open(path).unwrap();
    let records: Vec<Record> = TraceReader::new(std::io::BufReader::new(file))
        .unwrap()
        .map_while(Result::ok)
        .map(|(_, r)| r)
        .collect();
    let mut names = BTreeMap::new();
    for r in &records {
        if let Record::Object(o) = r
            && let Some(name) = &o.name
        {
            names.insert(o.id, name.clone());
        }
    }
    let mut counts = BTreeMap::new();
    for r in &records {
        if let Record::Events { events, .. } = r {
            for e in events {
                if let Op::Acquire { lock, .. } = e.op
                    && let Some(name) = names.get(&lock)
                {
                    *counts.entry(name.clone()).or_insert(0) += 1;
                }
            }
        }
    }
    (records.contains(&Record::End), counts, records)
}

fn assert_workload_saved(path: &Path) {
    let (_, counts, _) = acquisitions(path);
    assert_eq!(counts.get("early"), Some(&EARLY_ROUNDS), "{counts:?}");
    assert_eq!(
        counts.get("idle"),
        Some(&IDLE_ROUNDS),
        "the idle thread's events: {counts:?}"
    );
}

#[test]
fn sigkill_leaves_every_event_older_than_the_flush_period() {
    let dir = tempfile::tempdir().unwrap();
    let mut process = child("sigkill")
        .env("INSTRUMENTED_SYNC_TRACE", dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(process.stdout.take().unwrap());
    let ready = stdout
        .lines()
        .map_while(Result::ok)
        .any(|l| l.ends_with("ready"));
    assert!(ready, "the child reports it is ready");
    // `Child::kill` sends SIGKILL on Unix: no exit handler runs.
    process.kill().unwrap();
    let status = process.wait().unwrap();
    let c = the_trace(dir, status);
    assert!(!c.status.success());
    let (ended, _, _) = acquisitions(&c.trace);
    assert!(!ended, "no exit handler ran");
    loads(&c.trace);
    assert_workload_saved(&c.trace);
}

#[test]
fn abort_leaves_every_event_older_than_the_flush_period() {
    let c = run("abort");
    assert!(!c.status.success());
    let (ended, _, _) = acquisitions(&c.trace);
    assert!(!ended, "abort runs no exit handler");
    loads(&c.trace);
    assert_workload_saved(&c.trace);
}

#[test]
fn a_panic_in_main_leaves_a_complete_trace() {
    let c = run("panic");
    assert_eq!(c.status.code(), Some(101), "the panic fails the child");
    let (ended, _, _) = acquisitions(&c.trace);
    assert!(ended, "the exit handler completed the trace");
    loads(&c.trace);
    assert_workload_saved(&c.trace);
}

#[test]
fn locks_in_static_initializers_tls_destructors_and_atexit_are_safe() {
    let c = run("teardown");
    assert!(c.status.success(), "child failed: {}", c.status);
    loads(&c.trace);
    let (ended, counts, _) = acquisitions(&c.trace);
    assert!(ended);
    assert_eq!(counts.get("static-inner"), Some(&1), "{counts:?}");
    // Two plain locks in threads, two in thread-local destructors of those
    // threads, one in the `atexit` handler that runs before the trace ends
    // (the main thread's destructor and the later handler may run after it).
    let teardown = counts.get("teardown").copied().unwrap_or(0);
    assert!(teardown >= 5, "{counts:?}");
}

#[test]
fn a_poisoning_panic_is_recorded_with_its_unwinding_release() {
    let m = Arc::new(Mutex::new(0).named("poisoned-by-panic"));
    let m2 = Arc::clone(&m);
    let (panicker, result) = {
        let h = thread::spawn(move || {
            let id = current_thread_id();
            let _guard = m2.lock().unwrap();
            // Unwinding drops the guard: the release must be recorded.
            std::panic::resume_unwind(Box::new(id));
        });
        let result = h.join();
        let id = *result
            .as_ref()
            .unwrap_err()
            .downcast_ref::<ThreadId>()
            .unwrap();
        (id, result)
    };
    assert!(result.is_err());
    assert!(m.is_poisoned());
    let err = m.lock().unwrap_err();
    drop(err.into_inner());
    let records = instrumented_sync::recorded();
    let lock = records
        .iter()
        .find_map(|r| match r {
            Record::Object(o) if o.name.as_deref() == Some("poisoned-by-panic") => Some(o.id),
            _ => None,
        })
        .unwrap();
    let mut by_thread: BTreeMap<ThreadId, Vec<Op>> = BTreeMap::new();
    for r in records {
        if let Record::Events { thread, events } = r {
            by_thread
                .entry(thread)
                .or_default()
                .extend(events.into_iter().map(|e| e.op));
        }
    }
    let ops = &by_thread[&panicker];
    let pos = |f: &dyn Fn(&Op) -> bool| ops.iter().position(f);
    let acquired = pos(&|op| matches!(op, Op::Acquire { lock: l, seq: 1, .. } if *l == lock));
    let released = pos(&|op| matches!(op, Op::Release { lock: l, seq: 2, .. } if *l == lock));
    let ended = pos(&|op| matches!(op, Op::End));
    assert!(
        acquired < released && released < ended && acquired.is_some(),
        "{ops:?}"
    );
    // The next holder (this thread) continues the lock's sequence.
    let continued = by_thread
        .values()
        .flatten()
        .any(|op| matches!(op, Op::Acquire { lock: l, seq: 3, .. } if *l == lock));
    assert!(continued);
}

/// The recorder's id of the current thread: the thread of the batch holding
/// an acquisition of a freshly named probe lock.
fn current_thread_id() -> ThreadId {
    let probe = Mutex::new(()).named("thread-id-probe");
    drop(probe.lock().unwrap());
    let records = instrumented_sync::recorded();
    let probe_id = records
        .iter()
        .rev()
        .find_map(|r| match r {
            Record::Object(o) if o.name.as_deref() == Some("thread-id-probe") => Some(o.id),
            _ => None,
        })
        .unwrap();
    records
        .iter()
        .rev()
        .find_map(|r| match r {
            Record::Events { thread, events }
                if events
                    .iter()
                    .any(|e| matches!(e.op, Op::Acquire { lock, .. } if lock == probe_id)) =>
            {
                Some(*thread)
            }
            _ => None,
        })
        .unwrap()
}

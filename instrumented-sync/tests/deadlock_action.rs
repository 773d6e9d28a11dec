//! The deadlock actions other than the default panic, each in a child process
//! (this test binary re-invoked with `DEADLOCK_ACTION_CHILD` set) that runs a
//! real lock-order deadlock between two named threads:
//!
//! - `INSTRUMENTED_SYNC_ON_DEADLOCK=abort`: the child dies by SIGABRT after
//!   writing the report to stderr and into its trace;
//! - `INSTRUMENTED_SYNC_ON_DEADLOCK=report`: the report goes to stderr and the
//!   trace, and the child keeps waiting (the parent kills it);
//! - `DeadlockAction::Callback`: the callback gets the report on a thread of
//!   the deadlock, and nothing is written to stderr.
// Recording is what is tested: under `passthrough` the lock types are std's own.
#![cfg(not(feature = "passthrough"))]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use analyzer::analysis::{AnalysisOptions, analyze};
use analyzer::finding::FindingKind;
use analyzer::trace::{LoadOptions, load_path};
use instrumented_sync::{
    Barrier, DeadlockAction, DeadlockReport, Detection, Mutex, set_deadlock_action, thread,
};

const CHILD_VAR: &str = "DEADLOCK_ACTION_CHILD";
const ON_DEADLOCK_VAR: &str = "INSTRUMENTED_SYNC_ON_DEADLOCK";
/// Printed by the callback child, followed by what the callback saw.
const CALLBACK_MARKER: &str = "callback saw:";

/// Two clerks take two accounts in opposite orders, both holding their first
/// lock when they ask for the second (a barrier between): a certain deadlock.
/// Returns the clerks' handles (never joinable once deadlocked).
fn opposite_transfers() -> [thread::JoinHandle<()>; 2] {
    let a = Arc::new(Mutex::new(0).named("account_a"));
    let b = Arc::new(Mutex::new(0).named("account_b"));
    let both_hold = Arc::new(Barrier::new(2));
    let clerk = |name: &str, first: Arc<Mutex<u32>>, second: Arc<Mutex<u32>>| {
        let both_hold = Arc::clone(&both_hold);
        thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let _first = first.lock().unwrap();
                both_hold.wait();
                let _second = second.lock().unwrap();
            })
            .unwrap()
    };
    [
        clerk("clerk-1", Arc::clone(&a), Arc::clone(&b)),
        clerk("clerk-2", b, a),
    ]
}

/// The child's side: `env` runs the deadlock under the action set by the
/// environment, `callback` under a callback set by the API.
#[test]
#[ignore = "run by the other tests in a child process"]
fn child_entry() {
    let scenario = std::env::var(CHILD_VAR).expect("run by the other tests of this file");
    match scenario.as_str() {
        "env" => {
            for clerk in opposite_transfers() {
                // Under `abort` the process ends first; under `report` this waits forever.
                let _ = clerk.join();
            }
            panic!("the clerks ended: no deadlock happened");
        }
        "callback" => {
            let (tx, rx) = std::sync::mpsc::channel::<String>();
            let tx = std::sync::Mutex::new(tx);
            set_deadlock_action(DeadlockAction::Callback(Arc::new(
                move |report: &DeadlockReport| {
                    let here = std::thread::current().name().unwrap_or("?").to_owned();
                    let _ = tx.lock().unwrap().send(describe_for_parent(report, &here));
                },
            )));
            let _clerks = opposite_transfers();
            let seen = rx
                .recv_timeout(Duration::from_secs(10))
                .expect("no callback within 10 s");
            println!("{CALLBACK_MARKER} {seen}");
            // The clerks stay deadlocked: leave without waiting for them.
            std::process::exit(0);
        }
        other => panic!("unknown scenario {other}"),
    }
}

/// One line for the parent: the callback's thread, the detection, the cycle
/// and the blocked threads with what each waits for.
fn describe_for_parent(report: &DeadlockReport, here: &str) -> String {
    let detection = match report.detection {
        Detection::Cycle => "cycle",
        Detection::ClosedGroup => "closed-group",
        Detection::AllBlocked => "all-blocked",
    };
    let mut blocked: Vec<String> = report
        .threads
        .iter()
        .map(|t| format!("{} waits for {}", t.name, t.waits_for))
        .collect();
    blocked.sort();
    format!(
        "on {here}; {detection}; cycle {}; {}; summary {}",
        report.cycle.join(" -> "),
        blocked.join(", "),
        report.summary()
    )
}

fn child(scenario: &str, trace_dir: &Path) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "child_entry",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_VAR, scenario)
    .env("INSTRUMENTED_SYNC_TRACE", trace_dir)
    .env_remove(ON_DEADLOCK_VAR)
    .stdin(Stdio::null());
    cmd
}

/// The one trace file the child wrote into `dir`.
fn trace_in(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one trace file: {files:?}");
    files[0].clone()
}

/// The messages of the trace's `observed-deadlock` findings (the report was
/// flushed before the action: the trace may end without its `End` record).
fn observed_deadlocks(trace: &Path) -> Vec<String> {
    let options = LoadOptions {
        allow_truncated: true,
        ..LoadOptions::default()
    };
    let trace = load_path(trace, &options).unwrap_or_else(|e| panic!("{e}"));
    analyze(&[trace], &AnalysisOptions::default())
        .findings
        .into_iter()
        .filter(|f| f.kind == FindingKind::ObservedDeadlock)
        .map(|f| f.message)
        .collect()
}

/// Whether a report line names the deadlock between the two clerks.
fn names_the_clerks(text: &str) -> bool {
    text.contains("deadlock") && text.contains("clerk-1") && text.contains("clerk-2")
}

/// What `thread` waits for in a [`describe_for_parent`] line.
fn waited_for<'a>(line: &'a str, thread: &str) -> &'a str {
    let key = format!("{thread} waits for ");
    line.split([',', ';'])
        .find_map(|part| part.trim().strip_prefix(key.as_str()))
        .unwrap_or("")
}

#[cfg(unix)]
fn killed_by_sigabrt(status: ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(6)
}

#[cfg(not(unix))]
fn killed_by_sigabrt(status: ExitStatus) -> bool {
    !status.success()
}

#[test]
fn abort_writes_the_report_to_stderr_and_the_trace_then_aborts() {
    let dir = tempfile::tempdir().unwrap();
    let out = child("env", dir.path())
        .env(ON_DEADLOCK_VAR, "abort")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        killed_by_sigabrt(out.status),
        "expected SIGABRT, got {}:\n{stderr}",
        out.status
    );
    let report = stderr
        .lines()
        .find(|l| l.starts_with("instrumented_sync: deadlock"))
        .unwrap_or_else(|| panic!("no report on stderr:\n{stderr}"));
    assert!(names_the_clerks(report), "{report}");
    assert!(!stderr.contains("panicked"), "abort, not panic:\n{stderr}");
    let observed = observed_deadlocks(&trace_in(dir.path()));
    assert_eq!(observed.len(), 1, "{observed:?}");
    assert!(names_the_clerks(&observed[0]), "{observed:?}");
}

#[test]
fn report_writes_the_report_and_the_program_keeps_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let mut process = child("env", dir.path())
        .env(ON_DEADLOCK_VAR, "report")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = BufReader::new(process.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let report = loop {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(line) if line.starts_with("instrumented_sync: deadlock") => break line,
            Ok(line) => seen.push(line),
            Err(_) => {
                let _ = process.kill();
                panic!("no report within 10 s; stderr so far:\n{}", seen.join("\n"));
            }
        }
    };
    assert!(names_the_clerks(&report), "{report}");
    // Reported, not acted on: a while later the child is still waiting.
    std::thread::sleep(Duration::from_millis(300));
    let still_running = process.try_wait().unwrap().is_none();
    process.kill().unwrap();
    let status = process.wait().unwrap();
    assert!(
        still_running,
        "the child ended by itself ({status}) instead of waiting; stderr:\n{}",
        rx.try_iter().collect::<Vec<_>>().join("\n")
    );
    let later: Vec<String> = rx.try_iter().collect();
    assert!(
        !later.iter().any(|l| l.contains("panicked")),
        "report, not panic: {later:?}"
    );
    let observed = observed_deadlocks(&trace_in(dir.path()));
    assert!(!observed.is_empty(), "no observed-deadlock in the trace");
    assert!(names_the_clerks(&observed[0]), "{observed:?}");
}

#[test]
fn a_callback_gets_the_report_on_a_thread_of_the_deadlock() {
    let dir = tempfile::tempdir().unwrap();
    let out = child("callback", dir.path())
        // The API setting wins over the environment.
        .env(ON_DEADLOCK_VAR, "abort")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}:\n{stdout}\n{stderr}", out.status);
    let seen = stdout
        .lines()
        .find_map(|l| l.split_once(CALLBACK_MARKER).map(|(_, s)| s.trim()))
        .unwrap_or_else(|| panic!("the callback did not run:\n{stdout}\n{stderr}"));
    assert!(
        seen.starts_with("on clerk-1;") || seen.starts_with("on clerk-2;"),
        "runs on the thread closing the cycle: {seen}"
    );
    assert!(seen.contains("; cycle; "), "{seen}");
    // Each clerk waits for the account the other holds (the label's wording is the report's own).
    assert!(
        waited_for(seen, "clerk-1").contains("account_b")
            && waited_for(seen, "clerk-2").contains("account_a"),
        "{seen}"
    );
    assert!(names_the_clerks(seen), "{seen}");
    assert!(
        !stderr.contains("instrumented_sync: deadlock"),
        "a callback takes the report instead of stderr:\n{stderr}"
    );
    let observed = observed_deadlocks(&trace_in(dir.path()));
    assert_eq!(observed.len(), 1, "{observed:?}");
}

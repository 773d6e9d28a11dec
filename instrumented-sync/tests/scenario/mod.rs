//! The harness of the live-detection tests (`tests/waitfor_*.rs` include it as
//! `mod scenario;`): a scenario runs on a plain std thread, unknown to the
//! detector like a test harness, and a deadlock ends it with the report as its
//! panic message.

// Each test binary uses the part it needs.
#![allow(dead_code)]

use std::sync::{Mutex as StdMutex, PoisonError};
use std::time::Duration;

use instrumented_sync::thread;

/// Scenarios of one binary run one at a time: the watchdog's all-blocked rule is process-wide.
static SERIAL: StdMutex<()> = StdMutex::new(());

/// Runs `scenario` on a plain std thread and returns its panic message, or `None`
/// if it returned. Fails the test if it has not ended within 10 s.
pub fn run(scenario: impl FnOnce() + Send + 'static) -> Option<String> {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(scenario));
        let _ = tx.send(r.err().map(|p| panic_text(&p)));
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the scenario hung: no deadlock report within 10 s")
}

/// A panic payload's message.
pub fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// Joins, re-raising a child's panic with its own message.
pub fn join<T>(h: thread::JoinHandle<T>) -> T {
    h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// Joins all, re-raising the deadlock reports if threads panicked with them
/// (the others may panic on the locks they poisoned), else the first panic.
pub fn join_all(handles: Vec<thread::JoinHandle<()>>) {
    let panics: Vec<String> = handles
        .into_iter()
        .filter_map(|h| h.join().err())
        .map(|p| panic_text(&p))
        .collect();
    // A deadlock that outlives the first report is reported again (to the
    // threads still stuck): keep every report, they name the threads together.
    let reports: Vec<&str> = panics
        .iter()
        .filter(|m| m.contains("deadlock"))
        .map(String::as_str)
        .collect();
    if !reports.is_empty() {
        std::panic::panic_any(reports.join("\n"));
    }
    if let Some(p) = panics.into_iter().next() {
        std::panic::panic_any(p);
    }
}

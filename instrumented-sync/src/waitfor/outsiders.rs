//! Threads the detector was never told about: `std::thread`s, thread pools,
//! the test harness. Before the watchdog says "every live thread is blocked",
//! it asks whether one of them could still wake a waiter (a std thread
//! sleeping before it sends a result is the common case).
//!
//! On Linux the answer comes from `/proc/self/task`: an outsider may wake a
//! waiter if it is runnable, in a timed sleep (`nanosleep`,
//! `clock_nanosleep`), or was scheduled during the last interval. One that
//! has sat in any other blocking call (a futex, `poll`, `read`) for a whole
//! interval is taken to wait for something outside instrumented code, like a
//! harness waiting for the test's result. Elsewhere outsiders are not seen,
//! as before.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Our own service threads' names begin with this (`/proc` keeps 15 bytes).
const SERVICE_PREFIX: &str = "instrumented-sy";

/// The calling thread's kernel id, if the system tells.
pub(crate) fn current_tid() -> Option<u32> {
    // `/proc/thread-self` links to `<pid>/task/<tid>`.
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// What the watchdog remembers of outsiders between looks.
#[derive(Debug, Default)]
pub(crate) struct Outsiders {
    /// Per kernel thread id: its run count when last seen, and since when it has not changed.
    seen: BTreeMap<u32, (u64, Instant)>,
}

impl Outsiders {
    /// Whether a thread not in `known` (kernel ids) may still wake a waiter:
    /// see the module docs. `false` where `/proc` cannot be read.
    pub(crate) fn may_wake(&mut self, known: &BTreeSet<u32>, interval: Duration) -> bool {
        let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
            return false;
        };
        let now = Instant::now();
        let mut live = BTreeSet::new();
        let mut may_wake = false;
        for entry in dir.flatten() {
            let Some(tid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if known.contains(&tid) {
                continue;
            }
            let base = entry.path();
            let comm = std::fs::read_to_string(base.join("comm")).unwrap_or_default();
            if comm.starts_with(SERVICE_PREFIX) {
                continue;
            }
            live.insert(tid);
            let Some(runs) = run_count(&base) else {
                // Vanished while we looked: it ended.
                continue;
            };
            let since = match self.seen.get(&tid) {
                Some(&(r, since)) if r == runs => since,
                _ => now,
            };
            self.seen.insert(tid, (runs, since));
            if now.duration_since(since) < interval || is_awake_or_sleeping(&base) {
                may_wake = true;
            }
        }
        self.seen.retain(|t, _| live.contains(t));
        may_wake
    }
}

/// How many times the thread has been scheduled (`schedstat`'s third field).
fn run_count(task: &std::path::Path) -> Option<u64> {
    let s = std::fs::read_to_string(task.join("schedstat")).ok()?;
    s.split_whitespace().nth(2)?.parse().ok()
}

/// Runnable, or in a timed sleep that ends by itself.
fn is_awake_or_sleeping(task: &std::path::Path) -> bool {
    let Ok(stat) = std::fs::read_to_string(task.join("stat")) else {
        return false;
    };
    // `pid (comm) S …`: the state follows the last ')' (comm may hold spaces and parens).
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    if matches!(state, Some('R')) {
        return true;
    }
    let Ok(syscall) = std::fs::read_to_string(task.join("syscall")) else {
        return false;
    };
    match syscall.split_whitespace().next() {
        // "running": between system calls.
        Some("running") => true,
        Some(nr) => nr.parse::<i64>().is_ok_and(|nr| TIMED_SLEEPS.contains(&nr)),
        None => false,
    }
}

/// System call numbers of `nanosleep` and `clock_nanosleep`.
#[cfg(target_arch = "x86_64")]
const TIMED_SLEEPS: [i64; 2] = [35, 230];
#[cfg(target_arch = "aarch64")]
const TIMED_SLEEPS: [i64; 2] = [101, 115];
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const TIMED_SLEEPS: [i64; 0] = [];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sleeping_std_thread_may_wake_and_a_blocked_one_may_not() {
        if current_tid().is_none() {
            return; // no /proc here
        }
        let interval = Duration::from_millis(30);
        // A thread sleeping on a timer.
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let sleeper = std::thread::spawn(move || {
            tid_tx.send(current_tid()).unwrap();
            std::thread::sleep(Duration::from_millis(400));
        });
        let sleeper_tid = tid_rx.recv().unwrap().unwrap();
        // A thread blocked on a channel nobody will send on until we say so.
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let blocked = std::thread::spawn(move || {
            tid_tx.send(current_tid()).unwrap();
            let _ = go_rx.recv();
        });
        let blocked_tid = tid_rx.recv().unwrap().unwrap();
        // Every other thread of the test binary counts as known (read at each
        // look: tests running beside this one start threads).
        let known_but = |outsiders: &[u32]| -> BTreeSet<u32> {
            std::fs::read_dir("/proc/self/task")
                .unwrap()
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .filter(|t| !outsiders.contains(t))
                .collect()
        };
        let both = [sleeper_tid, blocked_tid];
        let mut o = Outsiders::default();
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            o.may_wake(&known_but(&both), interval),
            "first look: just seen"
        );
        std::thread::sleep(Duration::from_millis(60));
        assert!(
            o.may_wake(&known_but(&both), interval),
            "the sleeper is in a timed sleep"
        );
        let mut o = Outsiders::default();
        o.may_wake(&known_but(&[blocked_tid]), interval);
        std::thread::sleep(Duration::from_millis(60));
        assert!(
            !o.may_wake(&known_but(&[blocked_tid]), interval),
            "a thread blocked on a channel for a whole interval wakes nobody"
        );
        go_tx.send(()).unwrap();
        blocked.join().unwrap();
        sleeper.join().unwrap();
    }
}

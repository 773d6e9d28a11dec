//! What the instrumented parking_lot locks tell the analyzer: timed tries add no
//! blocking edge, re-entering a ReentrantMutex is no dependency, upgradable
//! readers exclude each other, and an upgrade waits for the other readers.
//! Each test names its own locks and looks only at findings about them (the
//! in-process recording covers every test of this binary).
#![cfg(feature = "parking_lot")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use analyzer::finding::{Finding, FindingKind};
use instrumented_sync::parking_lot::{Mutex, ReentrantMutex, RwLock, RwLockUpgradableReadGuard};
use sync_trace::{Attempt, Op, Record};

/// Deadlock findings whose locks are exactly `names` (in any order).
fn deadlocks_between(names: &[&str]) -> Vec<Finding> {
    let mut want: Vec<&str> = names.to_vec();
    want.sort_unstable();
    instrumented_sync::findings()
        .findings
        .into_iter()
        .filter(|f| instrumented_sync::DEADLOCK_KINDS.contains(&f.kind))
        .filter(|f| {
            let mut got: Vec<&str> = f.locks.iter().map(|l| l.name.as_str()).collect();
            got.sort_unstable();
            got.dedup();
            got == want
        })
        .collect()
}

/// Runs `first` to completion, then `second`, on two threads not ordered for the
/// analyzer (an uninstrumented flag keeps them apart in real time only).
fn staggered(first: impl FnOnce() + Send + 'static, second: impl FnOnce() + Send + 'static) {
    let done = Arc::new(AtomicBool::new(false));
    let d1 = Arc::clone(&done);
    let t1 = std::thread::spawn(move || {
        first();
        d1.store(true, Ordering::Release);
    });
    let t2 = std::thread::spawn(move || {
        while !done.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        second();
    });
    t1.join().unwrap();
    t2.join().unwrap();
}

fn named_mutex(name: &'static str) -> Arc<Mutex<u32>> {
    let m = Mutex::new(0);
    instrumented_sync::name(&m, name);
    Arc::new(m)
}

fn named_rwlock(name: &'static str) -> Arc<RwLock<u32>> {
    let l = RwLock::new(0);
    instrumented_sync::name(&l, name);
    Arc::new(l)
}

#[test]
fn timed_tries_add_no_blocking_edge() {
    // Opposite orders, but one side only tries with a timeout: no deadlock possible.
    let (a, b) = (named_mutex("timed-a"), named_mutex("timed-b"));
    let (a1, b1, a2, b2) = (a.clone(), b.clone(), a.clone(), b.clone());
    staggered(
        move || {
            let _ga = a1.lock();
            let gb = b1.try_lock_for(Duration::from_millis(50));
            assert!(gb.is_some());
        },
        move || {
            let _gb = b2.lock();
            let _ga = a2.lock();
        },
    );
    assert_eq!(deadlocks_between(&["timed-a", "timed-b"]), []);
    // The acquisition was recorded, as a timed one.
    let timed = instrumented_sync::recorded().iter().any(|r| {
        matches!(r, Record::Events { events, .. } if events.iter().any(|e| matches!(e.op, Op::Acquire { attempt: Attempt::Timed, .. })))
    });
    assert!(timed, "a timed acquisition is recorded");

    // Control: the same program with a blocking lock is flagged.
    let (c, d) = (named_mutex("blocking-c"), named_mutex("blocking-d"));
    let (c1, d1, c2, d2) = (c.clone(), d.clone(), c.clone(), d.clone());
    staggered(
        move || {
            let _gc = c1.lock();
            let _gd = d1.lock();
        },
        move || {
            let _gd = d2.lock();
            let _gc = c2.lock();
        },
    );
    let found = deadlocks_between(&["blocking-c", "blocking-d"]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(matches!(
        found[0].kind,
        FindingKind::PredictedDeadlock | FindingKind::LockOrderInversion
    ));
}

#[test]
fn reentering_a_reentrant_mutex_is_no_dependency() {
    let monitor = ReentrantMutex::new(0);
    let other = named_mutex("reentrant-other");
    let outer = monitor.lock();
    {
        let _g = other.lock();
        // Re-entering while holding another lock: never waits, so no edge
        // "reentrant-other -> monitor" and no self-deadlock.
        let inner = monitor.lock();
        assert_eq!(*inner, 0);
    }
    drop(outer);
    let records = instrumented_sync::recorded();
    let monitor_id = records
        .iter()
        .rev()
        .find_map(|r| match r {
            Record::Object(o) if o.kind == sync_trace::ObjectKind::ReentrantMutex => Some(o.id),
            _ => None,
        })
        .expect("the monitor is described as a ReentrantMutex");
    let acquisitions = records
        .iter()
        .filter_map(|r| match r {
            Record::Events { events, .. } => Some(events),
            _ => None,
        })
        .flatten()
        .filter(|e| matches!(e.op, Op::Acquire { lock, .. } if lock == monitor_id))
        .count();
    assert_eq!(
        acquisitions, 1,
        "only the outermost acquisition is recorded"
    );
    let self_deadlocks = instrumented_sync::findings()
        .findings
        .into_iter()
        .filter(|f| f.kind == FindingKind::SelfDeadlock)
        .count();
    assert_eq!(self_deadlocks, 0);
}

#[test]
fn two_upgradable_readers_exclude_each_other() {
    // Upgradable on L then M, against M then upgradable on L: they conflict.
    let (l, m) = (named_rwlock("upg-l"), named_mutex("upg-m"));
    let (l1, m1, l2, m2) = (l.clone(), m.clone(), l.clone(), m.clone());
    staggered(
        move || {
            let _u = l1.upgradable_read();
            let _g = m1.lock();
        },
        move || {
            let _g = m2.lock();
            let _u = l2.upgradable_read();
        },
    );
    let found = deadlocks_between(&["upg-l", "upg-m"]);
    assert_eq!(found.len(), 1, "{found:#?}");

    // Control: a plain reader does not conflict with an upgradable reader.
    let (l, m) = (named_rwlock("mixed-l"), named_mutex("mixed-m"));
    let (l1, m1, l2, m2) = (l.clone(), m.clone(), l.clone(), m.clone());
    staggered(
        move || {
            let _u = l1.upgradable_read();
            let _g = m1.lock();
        },
        move || {
            let _g = m2.lock();
            let _r = l2.read();
        },
    );
    assert_eq!(deadlocks_between(&["mixed-l", "mixed-m"]), []);
}

#[test]
fn an_upgrade_waits_for_the_other_readers() {
    // A reader of L waits for M; the upgrader holds M and upgrades L: the
    // upgrade must wait for that reader, so this is a deadlock.
    let (l, m) = (named_rwlock("upgrade-l"), named_mutex("upgrade-m"));
    let (l1, m1, l2, m2) = (l.clone(), m.clone(), l.clone(), m.clone());
    staggered(
        move || {
            let _r = l1.read();
            let _g = m1.lock();
        },
        move || {
            let u = l2.upgradable_read();
            let _g = m2.lock();
            let mut w = RwLockUpgradableReadGuard::upgrade(u);
            *w += 1;
        },
    );
    let found = deadlocks_between(&["upgrade-l", "upgrade-m"]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(*l.read(), 1);
}

//! SpinLock: std-Mutex-like behaviour (mutual exclusion under contention,
//! poisoning, try_lock) and recording like a mutex, with kind SpinLock.

use std::sync::Arc;

use analyzer::finding::FindingKind;
use instrumented_sync::{SpinLock, TryLockError, thread};
use sync_trace::{ObjectKind, Op, Record};

#[test]
fn excludes_under_contention() {
    let counter = Arc::new(SpinLock::new(0u64).named("spin-counter"));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let c = Arc::clone(&counter);
            thread::spawn(move || {
                for _ in 0..2_000 {
                    *c.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*counter.lock().unwrap(), 8_000);
    let records = instrumented_sync::recorded();
    let id = records
        .iter()
        .find_map(|r| match r {
            Record::Object(o)
                if o.kind == ObjectKind::SpinLock && o.name.as_deref() == Some("spin-counter") =>
            {
                Some(o.id)
            }
            _ => None,
        })
        .expect("described as a SpinLock");
    let acquires = records
        .iter()
        .filter_map(|r| match r {
            Record::Events { events, .. } => Some(events),
            _ => None,
        })
        .flatten()
        .filter(|e| matches!(e.op, Op::Acquire { lock, .. } if lock == id))
        .count();
    assert!(acquires >= 8_000, "every acquisition recorded: {acquires}");
}

#[test]
fn try_lock_and_poisoning() {
    let lock = Arc::new(SpinLock::new(vec![1]));
    {
        let _held = lock.lock().unwrap();
        assert!(matches!(lock.try_lock(), Err(TryLockError::WouldBlock)));
    }
    let l2 = Arc::clone(&lock);
    let result = std::thread::spawn(move || {
        let _g = l2.lock().unwrap();
        panic!("poison it");
    })
    .join();
    assert!(result.is_err());
    assert!(lock.is_poisoned());
    assert!(lock.lock().is_err());
    lock.clear_poison();
    lock.lock().unwrap().push(2);
    assert_eq!(format!("{:?}", lock.lock().unwrap()), "[1, 2]");
}

#[test]
fn opposite_orders_are_flagged() {
    let a = Arc::new(SpinLock::new(()).named("spin-a"));
    let b = Arc::new(SpinLock::new(()).named("spin-b"));
    let (a1, b1) = (Arc::clone(&a), Arc::clone(&b));
    thread::spawn(move || {
        let _ga = a1.lock().unwrap();
        let _gb = b1.lock().unwrap();
    })
    .join()
    .unwrap();
    let (a2, b2) = (Arc::clone(&a), Arc::clone(&b));
    thread::spawn(move || {
        let _gb = b2.lock().unwrap();
        let _ga = a2.lock().unwrap();
    })
    .join()
    .unwrap();
    let found: Vec<_> = instrumented_sync::findings()
        .findings
        .into_iter()
        .filter(|f| f.locks.iter().any(|l| l.name == "spin-a"))
        .filter(|f| {
            matches!(
                f.kind,
                FindingKind::PredictedDeadlock | FindingKind::LockOrderInversion
            )
        })
        .collect();
    assert_eq!(found.len(), 1, "{found:#?}");
}

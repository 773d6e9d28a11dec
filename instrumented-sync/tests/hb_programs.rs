//! Real threaded programs whose `RaceCell` accesses are ordered by exactly one
//! happens-before source each (channel send→recv, rendezvous, condvar
//! notify→wake, barrier, join, scoped threads, channel disconnection in both
//! directions, read-unlock→write-lock, spin lock) and must get no race
//! finding, plus unordered twins that must.
//!
//! The in-process recording covers the whole test binary, so each test names
//! its variables uniquely, looks only at findings about them, and the tests
//! run one at a time (a half-finished neighbour would only add noise).
// Recording is what is tested: under `passthrough` the lock types are std's own.
#![cfg(not(feature = "passthrough"))]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex, PoisonError};
use std::time::Duration;

use analyzer::finding::FindingKind;
use instrumented_sync::{Barrier, Condvar, Mutex, RaceCell, RwLock, SpinLock, mpsc, thread};

/// Serialises the tests of this binary.
static SERIAL: StdMutex<()> = StdMutex::new(());

/// Race-kind findings about the variable called `name`, as `kind: message` lines.
fn races_on(name: &str) -> Vec<String> {
    let analysis = instrumented_sync::findings();
    analysis
        .findings
        .iter()
        .filter(|f| f.variable.as_ref().is_some_and(|v| v.name == name))
        .map(|f| format!("{}: {}", f.kind, f.message))
        .collect()
}

/// Asserts that nothing is reported about `name` and that the recording so
/// far is well-formed (the tests run serially, so every warning is ours).
fn assert_ordered(name: &str) {
    let analysis = instrumented_sync::findings();
    assert!(
        analysis.warnings.is_empty(),
        "well-formedness warnings: {:?}",
        analysis.warnings
    );
    let about: Vec<String> = races_on(name);
    assert!(about.is_empty(), "{name}: {about:#?}");
}

/// Asserts that a data race on `name` is reported.
fn assert_data_race(name: &str) {
    let analysis = instrumented_sync::findings();
    let races = analysis
        .findings
        .iter()
        .filter(|f| {
            f.kind == FindingKind::DataRace && f.variable.as_ref().is_some_and(|v| v.name == name)
        })
        .count();
    assert!(races > 0, "no data race on {name}: {:#?}", races_on(name));
}

#[test]
fn a_message_orders_the_write_before_it_and_the_read_after_it() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let cell = Arc::new(RaceCell::new(0u32).named("hb_by_message"));
    let (tx, rx) = mpsc::channel();
    let c = Arc::clone(&cell);
    let worker = thread::spawn(move || {
        c.set(1);
        tx.send(()).unwrap();
        // Keep the sender alive: the message alone must order the write.
        thread::sleep(Duration::from_millis(20));
    });
    rx.recv().unwrap();
    assert_eq!(cell.get(), 1);
    worker.join().unwrap();
    assert_ordered("hb_by_message");
}

#[test]
fn a_rendezvous_channel_orders_the_write_before_the_send() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let cell = Arc::new(RaceCell::new(0u32).named("hb_by_rendezvous"));
    let (tx, rx) = mpsc::sync_channel(0);
    let c = Arc::clone(&cell);
    let worker = thread::spawn(move || {
        c.set(1);
        tx.send(()).unwrap();
        thread::sleep(Duration::from_millis(20));
    });
    rx.recv().unwrap();
    assert_eq!(cell.get(), 1);
    worker.join().unwrap();
    assert_ordered("hb_by_rendezvous");
}

#[test]
fn a_notification_orders_the_write_before_it_and_the_woken_read() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let cell = Arc::new(RaceCell::new(0u32).named("hb_by_notify"));
    // Not recorded: it only says when to stop waiting, so the notification
    // (not a lock handoff) is the one thing ordering the write.
    let written = Arc::new(AtomicBool::new(false));
    let pair = Arc::new((Mutex::new(()), Condvar::new()));
    let mut guard = pair.0.lock().unwrap();
    let (c, w, p) = (Arc::clone(&cell), Arc::clone(&written), Arc::clone(&pair));
    let worker = thread::spawn(move || {
        // Taking the lock proves the main thread is inside `wait`; the lock
        // is released again before the write, so it orders nothing after it.
        drop(p.0.lock().unwrap());
        c.set(1);
        w.store(true, Ordering::Release);
        p.1.notify_one();
        thread::sleep(Duration::from_millis(20));
    });
    while !written.load(Ordering::Acquire) {
        guard = pair.1.wait(guard).unwrap();
    }
    drop(guard);
    assert_eq!(cell.get(), 1);
    worker.join().unwrap();
    assert_ordered("hb_by_notify");
}

#[test]
fn a_barrier_orders_writes_before_it_and_reads_after_it() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let cell = Arc::new(RaceCell::new(0u32).named("hb_by_barrier"));
    let barrier = Arc::new(Barrier::new(2));
    let (c, b) = (Arc::clone(&cell), Arc::clone(&barrier));
    let worker = thread::spawn(move || {
        c.set(1);
        b.wait();
        thread::sleep(Duration::from_millis(20));
    });
    barrier.wait();
    assert_eq!(cell.get(), 1);
    worker.join().unwrap();
    assert_ordered("hb_by_barrier");
}

#[test]
fn a_join_orders_the_child_before_the_parent() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let cell = Arc::new(RaceCell::new(0u32).named("hb_by_join"));
    let c = Arc::clone(&cell);
    thread::spawn(move || c.set(1)).join().unwrap();
    assert_eq!(cell.get(), 1);
    assert_ordered("hb_by_join");
}

#[test]
fn a_scope_orders_its_threads_before_the_code_after_it() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let cell = RaceCell::new(0u32).named("hb_by_scope");
    thread::scope(|s| {
        // Not joined explicitly: the end of the scope joins it.
        s.spawn(|| cell.set(1));
    });
    assert_eq!(cell.get(), 1);
    assert_ordered("hb_by_scope");
}

#[test]
fn dropping_the_only_sender_orders_the_write_before_the_failed_recv() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let cell = Arc::new(RaceCell::new(0u32).named("hb_by_sender_drop"));
    let (tx, rx) = mpsc::channel::<()>();
    let c = Arc::clone(&cell);
    let worker = thread::spawn(move || {
        c.set(1);
        drop(tx);
        thread::sleep(Duration::from_millis(20));
    });
    assert!(rx.recv().is_err());
    assert_eq!(cell.get(), 1);
    worker.join().unwrap();
    assert_ordered("hb_by_sender_drop");
}

#[test]
fn a_drained_channel_orders_every_workers_writes_before_the_loop_ends() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let first = Arc::new(RaceCell::new(0u32).named("hb_by_drain_first"));
    let second = Arc::new(RaceCell::new(0u32).named("hb_by_drain_second"));
    let (tx, rx) = mpsc::sync_channel(4);
    let mut workers = Vec::new();
    for (cell, delay) in [(&first, 0), (&second, 10)] {
        let (c, tx) = (Arc::clone(cell), tx.clone());
        workers.push(thread::spawn(move || {
            thread::sleep(Duration::from_millis(delay));
            tx.send(c.get()).unwrap();
            // Written after the last message: only the sender's drop orders it.
            c.set(1);
            drop(tx);
            thread::sleep(Duration::from_millis(20));
        }));
    }
    drop(tx);
    let received: Vec<u32> = rx.iter().collect();
    assert_eq!(received, [0, 0]);
    assert_eq!((first.get(), second.get()), (1, 1));
    for w in workers {
        w.join().unwrap();
    }
    assert_ordered("hb_by_drain_first");
    assert_ordered("hb_by_drain_second");
}

#[test]
fn try_recv_seeing_the_disconnection_orders_the_write() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let cell = Arc::new(RaceCell::new(0u32).named("hb_by_try_recv_disconnect"));
    let (tx, rx) = mpsc::channel::<()>();
    let c = Arc::clone(&cell);
    let worker = thread::spawn(move || {
        c.set(1);
        drop(tx);
        thread::sleep(Duration::from_millis(20));
    });
    while rx.try_recv() != Err(mpsc::TryRecvError::Disconnected) {
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(cell.get(), 1);
    worker.join().unwrap();
    assert_ordered("hb_by_try_recv_disconnect");
}

#[test]
fn dropping_the_receiver_orders_its_writes_before_each_failed_send() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let cell = Arc::new(RaceCell::new(0u32).named("hb_by_receiver_drop"));
    let (tx, rx) = mpsc::channel::<u32>();
    let mut workers = Vec::new();
    for _ in 0..2 {
        let (c, tx) = (Arc::clone(&cell), tx.clone());
        workers.push(thread::spawn(move || {
            // The send fails only once the receiver is gone.
            while tx.send(0).is_ok() {
                thread::sleep(Duration::from_millis(1));
            }
            // A second failure records nothing new and changes nothing.
            assert!(tx.send(0).is_err());
            c.get()
        }));
    }
    drop(tx);
    thread::sleep(Duration::from_millis(10));
    cell.set(7);
    drop(rx);
    for w in workers {
        assert_eq!(w.join().unwrap(), 7);
    }
    assert_ordered("hb_by_receiver_drop");
}

#[test]
fn a_read_unlock_orders_the_read_before_the_next_writer() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let cell = Arc::new(RaceCell::new(0u32).named("hb_by_read_unlock"));
    let lock = Arc::new(RwLock::new(()));
    // Not recorded: it only keeps the reader first, so only the lock orders them.
    let read_done = Arc::new(AtomicBool::new(false));
    let (c, l, done) = (Arc::clone(&cell), Arc::clone(&lock), Arc::clone(&read_done));
    let reader = thread::spawn(move || {
        let seen = {
            let _read = l.read().unwrap();
            c.get()
        };
        done.store(true, Ordering::Release);
        thread::sleep(Duration::from_millis(20));
        seen
    });
    while !read_done.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(lock.write().unwrap());
    cell.set(1);
    assert_eq!(reader.join().unwrap(), 0);
    assert_ordered("hb_by_read_unlock");
}

#[test]
fn a_spin_lock_orders_its_critical_sections() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let cell = Arc::new(RaceCell::new(0u32).named("hb_by_spin_lock"));
    let lock = Arc::new(SpinLock::new(()));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (c, l) = (Arc::clone(&cell), Arc::clone(&lock));
            thread::spawn(move || {
                for _ in 0..50 {
                    let _held = l.lock().unwrap();
                    c.update(|v| v + 1);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(cell.get(), 100);
    assert_ordered("hb_by_spin_lock");
}

#[test]
fn a_write_after_the_sender_drop_is_a_data_race() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let cell = Arc::new(RaceCell::new(0u32).named("hb_twin_write_after_drop"));
    let (tx, rx) = mpsc::channel::<()>();
    let c = Arc::clone(&cell);
    let worker = thread::spawn(move || {
        drop(tx);
        // After the drop: the disconnection does not order this write.
        c.set(1);
    });
    assert!(rx.recv().is_err());
    let _ = cell.get();
    worker.join().unwrap();
    assert_data_race("hb_twin_write_after_drop");
}

#[test]
fn a_write_and_read_with_no_synchronisation_between_is_a_data_race() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let cell = Arc::new(RaceCell::new(0u32).named("hb_twin_unordered"));
    let (tx, rx) = mpsc::channel::<()>();
    let c = Arc::clone(&cell);
    let worker = thread::spawn(move || {
        c.set(1);
        // The message is sent on a channel nobody reads before the read below.
        tx.send(()).unwrap();
    });
    thread::sleep(Duration::from_millis(20));
    let _ = cell.get();
    worker.join().unwrap();
    drop(rx);
    assert_data_race("hb_twin_unordered");
}

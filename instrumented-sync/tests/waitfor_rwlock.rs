//! Live deadlock detection through reader-writer locks: a writer waits for
//! every reader, and a reader waits behind a writer queued ahead of it (std's
//! lock lets no new reader in while a writer waits). Each deadlocking program
//! ends by itself (a thread of the cycle panics with the report); each fixed
//! twin passes silently.
#![cfg(not(feature = "passthrough"))]

use std::sync::Arc;
use std::time::Duration;

use instrumented_sync::{Barrier, Mutex, RwLock, thread};

mod scenario;

use scenario::{join_all, run};

/// A reader takes `config` for reading, then wants `journal`; a writer holds
/// `journal` and wants to write `config`. Fixed: the reader lets go of
/// `config` before taking `journal`.
fn reader_and_writer(fixed: bool) {
    let config = Arc::new(RwLock::new(0).named("config"));
    let journal = Arc::new(Mutex::new(0).named("journal"));
    let barrier = Arc::new(Barrier::new(2));
    let reader = {
        let (config, journal, barrier) = (config.clone(), journal.clone(), barrier.clone());
        thread::Builder::new()
            .name("reader".into())
            .spawn(move || {
                let g = config.read().unwrap();
                barrier.wait();
                if fixed {
                    drop(g);
                    *journal.lock().unwrap() += 1;
                } else {
                    *journal.lock().unwrap() += *g;
                }
            })
            .unwrap()
    };
    let writer = thread::Builder::new()
        .name("writer".into())
        .spawn(move || {
            let mut j = journal.lock().unwrap();
            barrier.wait();
            // Let the reader block on `journal` first in one run of two: both orders are detected.
            std::thread::sleep(Duration::from_millis(5));
            *config.write().unwrap() += 1;
            *j += 1;
        })
        .unwrap();
    join_all(vec![reader, writer]);
}

#[test]
fn writer_waiting_for_a_reader_that_waits_for_it_is_reported() {
    let msg = run(|| reader_and_writer(false)).expect("the program must panic with the report");
    assert!(msg.contains("deadlock"), "{msg}");
    assert!(msg.contains("reader") && msg.contains("writer"), "{msg}");
    assert!(msg.contains("config") && msg.contains("journal"), "{msg}");
    assert!(
        msg.contains("waits until each of these readers lets go: reader"),
        "the writer's wait names the reader: {msg}"
    );
    assert!(
        msg.contains("holds config (read)"),
        "the read hold is shown: {msg}"
    );
    assert!(msg.contains("read-held by"), "DOT edge: {msg}");
    assert!(msg.contains("waitfor_rwlock.rs"), "sites are shown: {msg}");
}

#[test]
fn reader_letting_go_first_is_silent() {
    assert_eq!(run(|| reader_and_writer(true)), None);
}

/// A thread reads `settings` twice (nested) while another thread queues to
/// write it in between: std lets no new reader in while a writer waits, so
/// the second read waits for the writer, which waits for the first read.
fn recursive_read(fixed: bool) {
    let settings = Arc::new(RwLock::new(1).named("settings"));
    let s2 = Arc::clone(&settings);
    let first = settings.read().unwrap();
    let writer = thread::Builder::new()
        .name("updater".into())
        .spawn(move || *s2.write().unwrap() += 1)
        .unwrap();
    // Wait until the writer has queued: from then on std admits no new reader.
    loop {
        match settings.try_read() {
            Err(std::sync::TryLockError::WouldBlock) => break,
            Ok(g) => drop(g),
            Err(e) => panic!("{e}"),
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    if fixed {
        let v = *first;
        drop(first);
        assert!(*settings.read().unwrap() >= v);
    } else {
        let again = settings.read().unwrap();
        assert_eq!(*again, *first);
    }
    join_all(vec![writer]);
}

#[test]
fn recursive_read_behind_a_queued_writer_is_reported() {
    let msg = run(|| recursive_read(false)).expect("the nested read must panic with the report");
    assert!(msg.contains("deadlock"), "{msg}");
    assert!(msg.contains("updater") && msg.contains("settings"), "{msg}");
    assert!(
        msg.contains("queued behind the waiting writer(s): updater"),
        "the reader's wait names the queued writer: {msg}"
    );
}

#[test]
fn reading_once_while_a_writer_queues_is_silent() {
    assert_eq!(run(|| recursive_read(true)), None);
}

#[test]
fn writing_while_reading_on_one_thread_is_reported() {
    let msg = run(|| {
        let l = RwLock::new(0).named("table");
        let r = l.read().unwrap();
        let mut w = l.write().unwrap();
        *w += *r;
    })
    .expect("upgrading by re-locking must panic");
    assert!(msg.contains("deadlock") && msg.contains("table"), "{msg}");
}

/// Readers and writers of a few locks, in one global order, with holds long
/// enough that writers really wait for readers: never a deadlock.
#[test]
fn busy_readers_and_writers_in_one_order_are_silent() {
    assert_eq!(
        run(|| {
            let locks: Arc<Vec<RwLock<u64>>> =
                Arc::new((0..3).map(|i| RwLock::new(i).named("shard")).collect());
            let handles = (0..4)
                .map(|t| {
                    let locks = Arc::clone(&locks);
                    thread::spawn(move || {
                        for i in 0..200u64 {
                            // Always in index order: first a read, then a write of a later shard.
                            let a = usize::try_from((i + t) % 2).unwrap_or(0);
                            let r = locks[a].read().unwrap();
                            if (i + t) % 3 == 0 {
                                std::thread::sleep(Duration::from_micros(200));
                            }
                            let mut w = locks[2].write().unwrap();
                            *w += *r;
                        }
                    })
                })
                .collect();
            join_all(handles);
        }),
        None
    );
}

#[cfg(feature = "parking_lot")]
mod parking_lot_locks {
    use super::*;
    use instrumented_sync::parking_lot;

    #[test]
    fn parking_lot_writer_waiting_for_a_blocked_reader_is_reported() {
        let msg = run(|| {
            let config = Arc::new(parking_lot::RwLock::new(0));
            let journal = Arc::new(parking_lot::Mutex::new(0));
            let barrier = Arc::new(Barrier::new(2));
            let reader = {
                let (config, journal, barrier) = (config.clone(), journal.clone(), barrier.clone());
                thread::Builder::new()
                    .name("pl-reader".into())
                    .spawn(move || {
                        let g = config.read();
                        barrier.wait();
                        *journal.lock() += *g;
                    })
                    .unwrap()
            };
            let writer = thread::Builder::new()
                .name("pl-writer".into())
                .spawn(move || {
                    let mut j = journal.lock();
                    barrier.wait();
                    *config.write() += 1;
                    *j += 1;
                })
                .unwrap();
            join_all(vec![reader, writer]);
        })
        .expect("must panic with the report");
        assert!(msg.contains("deadlock"), "{msg}");
        assert!(
            msg.contains("pl-reader") && msg.contains("pl-writer"),
            "{msg}"
        );
    }

    /// A mutex last taken by one thread and now held through `try_lock` by
    /// another must name the new holder: a stale holder would close a cycle
    /// that does not exist.
    #[test]
    fn try_locked_mutex_names_its_real_holder() {
        assert_eq!(
            run(|| {
                let m = Arc::new(parking_lot::Mutex::new(0));
                let n = Arc::new(parking_lot::Mutex::new(0));
                let barrier = Arc::new(Barrier::new(3));
                // t1 takes and releases `m` (so a stale holder word would name t1),
                // then blocks on `n` held by t2 for a while.
                let t1 = {
                    let (m, n, barrier) = (m.clone(), n.clone(), barrier.clone());
                    thread::spawn(move || {
                        *m.lock() += 1;
                        barrier.wait();
                        std::thread::sleep(Duration::from_millis(20));
                        *n.lock() += 1;
                    })
                };
                // t3 holds `m` through try_lock for a while.
                let t3 = {
                    let (m, barrier) = (m.clone(), barrier.clone());
                    thread::spawn(move || {
                        barrier.wait();
                        let g = loop {
                            if let Some(g) = m.try_lock() {
                                break g;
                            }
                        };
                        std::thread::sleep(Duration::from_millis(100));
                        drop(g);
                    })
                };
                // t2 holds `n` and waits for `m`.
                let t2 = thread::spawn(move || {
                    let mut gn = n.lock();
                    barrier.wait();
                    std::thread::sleep(Duration::from_millis(10));
                    *m.lock() += 1;
                    *gn += 1;
                });
                join_all(vec![t1, t2, t3]);
            }),
            None
        );
    }
}

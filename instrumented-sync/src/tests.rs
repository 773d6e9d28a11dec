//! Unit tests of the recorded event sequences.
//!
//! Tests share one process-wide recording, so each scenario runs in its own
//! spawned thread and only that thread's events (and its own objects) are checked.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use sync_trace::{Attempt, Mode, ObjectId, ObjectKind, Op, Record, ThreadId};

use crate::recorder::this_thread;
// The instrumented types by path: under `passthrough` the crate root exports std's own.
use crate::barrier::Barrier;
use crate::condvar::Condvar;
use crate::mutex::Mutex;
#[cfg(feature = "passthrough")]
use crate::recorded_thread as thread;
use crate::rwlock::RwLock;
#[cfg(not(feature = "passthrough"))]
use crate::thread;
use crate::{TryLockError, recorded};

/// The ops `thread` recorded, in program order.
fn ops_of(records: &[Record], thread: ThreadId) -> Vec<Op> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Events { thread: t, events } if *t == thread => {
                Some(events.iter().map(|e| e.op))
            }
            _ => None,
        })
        .flatten()
        .collect()
}

/// Runs `f` in a fresh recorded thread; returns its id, its ops and the whole recording.
fn run<F: FnOnce() + Send + 'static>(f: F) -> (ThreadId, Vec<Op>, Vec<Record>) {
    let id = thread::spawn(move || {
        f();
        this_thread()
    })
    .join()
    .unwrap();
    let records = recorded();
    (id, ops_of(&records, id), records)
}

/// Ops touching `lock` (Request/Acquire/TryFailed/Release), without seq numbers.
fn lock_ops(ops: &[Op], lock: ObjectId) -> Vec<(&'static str, Mode)> {
    ops.iter()
        .filter_map(|op| match *op {
            Op::Request { lock: l, mode } if l == lock => Some(("request", mode)),
            Op::Acquire {
                lock: l,
                mode,
                attempt: Attempt::Blocking,
                ..
            } if l == lock => Some(("acquire", mode)),
            Op::Acquire {
                lock: l,
                mode,
                attempt: Attempt::Try,
                ..
            } if l == lock => Some(("try-acquire", mode)),
            Op::TryFailed { lock: l, mode } if l == lock => Some(("try-failed", mode)),
            Op::Release { lock: l, mode, .. } if l == lock => Some(("release", mode)),
            _ => None,
        })
        .collect()
}

fn seqs(ops: &[Op], lock: ObjectId) -> Vec<u64> {
    ops.iter()
        .filter_map(|op| match *op {
            Op::Acquire { lock: l, seq, .. } | Op::Release { lock: l, seq, .. } if l == lock => {
                Some(seq)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn lock_records_request_acquire_release_between_begin_and_end() {
    let m = Arc::new(Mutex::new(0));
    let m2 = Arc::clone(&m);
    let (_, ops, _) = run(move || *m2.lock().unwrap() += 1);
    let id = m.meta.id();
    assert_eq!(ops.first(), Some(&Op::Begin));
    assert_eq!(ops.last(), Some(&Op::End));
    assert_eq!(
        lock_ops(&ops, id),
        [
            ("request", Mode::Write),
            ("acquire", Mode::Write),
            ("release", Mode::Write)
        ]
    );
    assert_eq!(seqs(&ops, id), [1, 2]);
}

#[test]
fn try_lock_records_try_failed_and_try_acquire() {
    let m = Arc::new(Mutex::new(()));
    let m2 = Arc::clone(&m);
    let (_, ops, _) = run(move || {
        let held = m2.lock().unwrap();
        assert!(matches!(m2.try_lock(), Err(TryLockError::WouldBlock)));
        drop(held);
        drop(m2.try_lock().unwrap());
    });
    let expected = [
        ("request", Mode::Write),
        ("acquire", Mode::Write),
        ("try-failed", Mode::Write),
        ("release", Mode::Write),
        ("try-acquire", Mode::Write),
        ("release", Mode::Write),
    ];
    assert_eq!(lock_ops(&ops, m.meta.id()), expected);
}

#[test]
fn guards_dropped_out_of_order_release_in_drop_order() {
    let (a, b) = (Arc::new(Mutex::new(1)), Arc::new(Mutex::new(2)));
    let (a2, b2) = (Arc::clone(&a), Arc::clone(&b));
    let (_, ops, _) = run(move || {
        let ga = a2.lock().unwrap();
        let gb = b2.lock().unwrap();
        drop(ga);
        drop(gb);
    });
    let (ia, ib) = (a.meta.id(), b.meta.id());
    let releases: Vec<ObjectId> = ops
        .iter()
        .filter_map(|op| {
            if let Op::Release { lock, .. } = op {
                Some(*lock)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(releases, [ia, ib]);
}

#[test]
fn rwlock_readers_share_the_counter_and_record_read_mode() {
    let l = Arc::new(RwLock::new(5));
    let l2 = Arc::clone(&l);
    let (_, ops, _) = run(move || {
        let r1 = l2.read().unwrap();
        let r2 = l2.try_read().unwrap();
        assert!(matches!(l2.try_write(), Err(TryLockError::WouldBlock)));
        drop((r1, r2));
        *l2.write().unwrap() += 1;
    });
    let id = l.meta.id();
    let expected = [
        ("request", Mode::Read),
        ("acquire", Mode::Read),
        ("try-acquire", Mode::Read),
        ("try-failed", Mode::Write),
        ("release", Mode::Read),
        ("release", Mode::Read),
        ("request", Mode::Write),
        ("acquire", Mode::Write),
        ("release", Mode::Write),
    ];
    assert_eq!(lock_ops(&ops, id), expected);
    assert_eq!(seqs(&ops, id), [1, 2, 3, 4, 5, 6]);
}

#[test]
fn condvar_wait_records_wait_release_wake_acquire_and_notify() {
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let waiter_pair = Arc::clone(&pair);
    let waiter = thread::spawn(move || {
        let (m, cv) = &*waiter_pair;
        let guard = cv.wait_while(m.lock().unwrap(), |ready| !*ready).unwrap();
        drop(guard);
        this_thread()
    });
    let notifier_pair = Arc::clone(&pair);
    let (_, notifier_ops, _) = run(move || {
        let (m, cv) = &*notifier_pair;
        // Give the waiter time to block, so the wait path is usually exercised.
        thread::sleep(Duration::from_millis(20));
        *m.lock().unwrap() = true;
        cv.notify_all();
    });
    let waiter_id = waiter.join().unwrap();
    let ops = ops_of(&recorded(), waiter_id);
    let (lock, condvar) = (pair.0.meta.id(), pair.1.meta.id());
    assert!(
        notifier_ops.contains(&Op::Notify {
            condvar,
            all: true,
            seq: 1
        }),
        "{notifier_ops:?}"
    );
    let waits = ops
        .iter()
        .filter(|op| matches!(op, Op::CondWait { .. }))
        .count();
    // Each wait: CondWait, Release(lock), CondWake, Acquire(lock), in that order.
    for (i, op) in ops.iter().enumerate() {
        if let Op::CondWait {
            condvar: c,
            lock: l,
            timed,
        } = *op
        {
            assert_eq!((c, l, timed), (condvar, lock, false));
            assert!(matches!(ops[i + 1], Op::Release { lock: l2, .. } if l2 == lock));
            assert!(
                matches!(ops[i + 2], Op::CondWake { condvar: c2, timed_out: false, .. } if c2 == condvar)
            );
            assert!(
                matches!(ops[i + 3], Op::Acquire { lock: l3, attempt: Attempt::Blocking, .. } if l3 == lock)
            );
        }
    }
    if waits > 0 {
        let last_wake = ops.iter().rev().find_map(|op| match op {
            Op::CondWake { notified_seen, .. } => Some(*notified_seen),
            _ => None,
        });
        assert_eq!(
            last_wake,
            Some(1),
            "the final wake saw the one notification"
        );
    }
    // Per-lock seq numbers stay consecutive across the waits.
    let all = [ops.clone(), notifier_ops].concat();
    let mut s = seqs(&all, lock);
    s.sort_unstable();
    assert_eq!(s, (1..=s.len() as u64).collect::<Vec<_>>());
}

#[test]
fn condvar_wait_timeout_records_timed_wait_and_timeout() {
    let pair = Arc::new((Mutex::new(()), Condvar::new()));
    let p2 = Arc::clone(&pair);
    let (_, ops, _) = run(move || {
        let (m, cv) = &*p2;
        let (g, r) = cv
            .wait_timeout(m.lock().unwrap(), Duration::from_millis(5))
            .unwrap();
        assert!(r.timed_out());
        let (g, r) = cv
            .wait_timeout_while(g, Duration::from_millis(5), |_| true)
            .unwrap();
        assert!(r.timed_out());
        let (_g, r) = cv
            .wait_timeout_while(g, Duration::from_millis(5), |_| false)
            .unwrap();
        assert!(!r.timed_out());
    });
    let condvar = pair.1.meta.id();
    assert!(ops.contains(&Op::CondWait {
        condvar,
        lock: pair.0.meta.id(),
        timed: true
    }));
    assert!(ops.iter().any(|op| matches!(
        op,
        Op::CondWake {
            timed_out: true,
            ..
        }
    )));
}

#[test]
fn barrier_records_generations() {
    let barrier = Arc::new(Barrier::new(2));
    let b2 = Arc::clone(&barrier);
    let other = thread::spawn(move || {
        let leaders = usize::from(b2.wait().is_leader()) + usize::from(b2.wait().is_leader());
        (this_thread(), leaders)
    });
    let b3 = Arc::clone(&barrier);
    let (me, ops, _) = run(move || {
        b3.wait();
        b3.wait();
    });
    let (other_id, _) = other.join().unwrap();
    let id = barrier.meta.id();
    let barrier_ops = |ops: &[Op]| -> Vec<Op> {
        ops.iter()
            .copied()
            .filter(|op| matches!(op, Op::BarrierArrive { .. } | Op::BarrierDepart { .. }))
            .collect()
    };
    let expected = [
        Op::BarrierArrive {
            barrier: id,
            generation: 0,
        },
        Op::BarrierDepart {
            barrier: id,
            generation: 0,
        },
        Op::BarrierArrive {
            barrier: id,
            generation: 1,
        },
        Op::BarrierDepart {
            barrier: id,
            generation: 1,
        },
    ];
    assert_eq!(barrier_ops(&ops), expected);
    assert_eq!(barrier_ops(&ops_of(&recorded(), other_id)), expected);
    assert_ne!(me, other_id);
}

#[test]
fn spawn_and_join_record_fork_begin_end_join_and_names() {
    let (parent, ops, records) = run(|| {
        let h = thread::Builder::new()
            .name("named-child".into())
            .spawn(this_thread)
            .unwrap();
        let child = h.join().unwrap();
        let panicking = thread::spawn(|| -> ThreadId { panic!("child panics on purpose") });
        assert!(panicking.join().is_err());
        let _ = child;
    });
    let forks: Vec<ThreadId> = ops
        .iter()
        .filter_map(|op| {
            if let Op::Fork { child } = op {
                Some(*child)
            } else {
                None
            }
        })
        .collect();
    let joins: Vec<ThreadId> = ops
        .iter()
        .filter_map(|op| {
            if let Op::Join { child } = op {
                Some(*child)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(forks.len(), 2);
    assert_eq!(forks, joins);
    let names: BTreeMap<ThreadId, Option<String>> = records
        .iter()
        .filter_map(|r| {
            if let Record::Thread(t) = r {
                Some((t.id, t.name.clone()))
            } else {
                None
            }
        })
        .collect();
    assert_eq!(names[&forks[0]].as_deref(), Some("named-child"));
    for child in forks {
        let child_ops = ops_of(&records, child);
        assert_eq!(child_ops.first(), Some(&Op::Begin), "child {child:?}");
        assert_eq!(
            child_ops.last(),
            Some(&Op::End),
            "child {child:?} ends even when it panics"
        );
        assert_ne!(child, parent);
    }
}

#[test]
fn scoped_threads_fork_and_join() {
    let m = Arc::new(Mutex::new(0));
    let m2 = Arc::clone(&m);
    let (_, ops, records) = run(move || {
        thread::scope(|s| {
            let explicit = s.spawn(|| *m2.lock().unwrap() += 1);
            s.spawn(|| *m2.lock().unwrap() += 1);
            explicit.join().unwrap();
        });
    });
    assert_eq!(*m.lock().unwrap(), 2);
    let forks: BTreeSet<ThreadId> = ops
        .iter()
        .filter_map(|op| {
            if let Op::Fork { child } = op {
                Some(*child)
            } else {
                None
            }
        })
        .collect();
    let joins: BTreeSet<ThreadId> = ops
        .iter()
        .filter_map(|op| {
            if let Op::Join { child } = op {
                Some(*child)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(forks.len(), 2);
    assert_eq!(
        forks, joins,
        "the implicit join at the end of the scope is recorded"
    );
    for child in forks {
        assert_eq!(lock_ops(&ops_of(&records, child), m.meta.id()).len(), 3);
    }
}

#[test]
fn a_panicking_holder_poisons_like_std() {
    let m = Arc::new(Mutex::new(7));
    let m2 = Arc::clone(&m);
    let h = thread::spawn(move || {
        let _g = m2.lock().unwrap();
        panic!("poison it");
    });
    assert!(h.join().is_err());
    assert!(m.is_poisoned());
    let err = m.lock().unwrap_err();
    assert_eq!(**err.get_ref(), 7);
    drop(err);
    assert!(matches!(m.try_lock(), Err(TryLockError::Poisoned(_))));
    m.clear_poison();
    assert!(!m.is_poisoned());
    let m3 = Arc::new(Mutex::new(1));
    let m4 = Arc::clone(&m3);
    let (_, ops, _) = run(move || {
        let _g = m4.lock().unwrap();
        let inner = thread::spawn(|| panic!("unrelated"));
        assert!(inner.join().is_err());
    });
    assert_eq!(lock_ops(&ops, m3.meta.id()).len(), 3);
    let rw = Arc::new(RwLock::new(1));
    let rw2 = Arc::clone(&rw);
    let _ = thread::spawn(move || {
        let _g = rw2.write().unwrap();
        panic!("poison the rwlock");
    })
    .join();
    assert!(rw.is_poisoned());
    assert_eq!(
        Arc::try_unwrap(rw)
            .unwrap()
            .into_inner()
            .unwrap_err()
            .into_inner(),
        1
    );
}

#[test]
fn the_unwinding_release_is_recorded() {
    let m = Arc::new(Mutex::new(()));
    let m2 = Arc::clone(&m);
    let (send, receive) = std::sync::mpsc::channel();
    let h = thread::spawn(move || {
        send.send(this_thread()).unwrap();
        let _g = m2.lock().unwrap();
        panic!("release during unwinding");
    });
    assert!(h.join().is_err());
    let ops = ops_of(&recorded(), receive.recv().unwrap());
    assert_eq!(
        lock_ops(&ops, m.meta.id()).last(),
        Some(&("release", Mode::Write))
    );
    assert_eq!(ops.last(), Some(&Op::End));
}

struct LocksOnDrop(&'static Mutex<u32>);

impl Drop for LocksOnDrop {
    fn drop(&mut self) {
        *self.0.lock().unwrap() += 1;
    }
}

static TLS_DROP_LOCK: Mutex<u32> = Mutex::new(0);

thread_local! {
    static LOCKS_ON_DROP: LocksOnDrop = const { LocksOnDrop(&TLS_DROP_LOCK) };
}

#[test]
fn locks_used_in_thread_local_destructors_are_recorded() {
    let child = std::thread::spawn(|| {
        // A plain std thread: the destructor order between this thread local
        // and the recorder's own is up to std; both paths must record.
        LOCKS_ON_DROP.with(|_| ());
        *TLS_DROP_LOCK.lock().unwrap() += 1;
        this_thread()
    })
    .join()
    .unwrap();
    assert_eq!(*TLS_DROP_LOCK.lock().unwrap(), 2);
    let ops = ops_of(&recorded(), child);
    let acquires = lock_ops(&ops, TLS_DROP_LOCK.meta.id())
        .iter()
        .filter(|(what, _)| *what == "acquire")
        .count();
    assert_eq!(acquires, 2, "{ops:?}");
}

static NAMED_STATIC: Mutex<Vec<u8>> = Mutex::new(Vec::new());

#[test]
fn statics_are_described_with_their_name_and_class() {
    crate::name(&NAMED_STATIC, "static-accounts");
    NAMED_STATIC.lock().unwrap().push(1);
    let later = Mutex::new(()).named("local-lock");
    drop(later.lock());
    let records = recorded();
    let sites: BTreeMap<_, _> = records
        .iter()
        .filter_map(|r| {
            if let Record::Site(s) = r {
                Some((s.id, s.clone()))
            } else {
                None
            }
        })
        .collect();
    let object = |id: ObjectId| {
        records.iter().rev().find_map(|r| match r {
            Record::Object(o) if o.id == id => Some(o.clone()),
            _ => None,
        })
    };
    let info = object(NAMED_STATIC.meta.id()).unwrap();
    assert_eq!(info.name.as_deref(), Some("static-accounts"));
    assert_eq!(info.kind, ObjectKind::Mutex);
    assert!(sites[&info.class].file.ends_with("tests.rs"));
    assert_eq!(
        object(later.meta.id()).unwrap().name.as_deref(),
        Some("local-lock")
    );
}

#[test]
fn descriptions_precede_their_first_use() {
    let m = Arc::new(Mutex::new(()));
    let m2 = Arc::clone(&m);
    run(move || drop(m2.lock()));
    let records = recorded();
    assert!(matches!(records[0], Record::Process(_)));
    let (mut sites, mut threads, mut objects) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for r in &records {
        match r {
            Record::Site(s) => assert!(sites.insert(s.id), "site {:?} described twice", s.id),
            Record::Thread(t) => assert!(threads.insert(t.id)),
            Record::Object(o) => {
                assert!(sites.contains(&o.class));
                objects.insert(o.id);
            }
            Record::Events { thread, events } => {
                assert!(
                    threads.contains(thread),
                    "thread {thread:?} used before its description"
                );
                for e in events {
                    assert!(
                        e.site.0 == 0 || sites.contains(&e.site),
                        "site {:?} used before its description",
                        e.site
                    );
                    let used = match e.op {
                        Op::Request { lock, .. }
                        | Op::Acquire { lock, .. }
                        | Op::TryFailed { lock, .. }
                        | Op::Release { lock, .. } => Some(lock),
                        Op::CondWait { condvar, .. }
                        | Op::CondWake { condvar, .. }
                        | Op::Notify { condvar, .. } => Some(condvar),
                        Op::BarrierArrive { barrier, .. } | Op::BarrierDepart { barrier, .. } => {
                            Some(barrier)
                        }
                        _ => None,
                    };
                    if let Some(o) = used {
                        assert!(
                            objects.contains(&o),
                            "object {o:?} used before its description"
                        );
                    }
                    if let Op::Fork { child } | Op::Join { child } = e.op {
                        assert!(threads.contains(&child));
                    }
                }
            }
            _ => {}
        }
    }
}

#[test]
fn full_buffers_flush_in_program_order() {
    let m = Arc::new(Mutex::new(0u32));
    let m2 = Arc::clone(&m);
    let rounds = crate::recorder::BUFFER_CAPACITY as u32;
    let (_, ops, _) = run(move || {
        for _ in 0..rounds {
            *m2.lock().unwrap() += 1;
        }
    });
    let s = seqs(&ops, m.meta.id());
    assert_eq!(s.len(), 2 * rounds as usize);
    assert!(
        s.windows(2).all(|w| w[0] < w[1]),
        "seq numbers out of program order"
    );
}

#[test]
fn memory_sink_counts_what_it_drops() {
    use crate::{MemorySink, Sink};
    use sync_trace::{Event, SiteId};
    let sink = MemorySink::with_cap(3);
    let batch = |n: usize| Record::Events {
        thread: ThreadId(9),
        events: vec![
            Event {
                op: Op::Begin,
                site: SiteId::UNKNOWN
            };
            n
        ],
    };
    sink.write(&[batch(2), Record::End, batch(2), batch(1)]);
    assert_eq!(sink.kept_events(), 3);
    assert_eq!(sink.dropped_events(), 2);
    assert_eq!(
        sink.records().len(),
        3,
        "two batches and the End record are kept"
    );
}

static FIRST_USE_IN_DROP: Mutex<u32> = Mutex::new(0);

struct FirstUseOnDrop;

impl Drop for FirstUseOnDrop {
    fn drop(&mut self) {
        *FIRST_USE_IN_DROP.lock().unwrap() += 1;
    }
}

thread_local! {
    static FIRST_USE_ON_DROP: FirstUseOnDrop = const { FirstUseOnDrop };
}

#[test]
fn a_thread_first_seen_in_a_thread_local_destructor_is_recorded() {
    // The recorder sees this thread for the first time while its thread
    // locals are being destroyed.
    std::thread::Builder::new()
        .name("late".into())
        .spawn(|| FIRST_USE_ON_DROP.with(|_| ()))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(*FIRST_USE_IN_DROP.lock().unwrap(), 1);
    let records = recorded();
    let id = FIRST_USE_IN_DROP.meta.id();
    let threads: BTreeSet<ThreadId> = records
        .iter()
        .filter_map(|r| match r {
            Record::Events { thread, events }
                if events
                    .iter()
                    .any(|e| matches!(e.op, Op::Acquire { lock, .. } if lock == id)) =>
            {
                Some(*thread)
            }
            _ => None,
        })
        .collect();
    // The destructor's thread and this one.
    assert_eq!(threads.len(), 2, "{threads:?}");
}

#[test]
fn contended_seq_numbers_are_unique_and_critical_sections_contiguous() {
    let m = Arc::new(Mutex::new(0u32));
    let rw = Arc::new(RwLock::new(0u32));
    let rounds = 300;
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let (m, rw) = (Arc::clone(&m), Arc::clone(&rw));
            thread::spawn(move || {
                for r in 0..rounds {
                    *m.lock().unwrap() += 1;
                    if (i + r) % 3 == 0 {
                        *rw.write().unwrap() += 1;
                    } else {
                        let _ = *rw.read().unwrap();
                    }
                }
                this_thread()
            })
        })
        .collect();
    let threads: Vec<ThreadId> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let records = recorded();
    let (mid, rwid) = (m.meta.id(), rw.meta.id());
    let mut mutex_seqs = Vec::new();
    let mut rw_seqs = Vec::new();
    for t in threads {
        let ops = ops_of(&records, t);
        let s = seqs(&ops, mid);
        // Mutual exclusion: nobody else's event falls inside a critical section.
        assert!(s.chunks(2).all(|pair| pair[1] == pair[0] + 1), "{s:?}");
        mutex_seqs.extend(s);
        rw_seqs.extend(seqs(&ops, rwid));
    }
    for mut all in [mutex_seqs, rw_seqs] {
        all.sort_unstable();
        assert_eq!(
            all,
            (1..=all.len() as u64).collect::<Vec<_>>(),
            "unique and gap-free"
        );
    }
}

#[test]
fn events_take_about_32_bytes_in_memory() {
    // The memory-cap documentation (lib.rs) relies on this size.
    assert!(
        std::mem::size_of::<sync_trace::Event>() <= 32,
        "{}",
        std::mem::size_of::<sync_trace::Event>()
    );
}

/// `debug` re-exports the instrumented types exactly when `debug_assertions`
/// are on, and std's otherwise (run under `--release` for the second half).
/// Under `passthrough` both are std's: `tests/passthrough.rs` checks that.
#[cfg(not(feature = "passthrough"))]
#[test]
fn the_debug_module_follows_debug_assertions() {
    use std::any::TypeId;
    fn same<A: 'static, B: 'static>() -> bool {
        TypeId::of::<A>() == TypeId::of::<B>()
    }
    assert_eq!(crate::debug::INSTRUMENTED, cfg!(debug_assertions));
    let instrumented = [
        same::<crate::debug::mpsc::Sender<u8>, crate::mpsc::Sender<u8>>(),
        same::<crate::debug::mpsc::SyncSender<u8>, crate::mpsc::SyncSender<u8>>(),
        same::<crate::debug::mpsc::Receiver<u8>, crate::mpsc::Receiver<u8>>(),
        same::<crate::debug::OnceLock<u8>, crate::OnceLock<u8>>(),
        same::<crate::debug::LazyLock<u8>, crate::LazyLock<u8>>(),
        same::<crate::debug::atomic::AtomicUsize, crate::atomic::AtomicUsize>(),
        same::<crate::debug::atomic::AtomicBool, crate::atomic::AtomicBool>(),
        same::<crate::debug::atomic::AtomicPtr<u8>, crate::atomic::AtomicPtr<u8>>(),
        same::<crate::debug::thread::JoinHandle<()>, crate::thread::JoinHandle<()>>(),
    ];
    let plain_std = [
        same::<crate::debug::mpsc::Sender<u8>, std::sync::mpsc::Sender<u8>>(),
        same::<crate::debug::mpsc::SyncSender<u8>, std::sync::mpsc::SyncSender<u8>>(),
        same::<crate::debug::mpsc::Receiver<u8>, std::sync::mpsc::Receiver<u8>>(),
        same::<crate::debug::OnceLock<u8>, std::sync::OnceLock<u8>>(),
        same::<crate::debug::LazyLock<u8>, std::sync::LazyLock<u8>>(),
        same::<crate::debug::atomic::AtomicUsize, std::sync::atomic::AtomicUsize>(),
        same::<crate::debug::atomic::AtomicBool, std::sync::atomic::AtomicBool>(),
        same::<crate::debug::atomic::AtomicPtr<u8>, std::sync::atomic::AtomicPtr<u8>>(),
        same::<crate::debug::thread::JoinHandle<()>, std::thread::JoinHandle<()>>(),
    ];
    assert_eq!(instrumented, [cfg!(debug_assertions); 9]);
    assert_eq!(plain_std, [!cfg!(debug_assertions); 9]);
    // The ordering and error types are std's in both builds.
    assert!(same::<
        crate::debug::atomic::Ordering,
        std::sync::atomic::Ordering,
    >());
    assert!(same::<
        crate::debug::mpsc::RecvError,
        std::sync::mpsc::RecvError,
    >());
}

/// The channel ops among `ops`, as `(send?, seq)`, and the one channel they are on.
#[cfg(not(feature = "passthrough"))]
fn channel_ops(ops: &[Op]) -> (Option<ObjectId>, Vec<(&'static str, u64)>) {
    let mut channels = BTreeSet::new();
    let list = ops
        .iter()
        .filter_map(|op| match *op {
            Op::Send { channel, seq } => Some((channel, ("send", seq))),
            Op::Recv { channel, seq } => Some((channel, ("recv", seq))),
            _ => None,
        })
        .map(|(channel, op)| {
            channels.insert(channel);
            op
        })
        .collect();
    assert!(
        channels.len() <= 1,
        "one channel per scenario: {channels:?}"
    );
    (channels.into_iter().next(), list)
}

/// Sender drops chain (each receives the previous drop's send, as std's
/// acquire-release count does); the receiver's `Err` receives the last one,
/// once; messages keep their own numbers.
#[cfg(not(feature = "passthrough"))]
#[test]
fn sender_drops_are_sends_the_disconnected_receiver_receives() {
    let (_, ops, _) = run(|| {
        let (tx, rx) = crate::mpsc::channel::<u8>();
        let tx2 = tx.clone();
        tx.send(1).unwrap();
        drop(tx);
        drop(tx2);
        assert_eq!(rx.recv(), Ok(1));
        assert!(rx.recv().is_err());
        assert!(rx.try_recv().is_err());
    });
    let (_, list) = channel_ops(&ops);
    assert_eq!(
        list,
        [
            ("send", 1),
            ("send", 2),
            ("recv", 2),
            ("send", 3),
            ("recv", 1),
            ("recv", 3)
        ]
    );
}

/// The receiver's drop sends once per live sender handle; each thread whose
/// send then fails receives one, the first time only; drops after the
/// receiver is gone record nothing.
#[cfg(not(feature = "passthrough"))]
#[test]
fn a_receiver_drop_is_received_once_by_each_failing_thread() {
    let (main, ops, records) = run(|| {
        let (tx, rx) = crate::mpsc::sync_channel::<u8>(1);
        let tx2 = tx.clone();
        drop(rx);
        assert!(tx.send(0).is_err());
        assert!(matches!(
            tx.try_send(0),
            Err(crate::mpsc::TrySendError::Disconnected(0))
        ));
        thread::spawn(move || {
            assert!(tx2.send(0).is_err());
            assert!(tx2.send(0).is_err());
        })
        .join()
        .unwrap();
    });
    let (channel, list) = channel_ops(&ops);
    assert_eq!(list, [("send", 1), ("send", 2), ("recv", 2)]);
    let other = records
        .iter()
        .filter_map(|r| match r {
            Record::Events { thread, events } => Some((*thread, events)),
            _ => None,
        })
        .filter(|(t, _)| *t != main)
        .filter_map(|(t, events)| {
            events
                .iter()
                .any(|e| matches!(e.op, Op::Recv { channel: c, .. } if Some(c) == channel))
                .then_some(t)
        })
        .collect::<BTreeSet<_>>();
    assert_eq!(other.len(), 1, "one other thread receives: {other:?}");
    let other_ops = ops_of(&records, *other.iter().next().unwrap());
    assert_eq!(channel_ops(&other_ops).1, [("recv", 1)]);
}

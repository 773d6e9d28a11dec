//! Real threaded programs over the instrumented atomics, analysed in-process:
//! the load+store counter (`lost-update`), `fetch_add` (clean), flag
//! publication of a `RaceCell` payload under each pair of orderings, and the
//! recorded orderings and versions of each kind of operation.
//!
//! The recording covers the whole binary: names are unique per test, only
//! findings about them are examined, and the tests run one at a time.
#![cfg(not(feature = "passthrough"))]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::AtomicBool as StdAtomicBool;
use std::sync::{Arc, Barrier as StdBarrier, Mutex as StdMutex, PoisonError};

use analyzer::finding::FindingKind;
use instrumented_sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering};
use instrumented_sync::{RaceCell, thread};
use sync_trace::{MemoryOrder, Op, Record};

static SERIAL: StdMutex<()> = StdMutex::new(());

/// `kind: message` of every finding about the variable called `name`.
fn findings_about(name: &str) -> Vec<(FindingKind, String)> {
    instrumented_sync::findings()
        .findings
        .into_iter()
        .filter(|f| f.variable.as_ref().is_some_and(|v| v.name == name))
        .map(|f| (f.kind, f.message))
        .collect()
}

fn kinds(found: &[(FindingKind, String)]) -> Vec<FindingKind> {
    let mut k: Vec<_> = found.iter().map(|f| f.0).collect();
    k.dedup();
    k
}

#[test]
fn a_load_then_store_increment_is_a_lost_update_not_a_data_race() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let x = Arc::new(AtomicUsize::new(0).named("load_store_counter"));
    // Unrecorded, so it orders nothing for the analyzer: it only makes both
    // threads load before either stores, the interleaving that loses updates.
    let both_loaded = Arc::new(StdBarrier::new(2));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (x, both_loaded) = (Arc::clone(&x), Arc::clone(&both_loaded));
            thread::spawn(move || {
                for _ in 0..20 {
                    let v = x.load(Ordering::SeqCst);
                    both_loaded.wait();
                    x.store(v + 1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert!(x.load(Ordering::SeqCst) < 40, "updates were really lost");
    let found = findings_about("load_store_counter");
    assert_eq!(kinds(&found), [FindingKind::LostUpdate], "{found:#?}");
    assert!(
        found[0].1.contains("separate atomic operations"),
        "{}",
        found[0].1
    );
}

#[test]
fn fetch_add_counters_are_clean() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    for (name, order) in [
        ("fetch_add_relaxed", Ordering::Relaxed),
        ("fetch_add_seqcst", Ordering::SeqCst),
    ] {
        let x = Arc::new(AtomicUsize::new(0).named(name));
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let x = Arc::clone(&x);
                thread::spawn(move || {
                    for _ in 0..200 {
                        x.fetch_add(1, order);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(x.load(Ordering::SeqCst), 600);
        assert_eq!(findings_about(name), [], "{name}");
    }
}

/// Publishes a `RaceCell` payload through a flag from one thread to another,
/// writing the flag with `$publish` and loading it with `$load`; evaluates to the
/// finding kinds about the payload. A macro, so that each use has its own
/// source sites: the analyzer reports one race per pair of sites.
macro_rules! publish {
    ($name:literal, $publish:expr, $load:expr) => {{
        let payload = Arc::new(RaceCell::new(0u64).named($name));
        let flag = Arc::new(AtomicBool::new(false));
        // Unrecorded: makes the consumer wait, in real time, until the flag is set.
        let stored = Arc::new(StdAtomicBool::new(false));
        let producer = {
            let (payload, flag, stored) =
                (Arc::clone(&payload), Arc::clone(&flag), Arc::clone(&stored));
            thread::spawn(move || {
                payload.set(42);
                let publish: fn(&AtomicBool) = $publish;
                publish(&flag);
                // The analyzer merges per-thread batches by lock and message
                // order, not by atomic versions: flushing here keeps the store's
                // batch ahead of the consumer's load, as it was in real time.
                instrumented_sync::flush();
                stored.store(true, std::sync::atomic::Ordering::Release);
            })
        };
        let consumer = {
            let (payload, flag, stored) =
                (Arc::clone(&payload), Arc::clone(&flag), Arc::clone(&stored));
            thread::spawn(move || {
                while !stored.load(std::sync::atomic::Ordering::Acquire) {
                    std::thread::yield_now();
                }
                assert!(flag.load($load));
                assert_eq!(payload.get(), 42);
            })
        };
        producer.join().unwrap();
        consumer.join().unwrap();
        kinds(&findings_about($name))
    }};
}

#[test]
fn release_and_seqcst_stores_read_by_acquire_or_seqcst_loads_publish_cleanly() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let none: [FindingKind; 0] = [];
    let pra = publish!(
        "pub_release_acquire",
        |f| f.store(true, Ordering::Release),
        Ordering::Acquire
    );
    assert_eq!(pra, none);
    let pss = publish!(
        "pub_seqcst_seqcst",
        |f| f.store(true, Ordering::SeqCst),
        Ordering::SeqCst
    );
    assert_eq!(pss, none);
    let prs = publish!(
        "pub_release_seqcst",
        |f| f.store(true, Ordering::Release),
        Ordering::SeqCst
    );
    assert_eq!(prs, none);
    let psa = publish!(
        "pub_seqcst_acquire",
        |f| f.store(true, Ordering::SeqCst),
        Ordering::Acquire
    );
    assert_eq!(psa, none);
    let swap = publish!(
        "pub_swap_acqrel_acquire",
        |f| {
            f.swap(true, Ordering::AcqRel);
        },
        Ordering::Acquire
    );
    assert_eq!(swap, none);
    let cas = publish!(
        "pub_cas_release_acquire",
        |f| {
            f.compare_exchange(false, true, Ordering::Release, Ordering::Relaxed)
                .unwrap();
        },
        Ordering::Acquire
    );
    assert_eq!(cas, none);
}

#[test]
fn relaxed_publication_is_a_data_race_on_the_payload() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let race = [FindingKind::DataRace];
    let pxa = publish!(
        "pub_relaxed_acquire",
        |f| f.store(true, Ordering::Relaxed),
        Ordering::Acquire
    );
    assert_eq!(pxa, race);
    let prx = publish!(
        "pub_release_relaxed",
        |f| f.store(true, Ordering::Release),
        Ordering::Relaxed
    );
    assert_eq!(prx, race);
    let pxx = publish!(
        "pub_relaxed_relaxed",
        |f| f.store(true, Ordering::Relaxed),
        Ordering::Relaxed
    );
    assert_eq!(pxx, race);
    // An acquire-only read-modify-write publishes nothing.
    let swap = publish!(
        "pub_swap_acquire_acquire",
        |f| {
            f.swap(true, Ordering::Acquire);
        },
        Ordering::Acquire
    );
    assert_eq!(swap, race);
}

/// The (write, order, version) of every recorded access of the variable called `name`.
fn recorded_accesses(name: &str) -> Vec<(bool, MemoryOrder, u64)> {
    instrumented_sync::flush();
    let records = instrumented_sync::recorded();
    let id = records
        .iter()
        .find_map(|r| match r {
            Record::Object(o) if o.name.as_deref() == Some(name) => Some(o.id),
            _ => None,
        })
        .expect("the atomic is described");
    records
        .iter()
        .filter_map(|r| match r {
            Record::Events { events, .. } => Some(events),
            _ => None,
        })
        .flatten()
        .filter_map(|e| match e.op {
            Op::Access {
                var,
                write,
                order,
                version,
            } if var == id => Some((
                write,
                order.expect("atomic accesses carry an order"),
                version,
            )),
            _ => None,
        })
        .collect()
}

#[test]
#[allow(deprecated)]
fn each_operation_records_its_ordering_and_version() {
    use MemoryOrder as M;
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let a = AtomicU32::new(5).named("versions_u32");
    assert_eq!(a.load(Ordering::Relaxed), 5);
    a.store(6, Ordering::Release);
    assert_eq!(
        a.compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire),
        Err(6)
    );
    assert_eq!(
        a.compare_exchange(6, 7, Ordering::AcqRel, Ordering::Relaxed),
        Ok(6)
    );
    // A loop that `f` runs in at least once; recorded as one read-modify-write.
    assert_eq!(
        a.fetch_update(Ordering::SeqCst, Ordering::Relaxed, |v| Some(v + 1)),
        Ok(7)
    );
    assert_eq!(
        a.fetch_update(Ordering::SeqCst, Ordering::Acquire, |_| None),
        Err(8)
    );
    assert_eq!(a.fetch_add(1, Ordering::Relaxed), 8);
    assert_eq!(a.swap(1, Ordering::AcqRel), 9);
    assert_eq!(a.compare_and_swap(1, 2, Ordering::Release), 1);
    assert_eq!(a.compare_and_swap(9, 3, Ordering::AcqRel), 2);
    assert_eq!(a.update(Ordering::Release, Ordering::Relaxed, |v| v * 2), 2);
    assert_eq!(a.load(Ordering::SeqCst), 4);
    assert_eq!(
        recorded_accesses("versions_u32"),
        [
            (false, M::Relaxed, 0),
            (true, M::Release, 1),
            (false, M::Acquire, 1),
            (true, M::AcqRel, 2),
            (true, M::SeqCst, 3),
            (false, M::Acquire, 3),
            (true, M::Relaxed, 4),
            (true, M::AcqRel, 5),
            (true, M::Release, 6),
            (false, M::Acquire, 6),
            (true, M::Release, 7),
            (false, M::SeqCst, 7),
        ]
    );

    // Pointer arithmetic is one recorded write each.
    let mut data = [0u64; 4];
    let p = AtomicPtr::new(data.as_mut_ptr()).named("versions_ptr");
    assert_eq!(p.fetch_ptr_add(2, Ordering::Release), data.as_mut_ptr());
    assert_eq!(
        p.fetch_byte_sub(8, Ordering::Relaxed),
        data.as_mut_ptr().wrapping_add(2)
    );
    assert_eq!(p.load(Ordering::Acquire), data.as_mut_ptr().wrapping_add(1));
    assert_eq!(
        recorded_accesses("versions_ptr"),
        [
            (true, M::Release, 1),
            (true, M::Relaxed, 2),
            (false, M::Acquire, 2)
        ]
    );
}

#[test]
fn an_invalid_ordering_panics_like_std_and_leaves_the_atomic_usable() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let a = AtomicUsize::new(1);
    let std_a = std::sync::atomic::AtomicUsize::new(1);
    let ours = catch_unwind(AssertUnwindSafe(|| a.load(Ordering::Release)));
    let theirs = catch_unwind(AssertUnwindSafe(|| {
        std_a.load(std::hint::black_box(Ordering::Release))
    }));
    assert!(ours.is_err() && theirs.is_err());
    let ours = catch_unwind(AssertUnwindSafe(|| a.store(2, Ordering::Acquire)));
    assert!(ours.is_err());
    let ours = catch_unwind(AssertUnwindSafe(|| {
        a.compare_exchange(1, 3, Ordering::SeqCst, Ordering::Release)
    }));
    assert!(ours.is_err());
    // The internal spin lock was released during unwinding.
    assert_eq!(a.fetch_add(1, Ordering::SeqCst), 1);
    assert_eq!(a.load(Ordering::SeqCst), 2);
}

#[test]
fn contended_read_modify_writes_keep_value_and_version_in_step() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let a = Arc::new(AtomicUsize::new(0).named("contended_versions"));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let a = Arc::clone(&a);
            thread::spawn(move || {
                (0..250)
                    .map(|_| a.fetch_add(1, Ordering::AcqRel) as u64 + 1)
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    // Each thread's written values, in its program order.
    let mut written: Vec<Vec<u64>> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    assert_eq!(a.load(Ordering::Relaxed), 1000);

    // Each thread's recorded versions, in program order: value n was written as version n.
    instrumented_sync::flush();
    let records = instrumented_sync::recorded();
    let id = records
        .iter()
        .find_map(|r| match r {
            Record::Object(o) if o.name.as_deref() == Some("contended_versions") => Some(o.id),
            _ => None,
        })
        .unwrap();
    let mut by_thread: std::collections::BTreeMap<_, Vec<u64>> = Default::default();
    for r in &records {
        if let Record::Events { thread, events } = r {
            for e in events {
                if let Op::Access {
                    var,
                    write: true,
                    version,
                    ..
                } = e.op
                    && var == id
                {
                    by_thread.entry(*thread).or_default().push(version);
                }
            }
        }
    }
    let mut versions: Vec<Vec<u64>> = by_thread.into_values().collect();
    written.sort();
    versions.sort();
    assert_eq!(versions, written);
}

//! Real threaded programs over `RaceCell`, analysed in-process: unprotected,
//! locked and split-section counters, fork/join publication, a write under a
//! read lock.
//!
//! The in-process recording covers the whole test binary, so each test names
//! its variables uniquely, looks only at findings about them, and the tests
//! run one at a time (a half-finished neighbour would only add noise).
#![cfg(not(feature = "passthrough"))]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex as StdMutex, PoisonError};

use analyzer::finding::{Finding, FindingKind};
use instrumented_sync::{Mutex, RaceCell, RwLock, thread};

/// Serialises the tests of this binary.
static SERIAL: StdMutex<()> = StdMutex::new(());

const SOURCE: &str = include_str!("race_programs.rs");

/// The 1-based line of this file holding `marker` (robust to reformatting).
fn line_of(marker: &str) -> u32 {
    let index = SOURCE
        .lines()
        .position(|l| l.contains(marker) && !l.contains("line_of("))
        .unwrap_or_else(|| panic!("marker {marker:?} not found"));
    u32::try_from(index + 1).unwrap()
}

/// Findings of `kind` about the variable called `name`.
fn findings_about(name: &str, kind: FindingKind) -> Vec<Finding> {
    let analysis = instrumented_sync::findings();
    analysis
        .findings
        .into_iter()
        .filter(|f| f.kind == kind && f.variable.as_ref().is_some_and(|v| v.name == name))
        .collect()
}

/// Every race-kind finding about `name`, as `kind: message` lines.
fn race_findings(name: &str) -> Vec<String> {
    let analysis = instrumented_sync::findings();
    analysis
        .findings
        .iter()
        .filter(|f| f.variable.as_ref().is_some_and(|v| v.name == name))
        .map(|f| format!("{}: {}", f.kind, f.message))
        .collect()
}

/// The lines of this file the finding's accesses were made at.
fn access_lines(f: &Finding) -> BTreeSet<u32> {
    f.accesses
        .iter()
        .filter(|a| {
            a.site
                .file
                .as_deref()
                .is_some_and(|p| p.ends_with("race_programs.rs"))
        })
        .map(|a| a.site.line)
        .collect()
}

#[test]
fn an_unprotected_counter_is_a_data_race_reported_with_both_sites() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let counter = Arc::new(RaceCell::new(0u64).named("unprotected_counter"));
    let c1 = Arc::clone(&counter);
    let a = thread::spawn(move || {
        for _ in 0..200 {
            c1.update(|v| v + 1); // site: increment A
        }
    });
    let c2 = Arc::clone(&counter);
    let b = thread::spawn(move || {
        for _ in 0..200 {
            let v = c2.get(); // site: read B
            c2.set(v + 1); // site: write B
        }
    });
    a.join().unwrap();
    b.join().unwrap();
    assert!(counter.get() <= 400);

    let races = findings_about("unprotected_counter", FindingKind::DataRace);
    let (inc_a, read_b, write_b) = (
        line_of("// site: increment A"),
        line_of("// site: read B"),
        line_of("// site: write B"),
    );
    // Whichever thread ran first, the other's first accesses race with its
    // last write: some reported pair spans both threads' sites.
    let cross = races.iter().any(|f| {
        let lines = access_lines(f);
        lines.contains(&inc_a) && (lines.contains(&read_b) || lines.contains(&write_b))
    });
    assert!(
        cross,
        "no data race between the two threads' sites: {:#?}",
        races.iter().map(|f| &f.message).collect::<Vec<_>>()
    );
    for f in &races {
        assert_eq!(f.accesses.len(), 2, "{}", f.message);
        assert!(f.accesses.iter().all(|a| a.locks_held.is_empty()));
        assert!(
            f.accesses.iter().any(|a| a.op.contains("write")),
            "{}",
            f.message
        );
    }
}

#[test]
fn a_counter_incremented_under_one_lock_is_clean() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let counter = Arc::new(RaceCell::new(0u64).named("locked_counter"));
    let lock = Arc::new(Mutex::new(()).named("counter_lock"));
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let (counter, lock) = (Arc::clone(&counter), Arc::clone(&lock));
            thread::spawn(move || {
                for _ in 0..200 {
                    let _held = lock.lock().unwrap();
                    counter.update(|v| v + 1);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(counter.get(), 600, "the lock makes every increment count");
    assert_eq!(race_findings("locked_counter"), Vec::<String>::new());
}

#[test]
fn a_read_and_write_in_separate_critical_sections_is_a_lost_update() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let counter = Arc::new(RaceCell::new(0u64).named("split_counter"));
    let lock = Arc::new(Mutex::new(()).named("split_lock"));
    // An unrecorded barrier forces the interleaving a busy machine produces by
    // luck: both threads read before either writes back.
    let both_read = Arc::new(std::sync::Barrier::new(2));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (counter, lock, both_read) = (
                Arc::clone(&counter),
                Arc::clone(&lock),
                Arc::clone(&both_read),
            );
            thread::spawn(move || {
                for _ in 0..20 {
                    let v = {
                        let _held = lock.lock().unwrap();
                        counter.get() // site: split read
                    };
                    both_read.wait();
                    let _held = lock.lock().unwrap();
                    counter.set(v + 1); // site: split write
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert!(counter.get() < 40, "updates were really lost");
    let lost = findings_about("split_counter", FindingKind::LostUpdate);
    assert!(
        lost.iter().any(|f| {
            let lines = access_lines(f);
            lines.contains(&line_of("// site: split read"))
                && lines.contains(&line_of("// site: split write"))
        }),
        "{:?}",
        race_findings("split_counter")
    );
    // Every access holds the lock: no happens-before race.
    assert!(findings_about("split_counter", FindingKind::DataRace).is_empty());
}

#[test]
fn fork_join_publication_is_clean() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let input = Arc::new(RaceCell::new(0u64).named("fork_join_input"));
    let results: Arc<Vec<RaceCell<u64>>> = Arc::new(
        (0..3)
            .map(|_| RaceCell::new(0).named("fork_join_result"))
            .collect(),
    );
    // Written before the fork: the children see it without a lock.
    input.set(7);
    let workers: Vec<_> = (0..3)
        .map(|i| {
            let (input, results) = (Arc::clone(&input), Arc::clone(&results));
            thread::spawn(move || results[i].set(input.get() * (i as u64 + 1)))
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    // Read after the joins: ordered after the children's writes.
    let total: u64 = results.iter().map(RaceCell::get).sum();
    assert_eq!(total, 7 * 6);
    input.set(0);
    assert_eq!(race_findings("fork_join_input"), Vec::<String>::new());
    assert_eq!(race_findings("fork_join_result"), Vec::<String>::new());
}

#[test]
fn a_write_under_a_read_lock_is_a_data_race() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let config = Arc::new(RwLock::new(()).named("config_lock"));
    let hits = Arc::new(RaceCell::new(0u64).named("hits_under_read_lock"));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (config, hits) = (Arc::clone(&config), Arc::clone(&hits));
            thread::spawn(move || {
                for _ in 0..50 {
                    // Shared mode: both threads may be in here at once.
                    let _read = config.read().unwrap();
                    hits.update(|v| v + 1);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let races = findings_about("hits_under_read_lock", FindingKind::DataRace);
    assert!(
        !races.is_empty(),
        "{:?}",
        race_findings("hits_under_read_lock")
    );
    // Each access is reported holding the read lock.
    assert!(
        races[0]
            .accesses
            .iter()
            .all(|a| a.locks_held.iter().any(|l| l.contains("config_lock"))),
        "{:#?}",
        races[0].accesses
    );
}

#[test]
fn race_cell_behaves_like_a_cell() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let cell = RaceCell::new(String::from("a")).named("string_cell");
    cell.with_mut(|s| s.push('b'));
    assert_eq!(cell.with(String::len), 2);
    assert_eq!(cell.replace(String::from("x")), "ab");
    assert_eq!(cell.take(), "x");
    assert_eq!(format!("{cell:?}"), "RaceCell { value: \"\", .. }");
    // Formatting while the value is in use does not deadlock.
    cell.with(|_| assert_eq!(format!("{cell:?}"), "RaceCell { value: <in use>, .. }"));
    let mut cell = cell;
    cell.get_mut().push('y');
    assert_eq!(cell.into_inner(), "y");

    // A panic inside `with_mut` leaves the cell usable (no poisoning).
    let n = RaceCell::new(1u32);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        n.with_mut(|v| {
            *v = 2;
            panic!("inside with_mut");
        })
    }));
    assert!(r.is_err());
    assert_eq!(n.update(|v| v * 10), 20);
    assert_eq!(RaceCell::<u8>::default().get(), 0);
    assert_eq!(RaceCell::from(5u8).get(), 5);
}

#[test]
fn race_cell_accesses_are_recorded_with_their_sites_and_kinds() {
    use sync_trace::{ObjectKind, Op, Record};
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let cell = RaceCell::new(0u32).named("recorded_cell");
    cell.set(1); // site: recorded set
    let _ = cell.get(); // site: recorded get
    instrumented_sync::flush();
    let records = instrumented_sync::recorded();
    let object = records
        .iter()
        .find_map(|r| match r {
            Record::Object(o) if o.name.as_deref() == Some("recorded_cell") => Some(o.clone()),
            _ => None,
        })
        .expect("the cell is described");
    assert_eq!(object.kind, ObjectKind::Variable);
    let sites: std::collections::HashMap<_, _> = records
        .iter()
        .filter_map(|r| match r {
            Record::Site(s) => Some((s.id, s.clone())),
            _ => None,
        })
        .collect();
    // The class is this construction site.
    assert!(sites[&object.class].file.ends_with("race_programs.rs"));
    let accesses: Vec<(bool, Option<sync_trace::MemoryOrder>, u32)> = records
        .iter()
        .filter_map(|r| match r {
            Record::Events { events, .. } => Some(events),
            _ => None,
        })
        .flatten()
        .filter_map(|e| match e.op {
            Op::Access {
                var, write, order, ..
            } if var == object.id => Some((write, order, sites[&e.site].line)),
            _ => None,
        })
        .collect();
    assert_eq!(
        accesses,
        [
            (true, None, line_of("// site: recorded set")),
            (false, None, line_of("// site: recorded get")),
        ]
    );
}

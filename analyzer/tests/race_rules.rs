//! Race detection rules, one small trace each: data races, their absence under
//! each kind of synchronisation, lost updates, lockset mode, and the findings.

use analyzer::analysis::{AnalysisOptions, analyze};
use analyzer::finding::{Finding, FindingKind};
use analyzer::model::{
    Attempt, Event, MemoryOrder, Mode, ObjIdx, ObjectKind, Op, Site, Trace, TraceBuilder,
};
use analyzer::race::{AccessKind, RaceOptions, detect};

/// Builds traces event by event, each at `src/x.rs:<line>`.
struct Tb {
    b: TraceBuilder,
}

impl Tb {
    fn new() -> Tb {
        Tb {
            b: TraceBuilder::new("race.trace"),
        }
    }

    fn op(&mut self, thread: &str, op: Op, line: u32) {
        let thread = self.b.thread(thread);
        let site = self.b.site(Site {
            file: Some("src/x.rs".to_owned()),
            line,
            column: 0,
        });
        self.b.push(Event { thread, op, site });
    }

    fn var(&mut self, name: &str) -> ObjIdx {
        self.b.object(name, ObjectKind::Variable)
    }

    fn lock(&mut self, name: &str) -> ObjIdx {
        self.b.object(name, ObjectKind::RwLock)
    }

    fn r(&mut self, t: &str, v: &str, line: u32) {
        let var = self.var(v);
        self.op(t, Op::Read { var }, line);
    }

    fn w(&mut self, t: &str, v: &str, line: u32) {
        let var = self.var(v);
        self.op(t, Op::Write { var }, line);
    }

    fn atomic(
        &mut self,
        t: &str,
        v: &str,
        write: bool,
        order: MemoryOrder,
        version: u64,
        line: u32,
    ) {
        let var = self.var(v);
        self.op(
            t,
            Op::Atomic {
                var,
                write,
                order,
                version,
            },
            line,
        );
    }

    fn acq(&mut self, t: &str, l: &str, mode: Mode) {
        let lock = self.lock(l);
        self.op(
            t,
            Op::Acquire {
                lock,
                mode,
                attempt: Attempt::Blocking,
            },
            1,
        );
    }

    fn rel(&mut self, t: &str, l: &str, mode: Mode) {
        let lock = self.lock(l);
        self.op(t, Op::Release { lock, mode }, 2);
    }

    fn fork(&mut self, t: &str, child: &str) {
        let child = self.b.thread(child);
        self.op(t, Op::Fork { child }, 3);
    }

    fn join(&mut self, t: &str, child: &str) {
        let child = self.b.thread(child);
        self.op(t, Op::Join { child }, 4);
    }

    fn finish(self) -> Trace {
        self.b.finish()
    }
}

fn check(trace: &Trace, lockset: bool) -> Vec<Finding> {
    let options = AnalysisOptions {
        lockset,
        ..AnalysisOptions::default()
    };
    analyze(std::slice::from_ref(trace), &options)
        .findings
        .into_iter()
        .filter(|f| {
            matches!(
                f.kind,
                FindingKind::DataRace | FindingKind::PotentialRace | FindingKind::LostUpdate
            )
        })
        .collect()
}

fn kinds(findings: &[Finding]) -> Vec<FindingKind> {
    findings.iter().map(|f| f.kind).collect()
}

/// The seed's counter, unprotected: two workers read and write it.
fn unprotected_counter() -> Trace {
    let mut t = Tb::new();
    t.fork("main", "worker-1");
    t.fork("main", "worker-2");
    for w in ["worker-1", "worker-2"] {
        t.r(w, "counter", 10);
        t.w(w, "counter", 11);
    }
    t.join("main", "worker-1");
    t.join("main", "worker-2");
    t.finish()
}

#[test]
fn unprotected_counter_is_a_data_race_with_both_sites() {
    let trace = unprotected_counter();
    let report = detect(&trace, &RaceOptions::default());
    assert_eq!(report.racy_vars.len(), 1);
    let findings = check(&trace, false);
    assert!(!findings.is_empty());
    assert!(
        findings.iter().all(|f| f.kind == FindingKind::DataRace),
        "{findings:#?}"
    );
    let ww = findings
        .iter()
        .find(|f| f.accesses.iter().all(|a| a.op == "write"))
        .expect("a write/write race");
    assert_eq!(ww.variable.as_ref().unwrap().name, "counter");
    let threads: Vec<&str> = ww.accesses.iter().map(|a| a.thread.as_str()).collect();
    assert_eq!(threads, ["worker-1", "worker-2"]);
    assert!(ww.accesses.iter().all(|a| a.site.display == "src/x.rs:11"));
    assert_eq!(
        ww.message,
        "data race on counter: write by worker-1 at src/x.rs:11 and write by worker-2 at src/x.rs:11 \
         are not ordered by happens-before"
    );
    // Fork history is shown for the DOT.
    assert!(
        ww.accesses[0]
            .history
            .iter()
            .all(|h| h.thread == "worker-1")
    );
    let json = serde_json::to_value(ww).unwrap();
    assert_eq!(json["kind"], "data-race");
    assert_eq!(json["variable"]["name"], "counter");
    assert_eq!(json["accesses"][0]["op"], "write");
    assert!(FindingKind::DataRace.fails_by_default());
}

/// Two workers forked by `main` increment `counter` under `m`, three times in all.
fn locked_counter() -> Tb {
    let mut t = Tb::new();
    t.fork("main", "worker-1");
    t.fork("main", "worker-2");
    for w in ["worker-1", "worker-2", "worker-1"] {
        t.acq(w, "m", Mode::Write);
        t.r(w, "counter", 10);
        t.w(w, "counter", 11);
        t.rel(w, "m", Mode::Write);
    }
    t
}

#[test]
fn locked_counter_is_clean() {
    assert_eq!(check(&locked_counter().finish(), true), vec![]);
}

#[test]
fn locked_counter_read_after_joining_every_worker_is_clean_in_lockset_mode() {
    // The gallery's racy_counter_locked: workers share the counter under `m`, then
    // main reads the total without the lock after joining them all. The joins order
    // every earlier access by structure, not by luck: ownership passes to main.
    let mut t = locked_counter();
    t.join("main", "worker-1");
    t.join("main", "worker-2");
    t.r("main", "counter", 20);
    assert_eq!(check(&t.finish(), true), vec![]);
}

#[test]
fn a_read_after_joining_only_some_sharers_is_still_a_potential_race() {
    let mut t = locked_counter();
    t.join("main", "worker-1");
    // worker-2 is not joined: main's unlocked read may run beside its write.
    t.r("main", "counter", 20);
    t.join("main", "worker-2");
    // (Happens-before sees no race: worker-2's last write reached main through `m`,
    // taken after it by worker-1, which main joined; that order was this run's luck.)
    assert_eq!(
        kinds(&check(&t.finish(), true)),
        [FindingKind::PotentialRace]
    );
}

#[test]
fn fork_join_publish_is_clean() {
    let mut t = Tb::new();
    t.w("main", "data", 5);
    t.fork("main", "child");
    t.r("child", "data", 6);
    t.w("child", "result", 7);
    t.join("main", "child");
    t.r("main", "result", 8);
    t.w("main", "data", 9);
    assert_eq!(check(&t.finish(), true), vec![]);
}

#[test]
fn fork_after_the_childs_begin_still_orders() {
    // RAPID traces open every thread with `begin` before it is forked.
    let mut t = Tb::new();
    t.op("child", Op::Begin, 1);
    t.w("main", "data", 5);
    t.fork("main", "child");
    t.r("child", "data", 6);
    assert_eq!(check(&t.finish(), false), vec![]);
}

#[test]
fn write_under_a_read_lock_races_another_reader_writer() {
    let mut t = Tb::new();
    t.fork("main", "a");
    t.fork("main", "b");
    t.acq("a", "rw", Mode::Read);
    t.w("a", "x", 20);
    t.rel("a", "rw", Mode::Read);
    t.acq("b", "rw", Mode::Read);
    t.w("b", "x", 21);
    t.rel("b", "rw", Mode::Read);
    let findings = check(&t.finish(), false);
    assert_eq!(kinds(&findings), [FindingKind::DataRace]);
    assert_eq!(findings[0].accesses[0].locks_held, ["rw (read)"]);
}

#[test]
fn read_unlock_orders_a_later_writer() {
    let mut t = Tb::new();
    t.fork("main", "a");
    t.fork("main", "b");
    t.acq("a", "rw", Mode::Read);
    t.r("a", "x", 20);
    t.rel("a", "rw", Mode::Read);
    t.acq("b", "rw", Mode::Write);
    t.w("b", "x", 21);
    t.rel("b", "rw", Mode::Write);
    assert_eq!(check(&t.finish(), false), vec![]);
}

#[test]
fn release_acquire_atomics_publish() {
    let mut t = Tb::new();
    t.fork("main", "producer");
    t.fork("main", "consumer");
    t.w("producer", "data", 30);
    t.atomic("producer", "ready", true, MemoryOrder::Release, 1, 31);
    t.atomic("consumer", "ready", false, MemoryOrder::Acquire, 1, 32);
    t.r("consumer", "data", 33);
    assert_eq!(check(&t.finish(), false), vec![]);
}

#[test]
fn relaxed_atomics_do_not_publish() {
    let mut t = Tb::new();
    t.fork("main", "producer");
    t.fork("main", "consumer");
    t.w("producer", "data", 30);
    t.atomic("producer", "ready", true, MemoryOrder::Relaxed, 1, 31);
    t.atomic("consumer", "ready", false, MemoryOrder::Acquire, 1, 32);
    t.r("consumer", "data", 33);
    let findings = check(&t.finish(), false);
    assert_eq!(kinds(&findings), [FindingKind::DataRace]);
    assert_eq!(findings[0].variable.as_ref().unwrap().name, "data");
}

#[test]
fn atomics_never_race_each_other_but_race_plain_accesses() {
    let mut t = Tb::new();
    t.fork("main", "a");
    t.fork("main", "b");
    t.atomic("a", "n", true, MemoryOrder::Relaxed, 1, 40);
    t.atomic("b", "n", true, MemoryOrder::Relaxed, 2, 41);
    t.atomic("a", "n", false, MemoryOrder::Relaxed, 2, 42);
    let report = detect(&t.finish(), &RaceOptions::default());
    assert!(report.races.is_empty());

    let mut t = Tb::new();
    t.fork("main", "a");
    t.fork("main", "b");
    t.atomic("a", "n", true, MemoryOrder::SeqCst, 1, 40);
    t.r("b", "n", 41);
    let report = detect(&t.finish(), &RaceOptions::default());
    assert_eq!(report.races.len(), 1);
    assert_eq!(report.races[0].first.kind, AccessKind::AtomicStore);
    assert_eq!(report.races[0].second.kind, AccessKind::Read);
}

#[test]
fn condvar_channel_and_barrier_edges_order_accesses() {
    // notify → wake
    let mut t = Tb::new();
    let cv = t.b.object("cv", ObjectKind::Condvar);
    t.fork("main", "a");
    t.fork("main", "b");
    t.w("a", "x", 50);
    t.op(
        "a",
        Op::Notify {
            condvar: cv,
            all: false,
            seq: 1,
        },
        51,
    );
    t.op(
        "b",
        Op::Wake {
            condvar: cv,
            notified_seen: 1,
            timed_out: false,
        },
        52,
    );
    t.r("b", "x", 53);
    assert_eq!(check(&t.finish(), false), vec![]);

    // a timed-out wake receives nothing
    let mut t = Tb::new();
    let cv = t.b.object("cv", ObjectKind::Condvar);
    t.fork("main", "a");
    t.fork("main", "b");
    t.w("a", "x", 50);
    t.op(
        "a",
        Op::Notify {
            condvar: cv,
            all: false,
            seq: 1,
        },
        51,
    );
    t.op(
        "b",
        Op::Wake {
            condvar: cv,
            notified_seen: 1,
            timed_out: true,
        },
        52,
    );
    t.r("b", "x", 53);
    assert_eq!(kinds(&check(&t.finish(), false)), [FindingKind::DataRace]);

    // send → recv
    let mut t = Tb::new();
    let ch = t.b.object("ch", ObjectKind::Channel);
    t.fork("main", "a");
    t.fork("main", "b");
    t.w("a", "x", 50);
    t.op(
        "a",
        Op::Send {
            channel: ch,
            seq: 1,
        },
        51,
    );
    t.op(
        "b",
        Op::Recv {
            channel: ch,
            seq: 1,
        },
        52,
    );
    t.r("b", "x", 53);
    assert_eq!(check(&t.finish(), false), vec![]);

    // barrier: every arrive → every depart
    let mut t = Tb::new();
    let bar = t.b.object("bar", ObjectKind::Barrier);
    t.fork("main", "a");
    t.fork("main", "b");
    t.w("a", "x", 50);
    for th in ["a", "b"] {
        t.op(
            th,
            Op::BarrierArrive {
                barrier: bar,
                generation: 0,
            },
            51,
        );
    }
    for th in ["a", "b"] {
        t.op(
            th,
            Op::BarrierDepart {
                barrier: bar,
                generation: 0,
            },
            52,
        );
    }
    t.w("b", "x", 53);
    assert_eq!(check(&t.finish(), false), vec![]);
}

/// `x.store(x.load() + 1)` by two threads with ordering `o`, interleaved or one after the other.
fn atomic_load_store_counter(o: MemoryOrder, interleaved: bool) -> Trace {
    let mut t = Tb::new();
    t.fork("main", "worker-1");
    t.fork("main", "worker-2");
    if interleaved {
        t.atomic("worker-1", "x", false, o, 0, 60);
        t.atomic("worker-2", "x", false, o, 0, 60);
        t.atomic("worker-1", "x", true, o, 1, 61);
        t.atomic("worker-2", "x", true, o, 2, 61);
    } else {
        t.atomic("worker-1", "x", false, o, 0, 60);
        t.atomic("worker-1", "x", true, o, 1, 61);
        t.atomic("worker-2", "x", false, o, 1, 60);
        t.atomic("worker-2", "x", true, o, 2, 61);
    }
    t.finish()
}

#[test]
fn atomic_load_then_store_counter_is_a_lost_update() {
    for (order, interleaved) in [
        (MemoryOrder::SeqCst, true),
        (MemoryOrder::Relaxed, true),
        (MemoryOrder::Relaxed, false),
    ] {
        let findings = check(&atomic_load_store_counter(order, interleaved), false);
        assert_eq!(
            kinds(&findings),
            [FindingKind::LostUpdate],
            "{order:?} interleaved {interleaved}"
        );
        let f = &findings[0];
        let sites: Vec<&str> = f.accesses.iter().map(|a| a.site.display.as_str()).collect();
        assert_eq!(&sites[..2], ["src/x.rs:60", "src/x.rs:61"]);
        assert_eq!(f.accesses[0].op, "atomic-load");
        assert!(
            f.message.contains("separate atomic operations"),
            "{}",
            f.message
        );
        assert!(FindingKind::LostUpdate.fails_by_default());
    }
}

#[test]
fn serialised_seqcst_updates_are_ordered_by_their_own_reads() {
    // Documented limit of the rule: worker-2's load read worker-1's SeqCst store, so
    // happens-before orders the two windows and no write can fall between.
    let findings = check(
        &atomic_load_store_counter(MemoryOrder::SeqCst, false),
        false,
    );
    assert_eq!(findings, vec![]);
}

#[test]
fn atomic_update_ordered_by_a_lock_is_no_lost_update() {
    // Each load+store inside one critical section of m: no other write can fall between.
    let mut t = Tb::new();
    t.fork("main", "worker-1");
    t.fork("main", "worker-2");
    let o = MemoryOrder::Relaxed;
    for (w, v) in [("worker-1", 0), ("worker-2", 1)] {
        t.acq(w, "m", Mode::Write);
        t.atomic(w, "x", false, o, v, 60);
        t.atomic(w, "x", true, o, v + 1, 61);
        t.rel(w, "m", Mode::Write);
    }
    assert_eq!(check(&t.finish(), false), vec![]);
}

#[test]
fn split_critical_sections_are_a_lost_update() {
    // let v = *m.lock(); drop; *m.lock() = v + 1;  by two threads, interleaved.
    let mut t = Tb::new();
    t.fork("main", "worker-1");
    t.fork("main", "worker-2");
    for w in ["worker-1", "worker-2"] {
        t.acq(w, "m", Mode::Write);
        t.r(w, "counter", 70);
        t.rel(w, "m", Mode::Write);
    }
    for w in ["worker-1", "worker-2"] {
        t.acq(w, "m", Mode::Write);
        t.w(w, "counter", 71);
        t.rel(w, "m", Mode::Write);
    }
    let findings = check(&t.finish(), false);
    assert_eq!(kinds(&findings), [FindingKind::LostUpdate], "{findings:#?}");
    let f = &findings[0];
    assert!(
        f.message.contains("separate critical sections"),
        "{}",
        f.message
    );
    assert_eq!(f.accesses[0].locks_held, ["m"]);
    assert_eq!(f.accesses.len(), 3);
}

#[test]
fn one_critical_section_is_no_lost_update_even_with_an_inner_release() {
    let mut t = Tb::new();
    t.fork("main", "worker-1");
    t.fork("main", "worker-2");
    for w in ["worker-1", "worker-2"] {
        t.acq(w, "m", Mode::Write);
        t.r(w, "counter", 70);
        t.acq(w, "other", Mode::Write);
        t.rel(w, "other", Mode::Write);
        t.w(w, "counter", 71);
        t.rel(w, "m", Mode::Write);
    }
    assert_eq!(check(&t.finish(), false), vec![]);
}

/// Two threads write `x` under different locks; a handoff of an unrelated lock
/// happens to order them in this run.
fn lucky_schedule() -> Trace {
    let mut t = Tb::new();
    t.fork("main", "a");
    t.fork("main", "b");
    t.acq("a", "A", Mode::Write);
    t.w("a", "x", 80);
    t.rel("a", "A", Mode::Write);
    t.acq("a", "M", Mode::Write);
    t.rel("a", "M", Mode::Write);
    t.acq("b", "M", Mode::Write);
    t.rel("b", "M", Mode::Write);
    t.acq("b", "B", Mode::Write);
    t.w("b", "x", 81);
    t.rel("b", "B", Mode::Write);
    t.finish()
}

#[test]
fn lockset_mode_finds_what_a_lucky_schedule_hides() {
    let trace = lucky_schedule();
    assert_eq!(check(&trace, false), vec![]);
    let findings = check(&trace, true);
    assert_eq!(kinds(&findings), [FindingKind::PotentialRace]);
    let f = &findings[0];
    assert_eq!(f.accesses[0].locks_held, ["A"]);
    assert_eq!(f.accesses[1].locks_held, ["B"]);
    assert!(!FindingKind::PotentialRace.fails_by_default());
}

#[test]
fn lockset_mode_accepts_initialisation_then_locking() {
    let mut t = Tb::new();
    t.w("main", "x", 90);
    t.fork("main", "a");
    t.fork("main", "b");
    for th in ["a", "b", "a"] {
        t.acq(th, "L", Mode::Write);
        t.r(th, "x", 91);
        t.w(th, "x", 92);
        t.rel(th, "L", Mode::Write);
    }
    assert_eq!(check(&t.finish(), true), vec![]);
}

#[test]
fn race_pairs_are_deduplicated_by_sites_and_bounded() {
    let mut t = Tb::new();
    t.fork("main", "a");
    t.fork("main", "b");
    for i in 0..10 {
        t.w("a", &format!("v{i}"), 100 + i);
        t.w("b", &format!("v{i}"), 200 + i);
    }
    // The same site pair again on v0: no new pair.
    t.w("a", "v0", 100);
    let trace = t.finish();
    let report = detect(&trace, &RaceOptions::default());
    assert_eq!(report.racy_vars.len(), 10);
    assert_eq!(report.races.len(), 10);
    assert!(!report.truncated);
    let bounded = detect(
        &trace,
        &RaceOptions {
            lockset: false,
            max_pairs: 3,
        },
    );
    assert_eq!(bounded.races.len(), 3);
    assert_eq!(bounded.racy_vars.len(), 10);
    assert!(bounded.truncated);
    let options = AnalysisOptions {
        max_race_pairs: 3,
        ..AnalysisOptions::default()
    };
    let analysis = analyze(&[trace], &options);
    assert!(
        analysis
            .limits
            .iter()
            .any(|l| l.message.contains("--max-race-pairs")),
        "{:?}",
        analysis.limits
    );
}

#[test]
fn findings_are_deterministic() {
    let a = check(&unprotected_counter(), true);
    let b = check(&unprotected_counter(), true);
    assert_eq!(a, b);
    // Ordered by kind (the contract's order), then id.
    let keys: Vec<(usize, &str)> = a
        .iter()
        .map(|f| {
            let rank = FindingKind::ALL.iter().position(|&k| k == f.kind);
            (rank.unwrap_or(usize::MAX), f.id.as_str())
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

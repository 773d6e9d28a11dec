//! Lock-dependency, pattern and confirmation results on the classic lockdep families and
//! on the synchronisation idioms that rule deadlocks out.

use analyzer::model::{
    Attempt, Event, Mode, ObjIdx, ObjectKind, Op, SiteIdx, ThreadIdx, Trace, TraceBuilder,
};
use analyzer::predict::{
    DeadlockPattern, Dependencies, HappensBefore, PatternSearch, Witness, confirm,
    deadlock_patterns, lock_dependencies,
};

/// Builds traces event by event with short names.
struct Tb {
    b: TraceBuilder,
}

impl Tb {
    fn new() -> Tb {
        Tb {
            b: TraceBuilder::new("test"),
        }
    }

    fn t(&mut self, name: &str) -> ThreadIdx {
        self.b.thread(name)
    }

    fn obj(&mut self, name: &str, kind: ObjectKind) -> ObjIdx {
        self.b.object(name, kind)
    }

    fn op(&mut self, thread: &str, op: Op) -> usize {
        let thread = self.t(thread);
        let i = self.b.trace_mut().events.len();
        self.b.push(Event {
            thread,
            op,
            site: SiteIdx::UNKNOWN,
        });
        i
    }

    /// Request + blocking Acquire of mutex `l`; returns the Acquire's index.
    fn lock(&mut self, t: &str, l: &str) -> usize {
        self.lock_kind(t, l, ObjectKind::Mutex, Mode::Write)
    }

    fn lock_kind(&mut self, t: &str, l: &str, kind: ObjectKind, mode: Mode) -> usize {
        let lock = self.obj(l, kind);
        self.op(t, Op::Request { lock, mode });
        self.op(
            t,
            Op::Acquire {
                lock,
                mode,
                attempt: Attempt::Blocking,
            },
        )
    }

    fn read(&mut self, t: &str, l: &str) -> usize {
        self.lock_kind(t, l, ObjectKind::RwLock, Mode::Read)
    }

    fn write(&mut self, t: &str, l: &str) -> usize {
        self.lock_kind(t, l, ObjectKind::RwLock, Mode::Write)
    }

    /// A Request never answered (the thread is blocked when the trace ends).
    fn stuck(&mut self, t: &str, l: &str) -> usize {
        let lock = self.obj(l, ObjectKind::Mutex);
        self.op(
            t,
            Op::Request {
                lock,
                mode: Mode::Write,
            },
        )
    }

    fn try_lock(&mut self, t: &str, l: &str) -> usize {
        let lock = self.obj(l, ObjectKind::Mutex);
        self.op(
            t,
            Op::Acquire {
                lock,
                mode: Mode::Write,
                attempt: Attempt::Try,
            },
        )
    }

    fn unlock(&mut self, t: &str, l: &str) -> usize {
        self.unlock_mode(t, l, Mode::Write)
    }

    fn unlock_mode(&mut self, t: &str, l: &str, mode: Mode) -> usize {
        let lock = self
            .b
            .trace_mut()
            .objects
            .iter()
            .position(|o| o.name == l && o.kind != ObjectKind::Variable);
        let lock = ObjIdx(lock.expect("unlock of a lock never locked") as u32);
        self.op(t, Op::Release { lock, mode })
    }

    /// `t` takes `outer` then `inner` and releases both.
    fn nest(&mut self, t: &str, outer: &str, inner: &str) {
        self.lock(t, outer);
        self.lock(t, inner);
        self.unlock(t, inner);
        self.unlock(t, outer);
    }

    fn fork(&mut self, parent: &str, child: &str) -> usize {
        let child = self.t(child);
        self.op(parent, Op::Fork { child })
    }

    fn join(&mut self, parent: &str, child: &str) -> usize {
        let child = self.t(child);
        self.op(parent, Op::Join { child })
    }

    fn var_write(&mut self, t: &str, v: &str) -> usize {
        let var = self.obj(v, ObjectKind::Variable);
        self.op(t, Op::Write { var })
    }

    fn var_read(&mut self, t: &str, v: &str) -> usize {
        let var = self.obj(v, ObjectKind::Variable);
        self.op(t, Op::Read { var })
    }

    fn finish(self) -> Trace {
        self.b.finish()
    }
}

/// Runs the whole pipeline.
struct Prediction {
    deps: Dependencies,
    search: PatternSearch,
    confirmed: Vec<Option<Witness>>,
}

fn predict(trace: &Trace) -> Prediction {
    let deps = lock_dependencies(trace);
    let search = deadlock_patterns(&deps.deps, 8, 1000);
    let confirmed = search
        .patterns
        .iter()
        .map(|p| confirm(trace, &deps.deps, p))
        .collect();
    Prediction {
        deps,
        search,
        confirmed,
    }
}

/// The (thread name, lock name) pairs of a pattern, in cycle order.
fn describe(trace: &Trace, deps: &Dependencies, p: &DeadlockPattern) -> Vec<(String, String)> {
    p.deps
        .iter()
        .map(|&d| {
            let d = &deps.deps[d];
            (
                trace.thread(d.thread).name.clone(),
                trace.object(d.lock).name.clone(),
            )
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|&(a, b)| (a.to_owned(), b.to_owned()))
        .collect()
}

/// Asserts exactly one pattern, with the given (thread, acquired lock) cycle, and whether it is confirmed.
fn assert_single(trace: &Trace, p: &Prediction, cycle: &[(&str, &str)], confirmed: bool) {
    assert_eq!(
        p.search.patterns.len(),
        1,
        "patterns: {:?}",
        p.search.patterns
    );
    assert!(!p.search.truncated);
    let got = describe(trace, &p.deps, &p.search.patterns[0]);
    // The pattern starts at its smallest dependency; compare as a rotation.
    let want = pairs(cycle);
    let k = want.len();
    let rotations: Vec<Vec<(String, String)>> = (0..k)
        .map(|r| (0..k).map(|i| want[(i + r) % k].clone()).collect())
        .collect();
    assert!(
        rotations.contains(&got),
        "got {got:?}, want a rotation of {want:?}"
    );
    assert_eq!(
        p.confirmed[0].is_some(),
        confirmed,
        "confirmation of {got:?}"
    );
}

#[test]
fn aa_self_deadlock() {
    let mut tb = Tb::new();
    let first = tb.lock("T1", "A");
    let second = tb.stuck("T1", "A");
    let trace = tb.finish();
    let p = predict(&trace);
    assert!(p.deps.deps.is_empty());
    assert_eq!(p.deps.self_deadlocks.len(), 1);
    let n = &p.deps.self_deadlocks[0];
    assert_eq!(
        (n.lock, n.held, n.held_acquire, n.acquire),
        (ObjIdx(0), ObjIdx(0), first, second)
    );
    assert!(p.deps.recursive_reads.is_empty() && p.deps.same_class.is_empty());
    assert!(p.search.patterns.is_empty());
}

#[test]
fn abba_two_threads_confirmed_with_exact_witness() {
    let mut tb = Tb::new();
    tb.nest("T1", "A", "B");
    tb.nest("T2", "B", "A");
    let trace = tb.finish();
    let p = predict(&trace);
    assert_eq!(p.deps.deps.len(), 2);
    let d0 = &p.deps.deps[0];
    assert_eq!(
        (d0.thread, d0.lock, d0.held.clone()),
        (ThreadIdx(0), ObjIdx(1), vec![(ObjIdx(0), Mode::Write)])
    );
    assert_eq!(d0.instances.len(), 1);
    assert_eq!(
        (
            d0.instances[0].request,
            d0.instances[0].acquire,
            p.deps.held_acquires(d0, &d0.instances[0]).to_vec()
        ),
        (Some(2), 3, vec![1])
    );
    assert_single(&trace, &p, &[("T1", "B"), ("T2", "A")], true);
    let w = p.confirmed[0].as_ref().unwrap();
    // T1 blocks at its Request of B (event 2), T2 at its Request of A (event 8).
    assert_eq!(w.events, vec![2, 8]);
    assert_eq!(w.thread_prefix, vec![2, 2]);
    assert_eq!(w.prefix_len, 4);
}

#[test]
fn abbcca_three_threads() {
    let mut tb = Tb::new();
    tb.nest("T1", "A", "B");
    tb.nest("T2", "B", "C");
    tb.nest("T3", "C", "A");
    let trace = tb.finish();
    let p = predict(&trace);
    assert_eq!(p.deps.deps.len(), 3);
    assert_single(&trace, &p, &[("T1", "B"), ("T2", "C"), ("T3", "A")], true);
}

#[test]
fn abcabc() {
    let mut tb = Tb::new();
    tb.nest("T1", "A", "B");
    tb.nest("T2", "C", "A");
    tb.nest("T3", "B", "C");
    let trace = tb.finish();
    let p = predict(&trace);
    assert_single(&trace, &p, &[("T1", "B"), ("T3", "C"), ("T2", "A")], true);
}

#[test]
fn abbccdda() {
    let mut tb = Tb::new();
    tb.nest("T1", "A", "B");
    tb.nest("T2", "B", "C");
    tb.nest("T3", "C", "D");
    tb.nest("T4", "D", "A");
    let trace = tb.finish();
    let p = predict(&trace);
    assert_single(
        &trace,
        &p,
        &[("T1", "B"), ("T2", "C"), ("T3", "D"), ("T4", "A")],
        true,
    );
    assert_eq!(p.confirmed[0].as_ref().unwrap().events.len(), 4);
}

#[test]
fn abcdbdda_distractor_not_in_pattern() {
    let mut tb = Tb::new();
    tb.nest("T1", "A", "B");
    tb.nest("T2", "C", "D");
    tb.nest("T3", "B", "D");
    tb.nest("T4", "D", "A");
    let trace = tb.finish();
    let p = predict(&trace);
    assert_eq!(p.deps.deps.len(), 4);
    assert_single(&trace, &p, &[("T1", "B"), ("T3", "D"), ("T4", "A")], true);
}

#[test]
fn abcdbcda() {
    let mut tb = Tb::new();
    tb.nest("T1", "A", "B");
    tb.nest("T2", "C", "D");
    tb.nest("T3", "B", "C");
    tb.nest("T4", "D", "A");
    let trace = tb.finish();
    let p = predict(&trace);
    assert_single(
        &trace,
        &p,
        &[("T1", "B"), ("T3", "C"), ("T2", "D"), ("T4", "A")],
        true,
    );
}

/// ABBA on RwLocks with the given (outer, inner) modes for each thread.
fn rw_abba(t1: (Mode, Mode), t2: (Mode, Mode)) -> Trace {
    let mut tb = Tb::new();
    for (t, (outer, inner), (a, b)) in [("T1", t1, ("A", "B")), ("T2", t2, ("B", "A"))] {
        tb.lock_kind(t, a, ObjectKind::RwLock, outer);
        tb.lock_kind(t, b, ObjectKind::RwLock, inner);
        tb.unlock_mode(t, b, inner);
        tb.unlock_mode(t, a, outer);
    }
    tb.finish()
}

#[test]
fn read_read_abba_has_no_pattern() {
    let trace = rw_abba((Mode::Read, Mode::Read), (Mode::Read, Mode::Read));
    let p = predict(&trace);
    assert_eq!(p.deps.deps.len(), 2);
    assert!(p.search.patterns.is_empty());
}

#[test]
fn write_read_abba_is_a_deadlock() {
    // T1 holds A for writing and reads B; T2 holds B for writing and reads A.
    let trace = rw_abba((Mode::Write, Mode::Read), (Mode::Write, Mode::Read));
    let p = predict(&trace);
    assert_single(&trace, &p, &[("T1", "B"), ("T2", "A")], true);
}

#[test]
fn read_write_abba_is_a_deadlock() {
    // T1 read-holds A and writes B; T2 read-holds B and writes A.
    let trace = rw_abba((Mode::Read, Mode::Write), (Mode::Read, Mode::Write));
    let p = predict(&trace);
    assert_single(&trace, &p, &[("T1", "B"), ("T2", "A")], true);
}

#[test]
fn read_waits_only_on_writers() {
    // T1 write-holds A and reads B, but T2 only read-holds B: T1's read never waits.
    let trace = rw_abba((Mode::Write, Mode::Read), (Mode::Read, Mode::Write));
    let p = predict(&trace);
    assert!(p.search.patterns.is_empty());
}

#[test]
fn try_lock_abba_has_no_pattern() {
    let mut tb = Tb::new();
    tb.nest("T1", "A", "B");
    tb.lock("T2", "B");
    tb.try_lock("T2", "A");
    tb.unlock("T2", "A");
    tb.unlock("T2", "B");
    let trace = tb.finish();
    let p = predict(&trace);
    assert_eq!(p.deps.deps.len(), 1);
    assert!(p.search.patterns.is_empty());
}

#[test]
fn try_lock_counts_as_held() {
    // T2 try-locks B, then blocks on A: B → A is a dependency.
    let mut tb = Tb::new();
    tb.nest("T1", "A", "B");
    tb.try_lock("T2", "B");
    tb.lock("T2", "A");
    tb.unlock("T2", "A");
    tb.unlock("T2", "B");
    let trace = tb.finish();
    let p = predict(&trace);
    assert_single(&trace, &p, &[("T1", "B"), ("T2", "A")], true);
}

#[test]
fn gate_locked_abba_has_no_pattern() {
    let mut tb = Tb::new();
    for (t, a, b) in [("T1", "A", "B"), ("T2", "B", "A")] {
        tb.lock(t, "G");
        tb.nest(t, a, b);
        tb.unlock(t, "G");
    }
    let trace = tb.finish();
    let p = predict(&trace);
    assert_eq!(p.deps.deps.len(), 4);
    assert!(p.search.patterns.is_empty());
}

#[test]
fn fork_join_ordered_abba_is_not_confirmed() {
    let mut tb = Tb::new();
    tb.op("main", Op::Begin);
    let first = tb.lock("main", "A");
    tb.lock("main", "B");
    tb.unlock("main", "B");
    tb.unlock("main", "A");
    tb.fork("main", "child");
    tb.op("child", Op::Begin);
    tb.lock("child", "B");
    let second = tb.lock("child", "A");
    tb.unlock("child", "A");
    tb.unlock("child", "B");
    tb.op("child", Op::End);
    tb.join("main", "child");
    let trace = tb.finish();
    let p = predict(&trace);
    assert_single(&trace, &p, &[("main", "B"), ("child", "A")], false);
    let hb = HappensBefore::compute(&trace);
    assert!(hb.ordered(first, second));
    assert!(!hb.ordered(second, first));
}

#[test]
fn fork_after_sections_is_still_concurrent() {
    // The same ABBA, but the child is forked before main's section: a real deadlock.
    let mut tb = Tb::new();
    tb.fork("main", "child");
    tb.nest("main", "A", "B");
    tb.nest("child", "B", "A");
    tb.join("main", "child");
    let trace = tb.finish();
    let p = predict(&trace);
    assert_single(&trace, &p, &[("main", "B"), ("child", "A")], true);
}

#[test]
fn single_thread_abba_has_no_pattern() {
    let mut tb = Tb::new();
    tb.nest("T1", "A", "B");
    tb.nest("T1", "B", "A");
    let trace = tb.finish();
    let p = predict(&trace);
    assert_eq!(p.deps.deps.len(), 2);
    assert!(p.search.patterns.is_empty());
}

#[test]
fn abba_ordered_through_protected_data_is_not_confirmed() {
    // T1 publishes under G after its section; T2 reads it under G before its section.
    let mut tb = Tb::new();
    let t1_section = tb.lock("T1", "A");
    tb.lock("T1", "B");
    tb.unlock("T1", "B");
    tb.unlock("T1", "A");
    tb.lock("T1", "G");
    tb.var_write("T1", "x");
    tb.unlock("T1", "G");
    tb.lock("T2", "G");
    tb.var_read("T2", "x");
    tb.unlock("T2", "G");
    tb.lock("T2", "B");
    let t2_section = tb.lock("T2", "A");
    tb.unlock("T2", "A");
    tb.unlock("T2", "B");
    let trace = tb.finish();
    let p = predict(&trace);
    assert_single(&trace, &p, &[("T1", "B"), ("T2", "A")], false);
    assert!(HappensBefore::compute(&trace).ordered(t1_section, t2_section));
}

#[test]
fn abba_ordered_by_empty_critical_sections_is_still_predicted() {
    // Same shape without the data: T2 could take G first, so the deadlock is real even though
    // happens-before orders the two sections.
    let mut tb = Tb::new();
    let t1_section = tb.lock("T1", "A");
    tb.lock("T1", "B");
    tb.unlock("T1", "B");
    tb.unlock("T1", "A");
    tb.lock("T1", "G");
    tb.unlock("T1", "G");
    tb.lock("T2", "G");
    tb.unlock("T2", "G");
    tb.lock("T2", "B");
    let t2_section = tb.lock("T2", "A");
    tb.unlock("T2", "A");
    tb.unlock("T2", "B");
    let trace = tb.finish();
    let p = predict(&trace);
    assert_single(&trace, &p, &[("T1", "B"), ("T2", "A")], true);
    assert!(HappensBefore::compute(&trace).ordered(t1_section, t2_section));
}

fn philosophers(ordered: bool) -> Trace {
    let mut tb = Tb::new();
    for i in 0..5 {
        let (l, r) = (format!("fork{i}"), format!("fork{}", (i + 1) % 5));
        let (first, second) = if ordered && l > r { (r, l) } else { (l, r) };
        let t = format!("P{i}");
        for _ in 0..2 {
            tb.nest(&t, &first, &second);
        }
    }
    tb.finish()
}

#[test]
fn dining_philosophers_naive_has_one_confirmed_cycle() {
    let trace = philosophers(false);
    let p = predict(&trace);
    assert_eq!(p.deps.deps.len(), 5);
    assert!(p.deps.deps.iter().all(|d| d.instances.len() == 2));
    assert_single(
        &trace,
        &p,
        &[
            ("P0", "fork1"),
            ("P1", "fork2"),
            ("P2", "fork3"),
            ("P3", "fork4"),
            ("P4", "fork0"),
        ],
        true,
    );
    assert_eq!(p.search.patterns[0].deps, vec![0, 1, 2, 3, 4]);
}

#[test]
fn dining_philosophers_ordered_has_none() {
    let p = predict(&philosophers(true));
    assert_eq!(p.deps.deps.len(), 5);
    assert!(p.search.patterns.is_empty());
}

#[test]
fn java_reentrant_reacquisition_is_no_dependency() {
    let mut tb = Tb::new();
    tb.lock_kind("T1", "A", ObjectKind::ReentrantMutex, Mode::Write);
    tb.lock_kind("T1", "B", ObjectKind::ReentrantMutex, Mode::Write);
    tb.lock_kind("T1", "A", ObjectKind::ReentrantMutex, Mode::Write);
    tb.unlock("T1", "A");
    tb.unlock("T1", "B");
    // After the inner release A is still held (once): B is acquired holding A.
    tb.lock_kind("T1", "B", ObjectKind::ReentrantMutex, Mode::Write);
    tb.unlock("T1", "B");
    tb.unlock("T1", "A");
    let trace = tb.finish();
    let p = predict(&trace);
    assert_eq!(p.deps.deps.len(), 1);
    let d = &p.deps.deps[0];
    assert_eq!(
        (d.lock, d.held.clone(), d.instances.len()),
        (ObjIdx(1), vec![(ObjIdx(0), Mode::Write)], 2)
    );
    // Both instances name A's outermost acquisition.
    assert!(
        d.instances
            .iter()
            .all(|i| p.deps.held_acquires(d, i) == [1])
    );
    assert!(p.deps.self_deadlocks.is_empty());
}

#[test]
fn rwlock_nesting_kinds() {
    let mut tb = Tb::new();
    let r1 = tb.read("T1", "L");
    let r2 = tb.read("T1", "L");
    tb.unlock_mode("T1", "L", Mode::Read);
    tb.unlock_mode("T1", "L", Mode::Read);
    let w1 = tb.write("T2", "M");
    let lock_m = ObjIdx(1);
    let r3 = tb.op(
        "T2",
        Op::Request {
            lock: lock_m,
            mode: Mode::Read,
        },
    );
    let trace = tb.finish();
    let p = predict(&trace);
    assert_eq!(p.deps.recursive_reads.len(), 1);
    assert_eq!(
        (
            p.deps.recursive_reads[0].held_acquire,
            p.deps.recursive_reads[0].acquire
        ),
        (r1, r2)
    );
    assert_eq!(p.deps.self_deadlocks.len(), 1);
    assert_eq!(
        (
            p.deps.self_deadlocks[0].held_acquire,
            p.deps.self_deadlocks[0].acquire
        ),
        (w1, r3)
    );
}

#[test]
fn same_class_nesting() {
    let mut tb = Tb::new();
    let site = tb.b.site(analyzer::model::Site {
        file: Some("a.rs".into()),
        line: 3,
        column: 1,
    });
    let a = tb.obj("a", ObjectKind::Mutex);
    let b = tb.obj("b", ObjectKind::Mutex);
    tb.b.trace_mut().objects[a.0 as usize].class = site;
    tb.b.trace_mut().objects[b.0 as usize].class = site;
    let outer = tb.lock("T1", "a");
    let inner = tb.lock("T1", "b");
    tb.unlock("T1", "b");
    tb.unlock("T1", "a");
    let trace = tb.finish();
    let p = predict(&trace);
    assert_eq!(p.deps.same_class.len(), 1);
    let n = &p.deps.same_class[0];
    assert_eq!(
        (n.lock, n.held, n.held_acquire, n.acquire),
        (b, a, outer, inner)
    );
}

#[test]
fn out_of_order_release_removes_the_matching_lock() {
    let mut tb = Tb::new();
    tb.lock("T1", "A");
    tb.lock("T1", "B");
    tb.unlock("T1", "A");
    tb.lock("T1", "C"); // holds only B
    let trace = tb.finish();
    let deps = lock_dependencies(&trace);
    let held: Vec<Vec<ObjIdx>> = deps
        .deps
        .iter()
        .map(|d| d.held.iter().map(|h| h.0).collect())
        .collect();
    assert_eq!(held, vec![vec![ObjIdx(0)], vec![ObjIdx(1)]]);
    assert_eq!(deps.deps[1].lock, ObjIdx(2));
}

#[test]
fn blocked_request_at_end_is_a_dependency_and_confirms() {
    // A real deadlock recorded as it happened: both threads end blocked.
    let mut tb = Tb::new();
    tb.lock("T1", "A");
    tb.lock("T2", "B");
    let r1 = tb.stuck("T1", "B");
    let r2 = tb.stuck("T2", "A");
    let trace = tb.finish();
    let p = predict(&trace);
    assert_eq!(p.deps.deps.len(), 2);
    assert_eq!(p.deps.deps[0].instances[0].acquire, r1);
    assert_eq!(p.deps.deps[0].instances[0].request, Some(r1));
    assert_single(&trace, &p, &[("T1", "B"), ("T2", "A")], true);
    assert_eq!(p.confirmed[0].as_ref().unwrap().events, vec![r1, r2]);
}

#[test]
fn pattern_search_bounds() {
    let trace = philosophers(false);
    let deps = lock_dependencies(&trace);
    let short = deadlock_patterns(&deps.deps, 4, 100);
    assert!(short.patterns.is_empty());
    assert!(short.truncated);
    let mut tb = Tb::new();
    tb.nest("T1", "A", "B");
    tb.nest("T2", "B", "A");
    tb.nest("T3", "C", "D");
    tb.nest("T4", "D", "C");
    let trace = tb.finish();
    let deps = lock_dependencies(&trace);
    let all = deadlock_patterns(&deps.deps, 8, 100);
    assert_eq!(all.patterns.len(), 2);
    assert!(!all.truncated);
    let one = deadlock_patterns(&deps.deps, 8, 1);
    assert_eq!(one.patterns.len(), 1);
    assert!(one.truncated);
}

#[test]
fn later_instance_is_confirmed_when_the_first_is_ordered() {
    // The first ABBA round is ordered by a join; the second round (a new child) is concurrent.
    let mut tb = Tb::new();
    tb.fork("main", "c1");
    tb.nest("c1", "B", "A");
    tb.join("main", "c1");
    tb.nest("main", "A", "B");
    tb.fork("main", "c2");
    tb.nest("main", "A", "B");
    tb.nest("c2", "B", "A");
    tb.join("main", "c2");
    let trace = tb.finish();
    let p = predict(&trace);
    // c1 and c2 are distinct threads: two patterns (main with each child).
    assert_eq!(p.search.patterns.len(), 2);
    let names: Vec<Vec<(String, String)>> = p
        .search
        .patterns
        .iter()
        .map(|x| describe(&trace, &p.deps, x))
        .collect();
    let c1 = names
        .iter()
        .position(|n| n.iter().any(|(t, _)| t == "c1"))
        .unwrap();
    let c2 = 1 - c1;
    assert!(p.confirmed[c1].is_none());
    let w = p.confirmed[c2].as_ref().unwrap();
    // main's dependency has two instances; the first precedes the fork of c2, so the second is used.
    let main_pos = names[c2].iter().position(|(t, _)| t == "main").unwrap();
    assert_eq!(w.instances[main_pos], 1);
}

/// ABBA where T2's section comes after an event `sync_after` of T1's, which follows T1's section.
fn abba_ordered_by(sync_t1: Op, sync_t2: Op) -> Trace {
    let mut tb = Tb::new();
    tb.nest("T1", "A", "B");
    tb.op("T1", sync_t1);
    tb.op("T2", sync_t2);
    tb.nest("T2", "B", "A");
    tb.finish()
}

#[test]
fn message_orders_abba() {
    let ch = ObjIdx(2);
    let mut trace = abba_ordered_by(
        Op::Send {
            channel: ch,
            seq: 1,
        },
        Op::Recv {
            channel: ch,
            seq: 1,
        },
    );
    trace.objects.push(analyzer::model::Object {
        name: "ch".into(),
        kind: ObjectKind::Channel,
        class: SiteIdx::UNKNOWN,
        user_named: false,
    });
    let p = predict(&trace);
    assert_single(&trace, &p, &[("T1", "B"), ("T2", "A")], false);
    // A receive of a different message orders nothing.
    let trace = abba_ordered_by(
        Op::Send {
            channel: ch,
            seq: 1,
        },
        Op::Recv {
            channel: ch,
            seq: 2,
        },
    );
    assert_single(&trace, &predict(&trace), &[("T1", "B"), ("T2", "A")], true);
}

#[test]
fn notification_orders_abba() {
    let cv = ObjIdx(2);
    let trace = abba_ordered_by(
        Op::Notify {
            condvar: cv,
            all: false,
            seq: 1,
        },
        Op::Wake {
            condvar: cv,
            notified_seen: 1,
            timed_out: false,
        },
    );
    assert_single(&trace, &predict(&trace), &[("T1", "B"), ("T2", "A")], false);
    let trace = abba_ordered_by(
        Op::Notify {
            condvar: cv,
            all: false,
            seq: 1,
        },
        Op::Wake {
            condvar: cv,
            notified_seen: 1,
            timed_out: true,
        },
    );
    assert_single(&trace, &predict(&trace), &[("T1", "B"), ("T2", "A")], true);
}

#[test]
fn atomic_flag_orders_abba() {
    let x = ObjIdx(2);
    let trace = abba_ordered_by(
        Op::Atomic {
            var: x,
            write: true,
            order: analyzer::model::MemoryOrder::Release,
            version: 1,
        },
        Op::Atomic {
            var: x,
            write: false,
            order: analyzer::model::MemoryOrder::Acquire,
            version: 1,
        },
    );
    assert_single(&trace, &predict(&trace), &[("T1", "B"), ("T2", "A")], false);
}

#[test]
fn barrier_orders_abba() {
    let bar = ObjIdx(2);
    let mut tb = Tb::new();
    tb.nest("T1", "A", "B");
    tb.op(
        "T1",
        Op::BarrierArrive {
            barrier: bar,
            generation: 0,
        },
    );
    tb.op(
        "T2",
        Op::BarrierArrive {
            barrier: bar,
            generation: 0,
        },
    );
    tb.op(
        "T2",
        Op::BarrierDepart {
            barrier: bar,
            generation: 0,
        },
    );
    tb.nest("T2", "B", "A");
    let trace = tb.finish();
    assert_single(&trace, &predict(&trace), &[("T1", "B"), ("T2", "A")], false);
}

#[test]
fn condvar_wait_reacquisition_is_a_dependency() {
    let mut tb = Tb::new();
    let a = tb.lock("T1", "A");
    tb.lock("T1", "M");
    let (cv, m) = (tb.obj("cv", ObjectKind::Condvar), ObjIdx(1));
    tb.op(
        "T1",
        Op::Wait {
            condvar: cv,
            lock: m,
            timed: false,
        },
    );
    tb.unlock("T1", "M");
    tb.op(
        "T1",
        Op::Wake {
            condvar: cv,
            notified_seen: 1,
            timed_out: false,
        },
    );
    let again = tb.lock("T1", "M");
    tb.unlock("T1", "M");
    tb.unlock("T1", "A");
    let trace = tb.finish();
    let deps = lock_dependencies(&trace);
    assert_eq!(deps.deps.len(), 1);
    let d = &deps.deps[0];
    assert_eq!((d.lock, d.instances.len()), (m, 2));
    assert_eq!(d.instances[1].acquire, again);
    assert_eq!(deps.held_acquires(d, &d.instances[1]), [a]);
    assert!(deps.self_deadlocks.is_empty());
}

//! Happens-before edges, one synchronisation kind at a time, checked against a
//! brute-force transitive closure on random traces.

// The brute-force closure is a boolean matrix; index loops read most plainly.
#![allow(clippy::needless_range_loop)]

use analyzer::model::{
    Attempt, Event, MemoryOrder, Mode, ObjIdx, ObjectKind, Op, SiteIdx, Trace, TraceBuilder,
};
use analyzer::predict::HappensBefore;
use proptest::prelude::*;

struct Tb {
    b: TraceBuilder,
}

impl Tb {
    fn new() -> Tb {
        Tb {
            b: TraceBuilder::new("hb"),
        }
    }

    fn op(&mut self, thread: &str, op: Op) -> usize {
        let thread = self.b.thread(thread);
        let i = self.b.trace_mut().events.len();
        self.b.push(Event {
            thread,
            op,
            site: SiteIdx::UNKNOWN,
        });
        i
    }

    fn obj(&mut self, name: &str, kind: ObjectKind) -> ObjIdx {
        self.b.object(name, kind)
    }

    fn acq(&mut self, t: &str, l: &str, mode: Mode) -> usize {
        let lock = self.obj(l, ObjectKind::RwLock);
        self.op(
            t,
            Op::Acquire {
                lock,
                mode,
                attempt: Attempt::Blocking,
            },
        )
    }

    fn rel(&mut self, t: &str, l: &str, mode: Mode) -> usize {
        let lock = self.obj(l, ObjectKind::RwLock);
        self.op(t, Op::Release { lock, mode })
    }

    fn child(&mut self, name: &str) -> analyzer::model::ThreadIdx {
        self.b.thread(name)
    }

    fn finish(self) -> Trace {
        self.b.finish()
    }
}

#[test]
fn program_order_and_unsynchronised_threads() {
    let mut tb = Tb::new();
    let a = tb.op("T1", Op::Begin);
    let b = tb.op("T2", Op::Begin);
    let c = tb.op("T1", Op::End);
    let hb = HappensBefore::compute(&tb.finish());
    assert!(hb.ordered(a, c));
    assert!(!hb.ordered(c, a));
    assert!(!hb.ordered(a, a));
    assert!(hb.concurrent(a, b) && hb.concurrent(b, c));
    assert!(!hb.ordered(0, 99));
}

#[test]
fn write_release_orders_later_acquires() {
    let mut tb = Tb::new();
    let before = tb.op("T1", Op::Begin);
    tb.acq("T1", "L", Mode::Write);
    tb.rel("T1", "L", Mode::Write);
    let after_other = tb.op("T1", Op::End);
    let acq = tb.acq("T2", "L", Mode::Read);
    let hb = HappensBefore::compute(&tb.finish());
    assert!(hb.ordered(before, acq));
    assert!(!hb.ordered(after_other, acq));
}

#[test]
fn read_release_orders_writers_not_readers() {
    let mut tb = Tb::new();
    let r1 = tb.acq("T1", "L", Mode::Read);
    tb.rel("T1", "L", Mode::Read);
    let r2 = tb.acq("T2", "L", Mode::Read);
    tb.rel("T2", "L", Mode::Read);
    let w = tb.acq("T3", "L", Mode::Write);
    let hb = HappensBefore::compute(&tb.finish());
    assert!(!hb.ordered(r1, r2));
    assert!(hb.ordered(r1, w) && hb.ordered(r2, w));
}

#[test]
fn fork_and_join() {
    let mut tb = Tb::new();
    let c = tb.child("C");
    let before_fork = tb.op("main", Op::Begin);
    tb.op("main", Op::Fork { child: c });
    let between = tb.op("main", Op::Branch);
    let child_first = tb.op("C", Op::Begin);
    let child_last = tb.op("C", Op::End);
    let join = tb.op("main", Op::Join { child: c });
    let hb = HappensBefore::compute(&tb.finish());
    assert!(hb.ordered(before_fork, child_first));
    assert!(hb.concurrent(between, child_first));
    assert!(hb.ordered(child_last, join));
    assert!(hb.ordered(before_fork, join));
}

#[test]
fn a_late_fork_orders_the_childs_later_events_and_unmatched_join_adds_nothing() {
    // RAPID traces list every thread's `begin` before the fork that starts it.
    let mut tb = Tb::new();
    let c = tb.child("C");
    let early = tb.op("C", Op::Begin);
    let fork = tb.op("main", Op::Fork { child: c });
    let later = tb.op("C", Op::End);
    let ghost = tb.child("ghost");
    let join = tb.op("main", Op::Join { child: ghost }); // never ran: no edge
    let hb = HappensBefore::compute(&tb.finish());
    assert!(hb.ordered(fork, later));
    assert!(hb.concurrent(early, fork));
    assert!(!hb.ordered(later, join));
}

#[test]
fn notify_wake_send_recv_barrier() {
    let mut tb = Tb::new();
    let cv = tb.obj("cv", ObjectKind::Condvar);
    let ch = tb.obj("ch", ObjectKind::Channel);
    let bar = tb.obj("bar", ObjectKind::Barrier);
    let n1 = tb.op(
        "A",
        Op::Notify {
            condvar: cv,
            all: false,
            seq: 1,
        },
    );
    let stale = tb.op(
        "B",
        Op::Wake {
            condvar: cv,
            notified_seen: 0,
            timed_out: false,
        },
    );
    let woke = tb.op(
        "C",
        Op::Wake {
            condvar: cv,
            notified_seen: 1,
            timed_out: false,
        },
    );
    let timed_out = tb.op(
        "D",
        Op::Wake {
            condvar: cv,
            notified_seen: 1,
            timed_out: true,
        },
    );
    let sent = tb.op(
        "A",
        Op::Send {
            channel: ch,
            seq: 7,
        },
    );
    let other = tb.op(
        "A",
        Op::Send {
            channel: ch,
            seq: 8,
        },
    );
    let got = tb.op(
        "B",
        Op::Recv {
            channel: ch,
            seq: 7,
        },
    );
    let arrive_a = tb.op(
        "A",
        Op::BarrierArrive {
            barrier: bar,
            generation: 0,
        },
    );
    let arrive_c = tb.op(
        "C",
        Op::BarrierArrive {
            barrier: bar,
            generation: 0,
        },
    );
    let depart_a = tb.op(
        "A",
        Op::BarrierDepart {
            barrier: bar,
            generation: 0,
        },
    );
    let depart_c = tb.op(
        "C",
        Op::BarrierDepart {
            barrier: bar,
            generation: 0,
        },
    );
    let hb = HappensBefore::compute(&tb.finish());
    assert!(hb.ordered(n1, woke));
    assert!(!hb.ordered(n1, stale));
    assert!(!hb.ordered(n1, timed_out));
    assert!(hb.ordered(sent, got));
    assert!(!hb.ordered(other, got));
    assert!(hb.ordered(arrive_c, depart_a) && hb.ordered(arrive_a, depart_c));
    assert!(hb.concurrent(arrive_a, arrive_c));
}

#[test]
fn release_acquire_atomics() {
    let mut tb = Tb::new();
    let x = tb.obj("x", ObjectKind::Variable);
    let atomic = |write, order, version| Op::Atomic {
        var: x,
        write,
        order,
        version,
    };
    let rel_store = tb.op("A", atomic(true, MemoryOrder::Release, 1));
    let relaxed_store = tb.op("B", atomic(true, MemoryOrder::Relaxed, 2));
    let acq_load = tb.op("C", atomic(false, MemoryOrder::Acquire, 1));
    let relaxed_load = tb.op("D", atomic(false, MemoryOrder::Relaxed, 1));
    let acq_load2 = tb.op("D", atomic(false, MemoryOrder::Acquire, 2));
    let rmw = tb.op("E", atomic(true, MemoryOrder::AcqRel, 2));
    let hb = HappensBefore::compute(&tb.finish());
    assert!(hb.ordered(rel_store, acq_load));
    assert!(!hb.ordered(rel_store, relaxed_load));
    assert!(!hb.ordered(relaxed_store, acq_load2));
    // A read-modify-write writing version 2 read version 1.
    assert!(hb.ordered(rel_store, rmw));
}

// ---------------------------------------------------------------------------------------
// Random traces against a brute-force closure of the edge relation.

fn arb_trace() -> impl Strategy<Value = Trace> {
    let op = (0usize..3, 0u8..6, 0u32..2);
    proptest::collection::vec(op, 0..30).prop_map(|raw| {
        let mut tb = Tb::new();
        let mut held: Vec<Vec<(String, Mode)>> = vec![Vec::new(); 3];
        for (t, kind, x) in raw {
            let name = format!("T{t}");
            let lock = format!("L{x}");
            match kind {
                0 | 1
                    if !held.iter().any(|h| {
                        h.iter()
                            .any(|(l, m)| *l == lock && (*m == Mode::Write || kind == 0))
                    }) =>
                {
                    let mode = if kind == 0 { Mode::Write } else { Mode::Read };
                    tb.acq(&name, &lock, mode);
                    held[t].push((lock, mode));
                }
                2 => {
                    if let Some((l, m)) = held[t].pop() {
                        tb.rel(&name, &l, m);
                    }
                }
                3 => {
                    let cv = tb.obj("cv", ObjectKind::Condvar);
                    let seq =
                        tb.b.trace_mut()
                            .events
                            .iter()
                            .filter(|e| matches!(e.op, Op::Notify { .. }))
                            .count();
                    tb.op(
                        &name,
                        Op::Notify {
                            condvar: cv,
                            all: true,
                            seq: seq as u64 + 1,
                        },
                    );
                }
                4 => {
                    let cv = tb.obj("cv", ObjectKind::Condvar);
                    let seen =
                        tb.b.trace_mut()
                            .events
                            .iter()
                            .filter(|e| matches!(e.op, Op::Notify { .. }))
                            .count();
                    tb.op(
                        &name,
                        Op::Wake {
                            condvar: cv,
                            notified_seen: seen as u64,
                            timed_out: false,
                        },
                    );
                }
                _ => {
                    tb.op(&name, Op::Branch);
                }
            }
        }
        tb.finish()
    })
}

/// Direct edges, then Floyd–Warshall style transitive closure.
fn brute_hb(trace: &Trace) -> Vec<Vec<bool>> {
    let n = trace.events.len();
    let mut r = vec![vec![false; n]; n];
    for b in 0..n {
        let eb = trace.events[b];
        for a in 0..b {
            let ea = trace.events[a];
            let edge = ea.thread == eb.thread
                || match (ea.op, eb.op) {
                    (
                        Op::Release { lock: la, mode: ma },
                        Op::Acquire {
                            lock: lb, mode: mb, ..
                        },
                    ) => la == lb && (ma == Mode::Write || mb == Mode::Write),
                    (Op::Notify { seq, .. }, Op::Wake { notified_seen, .. }) => {
                        notified_seen >= seq
                    }
                    (Op::Notify { .. }, Op::Notify { .. }) => true, // the condvar serialises notifications
                    _ => false,
                };
            r[a][b] = edge;
        }
    }
    for k in 0..n {
        for a in 0..n {
            if r[a][k] {
                for b in 0..n {
                    if r[k][b] {
                        r[a][b] = true;
                    }
                }
            }
        }
    }
    r
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn vector_clocks_match_transitive_closure(trace in arb_trace()) {
        let hb = HappensBefore::compute(&trace);
        let want = brute_hb(&trace);
        for a in 0..trace.events.len() {
            for b in 0..trace.events.len() {
                prop_assert_eq!(hb.ordered(a, b), want[a][b], "{} -> {} in {:#?}", a, b, trace.events);
            }
        }
    }
}

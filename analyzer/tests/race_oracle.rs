//! The epoch engine against independent oracles:
//!
//! * a brute-force happens-before (a full vector clock per event, built by
//!   scanning every earlier event for a synchronisation source) and all-pairs
//!   race check, on random small traces: same racy variables, every reported
//!   pair a true race, every lost update witnessed; and the brute-force
//!   happens-before agrees with `predict::HappensBefore` (rule parity);
//! * a streaming full-vector-clock detector (clock per event, each access
//!   checked against every thread's latest conflicting accesses) on the shared
//!   RAPID traces: same racy variables.

// The oracles index clocks by thread number; index loops read most plainly.
#![allow(clippy::needless_range_loop)]

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use analyzer::model::{
    Attempt, Event, MemoryOrder, Mode, ObjIdx, ObjectKind, Op, SiteIdx, ThreadIdx, Trace,
    TraceBuilder,
};
use analyzer::predict::HappensBefore;
use analyzer::race::{RaceOptions, detect};
use analyzer::trace::{LoadOptions, load_path};
use proptest::prelude::*;

fn releases(o: MemoryOrder) -> bool {
    matches!(
        o,
        MemoryOrder::Release | MemoryOrder::AcqRel | MemoryOrder::SeqCst
    )
}

fn acquires(o: MemoryOrder) -> bool {
    matches!(
        o,
        MemoryOrder::Acquire | MemoryOrder::AcqRel | MemoryOrder::SeqCst
    )
}

fn n_threads(trace: &Trace) -> usize {
    trace.threads.len().max(
        trace
            .events
            .iter()
            .map(|e| e.thread.0 as usize + 1)
            .max()
            .unwrap_or(0),
    )
}

fn join(dst: &mut [u32], src: &[u32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = (*d).max(*s);
    }
}

/// Whether earlier event `a` sends to later event `b` (one direct edge).
fn direct_edge(trace: &Trace, a: usize, b: usize) -> bool {
    let (ea, eb) = (&trace.events[a], &trace.events[b]);
    if ea.thread == eb.thread {
        return false;
    }
    match (ea.op, eb.op) {
        (Op::Fork { child }, _) => child == eb.thread,
        (
            Op::Release { lock: l1, mode: m1 },
            Op::Acquire {
                lock: l2, mode: m2, ..
            },
        ) => {
            l1 == l2
                && match m1 {
                    Mode::Write => true,
                    Mode::Read => m2 == Mode::Write,
                    Mode::Upgradable => m2 != Mode::Read,
                }
        }
        (
            Op::Notify {
                condvar: c1, seq, ..
            },
            Op::Wake {
                condvar: c2,
                notified_seen,
                timed_out: false,
            },
        ) => c1 == c2 && seq <= notified_seen,
        (
            Op::Notify {
                condvar: c1,
                seq: s1,
                ..
            },
            Op::Notify {
                condvar: c2,
                seq: s2,
                ..
            },
        ) => c1 == c2 && s1 < s2,
        (
            Op::Send {
                channel: c1,
                seq: s1,
            },
            Op::Recv {
                channel: c2,
                seq: s2,
            },
        ) => c1 == c2 && s1 == s2,
        (
            Op::BarrierArrive {
                barrier: b1,
                generation: g1,
            },
            Op::BarrierDepart {
                barrier: b2,
                generation: g2,
            },
        ) => b1 == b2 && g1 == g2,
        (
            Op::Atomic {
                var: v1,
                write: true,
                order: o1,
                version: ver1,
            },
            Op::Atomic {
                var: v2,
                write: w2,
                order: o2,
                version: ver2,
            },
        ) => {
            let read = if w2 { ver2.checked_sub(1) } else { Some(ver2) };
            v1 == v2 && releases(o1) && acquires(o2) && read == Some(ver1)
        }
        _ => false,
    }
}

/// Brute force: a full clock per event, from program order, joins, and every
/// earlier event with a direct edge to it. Quadratic; small traces only.
fn brute_clocks(trace: &Trace) -> Vec<Vec<u32>> {
    let n = n_threads(trace);
    let mut clocks: Vec<Vec<u32>> = Vec::with_capacity(trace.events.len());
    let mut last: Vec<Option<usize>> = vec![None; n];
    let mut count = vec![0u32; n];
    let mut forked_at: Vec<Option<usize>> = vec![None; n];
    for j in 0..trace.events.len() {
        let u = trace.events[j].thread.0 as usize;
        let mut c = match last[u] {
            Some(p) => clocks[p].clone(),
            None => vec![0; n],
        };
        count[u] += 1;
        c[u] = count[u];
        for i in 0..j {
            if direct_edge(trace, i, j) {
                let src = clocks[i].clone();
                join(&mut c, &src);
            }
        }
        // A join takes the child's last event's clock; a child that recorded
        // nothing ends with the clock it was forked with.
        if let Op::Join { child } = trace.events[j].op
            && child.0 as usize != u
            && let Some(p) = last
                .get(child.0 as usize)
                .copied()
                .flatten()
                .or_else(|| forked_at.get(child.0 as usize).copied().flatten())
        {
            let src = clocks[p].clone();
            join(&mut c, &src);
        }
        c[u] = count[u];
        clocks.push(c);
        last[u] = Some(j);
        if let Op::Fork { child } = trace.events[j].op
            && let Some(f) = forked_at.get_mut(child.0 as usize)
        {
            *f = Some(j);
        }
    }
    clocks
}

fn ordered(trace: &Trace, clocks: &[Vec<u32>], a: usize, b: usize) -> bool {
    let t = trace.events[a].thread.0 as usize;
    a != b && clocks[b][t] >= clocks[a][t]
}

/// (var, writes, atomic) of an access.
fn access(op: &Op) -> Option<(ObjIdx, bool, bool)> {
    match *op {
        Op::Read { var } => Some((var, false, false)),
        Op::Write { var } => Some((var, true, false)),
        Op::Atomic { var, write, .. } => Some((var, write, true)),
        _ => None,
    }
}

fn conflicting(trace: &Trace, a: usize, b: usize) -> bool {
    let (ea, eb) = (&trace.events[a], &trace.events[b]);
    match (access(&ea.op), access(&eb.op)) {
        (Some((va, wa, aa)), Some((vb, wb, ab))) => {
            va == vb && ea.thread != eb.thread && (wa || wb) && !(aa && ab)
        }
        _ => false,
    }
}

/// All-pairs racy variables under `clocks`.
fn all_pairs_racy(trace: &Trace, clocks: &[Vec<u32>]) -> BTreeSet<ObjIdx> {
    let mut racy = BTreeSet::new();
    for b in 0..trace.events.len() {
        for a in 0..b {
            if conflicting(trace, a, b) && !ordered(trace, clocks, a, b) {
                racy.insert(access(&trace.events[a].op).unwrap().0);
            }
        }
    }
    racy
}

/// A standard streaming vector-clock detector: a full clock per thread, each
/// access checked against every thread's latest plain/atomic read and write of
/// the variable (an earlier access of that thread happens before its latest).
fn streaming_racy(trace: &Trace) -> BTreeSet<ObjIdx> {
    let n = n_threads(trace);
    let mut c: Vec<Vec<u32>> = vec![vec![0; n]; n];
    let mut lock_w: HashMap<ObjIdx, Vec<u32>> = HashMap::new();
    let mut lock_r: HashMap<ObjIdx, Vec<u32>> = HashMap::new();
    let mut lock_u: HashMap<ObjIdx, Vec<u32>> = HashMap::new();
    let mut notify: HashMap<(ObjIdx, u64), Vec<u32>> = HashMap::new();
    let mut send: HashMap<(ObjIdx, u64), Vec<u32>> = HashMap::new();
    let mut arrive: HashMap<(ObjIdx, u64), Vec<u32>> = HashMap::new();
    let mut store: HashMap<(ObjIdx, u64), Vec<u32>> = HashMap::new();
    // (var, thread, kind 0..4) → clock value of that thread at its latest such access.
    let mut latest: HashMap<(ObjIdx, usize, u8), u32> = HashMap::new();
    let mut racy = BTreeSet::new();
    for ev in &trace.events {
        let u = ev.thread.0 as usize;
        c[u][u] += 1;
        let mut incoming: Vec<Vec<u32>> = Vec::new();
        match ev.op {
            Op::Acquire { lock, mode, .. } => {
                incoming.extend(lock_w.get(&lock).cloned());
                if mode == Mode::Write {
                    incoming.extend(lock_r.get(&lock).cloned());
                }
                if mode != Mode::Read {
                    incoming.extend(lock_u.get(&lock).cloned());
                }
            }
            Op::Join { child } if child.0 as usize != u => {
                incoming.push(c[child.0 as usize].clone());
            }
            Op::Wake {
                condvar,
                notified_seen,
                timed_out: false,
            } => incoming.extend(notify.get(&(condvar, notified_seen)).cloned()),
            Op::Notify { condvar, seq, .. } if seq > 1 => {
                incoming.extend(notify.get(&(condvar, seq - 1)).cloned())
            }
            Op::Recv { channel, seq } => incoming.extend(send.get(&(channel, seq)).cloned()),
            Op::BarrierDepart {
                barrier,
                generation,
            } => incoming.extend(arrive.get(&(barrier, generation)).cloned()),
            Op::Atomic {
                var,
                write,
                order,
                version,
            } if acquires(order) => {
                let read = if write {
                    version.checked_sub(1)
                } else {
                    Some(version)
                };
                if let Some(v) = read {
                    incoming.extend(store.get(&(var, v)).cloned());
                }
            }
            _ => {}
        }
        for inc in incoming {
            let own = c[u][u];
            join(&mut c[u], &inc);
            c[u][u] = own;
        }
        if let Some((var, writes, atomic)) = access(&ev.op) {
            let kind = u8::from(writes) | (u8::from(atomic) << 1);
            for t in 0..n {
                if t == u {
                    continue;
                }
                for k in 0..4u8 {
                    let (kw, ka) = (k & 1 == 1, k & 2 == 2);
                    if !(writes || kw) || (atomic && ka) {
                        continue;
                    }
                    if let Some(&e) = latest.get(&(var, t, k))
                        && e > c[u][t]
                    {
                        racy.insert(var);
                    }
                }
            }
            latest.insert((var, u, kind), c[u][u]);
        }
        let cu = c[u].clone();
        match ev.op {
            Op::Release { lock, mode } => match mode {
                Mode::Write => {
                    lock_w.insert(lock, cu);
                    lock_r.remove(&lock);
                    lock_u.remove(&lock);
                }
                Mode::Read => join(lock_r.entry(lock).or_insert_with(|| vec![0; n]), &cu),
                Mode::Upgradable => join(lock_u.entry(lock).or_insert_with(|| vec![0; n]), &cu),
            },
            Op::Fork { child } if child.0 as usize != u => {
                let ch = child.0 as usize;
                let own = c[ch][ch];
                join(&mut c[ch], &cu);
                c[ch][ch] = own;
            }
            Op::Notify { condvar, seq, .. } => {
                notify.insert((condvar, seq), cu);
            }
            Op::Send { channel, seq } => {
                send.insert((channel, seq), cu);
            }
            Op::BarrierArrive {
                barrier,
                generation,
            } => join(
                arrive
                    .entry((barrier, generation))
                    .or_insert_with(|| vec![0; n]),
                &cu,
            ),
            Op::Atomic {
                var,
                write: true,
                order,
                version,
            } if releases(order) => {
                store.insert((var, version), cu);
            }
            _ => {}
        }
    }
    racy
}

/// Random trace intents: (thread, what, operand, operand), interpreted into a
/// well-formed trace (invalid intents are skipped).
fn arb_intents() -> impl Strategy<Value = Vec<(u8, u8, u8, u8)>> {
    proptest::collection::vec((0u8..4, 0u8..12, any::<u8>(), any::<u8>()), 0..60)
}

const ORDERS: [MemoryOrder; 5] = [
    MemoryOrder::Relaxed,
    MemoryOrder::Acquire,
    MemoryOrder::Release,
    MemoryOrder::AcqRel,
    MemoryOrder::SeqCst,
];

fn build(intents: &[(u8, u8, u8, u8)]) -> Trace {
    let mut b = TraceBuilder::new("random");
    let threads: Vec<ThreadIdx> = (0..4).map(|i| b.thread(&format!("T{i}"))).collect();
    let vars: Vec<ObjIdx> = (0..3)
        .map(|i| b.object(&format!("v{i}"), ObjectKind::Variable))
        .collect();
    let locks: Vec<ObjIdx> = (0..2)
        .map(|i| b.object(&format!("L{i}"), ObjectKind::RwLock))
        .collect();
    let cv = b.object("cv", ObjectKind::Condvar);
    let ch = b.object("ch", ObjectKind::Channel);
    let mut forked = [true, false, false, false];
    let mut joined = [false; 4];
    // Per lock: writer, readers.
    let mut writer: [Option<usize>; 2] = [None; 2];
    let mut readers: [Vec<usize>; 2] = [vec![], vec![]];
    let mut held: Vec<Vec<(usize, Mode)>> = vec![vec![]; 4];
    let mut version = [0u64; 3];
    let mut notifies = 0u64;
    let (mut sent, mut received) = (0u64, 0u64);
    for &(t, what, a, x) in intents {
        let t = t as usize;
        if !forked[t] || joined[t] {
            continue;
        }
        let op = match what {
            0 => {
                let c = 1 + a as usize % 3;
                if forked[c] {
                    continue;
                }
                forked[c] = true;
                Op::Fork { child: threads[c] }
            }
            1 => {
                let c = a as usize % 4;
                if c == t || !forked[c] || joined[c] || !held[c].is_empty() {
                    continue;
                }
                joined[c] = true;
                Op::Join { child: threads[c] }
            }
            2 => {
                let l = a as usize % 2;
                let mode = [Mode::Write, Mode::Read][x as usize % 2];
                if held[t].iter().any(|&(h, _)| h == l)
                    || writer[l].is_some()
                    || (mode == Mode::Write && !readers[l].is_empty())
                {
                    continue;
                }
                match mode {
                    Mode::Write => writer[l] = Some(t),
                    _ => readers[l].push(t),
                }
                held[t].push((l, mode));
                Op::Acquire {
                    lock: locks[l],
                    mode,
                    attempt: Attempt::Blocking,
                }
            }
            3 | 4 => {
                let Some((l, mode)) = held[t].pop() else {
                    continue;
                };
                match mode {
                    Mode::Write => writer[l] = None,
                    _ => readers[l].retain(|&r| r != t),
                }
                Op::Release {
                    lock: locks[l],
                    mode,
                }
            }
            5 => Op::Read {
                var: vars[a as usize % 3],
            },
            6 => Op::Write {
                var: vars[a as usize % 3],
            },
            7 | 8 => {
                let v = a as usize % 3;
                let write = x & 1 == 1;
                if write {
                    version[v] += 1;
                }
                Op::Atomic {
                    var: vars[v],
                    write,
                    order: ORDERS[(x >> 1) as usize % 5],
                    version: version[v],
                }
            }
            9 => {
                notifies += 1;
                Op::Notify {
                    condvar: cv,
                    all: x & 1 == 1,
                    seq: notifies,
                }
            }
            10 => Op::Wake {
                condvar: cv,
                notified_seen: notifies,
                timed_out: x & 1 == 1,
            },
            _ => {
                if x & 1 == 0 {
                    sent += 1;
                    Op::Send {
                        channel: ch,
                        seq: sent,
                    }
                } else {
                    if received == sent {
                        continue;
                    }
                    received += 1;
                    Op::Recv {
                        channel: ch,
                        seq: received,
                    }
                }
            }
        };
        b.push(Event {
            thread: threads[t],
            op,
            site: SiteIdx((what as u32 * 7 + a as u32 % 5) % 23),
        });
    }
    let mut trace = b.finish();
    // Sites are raw indices in this test; give every index a distinct site.
    trace.sites = (0..23)
        .map(|i| analyzer::model::Site {
            file: Some("r.rs".to_owned()),
            line: i,
            column: 0,
        })
        .collect();
    trace
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn epoch_engine_matches_the_brute_force_oracle(intents in arb_intents()) {
        let trace = build(&intents);
        let clocks = brute_clocks(&trace);
        let expected = all_pairs_racy(&trace, &clocks);
        let report = detect(&trace, &RaceOptions { lockset: true, max_pairs: usize::MAX });
        let got: BTreeSet<ObjIdx> = report.racy_vars.iter().copied().collect();
        prop_assert_eq!(&got, &expected);
        prop_assert_eq!(&streaming_racy(&trace), &expected);
        for p in &report.races {
            prop_assert!(p.first.event < p.second.event);
            prop_assert!(conflicting(&trace, p.first.event, p.second.event));
            prop_assert!(!ordered(&trace, &clocks, p.first.event, p.second.event));
        }
        for l in &report.lost_updates {
            prop_assert_eq!(l.read.thread, l.write.thread);
            prop_assert!(l.read.event < l.write.event);
            prop_assert!(l.interferer.thread != l.read.thread);
            prop_assert!(l.interferer.kind.writes());
            prop_assert!(!ordered(&trace, &clocks, l.interferer.event, l.read.event));
            prop_assert!(!ordered(&trace, &clocks, l.write.event, l.interferer.event));
        }
        for p in &report.potential {
            prop_assert!(p.first.thread != p.second.thread);
        }
    }

    #[test]
    fn brute_force_happens_before_agrees_with_predict_hb(intents in arb_intents()) {
        // Children never run before their fork here, where both rule sets agree.
        let trace = build(&intents);
        let clocks = brute_clocks(&trace);
        let hb = HappensBefore::compute(&trace);
        for b in 0..trace.events.len() {
            for a in 0..trace.events.len() {
                prop_assert_eq!(
                    ordered(&trace, &clocks, a, b),
                    hb.ordered(a, b),
                    "events {} and {}", a, b
                );
            }
        }
    }
}

#[test]
fn a_join_of_a_child_that_recorded_nothing_still_follows_its_fork() {
    // T0 forks T3; T3 writes v0, then forks T2, which records nothing; T0
    // joins T2 and reads v0: the write happens before the read, through T2.
    let trace = build(&[
        (0, 0, 2, 0),
        (3, 6, 93, 0),
        (3, 0, 82, 0),
        (0, 1, 126, 0),
        (0, 5, 15, 0),
    ]);
    assert_eq!(trace.events.len(), 5);
    assert!(HappensBefore::compute(&trace).ordered(1, 4));
    let report = detect(
        &trace,
        &RaceOptions {
            lockset: false,
            max_pairs: usize::MAX,
        },
    );
    assert!(report.racy_vars.is_empty(), "{:?}", report.races);
    assert!(streaming_racy(&trace).is_empty());
}

#[test]
fn shared_std_traces_match_the_streaming_oracle() {
    let dir = Path::new("/work/shared/traces/std");
    if !dir.is_dir() {
        eprintln!("skipped: {} is not present", dir.display());
        return;
    }
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .chain(std::fs::read_dir(dir.join("condvar")).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "std"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for path in files {
        let trace = load_path(&path, &LoadOptions::default()).unwrap();
        let report = detect(&trace, &RaceOptions::default());
        let got: BTreeSet<ObjIdx> = report.racy_vars.iter().copied().collect();
        let checked = trace.events.len() <= 200_000;
        if checked {
            assert_eq!(got, streaming_racy(&trace), "{}", path.display());
        }
        println!(
            "{}: {} events, {} racy variables, {} race pairs, {} lost updates{}",
            path.file_name().unwrap().to_string_lossy(),
            trace.events.len(),
            got.len(),
            report.races.len(),
            report.lost_updates.len(),
            if checked { " (oracle agrees)" } else { "" }
        );
    }
}

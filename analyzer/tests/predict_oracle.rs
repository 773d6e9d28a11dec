//! Property tests of pattern search and sync-preserving confirmation against brute-force
//! oracles on small random traces.

use std::collections::{BTreeSet, HashMap};

use analyzer::model::{
    Attempt, Event, Mode, ObjIdx, ObjectKind, Op, SiteIdx, ThreadIdx, Trace, TraceBuilder,
};
use analyzer::predict::{
    DeadlockPattern, LockDependency, Witness, confirm, deadlock_patterns, is_pattern,
    lock_dependencies,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// Pattern search versus all permutations.

/// All patterns by brute force: every ordered selection of 2..=max_len distinct
/// dependencies that `is_pattern` accepts, canonicalised by rotation.
fn brute_patterns(deps: &[LockDependency], max_len: usize) -> BTreeSet<Vec<usize>> {
    fn go(
        deps: &[LockDependency],
        max_len: usize,
        path: &mut Vec<usize>,
        out: &mut BTreeSet<Vec<usize>>,
    ) {
        if path.len() >= 2 && brute_is_pattern(deps, path) {
            let m = (0..path.len()).min_by_key(|&i| path[i]).unwrap();
            let mut rot = path[m..].to_vec();
            rot.extend_from_slice(&path[..m]);
            out.insert(rot);
        }
        if path.len() == max_len {
            return;
        }
        for d in 0..deps.len() {
            if !path.contains(&d) {
                path.push(d);
                go(deps, max_len, path, out);
                path.pop();
            }
        }
    }
    let mut out = BTreeSet::new();
    go(deps, max_len, &mut Vec::new(), &mut out);
    out
}

/// The pattern definition, written out independently of the library's `is_pattern`.
fn brute_is_pattern(deps: &[LockDependency], cycle: &[usize]) -> bool {
    let k = cycle.len();
    let conflict = |a: Mode, b: Mode| {
        !matches!(
            (a, b),
            (Mode::Read, Mode::Read)
                | (Mode::Read, Mode::Upgradable)
                | (Mode::Upgradable, Mode::Read)
        )
    };
    for x in 0..k {
        let (d, next) = (&deps[cycle[x]], &deps[cycle[(x + 1) % k]]);
        let Some(&(_, held_mode)) = next.held.iter().find(|h| h.0 == d.lock) else {
            return false;
        };
        if !conflict(d.mode, held_mode) {
            return false;
        }
        for y in 0..k {
            if x == y {
                continue;
            }
            let e = &deps[cycle[y]];
            if d.thread == e.thread
                || d.lock == e.lock
                || d.held.iter().any(|h| e.held.iter().any(|g| g.0 == h.0))
            {
                return false;
            }
        }
    }
    true
}

fn arb_mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Write), Just(Mode::Read), Just(Mode::Upgradable)]
}

fn arb_deps() -> impl Strategy<Value = Vec<LockDependency>> {
    let dep = (
        0u32..3,
        0u32..4,
        arb_mode(),
        proptest::collection::btree_map(0u32..4, arb_mode(), 1..3),
    );
    proptest::collection::vec(dep, 0..7).prop_map(|raw| {
        let mut deps: Vec<LockDependency> = raw
            .into_iter()
            .filter_map(|(t, l, mode, held)| {
                let held: Vec<(ObjIdx, Mode)> = held
                    .into_iter()
                    .filter(|&(h, _)| h != l)
                    .map(|(h, m)| (ObjIdx(h), m))
                    .collect();
                (!held.is_empty()).then(|| LockDependency {
                    thread: ThreadIdx(t),
                    lock: ObjIdx(l),
                    mode,
                    held,
                    instances: Vec::new(),
                })
            })
            .collect();
        deps.sort_by(|a, b| {
            (a.thread, a.lock, &a.held, a.mode).cmp(&(b.thread, b.lock, &b.held, b.mode))
        });
        deps.dedup_by(|a, b| {
            (a.thread, a.lock, &a.held, a.mode) == (b.thread, b.lock, &b.held, b.mode)
        });
        deps
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn patterns_match_brute_force(deps in arb_deps(), max_len in 2usize..5) {
        let got = deadlock_patterns(&deps, max_len, 10_000);
        let want = brute_patterns(&deps, max_len);
        let got_set: BTreeSet<Vec<usize>> = got.patterns.iter().map(|p| p.deps.clone()).collect();
        prop_assert_eq!(got_set.len(), got.patterns.len(), "duplicates in {:?}", got.patterns);
        prop_assert_eq!(&got_set, &want);
        for p in &got.patterns {
            prop_assert!(is_pattern(&deps, &p.deps));
        }
        // Truncation by length: set only if a longer pattern might exist; when the full
        // search finds more, the bounded one must say so.
        let full = brute_patterns(&deps, deps.len().max(2));
        if full.len() > want.len() {
            prop_assert!(got.truncated);
        }
        // Truncation by count.
        if !want.is_empty() {
            let cut = deadlock_patterns(&deps, max_len, want.len() - 1);
            prop_assert!(cut.truncated);
            prop_assert_eq!(cut.patterns.len(), want.len() - 1);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Confirmation versus all downward-closed prefixes.

/// Random small programs: per thread a list of well-nested lock sections and variable
/// accesses, interleaved by a random schedule that respects mutual exclusion.
#[derive(Clone, Debug)]
enum Step {
    Lock(u32, Mode),
    Unlock,
    Read(u32),
    Write(u32),
}

fn arb_program() -> impl Strategy<Value = Vec<Step>> {
    let mode = || prop_oneof![3 => Just(Mode::Write), 1 => Just(Mode::Read)];
    let access = || {
        proptest::option::of(prop_oneof![
            (0u32..2).prop_map(Step::Read),
            (0u32..2).prop_map(Step::Write)
        ])
    };
    // A block: lock a { access; lock b { access } } access — the shape that makes dependencies.
    let lock = || prop_oneof![3 => Just(0u32), 3 => Just(1u32), 1 => Just(2u32)];
    let block = (
        lock(),
        mode(),
        proptest::option::weighted(0.85, (lock(), mode())),
        access(),
        access(),
        access(),
    )
        .prop_map(|(a, ma, inner, x, y, z)| {
            let mut steps = vec![Step::Lock(a, ma)];
            steps.extend(x);
            if let Some((b, mb)) = inner {
                steps.push(Step::Lock(b, mb));
                steps.extend(y);
                steps.push(Step::Unlock);
            }
            steps.push(Step::Unlock);
            steps.extend(z);
            steps
        });
    proptest::collection::vec(block, 1..3).prop_map(|blocks| blocks.concat())
}

/// Builds a trace: thread 0 optionally forks and joins the others.
fn build_trace(programs: &[Vec<Step>], schedule: &[usize], fork_join: bool, rw: bool) -> Trace {
    let mut b = TraceBuilder::new("random");
    let threads: Vec<ThreadIdx> = (0..programs.len())
        .map(|i| b.thread(&format!("T{i}")))
        .collect();
    let kind = if rw {
        ObjectKind::RwLock
    } else {
        ObjectKind::Mutex
    };
    let locks: Vec<ObjIdx> = (0..3).map(|i| b.object(&format!("L{i}"), kind)).collect();
    let vars: Vec<ObjIdx> = (0..2)
        .map(|i| b.object(&format!("x{i}"), ObjectKind::Variable))
        .collect();
    // Expand each program into ops, closing sections so they are well nested.
    let mode_of = |m: Mode| if rw { m } else { Mode::Write };
    let mut ops: Vec<Vec<Op>> = Vec::new();
    for prog in programs {
        let mut out = Vec::new();
        let mut held: Vec<(ObjIdx, Mode)> = Vec::new();
        for s in prog {
            match *s {
                Step::Lock(l, m) => {
                    let lock = locks[l as usize];
                    if held.iter().any(|h| h.0 == lock) {
                        // Re-locking a held lock would self-deadlock; keep the nesting balanced.
                        held.push((ObjIdx(u32::MAX), mode_of(m)));
                        continue;
                    }
                    let mode = mode_of(m);
                    out.push(Op::Acquire {
                        lock,
                        mode,
                        attempt: Attempt::Blocking,
                    });
                    held.push((lock, mode));
                }
                Step::Unlock => {
                    if let Some((lock, mode)) = held.pop().filter(|h| h.0 != ObjIdx(u32::MAX)) {
                        out.push(Op::Release { lock, mode });
                    }
                }
                Step::Read(v) => out.push(Op::Read {
                    var: vars[v as usize],
                }),
                Step::Write(v) => out.push(Op::Write {
                    var: vars[v as usize],
                }),
            }
        }
        while let Some((lock, mode)) = held.pop() {
            if lock != ObjIdx(u32::MAX) {
                out.push(Op::Release { lock, mode });
            }
        }
        ops.push(out);
    }
    if fork_join {
        for (i, &t) in threads.iter().enumerate().skip(1) {
            ops[0].insert(0, Op::Fork { child: t });
            let _ = i;
        }
        for &t in threads.iter().skip(1) {
            ops[0].push(Op::Join { child: t });
        }
    }
    // Interleave: the schedule picks among enabled threads.
    let mut next = vec![0usize; ops.len()];
    let mut holders: HashMap<ObjIdx, Vec<(usize, Mode)>> = HashMap::new();
    let mut started = vec![!fork_join; ops.len()];
    started[0] = true;
    let mut k = 0;
    loop {
        let enabled: Vec<usize> = (0..ops.len())
            .filter(|&t| {
                started[t]
                    && next[t] < ops[t].len()
                    && match ops[t][next[t]] {
                        Op::Acquire { lock, mode, .. } => holders.get(&lock).is_none_or(|hs| {
                            hs.iter()
                                .all(|&(h, m)| h == t || (mode == Mode::Read && m == Mode::Read))
                        }),
                        Op::Join { child } => next[child.0 as usize] == ops[child.0 as usize].len(),
                        _ => true,
                    }
            })
            .collect();
        if enabled.is_empty() {
            break;
        }
        let t = enabled[schedule.get(k).copied().unwrap_or(0) % enabled.len()];
        k += 1;
        let op = ops[t][next[t]];
        next[t] += 1;
        match op {
            Op::Acquire { lock, mode, .. } => holders.entry(lock).or_default().push((t, mode)),
            Op::Release { lock, .. } => {
                let hs = holders.get_mut(&lock).unwrap();
                let p = hs.iter().position(|&(h, _)| h == t).unwrap();
                hs.remove(p);
            }
            Op::Fork { child } => started[child.0 as usize] = true,
            _ => {}
        }
        b.push(Event {
            thread: threads[t],
            op,
            site: SiteIdx::UNKNOWN,
        });
    }
    b.finish()
}

/// Whether the per-thread prefix `p` (a set of events) is closed under the rules, checked
/// directly from their definitions.
fn closed(trace: &Trace, thread_events: &[Vec<usize>], p: &[usize]) -> bool {
    let n = trace.events.len();
    let mut in_s = vec![false; n];
    for (t, evs) in thread_events.iter().enumerate() {
        for &e in &evs[..p[t]] {
            in_s[e] = true;
        }
    }
    let thread_of = |e: usize| trace.events[e].thread.0 as usize;
    for e in (0..n).filter(|&e| in_s[e]) {
        let ev = trace.events[e];
        let t = thread_of(e);
        // A forked thread's events need the fork.
        for (f, fe) in trace.events.iter().enumerate() {
            if let Op::Fork { child } = fe.op
                && child.0 as usize == t
                && f < thread_events[t][0]
                && !in_s[f]
            {
                return false;
            }
        }
        match ev.op {
            Op::Join { child }
                if thread_events[child.0 as usize]
                    .iter()
                    .any(|&c| c < e && !in_s[c]) =>
            {
                return false;
            }
            Op::Read { var } => {
                let w = (0..e)
                    .rev()
                    .find(|&w| matches!(trace.events[w].op, Op::Write { var: v } if v == var));
                if w.is_some_and(|w| !in_s[w]) {
                    return false;
                }
            }
            _ => {}
        }
    }
    // Sync-preservation: of two conflicting acquisitions in S, the earlier one's release is in S.
    let release_of = |a: usize| -> Option<usize> {
        let Op::Acquire { lock, .. } = trace.events[a].op else {
            unreachable!()
        };
        (a + 1..n).find(|&r| {
            thread_of(r) == thread_of(a)
                && matches!(trace.events[r].op, Op::Release { lock: l, .. } if l == lock)
        })
    };
    for a in (0..n).filter(|&a| in_s[a]) {
        let Op::Acquire { lock, mode: ma, .. } = trace.events[a].op else {
            continue;
        };
        for b in (a + 1..n).filter(|&b| in_s[b]) {
            let Op::Acquire {
                lock: lb, mode: mb, ..
            } = trace.events[b].op
            else {
                continue;
            };
            if lb == lock && !(ma == Mode::Read && mb == Mode::Read) {
                match release_of(a) {
                    Some(r) if in_s[r] => {}
                    _ => return false,
                }
            }
        }
    }
    true
}

/// Whether some tuple of instances of `pattern` has a closed prefix that stops exactly at
/// every blocking event: all prefix vectors are tried.
fn oracle_confirms(trace: &Trace, deps: &[LockDependency], pattern: &DeadlockPattern) -> bool {
    let n_threads = trace.threads.len();
    let mut thread_events = vec![Vec::new(); n_threads];
    let mut local = vec![0; trace.events.len()];
    for (i, e) in trace.events.iter().enumerate() {
        local[i] = thread_events[e.thread.0 as usize].len();
        thread_events[e.thread.0 as usize].push(i);
    }
    let mut p = vec![0usize; n_threads];
    loop {
        let matches = pattern.deps.iter().all(|&d| {
            let dep = &deps[d];
            dep.instances.iter().any(|inst| {
                let e = inst.request.unwrap_or(inst.acquire);
                p[dep.thread.0 as usize] == local[e]
            })
        });
        if matches && closed(trace, &thread_events, &p) {
            return true;
        }
        // Next prefix vector.
        let mut t = 0;
        loop {
            if t == n_threads {
                return false;
            }
            if p[t] < thread_events[t].len() {
                p[t] += 1;
                break;
            }
            p[t] = 0;
            t += 1;
        }
    }
}

/// A witness is a real deadlock: running its prefix in trace order respects every lock,
/// and leaves each pattern thread blocked on a lock the next one holds.
fn check_witness(
    trace: &Trace,
    deps: &[LockDependency],
    pattern: &DeadlockPattern,
    w: &Witness,
) -> Result<(), String> {
    let mut count = vec![0usize; trace.threads.len()];
    let mut holders: HashMap<ObjIdx, Vec<(usize, Mode)>> = HashMap::new();
    for ev in &trace.events {
        let t = ev.thread.0 as usize;
        if count[t] >= w.thread_prefix[t] {
            continue;
        }
        count[t] += 1;
        match ev.op {
            Op::Acquire { lock, mode, .. } => {
                let hs = holders.entry(lock).or_default();
                if hs
                    .iter()
                    .any(|&(h, m)| h != t && !(m == Mode::Read && mode == Mode::Read))
                {
                    return Err(format!("acquire of {lock:?} by {t} while held: {hs:?}"));
                }
                hs.push((t, mode));
            }
            Op::Release { lock, .. } => {
                let hs = holders.get_mut(&lock).ok_or("release of unheld lock")?;
                let p = hs
                    .iter()
                    .position(|&(h, _)| h == t)
                    .ok_or("release of unheld lock")?;
                hs.remove(p);
            }
            _ => {}
        }
    }
    let k = pattern.deps.len();
    for (x, &d) in pattern.deps.iter().enumerate() {
        let dep = &deps[d];
        let next = &deps[pattern.deps[(x + 1) % k]];
        let hs = holders.get(&dep.lock).cloned().unwrap_or_default();
        if !hs.iter().any(|&(h, m)| {
            h == next.thread.0 as usize && !(m == Mode::Read && dep.mode == Mode::Read)
        }) {
            return Err(format!(
                "{:?} is not blocked by {:?}",
                dep.thread, next.thread
            ));
        }
        let e = w.events[x];
        if trace.events[e].thread != dep.thread {
            return Err("witness event on the wrong thread".into());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8000))]

    #[test]
    fn confirm_matches_prefix_oracle(
        programs in proptest::collection::vec(arb_program(), 2..4),
        schedule in proptest::collection::vec(0usize..6, 0..40),
        fork_join in any::<bool>(),
        rw in any::<bool>(),
    ) {
        let trace = build_trace(&programs, &schedule, fork_join, rw);
        if trace.events.len() > 22 {
            // Too many prefix vectors for the oracle; most cases are smaller.
            return Ok(());
        }
        let deps = lock_dependencies(&trace);
        let search = deadlock_patterns(&deps.deps, 4, 100);
        for p in &search.patterns {
            let got = confirm(&trace, &deps.deps, p);
            let want = oracle_confirms(&trace, &deps.deps, p);
            prop_assert_eq!(got.is_some(), want, "pattern {:?} in {:#?}", p, trace.events);
            if let Some(w) = got {
                prop_assert_eq!(w.prefix_len, w.thread_prefix.iter().sum::<usize>());
                if let Err(e) = check_witness(&trace, &deps.deps, p, &w) {
                    prop_assert!(false, "bad witness {:?}: {}", w, e);
                }
            }
        }
    }
}

/// The random traces must exercise both outcomes, or the oracle comparison proves little.
#[test]
fn random_traces_give_confirmed_and_refuted_patterns() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = (
        proptest::collection::vec(arb_program(), 2..4),
        proptest::collection::vec(0usize..6, 0..40),
        any::<bool>(),
        any::<bool>(),
    );
    let (mut patterns, mut confirmed) = (0, 0);
    for _ in 0..2000 {
        let (programs, schedule, fork_join, rw) = strategy.new_tree(&mut runner).unwrap().current();
        let trace = build_trace(&programs, &schedule, fork_join, rw);
        let deps = lock_dependencies(&trace);
        for p in &deadlock_patterns(&deps.deps, 4, 100).patterns {
            patterns += 1;
            confirmed += usize::from(confirm(&trace, &deps.deps, p).is_some());
        }
    }
    assert!(patterns >= 100, "only {patterns} patterns");
    assert!(
        confirmed >= 20 && patterns - confirmed >= 20,
        "{confirmed} of {patterns} confirmed"
    );
}

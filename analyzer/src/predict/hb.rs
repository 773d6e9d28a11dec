//! Happens-before with vector clocks.
//!
//! Memory: a full vector clock per event would cost O(events × threads), too much for
//! 10M-event traces. A thread's clock only changes in other threads' components at
//! *receive* events (acquires, joins, wakes, receives, barrier departs, acquire loads,
//! a forked thread's next event); its own component is just its local event count.
//! So we store, for each ordered pair (receiving thread u, other thread t), the step
//! function of u's t-component: the list of (u-local position, new value) at each
//! receive where it grew. `ordered(a, b)` is then one binary search. Memory is
//! O(events) for positions plus the number of component changes, which is bounded by
//! receives × threads but in practice far smaller (re-acquiring a lock last released by
//! the same thread changes nothing).
//!
//! While computing, clocks are dense per thread and per lock (threads² + locks × threads
//! words, freed afterwards; fine for hundreds of threads, heavy for tens of thousands of
//! async tasks); the clocks of other
//! senders (notify, send, release store) are not copied but rebuilt from the step
//! functions when received.
//!
//! Edges: program order; fork → the child's next event (its first, unless the trace lists it before the fork); the child's last event → join;
//! write release → later acquires of the lock, read release → later write/upgradable
//! acquires, upgradable release → later write/upgradable acquires; notify(n) → wakes
//! (not timed out) that saw ≥ n notifications (notify(n-1) → notify(n), as the condvar
//! serialises them); send(seq) → recv(seq); every arrive(g) → every depart(g); release
//! stores → acquire loads of the same version (a read-modify-write writing version v is
//! taken to read version v-1).

use crate::model::fast_hash::FastHashMap as HashMap;

use crate::model::{MemoryOrder, Mode, ObjIdx, Op, Trace};

/// Vector-clock happens-before over the events of one trace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HappensBefore {
    /// Thread of each event.
    thread: Vec<u32>,
    /// Position of each event within its thread (0-based).
    local: Vec<u32>,
    /// For (receiving thread, other thread): (receiver local position, component value) at each change.
    steps: HashMap<(u32, u32), Vec<(u32, u32)>>,
}

/// Whether an atomic with `order` publishes (release side).
pub(crate) fn is_release(order: MemoryOrder) -> bool {
    matches!(
        order,
        MemoryOrder::Release | MemoryOrder::AcqRel | MemoryOrder::SeqCst
    )
}

/// Whether an atomic with `order` synchronises with the store it reads (acquire side).
pub(crate) fn is_acquire(order: MemoryOrder) -> bool {
    matches!(
        order,
        MemoryOrder::Acquire | MemoryOrder::AcqRel | MemoryOrder::SeqCst
    )
}

/// The version an atomic access reads, if it reads: a load reads `version`, a
/// read-modify-write that wrote `version` read `version - 1`.
pub(crate) fn version_read(write: bool, version: u64) -> Option<u64> {
    if write {
        version.checked_sub(1)
    } else {
        Some(version)
    }
}

/// Release clocks of one lock.
#[derive(Clone, Debug, Default)]
struct LockClocks {
    /// Last write release.
    write: Vec<u32>,
    /// Read releases since it.
    read: Vec<u32>,
    /// Upgradable releases since it.
    upgradable: Vec<u32>,
}

fn join_into(dst: &mut Vec<u32>, src: &[u32]) {
    if dst.len() < src.len() {
        dst.resize(src.len(), 0);
    }
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = (*d).max(s);
    }
}

impl HappensBefore {
    /// Computes happens-before for `trace` from fork/join, release→acquire, notify→wake,
    /// send→recv, barriers and release/acquire atomics. Linear in events (times threads at
    /// receive events).
    pub fn compute(trace: &Trace) -> HappensBefore {
        let n_threads = trace.threads.len().max(
            trace
                .events
                .iter()
                .map(|e| e.thread.0 as usize + 1)
                .max()
                .unwrap_or(0),
        );
        let mut hb = HappensBefore {
            thread: Vec::with_capacity(trace.events.len()),
            local: Vec::with_capacity(trace.events.len()),
            steps: HashMap::default(),
        };
        let mut clocks: Vec<Vec<u32>> = vec![vec![0; n_threads]; n_threads];
        let mut count: Vec<u32> = vec![0; n_threads];
        // A fork's clock waits for the child's next event. RAPID traces list a child's
        // `begin` before its fork, so "next" rather than "first" keeps those edges (as RAPID does).
        let mut fork_clock: Vec<Option<Vec<u32>>> = vec![None; n_threads];
        let mut locks: HashMap<ObjIdx, LockClocks> = HashMap::default();
        let mut notifies: HashMap<(ObjIdx, u64), usize> = HashMap::default();
        let mut sends: HashMap<(ObjIdx, u64), usize> = HashMap::default();
        let mut stores: HashMap<(ObjIdx, u64), usize> = HashMap::default();
        let mut barriers: HashMap<(ObjIdx, u64), Vec<u32>> = HashMap::default();

        for (i, ev) in trace.events.iter().enumerate() {
            let u = ev.thread.0 as usize;
            let pos = count[u];
            count[u] += 1;
            hb.thread.push(u as u32);
            hb.local.push(pos);

            // Incoming edges: what this event receives.
            let mut incoming: Vec<u32> = Vec::new();
            if let Some(c) = fork_clock[u].take() {
                join_into(&mut incoming, &c);
            }
            match ev.op {
                Op::Acquire { lock, mode, .. } => {
                    if let Some(lc) = locks.get(&lock) {
                        join_into(&mut incoming, &lc.write);
                        match mode {
                            Mode::Read => {}
                            Mode::Upgradable => join_into(&mut incoming, &lc.upgradable),
                            Mode::Write => {
                                join_into(&mut incoming, &lc.read);
                                join_into(&mut incoming, &lc.upgradable);
                            }
                        }
                    }
                }
                Op::Join { child } => {
                    let c = child.0 as usize;
                    if c < n_threads && c != u {
                        if count[c] > 0 {
                            join_into(&mut incoming, &clocks[c]);
                        }
                        // A child that recorded nothing since its fork ends
                        // with its fork's clock: the join still follows the fork.
                        if let Some(f) = &fork_clock[c] {
                            join_into(&mut incoming, f);
                        }
                    }
                }
                Op::Wake {
                    condvar,
                    notified_seen,
                    timed_out: false,
                } if notified_seen > 0 => {
                    if let Some(&e) = notifies.get(&(condvar, notified_seen)) {
                        join_into(&mut incoming, &hb.clock_at(e, n_threads));
                    }
                }
                Op::Notify { condvar, seq, .. } if seq > 1 => {
                    if let Some(&e) = notifies.get(&(condvar, seq - 1)) {
                        join_into(&mut incoming, &hb.clock_at(e, n_threads));
                    }
                }
                Op::Recv { channel, seq } => {
                    if let Some(e) = sends.remove(&(channel, seq)) {
                        join_into(&mut incoming, &hb.clock_at(e, n_threads));
                    }
                }
                Op::BarrierDepart {
                    barrier,
                    generation,
                } => {
                    if let Some(c) = barriers.get(&(barrier, generation)) {
                        join_into(&mut incoming, c);
                    }
                }
                Op::Atomic {
                    var,
                    write,
                    order,
                    version,
                } if is_acquire(order) => {
                    if let Some(v) = version_read(write, version)
                        && let Some(&e) = stores.get(&(var, v))
                    {
                        join_into(&mut incoming, &hb.clock_at(e, n_threads));
                    }
                }
                _ => {}
            }
            if !incoming.is_empty() {
                let clock = &mut clocks[u];
                for (t, &v) in incoming.iter().enumerate() {
                    if t != u && v > clock[t] {
                        clock[t] = v;
                        hb.steps
                            .entry((u as u32, t as u32))
                            .or_default()
                            .push((pos, v));
                    }
                }
            }
            clocks[u][u] = pos + 1;

            // Outgoing: what later events may receive from this one.
            match ev.op {
                Op::Release { lock, mode } => {
                    let lc = locks.entry(lock).or_default();
                    match mode {
                        Mode::Write => {
                            lc.write.clone_from(&clocks[u]);
                            lc.read.clear();
                            lc.upgradable.clear();
                        }
                        Mode::Read => join_into(&mut lc.read, &clocks[u]),
                        Mode::Upgradable => join_into(&mut lc.upgradable, &clocks[u]),
                    }
                }
                Op::Fork { child } => {
                    let c = child.0 as usize;
                    if c < n_threads && c != u {
                        fork_clock[c] = Some(clocks[u].clone());
                    }
                }
                Op::Notify { condvar, seq, .. } => {
                    notifies.insert((condvar, seq), i);
                }
                Op::Send { channel, seq } => {
                    sends.insert((channel, seq), i);
                }
                Op::BarrierArrive {
                    barrier,
                    generation,
                } => {
                    join_into(
                        barriers.entry((barrier, generation)).or_default(),
                        &clocks[u],
                    );
                }
                Op::Atomic {
                    var,
                    write: true,
                    order,
                    version,
                } if is_release(order) => {
                    stores.insert((var, version), i);
                }
                _ => {}
            }
        }
        hb
    }

    /// The `t` component of the clock of event `b`: how many events of thread `t` happen
    /// before or at `b`.
    fn component(&self, b: usize, t: u32) -> u32 {
        let u = self.thread[b];
        let pos = self.local[b];
        if u == t {
            return pos + 1;
        }
        match self.steps.get(&(u, t)) {
            None => 0,
            Some(steps) => {
                let k = steps.partition_point(|&(p, _)| p <= pos);
                if k == 0 { 0 } else { steps[k - 1].1 }
            }
        }
    }

    /// The full clock of event `e` (computed events only).
    fn clock_at(&self, e: usize, n_threads: usize) -> Vec<u32> {
        (0..n_threads as u32)
            .map(|t| self.component(e, t))
            .collect()
    }

    /// Whether event `a` happens before event `b` (indices into `trace.events`). Strict:
    /// an event does not happen before itself. Out-of-range indices are never ordered.
    pub fn ordered(&self, a: usize, b: usize) -> bool {
        if a == b || a >= self.thread.len() || b >= self.thread.len() {
            return false;
        }
        self.component(b, self.thread[a]) > self.local[a]
    }

    /// Whether `a` and `b` are unordered either way.
    pub fn concurrent(&self, a: usize, b: usize) -> bool {
        a != b && !self.ordered(a, b) && !self.ordered(b, a)
    }

    /// Number of stored clock changes (a measure of memory use).
    pub fn stored_changes(&self) -> usize {
        self.steps.values().map(Vec::len).sum()
    }
}

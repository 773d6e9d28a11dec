//! Sync-preserving deadlock confirmation (Tunç, Mathur, Pavlogiannis, Viswanathan,
//! PLDI 2023), linear time per abstract pattern.
//!
//! For a tuple of concrete instances of a pattern's dependencies, the closure S is the
//! smallest set containing every event of each pattern thread before its blocking event
//! and closed under: thread order; a forked thread's events ⇒ its fork; a join ⇒ all of the
//! joined thread's events; a wake ⇒ the notification it saw (and notification n ⇒ n-1 of the
//! same condvar); a receive ⇒ its send; a barrier depart ⇒ all arrivals of its generation;
//! a read ⇒ the write it read from (atomics by version; plain reads from the last plain
//! write of the variable before them in the trace); and sync-preservation: of two
//! conflicting acquisitions of one lock in S, the earlier one's release is in S (two reads
//! do not conflict; upgradable acquisitions are treated as exclusive here, which can only
//! refuse more; a reentrant re-entry is not an acquisition at all). The tuple
//! is a deadlock iff S contains none of the blocking events; S in trace order is then a
//! valid reordering that ends with every pattern thread blocked.
//!
//! S is a per-thread prefix-length vector grown with a worklist. The tuple only ever
//! advances (an instance found inside S can never be part of a witness with later
//! instances, because S only grows), so each pattern costs O(events) amortised after the
//! O(events) index built once per trace by [`ClosureIndex::new`].

use crate::model::fast_hash::FastHashMap as HashMap;

use super::dependencies::LockDependency;
use super::hb::version_read;
use super::patterns::DeadlockPattern;
use crate::model::{Mode, ObjIdx, ObjectKind, Op, Trace};

/// A confirmed deadlock: one concrete acquisition per pattern dependency (indices into
/// `trace.events`) that a sync-preserving reordering of the trace reaches simultaneously.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    /// The blocking events, in pattern order: each instance's `Request` when it has one,
    /// else its `Acquire`.
    pub events: Vec<usize>,
    /// Index into the pattern dependency's `instances` of each blocking event, in pattern order.
    pub instances: Vec<usize>,
    /// Size of the sync-preserving closure (events of the reordered prefix).
    pub prefix_len: usize,
    /// For each thread (by index): how many of its events the reordered prefix contains.
    pub thread_prefix: Vec<usize>,
}

/// No release: the acquisition stays held to the end of the trace.
const NEVER_RELEASED: u32 = u32::MAX;
/// Not an acquisition that orders anything (not an `Acquire`, or a reentrant re-entry).
const NOT_SYNC: u32 = u32::MAX - 1;

/// No plain write of the variable yet (event indices stay below this: see `oversized`).
const NO_WRITE: u32 = u32::MAX;

/// Per-trace tables for the closure, built once and shared by every pattern.
#[derive(Clone, Debug, Default)]
pub struct ClosureIndex {
    /// Events of each thread, in order.
    thread_events: Vec<Vec<u32>>,
    /// Thread and position in it of each event, side by side: the closure reads both.
    place: Vec<(u32, u32)>,
    /// Fixed requirements of each event (CSR: `req_start[e]..req_start[e+1]` into `req`).
    req_start: Vec<u32>,
    req: Vec<u32>,
    /// For an ordering `Acquire`: its matching release, or [`NEVER_RELEASED`]; else [`NOT_SYNC`].
    release_of: Vec<u32>,
    /// Whether the trace was too large to index (≥ 2³² − 2 events); nothing is confirmed then.
    oversized: bool,
}

/// The mutable closure of one pattern search.
struct Closure<'a> {
    index: &'a ClosureIndex,
    trace: &'a Trace,
    prefix: Vec<u32>,
    processed: Vec<u32>,
    queued: Vec<bool>,
    work: Vec<u32>,
    /// Latest exclusive acquisition in S of each lock.
    last_exclusive: HashMap<ObjIdx, u32>,
    /// Read acquisitions in S whose release is not yet required.
    open_reads: HashMap<ObjIdx, Vec<u32>>,
    /// S needs a release that never happens: no extension of this tuple is a witness.
    infeasible: bool,
}

impl Closure<'_> {
    fn require(&mut self, e: u32) {
        let ix = self.index;
        let (u, pos) = ix.place[e as usize];
        let u = u as usize;
        if self.prefix[u] <= pos {
            self.prefix[u] = pos + 1;
            if !self.queued[u] {
                self.queued[u] = true;
                self.work.push(u as u32);
            }
        }
    }

    /// Requires every event of `e`'s thread strictly before `e`.
    fn require_before(&mut self, e: usize) {
        let (u, pos) = self.index.place[e];
        if pos > 0 {
            let u = u as usize;
            self.require(self.index.thread_events[u][pos as usize - 1]);
        }
    }

    fn require_release(&mut self, acquire: u32) {
        match self.index.release_of[acquire as usize] {
            NEVER_RELEASED => self.infeasible = true,
            r => self.require(r),
        }
    }

    /// Adds what event `e`, newly in S, requires.
    fn add(&mut self, e: u32) {
        let ix = self.index;
        let (s, t) = (
            ix.req_start[e as usize] as usize,
            ix.req_start[e as usize + 1] as usize,
        );
        for k in s..t {
            self.require(ix.req[k]);
        }
        if ix.release_of[e as usize] == NOT_SYNC {
            return;
        }
        let Op::Acquire { lock, mode, .. } = self.trace.events[e as usize].op else {
            return;
        };
        if mode == Mode::Read {
            match self.last_exclusive.get(&lock).copied() {
                Some(m) if m > e => self.require_release(e),
                Some(m) => {
                    self.require_release(m);
                    self.open_reads.entry(lock).or_default().push(e);
                }
                None => self.open_reads.entry(lock).or_default().push(e),
            }
        } else {
            match self.last_exclusive.get(&lock).copied() {
                Some(m) if m > e => self.require_release(e),
                Some(m) => {
                    self.require_release(m);
                    self.last_exclusive.insert(lock, e);
                }
                None => {
                    self.last_exclusive.insert(lock, e);
                }
            }
            // Reads before `e` must be closed; reads after it need `e` closed.
            if let Some(reads) = self.open_reads.remove(&lock) {
                let (before, after): (Vec<u32>, Vec<u32>) = reads.into_iter().partition(|&r| r < e);
                for r in before {
                    self.require_release(r);
                }
                if !after.is_empty() {
                    self.require_release(e);
                    self.open_reads.insert(lock, after);
                }
            }
        }
    }

    /// Runs the worklist to a fixpoint.
    fn close(&mut self) {
        while let Some(u) = self.work.pop() {
            let u = u as usize;
            self.queued[u] = false;
            while self.processed[u] < self.prefix[u] {
                let e = self.index.thread_events[u][self.processed[u] as usize];
                self.processed[u] += 1;
                self.add(e);
            }
        }
    }
}

impl ClosureIndex {
    /// Builds the tables for `trace` in one pass, with every read (plain or atomic) bound to
    /// the write it read from: the sound default.
    pub fn new(trace: &Trace) -> ClosureIndex {
        ClosureIndex::build(trace, true)
    }

    /// Builds the tables; `plain_reads_from` says whether a plain read requires the last plain
    /// write before it. Without it, reorderings may change what plain reads see (the closure
    /// rules of the brief, which name only atomic reads-from): more deadlocks are confirmed,
    /// some of them possibly infeasible if control flow depends on those reads.
    pub fn build(trace: &Trace, plain_reads_from: bool) -> ClosureIndex {
        let n = trace.events.len();
        if n >= NOT_SYNC as usize {
            return ClosureIndex {
                oversized: true,
                ..ClosureIndex::default()
            };
        }
        let n_threads = trace.threads.len().max(
            trace
                .events
                .iter()
                .map(|e| e.thread.0 as usize + 1)
                .max()
                .unwrap_or(0),
        );
        let mut ix = ClosureIndex {
            // Sized up front: growing ten-million-entry vectors by doubling copied them.
            thread_events: {
                let mut per_thread = vec![0usize; n_threads];
                for ev in &trace.events {
                    per_thread[ev.thread.0 as usize] += 1;
                }
                per_thread.into_iter().map(Vec::with_capacity).collect()
            },
            place: Vec::with_capacity(n),
            req_start: Vec::with_capacity(n + 1),
            req: Vec::new(),
            release_of: vec![NOT_SYNC; n],
            oversized: false,
        };
        let mut fork_of: HashMap<u32, u32> = HashMap::default();
        // Whether each thread has had an event other than `begin`.
        let mut started = vec![false; n_threads];
        let mut notify: HashMap<(ObjIdx, u64), u32> = HashMap::default();
        let mut send: HashMap<(ObjIdx, u64), u32> = HashMap::default();
        let mut store: HashMap<(ObjIdx, u64), u32> = HashMap::default();
        // Dense by variable index (variables are objects of the trace).
        let mut last_write: Vec<u32> = vec![NO_WRITE; trace.objects.len()];
        // Departs wait for all arrivals of their generation, some of which may come later in
        // the trace only if the trace is inconsistent; collect arrivals first.
        let mut arrivals: HashMap<(ObjIdx, u64), Vec<u32>> = HashMap::default();
        for (i, ev) in trace.events.iter().enumerate() {
            if let Op::BarrierArrive {
                barrier,
                generation,
            } = ev.op
            {
                arrivals
                    .entry((barrier, generation))
                    .or_default()
                    .push(i as u32);
            }
        }
        // Held lists for matching releases: (lock, acquire, depth for reentrant locks).
        let mut held: Vec<Vec<(ObjIdx, u32)>> = vec![Vec::new(); n_threads];
        for (i, ev) in trace.events.iter().enumerate() {
            let at = i as u32;
            let u = ev.thread.0 as usize;
            let pos = ix.thread_events[u].len() as u32;
            ix.thread_events[u].push(at);
            ix.place.push((u as u32, pos));
            ix.req_start.push(ix.req.len() as u32);
            // A fork orders the child's first event after it; a bare `begin` does not
            // count (RAPID traces open every thread with one at the top, before its fork).
            let begin = matches!(ev.op, Op::Begin);
            if !begin {
                if !started[u]
                    && let Some(f) = fork_of.remove(&(u as u32))
                {
                    ix.req.push(f);
                }
                started[u] = true;
            }
            match ev.op {
                Op::Fork { child } => {
                    let c = child.0 as usize;
                    if c != u && !started.get(c).copied().unwrap_or(true) {
                        fork_of.insert(child.0, at);
                    }
                }
                Op::Join { child } => {
                    let c = child.0 as usize;
                    if c != u
                        && let Some(&last) = ix.thread_events.get(c).and_then(|v| v.last())
                    {
                        ix.req.push(last);
                    }
                }
                Op::Wake {
                    condvar,
                    notified_seen,
                    timed_out: false,
                } if notified_seen > 0 => {
                    if let Some(&e) = notify.get(&(condvar, notified_seen)) {
                        ix.req.push(e);
                    }
                }
                Op::Notify { condvar, seq, .. } => {
                    if let Some(&e) = seq.checked_sub(1).and_then(|s| notify.get(&(condvar, s))) {
                        ix.req.push(e);
                    }
                    notify.insert((condvar, seq), at);
                }
                Op::Send { channel, seq } => {
                    send.insert((channel, seq), at);
                }
                Op::Recv { channel, seq } => {
                    if let Some(e) = send.remove(&(channel, seq)) {
                        ix.req.push(e);
                    }
                }
                Op::BarrierDepart {
                    barrier,
                    generation,
                } => {
                    if let Some(a) = arrivals.get(&(barrier, generation)) {
                        ix.req.extend(a.iter().copied().filter(|&a| a < at));
                    }
                }
                Op::Atomic {
                    var,
                    write,
                    version,
                    ..
                } => {
                    if let Some(v) = version_read(write, version)
                        && let Some(&e) = store.get(&(var, v))
                    {
                        ix.req.push(e);
                    }
                    if write {
                        store.insert((var, version), at);
                    }
                }
                Op::Read { var } if plain_reads_from => {
                    if let Some(&w) = last_write.get(var.0 as usize)
                        && w != NO_WRITE
                    {
                        ix.req.push(w);
                    }
                }
                Op::Write { var } => {
                    let v = var.0 as usize;
                    if v >= last_write.len() {
                        last_write.resize(v + 1, NO_WRITE);
                    }
                    last_write[v] = at;
                }
                Op::Acquire { lock, .. } => {
                    let reentry = trace.object(lock).kind == ObjectKind::ReentrantMutex
                        && held[u].iter().any(|&(l, _)| l == lock);
                    if !reentry {
                        ix.release_of[i] = NEVER_RELEASED;
                    }
                    held[u].push((lock, if reentry { NOT_SYNC } else { at }));
                }
                Op::Release { lock, .. } => {
                    if let Some(p) = held[u].iter().rposition(|&(l, _)| l == lock) {
                        let (_, acq) = held[u].remove(p);
                        if acq != NOT_SYNC {
                            ix.release_of[acq as usize] = at;
                        }
                    }
                }
                _ => {}
            }
        }
        ix.req_start.push(ix.req.len() as u32);
        ix
    }

    /// Confirms `pattern` over `trace` (the trace this index was built from).
    pub fn confirm(
        &self,
        trace: &Trace,
        deps: &[LockDependency],
        pattern: &DeadlockPattern,
    ) -> Option<Witness> {
        if self.oversized || pattern.deps.len() < 2 || pattern.deps.iter().any(|&d| d >= deps.len())
        {
            return None;
        }
        let n_threads = self.thread_events.len();
        let mut closure = Closure {
            index: self,
            trace,
            prefix: vec![0; n_threads],
            processed: vec![0; n_threads],
            queued: vec![false; n_threads],
            work: Vec::new(),
            last_exclusive: HashMap::default(),
            open_reads: HashMap::default(),
            infeasible: false,
        };
        let mut at = vec![0usize; pattern.deps.len()];
        loop {
            let mut blocking = Vec::with_capacity(at.len());
            for (k, &d) in pattern.deps.iter().enumerate() {
                let inst = deps[d].instances.get(at[k])?;
                let e = inst.blocking_event();
                if e >= self.place.len() {
                    return None;
                }
                closure.require_before(e);
                blocking.push(e);
            }
            closure.close();
            if closure.infeasible {
                return None;
            }
            let mut advanced = false;
            for (k, &d) in pattern.deps.iter().enumerate() {
                let u = self.place[blocking[k]].0 as usize;
                let instances = &deps[d].instances;
                while at[k] < instances.len() && {
                    let e = instances[at[k]].blocking_event();
                    self.place
                        .get(e)
                        .is_some_and(|&(_, pos)| pos < closure.prefix[u])
                } {
                    at[k] += 1;
                    advanced = true;
                }
            }
            if !advanced {
                return Some(Witness {
                    events: blocking,
                    instances: at,
                    prefix_len: closure.prefix.iter().map(|&p| p as usize).sum(),
                    thread_prefix: closure.prefix.iter().map(|&p| p as usize).collect(),
                });
            }
        }
    }
}

/// Confirms `pattern`, returning a witness if the trace has a sync-preserving deadlock for it.
/// Builds a [`ClosureIndex`] each call; to confirm many patterns of one trace, build the
/// index once and call [`ClosureIndex::confirm`].
pub fn confirm(
    trace: &Trace,
    deps: &[LockDependency],
    pattern: &DeadlockPattern,
) -> Option<Witness> {
    ClosureIndex::new(trace).confirm(trace, deps, pattern)
}

//! Streaming happens-before (per-thread vector clocks) and the FastTrack epoch
//! detector (Flanagan & Freund, PLDI 2009).
//!
//! [`VectorClocks`] follows the edge rules of [`crate::predict::hb`]
//! (program order, fork/join, lock release→acquire with read/upgradable modes,
//! notify chain and notify→wake, send→recv, barrier arrive→depart, release
//! store→acquire load of that version, an RMW reading `version - 1`), but
//! keeps only current clocks instead of per-event step functions, so memory is
//! threads² + locks × threads words plus bounded histories of sender clocks.
//! A thread's own component is its event count, so the epoch of an access is
//! `(thread, local position + 1)` and "`e` happens before the current event of
//! `t`" is one comparison.
//!
//! One deliberate difference: a fork orders the parent's past before the
//! child's *next* event even when the child already has events (as RAPID
//! does); `predict::hb` drops such forks, and every shared RAPID trace opens
//! all its threads with a `begin` before they are forked.
//!
//! Histories (notifications per condvar, barrier generations, release-store
//! versions per atomic) keep the newest [`HISTORY_LEN`] entries; a receive of an
//! older evicted entry gets no edge and is counted in
//! [`VectorClocks::stale_receives`] (it can only add reports, never hide one).

use crate::model::fast_hash::FastHashMap as HashMap;
use std::collections::VecDeque;

use crate::model::{Event, MemoryOrder, Mode, ObjIdx, Op};
use crate::predict::hb::{is_acquire, is_release, version_read};

/// Sender clocks kept per object (notifications, barrier generations, atomic versions).
pub const HISTORY_LEN: usize = 1024;

/// An access as the detector stores it: its epoch, its lockset and its event.
/// The site and the kind of access are read back from the event when reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessRecord {
    /// The accessing thread.
    pub thread: u32,
    /// The thread's own clock component at the access (its local position + 1).
    pub clock: u32,
    /// Interned lockset id (see [`super::lockset::Locksets`]).
    pub lockset: u32,
    /// Index of the access in `trace.events`.
    pub event: usize,
}

/// Clocks released by one lock, per release mode.
#[derive(Clone, Debug, Default)]
struct LockClocks {
    write: Vec<u32>,
    read: Vec<u32>,
    upgradable: Vec<u32>,
}

/// Newest sender clocks of one object, keyed by a sequence number that grows.
#[derive(Clone, Debug, Default)]
struct History {
    entries: VecDeque<(u64, Vec<u32>)>,
}

impl History {
    /// The clock stored under `key`; `Err(true)` when it may have been evicted.
    fn get(&self, key: u64) -> Result<&[u32], bool> {
        match self.entries.iter().rev().find(|(k, _)| *k == key) {
            Some((_, c)) => Ok(c),
            None => Err(self.entries.len() == HISTORY_LEN
                && self.entries.front().is_some_and(|(k, _)| *k > key)),
        }
    }

    /// The clock under `key`, created zeroed (reusing an evicted buffer) when missing.
    fn entry(&mut self, key: u64, n: usize) -> &mut Vec<u32> {
        if let Some(i) = self.entries.iter().rposition(|(k, _)| *k == key) {
            return &mut self.entries[i].1;
        }
        let mut buf = if self.entries.len() == HISTORY_LEN {
            self.entries.pop_front().map(|(_, b)| b).unwrap_or_default()
        } else {
            Vec::new()
        };
        buf.clear();
        buf.resize(n, 0);
        self.entries.push_back((key, buf));
        let last = self.entries.len() - 1;
        &mut self.entries[last].1
    }
}

/// Per-thread vector clocks, advanced one event at a time.
#[derive(Clone, Debug)]
pub struct VectorClocks {
    n: usize,
    /// Row `t` (`n` words) is thread `t`'s clock.
    clocks: Vec<u32>,
    /// Events seen per thread.
    count: Vec<u32>,
    locks: HashMap<ObjIdx, LockClocks>,
    notifies: HashMap<ObjIdx, History>,
    sends: HashMap<(ObjIdx, u64), Vec<u32>>,
    barriers: HashMap<ObjIdx, History>,
    stores: HashMap<ObjIdx, History>,
    /// Receives whose sender clock had been evicted from a history.
    pub stale_receives: u64,
    /// Scratch for a receive, reused so no event allocates.
    scratch: Vec<u32>,
}

fn join_into(dst: &mut Vec<u32>, src: &[u32]) {
    if dst.len() < src.len() {
        dst.resize(src.len(), 0);
    }
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = (*d).max(s);
    }
}

impl VectorClocks {
    /// Clocks for `n_threads` threads (every thread index of the trace must be below it).
    ///
    /// The clocks are dense: `n_threads²` words. [`crate::race::detect`] refuses traces with
    /// more than [`crate::race::MAX_RACE_THREADS`] threads instead of calling this.
    pub fn new(n_threads: usize) -> VectorClocks {
        VectorClocks {
            n: n_threads,
            clocks: vec![0; n_threads * n_threads],
            count: vec![0; n_threads],
            locks: HashMap::default(),
            notifies: HashMap::default(),
            sends: HashMap::default(),
            barriers: HashMap::default(),
            stores: HashMap::default(),
            stale_receives: 0,
            scratch: vec![0; n_threads],
        }
    }

    /// Number of threads.
    pub fn threads(&self) -> usize {
        self.n
    }

    /// Thread `t`'s current clock.
    pub fn clock(&self, t: usize) -> &[u32] {
        &self.clocks[t * self.n..(t + 1) * self.n]
    }

    /// Whether the access `a` happens before (or is) the current event of thread `t`.
    #[inline]
    pub fn ordered_before(&self, a: &AccessRecord, t: usize) -> bool {
        a.thread as usize == t || a.clock <= self.clocks[t * self.n + a.thread as usize]
    }

    /// Applies the incoming edges of `ev` and advances its thread; returns the
    /// thread's new own component (the event's epoch clock).
    pub fn before(&mut self, ev: &Event) -> u32 {
        let u = ev.thread.0 as usize;
        let n = self.n;
        let pos = self.count[u];
        self.count[u] += 1;
        self.clocks[u * n + u] = pos + 1;
        // The scratch clock is all zeros here: it is cleared after every receive below,
        // so events that receive nothing cost O(1) rather than O(threads).
        let mut received = false;
        match ev.op {
            Op::Acquire { lock, mode, .. } => {
                if let Some(lc) = self.locks.get(&lock) {
                    join_into(&mut self.scratch, &lc.write);
                    match mode {
                        Mode::Read => {}
                        Mode::Upgradable => join_into(&mut self.scratch, &lc.upgradable),
                        Mode::Write => {
                            join_into(&mut self.scratch, &lc.read);
                            join_into(&mut self.scratch, &lc.upgradable);
                        }
                    }
                    received = true;
                }
            }
            Op::Join { child } => {
                let c = child.0 as usize;
                // Also for a child with no events: its clock holds its fork's.
                if c < n && c != u {
                    let (scratch, clocks) = (&mut self.scratch, &self.clocks);
                    join_into(scratch, &clocks[c * n..(c + 1) * n]);
                    received = true;
                }
            }
            Op::Wake {
                condvar,
                notified_seen,
                timed_out: false,
            } if notified_seen > 0 => {
                received |= self.receive_history(Source::Notify, condvar, notified_seen);
            }
            Op::Notify { condvar, seq, .. } if seq > 1 => {
                received |= self.receive_history(Source::Notify, condvar, seq - 1);
            }
            Op::Recv { channel, seq } => {
                if let Some(c) = self.sends.remove(&(channel, seq)) {
                    join_into(&mut self.scratch, &c);
                    received = true;
                }
            }
            Op::BarrierDepart {
                barrier,
                generation,
            } => {
                received |= self.receive_history(Source::Barrier, barrier, generation);
            }
            Op::Atomic {
                var,
                write,
                order,
                version,
            } if is_acquire(order) => {
                if let Some(v) = version_read(write, version) {
                    received |= self.receive_history(Source::Store, var, v);
                }
            }
            _ => {}
        }
        if received {
            let row = &mut self.clocks[u * n..(u + 1) * n];
            for (t, (c, &s)) in row.iter_mut().zip(&self.scratch).enumerate() {
                if t != u && s > *c {
                    *c = s;
                }
            }
            self.scratch.iter_mut().for_each(|c| *c = 0);
        }
        pos + 1
    }

    /// Joins the clock stored in a history into the scratch clock; true when found.
    fn receive_history(&mut self, source: Source, obj: ObjIdx, key: u64) -> bool {
        let map = match source {
            Source::Notify => &self.notifies,
            Source::Barrier => &self.barriers,
            Source::Store => &self.stores,
        };
        match map.get(&obj).map(|h| h.get(key)) {
            Some(Ok(c)) => {
                join_into(&mut self.scratch, c);
                true
            }
            Some(Err(true)) => {
                self.stale_receives += 1;
                false
            }
            _ => false,
        }
    }

    /// Records what later events may receive from `ev` (after [`VectorClocks::before`]).
    pub fn after(&mut self, ev: &Event) {
        let u = ev.thread.0 as usize;
        let n = self.n;
        let row = &self.clocks[u * n..(u + 1) * n];
        match ev.op {
            Op::Release { lock, mode } => {
                let lc = self.locks.entry(lock).or_default();
                match mode {
                    Mode::Write => {
                        lc.write.clear();
                        lc.write.extend_from_slice(row);
                        lc.read.clear();
                        lc.upgradable.clear();
                    }
                    Mode::Read => join_into(&mut lc.read, row),
                    Mode::Upgradable => join_into(&mut lc.upgradable, row),
                }
            }
            Op::Fork { child } => {
                // Into the child's clock now, even when the child already has events:
                // RAPID traces open every thread with a `begin` before its fork.
                let c = child.0 as usize;
                if c < n && c != u {
                    for i in 0..n {
                        let s = self.clocks[u * n + i];
                        let d = &mut self.clocks[c * n + i];
                        if i != c && s > *d {
                            *d = s;
                        }
                    }
                }
            }
            Op::Notify { condvar, seq, .. } => {
                let e = self.notifies.entry(condvar).or_default().entry(seq, n);
                e.copy_from_slice(row);
            }
            Op::Send { channel, seq } => {
                self.sends.insert((channel, seq), row.to_vec());
            }
            Op::BarrierArrive {
                barrier,
                generation,
            } => {
                let e = self
                    .barriers
                    .entry(barrier)
                    .or_default()
                    .entry(generation, n);
                join_into(e, row);
            }
            Op::Atomic {
                var,
                write: true,
                order,
                version,
            } if is_release(order) => {
                let e = self.stores.entry(var).or_default().entry(version, n);
                e.copy_from_slice(row);
            }
            _ => {}
        }
    }
}

#[derive(Clone, Copy)]
enum Source {
    Notify,
    Barrier,
    Store,
}

/// Whether an atomic access with `order` takes part in synchronisation at all
/// (for messages: a relaxed access never does).
pub fn synchronises(order: MemoryOrder) -> bool {
    is_acquire(order) || is_release(order)
}

/// The accesses of one kind to a variable that later accesses must be checked
/// against: one epoch while they are totally ordered, the last access per
/// thread once two are concurrent (FastTrack's read-shared inflation).
#[derive(Clone, Debug, Default)]
pub enum AccessSet {
    /// None yet (or reset by a write).
    #[default]
    Empty,
    /// One access that every earlier one of its kind happens before.
    One(AccessRecord),
    /// The last access of each thread that made one.
    Many(Vec<AccessRecord>),
}

impl AccessSet {
    /// Adds `rec` (an access by the current event of thread `rec.thread`).
    #[inline]
    pub fn add(&mut self, rec: AccessRecord, clocks: &VectorClocks) {
        let t = rec.thread as usize;
        match self {
            AccessSet::Empty => *self = AccessSet::One(rec),
            AccessSet::One(r) => {
                if clocks.ordered_before(r, t) {
                    *r = rec;
                } else {
                    *self = AccessSet::Many(vec![*r, rec]);
                }
            }
            AccessSet::Many(v) => match v.iter_mut().find(|r| r.thread == rec.thread) {
                Some(r) => *r = rec,
                None => v.push(rec),
            },
        }
    }

    /// The accesses in the set.
    pub fn iter(&self) -> impl Iterator<Item = &AccessRecord> {
        let (one, many): (Option<&AccessRecord>, &[AccessRecord]) = match self {
            AccessSet::Empty => (None, &[]),
            AccessSet::One(r) => (Some(r), &[]),
            AccessSet::Many(v) => (None, v),
        };
        one.into_iter().chain(many)
    }
}

/// FastTrack state of one variable. Plain and atomic accesses are kept apart
/// because atomics never race with each other: a plain access is checked
/// against everything, an atomic one against plain accesses only.
#[derive(Clone, Debug, Default)]
pub struct VarState {
    /// Last plain write (every earlier plain write happens before it or raced).
    pub write: Option<AccessRecord>,
    /// Plain reads since the last plain write.
    pub reads: AccessSet,
    /// Atomic writes (stores and read-modify-writes), never reset.
    pub atomic_writes: AccessSet,
    /// Atomic loads, never reset.
    pub atomic_reads: AccessSet,
}

/// The kind of a variable access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccessKind {
    /// Plain read.
    Read,
    /// Plain write.
    Write,
    /// Atomic load.
    AtomicLoad,
    /// Atomic store or read-modify-write.
    AtomicStore,
}

impl AccessKind {
    /// The kind of access `op` makes, and its variable, if it accesses one.
    pub fn of(op: &Op) -> Option<(ObjIdx, AccessKind)> {
        match *op {
            Op::Read { var } => Some((var, AccessKind::Read)),
            Op::Write { var } => Some((var, AccessKind::Write)),
            Op::Atomic {
                var, write: false, ..
            } => Some((var, AccessKind::AtomicLoad)),
            Op::Atomic {
                var, write: true, ..
            } => Some((var, AccessKind::AtomicStore)),
            _ => None,
        }
    }

    /// `read`, `write`, `atomic-load` or `atomic-store`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessKind::Read => "read",
            AccessKind::Write => "write",
            AccessKind::AtomicLoad => "atomic-load",
            AccessKind::AtomicStore => "atomic-store",
        }
    }

    /// Whether it writes.
    pub fn writes(self) -> bool {
        matches!(self, AccessKind::Write | AccessKind::AtomicStore)
    }
}

impl VarState {
    /// Checks access `cur` of `kind` against the state, calling `race(earlier)`
    /// for every stored conflicting access not ordered before it, then records it.
    #[inline]
    pub fn access(
        &mut self,
        kind: AccessKind,
        cur: AccessRecord,
        clocks: &VectorClocks,
        mut race: impl FnMut(&AccessRecord),
    ) {
        let t = cur.thread as usize;
        let mut check = |r: &AccessRecord| {
            if !clocks.ordered_before(r, t) {
                race(r);
            }
        };
        match kind {
            AccessKind::Write => {
                self.write.iter().for_each(&mut check);
                self.reads.iter().for_each(&mut check);
                self.atomic_writes.iter().for_each(&mut check);
                self.atomic_reads.iter().for_each(&mut check);
                self.write = Some(cur);
                self.reads = AccessSet::Empty;
            }
            AccessKind::Read => {
                self.write.iter().for_each(&mut check);
                self.atomic_writes.iter().for_each(&mut check);
                self.reads.add(cur, clocks);
            }
            AccessKind::AtomicLoad => {
                self.write.iter().for_each(&mut check);
                self.atomic_reads.add(cur, clocks);
            }
            AccessKind::AtomicStore => {
                self.write.iter().for_each(&mut check);
                self.reads.iter().for_each(&mut check);
                self.atomic_writes.add(cur, clocks);
            }
        }
    }
}

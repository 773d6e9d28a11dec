//! Merging per-thread event batches into one global order.
//!
//! Native traces have no process-wide clock: each thread's events come in
//! program order, and synchronisation carries its own order:
//!
//! * Acquire/Release of one lock in increasing `seq`;
//! * notifications of one condvar in increasing `seq`, and a `CondWake` with
//!   `notified_seen = n` after every notification numbered `≤ n`;
//! * every `BarrierArrive` of a generation before any `BarrierDepart` of it;
//! * `Send { seq }` before `Recv { seq }` on a channel;
//! * atomic accesses of one variable in version order: the write of version
//!   `v` after the write of `v - 1` and every read of `v - 1`, a read of `v`
//!   after the write of `v` (the recorder numbers versions 1, 2, … per atomic,
//!   0 being the initial value; versions whose predecessor was never recorded
//!   are not constrained);
//! * a `Fork` before the child's first event, the child's last event before a `Join`.
//!
//! These are precedence edges between events, so a greedy merge that emits any
//! thread's next event whose predecessors are all out never gets stuck on a
//! consistent trace. Among the ready threads it picks the head that came in the
//! earliest batch (then the lowest thread), so a file whose batch order is
//! already consistent is reproduced exactly. Blocked threads wait on a key and
//! are re-examined only when that key changes, so the merge is linear apart
//! from sorting the sequence numbers.
//!
//! Before merging, the file's own batch order is replayed against the same
//! constraints; when it meets them all (a single writer flushing in order, the
//! common case) it is the result, with no ready set or wait queues.

use std::collections::BTreeSet;

use crate::model::fast_hash::FastHashMap;

use sync_trace::{Event, ObjectId, Op, ThreadId};

/// The events of one thread, in program order.
#[derive(Clone, Debug)]
pub(crate) struct ThreadEvents {
    /// The thread.
    pub id: ThreadId,
    /// Its events.
    pub events: Vec<Event>,
    /// Runs of events from one batch: (index of the first event, batch number), increasing.
    pub batches: Vec<(usize, u64)>,
}

impl ThreadEvents {
    /// No events yet.
    pub fn new(id: ThreadId) -> ThreadEvents {
        ThreadEvents {
            id,
            events: Vec::new(),
            batches: Vec::new(),
        }
    }

    /// Appends `events`, read as batch number `batch`.
    pub fn push_batch(&mut self, events: Vec<Event>, batch: u64) {
        if events.is_empty() {
            return;
        }
        self.batches.push((self.events.len(), batch));
        if self.events.is_empty() {
            self.events = events;
        } else {
            self.events.extend(events);
        }
    }
}

/// What a blocked head waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key {
    /// The lock's next sequence number to become this one.
    Lock(ObjectId, u64),
    /// The condvar's next notification number to become this one.
    Notify(ObjectId, u64),
    /// Any notification of the condvar.
    Wake(ObjectId),
    /// The generation of the barrier to fill.
    Barrier(ObjectId, u64),
    /// The send of this message.
    Send(ObjectId, u64),
    /// The atomic variable to reach this version.
    Version(ObjectId, u64),
    /// Every read of this version of the atomic variable.
    ReadsDone(ObjectId, u64),
    /// The thread (by position) to finish.
    Done(usize),
    /// The thread (by position) to be forked.
    Forked(usize),
}

/// Sorted sequence numbers and how many have been emitted.
#[derive(Debug, Default)]
struct SeqOrder {
    seqs: Vec<u64>,
    next: usize,
}

impl SeqOrder {
    fn head(&self) -> Option<u64> {
        self.seqs.get(self.next).copied()
    }
}

/// The recorded versions of one atomic variable and how far the merge has got.
#[derive(Debug, Default)]
struct AtomicVersions {
    /// The latest version emitted (starts at the version before the first recorded write).
    current: u64,
    /// Versions some recorded write produced.
    written: crate::model::fast_hash::FastHashSet<u64>,
    /// Reads of each version not yet emitted.
    reads_left: FastHashMap<u64, usize>,
}

impl AtomicVersions {
    /// Whether the write of `version` is recorded, so waiting for it cannot hang.
    fn will_reach(&self, version: u64) -> bool {
        version <= self.current || self.written.contains(&version)
    }
}

/// The merged order as (thread position, event index) pairs, and a message if
/// the constraints could not all be met (the rest then follows in thread order).
pub(crate) struct Merged {
    /// The global order.
    pub order: Vec<(u32, u32)>,
    /// Why the merge got stuck, if it did.
    pub stuck: Option<String>,
}

struct Merger<'a> {
    threads: &'a [ThreadEvents],
    position_of: FastHashMap<ThreadId, usize>,
    next: Vec<usize>,
    run: Vec<usize>,
    locks: FastHashMap<ObjectId, SeqOrder>,
    notifies: FastHashMap<ObjectId, SeqOrder>,
    barriers: FastHashMap<(ObjectId, u64), (usize, usize)>,
    sends: FastHashMap<(ObjectId, u64), usize>,
    atomics: FastHashMap<ObjectId, AtomicVersions>,
    forks_total: Vec<usize>,
    forks_done: Vec<usize>,
    waiting: FastHashMap<Key, Vec<usize>>,
    ready: BTreeSet<(u64, usize)>,
    /// Replaying the file's batch order ([`Merger::replay_batches`]): nothing is queued.
    replay: bool,
}

impl Merger<'_> {
    fn done(&self, t: usize) -> bool {
        self.next[t] >= self.threads[t].events.len()
    }

    fn head_batch(&mut self, t: usize) -> u64 {
        let batches = &self.threads[t].batches;
        while self.run[t] + 1 < batches.len() && batches[self.run[t] + 1].0 <= self.next[t] {
            self.run[t] += 1;
        }
        batches.get(self.run[t]).map_or(0, |b| b.1)
    }

    /// What the head of `t` waits for, or `None` when it can go.
    fn blocked_on(&self, t: usize) -> Option<Key> {
        let i = self.next[t];
        if i == 0 && self.forks_total[t] > 0 && self.forks_done[t] == 0 {
            return Some(Key::Forked(t));
        }
        match self.threads[t].events[i].op {
            Op::Acquire { lock, seq, .. } | Op::Release { lock, seq, .. } => {
                (self.locks[&lock].head() != Some(seq)).then_some(Key::Lock(lock, seq))
            }
            Op::Notify { condvar, seq, .. } => {
                (self.notifies[&condvar].head() != Some(seq)).then_some(Key::Notify(condvar, seq))
            }
            Op::CondWake {
                condvar,
                notified_seen,
                ..
            } => {
                let pending = self.notifies.get(&condvar).and_then(SeqOrder::head);
                pending
                    .is_some_and(|s| s <= notified_seen)
                    .then_some(Key::Wake(condvar))
            }
            Op::BarrierDepart {
                barrier,
                generation,
            } => {
                let (total, arrived) = self
                    .barriers
                    .get(&(barrier, generation))
                    .copied()
                    .unwrap_or((0, 0));
                (arrived < total).then_some(Key::Barrier(barrier, generation))
            }
            Op::Recv { channel, seq } => {
                let unsent = self.sends.get(&(channel, seq)).copied().unwrap_or(0);
                (unsent > 0).then_some(Key::Send(channel, seq))
            }
            Op::Access {
                var,
                write,
                order: Some(_),
                version,
            } => {
                let a = self.atomics.get(&var)?;
                if !write {
                    return (a.current < version && a.will_reach(version))
                        .then_some(Key::Version(var, version));
                }
                let before = version.checked_sub(1)?;
                if a.current < before {
                    return a.will_reach(before).then_some(Key::Version(var, before));
                }
                let unread =
                    a.current == before && a.reads_left.get(&before).is_some_and(|&n| n > 0);
                unread.then_some(Key::ReadsDone(var, before))
            }
            Op::Join { child } => match self.position_of.get(&child) {
                // A thread joining itself would wait forever; let it pass.
                Some(&c) if c != t && !self.done(c) => Some(Key::Done(c)),
                _ => None,
            },
            _ => None,
        }
    }

    fn schedule(&mut self, t: usize) {
        if self.replay || self.done(t) {
            return;
        }
        match self.blocked_on(t) {
            None => {
                let batch = self.head_batch(t);
                self.ready.insert((batch, t));
            }
            Some(key) => self.waiting.entry(key).or_default().push(t),
        }
    }

    fn wake(&mut self, key: Key) {
        if self.replay {
            return;
        }
        if let Some(threads) = self.waiting.remove(&key) {
            for t in threads {
                self.schedule(t);
            }
        }
    }

    fn emit(&mut self, t: usize) {
        let op = self.threads[t].events[self.next[t]].op;
        self.next[t] += 1;
        match op {
            Op::Acquire { lock, .. } | Op::Release { lock, .. } => {
                let order = self.locks.get_mut(&lock).expect("collected");
                order.next += 1;
                if let Some(s) = order.head() {
                    self.wake(Key::Lock(lock, s));
                }
            }
            Op::Notify { condvar, .. } => {
                let order = self.notifies.get_mut(&condvar).expect("collected");
                order.next += 1;
                if let Some(s) = order.head() {
                    self.wake(Key::Notify(condvar, s));
                }
                self.wake(Key::Wake(condvar));
            }
            Op::BarrierArrive {
                barrier,
                generation,
            } => {
                let entry = self
                    .barriers
                    .get_mut(&(barrier, generation))
                    .expect("collected");
                entry.1 += 1;
                if entry.1 == entry.0 {
                    self.wake(Key::Barrier(barrier, generation));
                }
            }
            Op::Send { channel, seq } => {
                let unsent = self.sends.get_mut(&(channel, seq)).expect("collected");
                *unsent -= 1;
                if *unsent == 0 {
                    self.wake(Key::Send(channel, seq));
                }
            }
            Op::Access {
                var,
                write,
                order: Some(_),
                version,
            } => {
                let a = self.atomics.get_mut(&var).expect("collected");
                if write {
                    a.current = a.current.max(version);
                    let unread = a.reads_left.get(&version).is_some_and(|&n| n > 0);
                    self.wake(Key::Version(var, version));
                    if !unread {
                        self.wake(Key::ReadsDone(var, version));
                    }
                } else if let Some(n) = a.reads_left.get_mut(&version) {
                    *n -= 1;
                    if *n == 0 {
                        self.wake(Key::ReadsDone(var, version));
                    }
                }
            }
            Op::Fork { child } => {
                if let Some(&c) = self.position_of.get(&child) {
                    self.forks_done[c] += 1;
                    self.wake(Key::Forked(c));
                }
            }
            _ => {}
        }
        if self.done(t) {
            self.wake(Key::Done(t));
        } else {
            self.schedule(t);
        }
    }
}

impl Merger<'_> {
    /// The file's batch order, when it meets every constraint (the common case: one writer
    /// flushing batches in the order the events happened). The greedy merge would reproduce
    /// exactly this order, so checking each event's constraints as it comes is enough, with
    /// no ready set or wait queues. `None` at the first event that must wait.
    fn replay_batches(&mut self, total: usize) -> Option<Vec<(u32, u32)>> {
        let mut runs: Vec<(u64, usize, usize, usize)> = Vec::new();
        for (t, thread) in self.threads.iter().enumerate() {
            for (k, &(start, batch)) in thread.batches.iter().enumerate() {
                let end = thread
                    .batches
                    .get(k + 1)
                    .map_or(thread.events.len(), |b| b.0);
                runs.push((batch, t, start, end));
            }
        }
        runs.sort_unstable();
        self.replay = true;
        let mut order = Vec::with_capacity(total);
        for (_, t, start, end) in runs {
            for i in start..end {
                if self.next[t] != i || self.blocked_on(t).is_some() {
                    return None;
                }
                order.push((t as u32, i as u32));
                self.emit(t);
            }
        }
        (order.len() == total).then_some(order)
    }
}

fn describe(key: Key, threads: &[ThreadEvents]) -> String {
    match key {
        Key::Lock(o, s) => format!("the event with sequence number {s} of lock {}", o.0),
        Key::Notify(o, s) => format!("notification {s} of condvar {}", o.0),
        Key::Wake(o) => format!("earlier notifications of condvar {}", o.0),
        Key::Barrier(o, g) => format!("all arrivals of generation {g} at barrier {}", o.0),
        Key::Send(o, s) => format!("the send of message {s} on channel {}", o.0),
        Key::Version(o, v) => format!("the write of version {v} of atomic {}", o.0),
        Key::ReadsDone(o, v) => format!("the reads of version {v} of atomic {}", o.0),
        Key::Done(t) => format!("thread {} to finish", threads[t].id.0),
        Key::Forked(t) => format!("the fork of thread {}", threads[t].id.0),
    }
}

/// Merges `threads` (sorted by id) into one order.
pub(crate) fn linearize(threads: &[ThreadEvents]) -> Merged {
    let mut replay = merger(threads);
    let total = threads.iter().map(|t| t.events.len()).sum();
    if let Some(order) = replay.replay_batches(total) {
        return Merged { order, stuck: None };
    }
    // Some event comes before what it must follow: merge from scratch.
    let mut m = merger(threads);
    for t in 0..threads.len() {
        m.schedule(t);
    }
    let mut order = Vec::with_capacity(total);
    while let Some((_, t)) = m.ready.pop_first() {
        order.push((t as u32, m.next[t] as u32));
        m.emit(t);
    }
    let mut stuck = None;
    if order.len() < total {
        let t = (0..threads.len())
            .find(|&t| !m.done(t))
            .expect("events remain");
        let reason = m.blocked_on(t).map_or_else(
            || "an unmet constraint".to_owned(),
            |k| describe(k, threads),
        );
        stuck = Some(format!(
            "the per-thread events cannot be ordered consistently: event {} of thread {} waits for {reason}, \
             which never comes (inconsistent or truncated trace); the remaining {} events follow in thread order",
            m.next[t] + 1,
            threads[t].id.0,
            total - order.len()
        ));
        for (t, thread) in threads.iter().enumerate() {
            order.extend((m.next[t]..thread.events.len()).map(|i| (t as u32, i as u32)));
        }
    }
    Merged { order, stuck }
}

/// A merger over `threads` with every constraint collected and nothing emitted.
fn merger(threads: &[ThreadEvents]) -> Merger<'_> {
    let n = threads.len();
    let mut m = Merger {
        threads,
        position_of: threads.iter().enumerate().map(|(i, t)| (t.id, i)).collect(),
        next: vec![0; n],
        run: vec![0; n],
        locks: FastHashMap::default(),
        notifies: FastHashMap::default(),
        barriers: FastHashMap::default(),
        sends: FastHashMap::default(),
        atomics: FastHashMap::default(),
        forks_total: vec![0; n],
        forks_done: vec![0; n],
        waiting: FastHashMap::default(),
        ready: BTreeSet::new(),
        replay: false,
    };
    for thread in threads {
        for e in &thread.events {
            match e.op {
                Op::Acquire { lock, seq, .. } | Op::Release { lock, seq, .. } => {
                    m.locks.entry(lock).or_default().seqs.push(seq);
                }
                Op::Notify { condvar, seq, .. } => {
                    m.notifies.entry(condvar).or_default().seqs.push(seq)
                }
                Op::BarrierArrive {
                    barrier,
                    generation,
                } => m.barriers.entry((barrier, generation)).or_default().0 += 1,
                Op::Send { channel, seq } => *m.sends.entry((channel, seq)).or_default() += 1,
                Op::Access {
                    var,
                    write,
                    order: Some(_),
                    version,
                } => {
                    let a = m.atomics.entry(var).or_default();
                    if write {
                        a.written.insert(version);
                    } else {
                        *a.reads_left.entry(version).or_default() += 1;
                    }
                }
                Op::Fork { child } => {
                    if let Some(&c) = m.position_of.get(&child) {
                        m.forks_total[c] += 1;
                    }
                }
                _ => {}
            }
        }
    }
    for order in m.locks.values_mut().chain(m.notifies.values_mut()) {
        order.seqs.sort_unstable();
    }
    for a in m.atomics.values_mut() {
        // Start just before the first recorded write (0, the initial value, for a full recording).
        a.current = a.written.iter().min().map_or(0, |&v| v.saturating_sub(1));
    }
    m
}

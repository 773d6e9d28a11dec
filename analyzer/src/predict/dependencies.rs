//! Lock dependencies: (thread, lock acquired, locks held), deduplicated.
//!
//! One pass over the events keeps each thread's held list (a multiset: a
//! reentrant lock taken twice appears twice, a recursive read too). Releases
//! remove the most recent matching entry, so out-of-order releases work.

use std::collections::{HashMap, HashSet};

use crate::model::{Attempt, Mode, ObjIdx, ObjectKind, Op, SiteIdx, ThreadIdx, Trace};

/// One concrete acquisition behind a [`LockDependency`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DependencyInstance {
    /// Index in `trace.events` of the blocking `Acquire` (its `Request`, if any, precedes it).
    /// When the thread requested the lock and never got it (the trace ends blocked), this is
    /// the `Request`'s index.
    pub acquire: usize,
    /// Index in `trace.events` of the `Request` event, when the trace has one.
    pub request: Option<usize>,
    /// For each lock in [`LockDependency::held`], in the same order: index of the `Acquire` that took it.
    pub held_acquires: Vec<usize>,
}

impl DependencyInstance {
    /// The event the thread blocks at: its `Request` when there is one, else its `Acquire`.
    pub fn blocking_event(&self) -> usize {
        self.request.unwrap_or(self.acquire)
    }
}

/// A thread acquired `lock` (blocking) while holding `held`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockDependency {
    /// The thread.
    pub thread: ThreadIdx,
    /// The lock acquired.
    pub lock: ObjIdx,
    /// The mode it was acquired in.
    pub mode: Mode,
    /// The locks held (sorted by lock), with the mode each is held in.
    pub held: Vec<(ObjIdx, Mode)>,
    /// Every concrete acquisition, in trace order.
    pub instances: Vec<DependencyInstance>,
}

impl LockDependency {
    /// The mode `lock` is held in by this dependency, if it is held.
    pub fn held_mode(&self, lock: ObjIdx) -> Option<Mode> {
        self.held
            .binary_search_by_key(&lock, |&(l, _)| l)
            .ok()
            .map(|i| self.held[i].1)
    }
}

/// A thread acquiring a lock it (or its class) already holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NestingEvent {
    /// The thread.
    pub thread: ThreadIdx,
    /// The lock (instance) acquired.
    pub lock: ObjIdx,
    /// The instance already held (equal to `lock` for self-deadlock and recursive reads).
    pub held: ObjIdx,
    /// Index of the held lock's `Acquire`.
    pub held_acquire: usize,
    /// Index of the new `Acquire` (or `Request`, when the acquisition never completed).
    pub acquire: usize,
}

/// Everything derived from the held sets of one trace.
///
/// Nesting events are deduplicated by (thread, lock, held lock), keeping the first
/// occurrence, so a nesting inside a loop is reported once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dependencies {
    /// Deduplicated dependencies with non-empty held sets, sorted by (thread, lock, held, mode).
    pub deps: Vec<LockDependency>,
    /// Blocking re-acquisitions of a held non-reentrant lock (including RwLock read-while-write-held and write-while-read-held).
    pub self_deadlocks: Vec<NestingEvent>,
    /// A second blocking read of an RwLock the thread already read-holds.
    pub recursive_reads: Vec<NestingEvent>,
    /// Nested blocking acquisitions of two distinct instances of one lock class (known class sites only).
    pub same_class: Vec<NestingEvent>,
}

/// One entry of a thread's held list.
#[derive(Clone, Copy, Debug)]
struct HeldEntry {
    lock: ObjIdx,
    mode: Mode,
    acquire: usize,
}

/// Whether acquiring `lock` in `mode` blocks on the same thread already holding it in `held_mode`.
fn self_blocks(kind: ObjectKind, mode: Mode, held_mode: Mode) -> bool {
    match kind {
        ObjectKind::ReentrantMutex => false,
        ObjectKind::RwLock => !(mode == Mode::Read && held_mode == Mode::Read),
        _ => true,
    }
}

/// A blocking acquisition of `lock` in `mode` by `thread` at event `at` (the `Acquire`, or
/// the unanswered `Request`), with `request` its `Request` if any.
#[derive(Clone, Copy, Debug)]
struct BlockingAcquisition {
    thread: ThreadIdx,
    lock: ObjIdx,
    mode: Mode,
    at: usize,
    request: Option<usize>,
}

/// The deduplication key of a dependency: (thread, lock, mode, held set).
type DependencyKey = (ThreadIdx, ObjIdx, Mode, Vec<(ObjIdx, Mode)>);

/// Accumulates dependencies and nesting events while walking the trace.
#[derive(Default)]
struct DependencyCollector {
    deps: Vec<LockDependency>,
    dep_ids: HashMap<DependencyKey, usize>,
    deps_out: Dependencies,
    seen_nesting: HashSet<(u8, ThreadIdx, ObjIdx, ObjIdx)>,
}

impl DependencyCollector {
    fn nesting(&mut self, list: u8, event: NestingEvent) {
        let key = (list, event.thread, event.lock, event.held);
        if !self.seen_nesting.insert(key) {
            return;
        }
        match list {
            0 => self.deps_out.self_deadlocks.push(event),
            1 => self.deps_out.recursive_reads.push(event),
            _ => self.deps_out.same_class.push(event),
        }
    }

    /// A blocking acquisition by a thread holding `held`.
    fn blocking_acquire(
        &mut self,
        trace: &Trace,
        acquisition: BlockingAcquisition,
        held: &[HeldEntry],
    ) {
        let BlockingAcquisition {
            thread,
            lock,
            mode,
            at,
            request,
        } = acquisition;
        let kind = trace.object(lock).kind;
        if kind == ObjectKind::ReentrantMutex && held.iter().any(|h| h.lock == lock) {
            // Re-entering a monitor never waits.
            return;
        }
        if let Some(h) = held.iter().find(|h| h.lock == lock) {
            let event = NestingEvent {
                thread,
                lock,
                held: lock,
                held_acquire: h.acquire,
                acquire: at,
            };
            if self_blocks(kind, mode, h.mode) {
                self.nesting(0, event);
            } else {
                self.nesting(1, event);
            }
        }
        let class = trace.object(lock).class;
        if class != SiteIdx::UNKNOWN {
            for h in held
                .iter()
                .filter(|h| h.lock != lock && trace.object(h.lock).class == class)
            {
                self.nesting(
                    2,
                    NestingEvent {
                        thread,
                        lock,
                        held: h.lock,
                        held_acquire: h.acquire,
                        acquire: at,
                    },
                );
            }
        }
        // The held set: each other lock once, with its outermost acquisition.
        let mut set: Vec<HeldEntry> = held.iter().copied().filter(|h| h.lock != lock).collect();
        if set.is_empty() {
            return;
        }
        set.sort_by_key(|h| (h.lock, h.acquire));
        set.dedup_by_key(|h| h.lock);
        let key_held: Vec<(ObjIdx, Mode)> = set.iter().map(|h| (h.lock, h.mode)).collect();
        let instance = DependencyInstance {
            acquire: at,
            request,
            held_acquires: set.iter().map(|h| h.acquire).collect(),
        };
        let key = (thread, lock, mode, key_held);
        if let Some(&id) = self.dep_ids.get(&key) {
            self.deps[id].instances.push(instance);
        } else {
            let id = self.deps.len();
            self.deps.push(LockDependency {
                thread,
                lock,
                mode,
                held: key.3.clone(),
                instances: vec![instance],
            });
            self.dep_ids.insert(key, id);
        }
    }
}

/// Derives lock dependencies from `trace`. Linear in the number of events (times the
/// held-set size, which is small in practice).
pub fn lock_dependencies(trace: &Trace) -> Dependencies {
    let mut held: Vec<Vec<HeldEntry>> = vec![Vec::new(); trace.threads.len()];
    // The open `Request` of each thread: (lock, mode, event index).
    let mut pending: Vec<Option<(ObjIdx, Mode, usize)>> = vec![None; trace.threads.len()];
    let mut out = DependencyCollector::default();
    for (i, ev) in trace.events.iter().enumerate() {
        let t = ev.thread.0 as usize;
        if t >= held.len() {
            held.resize(t + 1, Vec::new());
            pending.resize(t + 1, None);
        }
        match ev.op {
            Op::Request { lock, mode } => pending[t] = Some((lock, mode, i)),
            Op::TryFailed { lock, .. } if pending[t].is_some_and(|(l, _, _)| l == lock) => {
                pending[t] = None;
            }
            Op::Acquire {
                lock,
                mode,
                attempt,
            } => {
                let request = match pending[t].take() {
                    Some((l, _, r)) if l == lock => Some(r),
                    _ => None,
                };
                if attempt == Attempt::Blocking {
                    let acquisition = BlockingAcquisition {
                        thread: ev.thread,
                        lock,
                        mode,
                        at: i,
                        request,
                    };
                    out.blocking_acquire(trace, acquisition, &held[t]);
                }
                held[t].push(HeldEntry {
                    lock,
                    mode,
                    acquire: i,
                });
            }
            Op::Release { lock, .. } => {
                if let Some(pos) = held[t].iter().rposition(|h| h.lock == lock) {
                    held[t].remove(pos);
                }
            }
            _ => {}
        }
    }
    // Requests never answered: the thread was blocked when the trace ended.
    for (t, p) in pending.iter().enumerate() {
        if let Some((lock, mode, r)) = *p {
            let acquisition = BlockingAcquisition {
                thread: ThreadIdx(t as u32),
                lock,
                mode,
                at: r,
                request: Some(r),
            };
            out.blocking_acquire(trace, acquisition, &held[t]);
        }
    }
    let DependencyCollector {
        mut deps,
        mut deps_out,
        ..
    } = out;
    deps.sort_by(|a, b| {
        (a.thread, a.lock, &a.held, a.mode).cmp(&(b.thread, b.lock, &b.held, b.mode))
    });
    deps_out.deps = deps;
    deps_out
}

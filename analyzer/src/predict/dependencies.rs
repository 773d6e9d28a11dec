//! Lock dependencies: (thread, lock acquired, locks held), deduplicated.
//!
//! One pass over the events keeps each thread's held list (a multiset: a
//! reentrant lock taken twice appears twice, a recursive read too). Releases
//! remove the most recent matching entry, so out-of-order releases work.

use crate::model::fast_hash::{FastHashMap, FastHashSet};
use crate::model::{Attempt, Mode, ObjIdx, ObjectKind, Op, SiteIdx, ThreadIdx, Trace};

/// One concrete acquisition behind a [`LockDependency`].
///
/// The acquisitions of the held locks live in one flat array of the [`Dependencies`]
/// (no allocation per acquisition); read them with [`Dependencies::held_acquires`] and
/// [`Dependencies::held_sites`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DependencyInstance {
    /// Index in `trace.events` of the blocking `Acquire` (its `Request`, if any, precedes it).
    /// When the thread requested the lock and never got it (the trace ends blocked), this is
    /// the `Request`'s index.
    pub acquire: usize,
    /// Index in `trace.events` of the `Request` event, when the trace has one.
    pub request: Option<usize>,
    /// Site of the `acquire` event.
    pub site: SiteIdx,
    /// Start of this instance's entries in the flat held arrays (one per lock of
    /// [`LockDependency::held`], in the same order).
    pub held_start: usize,
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

/// Most held locks a dependency records by default (see [`lock_dependencies_bounded`]).
pub const DEFAULT_MAX_HELD: usize = 32;

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
    /// The bound on held-set size these dependencies were collected with.
    pub max_held: usize,
    /// Acquisitions made while holding more than `max_held` other locks: their dependency
    /// keeps only the `max_held` innermost ones (edges from outer locks are lost).
    pub held_truncated: u64,
    /// Flat array of held-lock acquisitions (event indices), indexed by
    /// [`DependencyInstance::held_start`].
    held_acquires: Vec<usize>,
    /// Sites of those acquisitions, parallel to `held_acquires`.
    held_sites: Vec<SiteIdx>,
}

impl Dependencies {
    /// For each lock in `dep.held`, in the same order: the index of the `Acquire` of `inst`'s
    /// held set that took it (`inst` must be one of `dep.instances`).
    pub fn held_acquires(&self, dep: &LockDependency, inst: &DependencyInstance) -> &[usize] {
        self.held_acquires
            .get(inst.held_start..inst.held_start + dep.held.len())
            .unwrap_or(&[])
    }

    /// The sites of [`Dependencies::held_acquires`], in the same order.
    pub fn held_sites(&self, dep: &LockDependency, inst: &DependencyInstance) -> &[SiteIdx] {
        self.held_sites
            .get(inst.held_start..inst.held_start + dep.held.len())
            .unwrap_or(&[])
    }
}

/// One entry of a thread's held list.
#[derive(Clone, Copy, Debug)]
struct HeldEntry {
    lock: ObjIdx,
    mode: Mode,
    acquire: usize,
    site: SiteIdx,
    /// No deeper entry of the list holds the same lock: this is its outermost acquisition.
    outermost: bool,
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
    site: SiteIdx,
}

/// Which list of [`Dependencies`] a nesting event goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum NestingList {
    SelfDeadlock,
    RecursiveRead,
    SameClass,
}

/// Held sets of at most this many locks key the dependency map by value; larger ones are
/// interned first. Keying by value makes the common acquisition cost one map probe (no
/// second probe into a set table, no pointer chase to compare a boxed key).
const INLINE_HELD: usize = 4;

/// Marks a [`HeldKey`] holding an interned set id instead of inline entries (never a valid
/// entry encoding: those are below 2^35).
const INTERNED_HELD: u64 = u64::MAX;

/// A held set as a map key: up to [`INLINE_HELD`] entries encoded by [`encode_entry`] and
/// padded with 0, or `[INTERNED_HELD, id, 0, 0]`. Comparing two inline keys as arrays orders
/// them as their `Vec<(ObjIdx, Mode)>` (a shorter prefix first, as 0 is below every entry).
type HeldKey = [u64; INLINE_HELD];

/// The deduplication key of a dependency: (thread, lock, mode, held set).
type DependencyKey = (ThreadIdx, ObjIdx, Mode, HeldKey);

/// A [`DependencyKey`] packed in three words: `thread | encode_entry(lock, mode) << 32`,
/// then the held entries encoded two per word (0 for none).
type CompactKey = [u64; 3];

/// The [`CompactKey`] of a dependency, when every encoded entry fits 32 bits (locks below
/// 2^30) and it holds at most [`INLINE_HELD`] locks. Distinct dependencies get distinct keys.
fn compact_key(
    thread: ThreadIdx,
    lock: ObjIdx,
    mode: Mode,
    held: &[(ObjIdx, Mode)],
) -> Option<CompactKey> {
    const FITS: u32 = 1 << 30;
    if held.len() > INLINE_HELD || lock.0 >= FITS || held.iter().any(|&(l, _)| l.0 >= FITS) {
        return None;
    }
    let mut e = [0u64; INLINE_HELD];
    for (k, &(l, m)) in e.iter_mut().zip(held) {
        *k = encode_entry(l, m);
    }
    Some([
        u64::from(thread.0) | encode_entry(lock, mode) << 32,
        e[0] | e[1] << 32,
        e[2] | e[3] << 32,
    ])
}

/// `(lock, mode)` as a non-zero integer ordered as the pair.
fn encode_entry(lock: ObjIdx, mode: Mode) -> u64 {
    let mode = match mode {
        Mode::Write => 0,
        Mode::Read => 1,
        Mode::Upgradable => 2,
    };
    ((u64::from(lock.0) << 2) | mode) + 1
}

/// The first [`INLINE_HELD`] entries of `held`, encoded, for ordering.
fn held_prefix(held: &[(ObjIdx, Mode)]) -> HeldKey {
    let mut key = [0; INLINE_HELD];
    for (k, &(lock, mode)) in key.iter_mut().zip(held) {
        *k = encode_entry(lock, mode);
    }
    key
}

/// A [`DependencyInstance`] waiting to be moved into dependency `dep`.
#[derive(Clone, Copy, Debug)]
struct PendingInstance {
    dep: u32,
    site: SiteIdx,
    acquire: u64,
    /// The `Request`'s index, or `u64::MAX` for none.
    request: u64,
    held_start: u64,
}

/// Accumulates dependencies and nesting events while walking the trace.
#[derive(Default)]
struct DependencyCollector {
    max_held: usize,
    deps: Vec<LockDependency>,
    /// [`sort_key`] of each of `deps`, made when it is created (its held set is at hand
    /// then; reading it back for the final sort missed the cache once per dependency).
    sort_keys: Vec<SortKey>,
    /// Ids of the dependencies that have a [`compact_key`] (all but those with more than
    /// [`INLINE_HELD`] held locks or lock ids of 2^30 and above), by that key: a 32-byte
    /// entry instead of 56, in a map probed once per blocking acquisition.
    compact_ids: FastHashMap<CompactKey, u32>,
    /// Ids of the other dependencies.
    dep_ids: FastHashMap<DependencyKey, u32>,
    /// Interned held sets larger than [`INLINE_HELD`] (sorted by lock), looked up by slice so
    /// a known set costs no allocation.
    held_sets: FastHashMap<Box<[(ObjIdx, Mode)]>, u32>,
    /// Instances in trace order, grouped into their dependencies at the end: pushing
    /// straight into a dependency's `instances` missed the cache twice per acquisition
    /// (the dependency, then the tail of its vector), as consecutive acquisitions belong
    /// to unrelated dependencies.
    pending: Vec<PendingInstance>,
    deps_out: Dependencies,
    seen_nesting: FastHashSet<(NestingList, ThreadIdx, ObjIdx, ObjIdx)>,
    /// Scratch: the held set of the current acquisition (reused, never reallocated once grown).
    set: Vec<HeldEntry>,
    key: Vec<(ObjIdx, Mode)>,
}

impl DependencyCollector {
    fn nesting(&mut self, list: NestingList, event: NestingEvent) {
        let key = (list, event.thread, event.lock, event.held);
        if !self.seen_nesting.insert(key) {
            return;
        }
        match list {
            NestingList::SelfDeadlock => self.deps_out.self_deadlocks.push(event),
            NestingList::RecursiveRead => self.deps_out.recursive_reads.push(event),
            NestingList::SameClass => self.deps_out.same_class.push(event),
        }
    }

    /// A blocking acquisition by a thread holding `held` (outermost first).
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
            site,
        } = acquisition;
        if held.is_empty() {
            return;
        }
        let kind = trace.object(lock).kind;
        // The outermost entry of `lock` comes first in the list.
        if let Some(h) = held.iter().find(|h| h.lock == lock) {
            if kind == ObjectKind::ReentrantMutex {
                // Re-entering a monitor never waits.
                return;
            }
            let event = NestingEvent {
                thread,
                lock,
                held: lock,
                held_acquire: h.acquire,
                acquire: at,
            };
            if self_blocks(kind, mode, h.mode) {
                self.nesting(NestingList::SelfDeadlock, event);
            } else {
                self.nesting(NestingList::RecursiveRead, event);
            }
        }
        let class = trace.object(lock).class;
        if class != SiteIdx::UNKNOWN {
            for h in held
                .iter()
                .filter(|h| h.lock != lock && trace.object(h.lock).class == class)
            {
                self.nesting(
                    NestingList::SameClass,
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
        // The held set: each other lock once, with its outermost acquisition, innermost
        // `max_held` locks only (walking inward-out stops there, so deep nesting stays linear).
        self.set.clear();
        let mut truncated = false;
        for h in held.iter().rev() {
            if !h.outermost || h.lock == lock {
                continue;
            }
            if self.set.len() == self.max_held {
                truncated = true;
                break;
            }
            self.set.push(*h);
        }
        if self.set.is_empty() {
            return;
        }
        if truncated {
            self.deps_out.held_truncated += 1;
        }
        self.set.sort_unstable_by_key(|h| h.lock);
        self.key.clear();
        self.key.extend(self.set.iter().map(|h| (h.lock, h.mode)));
        let held_start = self.deps_out.held_acquires.len();
        self.deps_out
            .held_acquires
            .extend(self.set.iter().map(|h| h.acquire));
        self.deps_out
            .held_sites
            .extend(self.set.iter().map(|h| h.site));
        let next = self.deps.len() as u32;
        let id = match compact_key(thread, lock, mode, &self.key) {
            Some(key) => *self.compact_ids.entry(key).or_insert(next),
            None => {
                let held_key = if self.key.len() <= INLINE_HELD {
                    held_prefix(&self.key)
                } else {
                    let id = match self.held_sets.get(self.key.as_slice()) {
                        Some(&id) => id,
                        None => {
                            let id = self.held_sets.len() as u32;
                            self.held_sets
                                .insert(self.key.clone().into_boxed_slice(), id);
                            id
                        }
                    };
                    [INTERNED_HELD, u64::from(id), 0, 0]
                };
                *self
                    .dep_ids
                    .entry((thread, lock, mode, held_key))
                    .or_insert(next)
            }
        };
        if id == next {
            self.sort_keys
                .push((thread.0, lock.0, held_prefix(&self.key), mode, next));
            self.deps.push(LockDependency {
                thread,
                lock,
                mode,
                held: self.key.clone(),
                instances: Vec::new(),
            });
        }
        self.pending.push(PendingInstance {
            dep: id,
            site,
            acquire: at as u64,
            request: request.map_or(u64::MAX, |r| r as u64),
            held_start: held_start as u64,
        });
    }

    /// Moves the pending instances into their dependencies, in trace order, each vector
    /// allocated once at its final size.
    fn group_instances(&mut self) {
        let mut counts = vec![0u32; self.deps.len()];
        for p in &self.pending {
            counts[p.dep as usize] += 1;
        }
        for (dep, &count) in self.deps.iter_mut().zip(&counts) {
            dep.instances = Vec::with_capacity(count as usize);
        }
        drop(counts);
        for p in std::mem::take(&mut self.pending) {
            self.deps[p.dep as usize]
                .instances
                .push(DependencyInstance {
                    acquire: p.acquire as usize,
                    request: (p.request != u64::MAX).then_some(p.request as usize),
                    site: p.site,
                    held_start: p.held_start as usize,
                });
        }
    }
}

/// Sorts `deps` by (thread, lock, held, mode) comparing integer keys, so that the sort does
/// not chase every dependency's `held` pointer (only held sets longer than [`INLINE_HELD`]
/// that agree on their first entries are compared as slices).
#[cfg(test)]
fn sort_dependencies(deps: Vec<LockDependency>) -> Vec<LockDependency> {
    let keys = deps
        .iter()
        .enumerate()
        .map(|(i, d)| sort_key(i, d))
        .collect();
    sort_by_keys(deps, keys)
}

/// A dependency's position key: (thread, lock, encoded first held entries, mode, index).
type SortKey = (u32, u32, HeldKey, Mode, u32);

/// The [`SortKey`] of `dep`, which is `deps[i]`.
#[cfg(test)]
fn sort_key(i: usize, dep: &LockDependency) -> SortKey {
    (
        dep.thread.0,
        dep.lock.0,
        held_prefix(&dep.held),
        dep.mode,
        i as u32,
    )
}

/// [`sort_dependencies`] with the keys already made (`keys[i]` is `sort_key(i, &deps[i])`).
fn sort_by_keys(deps: Vec<LockDependency>, mut keys: Vec<SortKey>) -> Vec<LockDependency> {
    keys.sort_unstable_by(|a, b| {
        (a.0, a.1, a.2)
            .cmp(&(b.0, b.1, b.2))
            .then_with(|| {
                let (x, y) = (&deps[a.4 as usize].held, &deps[b.4 as usize].held);
                if x.len() > INLINE_HELD && y.len() > INLINE_HELD {
                    x[INLINE_HELD..].cmp(&y[INLINE_HELD..])
                } else {
                    x.len().cmp(&y.len())
                }
            })
            .then(a.3.cmp(&b.3))
    });
    let mut slots: Vec<Option<LockDependency>> = deps.into_iter().map(Some).collect();
    keys.iter()
        .filter_map(|k| slots[k.4 as usize].take())
        .collect()
}

/// Derives lock dependencies from `trace` with held sets of at most [`DEFAULT_MAX_HELD`] locks.
pub fn lock_dependencies(trace: &Trace) -> Dependencies {
    lock_dependencies_bounded(trace, DEFAULT_MAX_HELD)
}

/// Derives lock dependencies from `trace`, recording at most `max_held` held locks per
/// dependency (the innermost ones; acquisitions cut so are counted in
/// [`Dependencies::held_truncated`]). Linear in the number of events times the nesting depth,
/// with no allocation per event; `max_held` bounds the output to events × `max_held`.
pub fn lock_dependencies_bounded(trace: &Trace, max_held: usize) -> Dependencies {
    let mut held: Vec<Vec<HeldEntry>> = vec![Vec::new(); trace.threads.len()];
    // The open `Request` of each thread: (lock, mode, event index).
    let mut pending: Vec<Option<(ObjIdx, Mode, usize)>> = vec![None; trace.threads.len()];
    let mut out = DependencyCollector {
        max_held: max_held.max(1),
        ..DependencyCollector::default()
    };
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
                        site: ev.site,
                    };
                    out.blocking_acquire(trace, acquisition, &held[t]);
                }
                let outermost = !held[t].iter().any(|h| h.lock == lock);
                held[t].push(HeldEntry {
                    lock,
                    mode,
                    acquire: i,
                    site: ev.site,
                    outermost,
                });
            }
            Op::Release { lock, .. } => {
                // A thread that lets go of a lock while its request is open gave the request
                // up (it panicked out of the wait, as a live deadlock report makes it): the
                // request depended on what the thread held then, not at the trace's end.
                if let Some((requested, mode, r)) = pending[t].take() {
                    let acquisition = BlockingAcquisition {
                        thread: ev.thread,
                        lock: requested,
                        mode,
                        at: r,
                        request: Some(r),
                        site: trace.events.get(r).map_or(SiteIdx::UNKNOWN, |e| e.site),
                    };
                    out.blocking_acquire(trace, acquisition, &held[t]);
                }
                // The most recent entry goes; it is the outermost only when it is the last one.
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
                site: trace.events.get(r).map_or(SiteIdx::UNKNOWN, |e| e.site),
            };
            out.blocking_acquire(trace, acquisition, &held[t]);
        }
    }
    out.group_instances();
    let DependencyCollector {
        deps,
        sort_keys,
        mut deps_out,
        max_held,
        ..
    } = out;
    deps_out.deps = sort_by_keys(deps, sort_keys);
    deps_out.max_held = max_held;
    deps_out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mode(m: u8) -> Mode {
        [Mode::Write, Mode::Read, Mode::Upgradable][usize::from(m % 3)]
    }

    proptest! {
        /// The integer-keyed sort orders like the plain (thread, lock, held, mode) tuple
        /// sort, for held sets shorter and longer than the inline key.
        #[test]
        fn sort_matches_tuple_order(
            raw in proptest::collection::vec(
                (0u32..3, 0u32..3, 0u8..3,
                 proptest::collection::vec((0u32..4, 0u8..3), 0..8)),
                0..60,
            )
        ) {
            let deps: Vec<LockDependency> = raw
                .into_iter()
                .map(|(t, l, m, held)| LockDependency {
                    thread: ThreadIdx(t),
                    lock: ObjIdx(l),
                    mode: mode(m),
                    held: held.into_iter().map(|(h, hm)| (ObjIdx(h), mode(hm))).collect(),
                    instances: Vec::new(),
                })
                .collect();
            let mut expected = deps.clone();
            expected.sort_by(|a, b| {
                (a.thread, a.lock, &a.held, a.mode).cmp(&(b.thread, b.lock, &b.held, b.mode))
            });
            let got = sort_dependencies(deps);
            let key = |d: &LockDependency| (d.thread, d.lock, d.held.clone(), d.mode);
            prop_assert_eq!(
                got.iter().map(key).collect::<Vec<_>>(),
                expected.iter().map(key).collect::<Vec<_>>()
            );
        }
    }

    /// Compact keys are distinct for distinct dependencies (held sets differing in an entry,
    /// a mode or their length), and absent when an id or the held set does not fit.
    #[test]
    fn compact_keys_are_injective_or_absent() {
        let (t, l) = (ThreadIdx(u32::MAX), ObjIdx((1 << 30) - 1));
        let held = [
            (ObjIdx(0), Mode::Write),
            (ObjIdx((1 << 30) - 1), Mode::Upgradable),
        ];
        let mut keys = vec![
            compact_key(t, l, Mode::Write, &held),
            compact_key(t, l, Mode::Read, &held),
            compact_key(t, l, Mode::Write, &held[..1]),
            compact_key(t, l, Mode::Write, &[]),
            compact_key(ThreadIdx(0), l, Mode::Write, &held),
            compact_key(t, ObjIdx(0), Mode::Write, &held),
            compact_key(t, l, Mode::Write, &[(ObjIdx(0), Mode::Read)]),
        ];
        assert!(keys.iter().all(Option::is_some));
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 7);
        assert_eq!(compact_key(t, ObjIdx(1 << 30), Mode::Write, &held), None);
        assert_eq!(
            compact_key(t, l, Mode::Write, &[(ObjIdx(1 << 30), Mode::Write)]),
            None
        );
        assert_eq!(compact_key(t, l, Mode::Write, &[held[0]; 5]), None);
    }

    /// Held sets above the inline size are interned: two acquisitions under the same six
    /// locks make one dependency with two instances, a different sixth lock another.
    #[test]
    fn large_held_sets_deduplicate() {
        let mut trace = Trace::new("t");
        trace
            .threads
            .push(crate::model::Thread { name: "T0".into() });
        for i in 0..8 {
            trace.objects.push(crate::model::Object {
                name: format!("L{i}"),
                kind: ObjectKind::Mutex,
                class: SiteIdx::UNKNOWN,
                user_named: false,
            });
        }
        let ev = |op| crate::model::Event {
            thread: ThreadIdx(0),
            op,
            site: SiteIdx::UNKNOWN,
        };
        let acq = |l| {
            ev(Op::Acquire {
                lock: ObjIdx(l),
                mode: Mode::Write,
                attempt: Attempt::Blocking,
            })
        };
        let rel = |l| {
            ev(Op::Release {
                lock: ObjIdx(l),
                mode: Mode::Write,
            })
        };
        for outer in [5, 5, 6] {
            for l in (0..5).chain([outer, 7]) {
                trace.events.push(acq(l));
            }
            for l in [7, outer].into_iter().chain((0..5).rev()) {
                trace.events.push(rel(l));
            }
        }
        let deps = lock_dependencies(&trace);
        let into_7: Vec<_> = deps.deps.iter().filter(|d| d.lock == ObjIdx(7)).collect();
        assert_eq!(into_7.len(), 2);
        assert_eq!(into_7[0].held.len(), 6);
        assert_eq!(into_7[0].instances.len(), 2);
        assert_eq!(into_7[1].instances.len(), 1);
        assert_eq!(into_7[1].held[5].0, ObjIdx(6));
    }
}

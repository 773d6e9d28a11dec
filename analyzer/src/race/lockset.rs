//! Locksets: interned sets of held locks, each thread's current one, and the
//! Eraser lockset algorithm (Savage et al., SOSP 1997) for `--lockset` mode.
//!
//! Interning keeps per-access cost O(1): a thread's lockset id only changes at
//! acquisitions and releases, through a cached transition table, so an access
//! just copies an integer. Id 0 is the empty set.
//!
//! # Eraser, as implemented
//!
//! Per variable (plain accesses only; atomics need no lock): `Virgin` →
//! `Exclusive(t)` at the first access. Another thread's access leaves
//! `Exclusive` (to `Shared` on a read, `SharedModified` on a write) unless it is
//! ordered after the owner's last access by fork/join alone, which hands
//! ownership over (initialise-then-spawn, join-then-read). On leaving
//! `Exclusive` the candidate set is the new access's locks, intersected with
//! the owner's last access's locks when that access held any (an owner holding
//! no lock was initialising; one holding locks chose them); every later access
//! intersects it further. A read counts
//! locks held in any mode, a write only locks held in write mode. A variable is
//! reported once, when it is `SharedModified` with an empty candidate set.
//! Lock handoffs order nothing here, which is the point: two accesses under
//! different locks are reported even when this run happened to order them.

use crate::model::fast_hash::FastHashMap as HashMap;

use crate::model::{Mode, ObjIdx};

use super::epochs::{AccessKind, AccessRecord};

/// A held lock and the mode it is held in.
pub type LockEntry = (ObjIdx, Mode);

/// Interned locksets.
#[derive(Clone, Debug)]
pub struct Locksets {
    sets: Vec<Box<[LockEntry]>>,
    /// Ids by the hash of their set: each set is stored once (in `sets`), since deep
    /// nesting makes sets large and storing them twice doubled the peak memory.
    ids: HashMap<u64, Vec<u32>>,
    transitions: HashMap<(u32, LockEntry, bool), u32>,
    write_only: HashMap<u32, u32>,
    meets: HashMap<(u32, u32), u32>,
    /// Ids of sets of at most [`SMALL_SET`] entries, keyed by their encoded entries.
    small_ids: HashMap<[u32; SMALL_SET], u32>,
}

/// Sets up to this size are interned by value (see [`Locksets::intern_slice`]).
const SMALL_SET: usize = 4;

impl Default for Locksets {
    fn default() -> Self {
        let empty: Box<[LockEntry]> = Box::new([]);
        let mut ids = HashMap::default();
        ids.insert(set_hash(&empty), vec![0]);
        Locksets {
            sets: vec![empty],
            ids,
            transitions: HashMap::default(),
            write_only: HashMap::default(),
            meets: HashMap::default(),
            small_ids: HashMap::default(),
        }
    }
}

impl Locksets {
    /// The empty lockset.
    pub const EMPTY: u32 = 0;

    /// The locks of set `id`, sorted.
    pub fn get(&self, id: u32) -> &[LockEntry] {
        &self.sets[id as usize]
    }

    /// The id of `set` (any order, repeats allowed; sorted in place). Sets of at most
    /// [`SMALL_SET`] entries are found by value with one probe and no allocation.
    pub fn intern_slice(&mut self, set: &mut Vec<LockEntry>) -> u32 {
        set.sort_unstable();
        set.dedup();
        if set.len() > SMALL_SET {
            return self.intern(set.clone());
        }
        let mut key = [0u32; SMALL_SET];
        for (k, &(lock, mode)) in key.iter_mut().zip(set.iter()) {
            let mode = match mode {
                Mode::Write => 0,
                Mode::Read => 1,
                Mode::Upgradable => 2,
            };
            // Non-zero, so a shorter set never equals a padded longer one. Lock ids above
            // 2^30 cannot be keyed this way: they take the general path.
            match lock.0.checked_mul(4).and_then(|v| v.checked_add(mode + 1)) {
                Some(v) => *k = v,
                None => return self.intern(set.clone()),
            }
        }
        if let Some(&id) = self.small_ids.get(&key) {
            return id;
        }
        let id = self.intern(set.clone());
        self.small_ids.insert(key, id);
        id
    }

    fn intern(&mut self, mut set: Vec<LockEntry>) -> u32 {
        set.sort();
        set.dedup();
        let hash = set_hash(&set);
        let bucket = self.ids.entry(hash).or_default();
        if let Some(&id) = bucket
            .iter()
            .find(|&&id| *self.sets[id as usize] == *set.as_slice())
        {
            return id;
        }
        let id = self.sets.len() as u32;
        bucket.push(id);
        self.sets.push(set.into_boxed_slice());
        id
    }

    /// Set `id` with `entry` added (`add`) or removed.
    pub fn step(&mut self, id: u32, entry: LockEntry, add: bool) -> u32 {
        if let Some(&next) = self.transitions.get(&(id, entry, add)) {
            return next;
        }
        let mut set = self.get(id).to_vec();
        if add {
            set.push(entry);
        } else {
            set.retain(|&e| e != entry);
        }
        let next = self.intern(set);
        self.transitions.insert((id, entry, add), next);
        next
    }

    /// The locks of set `id` held in write mode.
    pub fn writes_of(&mut self, id: u32) -> u32 {
        if let Some(&w) = self.write_only.get(&id) {
            return w;
        }
        let set: Vec<LockEntry> = self
            .get(id)
            .iter()
            .copied()
            .filter(|&(_, m)| m == Mode::Write)
            .collect();
        let w = self.intern(set);
        self.write_only.insert(id, w);
        w
    }

    /// The entries of `a` whose lock (in whatever mode) is also in `b`.
    pub fn meet(&mut self, a: u32, b: u32) -> u32 {
        let key = (a, b);
        if let Some(&m) = self.meets.get(&key) {
            return m;
        }
        let bs = self.get(b);
        let set: Vec<LockEntry> = self
            .get(a)
            .iter()
            .copied()
            .filter(|(l, _)| bs.iter().any(|(k, _)| k == l))
            .collect();
        let m = self.intern(set);
        self.meets.insert(key, m);
        m
    }
}

/// The interning hash of a lockset.
fn set_hash(set: &[LockEntry]) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<crate::model::fast_hash::FastHasher>::default().hash_one(set)
}

/// The locks one thread holds: every acquisition with where it happened, and the interned set.
///
/// The set is interned lazily, when [`HeldLocks::id`] asks for it after a change: most
/// acquisitions and releases are never followed by an access before the next change, and
/// a transition lookup per change (a cache miss each with many distinct sets) was about
/// half the cost of race detection.
#[derive(Clone, Debug, Default)]
pub struct HeldLocks {
    /// (lock, mode, index of the acquiring event), in acquisition order, one per level.
    pub held: Vec<(ObjIdx, Mode, usize)>,
    /// Interned set of the distinct (lock, mode) pairs held, when not `stale`.
    id: u32,
    /// Whether `held` changed since `id` was interned.
    stale: bool,
    /// Scratch for interning.
    scratch: Vec<LockEntry>,
}

impl HeldLocks {
    /// Records an acquisition at `event`.
    pub fn acquire(&mut self, lock: ObjIdx, mode: Mode, event: usize) {
        let again = self.held.iter().any(|&(l, m, _)| l == lock && m == mode);
        self.held.push((lock, mode, event));
        self.stale |= !again;
    }

    /// Records a release (of the innermost matching level; unmatched releases are ignored).
    pub fn release(&mut self, lock: ObjIdx, mode: Mode) {
        let Some(i) = self
            .held
            .iter()
            .rposition(|&(l, m, _)| l == lock && m == mode)
            .or_else(|| self.held.iter().rposition(|&(l, _, _)| l == lock))
        else {
            return;
        };
        let (_, mode, _) = self.held.remove(i);
        self.stale |= !self.held.iter().any(|&(l, m, _)| l == lock && m == mode);
    }

    /// The interned set of the distinct (lock, mode) pairs held now.
    pub fn id(&mut self, sets: &mut Locksets) -> u32 {
        if self.stale {
            self.scratch.clear();
            self.scratch
                .extend(self.held.iter().map(|&(l, m, _)| (l, m)));
            self.id = sets.intern_slice(&mut self.scratch);
            self.stale = false;
        }
        self.id
    }

    /// Index of the event that took the outermost level of `lock` still held.
    pub fn outermost(&self, lock: ObjIdx) -> Option<usize> {
        self.held
            .iter()
            .find(|&&(l, _, _)| l == lock)
            .map(|&(_, _, e)| e)
    }
}

/// Clocks of fork/join edges only, for Eraser's ownership handoff.
#[derive(Clone, Debug)]
pub struct ForkJoinClocks {
    n: usize,
    clocks: Vec<u32>,
    count: Vec<u32>,
}

impl ForkJoinClocks {
    /// Clocks for `n` threads: dense, `n²` words, so [`crate::race::detect`] bounds `n` by
    /// [`crate::race::MAX_RACE_THREADS`].
    pub fn new(n: usize) -> ForkJoinClocks {
        ForkJoinClocks {
            n,
            clocks: vec![0; n * n],
            count: vec![0; n],
        }
    }

    /// Advances thread `t` by one event doing `op`; returns its own new component.
    pub fn step(&mut self, t: usize, op: &crate::model::Op) -> u32 {
        let n = self.n;
        let pos = self.count[t];
        self.count[t] += 1;
        if let crate::model::Op::Join { child } = *op {
            let c = child.0 as usize;
            // Also for a child with no events: its clock holds its fork's.
            if c < n && c != t {
                for i in 0..n {
                    let s = self.clocks[c * n + i];
                    let d = &mut self.clocks[t * n + i];
                    *d = (*d).max(s);
                }
            }
        }
        self.clocks[t * n + t] = pos + 1;
        if let crate::model::Op::Fork { child } = *op {
            let c = child.0 as usize;
            if c < n && c != t {
                for i in 0..n {
                    if i != c {
                        let s = self.clocks[t * n + i];
                        let d = &mut self.clocks[c * n + i];
                        *d = (*d).max(s);
                    }
                }
            }
        }
        pos + 1
    }

    /// Whether the access of thread `a_thread` at fork/join epoch `a_clock` is ordered
    /// before the current event of `t` by fork/join edges.
    pub fn ordered_before(&self, a_thread: u32, a_clock: u32, t: usize) -> bool {
        a_thread as usize == t || a_clock <= self.clocks[t * self.n + a_thread as usize]
    }
}

/// Eraser state of one variable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum EraserState {
    #[default]
    Virgin,
    Exclusive,
    Shared,
    SharedModified,
}

/// Eraser's record of an access: the access and its fork/join epoch.
#[derive(Clone, Copy, Debug)]
struct EraserAccess {
    rec: AccessRecord,
    kind: AccessKind,
    fj_clock: u32,
}

/// Per-variable Eraser state.
#[derive(Clone, Debug, Default)]
pub struct EraserVar {
    state: EraserState,
    candidates: u32,
    last: Option<EraserAccess>,
    /// Most recent access by a thread other than `last`'s.
    other: Option<EraserAccess>,
    /// Since the variable was last owned by one thread: each accessing thread's
    /// latest fork/join epoch, to see when all of them are joined (or forked).
    sharers: Vec<(u32, u32)>,
    reported: bool,
}

/// A variable whose candidate lockset became empty: the access that emptied it
/// and an earlier access by another thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EraserWarning {
    /// The earlier access by another thread.
    pub first: AccessRecord,
    /// The access that emptied the candidate set.
    pub second: AccessRecord,
}

impl EraserVar {
    /// Processes a plain access; returns a warning the first time the candidate set empties.
    pub fn access(
        &mut self,
        sets: &mut Locksets,
        fj: &ForkJoinClocks,
        kind: AccessKind,
        rec: AccessRecord,
        fj_clock: u32,
    ) -> Option<EraserWarning> {
        let t = rec.thread as usize;
        let cur = EraserAccess {
            rec,
            kind,
            fj_clock,
        };
        let guard = |sets: &mut Locksets, a: &EraserAccess| {
            if a.kind.writes() {
                sets.writes_of(a.rec.lockset)
            } else {
                a.rec.lockset
            }
        };
        match (self.state, self.last) {
            (EraserState::Virgin, _) | (_, None) => self.state = EraserState::Exclusive,
            (EraserState::Exclusive, Some(last)) => {
                if !fj.ordered_before(last.rec.thread, last.fj_clock, t) {
                    // An owner that held no lock was initialising; one that held
                    // locks chose them, so they must protect this access too.
                    let b = guard(sets, &cur);
                    self.candidates = if last.rec.lockset == Locksets::EMPTY {
                        b
                    } else {
                        let a = guard(sets, &last);
                        sets.meet(a, b)
                    };
                    self.state = if kind.writes() {
                        EraserState::SharedModified
                    } else {
                        EraserState::Shared
                    };
                }
            }
            (EraserState::Shared | EraserState::SharedModified, Some(_))
                if self
                    .sharers
                    .iter()
                    .all(|&(th, clock)| fj.ordered_before(th, clock, t)) =>
            {
                // Every thread that shared it is ordered before this access by
                // fork/join alone (join-then-read of workers' results): like the
                // first handoff, ownership passes to this thread, by structure,
                // not by a lucky schedule.
                self.state = EraserState::Exclusive;
                self.sharers.clear();
            }
            (EraserState::Shared | EraserState::SharedModified, Some(_)) => {
                let b = guard(sets, &cur);
                self.candidates = sets.meet(self.candidates, b);
                if kind.writes() {
                    self.state = EraserState::SharedModified;
                }
            }
        }
        if self.state == EraserState::Exclusive {
            self.sharers.clear();
        } else if self.sharers.is_empty()
            && let Some(last) = self.last
        {
            // Just left `Exclusive`: the owner shares it from now on.
            self.sharers.push((last.rec.thread, last.fj_clock));
        }
        match self.sharers.iter_mut().find(|(th, _)| *th == rec.thread) {
            Some(entry) => entry.1 = fj_clock,
            None if self.state != EraserState::Exclusive => {
                self.sharers.push((rec.thread, fj_clock));
            }
            None => {}
        }
        let warning = if self.state == EraserState::SharedModified
            && self.candidates == Locksets::EMPTY
            && !self.reported
        {
            let partner = match (self.last, self.other) {
                (Some(l), _) if l.rec.thread != rec.thread => Some(l),
                (_, Some(o)) if o.rec.thread != rec.thread => Some(o),
                _ => None,
            };
            partner.map(|p| {
                self.reported = true;
                EraserWarning {
                    first: p.rec,
                    second: rec,
                }
            })
        } else {
            None
        };
        if let Some(last) = self.last
            && last.rec.thread != rec.thread
        {
            self.other = Some(last);
        }
        self.last = Some(cur);
        warning
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// After any sequence of acquisitions and (possibly unmatched, out-of-order)
        /// releases, the thread's set id names exactly the distinct (lock, mode) pairs held.
        #[test]
        fn held_set_id_matches_held_list(
            ops in proptest::collection::vec((any::<bool>(), 0u32..4, 0u8..2), 0..80)
        ) {
            let mut sets = Locksets::default();
            let mut held = HeldLocks::default();
            for (k, &(acquire, lock, mode)) in ops.iter().enumerate() {
                let mode = if mode == 0 { Mode::Write } else { Mode::Read };
                if acquire {
                    held.acquire(ObjIdx(lock), mode, k);
                } else {
                    held.release(ObjIdx(lock), mode);
                }
                let mut expected: Vec<LockEntry> = held.held.iter().map(|&(l, m, _)| (l, m)).collect();
                expected.sort();
                expected.dedup();
                let id = held.id(&mut sets);
                prop_assert_eq!(sets.get(id), expected.as_slice());
                // Interning is canonical: the same set from scratch has the same id.
                let mut fresh = expected.clone();
                prop_assert_eq!(sets.intern_slice(&mut fresh), id);
            }
        }
    }
}

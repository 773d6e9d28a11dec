//! Lock dependencies: (thread, lock acquired, locks held), deduplicated.

use crate::model::{Mode, ObjIdx, ThreadIdx, Trace};

/// One concrete acquisition behind a [`LockDependency`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DependencyInstance {
    /// Index in `trace.events` of the blocking `Acquire` (its `Request`, if any, precedes it).
    pub acquire: usize,
    /// Index in `trace.events` of the `Request` event, when the trace has one.
    pub request: Option<usize>,
    /// For each lock in [`LockDependency::held`], in the same order: index of the `Acquire` that took it.
    pub held_acquires: Vec<usize>,
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dependencies {
    /// Deduplicated dependencies with non-empty held sets, sorted by (thread, lock, held).
    pub deps: Vec<LockDependency>,
    /// Blocking re-acquisitions of a held non-reentrant lock (including RwLock read-while-write-held and write-while-read-held).
    pub self_deadlocks: Vec<NestingEvent>,
    /// A second blocking read of an RwLock the thread already read-holds.
    pub recursive_reads: Vec<NestingEvent>,
    /// Nested blocking acquisitions of two distinct instances of one lock class (known class sites only).
    pub same_class: Vec<NestingEvent>,
}

/// Derives lock dependencies from `trace`.
pub fn lock_dependencies(trace: &Trace) -> Dependencies {
    let _ = trace;
    Dependencies::default()
}

//! The recorder: per-thread event buffers flushed to a [`Sink`].
//!
//! Hot path (an uncontended lock and unlock): the lock's own sequence counter,
//! the thread's own event ring (lock-free, written only by its thread; see
//! `local.rs`), and a direct-mapped thread-local site cache. Everything global
//! (thread, object and site registration, writing to the sink) happens once
//! per thread, object or site, or once per ring-full or flush period.
//!
//! Ordering guarantee: a description record (`Site`, `Thread`, `Object`) is
//! written to the sink before its id is handed out, so it precedes every
//! `Events` batch that uses it; the batches of one thread are written in
//! program order because consumers of a ring hold its drain lock while they
//! write.
//!
//! `INSTRUMENTED_SYNC=off` (or `0`, `false`) turns recording off at run time:
//! the primitives then cost one extra load and branch over std's.

mod local;
mod output;
mod raw;
mod sink;

use std::panic::Location;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{LockResult, Mutex as StdMutex, PoisonError, TryLockError, TryLockResult};

pub use sink::{DEFAULT_MEMORY_CAP, FileSink, MemorySink, Sink};
use sync_trace::{Attempt, Mode, ObjectId, ObjectKind, Op, SiteId, ThreadId};

#[cfg(test)]
pub(crate) use local::BUFFER_CAPACITY;
pub(crate) use local::{
    enter_spawned_thread, leave_spawned_thread, record, record_at, site, site_recorded, this_thread,
};
// Events of async tasks, each recorded as its own trace thread.
#[cfg(feature = "tokio")]
pub(crate) use local::record_as;
pub(crate) use output::memory_cap;
pub(crate) use output::{describe_site, record_observed};
pub use output::{dropped_events, flush, recorded, set_sink, trace_path};

/// Environment variable: `off` (or `0`, `false`, `no`) disables recording.
pub(crate) const SWITCH_VAR: &str = "INSTRUMENTED_SYNC";

/// Whether recording is on: 0 = not read yet, 1 = on, 2 = off. Alone on its
/// cache line: written once, then only read, so every core keeps a shared copy.
#[repr(align(128))]
struct Switch(AtomicU8);

static SWITCH: Switch = Switch(AtomicU8::new(0));

/// Whether recording is on (`INSTRUMENTED_SYNC` is not `off`); fixed at first use.
#[inline(always)]
pub(crate) fn enabled() -> bool {
    match SWITCH.0.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => read_switch(),
    }
}

#[cold]
#[inline(never)]
fn read_switch() -> bool {
    let off = std::env::var(SWITCH_VAR).is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "off" | "0" | "false" | "no"
        )
    });
    // Racing first uses agree: they read the same environment.
    SWITCH.0.store(if off { 2 } else { 1 }, Ordering::Relaxed);
    !off
}

/// The recorder's bookkeeping inside every instrumented object: its lazily
/// assigned id, its sequence counter, its class (construction site) and name.
pub(crate) struct ObjectMeta {
    /// 0 until first use; published only after the `Object` record is written.
    id: AtomicU64,
    /// The per-object sequence counter, advanced while the object is held.
    seq: AtomicU64,
    /// `None` for objects built from a `const` with no caller (lock_api's `INIT`): class unknown.
    class: Option<&'static Location<'static>>,
    kind: ObjectKind,
    name: StdMutex<Option<&'static str>>,
    /// The exclusive holder, for the deadlock detector (one relaxed store per acquire and release).
    pub(crate) holder: crate::waitfor::HolderWord,
}

impl ObjectMeta {
    /// Metadata for an object constructed at the caller's location.
    #[track_caller]
    pub(crate) const fn new(kind: ObjectKind) -> ObjectMeta {
        ObjectMeta {
            id: AtomicU64::new(0),
            seq: AtomicU64::new(0),
            class: Some(Location::caller()),
            kind,
            name: StdMutex::new(None),
            holder: crate::waitfor::HolderWord::new(),
        }
    }

    /// Metadata for an object whose construction site cannot be known (it is
    /// built from a `const`, such as lock_api's `RawMutex::INIT`): its class is
    /// recorded as unknown, so distinct instances are never one class.
    #[cfg(feature = "parking_lot")]
    pub(crate) const fn unclassed(kind: ObjectKind) -> ObjectMeta {
        ObjectMeta {
            id: AtomicU64::new(0),
            seq: AtomicU64::new(0),
            class: None,
            kind,
            name: StdMutex::new(None),
            holder: crate::waitfor::HolderWord::new(),
        }
    }

    /// The object's id, registering it on first use.
    #[inline]
    pub(crate) fn id(&self) -> ObjectId {
        match self.id.load(Ordering::Acquire) {
            // Not recorded when recording is off: no description, no trace file.
            0 if enabled() => output::register_object(self),
            0 => ObjectId(0),
            id => ObjectId(id),
        }
    }

    /// The next sequence number (1-based). Called while the object is held, so
    /// the numbers order the object's critical sections.
    #[inline]
    pub(crate) fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The next sequence number of a lock held in `mode` by this thread. An
    /// exclusive holder is alone with the counter, so a plain load and store
    /// suffice (the lock orders them); shared holders need the atomic add.
    #[inline]
    pub(crate) fn next_seq_held(&self, mode: Mode) -> u64 {
        if mode == Mode::Write {
            let seq = self.seq.load(Ordering::Relaxed) + 1;
            self.seq.store(seq, Ordering::Relaxed);
            seq
        } else {
            self.next_seq()
        }
    }

    /// Advances the counter as a progress signal for blocked waiters (a notify,
    /// a barrier's last arrival, a send or receive): sequentially consistent,
    /// so a waiter that re-reads it after waking cannot miss it.
    pub(crate) fn advance(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The counter that [`ObjectMeta::advance`] moves, for the deadlock detector.
    pub(crate) fn progress(&self) -> &AtomicU64 {
        &self.seq
    }

    /// The current sequence number, without advancing it.
    pub(crate) fn current_seq(&self) -> u64 {
        self.seq.load(Ordering::Relaxed)
    }

    /// Names the object; when it is already registered, its description is re-sent with the name.
    pub(crate) fn set_name(&self, name: &'static str) {
        *self.name.lock().unwrap_or_else(PoisonError::into_inner) = Some(name);
        if self.id.load(Ordering::Acquire) != 0 {
            output::describe_again(self);
        }
    }

    /// What kind of object it is.
    pub(crate) fn kind(&self) -> ObjectKind {
        self.kind
    }

    /// The object's name for deadlock reports: its name, else `Kind@file:line`.
    pub(crate) fn label(&self) -> String {
        match (self.name(), self.class) {
            (Some(name), _) => name.to_owned(),
            (None, Some(c)) => format!("{:?}@{}:{}", self.kind, c.file(), c.line()),
            (None, None) => format!("{:?}#{}", self.kind, self.id.load(Ordering::Relaxed)),
        }
    }

    fn name(&self) -> Option<&'static str> {
        *self.name.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for ObjectMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("ObjectMeta");
        d.field("kind", &self.kind);
        if let Some(class) = self.class {
            d.field("class", &format_args!("{class}"));
        }
        if let Some(name) = self.name() {
            d.field("name", &name);
        }
        d.finish()
    }
}

/// Allocates a thread id for a thread about to be spawned and describes it.
pub(crate) fn new_thread(name: Option<String>) -> ThreadId {
    output::new_thread(name)
}

/// A blocking acquisition of the lock described by `meta`, recorded as
/// `Request` then `Acquire`. The uncontended case (`try_acquire` succeeds)
/// records both with one buffer access; otherwise `Request` is buffered before
/// blocking in `acquire`, so a thread stuck there has its request recorded.
#[inline(always)]
pub(crate) fn blocking_acquire<G>(
    meta: &ObjectMeta,
    mode: Mode,
    site: SiteId,
    try_acquire: impl FnOnce() -> TryLockResult<G>,
    acquire: impl FnOnce() -> LockResult<G>,
) -> (ObjectId, LockResult<G>) {
    if !enabled() {
        // Not recorded: `ObjectId(0)` tells the guard not to record its release.
        return (ObjectId(0), acquire());
    }
    blocking_acquire_recorded(meta, mode, site, try_acquire, acquire)
}

/// [`blocking_acquire`] once the caller saw that recording is on.
#[inline(always)]
pub(crate) fn blocking_acquire_recorded<G>(
    meta: &ObjectMeta,
    mode: Mode,
    site: SiteId,
    try_acquire: impl FnOnce() -> TryLockResult<G>,
    acquire: impl FnOnce() -> LockResult<G>,
) -> (ObjectId, LockResult<G>) {
    // Registered (on first use) before it is taken: a sink may use this very
    // lock, and registering writes a description to the sink.
    let lock = meta.id();
    let result = match try_acquire() {
        Ok(g) => Ok(g),
        Err(TryLockError::Poisoned(e)) => Err(e),
        Err(TryLockError::WouldBlock) => {
            return contended_acquire(meta, lock, mode, site, acquire);
        }
    };
    // `ObjectId(0)`: inside the recorder's own work, not recorded, no holder.
    acquired_uncontended(meta, lock, mode, site);
    (lock, result)
}

/// The recording of an uncontended blocking acquisition of `lock` (already
/// taken) at `site`: the holder word, the sequence number and one ring slot,
/// inlined into the lock call (with a constant `mode`, no branch on it).
#[inline(always)]
pub(crate) fn acquired_uncontended(meta: &ObjectMeta, lock: ObjectId, mode: Mode, site: SiteId) {
    let seq = meta.next_seq_held(mode);
    let holder = (mode == Mode::Write).then_some(&meta.holder);
    local::record_acquired(lock, mode, seq, site, holder);
}

/// The recording of a release of `lock`, acquired at `site` (inlined, as
/// [`acquired_uncontended`]).
#[inline(always)]
pub(crate) fn released(meta: &ObjectMeta, lock: ObjectId, mode: Mode, site: SiteId) {
    if mode == Mode::Write {
        meta.holder.clear();
    }
    // Readers share the counter: `next_seq_held` keeps their numbers distinct.
    let seq = meta.next_seq_held(mode);
    local::record_released(lock, mode, seq, site);
}

/// The slow path of [`blocking_acquire`]: the lock is held by someone else.
#[cold]
#[inline(never)]
pub(crate) fn contended_acquire<G>(
    meta: &ObjectMeta,
    lock: ObjectId,
    mode: Mode,
    site: SiteId,
    acquire: impl FnOnce() -> LockResult<G>,
) -> (ObjectId, LockResult<G>) {
    record_at(Op::Request { lock, mode }, site);
    // Register the wait (and detect a cycle it closes) before blocking.
    let wait = crate::waitfor::block_on_lock(meta, mode, site);
    let result = acquire();
    // The wait ends before the holder word names this thread, so no
    // snapshot sees a thread waiting for a lock it holds.
    drop(wait);
    if mode == Mode::Write && lock.0 != 0 {
        meta.holder.set(this_thread(), site);
    }
    let seq = meta.next_seq_held(mode);
    record_at(
        Op::Acquire {
            lock,
            mode,
            attempt: Attempt::Blocking,
            seq,
        },
        site,
    );
    (lock, result)
}

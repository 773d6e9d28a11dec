//! Drop-in instrumented replacements for `std::sync`.
//!
//! Change `use std::sync::{Mutex, …}` to `use instrumented_sync::{Mutex, …}`
//! (and `std::thread` to [`instrumented_sync::thread`](thread)) and every lock
//! acquisition, release, condvar wait, barrier wait, spawn and join is recorded
//! with its source location. The recording goes to a trace file when
//! `INSTRUMENTED_SYNC_TRACE=<dir>` is set (`<dir>/<program>-<pid>.istrace`, see
//! `FORMAT.md`), or stays in memory; [`findings`] and
//! [`assert_no_deadlock_risk`] analyze it in-process.
//!
//! Semantics are std's own: each type wraps its std counterpart, so blocking,
//! fairness and poisoning behave exactly as without instrumentation.
//!
//! ```
//! use std::sync::Arc;
//! use instrumented_sync::{Mutex, thread};
//!
//! let accounts = Arc::new(Mutex::new(vec![100, 50]));
//! instrumented_sync::name(&*accounts, "accounts");
//! let a = Arc::clone(&accounts);
//! thread::spawn(move || a.lock().unwrap()[0] -= 10).join().unwrap();
//! assert_eq!(accounts.lock().unwrap()[0], 90);
//! instrumented_sync::assert_no_deadlock_risk();
//! ```
//!
//! Every event is also emitted as a `tracing` event at TRACE level with target
//! `instrumented_sync`.
//!
//! Environment: `INSTRUMENTED_SYNC_TRACE=<dir>` writes a trace file;
//! `INSTRUMENTED_SYNC_FLUSH_MS` (default 100, 0 = off) is the period at which
//! a background thread flushes every thread's buffer to that file;
//! `INSTRUMENTED_SYNC_MEMORY_CAP` (default 8Mi) caps the events kept in memory
//! for [`findings`] (about 32 bytes each; later events are counted as dropped).

// Under `passthrough` the instrumented locks and `thread` are compiled (the unit
// tests use them) but not exported; the atomics, channels and once cells are left out.
#![cfg_attr(feature = "passthrough", allow(dead_code, unused_imports))]

#[cfg(not(feature = "passthrough"))]
pub mod atomic;
mod barrier;
mod check;
mod condvar;
pub mod debug;
#[cfg(not(feature = "passthrough"))]
pub mod mpsc;
mod mutex;
#[cfg(not(feature = "passthrough"))]
mod once;
#[cfg(feature = "parking_lot")]
pub mod parking_lot;
#[cfg(feature = "passthrough")]
mod passthrough;
mod race_cell;
mod recorder;
mod rwlock;
mod semaphore;
mod spin;
#[cfg(not(feature = "passthrough"))]
pub mod thread;
// Still compiled under `passthrough`: the unit tests record through it.
#[cfg(feature = "passthrough")]
#[path = "thread.rs"]
mod recorded_thread;
#[cfg(feature = "tokio")]
pub mod tokio;
#[cfg(feature = "tracing-layer")]
pub mod tracing_layer;
mod waitfor;

#[cfg(test)]
mod tests;

#[cfg(not(feature = "passthrough"))]
pub use barrier::{Barrier, BarrierWaitResult};
pub use check::{DEADLOCK_KINDS, assert_no_deadlock_risk, findings};
#[cfg(not(feature = "passthrough"))]
pub use condvar::Condvar;
#[cfg(not(feature = "passthrough"))]
pub use mutex::{Mutex, MutexGuard};
#[cfg(not(feature = "passthrough"))]
pub use once::{LazyLock, OnceLock};
pub use race_cell::RaceCell;
pub use recorder::{
    DEFAULT_MEMORY_CAP, FileSink, MemorySink, Sink, dropped_events, flush, recorded, set_sink,
    trace_path,
};
#[cfg(not(feature = "passthrough"))]
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{Semaphore, SemaphorePermit};
pub use spin::{SpinLock, SpinLockGuard};
// The `passthrough` feature: every type with a std twin is std's own (zero cost).
#[cfg(feature = "passthrough")]
pub use std::sync::{
    Barrier, BarrierWaitResult, Condvar, LazyLock, Mutex, MutexGuard, OnceLock, RwLock,
    RwLockReadGuard, RwLockWriteGuard, atomic, mpsc,
};
#[cfg(feature = "passthrough")]
pub use std::thread;
pub use waitfor::{
    BlockedThread, DeadlockAction, DeadlockReport, Detection, HeldLock, deadlock_action,
    set_deadlock_action,
};
// std's result and error types, so code matching on them compiles unchanged,
// and the std::sync items that involve no locking.
pub use std::sync::{
    Arc, LockResult, Once, OnceState, PoisonError, TryLockError, TryLockResult, WaitTimeoutResult,
    Weak,
};

mod sealed {
    /// Keeps [`crate::Nameable`] implemented only by this crate's types.
    pub trait Sealed {}
}

/// An instrumented object that can be given a name for reports.
///
/// ```
/// use instrumented_sync::{Condvar, Nameable};
///
/// static READY: Condvar = Condvar::new();
/// READY.set_name("ready");
/// READY.notify_all();
/// ```
pub trait Nameable: sealed::Sealed {
    /// Sets the name; see [`name`].
    fn set_name(&self, name: &'static str);
}

/// Names an instrumented object, for example a `static` (whose `new` is `const`
/// and so cannot be followed by [`Mutex::named`]). Name objects before first
/// use; a later name is recorded as an updated description of the object.
///
/// ```
/// use instrumented_sync::Mutex;
///
/// static ACCOUNTS: Mutex<Vec<u64>> = Mutex::new(Vec::new());
/// instrumented_sync::name(&ACCOUNTS, "accounts");
/// ACCOUNTS.lock().unwrap().push(1);
/// ```
pub fn name<L: Nameable + ?Sized>(object: &L, name: &'static str) {
    object.set_name(name);
}

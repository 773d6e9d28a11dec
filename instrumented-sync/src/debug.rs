//! Instrumented in debug builds, `std` in release builds.
//!
//! `use instrumented_sync::debug::{Mutex, RwLock, Condvar, Barrier, thread};`
//! gives this crate's recorded types when `debug_assertions` are on (tests,
//! `cargo build`) and re-exports `std::sync`'s own types and `std::thread` when
//! they are off (`--release`), at zero cost. The same holds for [`mpsc`],
//! [`OnceLock`], [`LazyLock`] and the [`atomic`] module. Code must then compile
//! against both: use only the `std` API, and name objects with [`name`] (which
//! does nothing in release builds) rather than the instrumented types' `named`.
//!
//! [`Semaphore`](crate::Semaphore), [`SpinLock`](crate::SpinLock) and
//! [`RaceCell`](crate::RaceCell) have no `std` twin, so they are not here: use
//! them from the crate root, where they stay recorded in every build. The same
//! goes for the `tokio` feature's locks.
//!
//! ```
//! use instrumented_sync::debug::{Mutex, thread};
//!
//! let total = Mutex::new(0);
//! instrumented_sync::debug::name(&total, "total");
//! thread::scope(|s| {
//!     s.spawn(|| *total.lock().unwrap() += 1);
//! });
//! assert_eq!(*total.lock().unwrap(), 1);
//! // Release builds always get std's types.
//! assert!(cfg!(debug_assertions) || !instrumented_sync::debug::INSTRUMENTED);
//! ```
//!
//! The channels, one-time initialisation and atomics, written once for both builds:
//!
//! ```
//! use instrumented_sync::debug::atomic::{AtomicUsize, Ordering};
//! use instrumented_sync::debug::{LazyLock, OnceLock, mpsc, thread};
//!
//! static JOBS_DONE: AtomicUsize = AtomicUsize::new(0);
//! static CONFIG: OnceLock<u32> = OnceLock::new();
//! static GREETING: LazyLock<String> = LazyLock::new(|| "hello".to_owned());
//!
//! CONFIG.set(3).unwrap();
//! let (tx, rx) = mpsc::sync_channel::<usize>(1);
//! let workers: Vec<_> = (0..*CONFIG.get().unwrap())
//!     .map(|i| {
//!         let tx = tx.clone();
//!         thread::spawn(move || {
//!             JOBS_DONE.fetch_add(1, Ordering::AcqRel);
//!             tx.send(i as usize + GREETING.len()).unwrap();
//!         })
//!     })
//!     .collect();
//! drop(tx);
//! let mut got: Vec<usize> = rx.iter().collect();
//! got.sort();
//! assert_eq!(got, [5, 6, 7]);
//! workers.into_iter().for_each(|w| w.join().unwrap());
//! assert_eq!(JOBS_DONE.load(Ordering::Acquire), 3);
//! ```
//!
//! With the `parking_lot` feature, [`parking_lot`](mod@self::parking_lot) is
//! `instrumented_sync::parking_lot` or the real parking_lot the same way.

/// Whether this module's types are the instrumented ones (`debug_assertions`
/// on, and not the `passthrough` feature, which makes the crate's own std's).
pub const INSTRUMENTED: bool = cfg!(all(debug_assertions, not(feature = "passthrough")));

#[cfg(debug_assertions)]
pub use crate::{
    Barrier, BarrierWaitResult, Condvar, LazyLock, Mutex, MutexGuard, OnceLock, RwLock,
    RwLockReadGuard, RwLockWriteGuard, atomic, mpsc, thread,
};
#[cfg(not(debug_assertions))]
pub use std::sync::{
    Barrier, BarrierWaitResult, Condvar, LazyLock, Mutex, MutexGuard, OnceLock, RwLock,
    RwLockReadGuard, RwLockWriteGuard, atomic, mpsc,
};
#[cfg(not(debug_assertions))]
pub use std::thread;

/// The same in both builds (no locking of their own, or std's own in the crate too).
pub use std::sync::{
    Arc, LockResult, Once, OnceState, PoisonError, TryLockError, TryLockResult, WaitTimeoutResult,
    Weak,
};

/// Instrumented parking_lot in debug builds, the real parking_lot in release builds.
#[cfg(all(feature = "parking_lot", debug_assertions))]
pub use crate::parking_lot;
/// Instrumented parking_lot in debug builds, the real parking_lot in release builds.
#[cfg(all(feature = "parking_lot", not(debug_assertions)))]
pub use ::parking_lot;

/// Names an object for reports in debug builds; does nothing in release builds.
#[cfg(debug_assertions)]
pub fn name<L: crate::Nameable + ?Sized>(object: &L, name: &'static str) {
    crate::name(object, name);
}

/// Names an object for reports in debug builds; does nothing in release builds.
#[cfg(not(debug_assertions))]
pub fn name<L: ?Sized>(_object: &L, _name: &'static str) {}

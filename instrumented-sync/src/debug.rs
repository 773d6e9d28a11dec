//! Instrumented in debug builds, `std` in release builds.
//!
//! `use instrumented_sync::debug::{Mutex, RwLock, Condvar, Barrier, thread};`
//! gives this crate's recorded types when `debug_assertions` are on (tests,
//! `cargo build`) and re-exports `std::sync`'s own types and `std::thread` when
//! they are off (`--release`), at zero cost. Code must then compile against
//! both: use only the `std` API, and name objects with [`name`] (which does
//! nothing in release builds) rather than the instrumented types' `named`.
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
//! assert_eq!(instrumented_sync::debug::INSTRUMENTED, cfg!(debug_assertions));
//! ```
//!
//! With the `parking_lot` feature, [`parking_lot`](mod@self::parking_lot) is
//! `instrumented_sync::parking_lot` or the real parking_lot the same way.

/// Whether this module's types are the instrumented ones (`debug_assertions` on).
pub const INSTRUMENTED: bool = cfg!(debug_assertions);

#[cfg(debug_assertions)]
pub use crate::{
    Barrier, BarrierWaitResult, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard,
    RwLockWriteGuard, thread,
};
#[cfg(not(debug_assertions))]
pub use std::sync::{
    Barrier, BarrierWaitResult, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard,
    RwLockWriteGuard,
};
#[cfg(not(debug_assertions))]
pub use std::thread;

/// The same in both builds (no locking of their own).
pub use std::sync::{
    Arc, LockResult, PoisonError, TryLockError, TryLockResult, WaitTimeoutResult, Weak,
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

//! Instrumented parking_lot (feature `parking_lot`): the same API, recorded.
//!
//! `use instrumented_sync::parking_lot as parking_lot;` makes code written for
//! parking_lot 0.12 record its lock traffic unchanged: the lock types are
//! `lock_api` types over this module's instrumented raw locks ([`RawMutex`],
//! [`RawRwLock`]), which wrap parking_lot's own raw locks. Any other `lock_api`
//! user can do the same with `lock_api::Mutex<RawMutex<TheirRawMutex>, T>`.
//!
//! What is recorded:
//! - `lock`, `read`, `write`, `upgradable_read`: `Request` then a blocking `Acquire`.
//! - `try_*`: an `Acquire` with `Attempt::Try` or `TryFailed`; `try_*_for` /
//!   `try_*_until`: `Request` then an `Acquire` with `Attempt::Timed` or
//!   `TryFailed`. Neither kind can wait forever, so neither adds a lock-order edge.
//! - upgradable reads hold `Mode::Upgradable` (shared with readers, exclusive with
//!   writers and other upgradable readers); an upgrade is the release of that hold
//!   and a blocking write acquisition, since it waits for the other readers.
//! - a [`ReentrantMutex`] is recorded as `ObjectKind::ReentrantMutex`, and only a
//!   thread's outermost acquisition is seen: re-entering is no dependency.
//! - [`Condvar`] waits and notifications, like `instrumented_sync::Condvar`'s.
//!
//! No poisoning, as in parking_lot. Locks built by `new` (a `const fn` that
//! reaches the raw lock through `lock_api`'s `INIT` constant) have no class
//! site; name them with [`crate::name`] for readable reports.
//!
//! ```
//! use instrumented_sync::parking_lot as parking_lot;
//! use parking_lot::{Mutex, RwLock};
//!
//! let accounts = Mutex::new(vec![100, 50]);
//! instrumented_sync::name(&accounts, "accounts");
//! accounts.lock()[0] -= 10;
//! let config = RwLock::new(1);
//! let upgradable = config.upgradable_read();
//! *parking_lot::RwLockUpgradableReadGuard::upgrade(upgradable) += 1;
//! assert_eq!((accounts.lock()[0], *config.read()), (90, 2));
//! ```

mod condvar;
mod raw;

pub use condvar::{Condvar, WaitTimeoutResult};
pub use raw::{RawMutex, RawReentrantMutex, RawRwLock};

/// parking_lot's thread-id source for [`ReentrantMutex`] (no locking, nothing recorded).
pub use parking_lot::RawThreadId;
/// parking_lot's one-time initialisation (not a lock; not recorded).
pub use parking_lot::{Once, OnceState};

/// A mutual exclusion lock with parking_lot's API, recorded.
pub type Mutex<T> = lock_api::Mutex<RawMutex, T>;
/// Holds a [`Mutex`] locked.
pub type MutexGuard<'a, T> = lock_api::MutexGuard<'a, RawMutex, T>;
/// A [`MutexGuard`] mapped to a part of the data.
pub type MappedMutexGuard<'a, T> = lock_api::MappedMutexGuard<'a, RawMutex, T>;
/// A fair mutex (parking_lot's `FairMutex`), recorded as a `Mutex`.
pub type FairMutex<T> = lock_api::Mutex<RawMutex<parking_lot::RawFairMutex>, T>;
/// Holds a [`FairMutex`] locked.
pub type FairMutexGuard<'a, T> = lock_api::MutexGuard<'a, RawMutex<parking_lot::RawFairMutex>, T>;
/// A reader-writer lock with parking_lot's API (upgradable reads included), recorded.
pub type RwLock<T> = lock_api::RwLock<RawRwLock, T>;
/// Shared access to a [`RwLock`].
pub type RwLockReadGuard<'a, T> = lock_api::RwLockReadGuard<'a, RawRwLock, T>;
/// Exclusive access to a [`RwLock`].
pub type RwLockWriteGuard<'a, T> = lock_api::RwLockWriteGuard<'a, RawRwLock, T>;
/// Upgradable shared access to a [`RwLock`].
pub type RwLockUpgradableReadGuard<'a, T> = lock_api::RwLockUpgradableReadGuard<'a, RawRwLock, T>;
/// A [`RwLockReadGuard`] mapped to a part of the data.
pub type MappedRwLockReadGuard<'a, T> = lock_api::MappedRwLockReadGuard<'a, RawRwLock, T>;
/// A [`RwLockWriteGuard`] mapped to a part of the data.
pub type MappedRwLockWriteGuard<'a, T> = lock_api::MappedRwLockWriteGuard<'a, RawRwLock, T>;
/// A mutex the holding thread may lock again, recorded as a `ReentrantMutex`.
pub type ReentrantMutex<T> = lock_api::ReentrantMutex<RawReentrantMutex, RawThreadId, T>;
/// Holds a [`ReentrantMutex`] locked (shared access, as in parking_lot).
pub type ReentrantMutexGuard<'a, T> =
    lock_api::ReentrantMutexGuard<'a, RawReentrantMutex, RawThreadId, T>;
/// A [`ReentrantMutexGuard`] mapped to a part of the data.
pub type MappedReentrantMutexGuard<'a, T> =
    lock_api::MappedReentrantMutexGuard<'a, RawReentrantMutex, RawThreadId, T>;

/// A [`Mutex`] in a `const` context (parking_lot's `const_mutex`).
pub const fn const_mutex<T>(val: T) -> Mutex<T> {
    Mutex::const_new(<RawMutex as lock_api::RawMutex>::INIT, val)
}

/// A [`FairMutex`] in a `const` context.
pub const fn const_fair_mutex<T>(val: T) -> FairMutex<T> {
    FairMutex::const_new(
        <RawMutex<parking_lot::RawFairMutex> as lock_api::RawMutex>::INIT,
        val,
    )
}

/// A [`RwLock`] in a `const` context.
pub const fn const_rwlock<T>(val: T) -> RwLock<T> {
    RwLock::const_new(<RawRwLock as lock_api::RawRwLock>::INIT, val)
}

/// A [`ReentrantMutex`] in a `const` context.
pub const fn const_reentrant_mutex<T>(val: T) -> ReentrantMutex<T> {
    ReentrantMutex::const_new(
        <RawReentrantMutex as lock_api::RawMutex>::INIT,
        <RawThreadId as lock_api::GetThreadId>::INIT,
        val,
    )
}

impl<R, T: ?Sized> crate::sealed::Sealed for lock_api::Mutex<RawMutex<R>, T> {}

impl<R: lock_api::RawMutex, T: ?Sized> crate::Nameable for lock_api::Mutex<RawMutex<R>, T> {
    fn set_name(&self, name: &'static str) {
        // SAFETY: `raw` is unsafe because the raw lock could be unlocked behind
        // a guard's back; naming does not touch the lock state.
        unsafe { self.raw() }.set_name(name);
    }
}

impl<R, T: ?Sized> crate::sealed::Sealed for lock_api::RwLock<RawRwLock<R>, T> {}

impl<R: lock_api::RawRwLock, T: ?Sized> crate::Nameable for lock_api::RwLock<RawRwLock<R>, T> {
    fn set_name(&self, name: &'static str) {
        // SAFETY: as for `Mutex` above: naming does not touch the lock state.
        unsafe { self.raw() }.set_name(name);
    }
}

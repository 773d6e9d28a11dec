//! [`RwLock`]: `tokio::sync::RwLock` that records its acquisitions per task.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::Location;

use sync_trace::{Mode, ObjectKind};

use super::{Hold, TryLockError, acquire, acquire_blocking, try_acquire};
use crate::recorder::{self, ObjectMeta};

/// An async reader-writer lock: `tokio::sync::RwLock` plus recording.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use instrumented_sync::tokio::RwLock;
///
/// let config = RwLock::new(1).named("config");
/// *config.write().await += 1;
/// assert_eq!(*config.read().await, 2);
/// # });
/// ```
pub struct RwLock<T: ?Sized> {
    meta: ObjectMeta,
    inner: tokio::sync::RwLock<T>,
}

/// Shared access to a [`RwLock`]; records the release when dropped.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    hold: Hold,
    meta: &'a ObjectMeta,
    inner: tokio::sync::RwLockReadGuard<'a, T>,
}

/// Exclusive access to a [`RwLock`]; records the release when dropped.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    hold: Hold,
    meta: &'a ObjectMeta,
    inner: tokio::sync::RwLockWriteGuard<'a, T>,
}

impl<T> RwLock<T> {
    /// A new unlocked lock; its class is the caller's location.
    #[track_caller]
    pub fn new(value: T) -> RwLock<T> {
        RwLock {
            meta: ObjectMeta::new(ObjectKind::RwLock),
            inner: tokio::sync::RwLock::new(value),
        }
    }

    /// A new unlocked lock in a `const` context.
    #[track_caller]
    pub const fn const_new(value: T) -> RwLock<T> {
        RwLock {
            meta: ObjectMeta::new(ObjectKind::RwLock),
            inner: tokio::sync::RwLock::const_new(value),
        }
    }

    /// Gives the lock a name for reports.
    pub fn named(self, name: &'static str) -> RwLock<T> {
        self.meta.set_name(name);
        self
    }

    /// Consumes the lock, returning the value.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Waits for shared access. Records `Request` then `Acquire` (read).
    #[track_caller]
    pub fn read(&self) -> impl Future<Output = RwLockReadGuard<'_, T>> + '_ {
        let site = recorder::site(Location::caller());
        async move {
            let (inner, hold) = acquire(&self.meta, Mode::Read, site, self.inner.read()).await;
            RwLockReadGuard {
                hold,
                meta: &self.meta,
                inner,
            }
        }
    }

    /// Waits for exclusive access. Records `Request` then `Acquire` (write).
    #[track_caller]
    pub fn write(&self) -> impl Future<Output = RwLockWriteGuard<'_, T>> + '_ {
        let site = recorder::site(Location::caller());
        async move {
            let (inner, hold) = acquire(&self.meta, Mode::Write, site, self.inner.write()).await;
            RwLockWriteGuard {
                hold,
                meta: &self.meta,
                inner,
            }
        }
    }

    /// Takes shared access if no writer holds or waits.
    ///
    /// # Errors
    /// [`TryLockError`] when it would wait.
    #[track_caller]
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, TryLockError> {
        let site = recorder::site(Location::caller());
        let (inner, hold) = try_acquire(&self.meta, Mode::Read, site, self.inner.try_read())?;
        Ok(RwLockReadGuard {
            hold,
            meta: &self.meta,
            inner,
        })
    }

    /// Takes exclusive access if the lock is free.
    ///
    /// # Errors
    /// [`TryLockError`] when it would wait.
    #[track_caller]
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T>, TryLockError> {
        let site = recorder::site(Location::caller());
        let (inner, hold) = try_acquire(&self.meta, Mode::Write, site, self.inner.try_write())?;
        Ok(RwLockWriteGuard {
            hold,
            meta: &self.meta,
            inner,
        })
    }

    /// Blocks the thread for shared access (not in async code).
    #[track_caller]
    pub fn blocking_read(&self) -> RwLockReadGuard<'_, T> {
        let site = recorder::site(Location::caller());
        let (inner, hold) =
            acquire_blocking(&self.meta, Mode::Read, site, || self.inner.blocking_read());
        RwLockReadGuard {
            hold,
            meta: &self.meta,
            inner,
        }
    }

    /// Blocks the thread for exclusive access (not in async code).
    #[track_caller]
    pub fn blocking_write(&self) -> RwLockWriteGuard<'_, T> {
        let site = recorder::site(Location::caller());
        let (inner, hold) = acquire_blocking(&self.meta, Mode::Write, site, || {
            self.inner.blocking_write()
        });
        RwLockWriteGuard {
            hold,
            meta: &self.meta,
            inner,
        }
    }

    /// A mutable reference to the value; no locking is needed (nor recorded).
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.hold.release(self.meta);
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.hold.release(self.meta);
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.inner, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.inner, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl<T: Default> Default for RwLock<T> {
    #[track_caller]
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized> crate::sealed::Sealed for RwLock<T> {}

impl<T: ?Sized> crate::Nameable for RwLock<T> {
    fn set_name(&self, name: &'static str) {
        self.meta.set_name(name);
    }
}

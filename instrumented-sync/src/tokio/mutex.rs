//! [`Mutex`]: `tokio::sync::Mutex` that records its acquisitions per task.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::Location;

use sync_trace::{Mode, ObjectKind};

use super::{Hold, TryLockError, acquire, acquire_blocking, try_acquire};
use crate::recorder::{self, ObjectMeta};

/// An async mutex: `tokio::sync::Mutex` plus recording (see the [module](super) docs).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use instrumented_sync::tokio::Mutex;
///
/// let count = Mutex::new(0).named("count");
/// *count.lock().await += 1;
/// assert_eq!(*count.lock().await, 1);
/// # });
/// ```
pub struct Mutex<T: ?Sized> {
    meta: ObjectMeta,
    inner: tokio::sync::Mutex<T>,
}

/// Holds a [`Mutex`] locked; unlocks (and records the release) when dropped.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    hold: Hold,
    meta: &'a ObjectMeta,
    // Dropped after `Drop::drop` recorded the release, so the release is recorded while held.
    inner: tokio::sync::MutexGuard<'a, T>,
}

impl<T> Mutex<T> {
    /// A new unlocked mutex; its class is the caller's location.
    #[track_caller]
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            meta: ObjectMeta::new(ObjectKind::Mutex),
            inner: tokio::sync::Mutex::new(value),
        }
    }

    /// A new unlocked mutex in a `const` context.
    #[track_caller]
    pub const fn const_new(value: T) -> Mutex<T> {
        Mutex {
            meta: ObjectMeta::new(ObjectKind::Mutex),
            inner: tokio::sync::Mutex::const_new(value),
        }
    }

    /// Gives the mutex a name for reports.
    pub fn named(self, name: &'static str) -> Mutex<T> {
        self.meta.set_name(name);
        self
    }

    /// Consumes the mutex, returning the value.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits for the lock. Records `Request` then `Acquire`, in the current task.
    #[track_caller]
    pub fn lock(&self) -> impl Future<Output = MutexGuard<'_, T>> + '_ {
        let site = recorder::site(Location::caller());
        async move {
            let (inner, hold) = acquire(&self.meta, Mode::Write, site, self.inner.lock()).await;
            MutexGuard {
                hold,
                meta: &self.meta,
                inner,
            }
        }
    }

    /// Takes the lock if it is free. Records `Acquire` or `TryFailed`.
    ///
    /// # Errors
    /// [`TryLockError`] when the lock is held.
    #[track_caller]
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        let site = recorder::site(Location::caller());
        let (inner, hold) = try_acquire(&self.meta, Mode::Write, site, self.inner.try_lock())?;
        Ok(MutexGuard {
            hold,
            meta: &self.meta,
            inner,
        })
    }

    /// Blocks the thread until the lock is taken (not in async code; tokio panics there).
    #[track_caller]
    pub fn blocking_lock(&self) -> MutexGuard<'_, T> {
        let site = recorder::site(Location::caller());
        let (inner, hold) =
            acquire_blocking(&self.meta, Mode::Write, site, || self.inner.blocking_lock());
        MutexGuard {
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

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.hold.release(self.meta);
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.inner, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.inner, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // tokio's format (an unrecorded try_lock).
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl<T: Default> Default for Mutex<T> {
    #[track_caller]
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    #[track_caller]
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

impl<T: ?Sized> crate::sealed::Sealed for Mutex<T> {}

impl<T: ?Sized> crate::Nameable for Mutex<T> {
    fn set_name(&self, name: &'static str) {
        self.meta.set_name(name);
    }
}

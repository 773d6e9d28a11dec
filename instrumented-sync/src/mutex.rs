//! [`Mutex`]: `std::sync::Mutex` that records its acquisitions and releases.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::{self as std_sync, LockResult, PoisonError, TryLockError, TryLockResult};

use sync_trace::{Attempt, Mode, ObjectId, ObjectKind, Op, SiteId};

use crate::recorder::{self, ObjectMeta, record_at};

/// A mutual exclusion lock: `std::sync::Mutex` plus recording.
///
/// Poisoning is std's own. `new` is `const` and records its call site as the
/// lock's class; acquisitions record where they happen.
///
/// ```
/// use instrumented_sync::Mutex;
///
/// static COUNTER: Mutex<u32> = Mutex::new(0);
/// let accounts = Mutex::new(vec![1, 2]).named("accounts");
/// *COUNTER.lock().unwrap() += 1;
/// accounts.lock().unwrap().push(3);
/// assert_eq!(*COUNTER.lock().unwrap(), 1);
/// assert_eq!(accounts.into_inner().unwrap(), [1, 2, 3]);
/// ```
pub struct Mutex<T: ?Sized> {
    pub(crate) meta: ObjectMeta,
    inner: std_sync::Mutex<T>,
}

/// Holds a [`Mutex`] locked; unlocks (and records the release) when dropped.
///
/// Guards may be dropped in any order.
///
/// ```
/// let m = instrumented_sync::Mutex::new(String::from("a"));
/// let mut guard = m.lock().unwrap();
/// guard.push('b');
/// assert_eq!(format!("{guard} {guard:?}"), "ab \"ab\"");
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized + 'a> {
    /// `None` only while a condvar wait has taken the std guard out.
    pub(crate) inner: Option<std_sync::MutexGuard<'a, T>>,
    pub(crate) meta: &'a ObjectMeta,
    pub(crate) lock: ObjectId,
    /// Where it was acquired; the release is recorded there (`Drop` has no caller location).
    pub(crate) site: SiteId,
}

impl<T> Mutex<T> {
    /// A new unlocked mutex; its class is the caller's location.
    #[track_caller]
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            meta: ObjectMeta::new(ObjectKind::Mutex),
            inner: std_sync::Mutex::new(value),
        }
    }

    /// Gives the mutex a name for reports (instead of `Mutex@file:line`).
    pub fn named(self, name: &'static str) -> Mutex<T> {
        self.meta.set_name(name);
        self
    }

    /// Consumes the mutex, returning the value (an error if it is poisoned).
    pub fn into_inner(self) -> LockResult<T> {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Blocks until the lock is taken. Records `Request` then `Acquire`.
    ///
    /// # Errors
    /// If another thread panicked while holding the lock (std's poisoning); the
    /// guard is still in the error.
    #[inline]
    #[track_caller]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        if !recorder::enabled() {
            // `INSTRUMENTED_SYNC=off`: std's lock and a guard that records nothing.
            return match self.inner.lock() {
                Ok(g) => Ok(self.guard(g, ObjectId(0), SiteId::UNKNOWN)),
                Err(e) => Err(PoisonError::new(self.guard(
                    e.into_inner(),
                    ObjectId(0),
                    SiteId::UNKNOWN,
                ))),
            };
        }
        let site = recorder::site_recorded(Location::caller());
        let (lock, result) = recorder::blocking_acquire_recorded(
            &self.meta,
            Mode::Write,
            site,
            || self.inner.try_lock(),
            || self.inner.lock(),
        );
        match result {
            Ok(g) => Ok(self.guard(g, lock, site)),
            Err(e) => Err(PoisonError::new(self.guard(e.into_inner(), lock, site))),
        }
    }

    /// Takes the lock if it is free. Records `Acquire` or `TryFailed`.
    ///
    /// # Errors
    /// [`TryLockError::WouldBlock`] when the lock is held, and
    /// [`TryLockError::Poisoned`] (with the guard) when it is poisoned.
    #[track_caller]
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        let site = recorder::site(Location::caller());
        let lock = self.meta.id();
        let result = self.inner.try_lock();
        let (g, poisoned) = match result {
            Ok(g) => (g, false),
            Err(TryLockError::Poisoned(e)) => (e.into_inner(), true),
            Err(TryLockError::WouldBlock) => {
                record_at(
                    Op::TryFailed {
                        lock,
                        mode: Mode::Write,
                    },
                    site,
                );
                return Err(TryLockError::WouldBlock);
            }
        };
        self.meta.holder.set(recorder::this_thread(), site);
        let seq = self.meta.next_seq_held(Mode::Write);
        record_at(
            Op::Acquire {
                lock,
                mode: Mode::Write,
                attempt: Attempt::Try,
                seq,
            },
            site,
        );
        let guard = self.guard(g, lock, site);
        if poisoned {
            Err(TryLockError::Poisoned(PoisonError::new(guard)))
        } else {
            Ok(guard)
        }
    }

    /// Whether a thread panicked while holding the lock.
    pub fn is_poisoned(&self) -> bool {
        self.inner.is_poisoned()
    }

    /// Clears the poisoned state.
    pub fn clear_poison(&self) {
        self.inner.clear_poison();
    }

    /// A mutable reference to the value; no locking is needed (nor recorded).
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        self.inner.get_mut()
    }

    fn guard<'a>(
        &'a self,
        inner: std_sync::MutexGuard<'a, T>,
        lock: ObjectId,
        site: SiteId,
    ) -> MutexGuard<'a, T> {
        MutexGuard {
            inner: Some(inner),
            meta: &self.meta,
            lock,
            site,
        }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        // `None` means a condvar wait took the std guard and already recorded the
        // release; `ObjectId(0)`, that the acquisition was not recorded (recording off).
        if self.inner.is_some() && self.lock != ObjectId(0) {
            self.meta.holder.clear();
            let seq = self.meta.next_seq_held(Mode::Write);
            record_at(
                Op::Release {
                    lock: self.lock,
                    mode: Mode::Write,
                    seq,
                },
                self.site,
            );
        }
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        match &self.inner {
            Some(g) => g,
            None => unreachable!("a MutexGuard is only empty inside Condvar::wait"),
        }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        match &mut self.inner {
            Some(g) => g,
            None => unreachable!("a MutexGuard is only empty inside Condvar::wait"),
        }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // std's format (a `try_lock`, which is not recorded), so output matches std's.
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

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
/// let accounts = Mutex::new(vec![1, 2]);
/// instrumented_sync::name(&accounts, "accounts"); // or `.named("accounts")` when instrumented
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
    /// Always 0: fills what would be padding, so that copying a guard (out of
    /// `lock`, into a `LockResult`) reads back exactly what was stored. With
    /// padding, the copy read `site` with an 8-byte load after a 4-byte store,
    /// a store-forwarding stall that cost more than the lock itself.
    #[allow(dead_code, reason = "never read: it only has to be written")]
    filler: u32,
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
    //
    // Inlined always, every unlikely path out of line, and the guard built at
    // one place from scalars, so that it is built in place. Built on the stack and copied into the
    // `LockResult`, its `site` was read back with a wider load than it was
    // stored with: a store-forwarding stall that cost more than the lock
    // itself (found with `LOCKS_LOOP` and perf).
    #[inline(always)]
    #[track_caller]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        let (g, poisoned, lock, site) = if recorder::enabled() {
            // Registered (on first use) before it is taken, and so is the site:
            // a sink may use this very lock, and registering writes a
            // description to the sink.
            let lock = self.meta.id();
            let site = recorder::site_recorded(Location::caller());
            let (g, poisoned) = match self.inner.try_lock() {
                Ok(g) => (g, false),
                Err(TryLockError::Poisoned(e)) => (e.into_inner(), true),
                Err(TryLockError::WouldBlock) => {
                    let (g, poisoned) = split_poison(self.lock_contended(lock, site));
                    return self.result(g, poisoned, lock, site);
                }
            };
            recorder::acquired_uncontended(&self.meta, lock, Mode::Write, site);
            (g, poisoned, lock, site)
        } else {
            // `INSTRUMENTED_SYNC=off`: std's lock and a guard that records nothing.
            let (g, poisoned) = split_poison(self.inner.lock());
            (g, poisoned, ObjectId(0), SiteId::UNKNOWN)
        };
        self.result(g, poisoned, lock, site)
    }

    #[inline(always)]
    fn result<'a>(
        &'a self,
        g: std_sync::MutexGuard<'a, T>,
        poisoned: bool,
        lock: ObjectId,
        site: SiteId,
    ) -> LockResult<MutexGuard<'a, T>> {
        let guard = self.guard(g, lock, site);
        if poisoned {
            Err(PoisonError::new(guard))
        } else {
            Ok(guard)
        }
    }

    /// [`Mutex::lock`] when the lock is held: records the request, registers
    /// the wait with the deadlock detector, blocks.
    #[cold]
    #[inline(never)]
    fn lock_contended(
        &self,
        lock: ObjectId,
        site: SiteId,
    ) -> LockResult<std_sync::MutexGuard<'_, T>> {
        let acquire = || self.inner.lock();
        recorder::contended_acquire(&self.meta, lock, Mode::Write, site, acquire).1
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
            filler: 0,
        }
    }
}

/// std's guard and whether the lock was poisoned.
#[inline(always)]
fn split_poison<G>(result: LockResult<G>) -> (G, bool) {
    match result {
        Ok(g) => (g, false),
        Err(e) => (e.into_inner(), true),
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        // `None` means a condvar wait took the std guard and already recorded the
        // release; `ObjectId(0)`, that the acquisition was not recorded
        // (recording off: the field's own drop is std's unlock, inlined).
        if self.lock != ObjectId(0)
            && let Some(inner) = self.inner.take()
        {
            release_recorded(self.meta, self.lock, self.site, inner);
        }
    }
}

/// Records the release, then unlocks. Out of line, so the guard's drop
/// inlines into its caller (the whole release, std's unlock included, is too
/// large for that); its arguments travel in registers instead of the guard
/// going through memory.
#[inline(never)]
fn release_recorded<T: ?Sized>(
    meta: &ObjectMeta,
    lock: ObjectId,
    site: SiteId,
    inner: std_sync::MutexGuard<'_, T>,
) {
    recorder::released(meta, lock, Mode::Write, site);
    drop(inner);
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

//! [`RwLock`]: `std::sync::RwLock` that records its acquisitions and releases.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::{self as std_sync, LockResult, PoisonError, TryLockError, TryLockResult};

use sync_trace::{Attempt, Mode, ObjectId, ObjectKind, Op, SiteId};

use crate::recorder::{self, ObjectMeta, record_at};

/// A reader-writer lock: `std::sync::RwLock` plus recording. Reads are
/// recorded in [`Mode::Read`], writes in [`Mode::Write`].
///
/// ```
/// use instrumented_sync::RwLock;
///
/// static CONFIG: RwLock<Vec<u8>> = RwLock::new(Vec::new());
/// CONFIG.write().unwrap().push(1);
/// let (a, b) = (CONFIG.read().unwrap(), CONFIG.read().unwrap());
/// assert_eq!(a.len() + b.len(), 2);
/// ```
pub struct RwLock<T: ?Sized> {
    pub(crate) meta: ObjectMeta,
    inner: std_sync::RwLock<T>,
}

/// Holds an [`RwLock`] for reading; records the release when dropped.
///
/// ```
/// let lock = instrumented_sync::RwLock::new(5);
/// let guard = lock.read().unwrap();
/// assert_eq!(format!("{guard} {guard:?}"), "5 5");
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized + 'a> {
    inner: std_sync::RwLockReadGuard<'a, T>,
    meta: &'a ObjectMeta,
    lock: ObjectId,
    site: SiteId,
}

/// Holds an [`RwLock`] for writing; records the release when dropped.
///
/// ```
/// let lock = instrumented_sync::RwLock::new(5);
/// *lock.write().unwrap() += 1;
/// assert_eq!(*lock.read().unwrap(), 6);
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized + 'a> {
    inner: std_sync::RwLockWriteGuard<'a, T>,
    meta: &'a ObjectMeta,
    lock: ObjectId,
    site: SiteId,
}

impl<T> RwLock<T> {
    /// A new unlocked lock; its class is the caller's location.
    #[track_caller]
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            meta: ObjectMeta::new(ObjectKind::RwLock),
            inner: std_sync::RwLock::new(value),
        }
    }

    /// Gives the lock a name for reports.
    pub fn named(self, name: &'static str) -> RwLock<T> {
        self.meta.set_name(name);
        self
    }

    /// Consumes the lock, returning the value (an error if it is poisoned).
    pub fn into_inner(self) -> LockResult<T> {
        self.inner.into_inner()
    }
}

/// What `read`/`write` and their `try_` forms share: recording around std's call.
macro_rules! acquire {
    ($self:ident, $std_call:ident, $std_try:ident, $guard:ident, $mode:expr, blocking) => {{
        // One check of the switch: off, std's call and a guard that records nothing.
        // Each arm splits std's result into (guard, poisoned) itself, so the guard is
        // built once from scalars below (see `Mutex::lock`: a `LockResult` carried
        // through a tuple was copied through memory).
        let (inner, poisoned, lock, site) = if recorder::enabled() {
            let site = recorder::site_recorded(Location::caller());
            let (lock, result) = recorder::blocking_acquire_recorded(
                &$self.meta,
                $mode,
                site,
                || $self.inner.$std_try(),
                || $self.inner.$std_call(),
            );
            // Readers are listed for the deadlock detector (a writer waits for them).
            if $mode == Mode::Read && lock != ObjectId(0) {
                crate::waitfor::read_acquired(&$self.meta, site);
            }
            let (inner, poisoned) = match result {
                Ok(inner) => (inner, false),
                Err(e) => (e.into_inner(), true),
            };
            (inner, poisoned, lock, site)
        } else {
            let (inner, poisoned) = match $self.inner.$std_call() {
                Ok(inner) => (inner, false),
                Err(e) => (e.into_inner(), true),
            };
            (inner, poisoned, ObjectId(0), SiteId::UNKNOWN)
        };
        let guard = $guard {
            inner,
            meta: &$self.meta,
            lock,
            site,
        };
        if poisoned {
            Err(PoisonError::new(guard))
        } else {
            Ok(guard)
        }
    }};
    ($self:ident, $std_call:ident, $guard:ident, $mode:expr, try) => {{
        let site = recorder::site(Location::caller());
        let lock = $self.meta.id();
        let (inner, poisoned) = match $self.inner.$std_call() {
            Ok(g) => (g, false),
            Err(TryLockError::Poisoned(e)) => (e.into_inner(), true),
            Err(TryLockError::WouldBlock) => {
                record_at(Op::TryFailed { lock, mode: $mode }, site);
                return Err(TryLockError::WouldBlock);
            }
        };
        if $mode == Mode::Write {
            $self.meta.holder.set(recorder::this_thread(), site);
        } else {
            crate::waitfor::read_acquired(&$self.meta, site);
        }
        let seq = $self.meta.next_seq_held($mode);
        record_at(
            Op::Acquire {
                lock,
                mode: $mode,
                attempt: Attempt::Try,
                seq,
            },
            site,
        );
        let guard = $guard {
            inner,
            meta: &$self.meta,
            lock,
            site,
        };
        if poisoned {
            Err(TryLockError::Poisoned(PoisonError::new(guard)))
        } else {
            Ok(guard)
        }
    }};
}

impl<T: ?Sized> RwLock<T> {
    /// Blocks until the lock is held for reading. Records `Request` then `Acquire`.
    ///
    /// # Errors
    /// If the lock is poisoned; the guard is still in the error.
    #[inline(always)]
    #[track_caller]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        acquire!(self, read, try_read, RwLockReadGuard, Mode::Read, blocking)
    }

    /// Blocks until the lock is held for writing. Records `Request` then `Acquire`.
    ///
    /// # Errors
    /// If the lock is poisoned; the guard is still in the error.
    #[inline(always)]
    #[track_caller]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        acquire!(
            self,
            write,
            try_write,
            RwLockWriteGuard,
            Mode::Write,
            blocking
        )
    }

    /// Takes the lock for reading if no writer holds it.
    ///
    /// # Errors
    /// [`TryLockError::WouldBlock`] or [`TryLockError::Poisoned`], as std.
    #[track_caller]
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        acquire!(self, try_read, RwLockReadGuard, Mode::Read, try)
    }

    /// Takes the lock for writing if nobody holds it.
    ///
    /// # Errors
    /// [`TryLockError::WouldBlock`] or [`TryLockError::Poisoned`], as std.
    #[track_caller]
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        acquire!(self, try_write, RwLockWriteGuard, Mode::Write, try)
    }

    /// Whether a thread panicked while holding the lock for writing.
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
}

/// Records the release of a recorded hold (out of line: the guard's drop inlined
/// into user code stays std's unlock plus one branch). Runs before the std guard
/// unlocks.
#[inline(never)]
fn released_recorded(meta: &ObjectMeta, lock: ObjectId, mode: Mode, site: SiteId) {
    if mode != Mode::Write {
        crate::waitfor::read_released(meta);
    }
    recorder::released(meta, lock, mode, site);
}

macro_rules! guard_impls {
    ($guard:ident, $mode:expr) => {
        impl<T: ?Sized> Drop for $guard<'_, T> {
            #[inline(always)]
            fn drop(&mut self) {
                // `ObjectId(0)`: the acquisition was not recorded (recording off).
                if self.lock == ObjectId(0) {
                    return;
                }
                released_recorded(self.meta, self.lock, $mode, self.site);
            }
        }

        impl<T: ?Sized> Deref for $guard<'_, T> {
            type Target = T;

            fn deref(&self) -> &T {
                &self.inner
            }
        }

        impl<T: ?Sized + fmt::Debug> fmt::Debug for $guard<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&**self, f)
            }
        }

        impl<T: ?Sized + fmt::Display> fmt::Display for $guard<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&**self, f)
            }
        }
    };
}

guard_impls!(RwLockReadGuard, Mode::Read);
guard_impls!(RwLockWriteGuard, Mode::Write);

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
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

impl<T> From<T> for RwLock<T> {
    #[track_caller]
    fn from(value: T) -> RwLock<T> {
        RwLock::new(value)
    }
}

impl<T: ?Sized> crate::sealed::Sealed for RwLock<T> {}

impl<T: ?Sized> crate::Nameable for RwLock<T> {
    fn set_name(&self, name: &'static str) {
        self.meta.set_name(name);
    }
}

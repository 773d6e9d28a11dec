//! [`SpinLock`]: a busy-waiting lock with `std::sync::Mutex`'s API, recorded
//! like a mutex (`ObjectKind::SpinLock`).

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

use sync_trace::{Attempt, Mode, ObjectId, ObjectKind, Op, SiteId};

use crate::recorder::{self, ObjectMeta, record_at};

/// Spins this many times (with the CPU's spin hint) before yielding the
/// thread between attempts, so a holder that was preempted can run.
const SPINS_BEFORE_YIELD: u32 = 64;

/// A spin lock: waiting threads busy-wait instead of sleeping, as the seed
/// material teaches. The API is `std::sync::Mutex`'s (including poisoning), so
/// code moves between the two by changing a type name.
///
/// Recorded exactly like a [`crate::Mutex`]: `Request` before a contended
/// acquisition, `Acquire`, `Release`; its object kind is `SpinLock`, so reports
/// say "spin-lock" and a thread stuck on it is shown as spinning, not sleeping.
///
/// ```
/// use instrumented_sync::{SpinLock, thread};
///
/// let counter = SpinLock::new(0).named("counter");
/// thread::scope(|s| {
///     for _ in 0..4 {
///         s.spawn(|| *counter.lock().unwrap() += 1);
///     }
/// });
/// assert_eq!(counter.into_inner().unwrap(), 4);
/// ```
pub struct SpinLock<T: ?Sized> {
    meta: ObjectMeta,
    locked: AtomicBool,
    poisoned: AtomicBool,
    data: UnsafeCell<T>,
}

// SAFETY: the lock gives one thread at a time access to `data` (the `locked`
// flag is taken with Acquire and released with Release), so sharing the lock
// only moves `T` between threads, which `T: Send` allows, exactly as for
// `std::sync::Mutex`.
unsafe impl<T: ?Sized + Send> Sync for SpinLock<T> {}

/// Holds a [`SpinLock`] locked; unlocks (and records the release) when dropped.
#[must_use = "if unused the SpinLock will immediately unlock"]
pub struct SpinLockGuard<'a, T: ?Sized + 'a> {
    lock: &'a SpinLock<T>,
    /// Where it was acquired; the release is recorded there.
    site: SiteId,
    /// Whether the thread was already panicking when it took the lock (std's poisoning rule).
    panicking: bool,
    /// Not `Send`, like std's guard: a lock is released by the thread that took it.
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing the guard only gives out `&T`, which is safe to share across
// threads when `T: Sync` (std's `MutexGuard` has the same impl).
unsafe impl<T: ?Sized + Sync> Sync for SpinLockGuard<'_, T> {}

impl<T> SpinLock<T> {
    /// A new unlocked spin lock; its class is the caller's location.
    #[track_caller]
    pub const fn new(value: T) -> SpinLock<T> {
        SpinLock {
            meta: ObjectMeta::new(ObjectKind::SpinLock),
            locked: AtomicBool::new(false),
            poisoned: AtomicBool::new(false),
            data: UnsafeCell::new(value),
        }
    }

    /// Gives the lock a name for reports.
    pub fn named(self, name: &'static str) -> SpinLock<T> {
        self.meta.set_name(name);
        self
    }

    /// Consumes the lock, returning the value (an error if it is poisoned).
    ///
    /// # Errors
    /// If a thread panicked while holding the lock; the value is in the error.
    pub fn into_inner(self) -> LockResult<T> {
        let poisoned = self.poisoned.load(Ordering::Relaxed);
        let value = self.data.into_inner();
        if poisoned {
            Err(PoisonError::new(value))
        } else {
            Ok(value)
        }
    }
}

impl<T: ?Sized> SpinLock<T> {
    fn try_take(&self) -> bool {
        self.locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Spins until the lock is taken. Records `Request` then `Acquire`.
    ///
    /// # Errors
    /// If a thread panicked while holding the lock; the guard is in the error.
    #[track_caller]
    pub fn lock(&self) -> LockResult<SpinLockGuard<'_, T>> {
        let site = recorder::site(Location::caller());
        let (_, taken) = recorder::blocking_acquire(
            &self.meta,
            Mode::Write,
            site,
            || {
                if self.try_take() {
                    Ok(())
                } else {
                    Err(TryLockError::WouldBlock)
                }
            },
            || {
                let mut spins = 0u32;
                while !self.try_take() {
                    // Read-only spinning keeps the cache line shared until it is freed.
                    while self.locked.load(Ordering::Relaxed) {
                        if spins < SPINS_BEFORE_YIELD {
                            spins += 1;
                            std::hint::spin_loop();
                        } else {
                            std::thread::yield_now();
                        }
                    }
                }
                Ok(())
            },
        );
        // Both closures return `Ok`: poisoning is this lock's own flag.
        let Ok(()) = taken else {
            unreachable!("the spin lock's acquisition closures never fail")
        };
        self.result(self.guard(site))
    }

    /// Takes the lock if it is free. Records `Acquire` or `TryFailed`.
    ///
    /// # Errors
    /// [`TryLockError::WouldBlock`] when the lock is held, and
    /// [`TryLockError::Poisoned`] (with the guard) when it is poisoned.
    #[track_caller]
    pub fn try_lock(&self) -> TryLockResult<SpinLockGuard<'_, T>> {
        let site = recorder::site(Location::caller());
        let lock = self.meta.id();
        if !self.try_take() {
            record_at(
                Op::TryFailed {
                    lock,
                    mode: Mode::Write,
                },
                site,
            );
            return Err(TryLockError::WouldBlock);
        }
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
        self.result(self.guard(site)).map_err(TryLockError::from)
    }

    /// Whether a thread panicked while holding the lock.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Relaxed)
    }

    /// Clears the poisoned state.
    pub fn clear_poison(&self) {
        self.poisoned.store(false, Ordering::Relaxed);
    }

    /// A mutable reference to the value; no locking is needed (nor recorded).
    ///
    /// # Errors
    /// If the lock is poisoned; the reference is in the error.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let poisoned = self.is_poisoned();
        let value = self.data.get_mut();
        if poisoned {
            Err(PoisonError::new(value))
        } else {
            Ok(value)
        }
    }

    fn guard(&self, site: SiteId) -> SpinLockGuard<'_, T> {
        SpinLockGuard {
            lock: self,
            site,
            panicking: std::thread::panicking(),
            _not_send: PhantomData,
        }
    }

    fn result<'a>(&'a self, guard: SpinLockGuard<'a, T>) -> LockResult<SpinLockGuard<'a, T>> {
        if self.is_poisoned() {
            Err(PoisonError::new(guard))
        } else {
            Ok(guard)
        }
    }

    fn id(&self) -> ObjectId {
        self.meta.id()
    }
}

impl<T: ?Sized> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        if !self.panicking && std::thread::panicking() {
            self.lock.poisoned.store(true, Ordering::Relaxed);
        }
        // Cleared while still held: a stale holder word would make this thread,
        // blocking on the lock later, look like it waits for itself.
        self.lock.meta.holder.clear();
        // Recorded while still held, so the sequence number is this holder's.
        let seq = self.lock.meta.next_seq_held(Mode::Write);
        record_at(
            Op::Release {
                lock: self.lock.id(),
                mode: Mode::Write,
                seq,
            },
            self.site,
        );
        self.lock.locked.store(false, Ordering::Release);
    }
}

impl<T: ?Sized> Deref for SpinLockGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the lock, so no
        // other reference to the data is live.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only access through the guard.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for SpinLockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for SpinLockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for SpinLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // An unrecorded peek, like std's Debug (which uses an unrecorded try_lock).
        let mut d = f.debug_struct("SpinLock");
        if self.try_take() {
            // SAFETY: the flag was just taken, so this thread has exclusive access until it is cleared.
            d.field("data", &unsafe { &*self.data.get() });
            self.locked.store(false, Ordering::Release);
        } else {
            d.field("data", &format_args!("<locked>"));
        }
        d.field("poisoned", &self.is_poisoned());
        d.finish_non_exhaustive()
    }
}

impl<T: Default> Default for SpinLock<T> {
    #[track_caller]
    fn default() -> SpinLock<T> {
        SpinLock::new(T::default())
    }
}

impl<T> From<T> for SpinLock<T> {
    #[track_caller]
    fn from(value: T) -> SpinLock<T> {
        SpinLock::new(value)
    }
}

impl<T: ?Sized> crate::sealed::Sealed for SpinLock<T> {}

impl<T: ?Sized> crate::Nameable for SpinLock<T> {
    fn set_name(&self, name: &'static str) {
        self.meta.set_name(name);
    }
}

//! [`RaceCell`]: shared state whose every read and write is recorded, for race detection.

use std::fmt;
use std::panic::Location;
use std::sync::{Mutex as StdMutex, MutexGuard as StdMutexGuard, PoisonError, TryLockError};

use sync_trace::{ObjectKind, Op};

use crate::recorder::{self, ObjectMeta};

/// A shared variable whose every read and write is recorded as a plain,
/// unsynchronised access, so the analyzer can tell whether the program's own
/// synchronisation orders them (`data-race`, `lost-update` findings).
///
/// It stands in for code that would use `UnsafeCell` (or `static mut`) and
/// rely on its own locking or happens-before: put the shared value in a
/// `RaceCell` and the analyzer checks that reliance. The cell itself is sound in
/// safe Rust: the value sits behind an internal, unrecorded `std::sync::Mutex`
/// held only for the duration of one access, so real memory never races. That
/// lock orders nothing for the analyzer, and [`update`](RaceCell::update) takes
/// it twice (read, then write), so concurrent `update`s really can lose
/// increments, exactly like the unsynchronised code being modelled.
///
/// The variable's class is the construction site; [`named`](RaceCell::named)
/// gives it a name for reports. Accesses record the caller's location.
///
/// ```
/// use std::sync::Arc;
/// use instrumented_sync::{Mutex, RaceCell, thread};
///
/// let counter = Arc::new(RaceCell::new(0u64).named("counter"));
/// let lock = Arc::new(Mutex::new(()));
/// let workers: Vec<_> = (0..2)
///     .map(|_| {
///         let (counter, lock) = (Arc::clone(&counter), Arc::clone(&lock));
///         thread::spawn(move || {
///             let _held = lock.lock().unwrap();
///             counter.update(|v| v + 1);
///         })
///     })
///     .collect();
/// for w in workers {
///     w.join().unwrap();
/// }
/// assert_eq!(counter.get(), 2);
/// ```
pub struct RaceCell<T> {
    meta: ObjectMeta,
    /// The storage. Held only inside one method call and never recorded: it
    /// makes the cell sound without adding happens-before to the trace.
    value: StdMutex<T>,
}

impl<T> RaceCell<T> {
    /// A new cell holding `value`; its class is the caller's location.
    #[track_caller]
    pub const fn new(value: T) -> RaceCell<T> {
        RaceCell {
            meta: ObjectMeta::new(ObjectKind::Variable),
            value: StdMutex::new(value),
        }
    }

    /// Gives the variable a name for reports (instead of `Variable@file:line`).
    pub fn named(self, name: &'static str) -> RaceCell<T> {
        self.meta.set_name(name);
        self
    }

    /// Consumes the cell, returning the value. Not recorded: owning the cell
    /// means every other access is already over.
    pub fn into_inner(self) -> T {
        self.value
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A mutable reference to the value. Not recorded: `&mut self` already
    /// proves that no other thread can access the cell.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the value (records a read).
    #[track_caller]
    pub fn get(&self) -> T
    where
        T: Copy,
    {
        let v = *self.storage();
        self.record(false, Location::caller());
        v
    }

    /// Writes `value` (records a write). The old value is dropped after the access.
    #[track_caller]
    pub fn set(&self, value: T) {
        let old = std::mem::replace(&mut *self.storage(), value);
        self.record(true, Location::caller());
        drop(old);
    }

    /// Writes `value` and returns the old one, in one access (records one write).
    #[track_caller]
    pub fn replace(&self, value: T) -> T {
        let old = std::mem::replace(&mut *self.storage(), value);
        self.record(true, Location::caller());
        old
    }

    /// Takes the value, leaving `T::default()` (records one write).
    #[track_caller]
    pub fn take(&self) -> T
    where
        T: Default,
    {
        self.replace(T::default())
    }

    /// Reads the value, computes `f` of it, and writes the result back; returns
    /// the new value. Two accesses, recorded as a read then a write: between
    /// them another thread may write, and that update is then lost (the
    /// unsynchronised `x = x + 1`). `f` runs with the cell unlocked.
    #[track_caller]
    pub fn update(&self, f: impl FnOnce(T) -> T) -> T
    where
        T: Copy,
    {
        let loc = Location::caller();
        let old = *self.storage();
        self.record(false, loc);
        let new = f(old);
        *self.storage() = new;
        self.record(true, loc);
        new
    }

    /// Calls `f` with a shared reference to the value (records a read): for
    /// values that are not `Copy`. `f` must not access this cell again (the
    /// internal lock is held while it runs, so that would deadlock).
    #[track_caller]
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        let r = f(&self.storage());
        self.record(false, Location::caller());
        r
    }

    /// Calls `f` with a mutable reference to the value (records a write, which
    /// also covers any reading `f` does). `f` must not access this cell again.
    #[track_caller]
    pub fn with_mut<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let r = f(&mut self.storage());
        self.record(true, Location::caller());
        r
    }

    /// The storage, locked for one access. Poisoning (a panic inside `with` or
    /// `with_mut`) is ignored: a plain variable has no such notion.
    fn storage(&self) -> StdMutexGuard<'_, T> {
        self.value.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a plain (non-atomic) access at `loc`.
    #[inline]
    fn record(&self, write: bool, loc: &'static Location<'static>) {
        let var = self.meta.id();
        recorder::record(
            Op::Access {
                var,
                write,
                order: None,
                version: 0,
            },
            loc,
        );
    }
}

impl<T: fmt::Debug> fmt::Debug for RaceCell<T> {
    /// Shows the value without recording a read (formatting for diagnostics
    /// should not change the analysis).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RaceCell");
        // `try_lock`, like std's `Mutex`: formatting inside `with` must not deadlock.
        match self.value.try_lock() {
            Ok(v) => d.field("value", &*v),
            Err(TryLockError::Poisoned(e)) => d.field("value", &*e.into_inner()),
            Err(TryLockError::WouldBlock) => d.field("value", &format_args!("<in use>")),
        };
        d.finish_non_exhaustive()
    }
}

impl<T: Default> Default for RaceCell<T> {
    #[track_caller]
    fn default() -> RaceCell<T> {
        RaceCell::new(T::default())
    }
}

impl<T> From<T> for RaceCell<T> {
    #[track_caller]
    fn from(value: T) -> RaceCell<T> {
        RaceCell::new(value)
    }
}

impl<T> crate::sealed::Sealed for RaceCell<T> {}

impl<T> crate::Nameable for RaceCell<T> {
    fn set_name(&self, name: &'static str) {
        self.meta.set_name(name);
    }
}

//! [`OnceLock`] and [`LazyLock`]: std's one-time initialisation cells, whose
//! initialisation is a wait the deadlock detector knows about.
//!
//! While one thread runs a cell's initialiser, every other thread asking for
//! the value waits for that thread (in the wait-for graph: waiter → initialising
//! thread). So an initialiser that re-enters its own cell, or two threads whose
//! initialisation and locks wait on each other, are reported like a lock cycle.

use std::fmt;
use std::ops::Deref;
use std::panic::Location;
use std::sync::{
    Condvar as StdCondvar, Mutex as StdMutex, MutexGuard as StdMutexGuard, PoisonError,
};

use sync_trace::{ObjectKind, ThreadId};

use crate::recorder::{self, ObjectMeta};
use crate::waitfor::{self, Resource, WaitGuard, Wakers};

/// A cell written at most once: `std::sync::OnceLock` whose initialisation
/// waits are visible to the deadlock detector.
///
/// ```
/// use instrumented_sync::OnceLock;
///
/// static CONFIG: OnceLock<String> = OnceLock::new();
/// assert_eq!(CONFIG.get(), None);
/// assert_eq!(CONFIG.get_or_init(|| "debug".to_owned()), "debug");
/// assert_eq!(CONFIG.set("release".to_owned()), Err("release".to_owned()));
/// assert_eq!(CONFIG.get().map(String::as_str), Some("debug"));
/// ```
pub struct OnceLock<T> {
    meta: ObjectMeta,
    value: std::sync::OnceLock<T>,
    /// The thread running the initialiser, if any.
    initialiser: StdMutex<Option<ThreadId>>,
    /// Signalled when an initialiser finishes or gives up (panics).
    finished: StdCondvar,
}

/// The right to initialise a cell, held by the one thread running the
/// initialiser; dropping it (also when the initialiser panics) lets a waiter
/// take over or return the value.
struct Initialising<'a, T> {
    cell: &'a OnceLock<T>,
}

impl<T> Drop for Initialising<'_, T> {
    fn drop(&mut self) {
        *self.cell.state() = None;
        self.cell.finished.notify_all();
    }
}

impl<'a, T> Initialising<'a, T> {
    fn complete(self, value: T) -> &'a T {
        // Only the holder of `Initialising` writes the cell, so `value` is the one stored.
        self.cell.value.get_or_init(move || value)
    }
}

impl<T> OnceLock<T> {
    /// An empty cell; its class is the caller's location.
    #[track_caller]
    #[must_use]
    pub const fn new() -> OnceLock<T> {
        OnceLock {
            meta: ObjectMeta::new(ObjectKind::Once),
            value: std::sync::OnceLock::new(),
            initialiser: StdMutex::new(None),
            finished: StdCondvar::new(),
        }
    }

    /// Gives the cell a name for reports.
    #[must_use]
    pub fn named(self, name: &'static str) -> OnceLock<T> {
        self.meta.set_name(name);
        self
    }

    fn state(&self) -> StdMutexGuard<'_, Option<ThreadId>> {
        // A plain id: a panic cannot leave it inconsistent.
        self.initialiser
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The value, if the cell is initialised (never waits).
    pub fn get(&self) -> Option<&T> {
        self.value.get()
    }

    /// A mutable reference to the value, if initialised.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.value.get_mut()
    }

    /// Initialises the cell with `value` if it is empty. If another thread is
    /// initialising it, waits for that thread first (as std does).
    ///
    /// # Errors
    /// Gives `value` back when the cell was already initialised.
    #[track_caller]
    pub fn set(&self, value: T) -> Result<(), T> {
        if self.value.get().is_some() {
            return Err(value);
        }
        match self.begin(Location::caller()) {
            Ok(init) => {
                init.complete(value);
                Ok(())
            }
            Err(_) => Err(value),
        }
    }

    /// The value, running `f` to initialise the cell if it is empty. Exactly one
    /// thread runs an initialiser; others wait for it (a wait the deadlock
    /// detector follows to that thread). If `f` panics the cell stays empty and
    /// a waiting thread runs its own initialiser.
    ///
    /// Re-entering the cell's own initialisation from `f` is reported as a
    /// deadlock (std leaves it unspecified; it deadlocks or panics).
    #[track_caller]
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        if let Some(v) = self.value.get() {
            return v;
        }
        match self.begin(Location::caller()) {
            Ok(init) => init.complete(f()),
            Err(v) => v,
        }
    }

    /// Waits until the cell is initialised (by another thread) and returns the
    /// value. While a thread runs the initialiser the wait is for that thread;
    /// otherwise any thread may set it.
    #[track_caller]
    pub fn wait(&self) -> &T {
        if let Some(v) = self.value.get() {
            return v;
        }
        let loc = Location::caller();
        loop {
            let state = self.state();
            if let Some(v) = self.value.get() {
                return v;
            }
            let wakers = match *state {
                Some(t) => Wakers::Thread(t),
                None => Wakers::Unknown,
            };
            let initialiser = *state;
            drop(state);
            if initialiser.is_none() {
                waitfor::touch();
            }
            let wait = waitfor::block_on(
                Resource {
                    kind: ObjectKind::Once,
                    label: self.meta.label(),
                    wakers,
                    wakeable: true,
                },
                recorder::site(loc),
            );
            // Re-registered when the initialiser changes (a thread starts or gives up).
            self.wait_while(initialiser, &wait);
        }
    }

    /// Becomes the initialiser (`Ok`), or returns the value another thread
    /// stored (`Err`), waiting while another thread is initialising.
    fn begin(&self, loc: &'static Location<'static>) -> Result<Initialising<'_, T>, &T> {
        let me = recorder::this_thread();
        // The initialiser can wake waiters, so it is a live thread for the detector.
        waitfor::touch();
        loop {
            let mut state = self.state();
            if let Some(v) = self.value.get() {
                return Err(v);
            }
            let Some(owner) = *state else {
                *state = Some(me);
                return Ok(Initialising { cell: self });
            };
            drop(state);
            // `owner == me` is a re-entrant initialisation: a wait on itself, which
            // the detector reports as a cycle of one thread.
            let wait = waitfor::block_on(
                Resource {
                    kind: ObjectKind::Once,
                    label: self.meta.label(),
                    wakers: Wakers::Thread(owner),
                    wakeable: true,
                },
                recorder::site(loc),
            );
            self.wait_while(Some(owner), &wait);
        }
    }

    /// Waits in slices (acting on a detector verdict between them) while the
    /// cell is empty and `initialiser` is still the thread initialising it.
    fn wait_while(&self, initialiser: Option<ThreadId>, wait: &WaitGuard<'_>) {
        let mut state = self.state();
        while self.value.get().is_none() && *state == initialiser {
            state = self
                .finished
                .wait_timeout(state, waitfor::SLICE)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            if self.value.get().is_none() && *state == initialiser {
                // The verdict may panic: never with the state lock held.
                drop(state);
                wait.check();
                state = self.state();
            }
        }
    }

    /// The value, if initialised, consuming the cell.
    pub fn into_inner(self) -> Option<T> {
        self.value.into_inner()
    }

    /// Takes the value out, leaving the cell empty.
    pub fn take(&mut self) -> Option<T> {
        self.value.take()
    }
}

impl<T> Default for OnceLock<T> {
    #[track_caller]
    fn default() -> OnceLock<T> {
        OnceLock::new()
    }
}

impl<T> From<T> for OnceLock<T> {
    #[track_caller]
    fn from(value: T) -> OnceLock<T> {
        let cell = OnceLock::new();
        cell.value.get_or_init(move || value);
        cell
    }
}

impl<T: Clone> Clone for OnceLock<T> {
    #[track_caller]
    fn clone(&self) -> OnceLock<T> {
        let cell = OnceLock::new();
        if let Some(v) = self.get() {
            cell.value.get_or_init(|| v.clone());
        }
        cell
    }
}

impl<T: PartialEq> PartialEq for OnceLock<T> {
    fn eq(&self, other: &OnceLock<T>) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq> Eq for OnceLock<T> {}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("OnceLock");
        match self.get() {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}

impl<T> crate::sealed::Sealed for OnceLock<T> {}

impl<T> crate::Nameable for OnceLock<T> {
    fn set_name(&self, name: &'static str) {
        self.meta.set_name(name);
    }
}

/// A value initialised on first access: `std::sync::LazyLock` over an
/// instrumented [`OnceLock`], so threads waiting for the initialisation wait
/// (visibly to the deadlock detector) for the initialising thread.
///
/// ```
/// use std::collections::HashMap;
/// use instrumented_sync::LazyLock;
///
/// static SQUARES: LazyLock<HashMap<u32, u32>> =
///     LazyLock::new(|| (1..=3).map(|i| (i, i * i)).collect());
/// assert_eq!(SQUARES.get(&3), Some(&9));
/// assert_eq!(LazyLock::force(&SQUARES).len(), 3);
/// ```
pub struct LazyLock<T, F = fn() -> T> {
    cell: OnceLock<T>,
    /// The initialiser until it is taken by the thread running it; `None`
    /// afterwards, so an initialiser that panicked poisons the cell (as in std).
    init: StdMutex<Option<F>>,
}

impl<T, F: FnOnce() -> T> LazyLock<T, F> {
    /// A lazy value computed by `f` on first access; its class is the caller's location.
    #[track_caller]
    pub const fn new(f: F) -> LazyLock<T, F> {
        LazyLock {
            cell: OnceLock::new(),
            init: StdMutex::new(Some(f)),
        }
    }

    /// The value, computing it on first access (other threads wait for the one computing it).
    ///
    /// # Panics
    /// If the initialiser panicked on an earlier access (the value is poisoned), as std does.
    #[track_caller]
    pub fn force(this: &LazyLock<T, F>) -> &T {
        this.cell.get_or_init(|| {
            let f = this
                .init
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            match f {
                Some(f) => f(),
                None => panic!("LazyLock instance has previously been poisoned"),
            }
        })
    }
}

impl<T, F> LazyLock<T, F> {
    /// Gives the lazy value a name for reports.
    #[must_use]
    pub fn named(self, name: &'static str) -> LazyLock<T, F> {
        self.cell.meta.set_name(name);
        self
    }
}

impl<T, F: FnOnce() -> T> Deref for LazyLock<T, F> {
    type Target = T;

    #[track_caller]
    fn deref(&self) -> &T {
        LazyLock::force(self)
    }
}

impl<T: Default> Default for LazyLock<T> {
    #[track_caller]
    fn default() -> LazyLock<T> {
        LazyLock::new(T::default)
    }
}

impl<T: fmt::Debug, F> fmt::Debug for LazyLock<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("LazyLock");
        match self.cell.get() {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}

impl<T, F> crate::sealed::Sealed for LazyLock<T, F> {}

impl<T, F> crate::Nameable for LazyLock<T, F> {
    fn set_name(&self, name: &'static str) {
        self.cell.meta.set_name(name);
    }
}

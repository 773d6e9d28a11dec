//! Drop-in instrumented atomics: `std::sync::atomic` plus recording.
//!
//! Change `use std::sync::atomic::{AtomicUsize, Ordering}` to
//! `use instrumented_sync::atomic::{AtomicUsize, Ordering}`. Every access is
//! recorded as `Access { var, write, order: Some(..), version }` at the caller's
//! location: loads (and failed compare-exchanges) as reads, stores and
//! read-modify-writes as writes. `version` says which store a load read from:
//! each atomic counts its stores, a store or read-modify-write records the
//! version it wrote (reading the one before), a load the version it read. The
//! analyzer then derives happens-before from Release (or AcqRel, SeqCst) stores
//! read by Acquire (or AcqRel, SeqCst) loads of the same version; Relaxed
//! accesses order nothing.
//!
//! # Consistency of value and version, and its cost
//!
//! The value and its version must change together, or a load could pair a new
//! value with an old version. Each atomic therefore has a one-byte spin lock
//! (unrecorded) held around the real std operation and the version read or bump,
//! and nowhere else: recording happens after it is released. Uncontended, that
//! is one compare-and-swap and one store on top of the std operation (a few
//! nanoseconds, small next to recording the event); contended, accesses of one
//! atomic are serialised for those few instructions. A side effect: all
//! instrumented accesses of one atomic are mutually ordered in real memory (the
//! spin lock is acquire/release), so a Relaxed-ordering bug that would need a
//! weakly ordered CPU to misbehave does not misbehave here; the analyzer still
//! reports it, from the recorded orderings.
//!
//! Not modelled: [`fence`] and [`compiler_fence`] are std's own and record
//! nothing (a fence-based publication is reported as a race); writes through
//! `as_ptr` bypass recording; release sequences (a Relaxed read-modify-write
//! continuing a release store) are not followed. `from_ptr` is not provided:
//! an instrumented atomic carries more than the value.
//!
//! ```
//! use std::sync::Arc;
//! use instrumented_sync::{RaceCell, thread};
//! use instrumented_sync::atomic::{AtomicBool, Ordering};
//!
//! let payload = Arc::new(RaceCell::new(0).named("payload"));
//! let ready = Arc::new(AtomicBool::new(false));
//! let (p, r) = (Arc::clone(&payload), Arc::clone(&ready));
//! let producer = thread::spawn(move || {
//!     p.set(42);
//!     r.store(true, Ordering::Release);
//! });
//! while !ready.load(Ordering::Acquire) {
//!     std::hint::spin_loop();
//! }
//! assert_eq!(payload.get(), 42);
//! producer.join().unwrap();
//! ```

use std::fmt;
use std::panic::Location;
use std::sync::atomic::AtomicBool as StdAtomicBool;

pub use std::sync::atomic::{Ordering, compiler_fence, fence};
use sync_trace::{MemoryOrder, Mode, ObjectId, ObjectKind, Op};

use crate::recorder::{self, ObjectMeta};

/// The trace's name for a std ordering.
fn memory_order(order: Ordering) -> MemoryOrder {
    match order {
        Ordering::Relaxed => MemoryOrder::Relaxed,
        Ordering::Acquire => MemoryOrder::Acquire,
        Ordering::Release => MemoryOrder::Release,
        Ordering::AcqRel => MemoryOrder::AcqRel,
        // `SeqCst` and any ordering std may add later: the strongest.
        _ => MemoryOrder::SeqCst,
    }
}

/// The load half of a read-modify-write ordering (for operations done as a
/// load and a store under the spin lock).
fn load_part(order: Ordering) -> Ordering {
    match order {
        Ordering::Relaxed | Ordering::Release => Ordering::Relaxed,
        Ordering::Acquire | Ordering::AcqRel => Ordering::Acquire,
        _ => Ordering::SeqCst,
    }
}

/// The store half of a read-modify-write ordering.
fn store_part(order: Ordering) -> Ordering {
    match order {
        Ordering::Relaxed | Ordering::Acquire => Ordering::Relaxed,
        Ordering::Release | Ordering::AcqRel => Ordering::Release,
        _ => Ordering::SeqCst,
    }
}

/// A minimal spin lock keeping an atomic's value and version consistent. Never
/// recorded, held for a few instructions only (no user code, no recording).
struct SpinLock(StdAtomicBool);

/// Releases the [`SpinLock`] when dropped, also when the std operation panics
/// (an invalid ordering), so the atomic stays usable.
struct SpinGuard<'a>(&'a SpinLock);

impl SpinLock {
    const fn new() -> SpinLock {
        SpinLock(StdAtomicBool::new(false))
    }

    #[inline]
    fn lock(&self) -> SpinGuard<'_> {
        let mut spins = 0u32;
        while self
            .0
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            // Test before retrying the write; after a while, let a preempted holder run.
            while self.0.load(Ordering::Relaxed) {
                spins += 1;
                if spins < 64 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
        SpinGuard(self)
    }
}

impl Drop for SpinGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.0.store(false, Ordering::Release);
    }
}

/// What every instrumented atomic carries besides its std value: the
/// recorder's metadata (its sequence counter is the version counter) and the
/// spin lock pairing value and version.
struct VersionedVar {
    meta: ObjectMeta,
    lock: SpinLock,
}

impl VersionedVar {
    #[track_caller]
    const fn new() -> VersionedVar {
        VersionedVar {
            meta: ObjectMeta::new(ObjectKind::Variable),
            lock: SpinLock::new(),
        }
    }

    /// Runs the load `op` and records a read of the version it saw.
    #[inline]
    fn read<R>(
        &self,
        order: Ordering,
        loc: &'static Location<'static>,
        op: impl FnOnce() -> R,
    ) -> R {
        let var = self.meta.id();
        let (r, version) = {
            let _held = self.lock.lock();
            (op(), self.meta.current_seq())
        };
        record(var, false, order, version, loc);
        r
    }

    /// Runs the store or read-modify-write `op` and records a write of the next version.
    #[inline]
    fn write<R>(
        &self,
        order: Ordering,
        loc: &'static Location<'static>,
        op: impl FnOnce() -> R,
    ) -> R {
        let var = self.meta.id();
        let (r, version) = {
            let _held = self.lock.lock();
            // The spin lock makes this thread the counter's only writer.
            (op(), self.meta.next_seq_held(Mode::Write))
        };
        record(var, true, order, version, loc);
        r
    }

    /// Runs the compare-exchange `op`: a success is recorded as a write with
    /// `success` ordering, a failure as a read with `failure` ordering.
    #[inline]
    fn exchange<V>(
        &self,
        success: Ordering,
        failure: Ordering,
        loc: &'static Location<'static>,
        op: impl FnOnce() -> Result<V, V>,
    ) -> Result<V, V> {
        let var = self.meta.id();
        let (r, version) = {
            let _held = self.lock.lock();
            let r = op();
            let version = if r.is_ok() {
                self.meta.next_seq_held(Mode::Write)
            } else {
                self.meta.current_seq()
            };
            (r, version)
        };
        match r {
            Ok(_) => record(var, true, success, version, loc),
            Err(_) => record(var, false, failure, version, loc),
        }
        r
    }

    /// `fetch_update`: std's compare-exchange loop, recorded as the single
    /// read-modify-write it amounts to when it succeeds (with `set` ordering),
    /// or as the load whose value `f` declined (with `fetch` ordering). The
    /// loop's internal loads and failed attempts are not recorded: `f` may run
    /// several times, but the operation reads and writes once.
    #[inline]
    fn update<V: Copy>(
        &self,
        set: Ordering,
        fetch: Ordering,
        loc: &'static Location<'static>,
        load: impl Fn() -> V,
        compare_exchange_weak: impl Fn(V, V) -> Result<V, V>,
        mut f: impl FnMut(V) -> Option<V>,
    ) -> Result<V, V> {
        let var = self.meta.id();
        let (mut prev, mut version) = {
            let _held = self.lock.lock();
            (load(), self.meta.current_seq())
        };
        loop {
            // `f` is user code: it runs without the spin lock (it may use this atomic).
            let Some(next) = f(prev) else {
                record(var, false, fetch, version, loc);
                return Err(prev);
            };
            let attempt = {
                let _held = self.lock.lock();
                match compare_exchange_weak(prev, next) {
                    Ok(p) => Ok((p, self.meta.next_seq_held(Mode::Write))),
                    Err(actual) => Err((actual, self.meta.current_seq())),
                }
            };
            match attempt {
                Ok((p, written)) => {
                    record(var, true, set, written, loc);
                    return Ok(p);
                }
                Err((actual, seen)) => (prev, version) = (actual, seen),
            }
        }
    }
}

/// Records one atomic access.
#[inline]
fn record(
    var: ObjectId,
    write: bool,
    order: Ordering,
    version: u64,
    loc: &'static Location<'static>,
) {
    recorder::record(
        Op::Access {
            var,
            write,
            order: Some(memory_order(order)),
            version,
        },
        loc,
    );
}

/// The failure ordering std's deprecated `compare_and_swap` uses for `order`.
fn cas_failure_order(order: Ordering) -> Ordering {
    match order {
        Ordering::Release => Ordering::Relaxed,
        Ordering::AcqRel => Ordering::Acquire,
        other => other,
    }
}

/// The methods every atomic type has, for value type `$v` and std type `$std`.
macro_rules! atomic_common {
    ($v:ty, $std:ty) => {
        /// A new atomic holding `v`; its class (for reports) is the caller's location.
        #[track_caller]
        pub const fn new(v: $v) -> Self {
            Self {
                var: VersionedVar::new(),
                inner: <$std>::new(v),
            }
        }

        /// Gives the atomic a name for reports (instead of `Variable@file:line`).
        pub fn named(self, name: &'static str) -> Self {
            self.var.meta.set_name(name);
            self
        }

        /// A mutable reference to the value. Not recorded: `&mut self` proves no
        /// other thread can access it.
        pub fn get_mut(&mut self) -> &mut $v {
            self.inner.get_mut()
        }

        /// Consumes the atomic, returning the value. Not recorded.
        pub fn into_inner(self) -> $v {
            self.inner.into_inner()
        }

        /// A raw pointer to the value. Accesses through it are not recorded.
        pub const fn as_ptr(&self) -> *mut $v {
            self.inner.as_ptr()
        }

        /// Loads the value (records a read of the current version).
        ///
        /// # Panics
        /// If `order` is `Release` or `AcqRel`, like std.
        #[track_caller]
        pub fn load(&self, order: Ordering) -> $v {
            self.var
                .read(order, Location::caller(), || self.inner.load(order))
        }

        /// Stores `val` (records a write of a new version).
        ///
        /// # Panics
        /// If `order` is `Acquire` or `AcqRel`, like std.
        #[track_caller]
        pub fn store(&self, val: $v, order: Ordering) {
            self.var
                .write(order, Location::caller(), || self.inner.store(val, order))
        }

        /// Stores `val`, returning the previous value (records a write).
        #[track_caller]
        pub fn swap(&self, val: $v, order: Ordering) -> $v {
            self.var
                .write(order, Location::caller(), || self.inner.swap(val, order))
        }

        /// Stores `new` if the value is `current`; returns the previous value,
        /// `Ok` when it was stored. Records a write (`success` ordering) or,
        /// when it fails, a read (`failure` ordering).
        ///
        /// # Errors
        /// `Err(actual)` when the value was not `current`.
        ///
        /// # Panics
        /// If `failure` is `Release` or `AcqRel`, like std.
        #[track_caller]
        pub fn compare_exchange(
            &self,
            current: $v,
            new: $v,
            success: Ordering,
            failure: Ordering,
        ) -> Result<$v, $v> {
            self.var.exchange(success, failure, Location::caller(), || {
                self.inner.compare_exchange(current, new, success, failure)
            })
        }

        /// Like [`compare_exchange`](Self::compare_exchange), but may fail
        /// spuriously (std's weak form); recorded the same way.
        ///
        /// # Errors
        /// `Err(actual)` when the value was not `current`, or spuriously.
        ///
        /// # Panics
        /// If `failure` is `Release` or `AcqRel`, like std.
        #[track_caller]
        pub fn compare_exchange_weak(
            &self,
            current: $v,
            new: $v,
            success: Ordering,
            failure: Ordering,
        ) -> Result<$v, $v> {
            self.var.exchange(success, failure, Location::caller(), || {
                self.inner
                    .compare_exchange_weak(current, new, success, failure)
            })
        }

        /// std's deprecated single-ordering compare-and-swap; returns the previous value.
        #[deprecated(note = "Use `compare_exchange` or `compare_exchange_weak` instead")]
        #[track_caller]
        pub fn compare_and_swap(&self, current: $v, new: $v, order: Ordering) -> $v {
            let failure = cas_failure_order(order);
            match self.compare_exchange(current, new, order, failure) {
                Ok(v) | Err(v) => v,
            }
        }

        /// Applies `f` until it returns `None` or its result is stored (a
        /// compare-exchange loop); returns `Ok(previous)` or `Err(previous)`.
        /// Recorded as one write (`set_order`) when it stores, one read
        /// (`fetch_order`) when `f` declines.
        ///
        /// # Errors
        /// `Err(previous)` when `f` returned `None`.
        #[track_caller]
        pub fn fetch_update<F>(
            &self,
            set_order: Ordering,
            fetch_order: Ordering,
            f: F,
        ) -> Result<$v, $v>
        where
            F: FnMut($v) -> Option<$v>,
        {
            self.var.update(
                set_order,
                fetch_order,
                Location::caller(),
                || self.inner.load(fetch_order),
                |p, n| {
                    self.inner
                        .compare_exchange_weak(p, n, set_order, fetch_order)
                },
                f,
            )
        }

        /// The same as [`fetch_update`](Self::fetch_update) (std's newer name).
        ///
        /// # Errors
        /// `Err(previous)` when `f` returned `None`.
        #[track_caller]
        pub fn try_update(
            &self,
            set_order: Ordering,
            fetch_order: Ordering,
            f: impl FnMut($v) -> Option<$v>,
        ) -> Result<$v, $v> {
            self.fetch_update(set_order, fetch_order, f)
        }

        /// Applies `f` until its result is stored; returns the previous value.
        /// Recorded as one write.
        #[track_caller]
        pub fn update(
            &self,
            set_order: Ordering,
            fetch_order: Ordering,
            mut f: impl FnMut($v) -> $v,
        ) -> $v {
            match self.fetch_update(set_order, fetch_order, |v| Some(f(v))) {
                Ok(v) | Err(v) => v,
            }
        }
    };
}

/// Defines an instrumented integer atomic over std's `$std` holding `$int`.
macro_rules! atomic_int {
    ($name:ident, $std:ident, $int:ty) => {
        #[doc = concat!("An instrumented `std::sync::atomic::", stringify!($std), "`: every access is recorded with its ordering and the version it read or wrote (see the [module docs](self)).")]
        ///
        /// ```
        #[doc = concat!("use instrumented_sync::atomic::{", stringify!($name), ", Ordering};")]
        ///
        #[doc = concat!("static HITS: ", stringify!($name), " = ", stringify!($name), "::new(0);")]
        /// HITS.fetch_add(2, Ordering::Relaxed);
        /// assert_eq!(HITS.load(Ordering::SeqCst), 2);
        /// ```
        pub struct $name {
            var: VersionedVar,
            inner: std::sync::atomic::$std,
        }

        impl $name {
            atomic_common!($int, std::sync::atomic::$std);

            /// Adds `val` (wrapping), returning the previous value (records a write).
            #[track_caller]
            pub fn fetch_add(&self, val: $int, order: Ordering) -> $int {
                self.var.write(order, Location::caller(), || self.inner.fetch_add(val, order))
            }

            /// Subtracts `val` (wrapping), returning the previous value (records a write).
            #[track_caller]
            pub fn fetch_sub(&self, val: $int, order: Ordering) -> $int {
                self.var.write(order, Location::caller(), || self.inner.fetch_sub(val, order))
            }

            /// Bitwise and with `val`, returning the previous value (records a write).
            #[track_caller]
            pub fn fetch_and(&self, val: $int, order: Ordering) -> $int {
                self.var.write(order, Location::caller(), || self.inner.fetch_and(val, order))
            }

            /// Bitwise nand with `val`, returning the previous value (records a write).
            #[track_caller]
            pub fn fetch_nand(&self, val: $int, order: Ordering) -> $int {
                self.var.write(order, Location::caller(), || self.inner.fetch_nand(val, order))
            }

            /// Bitwise or with `val`, returning the previous value (records a write).
            #[track_caller]
            pub fn fetch_or(&self, val: $int, order: Ordering) -> $int {
                self.var.write(order, Location::caller(), || self.inner.fetch_or(val, order))
            }

            /// Bitwise xor with `val`, returning the previous value (records a write).
            #[track_caller]
            pub fn fetch_xor(&self, val: $int, order: Ordering) -> $int {
                self.var.write(order, Location::caller(), || self.inner.fetch_xor(val, order))
            }

            /// Stores the maximum of the value and `val`, returning the previous value (records a write).
            #[track_caller]
            pub fn fetch_max(&self, val: $int, order: Ordering) -> $int {
                self.var.write(order, Location::caller(), || self.inner.fetch_max(val, order))
            }

            /// Stores the minimum of the value and `val`, returning the previous value (records a write).
            #[track_caller]
            pub fn fetch_min(&self, val: $int, order: Ordering) -> $int {
                self.var.write(order, Location::caller(), || self.inner.fetch_min(val, order))
            }
        }

        impl fmt::Debug for $name {
            /// Shows the value like std (a Relaxed load), without recording it.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.inner.load(Ordering::Relaxed), f)
            }
        }

        impl Default for $name {
            #[track_caller]
            fn default() -> $name {
                $name::new(0)
            }
        }

        impl From<$int> for $name {
            #[track_caller]
            fn from(v: $int) -> $name {
                $name::new(v)
            }
        }

        impl crate::sealed::Sealed for $name {}

        impl crate::Nameable for $name {
            fn set_name(&self, name: &'static str) {
                self.var.meta.set_name(name);
            }
        }
    };
}

atomic_int!(AtomicU8, AtomicU8, u8);
atomic_int!(AtomicU16, AtomicU16, u16);
atomic_int!(AtomicU32, AtomicU32, u32);
atomic_int!(AtomicU64, AtomicU64, u64);
atomic_int!(AtomicUsize, AtomicUsize, usize);
atomic_int!(AtomicI8, AtomicI8, i8);
atomic_int!(AtomicI16, AtomicI16, i16);
atomic_int!(AtomicI32, AtomicI32, i32);
atomic_int!(AtomicI64, AtomicI64, i64);
atomic_int!(AtomicIsize, AtomicIsize, isize);

/// An instrumented `std::sync::atomic::AtomicBool`: every access is recorded
/// with its ordering and the version it read or wrote (see the [module docs](self)).
///
/// ```
/// use instrumented_sync::atomic::{AtomicBool, Ordering};
///
/// static STOP: AtomicBool = AtomicBool::new(false);
/// assert!(!STOP.fetch_or(true, Ordering::AcqRel));
/// assert!(STOP.load(Ordering::Acquire));
/// ```
pub struct AtomicBool {
    var: VersionedVar,
    inner: StdAtomicBool,
}

impl AtomicBool {
    atomic_common!(bool, StdAtomicBool);

    /// Logical and with `val`, returning the previous value (records a write).
    #[track_caller]
    pub fn fetch_and(&self, val: bool, order: Ordering) -> bool {
        self.var.write(order, Location::caller(), || {
            self.inner.fetch_and(val, order)
        })
    }

    /// Logical nand with `val`, returning the previous value (records a write).
    #[track_caller]
    pub fn fetch_nand(&self, val: bool, order: Ordering) -> bool {
        self.var.write(order, Location::caller(), || {
            self.inner.fetch_nand(val, order)
        })
    }

    /// Logical or with `val`, returning the previous value (records a write).
    #[track_caller]
    pub fn fetch_or(&self, val: bool, order: Ordering) -> bool {
        self.var.write(order, Location::caller(), || {
            self.inner.fetch_or(val, order)
        })
    }

    /// Logical xor with `val`, returning the previous value (records a write).
    #[track_caller]
    pub fn fetch_xor(&self, val: bool, order: Ordering) -> bool {
        self.var.write(order, Location::caller(), || {
            self.inner.fetch_xor(val, order)
        })
    }

    /// Logical not, returning the previous value (records a write).
    #[track_caller]
    pub fn fetch_not(&self, order: Ordering) -> bool {
        self.var
            .write(order, Location::caller(), || self.inner.fetch_not(order))
    }
}

impl fmt::Debug for AtomicBool {
    /// Shows the value like std (a Relaxed load), without recording it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner.load(Ordering::Relaxed), f)
    }
}

impl Default for AtomicBool {
    #[track_caller]
    fn default() -> AtomicBool {
        AtomicBool::new(false)
    }
}

impl From<bool> for AtomicBool {
    #[track_caller]
    fn from(v: bool) -> AtomicBool {
        AtomicBool::new(v)
    }
}

impl crate::sealed::Sealed for AtomicBool {}

impl crate::Nameable for AtomicBool {
    fn set_name(&self, name: &'static str) {
        self.var.meta.set_name(name);
    }
}

/// An instrumented `std::sync::atomic::AtomicPtr`: every access is recorded
/// with its ordering and the version it read or wrote (see the [module docs](self)).
///
/// The pointer-arithmetic and bit operations (`fetch_ptr_add`, `fetch_or`, …)
/// are a load and a store made together under the atomic's spin lock (std's own
/// versions need a newer compiler than this crate's minimum); they are atomic
/// with respect to every other instrumented access.
///
/// ```
/// use instrumented_sync::atomic::{AtomicPtr, Ordering};
///
/// let mut data = [1u32, 2, 3];
/// let p = AtomicPtr::new(data.as_mut_ptr());
/// let first = p.fetch_ptr_add(1, Ordering::AcqRel);
/// assert_eq!(first, data.as_mut_ptr());
/// assert_eq!(p.load(Ordering::Acquire), data.as_mut_ptr().wrapping_add(1));
/// ```
pub struct AtomicPtr<T> {
    var: VersionedVar,
    inner: std::sync::atomic::AtomicPtr<T>,
}

impl<T> AtomicPtr<T> {
    atomic_common!(*mut T, std::sync::atomic::AtomicPtr<T>);

    /// Replaces the pointer by `g(old)` in one recorded write, returning `old`.
    #[inline]
    fn rmw(
        &self,
        order: Ordering,
        loc: &'static Location<'static>,
        g: impl FnOnce(*mut T) -> *mut T,
    ) -> *mut T {
        self.var.write(order, loc, || {
            let old = self.inner.load(load_part(order));
            self.inner.store(g(old), store_part(order));
            old
        })
    }

    /// Offsets the pointer by `val` elements of `T` (wrapping), returning the previous pointer.
    #[track_caller]
    pub fn fetch_ptr_add(&self, val: usize, order: Ordering) -> *mut T {
        self.rmw(order, Location::caller(), |p| p.wrapping_add(val))
    }

    /// Offsets the pointer back by `val` elements of `T` (wrapping), returning the previous pointer.
    #[track_caller]
    pub fn fetch_ptr_sub(&self, val: usize, order: Ordering) -> *mut T {
        self.rmw(order, Location::caller(), |p| p.wrapping_sub(val))
    }

    /// Offsets the pointer by `val` bytes (wrapping), returning the previous pointer.
    #[track_caller]
    pub fn fetch_byte_add(&self, val: usize, order: Ordering) -> *mut T {
        self.rmw(order, Location::caller(), |p| p.wrapping_byte_add(val))
    }

    /// Offsets the pointer back by `val` bytes (wrapping), returning the previous pointer.
    #[track_caller]
    pub fn fetch_byte_sub(&self, val: usize, order: Ordering) -> *mut T {
        self.rmw(order, Location::caller(), |p| p.wrapping_byte_sub(val))
    }

    /// Bitwise or of the address with `val` (keeping provenance), returning the previous pointer.
    #[track_caller]
    pub fn fetch_or(&self, val: usize, order: Ordering) -> *mut T {
        self.rmw(order, Location::caller(), |p| p.map_addr(|a| a | val))
    }

    /// Bitwise and of the address with `val` (keeping provenance), returning the previous pointer.
    #[track_caller]
    pub fn fetch_and(&self, val: usize, order: Ordering) -> *mut T {
        self.rmw(order, Location::caller(), |p| p.map_addr(|a| a & val))
    }

    /// Bitwise xor of the address with `val` (keeping provenance), returning the previous pointer.
    #[track_caller]
    pub fn fetch_xor(&self, val: usize, order: Ordering) -> *mut T {
        self.rmw(order, Location::caller(), |p| p.map_addr(|a| a ^ val))
    }
}

impl<T> fmt::Debug for AtomicPtr<T> {
    /// Shows the pointer like std (a Relaxed load), without recording it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner.load(Ordering::Relaxed), f)
    }
}

impl<T> Default for AtomicPtr<T> {
    #[track_caller]
    fn default() -> AtomicPtr<T> {
        AtomicPtr::new(std::ptr::null_mut())
    }
}

impl<T> From<*mut T> for AtomicPtr<T> {
    #[track_caller]
    fn from(p: *mut T) -> AtomicPtr<T> {
        AtomicPtr::new(p)
    }
}

impl<T> crate::sealed::Sealed for AtomicPtr<T> {}

impl<T> crate::Nameable for AtomicPtr<T> {
    fn set_name(&self, name: &'static str) {
        self.var.meta.set_name(name);
    }
}

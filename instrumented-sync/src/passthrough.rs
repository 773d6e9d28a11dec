//! The `passthrough` feature: every type of the crate that has a `std` twin is
//! `std`'s own — the locks and their guards, `Condvar`, `Barrier`, `mpsc`,
//! `OnceLock`, `LazyLock`, the `atomic` module and `thread` — so a build that
//! enables it pays exactly nothing for them (same types, same code). What has
//! no `std` twin (`RaceCell`, `Semaphore`, `SpinLock`, the `parking_lot` and
//! `tokio` features' types) stays recorded; without recorded locks, spawns and
//! joins its analysis is meaningless, so analyse builds without the feature.
//! For "instrumented in debug, std in release" without a feature, see
//! [`crate::debug`].
//!
//! Portable code names objects with [`crate::name`], which does nothing for
//! the `std` types; the instrumented types' own `named` builder is not
//! available on them.

use std::sync::atomic::{
    AtomicBool, AtomicI8, AtomicI16, AtomicI32, AtomicI64, AtomicIsize, AtomicPtr, AtomicU8,
    AtomicU16, AtomicU32, AtomicU64, AtomicUsize,
};
use std::sync::{Barrier, Condvar, LazyLock, Mutex, OnceLock, RwLock};

macro_rules! nameable_noop {
    ($($ty:ident $(<$t:ident>)?),*) => {$(
        impl$(<$t: ?Sized>)? crate::sealed::Sealed for $ty$(<$t>)? {}

        impl$(<$t: ?Sized>)? crate::Nameable for $ty$(<$t>)? {
            /// `std`'s types are not recorded: nothing to name.
            fn set_name(&self, _name: &'static str) {}
        }
    )*};
}

nameable_noop!(Mutex<T>, RwLock<T>, Condvar, Barrier);
nameable_noop!(
    AtomicBool,
    AtomicI8,
    AtomicI16,
    AtomicI32,
    AtomicI64,
    AtomicIsize
);
nameable_noop!(AtomicU8, AtomicU16, AtomicU32, AtomicU64, AtomicUsize);

// Sized-only std types: the macro's `?Sized` bound does not fit them.
impl<T> crate::sealed::Sealed for AtomicPtr<T> {}

impl<T> crate::Nameable for AtomicPtr<T> {
    /// `std`'s types are not recorded: nothing to name.
    fn set_name(&self, _name: &'static str) {}
}

impl<T> crate::sealed::Sealed for OnceLock<T> {}

impl<T> crate::Nameable for OnceLock<T> {
    /// `std`'s types are not recorded: nothing to name.
    fn set_name(&self, _name: &'static str) {}
}

impl<T, F> crate::sealed::Sealed for LazyLock<T, F> {}

impl<T, F> crate::Nameable for LazyLock<T, F> {
    /// `std`'s types are not recorded: nothing to name.
    fn set_name(&self, _name: &'static str) {}
}

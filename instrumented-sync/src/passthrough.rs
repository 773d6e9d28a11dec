//! The `passthrough` feature: the crate's lock types are `std::sync`'s own,
//! so a build that enables it pays exactly nothing for them (same types, same
//! code). Recording stays available for what has no `std` twin (`RaceCell`,
//! the atomics, `thread`, …). For "instrumented in debug, std in release"
//! without a feature, see [`crate::debug`].
//!
//! Portable code names objects with [`crate::name`], which does nothing for
//! the `std` types; the instrumented types' own `named` builder is not
//! available on them.

use std::sync::{Barrier, Condvar, Mutex, RwLock};

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

//! `Send`/`Sync`/unwind-safety bounds match std's: positive cases here,
//! negative ones as compile-fail tests in `tests/ui`.
#![cfg(not(feature = "passthrough"))]

use std::cell::Cell;
use std::panic::{RefUnwindSafe, UnwindSafe};

use instrumented_sync::{
    Barrier, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
};

fn send<T: Send + ?Sized>() {}
fn sync<T: Sync + ?Sized>() {}
fn unwind_safe<T: UnwindSafe + RefUnwindSafe + ?Sized>() {}

#[test]
fn auto_traits_match_std() {
    // A Mutex makes Send-but-not-Sync data Sync, like std's.
    send::<Mutex<Cell<u8>>>();
    sync::<Mutex<Cell<u8>>>();
    sync::<Mutex<[u8]>>();
    send::<RwLock<u8>>();
    sync::<RwLock<Vec<u8>>>();
    sync::<MutexGuard<'static, u8>>();
    sync::<RwLockReadGuard<'static, u8>>();
    sync::<RwLockWriteGuard<'static, u8>>();
    send::<Condvar>();
    sync::<Condvar>();
    send::<Barrier>();
    sync::<Barrier>();
    unwind_safe::<Mutex<Cell<u8>>>();
    unwind_safe::<RwLock<u8>>();
    unwind_safe::<Condvar>();
}

#[test]
fn guards_and_non_send_contents_do_not_compile() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}

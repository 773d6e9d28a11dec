//! With `--features passthrough` the lock types are `std::sync`'s own:
//! `cargo test -p instrumented-sync --features passthrough --test passthrough`.
#![cfg(feature = "passthrough")]

use std::any::TypeId;

#[test]
fn the_lock_types_are_std_types() {
    assert_eq!(
        TypeId::of::<instrumented_sync::Mutex<u8>>(),
        TypeId::of::<std::sync::Mutex<u8>>()
    );
    assert_eq!(
        TypeId::of::<instrumented_sync::RwLock<u8>>(),
        TypeId::of::<std::sync::RwLock<u8>>()
    );
    assert_eq!(
        TypeId::of::<instrumented_sync::Condvar>(),
        TypeId::of::<std::sync::Condvar>()
    );
    assert_eq!(
        TypeId::of::<instrumented_sync::Barrier>(),
        TypeId::of::<std::sync::Barrier>()
    );
}

#[test]
fn naming_compiles_and_nothing_is_recorded() {
    static M: instrumented_sync::Mutex<u32> = instrumented_sync::Mutex::new(0);
    instrumented_sync::name(&M, "m");
    *M.lock().unwrap() += 1;
    let recorded_locks = instrumented_sync::recorded()
        .iter()
        .filter(|r| matches!(r, sync_trace::Record::Object(_)))
        .count();
    assert_eq!(recorded_locks, 0);
}

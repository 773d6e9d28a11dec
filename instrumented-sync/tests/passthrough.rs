//! With `--features passthrough` every type with a std twin is std's own:
//! `cargo test -p instrumented-sync --features passthrough --lib --test passthrough --doc`.
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

#[test]
fn channels_one_time_initialisation_atomics_and_threads_are_std_too() {
    fn same<A: 'static, B: 'static>() -> bool {
        TypeId::of::<A>() == TypeId::of::<B>()
    }
    assert!(same::<
        instrumented_sync::mpsc::Sender<u8>,
        std::sync::mpsc::Sender<u8>,
    >());
    assert!(same::<
        instrumented_sync::mpsc::SyncSender<u8>,
        std::sync::mpsc::SyncSender<u8>,
    >());
    assert!(same::<
        instrumented_sync::mpsc::Receiver<u8>,
        std::sync::mpsc::Receiver<u8>,
    >());
    assert!(same::<
        instrumented_sync::OnceLock<u8>,
        std::sync::OnceLock<u8>,
    >());
    assert!(same::<
        instrumented_sync::LazyLock<u8>,
        std::sync::LazyLock<u8>,
    >());
    assert!(same::<
        instrumented_sync::atomic::AtomicUsize,
        std::sync::atomic::AtomicUsize,
    >());
    assert!(same::<
        instrumented_sync::atomic::AtomicBool,
        std::sync::atomic::AtomicBool,
    >());
    assert!(same::<
        instrumented_sync::atomic::AtomicPtr<u8>,
        std::sync::atomic::AtomicPtr<u8>,
    >());
    assert!(same::<
        instrumented_sync::thread::JoinHandle<()>,
        std::thread::JoinHandle<()>,
    >());
    // The debug module follows: std's in every build.
    const { assert!(!instrumented_sync::debug::INSTRUMENTED) };
    assert!(same::<
        instrumented_sync::debug::mpsc::Sender<u8>,
        std::sync::mpsc::Sender<u8>,
    >());
    assert!(same::<
        instrumented_sync::debug::Mutex<u8>,
        std::sync::Mutex<u8>,
    >());
}

#[test]
fn naming_std_atomics_and_cells_compiles_and_records_nothing() {
    use instrumented_sync::atomic::{AtomicPtr, AtomicU64, Ordering};
    use instrumented_sync::{LazyLock, OnceLock, name};
    static HITS: AtomicU64 = AtomicU64::new(0);
    static CONFIG: OnceLock<u32> = OnceLock::new();
    static TABLE: LazyLock<Vec<u32>> = LazyLock::new(|| vec![1, 2]);
    let ptr = AtomicPtr::new(std::ptr::null_mut::<u8>());
    name(&HITS, "hits");
    name(&CONFIG, "config");
    name(&TABLE, "table");
    name(&ptr, "ptr");
    HITS.fetch_add(1, Ordering::Relaxed);
    CONFIG.set(TABLE.len() as u32).unwrap();
    let (tx, rx) = instrumented_sync::mpsc::channel();
    instrumented_sync::thread::spawn(move || tx.send(*CONFIG.get().unwrap()).unwrap())
        .join()
        .unwrap();
    assert_eq!(rx.recv().unwrap(), 2);
    let recorded_objects = instrumented_sync::recorded()
        .iter()
        .filter(|r| matches!(r, sync_trace::Record::Object(_)))
        .count();
    assert_eq!(recorded_objects, 0);
}

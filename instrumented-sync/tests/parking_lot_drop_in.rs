//! Drop-in compatibility with parking_lot 0.12: ordinary parking_lot code,
//! compiled against `instrumented_sync::parking_lot` by changing only the
//! `use` line below. With `use ::parking_lot;` instead it compiles and passes
//! unchanged. Also: any `lock_api` user can wrap their raw lock.
#![cfg(feature = "parking_lot")]

use instrumented_sync::parking_lot;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::{
    Condvar, FairMutex, MappedMutexGuard, MappedRwLockReadGuard, MappedRwLockWriteGuard, Mutex,
    MutexGuard, Once, ReentrantMutex, ReentrantMutexGuard, RwLock, RwLockReadGuard,
    RwLockUpgradableReadGuard, RwLockWriteGuard, WaitTimeoutResult, const_mutex,
    const_reentrant_mutex, const_rwlock,
};

static COUNT: Mutex<u64> = const_mutex(0);
static TABLE: RwLock<Vec<u32>> = const_rwlock(Vec::new());
static MONITOR: ReentrantMutex<u32> = const_reentrant_mutex(7);
static INIT: Once = Once::new();

fn bump() -> u64 {
    let mut guard: MutexGuard<'_, u64> = COUNT.lock();
    *guard += 1;
    *guard
}

fn nested_monitor() -> u32 {
    let outer: ReentrantMutexGuard<'_, u32> = MONITOR.lock();
    let inner = MONITOR.lock();
    *outer + *inner
}

#[test]
fn mutex_api() {
    assert_eq!(bump(), 1);
    let m = Mutex::new(vec![1, 2, 3]);
    {
        let guard = m.lock();
        assert!(m.try_lock().is_none(), "held");
        assert!(m.is_locked());
        let first: MappedMutexGuard<'_, i32> = MutexGuard::map(guard, |v| &mut v[0]);
        assert_eq!(*first, 1);
    }
    let timed = m.try_lock_for(Duration::from_millis(10)).expect("free");
    drop(timed);
    let until = m
        .try_lock_until(Instant::now() + Duration::from_millis(10))
        .expect("free");
    MutexGuard::unlock_fair(until);
    let mut guard = m.lock();
    MutexGuard::unlocked(&mut guard, || assert!(m.try_lock().is_some()));
    MutexGuard::bump(&mut guard);
    guard.push(4);
    drop(guard);
    let mut owned = m;
    owned.get_mut().push(5);
    assert_eq!(owned.into_inner(), [1, 2, 3, 4, 5]);
    let fair = FairMutex::new(1);
    *fair.lock() += 1;
    assert_eq!(*fair.lock(), 2);
    let defaulted: Mutex<String> = Mutex::default();
    assert_eq!(format!("{:?}", defaulted), "Mutex { data: \"\" }");
    let from: Mutex<u8> = Mutex::from(3);
    assert_eq!(*from.lock(), 3);
}

#[test]
fn rwlock_api() {
    TABLE.write().push(1);
    let l = RwLock::new(10);
    {
        let r1: RwLockReadGuard<'_, i32> = l.read();
        let r2 = l.read_recursive();
        let r3 = l.try_read().expect("shared");
        assert!(l.try_write().is_none());
        assert_eq!(*r1 + *r2 + *r3, 30);
    }
    {
        let up: RwLockUpgradableReadGuard<'_, i32> = l.upgradable_read();
        let reader = l.read();
        assert!(
            l.try_upgradable_read().is_none(),
            "upgradable reads exclude each other"
        );
        drop(reader);
        let mut w: RwLockWriteGuard<'_, i32> = RwLockUpgradableReadGuard::upgrade(up);
        *w += 1;
        let down = RwLockWriteGuard::downgrade_to_upgradable(w);
        let up2 = RwLockUpgradableReadGuard::try_upgrade(down).expect("no readers");
        let read = RwLockWriteGuard::downgrade(up2);
        assert_eq!(*read, 11);
    }
    {
        let up = l
            .try_upgradable_read_for(Duration::from_millis(10))
            .unwrap();
        let up = match RwLockUpgradableReadGuard::try_upgrade_for(up, Duration::from_millis(10)) {
            Ok(w) => RwLockWriteGuard::downgrade_to_upgradable(w),
            Err(up) => up,
        };
        let read = RwLockUpgradableReadGuard::downgrade(up);
        assert_eq!(*read, 11);
    }
    assert!(l.try_read_for(Duration::from_millis(5)).is_some());
    assert!(
        l.try_write_until(Instant::now() + Duration::from_millis(5))
            .is_some()
    );
    {
        let w = l.write();
        let mapped: MappedRwLockWriteGuard<'_, i32> = RwLockWriteGuard::map(w, |v| v);
        drop(mapped);
        let r = l.read();
        let mapped: MappedRwLockReadGuard<'_, i32> = RwLockReadGuard::map(r, |v| v);
        assert_eq!(*mapped, 11);
    }
    assert_eq!(l.into_inner(), 11);
}

#[test]
fn reentrant_condvar_once() {
    assert_eq!(nested_monitor(), 14);
    let mut ran = 0;
    INIT.call_once(|| ran += 1);
    INIT.call_once(|| ran += 1);
    assert_eq!(ran, 1);

    let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
    let p2 = Arc::clone(&pair);
    let producer = thread::spawn(move || {
        for _ in 0..3 {
            *p2.0.lock() += 1;
            p2.1.notify_all();
        }
    });
    let mut n = pair.0.lock();
    while *n < 3 {
        pair.1.wait(&mut n);
    }
    let timeout: WaitTimeoutResult = pair.1.wait_for(&mut n, Duration::from_millis(1));
    assert!(timeout.timed_out());
    let r = pair
        .1
        .wait_while_for(&mut n, |v| *v < 3, Duration::from_millis(1));
    assert!(!r.timed_out(), "the condition is already false");
    drop(n);
    producer.join().unwrap();
    assert!(!pair.1.notify_one(), "nobody waits");
}

/// Any lock_api user: their own raw mutex, wrapped.
#[test]
fn lock_api_wrapping() {
    type Wrapped<T> =
        lock_api::Mutex<instrumented_sync::parking_lot::RawMutex<::parking_lot::RawMutex>, T>;
    type WrappedRw<T> =
        lock_api::RwLock<instrumented_sync::parking_lot::RawRwLock<::parking_lot::RawRwLock>, T>;
    let m: Wrapped<u32> = lock_api::Mutex::new(1);
    instrumented_sync::name(&m, "wrapped");
    *m.lock() += 1;
    assert_eq!(*m.lock(), 2);
    let l: WrappedRw<u32> = lock_api::RwLock::new(3);
    instrumented_sync::name(&l, "wrapped-rw");
    let read = *l.read();
    *l.write() += read;
    assert_eq!(*l.read(), 6);
    let analysis = instrumented_sync::findings();
    let names: Vec<&str> = analysis
        .findings
        .iter()
        .flat_map(|f| f.locks.iter().map(|l| l.name.as_str()))
        .collect();
    assert!(!names.contains(&"wrapped"), "no finding about a clean lock");
    let recorded = instrumented_sync::recorded();
    let named = recorded.iter().filter(|r| {
        matches!(r, sync_trace::Record::Object(o) if o.name.as_deref() == Some("wrapped") || o.name.as_deref() == Some("wrapped-rw"))
    });
    assert_eq!(
        named.count(),
        2,
        "both wrapped locks are recorded under their names"
    );
}

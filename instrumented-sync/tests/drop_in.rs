//! Drop-in compatibility: ordinary `std::sync`/`std::thread` code, compiled
//! against this crate by changing only the `use` lines below. With
//! `use std::sync as sync; use std::thread;` instead, it compiles and passes
//! unchanged.

use instrumented_sync as sync;
use instrumented_sync::thread;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sync::{
    Barrier, BarrierWaitResult, Condvar, LockResult, Mutex, MutexGuard, PoisonError, RwLock,
    RwLockReadGuard, RwLockWriteGuard, TryLockError, TryLockResult, WaitTimeoutResult,
};

static GLOBAL_COUNT: Mutex<u64> = Mutex::new(0);
static GLOBAL_MAP: RwLock<Option<HashMap<String, u32>>> = RwLock::new(None);
static GLOBAL_READY: Condvar = Condvar::new();
static GLOBAL_BARRIER: Barrier = Barrier::new(1);

fn bump() -> u64 {
    let mut guard: MutexGuard<'_, u64> = GLOBAL_COUNT.lock().unwrap();
    *guard += 1;
    *guard
}

fn lookup(key: &str) -> Option<u32> {
    let guard: RwLockReadGuard<'_, _> = GLOBAL_MAP.read().unwrap();
    guard.as_ref().and_then(|m| m.get(key).copied())
}

fn insert(key: &str, value: u32) {
    let mut guard: RwLockWriteGuard<'_, _> = GLOBAL_MAP.write().unwrap();
    guard
        .get_or_insert_with(HashMap::new)
        .insert(key.to_owned(), value);
}

fn try_bump(m: &Mutex<u32>) -> Result<u32, &'static str> {
    let result: TryLockResult<MutexGuard<'_, u32>> = m.try_lock();
    match result {
        Ok(mut g) => {
            *g += 1;
            Ok(*g)
        }
        Err(TryLockError::WouldBlock) => Err("busy"),
        Err(TryLockError::Poisoned(e)) => Ok(*e.into_inner()),
    }
}

fn recover<T: Copy>(result: LockResult<MutexGuard<'_, T>>) -> T {
    *result.unwrap_or_else(PoisonError::into_inner)
}

#[test]
fn std_code_compiles_and_behaves_like_std() {
    assert_eq!(bump(), 1);
    insert("a", 1);
    assert_eq!(lookup("a"), Some(1));
    let leader: BarrierWaitResult = GLOBAL_BARRIER.wait();
    assert!(leader.is_leader());
    GLOBAL_READY.notify_all();

    // Mutex API.
    let m = Mutex::new(5u32);
    assert_eq!(try_bump(&m), Ok(6));
    {
        let _held = m.lock().unwrap();
        assert_eq!(try_bump(&m), Err("busy"));
    }
    let mut m = m;
    *m.get_mut().unwrap() += 1;
    assert_eq!(format!("{:?}", m.lock().unwrap()), "7");
    assert_eq!(m.lock().unwrap().to_string(), "7");
    assert!(format!("{m:?}").contains("Mutex"));
    assert_eq!(m.into_inner().unwrap(), 7);
    let d: Mutex<Vec<u8>> = Mutex::default();
    let f: Mutex<&str> = Mutex::from("x");
    assert!(d.lock().unwrap().is_empty() && *f.lock().unwrap() == "x");

    // RwLock API.
    let mut rw = RwLock::from(1);
    {
        let r1 = rw.read().unwrap();
        let r2 = rw.try_read().unwrap();
        assert!(matches!(rw.try_write(), Err(TryLockError::WouldBlock)));
        assert_eq!(*r1 + *r2, 2);
    }
    *rw.try_write().unwrap() += 1;
    *rw.get_mut().unwrap() += 1;
    assert!(!rw.is_poisoned());
    rw.clear_poison();
    assert_eq!(RwLock::<i32>::default().into_inner().unwrap(), 0);
    assert_eq!(rw.into_inner().unwrap(), 3);

    // Poisoning through a panicking thread, and into_inner on the PoisonError.
    let shared = Arc::new(Mutex::new(10));
    let s2 = Arc::clone(&shared);
    let r = thread::spawn(move || {
        let _g = s2.lock().unwrap();
        panic!("poisoning on purpose");
    })
    .join();
    assert!(r.is_err());
    assert!(shared.is_poisoned());
    assert_eq!(recover(shared.lock()), 10);
    let poisoned: PoisonError<MutexGuard<'_, i32>> = shared.lock().unwrap_err();
    assert_eq!(*poisoned.into_inner(), 10);
    shared.clear_poison();
    assert!(shared.lock().is_ok());

    // Condvar API.
    let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
    let p2 = Arc::clone(&pair);
    let producer = thread::Builder::new()
        .name("producer".to_string())
        .spawn(move || {
            for _ in 0..3 {
                let (lock, cvar) = &*p2;
                *lock.lock().unwrap() += 1;
                cvar.notify_one();
            }
            thread::current().name().map(str::to_owned)
        })
        .unwrap();
    {
        let (lock, cvar) = &*pair;
        let mut n = lock.lock().unwrap();
        while *n < 1 {
            n = cvar.wait(n).unwrap();
        }
        let n = cvar.wait_while(n, |n| *n < 3).unwrap();
        let (n, timeout): (_, WaitTimeoutResult) =
            cvar.wait_timeout(n, Duration::from_millis(1)).unwrap();
        let _ = timeout.timed_out();
        let (n, t) = cvar
            .wait_timeout_while(n, Duration::from_millis(1), |n| *n < 3)
            .unwrap();
        assert!(!t.timed_out());
        assert_eq!(*n, 3);
    }
    assert_eq!(producer.join().unwrap().as_deref(), Some("producer"));

    // Barrier and scoped threads borrowing locals.
    let barrier = Barrier::new(3);
    let total = Mutex::new(0);
    let leaders = thread::scope(|s| {
        let handles: Vec<thread::ScopedJoinHandle<'_, bool>> = (0..3)
            .map(|i| {
                let (barrier, total) = (&barrier, &total);
                s.spawn(move || {
                    *total.lock().unwrap() += i;
                    barrier.wait().is_leader()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|&l| l)
            .count()
    });
    assert_eq!(leaders, 1);
    assert_eq!(total.into_inner().unwrap(), 3);

    // Plain thread helpers.
    thread::sleep(Duration::from_millis(1));
    thread::yield_now();
    let h: thread::JoinHandle<()> = thread::spawn(|| {});
    let _ = h.thread().id();
    h.join().unwrap();
}

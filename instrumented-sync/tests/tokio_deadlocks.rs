//! The async deadlocks people hit, on real tokio runtimes (current-thread and
//! multi-thread), run so that they do not actually hang, and found by
//! `instrumented_sync::findings()`. Each test names its own locks and looks
//! only at findings about them (the recording covers the whole test binary).
#![cfg(feature = "tokio")]

use std::sync::Arc;
use std::time::Duration;

use analyzer::finding::{Finding, FindingKind};
use instrumented_sync::tokio::{Mutex, RwLock, Semaphore, spawn};
use sync_trace::Record;

/// Every test's body runs under this timeout, so a real deadlock fails instead of hanging.
const TEST_TIMEOUT: Duration = Duration::from_secs(20);

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}

fn run(rt: tokio::runtime::Runtime, body: impl Future<Output = ()>) {
    rt.block_on(async {
        tokio::time::timeout(TEST_TIMEOUT, body)
            .await
            .expect("the test body hung");
    });
}

/// Findings of `kinds` that involve the lock named `name`.
fn findings_with(name: &str, kinds: &[FindingKind]) -> Vec<Finding> {
    let analysis = instrumented_sync::findings();
    assert_eq!(analysis.warnings, [], "the recording loads cleanly");
    analysis
        .findings
        .into_iter()
        .filter(|f| kinds.contains(&f.kind))
        .filter(|f| f.locks.iter().any(|l| l.name == name))
        .collect()
}

const CYCLE: [FindingKind; 2] = [
    FindingKind::PredictedDeadlock,
    FindingKind::LockOrderInversion,
];

/// The analyzer reports one finding per cycle of lock classes (construction
/// sites), so each test builds its locks itself and passes them in.
async fn opposite_orders(x: Mutex<u32>, y: Mutex<u32>) {
    let (x, y) = (Arc::new(x), Arc::new(y));
    let (x1, y1, x2, y2) = (x.clone(), y.clone(), x.clone(), y.clone());
    let first = spawn(async move {
        let mut gx = x1.lock().await;
        tokio::task::yield_now().await;
        let mut gy = y1.lock().await;
        *gx += 1;
        *gy += 1;
    });
    let second = spawn(async move {
        // Staggered so this run finishes; the analyzer predicts the other schedule.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut gy = y2.lock().await;
        let mut gx = x2.lock().await;
        *gx += 1;
        *gy += 1;
    });
    first.await.unwrap();
    second.await.unwrap();
    assert_eq!((*x.lock().await, *y.lock().await), (2, 2));
}

#[test]
fn opposite_lock_orders_current_thread() {
    run(
        current_thread(),
        opposite_orders(Mutex::new(0).named("ct-a"), Mutex::new(0).named("ct-b")),
    );
    let found = findings_with("ct-a", &CYCLE);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].kind, FindingKind::PredictedDeadlock, "{found:#?}");
    // The two sides are tasks, each its own trace thread.
    assert!(
        found[0].threads.iter().all(|t| t.starts_with("task-")),
        "{:?}",
        found[0].threads
    );
}

#[test]
fn opposite_lock_orders_multi_thread() {
    run(
        multi_thread(),
        opposite_orders(Mutex::new(0).named("mt-a"), Mutex::new(0).named("mt-b")),
    );
    let found = findings_with("mt-a", &CYCLE);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].kind, FindingKind::PredictedDeadlock, "{found:#?}");
}

#[test]
fn same_order_is_clean() {
    run(multi_thread(), async {
        let x = Arc::new(Mutex::new(0).named("same-a"));
        let y = Arc::new(Mutex::new(0).named("same-b"));
        let mut handles = Vec::new();
        for _ in 0..2 {
            let (x, y) = (x.clone(), y.clone());
            handles.push(spawn(async move {
                let _gx = x.lock().await;
                tokio::task::yield_now().await;
                let _gy = y.lock().await;
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(
        findings_with("same-a", &instrumented_sync::DEADLOCK_KINDS),
        []
    );
}

/// Holds `lock` across the await of a task that takes `lock`. The task takes
/// it first here (so the run finishes); had the parent locked first, it would
/// wait for the task forever while the task waits for the lock.
async fn guard_across_join(lock: Mutex<u32>) {
    let lock = Arc::new(lock);
    let for_task = lock.clone();
    let task = spawn(async move {
        *for_task.lock().await += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    let guard = lock.lock().await;
    task.await.unwrap();
    assert_eq!(*guard, 1);
}

#[test]
fn guard_held_across_join_current_thread() {
    run(
        current_thread(),
        guard_across_join(Mutex::new(0).named("join-ct")),
    );
    let found = findings_with("join-ct", &CYCLE);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        found[0].locks.len(),
        2,
        "the lock and the task's completion: {found:#?}"
    );
}

#[test]
fn guard_held_across_join_multi_thread() {
    run(
        multi_thread(),
        guard_across_join(Mutex::new(0).named("join-mt")),
    );
    let found = findings_with("join-mt", &CYCLE);
    assert_eq!(found.len(), 1, "{found:#?}");
}

#[test]
fn guard_released_before_join_is_clean() {
    run(current_thread(), async {
        let lock = Arc::new(Mutex::new(0).named("join-clean"));
        let for_task = lock.clone();
        let task = spawn(async move {
            *for_task.lock().await += 1;
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        *lock.lock().await += 1;
        task.await.unwrap();
        assert_eq!(*lock.lock().await, 2);
    });
    assert_eq!(
        findings_with("join-clean", &instrumented_sync::DEADLOCK_KINDS),
        []
    );
}

/// Re-locks in one task, which hangs; the analysis while it hangs finds the
/// self-deadlock (the stuck request is unanswered while the task holds the lock).
async fn relock(lock: Mutex<u32>, name: &'static str) -> Vec<Finding> {
    let lock = Arc::new(lock);
    let task_lock = lock.clone();
    let task = spawn(async move {
        let _outer = task_lock.lock().await;
        // Hangs for good: this task already holds the lock.
        let _inner = task_lock.lock().await;
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!task.is_finished(), "the task is stuck on its own lock");
    let found = findings_with(name, &[FindingKind::SelfDeadlock]);
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    // The aborted task's guard was dropped: the lock is free again.
    assert_eq!(*lock.lock().await, 0);
    found
}

#[test]
fn relocking_in_one_task_current_thread() {
    let rt = current_thread();
    let found = rt.block_on(relock(Mutex::new(0).named("relock-ct"), "relock-ct"));
    assert_eq!(found.len(), 1, "{found:#?}");
}

#[test]
fn relocking_in_one_task_multi_thread() {
    let rt = multi_thread();
    let found = rt.block_on(relock(Mutex::new(0).named("relock-mt"), "relock-mt"));
    assert_eq!(found.len(), 1, "{found:#?}");
}

#[test]
fn a_cancelled_wait_is_no_deadlock() {
    run(multi_thread(), async {
        let lock = Arc::new(Mutex::new(0).named("cancelled"));
        let guard = lock.lock().await;
        let other = lock.clone();
        let waiter = spawn(async move {
            // Gives up: recorded as a failed try, not a wait that never ended.
            tokio::time::timeout(Duration::from_millis(20), other.lock())
                .await
                .is_err()
        });
        assert!(waiter.await.unwrap());
        drop(guard);
    });
    assert_eq!(
        findings_with("cancelled", &instrumented_sync::DEADLOCK_KINDS),
        []
    );
}

#[test]
fn rwlock_and_semaphore_api() {
    run(multi_thread(), async {
        let config = RwLock::new(1).named("api-rw");
        {
            let r1 = config.read().await;
            let r2 = config.try_read().unwrap();
            assert!(config.try_write().is_err());
            assert_eq!(*r1 + *r2, 2);
        }
        *config.write().await += 1;
        assert_eq!(*config.read().await, 2);
        let slots = Arc::new(Semaphore::new(1).named("api-sem"));
        let permit = slots.acquire().await.unwrap();
        assert!(slots.try_acquire().is_err());
        let s2 = slots.clone();
        let later = spawn(async move { s2.acquire_many(1).await.map(|p| p.num_permits()) });
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(permit);
        assert_eq!(later.await.unwrap().unwrap(), 1);
        slots.close();
        assert!(slots.acquire().await.is_err());
    });
    // Events of tasks are on task threads named task-<id>.
    let task_threads = instrumented_sync::recorded()
        .iter()
        .filter(|r| matches!(r, Record::Thread(t) if t.name.as_deref().is_some_and(|n| n.starts_with("task-"))))
        .count();
    assert!(task_threads > 0);
    assert_eq!(
        findings_with("api-rw", &instrumented_sync::DEADLOCK_KINDS),
        []
    );
}

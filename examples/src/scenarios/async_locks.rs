//! Async lock ordering: two tokio tasks move stock between two warehouses,
//! each behind a `tokio::sync::Mutex`, awaiting while holding the first lock.
//! In opposite orders, each task can hold one warehouse and await the other
//! forever; tasks, not threads, are the units of concurrency here.

use std::sync::Arc;
use std::time::Duration;

use instrumented_sync::tokio::{Mutex, spawn};

type Warehouse = Arc<Mutex<u32>>;

async fn move_stock(from: Warehouse, to: Warehouse, amount: u32) {
    let mut source = from.lock().await;
    // Some async work while holding the source (a database call, say).
    tokio::task::yield_now().await;
    let mut destination = to.lock().await;
    *source -= amount;
    *destination += amount;
}

fn run(ordered: bool) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let north = Arc::new(Mutex::new(100).named("north"));
        let south = Arc::new(Mutex::new(100).named("south"));
        let first = spawn(move_stock(north.clone(), south.clone(), 10));
        let (a, b) = if ordered {
            (north.clone(), south.clone())
        } else {
            (south.clone(), north.clone())
        };
        let second = spawn(async move {
            // Staggered so this run finishes; the analyzer predicts the other schedule.
            tokio::time::sleep(Duration::from_millis(50)).await;
            if ordered {
                // Lock in the global order, move stock the other way.
                let mut n = a.lock().await;
                let mut s = b.lock().await;
                *s -= 20;
                *n += 20;
            } else {
                move_stock(a, b, 20).await;
            }
        });
        first.await.expect("first task");
        second.await.expect("second task");
        assert_eq!(
            *north.lock().await + *south.lock().await,
            200,
            "stock is conserved"
        );
    });
}

/// Opposite orders across an await: a predicted deadlock between two tasks.
pub fn lock_order_naive() {
    run(false);
}

/// Both tasks lock north before south: clean.
pub fn lock_order_ordered() {
    run(true);
}

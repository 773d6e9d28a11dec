//! A counting semaphore guarding a pool of connections (seed scenario 3).
//!
//! Two request handlers each take a connection (a permit), then need the
//! cache lock. The bug twin's maintenance task holds the cache lock while it
//! waits for a connection of its own: every permit is held by a handler blocked
//! on that lock, so nothing is ever released. The live detector follows the
//! semaphore to its permit holders and reports the cycle at once. The fixed
//! twin releases the cache before asking for a connection.

use std::sync::PoisonError;
use std::time::Duration;

use instrumented_sync::{Mutex, Semaphore, thread};

fn run(release_cache_first: bool) {
    let connections = Semaphore::new(2).named("connections");
    let cache = Mutex::new(Vec::<u32>::new()).named("cache");
    // The maintenance task takes the cache before the handlers start.
    let cache_guard = cache.lock().unwrap();
    thread::scope(|s| {
        let handlers: Vec<_> = (0..2)
            .map(|h| {
                let (connections, cache) = (&connections, &cache);
                thread::Builder::new()
                    .name(format!("handler-{h}"))
                    .spawn_scoped(s, move || {
                        let _connection = connections.acquire();
                        // A poisoned cache (its holder got the report) still holds valid entries.
                        cache.lock().unwrap_or_else(PoisonError::into_inner).push(h);
                    })
                    .unwrap()
            })
            .collect();
        // Both handlers hold their connection before maintenance asks for one.
        while connections.available_permits() > 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        if release_cache_first {
            drop(cache_guard);
            let _connection = connections.acquire();
        } else {
            // Bug: waits for a connection while holding the lock every connection holder needs.
            let _connection = connections.acquire();
            drop(cache_guard);
        }
        for h in handlers {
            if let Err(e) = h.join() {
                std::panic::resume_unwind(e);
            }
        }
    });
    assert_eq!(
        cache.lock().unwrap_or_else(PoisonError::into_inner).len(),
        2
    );
}

/// Bug twin: permits held by threads blocked on a lock their waiter holds.
pub fn leak() {
    run(false);
}

/// Fixed: maintenance releases the cache before taking a connection.
pub fn fixed() {
    run(true);
}

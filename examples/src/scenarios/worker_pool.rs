//! Worker pool over a FIFO queue (seed scenario 1).
//!
//! Five workers take items from one queue; the main thread puts 20 items,
//! waits until every item is marked done (`task_done` / `join`), then puts one
//! sentinel per worker so each loop ends, and joins the threads.

use std::collections::VecDeque;

use instrumented_sync::{Condvar, Mutex, thread};

/// A blocking queue with `task_done`/`join`, like Python's `queue.Queue`.
pub struct WorkQueue<T> {
    state: Mutex<QueueState<T>>,
    not_empty: Condvar,
    all_done: Condvar,
}

struct QueueState<T> {
    items: VecDeque<T>,
    unfinished: usize,
}

impl<T> WorkQueue<T> {
    /// An empty queue.
    pub fn new() -> WorkQueue<T> {
        WorkQueue {
            state: Mutex::new(QueueState {
                items: VecDeque::new(),
                unfinished: 0,
            })
            .named("queue"),
            not_empty: Condvar::new().named("queue-not-empty"),
            all_done: Condvar::new().named("queue-all-done"),
        }
    }

    /// Adds an item and wakes one waiting worker.
    pub fn put(&self, item: T) {
        let mut state = self.state.lock().unwrap();
        state.items.push_back(item);
        state.unfinished += 1;
        self.not_empty.notify_one();
    }

    /// Takes the next item, waiting while the queue is empty.
    pub fn get(&self) -> T {
        let state = self.state.lock().unwrap();
        let mut state = self
            .not_empty
            .wait_while(state, |s| s.items.is_empty())
            .unwrap();
        state.items.pop_front().expect("non-empty after wait")
    }

    /// Marks one item processed.
    pub fn task_done(&self) {
        let mut state = self.state.lock().unwrap();
        state.unfinished -= 1;
        if state.unfinished == 0 {
            self.all_done.notify_all();
        }
    }

    /// Waits until every item put has been marked done.
    pub fn join(&self) {
        let state = self.state.lock().unwrap();
        drop(
            self.all_done
                .wait_while(state, |s| s.unfinished > 0)
                .unwrap(),
        );
    }
}

impl<T> Default for WorkQueue<T> {
    fn default() -> Self {
        WorkQueue::new()
    }
}

/// 5 workers, 20 items, one sentinel (`None`) per worker.
pub fn with_sentinels() {
    const WORKERS: usize = 5;
    let queue: WorkQueue<Option<u32>> = WorkQueue::new();
    let processed = Mutex::new(0u32).named("processed");
    thread::scope(|s| {
        for w in 0..WORKERS {
            let (queue, processed) = (&queue, &processed);
            thread::Builder::new()
                .name(format!("worker-{w}"))
                .spawn_scoped(s, move || {
                    while let Some(item) = queue.get() {
                        *processed.lock().unwrap() += item;
                        queue.task_done();
                    }
                    queue.task_done();
                })
                .unwrap();
        }
        for item in 1..=20 {
            queue.put(Some(item));
        }
        queue.join();
        for _ in 0..WORKERS {
            queue.put(None);
        }
    });
    assert_eq!(*processed.lock().unwrap(), (1..=20).sum::<u32>());
}

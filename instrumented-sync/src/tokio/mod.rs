//! Instrumented tokio::sync locks (feature `tokio`): [`Mutex`], [`RwLock`] and
//! [`Semaphore`] with tokio's API, plus [`spawn`] whose [`JoinHandle`] records
//! what awaiting a task means for lock order.
//!
//! **Tasks are the units of concurrency.** An event raised inside a tokio task
//! is recorded on a trace thread of its own, allocated per task on its first
//! event and named `task-<id>` (tokio's task id); outside any task (for
//! `blocking_lock`, or code run by `block_on`) the OS thread records it. A
//! task's events are written straight to the trace, one at a time, so they
//! keep the task's program order whichever worker thread runs it.
//!
//! What the analyzer then sees:
//! - two tasks awaiting each other's locks in opposite orders: a lock-order cycle
//!   (predicted deadlock or lock-order inversion), as for threads;
//! - re-locking a tokio mutex the task already holds: a self-deadlock. If the
//!   stuck `lock()` future is later dropped (the task was aborted, or a timeout
//!   gave up), its request stays unanswered in the trace: it could never have
//!   been granted. Other abandoned waits are recorded as `TryFailed`;
//! - a guard held across an `.await` of a [`JoinHandle`] (from this module's
//!   [`spawn`]) whose task takes that lock: each spawned task is modelled as
//!   holding a *completion* object (kind `Once`, class the `spawn` call site)
//!   from its first poll until it finishes, and awaiting its handle as a
//!   blocking acquisition of that object. "Holds L, awaits task" and "task
//!   takes L" then form the cycle L → completion → L.
//!
//! Not detected: awaits of anything else while holding a guard (channels,
//! `tokio::spawn`'s own handles, `Notify`), and a `lock()` wrapped in
//! `tokio::time::timeout` that succeeds is recorded as a blocking acquisition.

mod mutex;
mod rwlock;
mod semaphore;
mod task;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Mutex as StdMutex, OnceLock, PoisonError};

use sync_trace::{Attempt, Mode, ObjectId, Op, SiteId, ThreadId};

use crate::recorder::{self, ObjectMeta, record_as, record_at};

pub use mutex::{Mutex, MutexGuard};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{Semaphore, SemaphorePermit};
pub use task::{JoinHandle, spawn};
/// tokio's error types, so code matching on them compiles unchanged.
pub use tokio::sync::{AcquireError, TryAcquireError, TryLockError};

/// A task's trace thread and the locks it holds (for the self-deadlock rule).
struct TaskState {
    thread: ThreadId,
    held: Vec<(ObjectId, Mode)>,
}

/// Every task that raised an event, by tokio task id. Entries are kept for the
/// process's life (a few dozen bytes per task that used an instrumented lock).
fn tasks() -> &'static StdMutex<HashMap<tokio::task::Id, TaskState>> {
    static TASKS: OnceLock<StdMutex<HashMap<tokio::task::Id, TaskState>>> = OnceLock::new();
    TASKS.get_or_init(|| StdMutex::new(HashMap::new()))
}

thread_local! {
    /// Locks of this module held by the OS thread outside any task.
    static THREAD_HELD: RefCell<Vec<(ObjectId, Mode)>> = const { RefCell::new(Vec::new()) };
}

/// Who raises an event: a tokio task (its trace thread) or the OS thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Actor {
    Task(tokio::task::Id, ThreadId),
    Thread,
}

/// The trace thread of task `id`, allocating (and beginning) it on first use.
fn task_thread(id: tokio::task::Id) -> ThreadId {
    let mut tasks = tasks().lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(state) = tasks.get(&id) {
        return state.thread;
    }
    let thread = recorder::new_thread(Some(format!("task-{id}")));
    tasks.insert(
        id,
        TaskState {
            thread,
            held: Vec::new(),
        },
    );
    // Written under the map's lock, so it is the task's first event.
    record_as(thread, Op::Begin, SiteId::UNKNOWN);
    thread
}

impl Actor {
    fn current() -> Actor {
        match tokio::task::try_id() {
            Some(id) => Actor::Task(id, task_thread(id)),
            None => Actor::Thread,
        }
    }

    fn record(self, op: Op, site: SiteId) {
        match self {
            Actor::Task(_, thread) => record_as(thread, op, site),
            Actor::Thread => record_at(op, site),
        }
    }

    fn with_held<R>(self, f: impl FnOnce(&mut Vec<(ObjectId, Mode)>) -> R) -> Option<R> {
        match self {
            Actor::Task(id, _) => {
                let mut tasks = tasks().lock().unwrap_or_else(PoisonError::into_inner);
                tasks.get_mut(&id).map(|s| f(&mut s.held))
            }
            Actor::Thread => THREAD_HELD.try_with(|h| f(&mut h.borrow_mut())).ok(),
        }
    }

    /// Whether this actor holds `lock` in a mode that `mode` would wait for.
    fn blocks_itself(self, lock: ObjectId, mode: Mode) -> bool {
        self.with_held(|held| {
            held.iter()
                .any(|&(l, m)| l == lock && !(m == Mode::Read && mode == Mode::Read))
        })
        .unwrap_or(false)
    }
}

/// One hold of an instrumented object, released (and recorded) by [`Hold::release`].
#[derive(Debug)]
pub(crate) struct Hold {
    actor: Actor,
    lock: ObjectId,
    mode: Mode,
    site: SiteId,
}

impl Hold {
    /// Records the acquisition (call once held).
    fn acquired(
        meta: &ObjectMeta,
        actor: Actor,
        mode: Mode,
        attempt: Attempt,
        site: SiteId,
    ) -> Hold {
        let lock = meta.id();
        let seq = meta.next_seq_held(mode);
        actor.record(
            Op::Acquire {
                lock,
                mode,
                attempt,
                seq,
            },
            site,
        );
        actor.with_held(|held| held.push((lock, mode)));
        Hold {
            actor,
            lock,
            mode,
            site,
        }
    }

    /// Records the release (call while still held), as the acquiring actor:
    /// a guard may be dropped in another task.
    fn release(&self, meta: &ObjectMeta) {
        let seq = meta.next_seq_held(self.mode);
        self.actor.record(
            Op::Release {
                lock: self.lock,
                mode: self.mode,
                seq,
            },
            self.site,
        );
        self.actor.with_held(|held| {
            if let Some(i) = held
                .iter()
                .rposition(|&(l, m)| l == self.lock && m == self.mode)
            {
                held.remove(i);
            }
        });
    }
}

/// A recorded `Request` not yet answered; dropping it before [`Waiting::granted`]
/// (the future was cancelled) records `TryFailed`, unless the wait was one the
/// actor could never win (it holds the lock itself): then the request stays
/// unanswered, which is what a self-deadlock looks like.
struct Waiting<'a> {
    meta: &'a ObjectMeta,
    actor: Actor,
    lock: ObjectId,
    mode: Mode,
    site: SiteId,
    answered: bool,
}

impl<'a> Waiting<'a> {
    fn request(meta: &'a ObjectMeta, actor: Actor, mode: Mode, site: SiteId) -> Waiting<'a> {
        let lock = meta.id();
        actor.record(Op::Request { lock, mode }, site);
        Waiting {
            meta,
            actor,
            lock,
            mode,
            site,
            answered: false,
        }
    }

    fn granted(mut self) -> Hold {
        self.answered = true;
        Hold::acquired(
            self.meta,
            self.actor,
            self.mode,
            Attempt::Blocking,
            self.site,
        )
    }

    fn refused(mut self) {
        self.answered = true;
        self.actor.record(
            Op::TryFailed {
                lock: self.lock,
                mode: self.mode,
            },
            self.site,
        );
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if !self.answered && !self.actor.blocks_itself(self.lock, self.mode) {
            self.actor.record(
                Op::TryFailed {
                    lock: self.lock,
                    mode: self.mode,
                },
                self.site,
            );
        }
    }
}

/// A blocking (awaited) acquisition: `Request`, then `Acquire` once `wait` resolves.
async fn acquire<G>(
    meta: &ObjectMeta,
    mode: Mode,
    site: SiteId,
    wait: impl Future<Output = G>,
) -> (G, Hold) {
    let actor = Actor::current();
    let waiting = Waiting::request(meta, actor, mode, site);
    let guard = wait.await;
    (guard, waiting.granted())
}

/// An awaited acquisition that can fail (a closed semaphore): `TryFailed` on error.
async fn acquire_or_fail<G, E>(
    meta: &ObjectMeta,
    mode: Mode,
    site: SiteId,
    wait: impl Future<Output = Result<G, E>>,
) -> Result<(G, Hold), E> {
    let actor = Actor::current();
    let waiting = Waiting::request(meta, actor, mode, site);
    match wait.await {
        Ok(g) => Ok((g, waiting.granted())),
        Err(e) => {
            waiting.refused();
            Err(e)
        }
    }
}

/// A `try_*` acquisition: `Acquire { Try }` or `TryFailed`.
fn try_acquire<G, E>(
    meta: &ObjectMeta,
    mode: Mode,
    site: SiteId,
    result: Result<G, E>,
) -> Result<(G, Hold), E> {
    let actor = Actor::current();
    match result {
        Ok(g) => Ok((g, Hold::acquired(meta, actor, mode, Attempt::Try, site))),
        Err(e) => {
            actor.record(
                Op::TryFailed {
                    lock: meta.id(),
                    mode,
                },
                site,
            );
            Err(e)
        }
    }
}

/// A thread-blocking acquisition (`blocking_lock` and friends, outside async code).
fn acquire_blocking<G>(
    meta: &ObjectMeta,
    mode: Mode,
    site: SiteId,
    wait: impl FnOnce() -> G,
) -> (G, Hold) {
    let actor = Actor::current();
    let waiting = Waiting::request(meta, actor, mode, site);
    let guard = wait();
    (guard, waiting.granted())
}

//! [`spawn`] and its [`JoinHandle`]: awaiting a task is recorded as waiting for
//! the task's completion object, which the task holds while it runs.

use std::panic::Location;
use std::pin::Pin;
use std::sync::{Arc, PoisonError};
use std::task::{Context, Poll};

use sync_trace::{Attempt, Mode, ObjectKind, Op, SiteId, ThreadId};

use super::{Actor, Hold, task_thread, tasks};
use crate::recorder::{self, ObjectMeta, record_as};

/// A spawned task's handle (`tokio::task::JoinHandle` plus recording).
///
/// Awaiting it records, in the awaiting task, a `Request` of the spawned task's
/// completion object (at the `spawn` site: `poll` has no caller location), then
/// its `Acquire` and `Release` and a `Join` once the task finished. Dropping it
/// while waiting records `TryFailed`.
pub struct JoinHandle<T> {
    inner: tokio::task::JoinHandle<T>,
    completion: Arc<ObjectMeta>,
    child: ThreadId,
    site: SiteId,
    /// The awaiting actor, between its first poll and the task's completion.
    awaiting: Option<Actor>,
}

/// Ends a spawned task's recording when its future completes, panics or is aborted.
struct TaskEnd {
    completion: Arc<ObjectMeta>,
    hold: Hold,
    id: tokio::task::Id,
    thread: ThreadId,
}

impl Drop for TaskEnd {
    fn drop(&mut self) {
        self.hold.release(&self.completion);
        record_as(self.thread, Op::End, SiteId::UNKNOWN);
        // The task raises no more events: forget its state.
        tasks()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// Spawns `future` on the current tokio runtime (`tokio::spawn`), recording a
/// `Fork` of its trace thread and a completion object it holds until it ends.
///
/// # Panics
/// Outside a tokio runtime, as `tokio::spawn`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let handle = instrumented_sync::tokio::spawn(async { 6 * 7 });
/// assert_eq!(handle.await.unwrap(), 42);
/// # });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let site = recorder::site(Location::caller());
    let completion = Arc::new(ObjectMeta::new(ObjectKind::Once));
    let parent = Actor::current();
    let task_completion = Arc::clone(&completion);
    let inner = tokio::spawn(async move {
        let actor = Actor::current();
        let Actor::Task(id, thread) = actor else {
            unreachable!("a spawned future runs inside its task")
        };
        // Taking the completion object never waits: nobody else holds it yet.
        let hold = Hold::acquired(&task_completion, actor, Mode::Write, Attempt::Try, site);
        let _end = TaskEnd {
            completion: task_completion,
            hold,
            id,
            thread,
        };
        future.await
    });
    let child = task_thread(inner.id());
    parent.record(Op::Fork { child }, site);
    JoinHandle {
        inner,
        completion,
        child,
        site,
        awaiting: None,
    }
}

impl<T> JoinHandle<T> {
    /// Cancels the task.
    pub fn abort(&self) {
        self.inner.abort();
    }

    /// Whether the task finished.
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }

    /// The task's tokio id.
    pub fn id(&self) -> tokio::task::Id {
        self.inner.id()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let lock = this.completion.id();
        let actor = *this.awaiting.get_or_insert_with(|| {
            let actor = Actor::current();
            actor.record(
                Op::Request {
                    lock,
                    mode: Mode::Write,
                },
                this.site,
            );
            actor
        });
        let result = std::task::ready!(Pin::new(&mut this.inner).poll(cx));
        this.awaiting = None;
        let hold = Hold::acquired(
            &this.completion,
            actor,
            Mode::Write,
            Attempt::Blocking,
            this.site,
        );
        hold.release(&this.completion);
        actor.record(Op::Join { child: this.child }, this.site);
        Poll::Ready(result)
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(actor) = self.awaiting.take() {
            actor.record(
                Op::TryFailed {
                    lock: self.completion.id(),
                    mode: Mode::Write,
                },
                self.site,
            );
        }
    }
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.inner.id())
            .finish_non_exhaustive()
    }
}

//! `std::thread` with recorded forks and joins.
//!
//! [`spawn`], [`Builder`] and [`scope`] record `Fork` in the parent, `Begin`
//! and `End` in the child (`End` also when it panics), and [`JoinHandle::join`]
//! records `Join` after the child ended, whether it returned or panicked. The
//! implicit joins at the end of a [`scope`] are recorded too. Everything that
//! needs no recording is std's own, re-exported.
//!
//! ```
//! use instrumented_sync::thread;
//!
//! let handle = thread::Builder::new().name("worker".into()).spawn(|| 6 * 7).unwrap();
//! assert_eq!(handle.join().unwrap(), 42);
//! let mut data = vec![1, 2];
//! thread::scope(|s| {
//!     s.spawn(|| data.push(3));
//! });
//! assert_eq!(data, [1, 2, 3]);
//! ```

use std::fmt;
use std::io;
use std::panic::{AssertUnwindSafe, Location};
use std::sync::{Mutex as StdMutex, PoisonError};

pub use std::thread::{
    AccessError, LocalKey, Result, Thread, ThreadId, available_parallelism, current, panicking,
    park, park_timeout, sleep, yield_now,
};
pub use std::thread_local;

use sync_trace::{Op, ThreadId as TraceThreadId};

use crate::recorder::{self, record};

/// Threads spawned in a still-running [`scope`] and not yet joined, keyed by
/// the scope's address, so the scope's implicit joins can be recorded.
static UNJOINED: StdMutex<Vec<(usize, TraceThreadId)>> = StdMutex::new(Vec::new());

fn unjoined() -> std::sync::MutexGuard<'static, Vec<(usize, TraceThreadId)>> {
    UNJOINED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An owned permission to join a thread, like `std::thread::JoinHandle`.
///
/// ```
/// let handle = instrumented_sync::thread::spawn(|| "done");
/// assert_eq!(handle.join().unwrap(), "done");
/// ```
pub struct JoinHandle<T> {
    inner: std::thread::JoinHandle<T>,
    child: TraceThreadId,
}

impl<T> JoinHandle<T> {
    /// Waits for the thread to finish; records `Join`.
    ///
    /// # Errors
    /// The thread's panic payload, if it panicked.
    #[track_caller]
    pub fn join(self) -> Result<T> {
        let site = Location::caller();
        crate::waitfor::wait_for_thread(self.child, site, || self.inner.is_finished());
        let result = self.inner.join();
        record(Op::Join { child: self.child }, site);
        result
    }

    /// The thread.
    pub fn thread(&self) -> &Thread {
        self.inner.thread()
    }

    /// Whether the thread has finished running its closure.
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").finish_non_exhaustive()
    }
}

/// Spawns a thread, like `std::thread::spawn`; records `Fork`.
///
/// # Panics
/// If the operating system cannot create a thread, as std.
///
/// ```
/// let h = instrumented_sync::thread::spawn(|| 1 + 1);
/// assert_eq!(h.join().unwrap(), 2);
/// ```
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new().spawn(f).expect("failed to spawn thread")
}

/// Thread configuration, like `std::thread::Builder`; the name also goes into the trace.
///
/// ```
/// let h = instrumented_sync::thread::Builder::new()
///     .name("io".into())
///     .stack_size(64 * 1024)
///     .spawn(|| instrumented_sync::thread::current().name().map(str::to_owned))
///     .unwrap();
/// assert_eq!(h.join().unwrap().as_deref(), Some("io"));
/// ```
#[derive(Debug)]
#[must_use = "must eventually spawn the thread"]
pub struct Builder {
    inner: std::thread::Builder,
    name: Option<String>,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

/// Starts a child: allocates and describes its id and records `Fork` in the parent.
fn fork(name: Option<String>, site: &'static Location<'static>) -> TraceThreadId {
    // The parent's own id first, so a never-seen parent is described before its child.
    recorder::this_thread();
    let child = recorder::new_thread(name.clone());
    crate::waitfor::forked(child, name.as_deref());
    record(Op::Fork { child }, site);
    child
}

/// Runs a child's body between `Begin` and `End` (also recorded when it panics).
fn run_child<T>(
    child: TraceThreadId,
    site: &'static Location<'static>,
    f: impl FnOnce() -> T,
) -> T {
    struct EndOnDrop(&'static Location<'static>);
    impl Drop for EndOnDrop {
        fn drop(&mut self) {
            crate::waitfor::thread_ended();
            recorder::leave_spawned_thread(self.0);
        }
    }
    recorder::enter_spawned_thread(child);
    let _end = EndOnDrop(site);
    f()
}

impl Builder {
    /// A builder with std's defaults.
    pub fn new() -> Builder {
        Builder {
            inner: std::thread::Builder::new(),
            name: None,
        }
    }

    /// Names the thread (also in the trace).
    pub fn name(self, name: String) -> Builder {
        Builder {
            inner: self.inner.name(name.clone()),
            name: Some(name),
        }
    }

    /// Sets the stack size in bytes.
    pub fn stack_size(self, size: usize) -> Builder {
        Builder {
            inner: self.inner.stack_size(size),
            name: self.name,
        }
    }

    /// Spawns the thread; records `Fork`.
    ///
    /// # Errors
    /// If the operating system cannot create the thread.
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let site = Location::caller();
        let child = fork(self.name, site);
        let inner = self.inner.spawn(move || run_child(child, site, f))?;
        Ok(JoinHandle { inner, child })
    }

    /// Spawns a scoped thread; records `Fork`.
    ///
    /// # Errors
    /// If the operating system cannot create the thread.
    #[track_caller]
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let site = Location::caller();
        let child = fork(self.name, site);
        let inner = self
            .inner
            .spawn_scoped(&scope.inner, move || run_child(child, site, f))?;
        let scope_key = scope.key();
        unjoined().push((scope_key, child));
        Ok(ScopedJoinHandle {
            inner,
            child,
            scope_key,
        })
    }
}

/// A scope for spawning threads that borrow from the caller, like `std::thread::Scope`.
///
/// ```
/// let counter = instrumented_sync::Mutex::new(0);
/// instrumented_sync::thread::scope(|s| {
///     for _ in 0..2 {
///         s.spawn(|| *counter.lock().unwrap() += 1);
///     }
/// });
/// assert_eq!(counter.into_inner().unwrap(), 2);
/// ```
#[repr(transparent)]
pub struct Scope<'scope, 'env: 'scope> {
    inner: std::thread::Scope<'scope, 'env>,
}

/// A handle to join a scoped thread, like `std::thread::ScopedJoinHandle`.
///
/// ```
/// let v = instrumented_sync::thread::scope(|s| s.spawn(|| 5).join().unwrap());
/// assert_eq!(v, 5);
/// ```
pub struct ScopedJoinHandle<'scope, T> {
    inner: std::thread::ScopedJoinHandle<'scope, T>,
    child: TraceThreadId,
    scope_key: usize,
}

impl<'scope, 'env> Scope<'scope, 'env> {
    fn wrap<'a>(scope: &'a std::thread::Scope<'scope, 'env>) -> &'a Scope<'scope, 'env> {
        // SAFETY: `Scope` is `repr(transparent)` over `std::thread::Scope` with
        // the same lifetime parameters, so the pointer cast keeps layout,
        // alignment, validity and the borrow's lifetime. Exercised by every
        // `thread::scope` test (for example `scoped_threads_fork_and_join`).
        unsafe { &*std::ptr::from_ref(scope).cast::<Scope<'scope, 'env>>() }
    }

    fn key(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// Spawns a thread in this scope; records `Fork`.
    ///
    /// # Panics
    /// If the operating system cannot create a thread, as std.
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        Builder::new()
            .spawn_scoped(self, f)
            .expect("failed to spawn thread")
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the thread to finish; records `Join`.
    ///
    /// # Errors
    /// The thread's panic payload, if it panicked.
    #[track_caller]
    pub fn join(self) -> Result<T> {
        let site = Location::caller();
        crate::waitfor::wait_for_thread(self.child, site, || self.inner.is_finished());
        let result = self.inner.join();
        unjoined().retain(|&(key, child)| (key, child) != (self.scope_key, self.child));
        record(Op::Join { child: self.child }, site);
        result
    }

    /// The thread.
    pub fn thread(&self) -> &Thread {
        self.inner.thread()
    }

    /// Whether the thread has finished running its closure.
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle").finish_non_exhaustive()
    }
}

/// Runs `f` with a scope for borrowing threads, like `std::thread::scope`;
/// threads not joined explicitly are joined (and recorded as joined) at the end.
///
/// # Panics
/// If `f` panics, or a thread that was not joined explicitly panicked, as std.
///
/// ```
/// let mut a = vec![1, 2, 3];
/// let sum = instrumented_sync::thread::scope(|s| s.spawn(|| a.iter().sum::<i32>()).join().unwrap());
/// a.push(sum);
/// ```
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let site = Location::caller();
    let mut key = 0;
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        std::thread::scope(|s| {
            let scope = Scope::wrap(s);
            key = scope.key();
            let value = f(scope);
            // std joins the remaining threads next; make those waits visible to the
            // deadlock detector first, so a scope stuck on blocked children is reported.
            let pending: Vec<TraceThreadId> = unjoined()
                .iter()
                .filter(|&&(k, _)| k == key)
                .map(|&(_, child)| child)
                .collect();
            for child in pending {
                crate::waitfor::wait_for_thread(child, site, || !crate::waitfor::is_live(child));
            }
            value
        })
    }));
    // std has joined every thread of the scope by now, also when it panics.
    let mut implicit: Vec<TraceThreadId> = Vec::new();
    unjoined().retain(|&(k, child)| {
        let ours = k == key;
        if ours {
            implicit.push(child);
        }
        !ours
    });
    implicit.sort();
    for child in implicit {
        record(Op::Join { child }, site);
    }
    match result {
        Ok(value) => value,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

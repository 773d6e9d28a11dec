//! [`Condvar`]: `std::sync::Condvar` working with this crate's [`MutexGuard`].

use std::fmt;
use std::panic::Location;
use std::sync::{self as std_sync, LockResult, PoisonError, WaitTimeoutResult};
use std::time::{Duration, Instant};

use sync_trace::{Attempt, Mode, ObjectKind, Op, SiteId};

use crate::mutex::MutexGuard;
use crate::recorder::{self, ObjectMeta, record_at};

/// A condition variable: `std::sync::Condvar` plus recording.
///
/// A wait records `CondWait` and the mutex's `Release`; waking records
/// `CondWake` (with how many notifications had been sent) and the mutex's
/// `Acquire`. Notifications record `Notify` with a 1-based sequence number.
///
/// ```
/// use std::sync::Arc;
/// use instrumented_sync::{Condvar, Mutex, thread};
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let pair2 = Arc::clone(&pair);
/// let t = thread::spawn(move || {
///     *pair2.0.lock().unwrap() = true;
///     pair2.1.notify_one();
/// });
/// let ready = pair.1.wait_while(pair.0.lock().unwrap(), |ready| !*ready).unwrap();
/// assert!(*ready);
/// drop(ready);
/// t.join().unwrap();
/// ```
pub struct Condvar {
    pub(crate) meta: ObjectMeta,
    inner: std_sync::Condvar,
    tokens: WakeTokens,
}

/// The notifications a condvar sent and its waiters have not yet taken.
///
/// Untimed waits block in slices (so a detector verdict can reach them), and
/// a notify sent while a waiter is between two slices finds nobody in the std
/// condvar. Counting notifications as tokens keeps std's semantics anyway: a
/// waiter returns only by taking a token, one `notify_one` releases one
/// waiter, and the detector knows how many waiters are about to run.
struct WakeTokens {
    state: std_sync::Mutex<TokenCount>,
}

struct TokenCount {
    /// Threads between the start and end of a wait (timed or not).
    waiting: usize,
    /// Notifications not yet taken; never more than `waiting`.
    pending: usize,
}

impl WakeTokens {
    const fn new() -> WakeTokens {
        WakeTokens {
            state: std_sync::Mutex::new(TokenCount {
                waiting: 0,
                pending: 0,
            }),
        }
    }

    fn count(&self) -> std_sync::MutexGuard<'_, TokenCount> {
        // Two counters, consistent after every statement: poisoning cannot break them.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A notification: one more token (`notify_one`) or one per waiter (`notify_all`).
    fn notify(&self, all: bool) {
        let mut c = self.count();
        c.pending = if all {
            c.waiting
        } else {
            (c.pending + 1).min(c.waiting)
        };
    }

    /// Counts the caller as a waiter until the ticket is dropped or takes a token.
    fn enter(&self) -> Ticket<'_> {
        self.count().waiting += 1;
        Ticket {
            tokens: self,
            done: false,
        }
    }
}

impl crate::waitfor::PendingWakes for WakeTokens {
    fn pending(&self) -> usize {
        self.count().pending
    }
}

/// One thread's place among a condvar's waiters.
struct Ticket<'a> {
    tokens: &'a WakeTokens,
    done: bool,
}

impl Ticket<'_> {
    /// Takes a token if one is pending, ending the wait.
    fn take(&mut self) -> bool {
        let mut c = self.tokens.count();
        if self.done || c.pending == 0 {
            return false;
        }
        c.pending -= 1;
        c.waiting -= 1;
        self.done = true;
        true
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.done {
            let mut c = self.tokens.count();
            c.waiting -= 1;
            c.pending = c.pending.min(c.waiting);
        }
    }
}

impl Condvar {
    /// A new condition variable; its class is the caller's location.
    #[track_caller]
    pub const fn new() -> Condvar {
        Condvar {
            meta: ObjectMeta::new(ObjectKind::Condvar),
            inner: std_sync::Condvar::new(),
            tokens: WakeTokens::new(),
        }
    }

    /// Gives the condition variable a name for reports.
    pub fn named(self, name: &'static str) -> Condvar {
        self.meta.set_name(name);
        self
    }

    /// Releases the guard's mutex and blocks until notified (or woken spuriously).
    ///
    /// # Errors
    /// If the mutex is poisoned when re-acquired; the guard is in the error.
    #[track_caller]
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        let site = recorder::site(Location::caller());
        // Counted while the mutex is still held: any notify from now on is ours to take.
        let mut ticket = self.tokens.enter();
        let (mut std_guard, guard) = self.begin_wait(guard, false, site);
        // An untimed wait is registered with the deadlock detector and waits in
        // slices, so a verdict can reach it; it ends only by taking a token (a
        // wakeup without one is spurious, and std allows waiting on).
        let mut wait = crate::waitfor::block_on(
            crate::waitfor::Resource {
                kind: ObjectKind::Condvar,
                label: self.meta.label(),
                wakers: crate::waitfor::Wakers::Tokens(&self.tokens),
                wakeable: true,
            },
            site,
        );
        let result = loop {
            let (g, poisoned) = match self.inner.wait_timeout(std_guard, crate::waitfor::SLICE) {
                Ok((g, _)) => (g, false),
                Err(e) => (e.into_inner().0, true),
            };
            if wait.end_if(|| ticket.take()) {
                break if poisoned {
                    Err(PoisonError::new(g))
                } else {
                    Ok(g)
                };
            }
            std_guard = g;
            wait.check();
        };
        drop(wait);
        self.end_wait(guard, false, site, result)
    }

    /// Waits while `condition` returns `true`, re-checking after each wake.
    ///
    /// # Errors
    /// If the mutex is poisoned when re-acquired; the guard is in the error.
    #[track_caller]
    pub fn wait_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// Like [`Condvar::wait`], but gives up after `dur`.
    ///
    /// # Errors
    /// If the mutex is poisoned when re-acquired; the guard is in the error.
    #[track_caller]
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        dur: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let site = recorder::site(Location::caller());
        let mut ticket = self.tokens.enter();
        let (std_guard, guard) = self.begin_wait(guard, true, site);
        let result = self.inner.wait_timeout(std_guard, dur);
        let timed_out = match &result {
            Ok((_, r)) => r.timed_out(),
            Err(e) => e.get_ref().1.timed_out(),
        };
        if !timed_out {
            // Woken: take the notification if it is still there (else a spurious wakeup).
            ticket.take();
        }
        drop(ticket);
        let (guard_result, wait_result) = match result {
            Ok((g, r)) => (Ok(g), r),
            Err(e) => {
                let (g, r) = e.into_inner();
                (Err(PoisonError::new(g)), r)
            }
        };
        match self.end_wait(guard, timed_out, site, guard_result) {
            Ok(g) => Ok((g, wait_result)),
            Err(e) => Err(PoisonError::new((e.into_inner(), wait_result))),
        }
    }

    /// Waits while `condition` returns `true`, for at most `dur` in total.
    ///
    /// # Errors
    /// If the mutex is poisoned when re-acquired; the guard is in the error.
    #[track_caller]
    pub fn wait_timeout_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        dur: Duration,
        mut condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
    where
        F: FnMut(&mut T) -> bool,
    {
        let start = Instant::now();
        loop {
            if !condition(&mut *guard) {
                // std has no public constructor of WaitTimeoutResult; a zero wait
                // whose condition is already false returns `timed_out() == false`.
                return Ok(self.settle(guard, false));
            }
            let Some(remaining) = dur.checked_sub(start.elapsed()) else {
                return Ok(self.settle(guard, true));
            };
            guard = self.wait_timeout(guard, remaining)?.0;
        }
    }

    /// Wakes one waiting thread.
    #[track_caller]
    pub fn notify_one(&self) {
        self.notify(false, recorder::site(Location::caller()));
        self.inner.notify_one();
    }

    /// Wakes all waiting threads.
    #[track_caller]
    pub fn notify_all(&self) {
        self.notify(true, recorder::site(Location::caller()));
        self.inner.notify_all();
    }

    fn notify(&self, all: bool, site: SiteId) {
        // A notifier is a live thread that can wake waiters.
        crate::waitfor::touch();
        let condvar = self.meta.id();
        // Numbered before waking anyone, so a woken waiter's `notified_seen` counts it.
        let seq = self.meta.next_seq();
        record_at(Op::Notify { condvar, all, seq }, site);
        self.tokens.notify(all);
    }

    /// Records the start of a wait and takes the std guard out of `guard`
    /// (which then records nothing when dropped).
    fn begin_wait<'a, T>(
        &self,
        mut guard: MutexGuard<'a, T>,
        timed: bool,
        site: SiteId,
    ) -> (std_sync::MutexGuard<'a, T>, MutexGuard<'a, T>) {
        let condvar = self.meta.id();
        let lock = guard.lock;
        record_at(
            Op::CondWait {
                condvar,
                lock,
                timed,
            },
            site,
        );
        guard.meta.holder.clear();
        let seq = guard.meta.next_seq_held(Mode::Write);
        record_at(
            Op::Release {
                lock,
                mode: Mode::Write,
                seq,
            },
            site,
        );
        let std_guard = match guard.inner.take() {
            Some(g) => g,
            None => unreachable!("a MutexGuard passed by value always holds its lock"),
        };
        (std_guard, guard)
    }

    fn end_wait<'a, T>(
        &self,
        mut guard: MutexGuard<'a, T>,
        timed_out: bool,
        site: SiteId,
        result: LockResult<std_sync::MutexGuard<'a, T>>,
    ) -> LockResult<MutexGuard<'a, T>> {
        let condvar = self.meta.id();
        let notified_seen = self.meta.current_seq();
        record_at(
            Op::CondWake {
                condvar,
                notified_seen,
                timed_out,
            },
            site,
        );
        let lock = guard.lock;
        let seq = guard.meta.next_seq_held(Mode::Write);
        record_at(
            Op::Acquire {
                lock,
                mode: Mode::Write,
                attempt: Attempt::Blocking,
                seq,
            },
            site,
        );
        guard.site = site;
        guard.meta.holder.set(recorder::this_thread(), site);
        let poisoned = result.is_err();
        guard.inner = Some(result.unwrap_or_else(PoisonError::into_inner));
        if poisoned {
            Err(PoisonError::new(guard))
        } else {
            Ok(guard)
        }
    }

    /// Pairs `guard` with a std `WaitTimeoutResult` saying `timed_out`, without waiting.
    fn settle<'a, T>(
        &self,
        mut guard: MutexGuard<'a, T>,
        timed_out: bool,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let std_guard = match guard.inner.take() {
            Some(g) => g,
            None => unreachable!("a MutexGuard passed by value always holds its lock"),
        };
        // A zero-length `wait_timeout_while` never blocks: it checks the
        // condition, and with `true` the zero timeout has already elapsed.
        let (std_guard, result) =
            match self
                .inner
                .wait_timeout_while(std_guard, Duration::ZERO, |_| timed_out)
            {
                Ok(pair) => pair,
                Err(e) => e.into_inner(),
            };
        guard.inner = Some(std_guard);
        (guard, result)
    }
}

impl Default for Condvar {
    #[track_caller]
    fn default() -> Condvar {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}

impl crate::sealed::Sealed for Condvar {}

impl crate::Nameable for Condvar {
    fn set_name(&self, name: &'static str) {
        self.meta.set_name(name);
    }
}

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
/// condvar. Notifications are therefore granted to waiters as tokens, keeping
/// std's semantics: a waiter returns only by taking its token, one
/// `notify_one` releases one waiter that was waiting when it was sent (the
/// earliest; a thread that starts waiting later cannot take it), and the
/// detector knows how many waiters are about to run.
struct WakeTokens {
    state: std_sync::Mutex<TokenCount>,
}

struct TokenCount {
    /// The next waiter's ticket number.
    next: u64,
    /// Waiters between the start and end of a wait (timed or not), by ticket,
    /// oldest first, each with whether a notification was granted to it.
    waiting: std::collections::BTreeMap<u64, bool>,
    /// How many entries of `waiting` are granted.
    granted: usize,
}

impl TokenCount {
    /// Grants a notification to the oldest waiter without one, if any.
    fn grant_one(&mut self) {
        if let Some(g) = self.waiting.values_mut().find(|g| !**g) {
            *g = true;
            self.granted += 1;
        }
    }
}

impl WakeTokens {
    const fn new() -> WakeTokens {
        WakeTokens {
            state: std_sync::Mutex::new(TokenCount {
                next: 0,
                waiting: std::collections::BTreeMap::new(),
                granted: 0,
            }),
        }
    }

    fn count(&self) -> std_sync::MutexGuard<'_, TokenCount> {
        // Updated as a whole under the lock: poisoning cannot leave it half-changed.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A notification: granted to the oldest waiter without one (`notify_one`)
    /// or to every waiter (`notify_all`). With nobody waiting it is lost, as in std.
    fn notify(&self, all: bool) {
        let mut c = self.count();
        if all {
            c.granted = c.waiting.len();
            c.waiting.values_mut().for_each(|g| *g = true);
        } else {
            c.grant_one();
        }
    }

    /// Counts the caller as a waiter until the ticket is dropped or takes its token.
    fn enter(&self) -> Ticket<'_> {
        let mut c = self.count();
        let id = c.next;
        c.next += 1;
        c.waiting.insert(id, false);
        Ticket {
            tokens: self,
            id,
            done: false,
        }
    }
}

impl crate::waitfor::PendingWakes for WakeTokens {
    fn pending(&self) -> usize {
        self.count().granted
    }
}

/// One thread's place among a condvar's waiters.
struct Ticket<'a> {
    tokens: &'a WakeTokens,
    id: u64,
    done: bool,
}

impl Ticket<'_> {
    /// Takes this waiter's token if a notification was granted to it, ending the wait.
    fn take(&mut self) -> bool {
        let mut c = self.tokens.count();
        if self.done || c.waiting.get(&self.id) != Some(&true) {
            return false;
        }
        c.waiting.remove(&self.id);
        c.granted -= 1;
        self.done = true;
        true
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.done {
            let mut c = self.tokens.count();
            // A notification granted to a waiter that left without it (a timed
            // wait that timed out as it came) goes to the next one: never lost.
            if c.waiting.remove(&self.id) == Some(true) {
                c.granted -= 1;
                c.grant_one();
            }
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

#[cfg(test)]
mod tests {
    use super::WakeTokens;

    #[test]
    fn a_notification_goes_to_a_thread_that_was_waiting_when_it_was_sent() {
        let tokens = WakeTokens::new();
        let mut first = tokens.enter();
        tokens.notify(false);
        // The notifier starts waiting right after: it must not take the first waiter's wakeup.
        let mut later = tokens.enter();
        assert!(
            !later.take(),
            "a later waiter cannot steal the notification"
        );
        assert!(first.take());
        assert!(!later.take());
        tokens.notify(false);
        assert!(later.take());
    }

    #[test]
    fn a_granted_waiter_that_leaves_passes_the_notification_on() {
        let tokens = WakeTokens::new();
        let timed = tokens.enter();
        let mut untimed = tokens.enter();
        tokens.notify(false);
        // The timed wait timed out as the notification came: the other waiter gets it.
        drop(timed);
        assert!(untimed.take());
    }

    #[test]
    fn notify_all_releases_every_waiter_of_the_moment_only() {
        let tokens = WakeTokens::new();
        let mut a = tokens.enter();
        let mut b = tokens.enter();
        tokens.notify(true);
        let mut c = tokens.enter();
        assert!(a.take() && b.take());
        assert!(!c.take());
        // With nobody else waiting, a notify_one is for `c` alone.
        tokens.notify(false);
        assert!(c.take());
    }
}

//! [`Condvar`] with parking_lot's API, for this module's [`MutexGuard`]s.

use std::fmt;
use std::panic::Location;
use std::time::{Duration, Instant};

use sync_trace::{ObjectKind, Op, SiteId};

use super::MutexGuard;
use super::raw::RawMutex;
use crate::recorder::{self, ObjectMeta, record_at};

/// Whether a timed wait timed out (parking_lot's `WaitTimeoutResult`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// Whether the wait ended because the timeout elapsed.
    pub fn timed_out(self) -> bool {
        self.0
    }
}

/// A condition variable with parking_lot's API (`wait(&mut guard)`, no
/// poisoning), recorded like `instrumented_sync::Condvar`: `CondWait` and the
/// mutex's release, then `CondWake` and its re-acquisition; `Notify` numbered
/// per condvar.
///
/// Waiters park on an internal parking_lot condvar guarded by an internal
/// mutex that a waiter takes before it releases the user's mutex and a
/// notifier takes before notifying, so no notification is lost.
///
/// ```
/// use std::sync::Arc;
/// use instrumented_sync::parking_lot::{Condvar, Mutex};
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let pair2 = Arc::clone(&pair);
/// let t = std::thread::spawn(move || {
///     *pair2.0.lock() = true;
///     pair2.1.notify_one();
/// });
/// let mut ready = pair.0.lock();
/// pair.1.wait_while(&mut ready, |r| !*r);
/// assert!(*ready);
/// drop(ready);
/// t.join().unwrap();
/// ```
pub struct Condvar {
    meta: ObjectMeta,
    internal: parking_lot::Mutex<()>,
    inner: parking_lot::Condvar,
}

/// Re-locks the user's mutex when the wait ends, also when it unwinds.
struct Relock<'a> {
    raw: &'a RawMutex,
    site: SiteId,
}

impl Drop for Relock<'_> {
    fn drop(&mut self) {
        self.raw.lock_at(self.site);
    }
}

impl Condvar {
    /// A new condition variable; its class is the caller's location.
    #[track_caller]
    pub const fn new() -> Condvar {
        Condvar {
            meta: ObjectMeta::new(ObjectKind::Condvar),
            internal: parking_lot::Mutex::new(()),
            inner: parking_lot::Condvar::new(),
        }
    }

    /// Gives the condvar a name for reports.
    pub fn named(self, name: &'static str) -> Condvar {
        self.meta.set_name(name);
        self
    }

    /// Wakes one waiter; whether one was woken.
    #[track_caller]
    pub fn notify_one(&self) -> bool {
        let _internal = self.internal.lock();
        self.notify(false, recorder::site(Location::caller()));
        self.inner.notify_one()
    }

    /// Wakes every waiter; how many were woken.
    #[track_caller]
    pub fn notify_all(&self) -> usize {
        let _internal = self.internal.lock();
        self.notify(true, recorder::site(Location::caller()));
        self.inner.notify_all()
    }

    fn notify(&self, all: bool, site: SiteId) {
        let condvar = self.meta.id();
        // Numbered before waking anyone, so a woken waiter's `notified_seen` counts it.
        let seq = self.meta.next_seq();
        record_at(Op::Notify { condvar, all, seq }, site);
    }

    /// Blocks until notified (or a spurious wakeup); the mutex is released meanwhile.
    #[track_caller]
    pub fn wait<T: ?Sized>(&self, guard: &mut MutexGuard<'_, T>) {
        let site = recorder::site(Location::caller());
        self.wait_inner(guard, None, site);
    }

    /// Blocks until notified or `timeout` is reached.
    #[track_caller]
    pub fn wait_until<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        timeout: Instant,
    ) -> WaitTimeoutResult {
        let site = recorder::site(Location::caller());
        self.wait_inner(guard, Some(timeout), site)
    }

    /// Blocks until notified or `timeout` has elapsed.
    #[track_caller]
    pub fn wait_for<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        timeout: Duration,
    ) -> WaitTimeoutResult {
        let site = recorder::site(Location::caller());
        // An unrepresentable deadline waits without one, as parking_lot does.
        let deadline = Instant::now().checked_add(timeout);
        self.wait_inner(guard, deadline, site)
    }

    /// Waits while `condition` holds.
    #[track_caller]
    pub fn wait_while<T: ?Sized, F>(&self, guard: &mut MutexGuard<'_, T>, mut condition: F)
    where
        F: FnMut(&mut T) -> bool,
    {
        let site = recorder::site(Location::caller());
        while condition(&mut **guard) {
            self.wait_inner(guard, None, site);
        }
    }

    /// Waits while `condition` holds, at most until `timeout`; times out only
    /// if the condition still holds at the deadline.
    #[track_caller]
    pub fn wait_while_until<T: ?Sized, F>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        condition: F,
        timeout: Instant,
    ) -> WaitTimeoutResult
    where
        F: FnMut(&mut T) -> bool,
    {
        let site = recorder::site(Location::caller());
        self.wait_while_deadline(guard, condition, Some(timeout), site)
    }

    /// Waits while `condition` holds, at most for `timeout`.
    #[track_caller]
    pub fn wait_while_for<T: ?Sized, F>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        condition: F,
        timeout: Duration,
    ) -> WaitTimeoutResult
    where
        F: FnMut(&mut T) -> bool,
    {
        let site = recorder::site(Location::caller());
        let deadline = Instant::now().checked_add(timeout);
        self.wait_while_deadline(guard, condition, deadline, site)
    }

    fn wait_while_deadline<T: ?Sized, F>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        mut condition: F,
        deadline: Option<Instant>,
        site: SiteId,
    ) -> WaitTimeoutResult
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut **guard) {
            if self.wait_inner(guard, deadline, site).timed_out() {
                return WaitTimeoutResult(condition(&mut **guard));
            }
        }
        WaitTimeoutResult(false)
    }

    fn wait_inner<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        deadline: Option<Instant>,
        site: SiteId,
    ) -> WaitTimeoutResult {
        let mutex = lock_api::MutexGuard::mutex(guard);
        // SAFETY: `raw` is unsafe because the lock could be released behind the
        // guard's back; here it is released and re-taken (by `Relock`) before the
        // guard can be used again, exactly as lock_api's `MutexGuard::unlocked`.
        let raw = unsafe { mutex.raw() };
        let condvar = self.meta.id();
        let mut internal = self.internal.lock();
        record_at(
            Op::CondWait {
                condvar,
                lock: raw.id(),
                timed: deadline.is_some(),
            },
            site,
        );
        // SAFETY: the guard proves this thread holds the mutex.
        unsafe { raw.unlock_recorded() };
        let relock = Relock { raw, site };
        let timed_out = match deadline {
            Some(deadline) => self.inner.wait_until(&mut internal, deadline).timed_out(),
            None => {
                self.inner.wait(&mut internal);
                false
            }
        };
        drop(internal);
        record_at(
            Op::CondWake {
                condvar,
                notified_seen: self.meta.current_seq(),
                timed_out,
            },
            site,
        );
        drop(relock);
        WaitTimeoutResult(timed_out)
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
        f.pad("Condvar { .. }")
    }
}

impl crate::sealed::Sealed for Condvar {}

impl crate::Nameable for Condvar {
    fn set_name(&self, name: &'static str) {
        self.meta.set_name(name);
    }
}

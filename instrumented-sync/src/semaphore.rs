//! [`Semaphore`]: a counting semaphore with RAII permits (std has none).

use std::collections::VecDeque;
use std::fmt;
use std::panic::Location;
use std::sync::{
    Condvar as StdCondvar, Mutex as StdMutex, MutexGuard as StdMutexGuard, PoisonError,
};
use std::time::{Duration, Instant};

use sync_trace::{ObjectKind, Op, SiteId};

use crate::recorder::{self, ObjectMeta, record_at};
use crate::waitfor::{self, Owners, Resource, Wakers};

/// A counting semaphore: [`acquire`](Semaphore::acquire) takes a permit,
/// waiting while none is left; the returned [`SemaphorePermit`] gives it back
/// when dropped.
///
/// A blocked `acquire` is known to the deadlock detector, which knows the
/// permit holders: if every holder is itself blocked for good, it reports.
///
/// A permit handed back and taken again orders the two threads for the race
/// detector: the release is recorded as a `Send` on the semaphore and the
/// acquisition that takes that permit as the matching `Recv`, so a semaphore
/// of one permit used as a lock protects what it guards.
///
/// ```
/// use instrumented_sync::Semaphore;
///
/// let pool = Semaphore::new(2).named("connections");
/// let a = pool.acquire();
/// let b = pool.acquire();
/// assert!(pool.try_acquire().is_none());
/// drop(a);
/// assert_eq!(pool.available_permits(), 1);
/// drop(b);
/// ```
pub struct Semaphore {
    meta: ObjectMeta,
    state: StdMutex<SemaphoreState>,
    released: StdCondvar,
}

struct SemaphoreState {
    permits: usize,
    /// Who holds permits (thread, acquisition site), one entry per permit.
    holders: Vec<(u32, SiteId)>,
    /// Permits were added or forgotten: holders no longer tell who can release one.
    untracked: bool,
    /// Releases recorded so far (the `seq` of the last one).
    releases: u64,
    /// Released permits not yet taken again, oldest first: the next acquisition
    /// records receiving the first. At most one per available permit.
    handed_back: VecDeque<u64>,
}

impl Owners for StdMutex<SemaphoreState> {
    fn owners(&self, out: &mut Vec<(u32, SiteId)>) -> bool {
        // `try_lock`: the detector must never wait for a semaphore's lock.
        match self.try_lock() {
            Ok(s) if !s.untracked && s.permits == 0 => {
                out.extend(s.holders.iter().copied());
                true
            }
            _ => false,
        }
    }
}

/// A permit of a [`Semaphore`]; released when dropped.
#[must_use = "the permit is released at once if unused"]
pub struct SemaphorePermit<'a> {
    semaphore: &'a Semaphore,
    thread: u32,
    /// Where it was taken (its release is recorded there too).
    site: SiteId,
}

impl Semaphore {
    /// A semaphore with `permits` permits; its class is the caller's location.
    #[track_caller]
    pub const fn new(permits: usize) -> Semaphore {
        Semaphore {
            meta: ObjectMeta::new(ObjectKind::Semaphore),
            state: StdMutex::new(SemaphoreState {
                permits,
                holders: Vec::new(),
                untracked: false,
                releases: 0,
                handed_back: VecDeque::new(),
            }),
            released: StdCondvar::new(),
        }
    }

    /// Gives the semaphore a name for reports.
    pub fn named(self, name: &'static str) -> Semaphore {
        self.meta.set_name(name);
        self
    }

    fn lock(&self) -> StdMutexGuard<'_, SemaphoreState> {
        // Only counters: a panic cannot leave them inconsistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take(&self, state: &mut SemaphoreState, site: SiteId) -> SemaphorePermit<'_> {
        let thread = recorder::this_thread().0;
        state.permits -= 1;
        state.holders.push((thread, site));
        // Under the state lock, as the release was: the trace orders them as they happened.
        if let Some(seq) = state.handed_back.pop_front() {
            record_at(
                Op::Recv {
                    channel: self.meta.id(),
                    seq,
                },
                site,
            );
        }
        SemaphorePermit {
            semaphore: self,
            thread,
            site,
        }
    }

    /// Records that a permit is handed back at `site` (call with the state locked).
    fn record_release(&self, state: &mut SemaphoreState, site: SiteId) {
        state.releases += 1;
        let seq = state.releases;
        record_at(
            Op::Send {
                channel: self.meta.id(),
                seq,
            },
            site,
        );
        state.handed_back.push_back(seq);
        // More handed back than available (after `forget`): the oldest are never taken.
        while state.handed_back.len() > state.permits.max(1) {
            state.handed_back.pop_front();
        }
    }

    /// Takes a permit, waiting while none is available.
    #[track_caller]
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        let site = recorder::site(Location::caller());
        let mut state = self.lock();
        if state.permits > 0 {
            return self.take(&mut state, site);
        }
        // Registered without the state lock held, so the detector can read the holders.
        drop(state);
        let wait = waitfor::block_on(
            Resource {
                kind: ObjectKind::Semaphore,
                label: self.meta.label(),
                wakers: Wakers::Owners(&self.state),
                wakeable: true,
            },
            site,
        );
        let mut state = self.lock();
        while state.permits == 0 {
            state = self
                .released
                .wait_timeout(state, waitfor::SLICE)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            if state.permits == 0 {
                drop(state);
                wait.check();
                state = self.lock();
            }
        }
        drop(wait);
        self.take(&mut state, site)
    }

    /// Takes a permit if one is available now.
    #[track_caller]
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        let site = recorder::site(Location::caller());
        let mut state = self.lock();
        (state.permits > 0).then(|| self.take(&mut state, site))
    }

    /// Takes a permit, waiting at most `timeout` (a timed wait: never a deadlock).
    #[track_caller]
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        let site = recorder::site(Location::caller());
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while state.permits == 0 {
            let left = deadline.checked_duration_since(Instant::now())?;
            state = self
                .released
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        Some(self.take(&mut state, site))
    }

    /// Adds `n` permits. From then on the detector no longer assumes only
    /// permit holders can release one. The first acquisition after it is
    /// ordered after this call (a semaphore used to signal).
    #[track_caller]
    pub fn add_permits(&self, n: usize) {
        waitfor::touch();
        let site = recorder::site(Location::caller());
        let mut state = self.lock();
        state.permits += n;
        state.untracked = true;
        if n > 0 {
            self.record_release(&mut state, site);
        }
        drop(state);
        self.released.notify_all();
    }

    /// Permits available now.
    pub fn available_permits(&self) -> usize {
        self.lock().permits
    }
}

impl SemaphorePermit<'_> {
    /// Keeps the permit taken forever (it is not returned to the semaphore).
    pub fn forget(self) {
        let mut state = self.semaphore.lock();
        state.untracked = true;
        if let Some(i) = state.holders.iter().position(|h| h.0 == self.thread) {
            state.holders.swap_remove(i);
        }
        drop(state);
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        let mut state = self.semaphore.lock();
        state.permits += 1;
        self.semaphore.record_release(&mut state, self.site);
        if let Some(i) = state.holders.iter().position(|h| h.0 == self.thread) {
            state.holders.swap_remove(i);
        }
        drop(state);
        self.semaphore.released.notify_one();
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.available_permits())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").finish_non_exhaustive()
    }
}

impl crate::sealed::Sealed for Semaphore {}

impl crate::Nameable for Semaphore {
    fn set_name(&self, name: &'static str) {
        self.meta.set_name(name);
    }
}

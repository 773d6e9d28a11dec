//! Instrumented lock_api raw locks: each wraps an inner raw lock (parking_lot's
//! by default) and records every acquisition, failed try and release.
//!
//! A raw lock has no guard of its own, so the site of a release (which the
//! format wants to be the matching acquisition's) comes from a per-thread list
//! of held raw locks. Guards sent to another thread (lock_api's `send_guard`)
//! release with an unknown site.

use std::cell::RefCell;
use std::panic::Location;
use std::sync::TryLockResult;

use sync_trace::{Attempt, Mode, ObjectId, ObjectKind, Op, SiteId};

use crate::recorder::{self, ObjectMeta, record_at};

thread_local! {
    /// The raw locks this thread holds, in acquisition order, with their acquisition sites.
    static HELD: RefCell<Vec<(ObjectId, Mode, SiteId)>> = const { RefCell::new(Vec::new()) };
}

fn push_held(lock: ObjectId, mode: Mode, site: SiteId) {
    let _ = HELD.try_with(|h| h.borrow_mut().push((lock, mode, site)));
}

/// Forgets the latest hold of `lock` in `mode` and returns its acquisition
/// site; `None` if this thread has no recorded hold of it (recording was off).
fn pop_held(lock: ObjectId, mode: Mode) -> Option<SiteId> {
    HELD.try_with(|h| {
        let mut h = h.borrow_mut();
        h.iter()
            .rposition(|&(l, m, _)| l == lock && m == mode)
            .map(|i| h.remove(i).2)
    })
    .ok()
    .flatten()
}

/// Whether this thread holds `lock` in `mode`.
fn holds(lock: ObjectId, mode: Mode) -> bool {
    HELD.try_with(|h| h.borrow().iter().any(|&(l, m, _)| l == lock && m == mode))
        .unwrap_or(false)
}

/// Tells the deadlock detector who holds the lock: the holder word for an
/// exclusive hold (try and timed ones; `recorder::blocking_acquire` sets it for
/// blocking ones), the thread's read-hold table for a shared or upgradable one.
fn holder_acquired(meta: &ObjectMeta, lock: ObjectId, mode: Mode, site: SiteId) {
    if lock == ObjectId(0) {
        return;
    }
    match mode {
        Mode::Write => meta.holder.set(recorder::this_thread(), site),
        Mode::Read | Mode::Upgradable => crate::waitfor::read_acquired(meta, site),
    }
}

fn holder_released(meta: &ObjectMeta, mode: Mode) {
    match mode {
        Mode::Write => meta.holder.clear(),
        Mode::Read | Mode::Upgradable => crate::waitfor::read_released(meta),
    }
}

/// A blocking acquisition: `Request` then `Acquire { Blocking }`.
fn blocking(
    meta: &ObjectMeta,
    mode: Mode,
    site: SiteId,
    try_: impl FnOnce() -> bool,
    block: impl FnOnce(),
) {
    let (lock, _) = recorder::blocking_acquire(
        meta,
        mode,
        site,
        || -> TryLockResult<()> {
            if try_() {
                Ok(())
            } else {
                Err(std::sync::TryLockError::WouldBlock)
            }
        },
        || {
            block();
            Ok(())
        },
    );
    // `blocking_acquire` set the holder word of an exclusive hold already.
    if mode != Mode::Write {
        holder_acquired(meta, lock, mode, site);
    }
    push_held(lock, mode, site);
}

/// A non-blocking (`Try`) or deadline-bounded (`Timed`) attempt: `Timed` is
/// preceded by `Request`; either ends in `Acquire` or `TryFailed`. Neither
/// can wait forever, so the analyzer derives no blocking edge from them.
fn attempt(
    meta: &ObjectMeta,
    mode: Mode,
    site: SiteId,
    kind: Attempt,
    f: impl FnOnce() -> bool,
) -> bool {
    let lock = meta.id();
    if kind == Attempt::Timed {
        record_at(Op::Request { lock, mode }, site);
    }
    if f() {
        acquired(meta, lock, mode, kind, site);
        true
    } else {
        record_at(Op::TryFailed { lock, mode }, site);
        false
    }
}

fn acquired(meta: &ObjectMeta, lock: ObjectId, mode: Mode, attempt: Attempt, site: SiteId) {
    let seq = meta.next_seq_held(mode);
    record_at(
        Op::Acquire {
            lock,
            mode,
            attempt,
            seq,
        },
        site,
    );
    holder_acquired(meta, lock, mode, site);
    push_held(lock, mode, site);
}

/// Records the release of `mode` (call while still held, before unlocking).
fn released(meta: &ObjectMeta, mode: Mode) -> SiteId {
    let lock = meta.id();
    let site = pop_held(lock, mode);
    if site.is_some() {
        holder_released(meta, mode);
    }
    let site = site.unwrap_or(SiteId::UNKNOWN);
    let seq = meta.next_seq_held(mode);
    record_at(Op::Release { lock, mode, seq }, site);
    site
}

/// Records a lock handover that does not wait (a downgrade): release `from`, then take `to`.
fn switch(meta: &ObjectMeta, from: Mode, to: Mode, site: SiteId) {
    released(meta, from);
    acquired(meta, meta.id(), to, Attempt::Try, site);
}

/// Records a `bump`: the lock is released and re-taken (blocking) at its acquisition site.
fn bumped(meta: &ObjectMeta, mode: Mode, bump: impl FnOnce()) {
    let site = released(meta, mode);
    let lock = meta.id();
    record_at(Op::Request { lock, mode }, site);
    bump();
    acquired(meta, lock, mode, Attempt::Blocking, site);
}

macro_rules! raw_mutex {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        pub struct $name<R = parking_lot::RawMutex> {
            meta: ObjectMeta,
            inner: R,
        }

        impl<R> $name<R> {
            /// Gives the lock a name for reports (for a lock built from `INIT`,
            /// reached through `lock_api`'s `raw()`).
            pub fn set_name(&self, name: &'static str) {
                self.meta.set_name(name);
            }

            /// The inner raw lock.
            pub fn inner(&self) -> &R {
                &self.inner
            }
        }

        impl<R: lock_api::RawMutex> $name<R> {
            /// Releases the lock held by this thread, recording the release;
            /// returns the acquisition site (for the re-acquisition of a condvar wait).
            ///
            /// # Safety
            /// The lock must be held in the current context.
            pub(crate) unsafe fn unlock_recorded(&self) -> SiteId {
                let site = released(&self.meta, Mode::Write);
                // SAFETY: the caller guarantees the lock is held.
                unsafe { self.inner.unlock() };
                site
            }

            /// Takes the lock, blocking, recorded at `site`.
            pub(crate) fn lock_at(&self, site: SiteId) {
                blocking(&self.meta, Mode::Write, site, || self.inner.try_lock(), || self.inner.lock());
            }

            /// The lock's id in the trace.
            #[allow(dead_code, reason = "condvar waits use it, on plain mutexes only")]
            pub(crate) fn id(&self) -> ObjectId {
                self.meta.id()
            }
        }

        impl<R: std::fmt::Debug> std::fmt::Debug for $name<R> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).field("meta", &self.meta).field("inner", &self.inner).finish()
            }
        }

        // SAFETY: every method delegates to the inner raw mutex, which upholds the
        // trait's contract (exclusive ownership between lock and unlock); recording
        // only adds bookkeeping around those calls.
        unsafe impl<R: lock_api::RawMutex> lock_api::RawMutex for $name<R> {
            #[allow(clippy::declare_interior_mutable_const)]
            const INIT: Self = $name {
                meta: ObjectMeta::unclassed($kind),
                inner: R::INIT,
            };
            type GuardMarker = R::GuardMarker;

            #[track_caller]
            fn lock(&self) {
                self.lock_at(recorder::site(Location::caller()));
            }

            #[track_caller]
            fn try_lock(&self) -> bool {
                let site = recorder::site(Location::caller());
                attempt(&self.meta, Mode::Write, site, Attempt::Try, || self.inner.try_lock())
            }

            unsafe fn unlock(&self) {
                // SAFETY: the trait's caller guarantees the lock is held.
                unsafe { self.unlock_recorded() };
            }

            fn is_locked(&self) -> bool {
                self.inner.is_locked()
            }
        }

        // SAFETY: delegates to the inner fair raw mutex.
        unsafe impl<R: lock_api::RawMutexFair> lock_api::RawMutexFair for $name<R> {
            unsafe fn unlock_fair(&self) {
                released(&self.meta, Mode::Write);
                // SAFETY: the trait's caller guarantees the lock is held.
                unsafe { self.inner.unlock_fair() };
            }

            unsafe fn bump(&self) {
                // SAFETY: the trait's caller guarantees the lock is held.
                bumped(&self.meta, Mode::Write, || unsafe { self.inner.bump() });
            }
        }

        // SAFETY: delegates to the inner timed raw mutex.
        unsafe impl<R: lock_api::RawMutexTimed> lock_api::RawMutexTimed for $name<R> {
            type Duration = R::Duration;
            type Instant = R::Instant;

            #[track_caller]
            fn try_lock_for(&self, timeout: Self::Duration) -> bool {
                let site = recorder::site(Location::caller());
                attempt(&self.meta, Mode::Write, site, Attempt::Timed, || self.inner.try_lock_for(timeout))
            }

            #[track_caller]
            fn try_lock_until(&self, timeout: Self::Instant) -> bool {
                let site = recorder::site(Location::caller());
                attempt(&self.meta, Mode::Write, site, Attempt::Timed, || self.inner.try_lock_until(timeout))
            }
        }
    };
}

raw_mutex!(
    /// An instrumented raw mutex over any `lock_api` raw mutex `R` (parking_lot's
    /// by default), recorded as a `Mutex`. Use it as `lock_api::Mutex<RawMutex<R>, T>`.
    ///
    /// ```
    /// use instrumented_sync::parking_lot::RawMutex;
    ///
    /// let m: lock_api::Mutex<RawMutex<parking_lot::RawMutex>, u32> = lock_api::Mutex::new(1);
    /// *m.lock() += 1;
    /// assert_eq!(*m.lock(), 2);
    /// ```
    RawMutex,
    ObjectKind::Mutex
);

raw_mutex!(
    /// The raw mutex inside an instrumented `ReentrantMutex`, recorded as a
    /// `ReentrantMutex`: lock_api only calls it for a thread's outermost
    /// acquisition, so re-entering is never recorded as a dependency.
    RawReentrantMutex,
    ObjectKind::ReentrantMutex
);

/// An instrumented raw reader-writer lock over any `lock_api` raw rwlock `R`
/// (parking_lot's by default). Shared holds are `Mode::Read`, exclusive ones
/// `Mode::Write`, upgradable ones `Mode::Upgradable`; an upgrade is recorded as
/// the release of the upgradable hold and a blocking write acquisition (it
/// waits for the other readers), a downgrade as a release and a non-blocking
/// (`Try`) acquisition.
///
/// ```
/// use instrumented_sync::parking_lot::RawRwLock;
///
/// let l: lock_api::RwLock<RawRwLock<parking_lot::RawRwLock>, u32> = lock_api::RwLock::new(1);
/// *l.write() += 1;
/// assert_eq!(*l.read(), 2);
/// ```
pub struct RawRwLock<R = parking_lot::RawRwLock> {
    meta: ObjectMeta,
    inner: R,
}

impl<R> RawRwLock<R> {
    /// Gives the lock a name for reports.
    pub(crate) fn set_name(&self, name: &'static str) {
        self.meta.set_name(name);
    }

    /// The inner raw lock.
    pub fn inner(&self) -> &R {
        &self.inner
    }
}

impl<R: std::fmt::Debug> std::fmt::Debug for RawRwLock<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRwLock")
            .field("meta", &self.meta)
            .field("inner", &self.inner)
            .finish()
    }
}

// SAFETY: every method delegates to the inner raw rwlock, which upholds the
// trait's contract; recording only adds bookkeeping around those calls.
unsafe impl<R: lock_api::RawRwLock> lock_api::RawRwLock for RawRwLock<R> {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = RawRwLock {
        meta: ObjectMeta::unclassed(ObjectKind::RwLock),
        inner: R::INIT,
    };
    type GuardMarker = R::GuardMarker;

    #[track_caller]
    fn lock_shared(&self) {
        let site = recorder::site(Location::caller());
        blocking(
            &self.meta,
            Mode::Read,
            site,
            || self.inner.try_lock_shared(),
            || self.inner.lock_shared(),
        );
    }

    #[track_caller]
    fn try_lock_shared(&self) -> bool {
        let site = recorder::site(Location::caller());
        attempt(&self.meta, Mode::Read, site, Attempt::Try, || {
            self.inner.try_lock_shared()
        })
    }

    unsafe fn unlock_shared(&self) {
        released(&self.meta, Mode::Read);
        // SAFETY: the trait's caller guarantees a shared hold.
        unsafe { self.inner.unlock_shared() };
    }

    #[track_caller]
    fn lock_exclusive(&self) {
        let site = recorder::site(Location::caller());
        blocking(
            &self.meta,
            Mode::Write,
            site,
            || self.inner.try_lock_exclusive(),
            || self.inner.lock_exclusive(),
        );
    }

    #[track_caller]
    fn try_lock_exclusive(&self) -> bool {
        let site = recorder::site(Location::caller());
        attempt(&self.meta, Mode::Write, site, Attempt::Try, || {
            self.inner.try_lock_exclusive()
        })
    }

    unsafe fn unlock_exclusive(&self) {
        released(&self.meta, Mode::Write);
        // SAFETY: the trait's caller guarantees an exclusive hold.
        unsafe { self.inner.unlock_exclusive() };
    }

    fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    fn is_locked_exclusive(&self) -> bool {
        self.inner.is_locked_exclusive()
    }
}

// SAFETY: delegates to the inner fair raw rwlock.
unsafe impl<R: lock_api::RawRwLockFair> lock_api::RawRwLockFair for RawRwLock<R> {
    unsafe fn unlock_shared_fair(&self) {
        released(&self.meta, Mode::Read);
        // SAFETY: the trait's caller guarantees a shared hold.
        unsafe { self.inner.unlock_shared_fair() };
    }

    unsafe fn unlock_exclusive_fair(&self) {
        released(&self.meta, Mode::Write);
        // SAFETY: the trait's caller guarantees an exclusive hold.
        unsafe { self.inner.unlock_exclusive_fair() };
    }

    unsafe fn bump_shared(&self) {
        // SAFETY: the trait's caller guarantees a shared hold.
        bumped(&self.meta, Mode::Read, || unsafe {
            self.inner.bump_shared()
        });
    }

    unsafe fn bump_exclusive(&self) {
        // SAFETY: the trait's caller guarantees an exclusive hold.
        bumped(&self.meta, Mode::Write, || unsafe {
            self.inner.bump_exclusive()
        });
    }
}

// SAFETY: delegates to the inner raw rwlock's downgrade.
unsafe impl<R: lock_api::RawRwLockDowngrade> lock_api::RawRwLockDowngrade for RawRwLock<R> {
    #[track_caller]
    unsafe fn downgrade(&self) {
        let site = recorder::site(Location::caller());
        // Recorded while still exclusive, so no writer can slip in between the two events.
        switch(&self.meta, Mode::Write, Mode::Read, site);
        // SAFETY: the trait's caller guarantees an exclusive hold.
        unsafe { self.inner.downgrade() };
    }
}

// SAFETY: delegates to the inner timed raw rwlock.
unsafe impl<R: lock_api::RawRwLockTimed> lock_api::RawRwLockTimed for RawRwLock<R> {
    type Duration = R::Duration;
    type Instant = R::Instant;

    #[track_caller]
    fn try_lock_shared_for(&self, timeout: Self::Duration) -> bool {
        let site = recorder::site(Location::caller());
        attempt(&self.meta, Mode::Read, site, Attempt::Timed, || {
            self.inner.try_lock_shared_for(timeout)
        })
    }

    #[track_caller]
    fn try_lock_shared_until(&self, timeout: Self::Instant) -> bool {
        let site = recorder::site(Location::caller());
        attempt(&self.meta, Mode::Read, site, Attempt::Timed, || {
            self.inner.try_lock_shared_until(timeout)
        })
    }

    #[track_caller]
    fn try_lock_exclusive_for(&self, timeout: Self::Duration) -> bool {
        let site = recorder::site(Location::caller());
        attempt(&self.meta, Mode::Write, site, Attempt::Timed, || {
            self.inner.try_lock_exclusive_for(timeout)
        })
    }

    #[track_caller]
    fn try_lock_exclusive_until(&self, timeout: Self::Instant) -> bool {
        let site = recorder::site(Location::caller());
        attempt(&self.meta, Mode::Write, site, Attempt::Timed, || {
            self.inner.try_lock_exclusive_until(timeout)
        })
    }
}

// SAFETY: delegates to the inner recursive raw rwlock.
unsafe impl<R: lock_api::RawRwLockRecursive> lock_api::RawRwLockRecursive for RawRwLock<R> {
    #[track_caller]
    fn lock_shared_recursive(&self) {
        let site = recorder::site(Location::caller());
        if holds(self.meta.id(), Mode::Read) {
            // A recursive read while this thread reads never waits (that is its
            // point), so it is no recursive-read hazard.
            let lock = self.meta.id();
            self.inner.lock_shared_recursive();
            acquired(&self.meta, lock, Mode::Read, Attempt::Try, site);
        } else {
            blocking(
                &self.meta,
                Mode::Read,
                site,
                || self.inner.try_lock_shared_recursive(),
                || self.inner.lock_shared_recursive(),
            );
        }
    }

    #[track_caller]
    fn try_lock_shared_recursive(&self) -> bool {
        let site = recorder::site(Location::caller());
        attempt(&self.meta, Mode::Read, site, Attempt::Try, || {
            self.inner.try_lock_shared_recursive()
        })
    }
}

// SAFETY: delegates to the inner upgradable raw rwlock.
unsafe impl<R: lock_api::RawRwLockUpgrade> lock_api::RawRwLockUpgrade for RawRwLock<R> {
    #[track_caller]
    fn lock_upgradable(&self) {
        let site = recorder::site(Location::caller());
        blocking(
            &self.meta,
            Mode::Upgradable,
            site,
            || self.inner.try_lock_upgradable(),
            || self.inner.lock_upgradable(),
        );
    }

    #[track_caller]
    fn try_lock_upgradable(&self) -> bool {
        let site = recorder::site(Location::caller());
        attempt(&self.meta, Mode::Upgradable, site, Attempt::Try, || {
            self.inner.try_lock_upgradable()
        })
    }

    unsafe fn unlock_upgradable(&self) {
        released(&self.meta, Mode::Upgradable);
        // SAFETY: the trait's caller guarantees an upgradable hold.
        unsafe { self.inner.unlock_upgradable() };
    }

    #[track_caller]
    unsafe fn upgrade(&self) {
        let site = recorder::site(Location::caller());
        // Modelled as giving up the upgradable hold and waiting for a write
        // hold: the wait is for the other readers to leave.
        released(&self.meta, Mode::Upgradable);
        let lock = self.meta.id();
        record_at(
            Op::Request {
                lock,
                mode: Mode::Write,
            },
            site,
        );
        // SAFETY: the trait's caller guarantees an upgradable hold.
        unsafe { self.inner.upgrade() };
        acquired(&self.meta, lock, Mode::Write, Attempt::Blocking, site);
    }

    #[track_caller]
    unsafe fn try_upgrade(&self) -> bool {
        let site = recorder::site(Location::caller());
        // SAFETY: the trait's caller guarantees an upgradable hold.
        let upgraded = unsafe { self.inner.try_upgrade() };
        self.upgrade_attempted(upgraded, Attempt::Try, site);
        upgraded
    }
}

impl<R: lock_api::RawRwLockUpgrade> RawRwLock<R> {
    /// Records the outcome of a non-blocking or timed upgrade.
    fn upgrade_attempted(&self, upgraded: bool, kind: Attempt, site: SiteId) {
        let lock = self.meta.id();
        if upgraded {
            // Exclusive now, so nobody else records on this lock in between.
            released(&self.meta, Mode::Upgradable);
            acquired(&self.meta, lock, Mode::Write, kind, site);
        } else {
            record_at(
                Op::TryFailed {
                    lock,
                    mode: Mode::Write,
                },
                site,
            );
        }
    }
}

// SAFETY: delegates to the inner fair upgradable raw rwlock.
unsafe impl<R: lock_api::RawRwLockUpgradeFair> lock_api::RawRwLockUpgradeFair for RawRwLock<R> {
    unsafe fn unlock_upgradable_fair(&self) {
        released(&self.meta, Mode::Upgradable);
        // SAFETY: the trait's caller guarantees an upgradable hold.
        unsafe { self.inner.unlock_upgradable_fair() };
    }

    unsafe fn bump_upgradable(&self) {
        // SAFETY: the trait's caller guarantees an upgradable hold.
        bumped(&self.meta, Mode::Upgradable, || unsafe {
            self.inner.bump_upgradable()
        });
    }
}

// SAFETY: delegates to the inner raw rwlock's downgrades.
unsafe impl<R: lock_api::RawRwLockUpgradeDowngrade> lock_api::RawRwLockUpgradeDowngrade
    for RawRwLock<R>
{
    #[track_caller]
    unsafe fn downgrade_upgradable(&self) {
        let site = recorder::site(Location::caller());
        switch(&self.meta, Mode::Upgradable, Mode::Read, site);
        // SAFETY: the trait's caller guarantees an upgradable hold.
        unsafe { self.inner.downgrade_upgradable() };
    }

    #[track_caller]
    unsafe fn downgrade_to_upgradable(&self) {
        let site = recorder::site(Location::caller());
        switch(&self.meta, Mode::Write, Mode::Upgradable, site);
        // SAFETY: the trait's caller guarantees an exclusive hold.
        unsafe { self.inner.downgrade_to_upgradable() };
    }
}

// SAFETY: delegates to the inner timed upgradable raw rwlock.
unsafe impl<R: lock_api::RawRwLockUpgradeTimed> lock_api::RawRwLockUpgradeTimed for RawRwLock<R> {
    #[track_caller]
    fn try_lock_upgradable_for(&self, timeout: Self::Duration) -> bool {
        let site = recorder::site(Location::caller());
        attempt(&self.meta, Mode::Upgradable, site, Attempt::Timed, || {
            self.inner.try_lock_upgradable_for(timeout)
        })
    }

    #[track_caller]
    fn try_lock_upgradable_until(&self, timeout: Self::Instant) -> bool {
        let site = recorder::site(Location::caller());
        attempt(&self.meta, Mode::Upgradable, site, Attempt::Timed, || {
            self.inner.try_lock_upgradable_until(timeout)
        })
    }

    #[track_caller]
    unsafe fn try_upgrade_for(&self, timeout: Self::Duration) -> bool {
        let site = recorder::site(Location::caller());
        // SAFETY: the trait's caller guarantees an upgradable hold.
        let upgraded = unsafe { self.inner.try_upgrade_for(timeout) };
        self.upgrade_attempted(upgraded, Attempt::Timed, site);
        upgraded
    }

    #[track_caller]
    unsafe fn try_upgrade_until(&self, timeout: Self::Instant) -> bool {
        let site = recorder::site(Location::caller());
        // SAFETY: the trait's caller guarantees an upgradable hold.
        let upgraded = unsafe { self.inner.try_upgrade_until(timeout) };
        self.upgrade_attempted(upgraded, Attempt::Timed, site);
        upgraded
    }
}

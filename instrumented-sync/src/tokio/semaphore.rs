//! [`Semaphore`]: `tokio::sync::Semaphore` that records its permits per task.

use std::fmt;
use std::panic::Location;

use sync_trace::{Mode, ObjectKind};

use super::{AcquireError, Hold, TryAcquireError, acquire_or_fail, try_acquire};
use crate::recorder::{self, ObjectMeta};

/// An async counting semaphore: `tokio::sync::Semaphore` plus recording.
///
/// A permit is recorded as a shared (`Read`) hold of the semaphore from its
/// acquisition to its drop (or `forget`). Shared holds never conflict, so the
/// analyzer derives no deadlock from a semaphore (the permit count is not
/// modelled); the events show who held permits while taking which locks.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use instrumented_sync::tokio::Semaphore;
///
/// let slots = Semaphore::new(2).named("slots");
/// let a = slots.acquire().await.unwrap();
/// let b = slots.try_acquire().unwrap();
/// assert!(slots.try_acquire().is_err());
/// drop((a, b));
/// assert_eq!(slots.available_permits(), 2);
/// # });
/// ```
pub struct Semaphore {
    meta: ObjectMeta,
    inner: tokio::sync::Semaphore,
}

/// Permits from a [`Semaphore`]; returned (and the release recorded) on drop.
#[must_use]
pub struct SemaphorePermit<'a> {
    hold: Hold,
    meta: &'a ObjectMeta,
    inner: Option<tokio::sync::SemaphorePermit<'a>>,
}

impl Semaphore {
    /// The most permits a semaphore can hold.
    pub const MAX_PERMITS: usize = tokio::sync::Semaphore::MAX_PERMITS;

    /// A semaphore with `permits` permits; its class is the caller's location.
    #[track_caller]
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            meta: ObjectMeta::new(ObjectKind::Semaphore),
            inner: tokio::sync::Semaphore::new(permits),
        }
    }

    /// A semaphore in a `const` context.
    #[track_caller]
    pub const fn const_new(permits: usize) -> Semaphore {
        Semaphore {
            meta: ObjectMeta::new(ObjectKind::Semaphore),
            inner: tokio::sync::Semaphore::const_new(permits),
        }
    }

    /// Gives the semaphore a name for reports.
    pub fn named(self, name: &'static str) -> Semaphore {
        self.meta.set_name(name);
        self
    }

    /// Permits available now.
    pub fn available_permits(&self) -> usize {
        self.inner.available_permits()
    }

    /// Adds `n` permits.
    pub fn add_permits(&self, n: usize) {
        self.inner.add_permits(n);
    }

    /// Closes the semaphore: pending and later acquisitions fail.
    pub fn close(&self) {
        self.inner.close();
    }

    /// Whether the semaphore is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Waits for one permit. Records `Request` then `Acquire`, or `TryFailed` if closed.
    #[track_caller]
    pub fn acquire(&self) -> impl Future<Output = Result<SemaphorePermit<'_>, AcquireError>> + '_ {
        let site = recorder::site(Location::caller());
        async move {
            let (inner, hold) =
                acquire_or_fail(&self.meta, Mode::Read, site, self.inner.acquire()).await?;
            Ok(self.permit(inner, hold))
        }
    }

    /// Waits for `n` permits.
    #[track_caller]
    pub fn acquire_many(
        &self,
        n: u32,
    ) -> impl Future<Output = Result<SemaphorePermit<'_>, AcquireError>> + '_ {
        let site = recorder::site(Location::caller());
        async move {
            let (inner, hold) =
                acquire_or_fail(&self.meta, Mode::Read, site, self.inner.acquire_many(n)).await?;
            Ok(self.permit(inner, hold))
        }
    }

    /// Takes one permit if available.
    ///
    /// # Errors
    /// [`TryAcquireError`] when none is available or the semaphore is closed.
    #[track_caller]
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        let site = recorder::site(Location::caller());
        let (inner, hold) = try_acquire(&self.meta, Mode::Read, site, self.inner.try_acquire())?;
        Ok(self.permit(inner, hold))
    }

    /// Takes `n` permits if available.
    ///
    /// # Errors
    /// [`TryAcquireError`] when they are not available or the semaphore is closed.
    #[track_caller]
    pub fn try_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        let site = recorder::site(Location::caller());
        let (inner, hold) =
            try_acquire(&self.meta, Mode::Read, site, self.inner.try_acquire_many(n))?;
        Ok(self.permit(inner, hold))
    }

    fn permit<'a>(
        &'a self,
        inner: tokio::sync::SemaphorePermit<'a>,
        hold: Hold,
    ) -> SemaphorePermit<'a> {
        SemaphorePermit {
            hold,
            meta: &self.meta,
            inner: Some(inner),
        }
    }
}

impl SemaphorePermit<'_> {
    /// Keeps the permits out of the semaphore for good (recorded as a release:
    /// this holder is done with them).
    pub fn forget(mut self) {
        if let Some(inner) = self.inner.take() {
            inner.forget();
        }
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.inner.as_ref().map_or(0, |p| p.num_permits())
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.hold.release(self.meta);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.num_permits())
            .finish()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl crate::sealed::Sealed for Semaphore {}

impl crate::Nameable for Semaphore {
    fn set_name(&self, name: &'static str) {
        self.meta.set_name(name);
    }
}

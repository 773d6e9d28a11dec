//! [`Barrier`]: `std::sync::Barrier` with recorded generations.

use std::fmt;
use std::panic::Location;
use std::sync::{self as std_sync, PoisonError};

use sync_trace::{ObjectKind, Op};

use crate::recorder::{ObjectMeta, record};

/// Lets `n` threads wait for each other, like `std::sync::Barrier`.
///
/// Built from a std mutex and condvar (as std's is) so that each wait knows
/// which filling ("generation") of the barrier it belongs to: it records
/// `BarrierArrive` and `BarrierDepart` with that generation.
///
/// ```
/// use std::sync::Arc;
/// use instrumented_sync::{Barrier, thread};
///
/// let barrier = Arc::new(Barrier::new(3));
/// let handles: Vec<_> = (0..3)
///     .map(|_| {
///         let b = Arc::clone(&barrier);
///         thread::spawn(move || b.wait().is_leader())
///     })
///     .collect();
/// let leaders = handles.into_iter().map(|h| h.join().unwrap()).filter(|&l| l).count();
/// assert_eq!(leaders, 1);
/// ```
pub struct Barrier {
    pub(crate) meta: ObjectMeta,
    state: std_sync::Mutex<BarrierState>,
    all_arrived: std_sync::Condvar,
    n: usize,
}

struct BarrierState {
    arrived: usize,
    generation: u64,
}

/// Returned by [`Barrier::wait`]: whether this thread was the leader (the last to arrive).
///
/// ```
/// let barrier = instrumented_sync::Barrier::new(1);
/// let result = barrier.wait();
/// assert!(result.is_leader());
/// assert_eq!(format!("{result:?}"), "BarrierWaitResult { is_leader: true }");
/// ```
pub struct BarrierWaitResult {
    is_leader: bool,
}

impl BarrierWaitResult {
    /// Whether this thread was the one that released the others.
    pub fn is_leader(&self) -> bool {
        self.is_leader
    }
}

impl fmt::Debug for BarrierWaitResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWaitResult")
            .field("is_leader", &self.is_leader)
            .finish()
    }
}

impl Barrier {
    /// A barrier for `n` threads; its class is the caller's location.
    #[track_caller]
    pub const fn new(n: usize) -> Barrier {
        Barrier {
            meta: ObjectMeta::new(ObjectKind::Barrier),
            state: std_sync::Mutex::new(BarrierState {
                arrived: 0,
                generation: 0,
            }),
            all_arrived: std_sync::Condvar::new(),
            n,
        }
    }

    /// Gives the barrier a name for reports.
    pub fn named(self, name: &'static str) -> Barrier {
        self.meta.set_name(name);
        self
    }

    /// Blocks until `n` threads have called `wait` in this generation.
    #[track_caller]
    pub fn wait(&self) -> BarrierWaitResult {
        let site = Location::caller();
        let barrier = self.meta.id();
        // The internal mutex protects only counters and is never held across
        // user code, so a panic cannot leave it inconsistent: ignore poisoning.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let generation = state.generation;
        record(
            Op::BarrierArrive {
                barrier,
                generation,
            },
            site,
        );
        state.arrived += 1;
        let is_leader = state.arrived >= self.n;
        if is_leader {
            state.arrived = 0;
            state.generation += 1;
            // Tells the detector the waiters are released before they run.
            self.meta.advance();
            self.all_arrived.notify_all();
        } else {
            // Registered with the deadlock detector; waits in slices so a verdict reaches it.
            let wait = crate::waitfor::block_on(
                crate::waitfor::Resource {
                    kind: ObjectKind::Barrier,
                    label: self.meta.label(),
                    // Read under the state lock, before the last arrival can advance it.
                    wakers: crate::waitfor::Wakers::progress(self.meta.progress()),
                    wakeable: true,
                },
                crate::recorder::site(site),
            );
            while state.generation == generation {
                state = self
                    .all_arrived
                    .wait_timeout(state, crate::waitfor::SLICE)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                if state.generation == generation {
                    wait.check();
                }
            }
        }
        drop(state);
        record(
            Op::BarrierDepart {
                barrier,
                generation,
            },
            site,
        );
        BarrierWaitResult { is_leader }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("n", &self.n)
            .finish_non_exhaustive()
    }
}

impl crate::sealed::Sealed for Barrier {}

impl crate::Nameable for Barrier {
    fn set_name(&self, name: &'static str) {
        self.meta.set_name(name);
    }
}

//! Events: what one thread did to one synchronisation object, and where.

use serde::{Deserialize, Serialize};

/// A thread of the recorded process, numbered from 0 in order of first use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ThreadId(pub u32);

/// A synchronisation object or shared variable instance (lock, condvar, cell, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectId(pub u64);

/// A source location, described once by a [`crate::Site`] record. `SiteId(0)` means unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SiteId(pub u32);

impl SiteId {
    /// The site of an event whose location was not recorded.
    pub const UNKNOWN: SiteId = SiteId(0);
}

/// How a lock is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Mode {
    /// Exclusive: a mutex, or an `RwLock` write.
    Write,
    /// Shared: an `RwLock` read.
    Read,
    /// parking_lot-style upgradable read: shared with readers, exclusive with other upgradables.
    Upgradable,
}

/// How an acquisition was attempted; only `Blocking` can wait forever.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Attempt {
    /// `lock`, `read`, `write`: waits as long as it takes.
    Blocking,
    /// `try_lock` and friends: never waits.
    Try,
    /// `try_lock_for` and friends: waits at most a deadline.
    Timed,
}

/// The memory ordering of an atomic access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum MemoryOrder {
    /// No synchronisation.
    Relaxed,
    /// Acquire (loads) — synchronises with a Release store it reads from.
    Acquire,
    /// Release (stores).
    Release,
    /// Both, for read-modify-write operations.
    AcqRel,
    /// Sequentially consistent.
    SeqCst,
}

/// What happened. `seq` fields are per-object sequence numbers, taken while the
/// object is held: they order the critical sections of one lock (and the
/// notifications of one condvar) without any process-wide counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Op {
    /// The thread is about to wait for `lock` in `mode` (a blocking or timed acquisition).
    Request {
        /// The lock requested.
        lock: ObjectId,
        /// The mode requested.
        mode: Mode,
    },
    /// The thread now holds `lock`.
    Acquire {
        /// The lock taken.
        lock: ObjectId,
        /// How it is held.
        mode: Mode,
        /// How it was attempted.
        attempt: Attempt,
        /// The lock's own sequence number for this event.
        seq: u64,
    },
    /// A `try_*` (or timed) acquisition that did not take the lock.
    TryFailed {
        /// The lock.
        lock: ObjectId,
        /// The mode asked for.
        mode: Mode,
    },
    /// The thread released `lock`.
    Release {
        /// The lock released.
        lock: ObjectId,
        /// The mode it was held in.
        mode: Mode,
        /// The lock's own sequence number for this event.
        seq: u64,
    },
    /// Starts waiting on `condvar`; the release of `lock` follows as its own event.
    CondWait {
        /// The condition variable.
        condvar: ObjectId,
        /// The mutex released while waiting.
        lock: ObjectId,
        /// Whether the wait has a timeout (and so cannot wait forever).
        timed: bool,
    },
    /// Woke from a condvar wait; the re-acquisition of the mutex follows as its own event.
    CondWake {
        /// The condition variable.
        condvar: ObjectId,
        /// How many notifications the condvar had sent when this thread woke.
        notified_seen: u64,
        /// Whether the wait ended by timeout.
        timed_out: bool,
    },
    /// `notify_one` or `notify_all`.
    Notify {
        /// The condition variable.
        condvar: ObjectId,
        /// `notify_all`?
        all: bool,
        /// The condvar's sequence number of this notification (1-based).
        seq: u64,
    },
    /// Arrived at a barrier for generation `generation`.
    BarrierArrive {
        /// The barrier.
        barrier: ObjectId,
        /// Which filling of the barrier.
        generation: u64,
    },
    /// Left a barrier: every arrival of `generation` happened before this.
    BarrierDepart {
        /// The barrier.
        barrier: ObjectId,
        /// Which filling of the barrier.
        generation: u64,
    },
    /// Sent a message (or added a permit) on a channel-like object.
    Send {
        /// The channel.
        channel: ObjectId,
        /// Message number on that channel.
        seq: u64,
    },
    /// Received message `seq`: its send happened before this.
    Recv {
        /// The channel.
        channel: ObjectId,
        /// Message number on that channel.
        seq: u64,
    },
    /// Spawned `child`.
    Fork {
        /// The new thread.
        child: ThreadId,
    },
    /// Joined `child`, which has ended.
    Join {
        /// The joined thread.
        child: ThreadId,
    },
    /// First event of a thread.
    Begin,
    /// Last event of a thread.
    End,
    /// Read or wrote a shared variable.
    Access {
        /// The variable.
        var: ObjectId,
        /// A write (or read-modify-write)?
        write: bool,
        /// `Some` for atomic accesses.
        order: Option<MemoryOrder>,
        /// For atomics: the version of the value read or written (reads-from).
        version: u64,
    },
}

/// One event of one thread: an operation and the source site that did it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Event {
    /// What happened.
    pub op: Op,
    /// Where in the source.
    pub site: SiteId,
}

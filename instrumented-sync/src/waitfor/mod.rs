//! Live deadlock detection: a wait-for graph over every blocking primitive.
//!
//! Nothing here runs on an uncontended fast path. A lock records its exclusive
//! holder with one relaxed store into its own [`HolderWord`], and a read hold
//! of a reader-writer lock is one relaxed store into the reading thread's own
//! table ([`readers`]); everything else happens once a thread is about to block:
//!
//! 1. [`block_on`] registers what the thread waits for (and who could wake it)
//!    in a process-wide registry and walks the wait-for graph from it. A cycle
//!    through single-owner resources (a lock's holder, a joined thread, an
//!    initialising `OnceLock`, semaphore permit holders) is reported at once by
//!    the thread that closes it, before it blocks.
//! 2. Waits without a single owner (condvar, barrier, channels) are watched by
//!    a lazily started [`watchdog`] thread that reports when every live
//!    instrumented thread has been blocked for a whole interval, or when a
//!    closed group of threads can never be woken.
//!
//! Internal API for other primitives (parking_lot, tokio, spin locks):
//! call [`block_on`] with a [`Resource`] just before blocking, keep the
//! returned [`WaitGuard`] for the whole wait (never leak it: the registry
//! reads the resource's owners through it), and, if the wait can be woken,
//! wait in bounded slices ([`SLICE`]) calling [`WaitGuard::check`] between
//! them. Locks set and clear their [`HolderWord`] on exclusive acquire/release.
//!
//! The registry and the watchdog use std primitives only, never this crate's.

mod graph;
mod outsiders;
mod readers;
mod report;
mod watchdog;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, MutexGuard as StdMutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

pub use report::{BlockedThread, DeadlockReport, Detection, HeldLock, WakersAre};
use sync_trace::{Mode, ObjectKind, SiteId, ThreadId};

use crate::recorder;

/// How long a wakeable wait blocks before it checks for a verdict.
pub(crate) const SLICE: Duration = Duration::from_millis(10);

/// Environment variable: the action on a detected deadlock (`panic`, `abort`, `report`).
pub const ON_DEADLOCK_VAR: &str = "INSTRUMENTED_SYNC_ON_DEADLOCK";

/// What to do when a deadlock is detected.
#[derive(Clone)]
pub enum DeadlockAction {
    /// A thread of the deadlock panics with the report (the default).
    Panic,
    /// Write the report to stderr (and the trace), then abort the process.
    Abort,
    /// Write the report to stderr (and the trace) and keep waiting.
    Report,
    /// Call this with the report (and keep waiting). Runs on the thread that
    /// detected the deadlock: the one closing a cycle, or the watchdog.
    Callback(Arc<dyn Fn(&DeadlockReport) + Send + Sync>),
}

impl std::fmt::Debug for DeadlockAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeadlockAction::Panic => "Panic",
            DeadlockAction::Abort => "Abort",
            DeadlockAction::Report => "Report",
            DeadlockAction::Callback(_) => "Callback",
        })
    }
}

static ACTION: StdMutex<Option<DeadlockAction>> = StdMutex::new(None);

/// Sets the action taken on a detected deadlock, overriding `INSTRUMENTED_SYNC_ON_DEADLOCK`.
///
/// ```
/// use instrumented_sync::{DeadlockAction, set_deadlock_action};
/// set_deadlock_action(DeadlockAction::Report);
/// set_deadlock_action(DeadlockAction::Panic);
/// ```
pub fn set_deadlock_action(action: DeadlockAction) {
    *ACTION.lock().unwrap_or_else(PoisonError::into_inner) = Some(action);
}

/// The action in force: the one set by API, else the environment's, else `Panic`.
/// An unknown environment value is reported once on stderr and ignored.
pub fn deadlock_action() -> DeadlockAction {
    if let Some(a) = ACTION
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
    {
        return a;
    }
    static FROM_ENV: OnceLock<DeadlockAction> = OnceLock::new();
    FROM_ENV
        .get_or_init(|| match std::env::var(ON_DEADLOCK_VAR).as_deref() {
            Ok("abort") => DeadlockAction::Abort,
            Ok("report") => DeadlockAction::Report,
            Ok("panic") | Err(_) => DeadlockAction::Panic,
            Ok(other) => {
                eprintln!(
                    "instrumented_sync: {ON_DEADLOCK_VAR}={other:?} is not panic, abort or report; using panic"
                );
                DeadlockAction::Panic
            }
        })
        .clone()
}

/// Who holds a resource, read by the detector while a waiter is registered.
pub(crate) trait Owners: Sync {
    /// Appends the holders (thread id, acquisition site); `false` when they cannot be known now.
    fn owners(&self, out: &mut Vec<(u32, SiteId)>) -> bool;
}

/// A lock's exclusive holder: thread id + 1 in the low half, acquisition site
/// in the high half, 0 when free. Written only by the holder, with plain
/// relaxed stores; read by the detector under the registry lock (a waiter's
/// registration orders it after the holder's store).
#[derive(Debug, Default)]
pub(crate) struct HolderWord(AtomicU64);

impl HolderWord {
    /// A free lock.
    pub(crate) const fn new() -> HolderWord {
        HolderWord(AtomicU64::new(0))
    }

    /// The calling thread, `thread`, took the lock exclusively at `site`.
    #[inline]
    pub(crate) fn set(&self, thread: ThreadId, site: SiteId) {
        self.0.store(
            (u64::from(site.0) << 32) | (u64::from(thread.0) + 1),
            Ordering::Relaxed,
        );
    }

    /// The exclusive holder released the lock.
    #[inline]
    pub(crate) fn clear(&self) {
        self.0.store(0, Ordering::Relaxed);
    }

    fn get(&self) -> Option<(u32, SiteId)> {
        let w = self.0.load(Ordering::Relaxed);
        let low = u32::try_from(w & 0xffff_ffff).unwrap_or(0);
        let high = u32::try_from(w >> 32).unwrap_or(0);
        (w != 0).then(|| (low - 1, SiteId(high)))
    }
}

impl Owners for HolderWord {
    fn owners(&self, out: &mut Vec<(u32, SiteId)>) -> bool {
        match self.get() {
            Some(h) => {
                out.push(h);
                true
            }
            None => false,
        }
    }
}

/// Who could end a wait.
pub(crate) enum Wakers<'a> {
    /// The holders the resource reports (a lock's holder, semaphore permit holders).
    Owners(&'a (dyn Owners + 'static)),
    /// The exclusive holder of a lock only ever held exclusively (a mutex):
    /// no recorded holder means the lock is free or changing hands (a holder
    /// between two condvar wait slices, a new holder about to record itself),
    /// so the waiter is about to run.
    ExclusiveHolder(&'a HolderWord),
    /// A reader-writer lock: its exclusive holder when there is one; else,
    /// for a writer, every thread holding it for reading; for a reader, every
    /// writer queued ahead of it (std's and parking_lot's locks let no new
    /// reader in while a writer waits). Neither means the lock is free.
    RwLock {
        /// The lock's exclusive holder.
        holder: &'a HolderWord,
        /// The lock's identity in the threads' read-hold tables.
        key: usize,
        /// Whether the waiter wants to write.
        write: bool,
    },
    /// One thread (a joined thread, a `OnceLock`'s initialiser).
    Thread(ThreadId),
    /// Possibly any thread (condvar, barrier, channel).
    Unknown,
    /// Possibly any thread, and the wait is over once `counter` (bumped by
    /// whatever could end it: a notify, a barrier's last arrival, a send)
    /// differs from `seen`. Until the waiter runs again it counts as running,
    /// so a thread that has been woken but not yet scheduled is never taken
    /// for a blocked one.
    Progress {
        /// The resource's progress counter.
        counter: &'a AtomicU64,
        /// Its value when the waiter last found it had to wait.
        seen: u64,
    },
    /// Possibly any thread, and the resource counts wakeups sent but not yet
    /// taken (a condvar's notifications): that many of its waiters, the
    /// earliest registered, count as running.
    Tokens(&'a (dyn PendingWakes + 'static)),
}

impl<'a> Wakers<'a> {
    /// [`Wakers::Progress`] on `counter`, seen at its current value. Call with
    /// the lock that guards the wait's condition held, after finding the wait
    /// must happen.
    pub(crate) fn progress(counter: &'a AtomicU64) -> Wakers<'a> {
        Wakers::Progress {
            counter,
            seen: counter.load(Ordering::SeqCst),
        }
    }
}

/// A resource that hands out wakeups to its waiters (a condvar).
pub(crate) trait PendingWakes: Sync {
    /// How many wakeups were sent and not yet taken by a waiter.
    fn pending(&self) -> usize;
}

/// What a thread is about to wait for.
pub(crate) struct Resource<'a> {
    /// The kind of object.
    pub(crate) kind: ObjectKind,
    /// Its name for reports.
    pub(crate) label: String,
    /// Who could wake the waiter.
    pub(crate) wakers: Wakers<'a>,
    /// Whether the waiter waits in slices calling [`WaitGuard::check`] (so a verdict reaches it).
    pub(crate) wakeable: bool,
}

/// A raw pointer to a registered waiter's resource.
struct OwnersPtr(*const (dyn Owners + 'static));

// SAFETY: the pointee is `Sync` (a bound of `Owners`) and is only read
// through `&` while its waiter's `WaitGuard` is alive (see `snapshot`).
unsafe impl Send for OwnersPtr {}

/// A raw pointer to a registered waiter's progress counter.
struct CounterPtr(*const AtomicU64);

// SAFETY: `AtomicU64` is `Sync`; the pointee is only read while its waiter's
// `WaitGuard` is alive (see `snapshot`).
unsafe impl Send for CounterPtr {}

/// A raw pointer to a registered waiter's token count.
struct TokensPtr(*const (dyn PendingWakes + 'static));

// SAFETY: the pointee is `Sync` (a bound of `PendingWakes`) and is only read
// through `&` while its waiter's `WaitGuard` is alive (see `snapshot`).
unsafe impl Send for TokensPtr {}

/// A raw pointer to a registered waiter's lock holder word.
struct HolderPtr(*const HolderWord);

// SAFETY: `HolderWord` is `Sync`; the pointee is only read while its waiter's
// `WaitGuard` is alive (see `snapshot`).
unsafe impl Send for HolderPtr {}

enum RawWakers {
    /// The pointer, and whether no owner means the resource is free.
    Owners(OwnersPtr, bool),
    RwLock {
        holder: HolderPtr,
        key: usize,
        write: bool,
    },
    Thread(u32),
    Unknown,
    Progress(CounterPtr, u64),
    Tokens(TokensPtr),
}

impl RawWakers {
    /// Whether nobody in particular owns the wait (condvar, barrier, channel).
    fn is_ownerless(&self) -> bool {
        matches!(
            self,
            RawWakers::Unknown | RawWakers::Progress(..) | RawWakers::Tokens(_)
        )
    }
}

struct Entry {
    id: u64,
    kind: ObjectKind,
    label: String,
    site: SiteId,
    wakers: RawWakers,
    wakeable: bool,
    since: Instant,
    /// Already part of a report, so it is not reported again.
    reported: bool,
}

struct Slot {
    name: String,
    thread: Option<std::thread::Thread>,
    /// The thread's read holds (once it has registered itself).
    reads: Option<Arc<readers::ReadHolds>>,
    /// Its kernel thread id (once it has registered itself, where known).
    tid: Option<u32>,
    verdict: Arc<Verdict>,
    wait: Option<Entry>,
}

/// A report waiting for its thread to act on it.
#[derive(Default)]
struct Verdict {
    set: AtomicBool,
    report: StdMutex<Option<Arc<DeadlockReport>>>,
}

struct Registry {
    threads: BTreeMap<u32, Slot>,
    next_wait: u64,
}

static REGISTRY: StdMutex<Registry> = StdMutex::new(Registry {
    threads: BTreeMap::new(),
    next_wait: 1,
});

fn registry() -> StdMutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

fn display_name(id: u32, name: Option<&str>) -> String {
    // `T<id>`, as the analyzer names an unnamed thread of the trace.
    name.map_or_else(|| format!("T{id}"), str::to_owned)
}

/// The calling thread's registration; dropping it (at thread exit) unregisters.
struct Registration {
    id: u32,
    reads: Arc<readers::ReadHolds>,
}

impl Registration {
    fn new() -> Registration {
        let id = recorder::this_thread().0;
        let current = std::thread::current();
        let reads = Arc::new(readers::ReadHolds::default());
        let mut reg = registry();
        let slot = reg.threads.entry(id).or_insert_with(|| Slot {
            name: display_name(id, current.name()),
            thread: None,
            reads: None,
            tid: None,
            verdict: Arc::default(),
            wait: None,
        });
        slot.thread = Some(current);
        slot.tid = outsiders::current_tid();
        slot.reads = Some(Arc::clone(&reads));
        Registration { id, reads }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        ended(self.id);
    }
}

thread_local! {
    static REGISTERED: Registration = Registration::new();
}

/// The calling thread's id, registering it as live on first use.
fn me() -> Option<u32> {
    REGISTERED.try_with(|r| r.id).ok()
}

/// Marks the calling thread as live (it may wake others: notify, send, release).
pub(crate) fn touch() {
    let _ = me();
}

/// A thread being spawned through [`crate::thread`]: live from now on (before it
/// runs), so a parent that blocks at once is not taken for the last live thread.
pub(crate) fn forked(child: ThreadId, name: Option<&str>) {
    touch();
    registry().threads.entry(child.0).or_insert_with(|| Slot {
        name: display_name(child.0, name),
        thread: None,
        reads: None,
        tid: None,
        verdict: Arc::default(),
        wait: None,
    });
}

/// The calling spawned thread is ending (also when it panics).
pub(crate) fn thread_ended() {
    if let Ok(id) = REGISTERED.try_with(|r| r.id) {
        ended(id);
    }
}

fn ended(id: u32) {
    let mut reg = registry();
    if reg.threads.remove(&id).is_none() {
        return;
    }
    // Joiners wait in slices; wake them now.
    for slot in reg.threads.values() {
        if let Some(Entry {
            wakers: RawWakers::Thread(t),
            ..
        }) = &slot.wait
            && *t == id
            && let Some(th) = &slot.thread
        {
            th.unpark();
        }
    }
}

/// The identity of the lock described by `meta` in read-hold tables: its
/// address, stable while anyone holds or waits for it.
fn read_key(meta: &recorder::ObjectMeta) -> usize {
    std::ptr::from_ref(meta).addr()
}

/// The calling thread took the reader-writer lock `meta` for reading (or
/// upgradable reading) at `site`. A store into the thread's own table.
#[inline]
pub(crate) fn read_acquired(meta: &recorder::ObjectMeta, site: SiteId) {
    let _ = REGISTERED.try_with(|r| r.reads.enter(read_key(meta), site));
}

/// The calling thread released one read hold of `meta`.
#[inline]
pub(crate) fn read_released(meta: &recorder::ObjectMeta) {
    let _ = REGISTERED.try_with(|r| r.reads.exit(read_key(meta)));
}

/// Whether `thread` is registered and has not ended.
pub(crate) fn is_live(thread: ThreadId) -> bool {
    registry().threads.contains_key(&thread.0)
}

/// Keeps a wait registered; dropping it ends the wait. Must not be leaked.
#[must_use = "the wait ends when the guard is dropped"]
pub(crate) struct WaitGuard<'a> {
    thread: Option<u32>,
    id: u64,
    verdict: Option<Arc<Verdict>>,
    _resource: PhantomData<&'a ()>,
}

impl WaitGuard<'_> {
    /// Acts on a verdict the watchdog delivered to this thread, if any (by
    /// default: panics with the report). Call between wait slices.
    pub(crate) fn check(&self) {
        let Some(v) = &self.verdict else { return };
        if v.set.swap(false, Ordering::AcqRel) {
            let report = v
                .report
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(report) = report {
                act_here(&report);
            }
        }
    }

    /// Removes this wait from the registry (the guard's drop then does nothing).
    fn leave(&self) {
        let Some(t) = self.thread else { return };
        let mut reg = registry();
        if let Some(slot) = reg.threads.get_mut(&t)
            && slot.wait.as_ref().is_some_and(|e| e.id == self.id)
        {
            slot.wait = None;
        }
    }
}

impl WaitGuard<'_> {
    /// Ends the wait if `woken` (run under the registry lock) says so, so the
    /// detector never sees the thread between taking its wakeup and leaving
    /// the wait, when it would look blocked with nothing left to wake it.
    pub(crate) fn end_if(&mut self, woken: impl FnOnce() -> bool) -> bool {
        let Some(t) = self.thread else {
            return woken();
        };
        let mut reg = registry();
        if !woken() {
            return false;
        }
        if let Some(slot) = reg.threads.get_mut(&t)
            && slot.wait.as_ref().is_some_and(|e| e.id == self.id)
        {
            slot.wait = None;
        }
        self.thread = None;
        true
    }

    /// For a [`Wakers::Progress`] wait that goes on after a wakeup: the
    /// counter's current value becomes the one to wait past. Call only after
    /// finding the wait must go on, with the lock that guards the condition
    /// (and the counter's moves) held.
    pub(crate) fn rearm(&self) {
        let Some(t) = self.thread else { return };
        let mut reg = registry();
        if let Some(Slot {
            wait:
                Some(Entry {
                    id,
                    wakers: RawWakers::Progress(counter, seen),
                    ..
                }),
            ..
        }) = reg.threads.get_mut(&t)
            && *id == self.id
        {
            // SAFETY: this guard's own resource, borrowed for the guard's lifetime.
            *seen = unsafe { &*counter.0 }.load(Ordering::SeqCst);
        }
    }
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        self.leave();
    }
}

/// Registers that the calling thread is about to wait for `resource` at
/// `site`, and reports a deadlock if this wait closes one (by default the
/// calling thread then panics, before blocking).
pub(crate) fn block_on(resource: Resource<'_>, site: SiteId) -> WaitGuard<'_> {
    let inert = WaitGuard {
        thread: None,
        id: 0,
        verdict: None,
        _resource: PhantomData,
    };
    let Some(me) = me() else { return inert };
    let mut reg = registry();
    let id = reg.next_wait;
    reg.next_wait += 1;
    let Some(slot) = reg.threads.get_mut(&me) else {
        return inert;
    };
    let wakers = match resource.wakers {
        Wakers::Owners(o) => RawWakers::Owners(OwnersPtr(std::ptr::from_ref(o)), false),
        Wakers::ExclusiveHolder(h) => {
            let o: &(dyn Owners + 'static) = h;
            RawWakers::Owners(OwnersPtr(std::ptr::from_ref(o)), true)
        }
        Wakers::RwLock { holder, key, write } => RawWakers::RwLock {
            holder: HolderPtr(std::ptr::from_ref(holder)),
            key,
            write,
        },
        Wakers::Thread(t) => RawWakers::Thread(t.0),
        Wakers::Unknown => RawWakers::Unknown,
        Wakers::Progress { counter, seen } => {
            RawWakers::Progress(CounterPtr(std::ptr::from_ref(counter)), seen)
        }
        Wakers::Tokens(t) => RawWakers::Tokens(TokensPtr(std::ptr::from_ref(t))),
    };
    let unknown = wakers.is_ownerless();
    slot.wait = Some(Entry {
        id,
        kind: resource.kind,
        label: resource.label,
        site,
        wakers,
        wakeable: resource.wakeable,
        since: Instant::now(),
        reported: false,
    });
    let guard = WaitGuard {
        thread: Some(me),
        id,
        verdict: Some(Arc::clone(&slot.verdict)),
        _resource: PhantomData,
    };
    let found = if unknown {
        None
    } else {
        let snap = snapshot(&reg);
        let members = graph::never_waking(&snap.nodes);
        members.contains(&me).then(|| {
            let group = reachable(&snap.nodes, &members, me);
            mark_reported(&mut reg, &group);
            build(&reg, &snap, Detection::Cycle, &group, me)
        })
    };
    drop(reg);
    watchdog::ensure_started();
    if let Some(draft) = found {
        let report = Arc::new(draft.finish());
        publish(&report);
        act_here(&report);
    }
    guard
}

/// The graph as the detector sees it, with each waiter's holders.
struct Snapshot {
    nodes: BTreeMap<u32, graph::Node>,
    holders: BTreeMap<u32, Vec<(u32, SiteId)>>,
}

/// Reads every registered wait. Called with the registry locked.
fn snapshot(reg: &Registry) -> Snapshot {
    let mut nodes = BTreeMap::new();
    let mut holders = BTreeMap::new();
    let woken = woken_by_tokens(reg);
    for (&t, slot) in &reg.threads {
        let node = match &slot.wait {
            None => graph::Node::Running,
            Some(_) if woken.contains(&t) => graph::Node::Running,
            Some(e) => match &e.wakers {
                RawWakers::Unknown | RawWakers::Tokens(_) => {
                    graph::Node::Blocked(graph::Wakers::Unknown)
                }
                RawWakers::Progress(counter, seen) => {
                    // SAFETY: as for `Owners` below: the counter belongs to the
                    // resource borrowed by this entry's live `WaitGuard`, which
                    // removes the entry under the registry lock (held here)
                    // before the borrow ends. Exercised by every condvar,
                    // barrier and channel wait test (tests/waitfor_*.rs).
                    if unsafe { &*counter.0 }.load(Ordering::SeqCst) == *seen {
                        graph::Node::Blocked(graph::Wakers::Unknown)
                    } else {
                        // Woken, not yet running again.
                        graph::Node::Running
                    }
                }
                RawWakers::Thread(x) if reg.threads.contains_key(x) => {
                    graph::Node::Blocked(graph::Wakers::Known(vec![*x]))
                }
                // The joined thread ended: the join is about to return.
                RawWakers::Thread(_) => graph::Node::Running,
                RawWakers::RwLock { holder, key, write } => {
                    // SAFETY: as for `Owners` below: the holder word belongs to
                    // the lock borrowed by this entry's live `WaitGuard`.
                    // Exercised by every test of tests/waitfor_rwlock.rs.
                    let holder = unsafe { &*holder.0 };
                    rwlock_wakers(reg, t, holder, *key, *write, &mut holders)
                }
                RawWakers::Owners(p, unowned_is_free) => {
                    let mut out = Vec::new();
                    // SAFETY: `p` was made from a `&'a dyn Owners` passed to
                    // `block_on`, whose `WaitGuard<'a>` removes this entry (under
                    // the registry lock, which we hold) before `'a` can end; so the
                    // pointee is alive. Exercised by every lock-cycle test
                    // (tests/waitfor_locks.rs).
                    let known = unsafe { &*p.0 }.owners(&mut out);
                    if known && !out.is_empty() {
                        let ids = out.iter().map(|&(h, _)| h).collect();
                        holders.insert(t, out);
                        graph::Node::Blocked(graph::Wakers::Known(ids))
                    } else if known || *unowned_is_free {
                        // No holder: the resource is free and the wait about to end.
                        graph::Node::Running
                    } else {
                        graph::Node::Blocked(graph::Wakers::Unknown)
                    }
                }
            },
        };
        nodes.insert(t, node);
    }
    Snapshot { nodes, holders }
}

/// Who can end `waiter`'s wait for a reader-writer lock (see [`Wakers::RwLock`]).
fn rwlock_wakers(
    reg: &Registry,
    waiter: u32,
    holder: &HolderWord,
    key: usize,
    write: bool,
    holders: &mut BTreeMap<u32, Vec<(u32, SiteId)>>,
) -> graph::Node {
    if let Some(h) = holder.get() {
        holders.insert(waiter, vec![h]);
        return graph::Node::Blocked(graph::Wakers::Known(vec![h.0]));
    }
    if write {
        let mut readers = Vec::new();
        let mut incomplete = false;
        for (&t, slot) in &reg.threads {
            let Some(reads) = &slot.reads else { continue };
            match reads.holds(key) {
                Some(site) => readers.push((t, site)),
                None => incomplete |= reads.incomplete(),
            }
        }
        if readers.is_empty() {
            // No reader named: free and about to be taken, unless a thread
            // with more read holds than its table names holds it.
            return if incomplete {
                graph::Node::Blocked(graph::Wakers::Unknown)
            } else {
                graph::Node::Running
            };
        }
        // Every listed reader must leave; one that never does is enough.
        let ids = readers.iter().map(|&(t, _)| t).collect();
        holders.insert(waiter, readers);
        return graph::Node::Blocked(graph::Wakers::All(ids));
    }
    let queued: Vec<u32> = reg
        .threads
        .iter()
        .filter(|&(&t, slot)| {
            t != waiter
                && matches!(
                    &slot.wait,
                    Some(Entry { wakers: RawWakers::RwLock { key: k, write: true, .. }, .. }) if *k == key
                )
        })
        .map(|(&t, _)| t)
        .collect();
    if queued.is_empty() {
        // No writer holds it or waits for it: the reader is about to get in.
        graph::Node::Running
    } else {
        graph::Node::Blocked(graph::Wakers::All(queued))
    }
}

/// The waiters that a resource's untaken wakeups will release: per resource,
/// as many as it has pending, earliest registered first (which waiter the OS
/// picks does not matter to the verdicts: only how many can run).
fn woken_by_tokens(reg: &Registry) -> BTreeSet<u32> {
    let mut by_resource: BTreeMap<usize, Vec<(u64, u32, &TokensPtr)>> = BTreeMap::new();
    for (&t, slot) in &reg.threads {
        if let Some(Entry {
            id,
            wakers: RawWakers::Tokens(p),
            ..
        }) = &slot.wait
        {
            let key = p.0.cast::<()>() as usize;
            by_resource.entry(key).or_default().push((*id, t, p));
        }
    }
    let mut woken = BTreeSet::new();
    for mut waiters in by_resource.into_values() {
        waiters.sort_unstable_by_key(|w| w.0);
        // SAFETY: as for `Owners` in `snapshot`: the pointee is the resource
        // borrowed by a live `WaitGuard`, which removes its entry under the
        // registry lock (held by our caller) before the borrow ends.
        // Exercised by every condvar test (tests/waitfor_waits.rs).
        let pending = unsafe { &*waiters[0].2.0 }.pending();
        woken.extend(waiters.iter().take(pending).map(|w| w.1));
    }
    woken
}

/// The members reachable from `start` through wakers.
fn reachable(
    nodes: &BTreeMap<u32, graph::Node>,
    members: &BTreeSet<u32>,
    start: u32,
) -> BTreeSet<u32> {
    let mut seen = BTreeSet::from([start]);
    let mut stack = vec![start];
    while let Some(x) = stack.pop() {
        if let Some(graph::Node::Blocked(w)) = nodes.get(&x) {
            for &y in w.named().unwrap_or_default() {
                if members.contains(&y) && seen.insert(y) {
                    stack.push(y);
                }
            }
        }
    }
    seen
}

fn mark_reported(reg: &mut Registry, group: &BTreeSet<u32>) {
    for t in group {
        if let Some(Slot { wait: Some(e), .. }) = reg.threads.get_mut(t) {
            e.reported = true;
        }
    }
}

/// A report before its sites are resolved (which takes the recorder's lock, so
/// it happens after the registry lock is released).
struct Draft {
    detection: Detection,
    threads: Vec<DraftThread>,
    cycle: Vec<String>,
    actor: String,
}

struct DraftThread {
    id: u32,
    name: String,
    kind: ObjectKind,
    label: String,
    site: SiteId,
    wakers: Option<Vec<String>>,
    wakers_are: WakersAre,
    holds: Vec<(String, SiteId)>,
}

fn build(
    reg: &Registry,
    snap: &Snapshot,
    detection: Detection,
    group: &BTreeSet<u32>,
    actor: u32,
) -> Draft {
    let name = |t: u32| {
        reg.threads
            .get(&t)
            .map_or_else(|| display_name(t, None), |s| s.name.clone())
    };
    let mut threads = Vec::new();
    for &t in group {
        let Some(Slot {
            wait: Some(e),
            name: n,
            ..
        }) = reg.threads.get(&t)
        else {
            continue;
        };
        let wakers = match &snap.nodes.get(&t) {
            Some(graph::Node::Blocked(w)) => {
                w.named().map(|w| w.iter().map(|&x| name(x)).collect())
            }
            _ => None,
        };
        let wakers_are = match (&e.wakers, snap.nodes.get(&t)) {
            (
                RawWakers::RwLock { write, .. },
                Some(graph::Node::Blocked(graph::Wakers::All(_))),
            ) => {
                if *write {
                    WakersAre::Readers
                } else {
                    WakersAre::QueuedWriters
                }
            }
            _ => WakersAre::AnyOf,
        };
        // The locks of the group this thread holds: those whose waiters name it as holder.
        let mut holds: Vec<(String, SiteId)> = Vec::new();
        for (&w, hs) in &snap.holders {
            if !group.contains(&w) {
                continue;
            }
            for &(h, site) in hs {
                if h == t
                    && let Some(Slot { wait: Some(we), .. }) = reg.threads.get(&w)
                    && we.kind != ObjectKind::Semaphore
                {
                    // A writer's wakers hold the lock for reading.
                    let label = match (&we.wakers, snap.nodes.get(&w)) {
                        (
                            RawWakers::RwLock { write: true, .. },
                            Some(graph::Node::Blocked(graph::Wakers::All(_))),
                        ) => format!("{} (read)", we.label),
                        _ => we.label.clone(),
                    };
                    if !holds.iter().any(|(l, _)| *l == label) {
                        holds.push((label, site));
                    }
                }
            }
        }
        holds.sort();
        threads.push(DraftThread {
            id: t,
            name: n.clone(),
            kind: e.kind,
            label: e.label.clone(),
            site: e.site,
            wakers,
            wakers_are,
            holds,
        });
    }
    let cycle = graph::cycle_from(&snap.nodes, group, actor)
        .into_iter()
        .map(name)
        .collect();
    Draft {
        detection,
        threads,
        cycle,
        actor: name(actor),
    }
}

impl Draft {
    fn finish(self) -> DeadlockReport {
        let site = |s: SiteId| recorder::describe_site(s).unwrap_or_else(|| "unknown".to_owned());
        DeadlockReport {
            detection: self.detection,
            threads: self
                .threads
                .into_iter()
                .map(|t| BlockedThread {
                    id: t.id,
                    name: t.name,
                    waits_for: t.label,
                    resource_kind: kind_name(t.kind).to_owned(),
                    site: site(t.site),
                    wakers: t.wakers,
                    wakers_are: t.wakers_are,
                    holds: t
                        .holds
                        .into_iter()
                        .map(|(lock, s)| HeldLock {
                            lock,
                            site: site(s),
                        })
                        .collect(),
                })
                .collect(),
            cycle: self.cycle,
            actor: self.actor,
        }
    }
}

/// The kind's name, as the analyzer's JSON contract spells it (`analyzer/JSON.md`).
fn kind_name(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Mutex => "mutex",
        ObjectKind::RwLock => "rw-lock",
        ObjectKind::ReentrantMutex => "reentrant-mutex",
        ObjectKind::SpinLock => "spin-lock",
        ObjectKind::Condvar => "condvar",
        ObjectKind::Barrier => "barrier",
        ObjectKind::Semaphore => "semaphore",
        ObjectKind::Channel => "channel",
        ObjectKind::Once => "once",
        // A join waits for a thread; recorded with the `Variable` kind placeholder never.
        ObjectKind::Variable => "thread",
    }
}

/// The kind used for a join wait (reported as `thread`).
pub(crate) const THREAD_KIND: ObjectKind = ObjectKind::Variable;

/// Records the report into the trace (flushed at once) and, unless a callback
/// takes it, writes it to stderr.
fn publish(report: &DeadlockReport) {
    recorder::record_observed("observed-deadlock", &report.summary(), &report.to_json());
    recorder::flush();
    if !matches!(deadlock_action(), DeadlockAction::Callback(_)) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "instrumented_sync: {report}");
        let _ = err.flush();
    }
}

/// Carries out the action in the thread that must act.
fn act_here(report: &DeadlockReport) {
    match deadlock_action() {
        DeadlockAction::Panic => std::panic::panic_any(report.to_string()),
        DeadlockAction::Abort => std::process::abort(),
        DeadlockAction::Report => {}
        DeadlockAction::Callback(f) => f(report),
    }
}

/// The slow path of a blocking lock acquisition (mutex, rwlock read or
/// write): waits for the exclusive holder when there is one recorded.
pub(crate) fn block_on_lock(
    meta: &crate::recorder::ObjectMeta,
    mode: sync_trace::Mode,
    site: SiteId,
) -> WaitGuard<'_> {
    let wakers = match (meta.kind(), mode) {
        (ObjectKind::RwLock, Mode::Read | Mode::Write) => Wakers::RwLock {
            holder: &meta.holder,
            key: read_key(meta),
            write: mode == Mode::Write,
        },
        // An upgradable read waits for a writer or the other upgradable
        // reader, which the lock does not name: unknown without a writer.
        (ObjectKind::RwLock, Mode::Upgradable) => Wakers::Owners(&meta.holder),
        _ => Wakers::ExclusiveHolder(&meta.holder),
    };
    block_on(
        Resource {
            kind: meta.kind(),
            label: meta.label(),
            wakers,
            // std's lock cannot be interrupted: a cycle is acted on by the thread closing it.
            wakeable: false,
        },
        site,
    )
}

/// A join of `child`: registered as a wait for that thread, in slices (the
/// child's end unparks the joiner) until `finished` says it has ended.
pub(crate) fn wait_for_thread(
    child: ThreadId,
    loc: &'static std::panic::Location<'static>,
    finished: impl Fn() -> bool,
) {
    if finished() {
        return;
    }
    let label = registry()
        .threads
        .get(&child.0)
        .map_or_else(|| display_name(child.0, None), |s| s.name.clone());
    let wait = block_on(
        Resource {
            kind: THREAD_KIND,
            label: format!("thread {label}"),
            wakers: Wakers::Thread(child),
            wakeable: true,
        },
        recorder::site(loc),
    );
    while is_live(child) && !finished() {
        std::thread::park_timeout(SLICE);
        wait.check();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node_of_me(me: u32) -> Option<graph::Node> {
        snapshot(&registry()).nodes.remove(&me)
    }

    #[test]
    fn a_woken_waiter_counts_as_running_until_it_waits_again() {
        let counter = AtomicU64::new(7);
        let wait = block_on(
            Resource {
                kind: ObjectKind::Condvar,
                label: "cv".to_owned(),
                wakers: Wakers::Progress {
                    counter: &counter,
                    seen: 7,
                },
                wakeable: true,
            },
            SiteId(0),
        );
        let me = me().expect("registered");
        assert!(matches!(
            node_of_me(me),
            Some(graph::Node::Blocked(graph::Wakers::Unknown))
        ));
        // A notify (or a send, or a barrier's last arrival) moves the counter:
        // the waiter is runnable before it is scheduled.
        counter.fetch_add(1, Ordering::SeqCst);
        assert!(matches!(node_of_me(me), Some(graph::Node::Running)));
        drop(wait);
        assert!(matches!(node_of_me(me), Some(graph::Node::Running)));
    }

    struct FixedTokens(std::sync::atomic::AtomicUsize);

    impl PendingWakes for FixedTokens {
        fn pending(&self) -> usize {
            self.0.load(Ordering::SeqCst)
        }
    }

    #[test]
    fn a_pending_token_releases_one_waiter_and_taking_it_ends_the_wait() {
        let tokens = FixedTokens(std::sync::atomic::AtomicUsize::new(0));
        let mut wait = block_on(
            Resource {
                kind: ObjectKind::Condvar,
                label: "cv".to_owned(),
                wakers: Wakers::Tokens(&tokens),
                wakeable: true,
            },
            SiteId(0),
        );
        let me = me().expect("registered");
        assert!(matches!(
            node_of_me(me),
            Some(graph::Node::Blocked(graph::Wakers::Unknown))
        ));
        tokens.0.store(1, Ordering::SeqCst);
        assert!(matches!(node_of_me(me), Some(graph::Node::Running)));
        // No token to take: the wait goes on.
        assert!(!wait.end_if(|| false));
        // Taking the token and leaving the wait happen as one step.
        assert!(wait.end_if(|| tokens.0.swap(0, Ordering::SeqCst) == 1));
        assert!(matches!(node_of_me(me), Some(graph::Node::Running)));
    }

    #[test]
    fn a_mutex_waiter_with_no_recorded_holder_is_about_to_run() {
        let holder = HolderWord::new();
        let wait = block_on(
            Resource {
                kind: ObjectKind::Mutex,
                label: "m".to_owned(),
                wakers: Wakers::ExclusiveHolder(&holder),
                wakeable: false,
            },
            SiteId(0),
        );
        let me = me().expect("registered");
        assert!(matches!(node_of_me(me), Some(graph::Node::Running)));
        holder.set(ThreadId(me + 1_000_000), SiteId(0));
        assert_eq!(
            node_of_me(me),
            Some(graph::Node::Blocked(graph::Wakers::Known(vec![
                me + 1_000_000
            ])))
        );
        drop(wait);
    }
}

//! The per-thread side of the recorder: the event buffer and the site cache.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::panic::Location;
use std::sync::{Arc, Mutex, PoisonError};

use sync_trace::{Event, Op, SiteId, ThreadId};

use super::output;

/// Events buffered per thread before a flush to the sink.
pub(crate) const BUFFER_CAPACITY: usize = 4096;

/// One thread's pending events. The mutex is uncontended except while
/// another thread (the flusher, `flush()`, the exit hook) writes it out.
pub(crate) struct ThreadBuffer {
    thread: ThreadId,
    events: Mutex<Vec<Event>>,
}

impl ThreadBuffer {
    /// Writes the pending events out, holding the buffer so batches stay in order.
    pub(crate) fn flush(&self) {
        let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        if !events.is_empty() {
            // Written from the buffer and cleared: the buffer's memory is reused (and stays cached).
            output::write_events(self.thread, &events);
            events.clear();
        }
    }

    #[inline(always)]
    fn push(&self, new: impl IntoIterator<Item = Event>) {
        let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        events.extend(new);
        if events.len() >= BUFFER_CAPACITY {
            self.write_out(&mut events);
        }
    }

    /// Writes a full buffer out and clears it: its memory is reused (and stays cached).
    #[cold]
    #[inline(never)]
    fn write_out(&self, events: &mut Vec<Event>) {
        output::write_events(self.thread, events);
        events.clear();
    }
}

/// Hashes the address of a `&'static Location`: the key is already unique, it only needs spreading.
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(26);
    }
}

/// The recorder's per-thread state; its destructor ends and flushes the thread.
struct Local {
    buffer: Arc<ThreadBuffer>,
    /// Whether `End` was recorded (by the spawn wrapper), so the destructor does not repeat it.
    ended: Cell<bool>,
    sites: RefCell<HashMap<usize, SiteId, BuildHasherDefault<AddressHasher>>>,
}

impl Local {
    fn register() -> Local {
        let thread = match THREAD_ID.get() {
            Some(id) => id,
            None => {
                let name = std::thread::current().name().map(str::to_owned);
                let id = output::new_thread(name);
                THREAD_ID.set(Some(id));
                id
            }
        };
        let mut events = Vec::with_capacity(BUFFER_CAPACITY);
        tracing::trace!(target: "instrumented_sync", thread = thread.0, site = 0, op = ?Op::Begin);
        events.push(Event {
            op: Op::Begin,
            site: SiteId::UNKNOWN,
        });
        let buffer = Arc::new(ThreadBuffer {
            thread,
            events: Mutex::new(events),
        });
        output::register_buffer(&buffer);
        Local {
            buffer,
            ended: Cell::new(false),
            sites: RefCell::new(HashMap::default()),
        }
    }

    #[inline(always)]
    fn push(&self, op: Op, site: SiteId) {
        tracing::trace!(target: "instrumented_sync", thread = self.buffer.thread.0, site = site.0, op = ?op);
        self.buffer.push([Event { op, site }]);
    }

    #[inline(always)]
    fn push_all(&self, ops: &[Op], site: SiteId) {
        for op in ops {
            tracing::trace!(target: "instrumented_sync", thread = self.buffer.thread.0, site = site.0, op = ?op);
        }
        self.buffer.push(ops.iter().map(|&op| Event { op, site }));
    }

    #[inline]
    fn site(&self, loc: &'static Location<'static>) -> SiteId {
        let key = std::ptr::from_ref(loc) as usize;
        if let Some(&id) = self.sites.borrow().get(&key) {
            return id;
        }
        let id = output::intern_site(loc);
        self.sites.borrow_mut().insert(key, id);
        id
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        // Runs when the thread exits (for the main thread: inside `exit`), after
        // the thread's other destructors if this one was registered first.
        if !self.ended.get() {
            self.buffer.push([Event {
                op: Op::End,
                site: SiteId::UNKNOWN,
            }]);
        }
        self.buffer.flush();
    }
}

thread_local! {
    static LOCAL: Local = Local::register();
    // These have no destructors, so they stay usable while thread locals are torn down.
    static THREAD_ID: Cell<Option<ThreadId>> = const { Cell::new(None) };
    static BUSY: Cell<bool> = const { Cell::new(false) };
    static IN_OUTPUT: Cell<bool> = const { Cell::new(false) };
}

/// Ends the recorder's busy state, also when a sink or `tracing` subscriber
/// panics, so the thread goes on recording afterwards.
struct BusyGuard;

impl Drop for BusyGuard {
    fn drop(&mut self) {
        BUSY.set(false);
    }
}

/// Records `op` at `loc` for the current thread.
#[inline]
pub(crate) fn record(op: Op, loc: &'static Location<'static>) {
    // The recorder's own work (a sink, a `tracing` subscriber) may use
    // instrumented primitives; their events are not recorded, to avoid recursion.
    if BUSY.replace(true) {
        return;
    }
    let _busy = BusyGuard;
    if LOCAL
        .try_with(|local| local.push(op, local.site(loc)))
        .is_err()
    {
        record_without_buffer(op, output::intern_site(loc));
    }
}

/// Records `op` at an already interned site (a guard's acquisition site).
#[inline(always)]
pub(crate) fn record_at(op: Op, site: SiteId) {
    if BUSY.replace(true) {
        return;
    }
    let _busy = BusyGuard;
    if LOCAL.try_with(|local| local.push(op, site)).is_err() {
        record_without_buffer(op, site);
    }
}

/// Records consecutive `ops` at one site with a single buffer access.
#[inline(always)]
pub(crate) fn record_all_at(ops: &[Op], site: SiteId) {
    if BUSY.replace(true) {
        return;
    }
    let _busy = BusyGuard;
    if LOCAL.try_with(|local| local.push_all(ops, site)).is_err() {
        for &op in ops {
            record_without_buffer(op, site);
        }
    }
}

/// The id of `loc`, from the thread's cache.
#[inline]
pub(crate) fn site(loc: &'static Location<'static>) -> SiteId {
    if BUSY.replace(true) {
        return SiteId::UNKNOWN;
    }
    let _busy = BusyGuard;
    LOCAL
        .try_with(|local| local.site(loc))
        .unwrap_or_else(|_| output::intern_site(loc))
}

/// Records `op` as an event of `thread`, a trace thread that is not this OS
/// thread (an async task), written straight out as a one-event batch. The
/// caller keeps `thread`'s events in program order (a task runs on one OS
/// thread at a time, and each event is written before the next begins).
#[cfg(feature = "tokio")]
pub(crate) fn record_as(thread: ThreadId, op: Op, site: SiteId) {
    if BUSY.replace(true) {
        return;
    }
    let _busy = BusyGuard;
    tracing::trace!(target: "instrumented_sync", thread = thread.0, site = site.0, op = ?op);
    output::write_events(thread, &[Event { op, site }]);
}

/// The thread's buffer is gone (its destructor already ran): write the event
/// straight to the sink as a one-event batch.
#[cold]
fn record_without_buffer(op: Op, site: SiteId) {
    let thread = THREAD_ID.get().unwrap_or_else(|| {
        let id = output::new_thread(None);
        THREAD_ID.set(Some(id));
        id
    });
    tracing::trace!(target: "instrumented_sync", thread = thread.0, site = site.0, op = ?op);
    output::write_events(thread, &[Event { op, site }]);
}

/// Marks the thread as inside the recorder's output section (holding its
/// lock): nothing it does is recorded, and it must not take that lock again.
pub(super) struct OutputSection {
    was_busy: bool,
}

impl OutputSection {
    /// `None` if this thread is already inside (a sink re-entering the recorder).
    pub(super) fn enter() -> Option<OutputSection> {
        if IN_OUTPUT.replace(true) {
            return None;
        }
        Some(OutputSection {
            was_busy: BUSY.replace(true),
        })
    }
}

impl Drop for OutputSection {
    fn drop(&mut self) {
        BUSY.set(self.was_busy);
        IN_OUTPUT.set(false);
    }
}

/// The current thread's id, registering the thread on first use.
pub(crate) fn this_thread() -> ThreadId {
    if let Some(id) = THREAD_ID.get() {
        return id;
    }
    let _ = LOCAL.try_with(|_| ());
    THREAD_ID.get().unwrap_or_else(|| {
        let id = output::new_thread(None);
        THREAD_ID.set(Some(id));
        id
    })
}

/// Called first thing in a thread spawned through [`crate::thread`]: adopts
/// the id the parent allocated (and described) and records `Begin`. Registering
/// the buffer this early makes its destructor run after the thread's others.
pub(crate) fn enter_spawned_thread(id: ThreadId) {
    THREAD_ID.set(Some(id));
    let _ = LOCAL.try_with(|_| ());
}

/// Called last thing in a thread spawned through [`crate::thread`] (also when
/// it panics): records `End` and flushes, so a joiner's trace sees the whole thread.
pub(crate) fn leave_spawned_thread(loc: &'static Location<'static>) {
    record(Op::End, loc);
    let _ = LOCAL.try_with(|local| {
        local.ended.set(true);
        local.buffer.flush();
    });
}

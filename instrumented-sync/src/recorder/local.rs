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
            let batch = std::mem::replace(&mut *events, Vec::with_capacity(BUFFER_CAPACITY));
            output::write_events(self.thread, batch);
        }
    }

    fn push(&self, event: Event) {
        let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        events.push(event);
        if events.len() >= BUFFER_CAPACITY {
            let batch = std::mem::replace(&mut *events, Vec::with_capacity(BUFFER_CAPACITY));
            output::write_events(self.thread, batch);
        }
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
            self.buffer.push(Event {
                op: Op::End,
                site: SiteId::UNKNOWN,
            });
        }
        self.buffer.flush();
    }
}

thread_local! {
    static LOCAL: Local = Local::register();
    // These have no destructors, so they stay usable while thread locals are torn down.
    static THREAD_ID: Cell<Option<ThreadId>> = const { Cell::new(None) };
    static BUSY: Cell<bool> = const { Cell::new(false) };
}

/// Records `op` at `loc` for the current thread.
#[inline]
pub(crate) fn record(op: Op, loc: &'static Location<'static>) {
    // The recorder's own work (a sink, a `tracing` subscriber) may use
    // instrumented primitives; their events are not recorded, to avoid recursion.
    if BUSY.replace(true) {
        return;
    }
    let buffered = LOCAL.try_with(|local| {
        let site = local.site(loc);
        tracing::trace!(target: "instrumented_sync", thread = local.buffer.thread.0, site = site.0, op = ?op);
        local.buffer.push(Event { op, site });
    });
    if buffered.is_err() {
        record_without_buffer(op, loc);
    }
    BUSY.set(false);
}

/// The thread's buffer is gone (its destructor already ran): write the event
/// straight to the sink as a one-event batch.
#[cold]
fn record_without_buffer(op: Op, loc: &'static Location<'static>) {
    let thread = THREAD_ID.get().unwrap_or_else(|| {
        let id = output::new_thread(None);
        THREAD_ID.set(Some(id));
        id
    });
    let site = output::intern_site(loc);
    tracing::trace!(target: "instrumented_sync", thread = thread.0, site = site.0, op = ?op);
    output::write_events(thread, vec![Event { op, site }]);
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

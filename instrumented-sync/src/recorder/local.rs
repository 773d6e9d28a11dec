//! The per-thread side of the recorder: the event ring and the site cache.
//!
//! Hot path (one event, inlined into the lock call): one thread-local read
//! (`HOT`, the ring's producer line, or the always-full `NO_RING` whenever the
//! event must take the slow path), a compare of `head` with the producer's
//! cached `limit`, the `tracing` level check, a slot write into the thread's
//! own ring (two 8-byte stores) and a release store of its head. No lock, no
//! atomic read-modify-write, no cache line shared with another thread (the
//! ring's `tail` is written by a consumer only when it drains, at most once a
//! flush period or buffer-full, and read by the owner only when `head`
//! reaches `limit`).
//!
//! The ring is single-producer (its owning thread, through [`LOCAL`]) and
//! multi-consumer, the consumers (the owner when the ring is full, the periodic
//! flusher, `flush()`, the exit hook) being serialised by the ring's `drain`
//! mutex. A consumer writes the drained slots to the output in place while
//! holding `drain`, and frees them after, so one thread's batches reach the
//! sink in program order without a copy, and an
//! idle (or deadlocked) thread's events are drained by the flusher without
//! its cooperation.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::panic::Location;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use sync_trace::{Attempt, Event, Mode, ObjectId, Op, SiteId, ThreadId};

use super::output;
use super::raw::RawEvent;
use crate::waitfor::HolderWord;

/// Events a thread's ring holds before its owner writes them out itself
/// (a power of two). With 16-byte events, 32 KiB per thread.
pub(crate) const BUFFER_CAPACITY: usize = 2048;
const MASK: usize = BUFFER_CAPACITY - 1;

/// A cache line of its own, so the producer's line and the consumers' tail
/// do not false-share with each other.
#[repr(align(128))]
struct Padded<T>(T);

/// What the producer touches per event, on one cache line.
struct Producer {
    /// Events written so far (wrapping index); stored only by the owning thread.
    head: AtomicUsize,
    /// The owning thread's bound on `head` before it must look at `tail`
    /// again: `tail + BUFFER_CAPACITY` as it last read `tail`. Since `tail`
    /// only grows, `head != limit` means there is room, without reading the
    /// consumers' line per event. Read and written by the producer only.
    limit: Cell<usize>,
    /// The ring's `BUFFER_CAPACITY` slots, from `Box::into_raw` (freed by
    /// `ThreadBuffer`'s `Drop`); null in [`NO_RING`].
    slots: *mut RawEvent,
    thread: ThreadId,
}

/// The producer that [`HOT`] names when no ring is in use on the thread: it
/// is always full (`head == limit`), so every event takes the slow path,
/// and the hot path needs no separate null check.
struct NoRing(Producer);

// SAFETY: `NO_RING` is never written: the hot path finds it full before any
// write, and every other writer goes through `RING`, which is null whenever
// `HOT` names `NO_RING` (see `use_ring`).
unsafe impl Sync for NoRing {}

static NO_RING: NoRing = NoRing(Producer {
    head: AtomicUsize::new(0),
    limit: Cell::new(0),
    slots: std::ptr::null_mut(),
    thread: ThreadId(u32::MAX),
});

/// One thread's pending events.
pub(crate) struct ThreadBuffer {
    producer: Padded<Producer>,
    /// Events consumed so far; stored only by a consumer holding `drain`.
    tail: Padded<AtomicUsize>,
    /// Serialises consumers; holds the batch being written (its memory is reused).
    drain: Mutex<DrainBuffers>,
}

// SAFETY: the slots and `limit` are the only non-`Sync` parts. `limit` is
// read and written only by the producer (the owning thread, through `push*`).
// Slot `i` is written only by the single producer while
// `i - tail < BUFFER_CAPACITY` and `i >= head`, and read only by a consumer
// (holding `drain`) while `tail <= i < head`. `head` is published with
// `Release` after the slot write and read with `Acquire` by consumers; `tail`
// is published with `Release` after the slots are copied and read with
// `Acquire` by the producer before it raises `limit`, so before it reuses a
// slot. So a slot is never read and written concurrently. Exercised by
// `ring_survives_concurrent_drains` and the stress tests.
unsafe impl Sync for ThreadBuffer {}

// SAFETY: the slots' allocation is owned by the ring (as a `Box` would be)
// and holds plain integers; any thread may drop the last `Arc` of it.
unsafe impl Send for ThreadBuffer {}

impl Drop for ThreadBuffer {
    fn drop(&mut self) {
        let slots = std::ptr::slice_from_raw_parts_mut(self.producer.0.slots, BUFFER_CAPACITY);
        // SAFETY: `slots` came from `Box::into_raw` of a `BUFFER_CAPACITY`
        // slice in `new`, and nothing uses it once the ring is dropped.
        drop(unsafe { Box::from_raw(slots) });
    }
}

impl ThreadBuffer {
    fn new(thread: ThreadId) -> ThreadBuffer {
        let empty = RawEvent::new(Op::Begin, SiteId::UNKNOWN);
        let slots: Box<[RawEvent]> = vec![empty; BUFFER_CAPACITY].into_boxed_slice();
        ThreadBuffer {
            producer: Padded(Producer {
                head: AtomicUsize::new(0),
                limit: Cell::new(BUFFER_CAPACITY),
                slots: Box::into_raw(slots).cast::<RawEvent>(),
                thread,
            }),
            tail: Padded(AtomicUsize::new(0)),
            drain: Mutex::new(DrainBuffers::default()),
        }
    }

    /// The thread whose events these are.
    #[inline(always)]
    pub(crate) fn thread(&self) -> ThreadId {
        self.producer.0.thread
    }

    /// Writes the pending events out (any thread). Holds `drain` while writing,
    /// so batches stay in order.
    pub(crate) fn flush(&self) {
        self.drain_with(output::write_raw);
    }

    /// Hands the pending events to `write` in place (as at most two slices:
    /// the ring may wrap), holding `drain` throughout, then frees their slots.
    /// Nothing is copied: after the in-memory cap, a drain only counts.
    fn drain_with(&self, write: impl FnOnce(ThreadId, [&[RawEvent]; 2], &mut DrainBuffers)) {
        let mut buffers = self.drain.lock().unwrap_or_else(PoisonError::into_inner);
        let tail = self.tail.0.load(Ordering::Relaxed);
        let head = self.producer.0.head.load(Ordering::Acquire);
        if head == tail {
            return;
        }
        let (start, len) = (tail & MASK, head.wrapping_sub(tail));
        let first = len.min(BUFFER_CAPACITY - start);
        let slots = |from: usize, n: usize| -> &[RawEvent] {
            debug_assert!(from + n <= BUFFER_CAPACITY);
            // SAFETY: `from + n <= BUFFER_CAPACITY`, within the allocation.
            // These are the slots `tail..head`: the producer finished writing
            // them (published by the `Acquire` load of `head`) and does not
            // write them again until `tail` passes them, which only this
            // consumer (holding `drain`) does below, after `write` returned
            // and the slices are gone.
            unsafe { std::slice::from_raw_parts(self.producer.0.slots.add(from), n) }
        };
        write(
            self.thread(),
            [slots(start, first), slots(0, len - first)],
            &mut buffers,
        );
        self.tail.0.store(head, Ordering::Release);
    }

    /// Appends `events` (owner thread only, through [`LOCAL`]).
    #[inline(always)]
    fn push<const N: usize>(&self, events: [RawEvent; N]) {
        let p = &self.producer.0;
        let head = p.head.load(Ordering::Relaxed);
        // `limit - head` is the room known without reading `tail`.
        if p.limit.get().wrapping_sub(head) < N {
            self.make_room(head, N);
        }
        for (k, event) in events.into_iter().enumerate() {
            // SAFETY: the index is masked below `BUFFER_CAPACITY`, within the
            // allocation. Only the owning thread pushes (the ring is reachable
            // for writing only through its thread-local `Local`, `RING` and
            // `HOT`), and there is room: `head + k < limit <= tail +
            // BUFFER_CAPACITY`, so no consumer reads this slot.
            unsafe { p.slots.add(head.wrapping_add(k) & MASK).write(event) };
        }
        p.head.store(head.wrapping_add(N), Ordering::Release);
    }

    /// The ring may be full for `n` more events at `head`: reads `tail` again
    /// and, when it is full indeed, the owner drains it itself.
    #[cold]
    #[inline(never)]
    fn make_room(&self, head: usize, n: usize) {
        let p = &self.producer.0;
        let mut tail = self.tail.0.load(Ordering::Acquire);
        if head.wrapping_sub(tail) > BUFFER_CAPACITY - n {
            // The sink may use instrumented primitives; they must not record
            // into this ring while it is being drained.
            let _busy = Busy::enter();
            self.flush();
            tail = self.tail.0.load(Ordering::Acquire);
        }
        p.limit.set(tail.wrapping_add(BUFFER_CAPACITY));
    }
}

/// A drain's reused memory: decoded events for sinks that take `Record`s,
/// and a wrapped batch joined into one frame of the trace file.
#[derive(Default)]
pub(crate) struct DrainBuffers {
    pub(crate) events: Vec<Event>,
    pub(crate) raws: Vec<RawEvent>,
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
    /// Every site this thread interned (behind the direct-mapped [`SITE_CACHE`]).
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
        let buffer = Arc::new(ThreadBuffer::new(thread));
        trace_event(thread, Op::Begin, SiteId::UNKNOWN);
        buffer.push([RawEvent::new(Op::Begin, SiteId::UNKNOWN)]);
        output::register_buffer(&buffer);
        // With recording off, a thread may still get an id (a lock's holder
        // word), but its ring is never published, so nothing is recorded.
        if super::enabled() {
            OWN_RING.set(Arc::as_ptr(&buffer));
            if !BUSY.get() {
                use_ring(Arc::as_ptr(&buffer));
            }
        }
        Local {
            buffer,
            ended: Cell::new(false),
            sites: RefCell::new(HashMap::default()),
        }
    }

    #[inline(always)]
    fn push<const N: usize>(&self, ops: [Op; N], site: SiteId) {
        for op in ops {
            trace_event(self.buffer.thread(), op, site);
        }
        self.buffer.push(ops.map(|op| RawEvent::new(op, site)));
    }

    /// The second-level site lookup, after a [`SITE_CACHE`] miss.
    #[cold]
    #[inline(never)]
    fn site(&self, loc: &'static Location<'static>) -> SiteId {
        let key = std::ptr::from_ref(loc) as usize;
        let known = self.sites.borrow().get(&key).copied();
        let id = known.unwrap_or_else(|| {
            let id = output::intern_site(loc);
            self.sites.borrow_mut().insert(key, id);
            id
        });
        SITE_CACHE.with(|cache| cache[site_slot(key)].set((key, id)));
        id
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        // Runs when the thread exits (for the main thread: inside `exit`), after
        // the thread's other destructors if this one was registered first.
        // Later events of this thread go straight to the output.
        OWN_RING.set(std::ptr::null());
        let _busy = Busy::enter();
        if !self.ended.get() {
            self.buffer.push([RawEvent::new(Op::End, SiteId::UNKNOWN)]);
        }
        self.buffer.flush();
    }
}

/// Entries of the direct-mapped site cache (a power of two).
const SITE_CACHE_SLOTS: usize = 256;

#[inline(always)]
fn site_slot(key: usize) -> usize {
    // `Location`s are 8-aligned and packed in read-only data: drop the low bits.
    (key >> 3) & (SITE_CACHE_SLOTS - 1)
}

thread_local! {
    static LOCAL: Local = Local::register();
    // These have no destructors, so they stay usable while thread locals are
    // torn down, and cost a plain thread-relative access.
    /// This thread's ring while events go into it. Null before the thread's
    /// first event, while the recorder is busy on this thread ([`Busy`]: a
    /// drain, a sink, a `tracing` subscriber, whose own lock events are not
    /// recorded), and once `LOCAL` is destroyed; every such case takes the
    /// slow path. Set only through [`use_ring`].
    static RING: Cell<*const ThreadBuffer> = const { Cell::new(std::ptr::null()) };
    /// The producer line of `RING`'s ring, or [`NO_RING`] when `RING` is
    /// null: the hot path's one thread-local read.
    static HOT: Cell<*const Producer> = const { Cell::new(&raw const NO_RING.0) };
    /// This thread's ring while its `LOCAL` is alive (which owns it and nulls
    /// this before releasing it): what `RING` is restored to when busy ends.
    static OWN_RING: Cell<*const ThreadBuffer> = const { Cell::new(std::ptr::null()) };
    static THREAD_ID: Cell<Option<ThreadId>> = const { Cell::new(None) };
    static BUSY: Cell<bool> = const { Cell::new(false) };
    static IN_OUTPUT: Cell<bool> = const { Cell::new(false) };
    /// `(Location address, id)` of recently used sites; address 0 = empty.
    static SITE_CACHE: [Cell<(usize, SiteId)>; SITE_CACHE_SLOTS] =
        const { [const { Cell::new((0, SiteId::UNKNOWN)) }; SITE_CACHE_SLOTS] };
}

/// The recorder is working on this thread: events are not recorded (no
/// recursion, no re-entering a ring being drained) until this is dropped,
/// also when a sink or `tracing` subscriber panics.
struct Busy {
    was_busy: bool,
}

/// Points `RING` (and `HOT`) at `ring`, or at no ring when it is null.
#[inline]
fn use_ring(ring: *const ThreadBuffer) {
    RING.set(ring);
    // SAFETY: a non-null `ring` is this thread's live ring (`OWN_RING`).
    let producer =
        unsafe { ring.as_ref() }.map_or(&raw const NO_RING.0, |r| &raw const r.producer.0);
    HOT.set(producer);
}

impl Busy {
    fn enter() -> Busy {
        use_ring(std::ptr::null());
        Busy {
            was_busy: BUSY.replace(true),
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        BUSY.set(self.was_busy);
        if !self.was_busy {
            use_ring(OWN_RING.get());
        }
    }
}

/// Emits `op` as a `tracing` event, when a subscriber may want TRACE level.
#[inline(always)]
fn trace_event(thread: ThreadId, op: Op, site: SiteId) {
    if tracing::level_enabled!(tracing::Level::TRACE) {
        trace_event_slow(thread, op, site);
    }
}

#[cold]
#[inline(never)]
fn trace_event_slow(thread: ThreadId, op: Op, site: SiteId) {
    // A subscriber may use instrumented primitives: not recorded, no recursion.
    let _busy = Busy::enter();
    tracing::trace!(target: "instrumented_sync", thread = thread.0, site = site.0, op = ?op);
}

/// Records `op` at `loc` for the current thread.
#[inline]
pub(crate) fn record(op: Op, loc: &'static Location<'static>) {
    record_at(op, site(loc));
}

/// Records `op` at an already interned site (a guard's acquisition site).
#[inline(always)]
pub(crate) fn record_at(op: Op, site: SiteId) {
    if !push_hot(|_| RawEvent::new(op, site)) {
        record_all_slow([op], site);
    }
}

/// The hot path: writes `event(this thread)` into this thread's ring and
/// returns `true`, or returns `false` when the event must take the slow path
/// (no ring in use on this thread, a full ring, or a `tracing` subscriber
/// that may want TRACE events). Inlined into the lock call: one
/// thread-local read, one branch to the slow path, two stores into the slot
/// and the release store of `head`.
#[inline(always)]
fn push_hot(event: impl FnOnce(ThreadId) -> RawEvent) -> bool {
    // SAFETY: `HOT` names `NO_RING` (a static) or the producer line of `RING`'s
    // ring (see `use_ring`), which is alive while `RING` names it: `RING` is
    // non-null only while this thread's `LOCAL` is alive and holds an `Arc`
    // of the ring (its destructor nulls `RING` and `OWN_RING` before releasing
    // it). Only this thread reads `HOT`, and it is the ring's only producer.
    let p = unsafe { &*HOT.get() };
    let head = p.head.load(Ordering::Relaxed);
    // `NO_RING` is always full.
    if head == p.limit.get() || tracing::level_enabled!(tracing::Level::TRACE) {
        return false;
    }
    let event = event(p.thread);
    // SAFETY: `HOT` is not `NO_RING` (that one is full), so `slots` is the
    // ring's allocation, and the masked index lies within it. There is room
    // (`head != limit`, so `head < tail + BUFFER_CAPACITY`): no consumer
    // reads this slot until `head` is published below.
    unsafe { p.slots.add(head & MASK).write(event) };
    p.head.store(head.wrapping_add(1), Ordering::Release);
    true
}

/// Records consecutive `ops` at one site when [`push_hot`] declined: emits
/// them as `tracing` events when the ring is in use, then records them.
#[cold]
#[inline(never)]
fn record_all_slow<const N: usize>(ops: [Op; N], site: SiteId) {
    let ring = RING.get();
    if ring.is_null() {
        return record_slow(ops, site);
    }
    // SAFETY: as in `push_hot`: a non-null `RING` is this thread's live ring.
    let ring = unsafe { &*ring };
    if tracing::level_enabled!(tracing::Level::TRACE) {
        trace_events_slow(ring.thread(), &ops, site);
    }
    // The subscriber ran with `RING` nulled (`Busy`) and restored it, so the
    // ring is still this thread's and in use. `push` drains it when full.
    ring.push(ops.map(|op| RawEvent::new(op, site)));
}

#[cold]
#[inline(never)]
fn trace_events_slow(thread: ThreadId, ops: &[Op], site: SiteId) {
    for &op in ops {
        trace_event_slow(thread, op, site);
    }
}

/// The first event of a thread (registering it), one while the recorder is
/// busy on this thread (not recorded), or one after its `LOCAL` was destroyed.
#[cold]
#[inline(never)]
fn record_slow<const N: usize>(ops: [Op; N], site: SiteId) {
    // The recorder's own work (a sink, a `tracing` subscriber) may use
    // instrumented primitives; their events are not recorded, to avoid recursion.
    if BUSY.get() || !super::enabled() {
        return;
    }
    if LOCAL.try_with(|local| local.push(ops, site)).is_err() {
        record_without_buffer(&ops, site);
    }
}

/// Records an uncontended blocking acquisition of `lock` (`Request` and
/// `Acquire` in one ring slot), first naming this thread in `holder` (an
/// exclusive hold of a registered lock) with the thread id kept beside the
/// ring (no second thread-local read).
#[inline(always)]
pub(crate) fn record_acquired(
    lock: ObjectId,
    mode: Mode,
    seq: u64,
    site: SiteId,
    holder: Option<&HolderWord>,
) {
    let pushed = push_hot(|thread| {
        // A lock id is 0 only when it was registered inside the recorder's
        // own work (a sink), which never takes the hot path (`HOT` is
        // `NO_RING` while the recorder is busy): no check needed here.
        debug_assert_ne!(lock.0, 0, "an unregistered lock on the hot path");
        if let Some(holder) = holder {
            holder.set(thread, site);
        }
        RawEvent::request_acquire(lock, mode, seq, site)
    });
    if !pushed {
        record_acquired_slow(lock, mode, seq, site, holder);
    }
}

/// [`record_acquired`] off the hot path (see [`push_hot`]).
#[cold]
#[inline(never)]
fn record_acquired_slow(
    lock: ObjectId,
    mode: Mode,
    seq: u64,
    site: SiteId,
    holder: Option<&HolderWord>,
) {
    // `ObjectId(0)`: inside the recorder's own work, not recorded, no holder.
    if let Some(holder) = holder
        && lock.0 != 0
    {
        holder.set(this_thread(), site);
    }
    let request = Op::Request { lock, mode };
    let acquire = Op::Acquire {
        lock,
        mode,
        attempt: Attempt::Blocking,
        seq,
    };
    record_all_slow([request, acquire], site);
}

/// Records the release of `lock` (held in `mode`, its `seq`uence number) at `site`.
#[inline(always)]
pub(crate) fn record_released(lock: ObjectId, mode: Mode, seq: u64, site: SiteId) {
    let op = Op::Release { lock, mode, seq };
    if !push_hot(|_| RawEvent::new(op, site)) {
        record_released_slow(lock, mode, seq, site);
    }
}

/// [`record_released`] off the hot path: the `Op` is built here, not in the caller.
#[cold]
#[inline(never)]
fn record_released_slow(lock: ObjectId, mode: Mode, seq: u64, site: SiteId) {
    record_all_slow([Op::Release { lock, mode, seq }], site);
}

/// The id of `loc`, from the thread's cache.
#[inline(always)]
pub(crate) fn site(loc: &'static Location<'static>) -> SiteId {
    if !super::enabled() {
        return SiteId::UNKNOWN;
    }
    site_recorded(loc)
}

/// [`site`] once the caller saw that recording is on.
#[inline(always)]
pub(crate) fn site_recorded(loc: &'static Location<'static>) -> SiteId {
    let key = std::ptr::from_ref(loc) as usize;
    let (cached, id) = SITE_CACHE.with(|cache| cache[site_slot(key)].get());
    if cached == key {
        return id;
    }
    site_slow(loc)
}

#[cold]
#[inline(never)]
fn site_slow(loc: &'static Location<'static>) -> SiteId {
    if BUSY.get() {
        return SiteId::UNKNOWN;
    }
    let _busy = Busy::enter();
    LOCAL
        .try_with(|local| local.site(loc))
        .unwrap_or_else(|_| output::intern_site(loc))
}

/// The thread's ring is gone (its destructor already ran): write the events
/// straight to the sink as one batch.
#[cold]
#[inline(never)]
fn record_without_buffer(ops: &[Op], site: SiteId) {
    let _busy = Busy::enter();
    let thread = THREAD_ID.get().unwrap_or_else(|| {
        let id = output::new_thread(None);
        THREAD_ID.set(Some(id));
        id
    });
    let events: Vec<Event> = ops
        .iter()
        .map(|&op| {
            trace_event(thread, op, site);
            Event { op, site }
        })
        .collect();
    output::write_events(thread, &events);
}

/// Records `op` as an event of `thread`, a trace thread that is not this OS
/// thread (an async task), written straight out as a one-event batch. The
/// caller keeps `thread`'s events in program order (a task runs on one OS
/// thread at a time, and each event is written before the next begins).
#[cfg(feature = "tokio")]
pub(crate) fn record_as(thread: ThreadId, op: Op, site: SiteId) {
    if BUSY.get() || !super::enabled() {
        return;
    }
    let _busy = Busy::enter();
    trace_event(thread, op, site);
    output::write_events(thread, &[Event { op, site }]);
}

/// Marks the thread as inside the recorder's output section (holding its
/// lock): nothing it does is recorded, and it must not take that lock again.
pub(super) struct OutputSection {
    _busy: Busy,
}

impl OutputSection {
    /// `None` if this thread is already inside (a sink re-entering the recorder).
    pub(super) fn enter() -> Option<OutputSection> {
        if IN_OUTPUT.replace(true) {
            return None;
        }
        Some(OutputSection {
            _busy: Busy::enter(),
        })
    }
}

impl Drop for OutputSection {
    fn drop(&mut self) {
        IN_OUTPUT.set(false);
    }
}

/// The current thread's id, registering the thread on first use.
#[inline]
pub(crate) fn this_thread() -> ThreadId {
    match THREAD_ID.get() {
        Some(id) => id,
        None => register_this_thread(),
    }
}

#[cold]
#[inline(never)]
fn register_this_thread() -> ThreadId {
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
    if super::enabled() {
        let _ = LOCAL.try_with(|_| ());
    }
}

/// Called last thing in a thread spawned through [`crate::thread`] (also when
/// it panics): records `End` and flushes, so a joiner's trace sees the whole thread.
pub(crate) fn leave_spawned_thread(loc: &'static Location<'static>) {
    record(Op::End, loc);
    if !super::enabled() {
        return;
    }
    let _ = LOCAL.try_with(|local| {
        local.ended.set(true);
        let _busy = Busy::enter();
        local.buffer.flush();
    });
}

#[cfg(test)]
mod ring_tests {
    use super::*;

    /// A consumer thread drains while the owner pushes: every event arrives
    /// once, in order (the `unsafe` slot accesses under concurrency).
    #[test]
    fn ring_survives_concurrent_drains() {
        let ring = Arc::new(ThreadBuffer::new(ThreadId(u32::MAX)));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let drain = |ring: &ThreadBuffer, seen: &Mutex<Vec<u64>>| {
            ring.drain_with(|_, raws, _| {
                let mut seen = seen.lock().unwrap();
                for e in raws.into_iter().flatten().map(|r| r.event()) {
                    if let Op::Notify { seq, .. } = e.op {
                        seen.push(seq);
                    }
                }
            });
        };
        let consumer = {
            let (ring, stop, seen) = (Arc::clone(&ring), Arc::clone(&stop), Arc::clone(&seen));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    drain(&ring, &seen);
                }
            })
        };
        let n = 200_000u64;
        for seq in (1..=n).step_by(2) {
            // Wait for room instead of letting `push` drain in place (which
            // writes to the process's output), so only the consumer drains.
            while ring.producer.0.head.load(Ordering::Relaxed) - ring.tail.0.load(Ordering::Acquire)
                > BUFFER_CAPACITY - 2
            {
                std::hint::spin_loop();
            }
            let event = |seq| {
                let op = Op::Notify {
                    condvar: sync_trace::ObjectId(1),
                    all: false,
                    seq,
                };
                RawEvent::new(op, SiteId(1))
            };
            ring.push([event(seq), event(seq + 1)]);
        }
        stop.store(true, Ordering::Release);
        consumer.join().unwrap();
        drain(&ring, &seen);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len() as u64, n);
        assert!(seen.iter().zip(1..).all(|(&s, k)| s == k));
    }
}

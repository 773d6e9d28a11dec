//! The process-wide side of the recorder: the sink, the retained in-memory
//! copy, the site table, id allocation, the periodic flusher and the exit hook.

use std::collections::HashMap;
use std::panic::Location;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::Duration;

use sync_trace::{
    Event, ObjectId, ObjectInfo, ProcessInfo, Record, Site, SiteId, ThreadId, ThreadInfo,
};

use super::ObjectMeta;
use super::local::{DrainBuffers, OutputSection, ThreadBuffer};
use super::raw::{RawEvent, encode_events_payload};
use super::sink::{DEFAULT_MEMORY_CAP, FileSink, MemorySink, Sink};

/// Environment variable: a directory to write `<program>-<pid>.istrace` into.
pub(crate) const TRACE_DIR_VAR: &str = "INSTRUMENTED_SYNC_TRACE";
/// Environment variable: the period of the background flusher in milliseconds (0 turns it off).
pub(crate) const FLUSH_MS_VAR: &str = "INSTRUMENTED_SYNC_FLUSH_MS";
/// Environment variable: how many events the in-memory copy keeps (default [`DEFAULT_MEMORY_CAP`]).
pub(crate) const MEMORY_CAP_VAR: &str = "INSTRUMENTED_SYNC_MEMORY_CAP";

/// Everything written so far goes through here, under one lock, so that
/// descriptions and batches reach the sinks in a consistent order.
struct Output {
    /// The user's or the environment's sink; `None` keeps the trace in memory only.
    external: Option<Box<dyn Sink>>,
    /// The same sink when it is the `INSTRUMENTED_SYNC_TRACE` file: batches are
    /// encoded straight from the ring's compact events, without building `Event`s.
    file: Option<Arc<FileSink>>,
    /// Set once `Record::End` was written; later records only go to memory.
    ended: bool,
    /// `Process`, `Site`, `Thread` and `Object` records, replayed into a newly set sink.
    descriptions: Vec<Record>,
    sites: HashMap<(&'static str, u32, u32), SiteId>,
    trace_path: Option<PathBuf>,
}

struct State {
    output: Mutex<Output>,
    /// The retained copy every in-process check reads.
    memory: MemorySink,
    /// Every thread's buffer, for flushes from other threads.
    buffers: Mutex<Vec<Weak<ThreadBuffer>>>,
    next_thread: AtomicU32,
    next_object: AtomicU64,
}

static STATE: OnceLock<State> = OnceLock::new();

fn state() -> &'static State {
    STATE.get_or_init(|| {
        let program = std::env::args_os()
            .next()
            .map(PathBuf::from)
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "program".to_owned());
        let pid = std::process::id();
        let process = Record::Process(ProcessInfo { pid, program: program.clone() });
        let mut external: Option<Box<dyn Sink>> = None;
        let mut file = None;
        let mut trace_path = None;
        if let Some(dir) = std::env::var_os(TRACE_DIR_VAR).filter(|d| !d.is_empty()) {
            let path = PathBuf::from(dir).join(format!("{program}-{pid}.istrace"));
            match FileSink::create(&path) {
                Ok(sink) => {
                    sink.write(std::slice::from_ref(&process));
                    let sink = Arc::new(sink);
                    file = Some(Arc::clone(&sink));
                    external = Some(Box::new(sink));
                    trace_path = Some(path);
                }
                Err(e) => eprintln!("instrumented-sync: {TRACE_DIR_VAR}: cannot create the trace file: {e}; recording in memory only"),
            }
        }
        let cap = std::env::var(MEMORY_CAP_VAR).ok().and_then(|v| v.trim().parse::<u64>().ok());
        let memory = MemorySink::with_cap(cap.unwrap_or(DEFAULT_MEMORY_CAP));
        memory.write(std::slice::from_ref(&process));
        let persistent = external.as_ref().is_some_and(|s| s.is_persistent());
        register_exit_hook();
        if persistent {
            start_flusher();
        }
        State {
            output: Mutex::new(Output {
                external,
                file,
                ended: false,
                descriptions: vec![process],
                sites: HashMap::new(),
                trace_path,
            }),
            memory,
            buffers: Mutex::new(Vec::new()),
            next_thread: AtomicU32::new(0),
            next_object: AtomicU64::new(1),
        }
    })
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The output, locked, with the thread marked as inside it; `None` when the
/// thread already holds it (a sink using instrumented primitives), so that
/// re-entering never deadlocks.
struct LockedOutput {
    // Field order: the lock is released before the section ends.
    output: MutexGuard<'static, Output>,
    _section: OutputSection,
}

impl std::ops::Deref for LockedOutput {
    type Target = Output;

    fn deref(&self) -> &Output {
        &self.output
    }
}

impl std::ops::DerefMut for LockedOutput {
    fn deref_mut(&mut self) -> &mut Output {
        &mut self.output
    }
}

fn output() -> Option<LockedOutput> {
    let section = OutputSection::enter()?;
    Some(LockedOutput {
        output: lock(&state().output),
        _section: section,
    })
}

/// Whether this thread is inside the output section (where flushing would deadlock).
fn in_output() -> bool {
    OutputSection::enter().is_none()
}

impl Output {
    fn write(&mut self, memory: &MemorySink, records: &[Record]) {
        memory.write(records);
        if !self.ended
            && let Some(sink) = &self.external
        {
            sink.write(records);
        }
    }

    fn describe(&mut self, memory: &MemorySink, record: Record) {
        self.write(memory, std::slice::from_ref(&record));
        self.descriptions.push(record);
    }

    fn intern_site(&mut self, memory: &MemorySink, loc: &'static Location<'static>) -> SiteId {
        let key = (loc.file(), loc.line(), loc.column());
        if let Some(&id) = self.sites.get(&key) {
            return id;
        }
        let id = SiteId(u32::try_from(self.sites.len() + 1).unwrap_or(u32::MAX));
        self.sites.insert(key, id);
        self.describe(
            memory,
            Record::Site(Site {
                id,
                file: key.0.to_owned(),
                line: key.1,
                column: key.2,
            }),
        );
        id
    }
}

/// The id of a source site, describing it on first sight.
pub(crate) fn intern_site(loc: &'static Location<'static>) -> SiteId {
    let st = state();
    output().map_or(SiteId::UNKNOWN, |mut out| out.intern_site(&st.memory, loc))
}

/// Allocates a thread id and describes the thread.
pub(crate) fn new_thread(name: Option<String>) -> ThreadId {
    let st = state();
    let id = ThreadId(st.next_thread.fetch_add(1, Ordering::Relaxed));
    // Inside a sink the description cannot be written; such threads stay undescribed.
    if let Some(mut out) = output() {
        out.describe(&st.memory, Record::Thread(ThreadInfo { id, name }));
    }
    id
}

/// Makes `buffer` reachable by flushes from other threads.
pub(crate) fn register_buffer(buffer: &Arc<ThreadBuffer>) {
    let mut buffers = lock(&state().buffers);
    buffers.retain(|b| b.strong_count() > 0);
    buffers.push(Arc::downgrade(buffer));
}

/// Registers `meta` on first use: describes it, then publishes its id.
pub(crate) fn register_object(meta: &ObjectMeta) -> ObjectId {
    let st = state();
    // Inside a sink: not recorded (the recorder is busy), so no id is needed.
    let Some(mut out) = output() else {
        return ObjectId(0);
    };
    // Another thread may have registered it while this one waited for the lock.
    let existing = meta.id.load(Ordering::Acquire);
    if existing != 0 {
        return ObjectId(existing);
    }
    let id = ObjectId(st.next_object.fetch_add(1, Ordering::Relaxed));
    let class = meta
        .class
        .map_or(SiteId::UNKNOWN, |c| out.intern_site(&st.memory, c));
    let name = meta.name().map(str::to_owned);
    out.describe(
        &st.memory,
        Record::Object(ObjectInfo {
            id,
            kind: meta.kind,
            class,
            name,
        }),
    );
    meta.id.store(id.0, Ordering::Release);
    id
}

/// Re-sends the description of a registered object (after it was named).
pub(crate) fn describe_again(meta: &ObjectMeta) {
    let st = state();
    let Some(mut out) = output() else { return };
    let id = ObjectId(meta.id.load(Ordering::Acquire));
    let class = meta
        .class
        .map_or(SiteId::UNKNOWN, |c| out.intern_site(&st.memory, c));
    let name = meta.name().map(str::to_owned);
    out.describe(
        &st.memory,
        Record::Object(ObjectInfo {
            id,
            kind: meta.kind,
            class,
            name,
        }),
    );
}

/// `file:line:column` of a described site (for deadlock reports; not on a hot path).
pub(crate) fn describe_site(id: SiteId) -> Option<String> {
    let out = output()?;
    out.descriptions.iter().find_map(|r| match r {
        Record::Site(s) if s.id == id => Some(format!("{}:{}:{}", s.file, s.line, s.column)),
        _ => None,
    })
}

/// Writes a `Record::Observed` (a finding seen at run time) to the memory copy and the sink.
pub(crate) fn record_observed(kind: &str, message: &str, json: &str) {
    let st = state();
    if let Some(mut out) = output() {
        let record = Record::Observed {
            kind: kind.to_owned(),
            message: message.to_owned(),
            json: json.to_owned(),
        };
        out.write(&st.memory, &[record]);
    }
}

/// Writes one batch of `thread`'s events, given as the ring's compact events
/// (in two parts when the ring wrapped); `scratch` is reused memory. The
/// in-memory copy keeps them compact (decoded when read); they are decoded
/// here only for sinks other than the trace file.
pub(crate) fn write_raw(thread: ThreadId, parts: [&[RawEvent]; 2], scratch: &mut DrainBuffers) {
    if parts.iter().all(|p| p.is_empty()) {
        return;
    }
    let st = state();
    let Some(out) = output() else { return };
    st.memory.keep_raw(thread, parts);
    if out.ended {
        return;
    }
    if let Some(file) = &out.file {
        // One frame per batch (one `write`, one checksum): a wrapped batch is joined first.
        let raws = if parts[1].is_empty() {
            parts[0]
        } else {
            scratch.raws.clear();
            scratch.raws.extend_from_slice(parts[0]);
            scratch.raws.extend_from_slice(parts[1]);
            &scratch.raws
        };
        file.write_payload(|buf| encode_events_payload(thread, raws, buf));
    } else if let Some(sink) = &out.external {
        let events = &mut scratch.events;
        events.clear();
        for r in parts.into_iter().flatten() {
            r.push_events(events);
        }
        sink.write(&[Record::Events {
            thread,
            events: events.clone(),
        }]);
    }
}

/// Writes one batch of `thread`'s events. Callers hold the thread's buffer
/// lock (or own the events outright), which keeps the batches in program order.
pub(crate) fn write_events(thread: ThreadId, events: &[Event]) {
    if events.is_empty() {
        return;
    }
    let st = state();
    if let Some(out) = output() {
        st.memory.keep_events(thread, events);
        if !out.ended
            && let Some(sink) = &out.external
        {
            sink.write(&[Record::Events {
                thread,
                events: events.to_vec(),
            }]);
        }
    }
}

/// Writes every thread's buffered events to the sink and flushes the sink.
///
/// Call it before reading a trace file of a process that is still running;
/// exits and thread ends flush on their own.
///
/// ```
/// let m = instrumented_sync::Mutex::new(1);
/// drop(m.lock());
/// instrumented_sync::flush();
/// assert!(!instrumented_sync::recorded().is_empty());
/// ```
pub fn flush() {
    if in_output() {
        return;
    }
    let st = state();
    let buffers: Vec<Arc<ThreadBuffer>> =
        lock(&st.buffers).iter().filter_map(Weak::upgrade).collect();
    for buffer in buffers {
        buffer.flush();
    }
    if let Some(out) = output()
        && let Some(sink) = &out.external
    {
        sink.flush();
    }
}

/// Sends the recording to `sink` from now on.
///
/// Buffered events are flushed to the previous sink first; the new sink then
/// receives the process, site, thread and object descriptions recorded so far,
/// followed by all later records. In-process checks ([`crate::findings`]) see
/// the whole recording whatever the sink.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let sink = instrumented_sync::FileSink::create(&dir.path().join("x.istrace")).unwrap();
/// instrumented_sync::set_sink(Box::new(sink));
/// # instrumented_sync::set_sink(Box::new(instrumented_sync::MemorySink::new()));
/// ```
pub fn set_sink(sink: Box<dyn Sink>) {
    flush();
    let Some(mut out) = output() else { return };
    if let Some(old) = &out.external {
        old.flush();
    }
    sink.write(&out.descriptions);
    let persistent = sink.is_persistent();
    out.external = Some(sink);
    out.file = None;
    out.ended = false;
    out.trace_path = None;
    drop(out);
    if persistent {
        start_flusher();
    }
}

/// Every record of this process so far (after a [`flush`]), as kept in memory:
/// the process description, sites, threads, objects and event batches.
///
/// ```
/// instrumented_sync::Mutex::new(()).lock().map(drop).unwrap();
/// let records = instrumented_sync::recorded();
/// assert!(matches!(records[0], sync_trace::Record::Process(_)));
/// ```
pub fn recorded() -> Vec<Record> {
    flush();
    state().memory.records()
}

/// How many events the in-memory copy dropped because it reached its cap
/// ([`crate::DEFAULT_MEMORY_CAP`] events, or `INSTRUMENTED_SYNC_MEMORY_CAP`).
///
/// ```
/// assert_eq!(instrumented_sync::dropped_events(), 0);
/// ```
pub fn dropped_events() -> u64 {
    state().memory.dropped_events()
}

/// The cap of the in-memory copy, in events.
pub(crate) fn memory_cap() -> u64 {
    state().memory.cap()
}

/// The trace file chosen by `INSTRUMENTED_SYNC_TRACE`, if one is being written.
///
/// ```
/// // Without the environment variable, the trace stays in memory.
/// if std::env::var_os("INSTRUMENTED_SYNC_TRACE").is_none() {
///     assert_eq!(instrumented_sync::trace_path(), None);
/// }
/// ```
pub fn trace_path() -> Option<PathBuf> {
    output().and_then(|out| out.trace_path.clone())
}

/// Flushes everything and writes `Record::End`: the trace is complete.
fn finish() {
    flush();
    let st = state();
    let Some(mut out) = output() else { return };
    if out.ended {
        return;
    }
    out.write(&st.memory, &[Record::End]);
    out.ended = true;
    if let Some(sink) = &out.external {
        sink.flush();
    }
}

/// Starts the periodic flusher once, so a trace file stays nearly complete
/// even if the process dies without running exit handlers.
fn start_flusher() {
    static STARTED: OnceLock<()> = OnceLock::new();
    let period = std::env::var(FLUSH_MS_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(100);
    if period == 0 {
        return;
    }
    STARTED.get_or_init(|| {
        let spawned = std::thread::Builder::new().name("instrumented-sync-flusher".into()).spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(period));
                flush();
            }
        });
        if let Err(e) = spawned {
            eprintln!("instrumented-sync: cannot start the trace flusher thread: {e}; traces are flushed at exit only");
        }
    });
}

unsafe extern "C" {
    /// The C standard library's exit-handler registration (ISO C `atexit`).
    fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
}

/// Runs at `exit` (a normal return from `main` or `std::process::exit`).
extern "C" fn finish_at_exit() {
    // Unwinding out of an `extern "C"` function aborts; a failed flush must not.
    let _ = std::panic::catch_unwind(finish);
}

fn register_exit_hook() {
    // SAFETY: `atexit` is ISO C's, declared with its C signature; the callback
    // is an `extern "C" fn()` that never unwinds (it catches panics) and only
    // touches `'static` state, which lives until the process ends. It is
    // exercised by the `exit_still_completes_the_trace` integration test.
    let status = unsafe { atexit(finish_at_exit) };
    if status != 0 {
        eprintln!(
            "instrumented-sync: cannot register the exit handler; call instrumented_sync::flush() before exiting"
        );
    }
}

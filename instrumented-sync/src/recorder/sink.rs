//! Where recorded batches go: a trace file, or memory.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use sync_trace::codec::{MAX_FRAME_LEN, TraceWriter, encode_frame};
use sync_trace::{Event, Record, ThreadId};

use super::raw::{RawEvent, event_count};

/// Receives the records of a recording, in an order where every description
/// (`Site`, `Thread`, `Object`) precedes the first `Events` batch using it.
///
/// The recorder calls `write` with its own internal lock held, so calls never
/// overlap. A sink must not use instrumented primitives that it expects to be
/// recorded: the recorder ignores events raised while it is writing.
///
/// ```
/// use instrumented_sync::Sink;
/// use sync_trace::{Event, Record, ThreadId};
///
/// struct CountingSink(std::sync::atomic::AtomicUsize);
/// impl Sink for CountingSink {
///     fn write(&self, records: &[Record]) {
///         self.0.fetch_add(records.len(), std::sync::atomic::Ordering::Relaxed);
///     }
/// }
/// instrumented_sync::set_sink(Box::new(CountingSink(Default::default())));
/// # instrumented_sync::set_sink(Box::new(instrumented_sync::MemorySink::new()));
/// ```
pub trait Sink: Send + Sync {
    /// Appends `records` to the recording.
    fn write(&self, records: &[Record]);

    /// Pushes buffered output to its destination (for example the file system).
    fn flush(&self) {}

    /// Whether the recording should be flushed periodically, because it
    /// outlives the process (a file does; memory does not).
    fn is_persistent(&self) -> bool {
        false
    }
}

/// The default cap of a [`MemorySink`], in events.
pub const DEFAULT_MEMORY_CAP: u64 = 8 << 20;

/// Keeps records in memory, up to a cap on the number of events; events
/// beyond the cap are counted as dropped (descriptions are always kept).
///
/// ```
/// use instrumented_sync::{MemorySink, Sink};
/// use sync_trace::{Event, Op, Record, SiteId, ThreadId};
///
/// let sink = MemorySink::with_cap(1);
/// let events = vec![Event { op: Op::Begin, site: SiteId(0) }, Event { op: Op::End, site: SiteId(0) }];
/// sink.write(&[Record::Events { thread: ThreadId(0), events }]);
/// assert_eq!(sink.dropped_events(), 1);
/// assert_eq!(sink.records().len(), 1);
/// ```
#[derive(Debug)]
pub struct MemorySink {
    records: Mutex<Vec<Kept>>,
    kept: AtomicU64,
    dropped: AtomicU64,
    warned: AtomicBool,
    cap: u64,
}

impl Default for MemorySink {
    fn default() -> Self {
        MemorySink::new()
    }
}

impl MemorySink {
    /// A sink keeping up to [`DEFAULT_MEMORY_CAP`] events.
    pub fn new() -> MemorySink {
        MemorySink::with_cap(DEFAULT_MEMORY_CAP)
    }

    /// A sink keeping up to `cap` events.
    pub fn with_cap(cap: u64) -> MemorySink {
        MemorySink {
            records: Mutex::new(Vec::new()),
            kept: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            warned: AtomicBool::new(false),
            cap,
        }
    }

    /// A copy of the records kept so far, in write order.
    pub fn records(&self) -> Vec<Record> {
        let kept = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        kept.iter()
            .map(|k| match k {
                Kept::Record(r) => r.clone(),
                Kept::Raw { thread, raws } => {
                    let mut events = Vec::with_capacity(event_count(raws));
                    for r in raws {
                        r.push_events(&mut events);
                    }
                    Record::Events {
                        thread: *thread,
                        events,
                    }
                }
            })
            .collect()
    }

    /// How many events were dropped because the cap was reached.
    pub fn dropped_events(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The most events this sink keeps.
    pub fn cap(&self) -> u64 {
        self.cap
    }

    /// How many events are kept.
    pub fn kept_events(&self) -> u64 {
        self.kept.load(Ordering::Relaxed)
    }
}

/// One kept record: ring batches stay in their compact form until read.
#[derive(Debug)]
enum Kept {
    Record(Record),
    Raw {
        thread: ThreadId,
        raws: Vec<RawEvent>,
    },
}

impl MemorySink {
    /// Keeps what fits of one batch (copying only that).
    pub(crate) fn keep_events(&self, thread: ThreadId, events: &[Event]) {
        let mut kept = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        self.keep_locked(&mut kept, thread, events);
    }

    /// Keeps one batch of a thread's ring, given in (up to) two parts, as
    /// compact events; past the cap they are only counted, never decoded.
    pub(crate) fn keep_raw(&self, thread: ThreadId, parts: [&[RawEvent]; 2]) {
        let n = (event_count(parts[0]) + event_count(parts[1])) as u64;
        if self.is_full() {
            return self.drop_events(n);
        }
        let mut kept = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if self.kept.load(Ordering::Relaxed) + n <= self.cap {
            self.kept.fetch_add(n, Ordering::Relaxed);
            let raws = [parts[0], parts[1]].concat();
            kept.push(Kept::Raw { thread, raws });
        } else {
            // The cap falls inside this batch: keep its exact prefix.
            let mut events = Vec::with_capacity(n as usize);
            for r in parts.into_iter().flatten() {
                r.push_events(&mut events);
            }
            self.keep_locked(&mut kept, thread, &events);
        }
    }

    /// Whether the cap is reached (later events are only counted).
    pub(crate) fn is_full(&self) -> bool {
        self.kept.load(Ordering::Relaxed) >= self.cap
    }

    /// Counts `n` events that were not even decoded because the cap is reached.
    pub(crate) fn drop_events(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
        self.warn_cap_reached();
    }

    fn warn_cap_reached(&self) {
        // A load first: past the cap this runs on every drain of every
        // thread, and a swap would write the shared line each time. A cap of 0
        // is the copy switched off on purpose: nothing to warn about.
        if self.cap != 0
            && !self.warned.load(Ordering::Relaxed)
            && !self.warned.swap(true, Ordering::Relaxed)
        {
            eprintln!(
                "instrumented-sync: the in-memory trace reached its cap of {} events; \
                 later events are not kept in memory, so in-process findings \
                 (findings(), assert_no_deadlock_risk()) are incomplete; a trace file \
                 (INSTRUMENTED_SYNC_TRACE) still gets every event; raise the cap with \
                 INSTRUMENTED_SYNC_MEMORY_CAP",
                self.cap
            );
        }
    }

    fn keep_locked(&self, kept: &mut Vec<Kept>, thread: ThreadId, events: &[Event]) {
        let room = self.cap.saturating_sub(self.kept.load(Ordering::Relaxed));
        let take = (events.len() as u64).min(room) as usize;
        if take < events.len() {
            self.dropped
                .fetch_add((events.len() - take) as u64, Ordering::Relaxed);
            self.warn_cap_reached();
        }
        if take > 0 {
            self.kept.fetch_add(take as u64, Ordering::Relaxed);
            kept.push(Kept::Record(Record::Events {
                thread,
                events: events[..take].to_vec(),
            }));
        }
    }
}

impl Sink for MemorySink {
    fn write(&self, records: &[Record]) {
        let mut kept = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        for record in records {
            match record {
                Record::Events { thread, events } => self.keep_locked(&mut kept, *thread, events),
                other => kept.push(Kept::Record(other.clone())),
            }
        }
    }
}

/// Writes the native trace format (see `FORMAT.md`) to a file, one frame per
/// record, each with a single `write` so a killed process leaves whole frames.
///
/// ```
/// use instrumented_sync::{FileSink, Sink};
/// use sync_trace::{Event, Record, ThreadId};
///
/// let dir = tempfile::tempdir().unwrap();
/// let sink = FileSink::create(&dir.path().join("t.istrace")).unwrap();
/// sink.write(&[Record::End]);
/// ```
pub struct FileSink {
    path: PathBuf,
    /// `None` after a write failed (recording to the file stops).
    writer: Mutex<Option<FileWriter>>,
}

/// The file after its header, and the buffer each frame is built in.
struct FileWriter {
    file: File,
    frame: Vec<u8>,
}

impl FileSink {
    /// Creates (or truncates) `path`, creating its directory, and writes the header.
    pub fn create(path: &Path) -> io::Result<FileSink> {
        let annotate = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(annotate)?;
        }
        let file = File::create(path).map_err(annotate)?;
        let file = TraceWriter::new(file).map_err(annotate)?.into_inner();
        Ok(FileSink {
            path: path.to_owned(),
            writer: Mutex::new(Some(FileWriter {
                file,
                frame: Vec::with_capacity(64 << 10),
            })),
        })
    }

    /// Appends one frame whose payload `encode` appends to the buffer it is given
    /// (a postcard-encoded `Record`), with a single `write` call.
    pub(crate) fn write_payload(&self, encode: impl FnOnce(&mut Vec<u8>)) {
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(w) = writer.as_mut() else { return };
        w.frame.clear();
        w.frame.extend_from_slice(&[0; 8]);
        encode(&mut w.frame);
        let result = match u32::try_from(w.frame.len() - 8) {
            Ok(len) if len <= MAX_FRAME_LEN => {
                let crc = crc32fast::hash(&w.frame[8..]);
                w.frame[..4].copy_from_slice(&len.to_le_bytes());
                w.frame[4..8].copy_from_slice(&crc.to_le_bytes());
                w.file.write_all(&w.frame)
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "record too large for one frame",
            )),
        };
        if let Err(e) = result {
            self.stop(&mut writer, &e);
        }
    }

    /// A broken trace file must not break the program: say so once and stop writing.
    fn stop(&self, writer: &mut Option<FileWriter>, e: &io::Error) {
        eprintln!(
            "instrumented-sync: {}: cannot write the trace, recording stops: {e}",
            self.path.display()
        );
        *writer = None;
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl std::fmt::Debug for FileSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSink")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The `INSTRUMENTED_SYNC_TRACE` file, shared with the recorder's direct encoder.
impl Sink for std::sync::Arc<FileSink> {
    fn write(&self, records: &[Record]) {
        FileSink::write(self, records);
    }

    fn flush(&self) {
        FileSink::flush(self);
    }

    fn is_persistent(&self) -> bool {
        true
    }
}

impl Sink for FileSink {
    fn write(&self, records: &[Record]) {
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        for record in records {
            let Some(w) = writer.as_mut() else { return };
            let result =
                encode_frame(record, &mut w.frame).and_then(|()| w.file.write_all(&w.frame));
            if let Err(e) = result {
                self.stop(&mut writer, &e);
                return;
            }
        }
    }

    fn flush(&self) {
        if let Some(w) = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            let _ = w.file.flush();
        }
    }

    fn is_persistent(&self) -> bool {
        true
    }
}

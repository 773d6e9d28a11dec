//! The trace: the data `instrumented-sync` records and `analyzer` reads.
//!
//! A trace file is a header followed by [`Record`]s. Records describe the
//! process, the source sites, threads and synchronisation objects once, and
//! then carry the [`Event`]s of each thread in batches. Every event refers to
//! objects, threads and sites by small integer ids, which keeps the encoding
//! compact (see [`codec`] and `FORMAT.md`).
//!
//! ```
//! use sync_trace::{codec::{TraceWriter, TraceReader}, Record, SiteId, Site};
//!
//! let mut bytes = Vec::new();
//! let mut w = TraceWriter::new(&mut bytes).unwrap();
//! w.write(&Record::Site(Site { id: SiteId(1), file: "src/main.rs".into(), line: 3, column: 9 })).unwrap();
//! drop(w);
//! let records: Vec<_> = TraceReader::new(&bytes[..]).unwrap().map(|r| r.unwrap().1).collect();
//! assert_eq!(records.len(), 1);
//! ```

pub mod codec;
pub mod event;
pub mod jsonl;
pub mod record;
pub mod wire;

pub use event::{Attempt, Event, MemoryOrder, Mode, ObjectId, Op, SiteId, ThreadId};
pub use record::{ObjectInfo, ObjectKind, ProcessInfo, Record, Site, ThreadInfo};

//! Records: the units of a trace file.

use serde::{Deserialize, Serialize};

use crate::event::{Event, ObjectId, SiteId, ThreadId};

/// One unit of a trace file. Descriptions (`Site`, `Thread`, `Object`) come
/// before the first `Events` that use their ids.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Record {
    /// The recorded process; the first record of a file.
    Process(ProcessInfo),
    /// A source location.
    Site(Site),
    /// A thread.
    Thread(ThreadInfo),
    /// A synchronisation object or shared variable.
    Object(ObjectInfo),
    /// Events of one thread, in program order, continuing its previous batch.
    Events {
        /// The thread that did them.
        thread: ThreadId,
        /// The events.
        events: Vec<Event>,
    },
    /// A finding observed at run time (for example an observed deadlock), as JSON.
    Observed {
        /// The finding kind, for example `observed-deadlock`.
        kind: String,
        /// A one-line message.
        message: String,
        /// The structured report, as a JSON document.
        json: String,
    },
    /// The recording ended cleanly; nothing follows.
    End,
}

/// The recorded process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInfo {
    /// Operating-system process id.
    pub pid: u32,
    /// Program name (`argv[0]` file name).
    pub program: String,
}

/// A source location.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Site {
    /// Its id in this trace.
    pub id: SiteId,
    /// Source file, as the compiler names it.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

/// A thread.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadInfo {
    /// Its id in this trace.
    pub id: ThreadId,
    /// Its name, when it has one (`main`, or set with `Builder::name`).
    pub name: Option<String>,
}

/// What kind of object an [`ObjectId`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ObjectKind {
    /// A mutex.
    Mutex,
    /// A reader-writer lock.
    RwLock,
    /// A lock the holder may take again (Java monitors, `ReentrantMutex`).
    ReentrantMutex,
    /// A spin lock.
    SpinLock,
    /// A condition variable.
    Condvar,
    /// A barrier.
    Barrier,
    /// A counting semaphore.
    Semaphore,
    /// A channel.
    Channel,
    /// A one-time initialisation cell.
    Once,
    /// A shared variable (instrumented cell or atomic).
    Variable,
}

/// A synchronisation object or variable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectInfo {
    /// Its id in this trace.
    pub id: ObjectId,
    /// What it is.
    pub kind: ObjectKind,
    /// Its class: where it was constructed.
    pub class: SiteId,
    /// The name a user gave it, if any.
    pub name: Option<String>,
}

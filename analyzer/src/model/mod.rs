//! The trace as the analyses see it: interned threads, objects and sites, and
//! one global sequence of events in an order consistent with what ran.
//!
//! Every input format (native, JSON Lines, RAPID STD, RapidBin) is loaded into
//! this one model by [`crate::trace`]; the analyses never see a file format.

pub mod fast_hash;

use std::fmt;

use serde::Serialize;

use fast_hash::FastHashMap;

pub use sync_trace::{Attempt, MemoryOrder, Mode, ObjectKind};

/// Index of a thread in [`Trace::threads`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ThreadIdx(pub u32);

/// Index of an object (lock, condvar, variable, …) in [`Trace::objects`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjIdx(pub u32);

/// Index of a source site in [`Trace::sites`]. Index 0 is always the unknown site.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SiteIdx(pub u32);

impl SiteIdx {
    /// The unknown site, present in every trace at index 0.
    pub const UNKNOWN: SiteIdx = SiteIdx(0);
}

/// A thread (or, for async traces, a task).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thread {
    /// Display name: the recorded name (`main`, `worker-2`) or the trace's own (`T3`).
    pub name: String,
}

/// A lock, condvar, barrier, channel or shared variable instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// Display name: the user's name, the trace's own name (`L34`), or a generated one.
    pub name: String,
    /// What it is.
    pub kind: ObjectKind,
    /// Its class: the construction site (unknown for foreign traces).
    pub class: SiteIdx,
    /// Whether `name` was given by the user (as opposed to generated).
    pub user_named: bool,
}

/// A source location.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Site {
    /// Source file; `None` for foreign traces whose locations are bare numbers.
    pub file: Option<String>,
    /// Line (or the foreign location id when `file` is `None`).
    pub line: u32,
    /// Column, 0 when unknown.
    pub column: u32,
}

impl Site {
    /// The unknown site.
    pub fn unknown() -> Site {
        Site {
            file: None,
            line: 0,
            column: 0,
        }
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) if self.column > 0 => write!(f, "{file}:{}:{}", self.line, self.column),
            Some(file) => write!(f, "{file}:{}", self.line),
            None if self.line == 0 => f.write_str("<unknown>"),
            None => write!(f, "loc {}", self.line),
        }
    }
}

/// What one event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// About to wait for `lock` (blocking or timed acquisition).
    Request {
        /// The lock.
        lock: ObjIdx,
        /// The mode requested.
        mode: Mode,
    },
    /// Took `lock`.
    Acquire {
        /// The lock.
        lock: ObjIdx,
        /// The mode held.
        mode: Mode,
        /// How it was attempted.
        attempt: Attempt,
    },
    /// A try or timed acquisition that failed.
    TryFailed {
        /// The lock.
        lock: ObjIdx,
        /// The mode asked for.
        mode: Mode,
    },
    /// Released `lock`.
    Release {
        /// The lock.
        lock: ObjIdx,
        /// The mode it was held in.
        mode: Mode,
    },
    /// Read a shared variable (plain, not atomic).
    Read {
        /// The variable.
        var: ObjIdx,
    },
    /// Wrote a shared variable (plain, not atomic).
    Write {
        /// The variable.
        var: ObjIdx,
    },
    /// An atomic access.
    Atomic {
        /// The variable.
        var: ObjIdx,
        /// A store or read-modify-write?
        write: bool,
        /// Its memory ordering.
        order: MemoryOrder,
        /// Version read or written (reads-from).
        version: u64,
    },
    /// Spawned `child`.
    Fork {
        /// The new thread.
        child: ThreadIdx,
    },
    /// Joined `child`.
    Join {
        /// The joined thread.
        child: ThreadIdx,
    },
    /// First event of a thread.
    Begin,
    /// Last event of a thread.
    End,
    /// A branch (RAPID traces); no synchronisation meaning.
    Branch,
    /// Began waiting on `condvar`, releasing `lock` (the release is its own event).
    Wait {
        /// The condition variable.
        condvar: ObjIdx,
        /// The mutex.
        lock: ObjIdx,
        /// Has a timeout.
        timed: bool,
    },
    /// Woke from a wait on `condvar` (the re-acquisition is its own event).
    Wake {
        /// The condition variable.
        condvar: ObjIdx,
        /// Notifications sent on `condvar` before this wake.
        notified_seen: u64,
        /// Ended by timeout.
        timed_out: bool,
    },
    /// `notify_one` / `notify_all`.
    Notify {
        /// The condition variable.
        condvar: ObjIdx,
        /// `notify_all`?
        all: bool,
        /// 1-based notification number on `condvar`.
        seq: u64,
    },
    /// Arrived at a barrier.
    BarrierArrive {
        /// The barrier.
        barrier: ObjIdx,
        /// Which filling.
        generation: u64,
    },
    /// Left a barrier.
    BarrierDepart {
        /// The barrier.
        barrier: ObjIdx,
        /// Which filling.
        generation: u64,
    },
    /// Sent message `seq` on a channel.
    Send {
        /// The channel.
        channel: ObjIdx,
        /// Message number.
        seq: u64,
    },
    /// Received message `seq` from a channel.
    Recv {
        /// The channel.
        channel: ObjIdx,
        /// Message number.
        seq: u64,
    },
}

/// One event: a thread did `op` at `site`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Event {
    /// Who.
    pub thread: ThreadIdx,
    /// What.
    pub op: Op,
    /// Where.
    pub site: SiteIdx,
}

/// Where in an input file something is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Position {
    /// 1-based line of a text trace.
    Line(u64),
    /// Byte offset in a binary trace.
    Byte(u64),
    /// 0-based index into [`Trace::events`].
    Event(usize),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Line(n) => write!(f, "line {n}"),
            Position::Byte(n) => write!(f, "byte {n}"),
            Position::Event(n) => write!(f, "event {n}"),
        }
    }
}

/// Something odd in the input that the loader tolerated.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Warning {
    /// The input file.
    pub file: String,
    /// Where in it, when known.
    pub position: Option<Position>,
    /// What was odd and what was done about it.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(p) => write!(f, "{}: {p}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// A finding the recorded program observed at run time (for example a deadlock it hit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedReport {
    /// Finding kind, for example `observed-deadlock`.
    pub kind: String,
    /// One-line message.
    pub message: String,
    /// Structured report as JSON text.
    pub json: String,
}

/// A loaded trace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// Where it came from (a path, for messages and reports).
    pub source: String,
    /// Threads, indexed by [`ThreadIdx`].
    pub threads: Vec<Thread>,
    /// Objects, indexed by [`ObjIdx`].
    pub objects: Vec<Object>,
    /// Sites, indexed by [`SiteIdx`]; index 0 is the unknown site.
    pub sites: Vec<Site>,
    /// All events, in one order consistent with per-thread order and synchronisation.
    pub events: Vec<Event>,
    /// What the loader tolerated.
    pub warnings: Vec<Warning>,
    /// Findings observed at run time.
    pub observed: Vec<ObservedReport>,
}

impl Trace {
    /// An empty trace whose site table holds the unknown site.
    pub fn new(source: impl Into<String>) -> Trace {
        Trace {
            source: source.into(),
            sites: vec![Site::unknown()],
            ..Trace::default()
        }
    }

    /// The thread at `t`.
    pub fn thread(&self, t: ThreadIdx) -> &Thread {
        &self.threads[t.0 as usize]
    }

    /// The object at `o`.
    pub fn object(&self, o: ObjIdx) -> &Object {
        &self.objects[o.0 as usize]
    }

    /// The site at `s`.
    pub fn site(&self, s: SiteIdx) -> &Site {
        &self.sites[s.0 as usize]
    }

    /// Whether `o` is a lock of any kind.
    pub fn is_lock(&self, o: ObjIdx) -> bool {
        matches!(
            self.object(o).kind,
            ObjectKind::Mutex
                | ObjectKind::RwLock
                | ObjectKind::ReentrantMutex
                | ObjectKind::SpinLock
        )
    }
}

/// Builds a [`Trace`], interning names so equal names get one index. Loaders use it.
#[derive(Debug, Default)]
pub struct TraceBuilder {
    trace: Trace,
    thread_ids: FastHashMap<String, ThreadIdx>,
    /// Locks (and other non-variables) at 0, variables at 1: separate maps so that a
    /// lookup borrows the name instead of allocating a `(String, bool)` key.
    object_ids: [FastHashMap<String, ObjIdx>; 2],
    site_ids: FastHashMap<Site, SiteIdx>,
}

impl TraceBuilder {
    /// Starts a trace read from `source`.
    pub fn new(source: impl Into<String>) -> TraceBuilder {
        let trace = Trace::new(source);
        let mut site_ids = FastHashMap::default();
        site_ids.insert(Site::unknown(), SiteIdx::UNKNOWN);
        TraceBuilder {
            trace,
            site_ids,
            ..TraceBuilder::default()
        }
    }

    /// The thread named `name`, created on first use.
    pub fn thread(&mut self, name: &str) -> ThreadIdx {
        if let Some(&t) = self.thread_ids.get(name) {
            return t;
        }
        let t = ThreadIdx(self.trace.threads.len() as u32);
        self.trace.threads.push(Thread {
            name: name.to_owned(),
        });
        self.thread_ids.insert(name.to_owned(), t);
        t
    }

    /// The object named `name` of `kind`, created on first use. Locks and
    /// variables live in separate namespaces, as in RAPID traces.
    pub fn object(&mut self, name: &str, kind: ObjectKind) -> ObjIdx {
        let is_var = kind == ObjectKind::Variable;
        if let Some(&o) = self.object_ids[usize::from(is_var)].get(name) {
            return o;
        }
        let o = ObjIdx(self.trace.objects.len() as u32);
        self.trace.objects.push(Object {
            name: name.to_owned(),
            kind,
            class: SiteIdx::UNKNOWN,
            user_named: false,
        });
        self.object_ids[usize::from(is_var)].insert(name.to_owned(), o);
        o
    }

    /// The interned `site`.
    pub fn site(&mut self, site: Site) -> SiteIdx {
        if let Some(&s) = self.site_ids.get(&site) {
            return s;
        }
        let s = SiteIdx(self.trace.sites.len() as u32);
        self.trace.sites.push(site.clone());
        self.site_ids.insert(site, s);
        s
    }

    /// Mutable access to the trace under construction (to set kinds, classes, names).
    pub fn trace_mut(&mut self) -> &mut Trace {
        &mut self.trace
    }

    /// Appends an event.
    pub fn push(&mut self, event: Event) {
        self.trace.events.push(event);
    }

    /// Records a warning at `position`.
    pub fn warn(&mut self, position: Option<Position>, message: impl Into<String>) {
        let file = self.trace.source.clone();
        self.trace.warnings.push(Warning {
            file,
            position,
            message: message.into(),
        });
    }

    /// The finished trace.
    pub fn finish(self) -> Trace {
        self.trace
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_interns_names_per_namespace() {
        let mut b = TraceBuilder::new("t.std");
        let l = b.object("34", ObjectKind::Mutex);
        let v = b.object("34", ObjectKind::Variable);
        assert_ne!(l, v);
        assert_eq!(b.object("34", ObjectKind::Mutex), l);
        assert_eq!(b.thread("T1"), b.thread("T1"));
        let s = b.site(Site {
            file: None,
            line: 9,
            column: 0,
        });
        assert_eq!(b.finish().site(s).to_string(), "loc 9");
    }
}

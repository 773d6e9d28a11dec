//! The model builder shared by the RAPID readers (STD text and RapidBin):
//! events arrive in one global order and are appended as they come, with
//! Java monitor semantics for `wait`.
//!
//! # `wait(m)` rule
//!
//! Java's `Object.wait` releases the monitor completely and re-acquires it on
//! wake-up. The recorders of the shared traces write `rel(m)` before
//! `wait(m)` and `req(m)`/`acq(m)` after the wake, but only for one level of a
//! nested (reentrant) hold. So a `wait(m)` becomes:
//!
//! * `Wait { condvar: m, lock: m }`, then one synthetic `Release` of `m` for
//!   every level the thread still holds (none in the usual case);
//! * the wake is placed right before the thread's next event: a `Wake` whose
//!   `notified_seen` counts the notifications of `m` so far; then the levels
//!   released synthetically are re-acquired by synthetic `Acquire`s, placed
//!   right after the thread's explicit `acq(m)` when its next events are
//!   `req(m)`/`acq(m)`, or right after the `Wake` otherwise.
//!
//! A thread whose last event is a `wait` never wakes (it is blocked forever).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::LoadError;
use super::wellformed::{self, Checker};
use crate::model::fast_hash::FastHashMap;
use crate::model::{
    Attempt, Event, Mode, ObjIdx, ObjectKind, Op, Position, Site, SiteIdx, ThreadIdx, Trace,
    TraceBuilder,
};

/// One RAPID event with its operands resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ForeignOp {
    /// `acq(l)`.
    Acquire(ObjIdx),
    /// `rel(l)`.
    Release(ObjIdx),
    /// `req(l)`.
    Request(ObjIdx),
    /// `r(v)`.
    Read(ObjIdx),
    /// `w(v)`.
    Write(ObjIdx),
    /// `fork(t)`.
    Fork(ThreadIdx),
    /// `join(t)`.
    Join(ThreadIdx),
    /// `begin`.
    Begin,
    /// `end`.
    End,
    /// `branch`.
    Branch,
    /// `wait(m)`.
    Wait(ObjIdx),
    /// `notify(m)` (`false`) or `notifyAll(m)` (`true`).
    Notify(ObjIdx, bool),
}

#[derive(Clone, Copy, Debug)]
struct PendingWake {
    monitor: ObjIdx,
    /// Levels released synthetically at the wait, to re-acquire after the wake.
    restore: u32,
    site: SiteIdx,
}

/// Builds a model from RAPID events in trace order.
pub(crate) struct ForeignLoader {
    builder: TraceBuilder,
    locks: FastHashMap<String, ObjIdx>,
    vars: FastHashMap<String, ObjIdx>,
    sites: FastHashMap<u32, SiteIdx>,
    checker: Checker,
    waking: HashMap<ThreadIdx, PendingWake>,
    restoring: HashMap<ThreadIdx, PendingWake>,
    notifies: HashMap<ObjIdx, u64>,
    strict: bool,
    file: PathBuf,
    /// The thread of the previous event, by name.
    last_thread: Option<(String, ThreadIdx)>,
}

const ACQUIRE_MODE: Mode = Mode::Write;

impl ForeignLoader {
    /// A loader for `file`, shown as `source`.
    pub fn new(source: &str, file: &Path, strict: bool) -> ForeignLoader {
        ForeignLoader {
            builder: TraceBuilder::new(source),
            locks: FastHashMap::default(),
            vars: FastHashMap::default(),
            sites: FastHashMap::default(),
            checker: Checker::default(),
            waking: HashMap::new(),
            restoring: HashMap::new(),
            notifies: HashMap::new(),
            strict,
            file: file.to_owned(),
            last_thread: None,
        }
    }

    /// The thread named `name` (no allocation once known).
    pub fn thread(&mut self, name: &str) -> ThreadIdx {
        // Consecutive events mostly come from one thread: compare before hashing.
        if let Some((last, t)) = &self.last_thread
            && last == name
        {
            return *t;
        }
        let t = self.builder.thread(name);
        match &mut self.last_thread {
            Some((last, idx)) => {
                last.clear();
                last.push_str(name);
                *idx = t;
            }
            None => self.last_thread = Some((name.to_owned(), t)),
        }
        t
    }

    /// The Java monitor named `name`.
    pub fn lock(&mut self, name: &str) -> ObjIdx {
        // Own cache: looking up by &str avoids allocating a key per event.
        if let Some(&o) = self.locks.get(name) {
            return o;
        }
        let o = self.builder.object(name, ObjectKind::ReentrantMutex);
        self.locks.insert(name.to_owned(), o);
        o
    }

    /// The variable named `name`.
    pub fn var(&mut self, name: &str) -> ObjIdx {
        if let Some(&o) = self.vars.get(name) {
            return o;
        }
        let o = self.builder.object(name, ObjectKind::Variable);
        self.vars.insert(name.to_owned(), o);
        o
    }

    /// The site of location id `loc`.
    pub fn site(&mut self, loc: u32) -> SiteIdx {
        if let Some(&s) = self.sites.get(&loc) {
            return s;
        }
        let s = self.builder.site(Site {
            file: None,
            line: loc,
            column: 0,
        });
        self.sites.insert(loc, s);
        s
    }

    /// Makes room for `n` more events.
    pub fn reserve(&mut self, n: usize) {
        self.builder.trace_mut().events.reserve(n);
    }

    /// Records a warning that is not about one event's lock discipline.
    pub fn warn(&mut self, position: Position, message: impl Into<String>) {
        self.builder.warn(Some(position), message);
    }

    fn emit(
        &mut self,
        thread: ThreadIdx,
        op: Op,
        site: SiteIdx,
        position: Position,
    ) -> Result<(), LoadError> {
        let event = Event { thread, op, site };
        let trace = self.builder.trace_mut();
        if let Some(problem) = self.checker.observe(trace, &event, position) {
            wellformed::report(trace, &self.file, self.strict, position, problem)?;
        }
        self.builder.push(event);
        Ok(())
    }

    fn acquire(lock: ObjIdx) -> Op {
        Op::Acquire {
            lock,
            mode: ACQUIRE_MODE,
            attempt: Attempt::Blocking,
        }
    }

    fn restore(
        &mut self,
        thread: ThreadIdx,
        pending: PendingWake,
        position: Position,
    ) -> Result<(), LoadError> {
        for _ in 0..pending.restore {
            self.emit(
                thread,
                Self::acquire(pending.monitor),
                pending.site,
                position,
            )?;
        }
        Ok(())
    }

    /// Appends one RAPID event of `thread` read at `position`.
    pub fn event(
        &mut self,
        thread: ThreadIdx,
        op: ForeignOp,
        site: SiteIdx,
        position: Position,
    ) -> Result<(), LoadError> {
        if !self.waking.is_empty()
            && let Some(w) = self.waking.remove(&thread)
        {
            let notified_seen = self.notifies.get(&w.monitor).copied().unwrap_or(0);
            let wake = Op::Wake {
                condvar: w.monitor,
                notified_seen,
                timed_out: false,
            };
            self.emit(thread, wake, w.site, position)?;
            if w.restore > 0 {
                match op {
                    ForeignOp::Request(l) | ForeignOp::Acquire(l) if l == w.monitor => {
                        self.restoring.insert(thread, w);
                    }
                    _ => self.restore(thread, w, position)?,
                }
            }
        }
        if !self.restoring.is_empty()
            && let Some(w) = self.restoring.get(&thread).copied()
        {
            match op {
                ForeignOp::Request(l) if l == w.monitor => {}
                ForeignOp::Acquire(l) if l == w.monitor => {}
                _ => {
                    self.restoring.remove(&thread);
                    self.restore(thread, w, position)?;
                }
            }
        }
        let model_op = match op {
            ForeignOp::Acquire(lock) => Self::acquire(lock),
            ForeignOp::Release(lock) => Op::Release {
                lock,
                mode: ACQUIRE_MODE,
            },
            ForeignOp::Request(lock) => Op::Request {
                lock,
                mode: ACQUIRE_MODE,
            },
            ForeignOp::Read(var) => Op::Read { var },
            ForeignOp::Write(var) => Op::Write { var },
            ForeignOp::Fork(child) => Op::Fork { child },
            ForeignOp::Join(child) => Op::Join { child },
            ForeignOp::Begin => Op::Begin,
            ForeignOp::End => Op::End,
            ForeignOp::Branch => Op::Branch,
            ForeignOp::Wait(m) => Op::Wait {
                condvar: m,
                lock: m,
                timed: false,
            },
            ForeignOp::Notify(m, all) => {
                let n = self.notifies.entry(m).or_insert(0);
                *n += 1;
                Op::Notify {
                    condvar: m,
                    all,
                    seq: *n,
                }
            }
        };
        self.emit(thread, model_op, site, position)?;
        match op {
            ForeignOp::Acquire(l) if !self.restoring.is_empty() => {
                if let Some(w) = self.restoring.get(&thread).copied()
                    && w.monitor == l
                {
                    self.restoring.remove(&thread);
                    self.restore(thread, w, position)?;
                }
            }
            ForeignOp::Wait(m) => {
                let held = self.checker.depth(thread, m);
                for _ in 0..held {
                    self.emit(
                        thread,
                        Op::Release {
                            lock: m,
                            mode: ACQUIRE_MODE,
                        },
                        site,
                        position,
                    )?;
                }
                self.waking.insert(
                    thread,
                    PendingWake {
                        monitor: m,
                        restore: held,
                        site,
                    },
                );
            }
            _ => {}
        }
        Ok(())
    }

    /// The finished trace, with end-of-trace warnings.
    pub fn finish(mut self) -> Result<Trace, LoadError> {
        let trace = self.builder.trace_mut();
        for (position, problem) in self.checker.finish(trace) {
            wellformed::report(trace, &self.file, self.strict, position, problem)?;
        }
        Ok(self.builder.finish())
    }
}

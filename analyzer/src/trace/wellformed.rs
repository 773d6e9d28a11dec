//! Lock discipline and fork/join sanity, checked over events in trace order.
//!
//! Lock problems (releasing an unheld lock, acquiring a lock another thread
//! holds, re-acquiring a non-reentrant lock) are warnings, or errors in strict
//! mode. Fork/join problems are always warnings: the `_dlf` traces name fork
//! operands that do not match the threads that run, so their ordering is
//! simply unknown rather than wrong.

use std::path::Path;

use super::LoadError;
use crate::model::{Event, Mode, ObjIdx, ObjectKind, Op, Position, ThreadIdx, Trace};

/// Something ill-formed at one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    /// A lock-discipline violation (an error in strict mode), as opposed to unknown ordering.
    pub lock: bool,
    /// What is wrong and what the loader does about it.
    pub message: String,
}

#[derive(Clone, Copy, Debug)]
struct Hold {
    thread: ThreadIdx,
    mode: Mode,
    depth: u32,
}

/// Streaming checker: feed every event in trace order.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    /// Current holders per lock, indexed by object (dense ids: no hashing per event).
    holds: Vec<Vec<Hold>>,
    /// Threads that have had an event so far.
    started: Vec<bool>,
    /// Every fork seen, to report children that never run.
    forks: Vec<(ThreadIdx, ThreadIdx, Position)>,
}

fn conflicts(held: Mode, wanted: Mode) -> bool {
    !matches!(
        (held, wanted),
        (Mode::Read, Mode::Read) | (Mode::Read, Mode::Upgradable) | (Mode::Upgradable, Mode::Read)
    )
}

impl Checker {
    /// The holders of `lock`, growing the table to the trace's objects on first use.
    fn holds_of(&mut self, trace: &Trace, lock: ObjIdx) -> &mut Vec<Hold> {
        let i = lock.0 as usize;
        if self.holds.len() <= i {
            self.holds
                .resize_with(trace.objects.len().max(i + 1), Vec::new);
        }
        &mut self.holds[i]
    }

    /// How many times `thread` holds `lock` (all modes).
    pub fn depth(&self, thread: ThreadIdx, lock: ObjIdx) -> u32 {
        self.holds.get(lock.0 as usize).map_or(0, |h| {
            h.iter()
                .filter(|h| h.thread == thread)
                .map(|h| h.depth)
                .sum()
        })
    }

    /// Marks `t` as having had an event, without checking anything.
    fn mark_started(&mut self, t: ThreadIdx) {
        let i = t.0 as usize;
        if self.started.len() <= i {
            self.started.resize(i + 1, false);
        }
        self.started[i] = true;
    }

    fn started(&self, t: ThreadIdx) -> bool {
        self.started.get(t.0 as usize).copied().unwrap_or(false)
    }

    /// Checks `event` at `position` and updates the lock state. Tolerant: the
    /// event is always applied (a conflicting acquisition adds a holder, an
    /// unmatched release is ignored).
    pub fn observe(&mut self, trace: &Trace, event: &Event, position: Position) -> Option<Problem> {
        let t = event.thread;
        let thread_name = |t: ThreadIdx| {
            trace
                .threads
                .get(t.0 as usize)
                .map_or("?", |x| x.name.as_str())
        };
        let obj_name = |o: ObjIdx| {
            trace
                .objects
                .get(o.0 as usize)
                .map_or("?", |x| x.name.as_str())
        };
        let mut problem = None;
        match event.op {
            Op::Acquire { lock, mode, .. } => {
                let holds = self.holds_of(trace, lock);
                let reentrant = trace
                    .objects
                    .get(lock.0 as usize)
                    .is_some_and(|o| o.kind == ObjectKind::ReentrantMutex);
                if let Some(other) = holds
                    .iter()
                    .find(|h| h.thread != t && conflicts(h.mode, mode))
                {
                    problem = Some(Problem {
                        lock: true,
                        message: format!(
                            "{} acquires {}, which {} still holds (kept as is)",
                            thread_name(t),
                            obj_name(lock),
                            thread_name(other.thread)
                        ),
                    });
                } else if !reentrant && mode != Mode::Read && holds.iter().any(|h| h.thread == t) {
                    problem = Some(Problem {
                        lock: true,
                        message: format!(
                            "{} acquires {} again while holding it, but it is not reentrant",
                            thread_name(t),
                            obj_name(lock)
                        ),
                    });
                }
                match holds.iter_mut().find(|h| h.thread == t && h.mode == mode) {
                    Some(h) => h.depth += 1,
                    None => holds.push(Hold {
                        thread: t,
                        mode,
                        depth: 1,
                    }),
                }
            }
            Op::Release { lock, mode } => {
                let holds = self.holds_of(trace, lock);
                // Prefer the mode released; a mismatched mode still releases the thread's hold.
                let index = holds
                    .iter()
                    .position(|h| h.thread == t && h.mode == mode)
                    .or_else(|| holds.iter().position(|h| h.thread == t));
                match index {
                    Some(i) => {
                        holds[i].depth -= 1;
                        if holds[i].depth == 0 {
                            holds.swap_remove(i);
                        }
                    }
                    None => {
                        problem = Some(Problem {
                            lock: true,
                            message: format!(
                                "{} releases {}, which it does not hold (ignored)",
                                thread_name(t),
                                obj_name(lock)
                            ),
                        });
                    }
                }
            }
            Op::Fork { child } => {
                if self.started(child) {
                    problem = Some(Problem {
                        lock: false,
                        message: format!(
                            "{} forks {}, which has already run; the fork's ordering is unknown",
                            thread_name(t),
                            thread_name(child)
                        ),
                    });
                }
                self.forks.push((t, child, position));
            }
            Op::Join { child } if !self.started(child) => {
                problem = Some(Problem {
                    lock: false,
                    message: format!(
                        "{} joins {}, which has no events before the join; the join's ordering is unknown",
                        thread_name(t),
                        thread_name(child)
                    ),
                });
            }
            _ => {}
        }
        // A bare `begin` does not start a thread: RAPID traces open every thread
        // with one at the top, before the fork that starts it.
        if !matches!(event.op, Op::Begin) {
            let i = t.0 as usize;
            if self.started.len() <= i {
                self.started.resize(i + 1, false);
            }
            self.started[i] = true;
        }
        problem
    }

    /// Problems only visible at the end: forked threads that never ran.
    pub fn finish(&self, trace: &Trace) -> Vec<(Position, Problem)> {
        let name = |t: ThreadIdx| {
            trace
                .threads
                .get(t.0 as usize)
                .map_or("?", |x| x.name.as_str())
        };
        self.forks
            .iter()
            .filter(|(_, child, _)| !self.started(*child))
            .map(|&(parent, child, position)| {
                let message = format!(
                    "{} forks {}, which never runs in this trace; the fork's ordering is unknown",
                    name(parent),
                    name(child)
                );
                (
                    position,
                    Problem {
                        lock: false,
                        message,
                    },
                )
            })
            .collect()
    }
}

/// Turns a problem into a warning on `trace`, or into an error in strict mode.
pub(crate) fn report(
    trace: &mut Trace,
    file: &Path,
    strict: bool,
    position: Position,
    problem: Problem,
) -> Result<(), LoadError> {
    if strict && problem.lock {
        return Err(LoadError::new(
            file,
            Some(position),
            format!("ill-formed trace: {}", problem.message),
        ));
    }
    let file = trace.source.clone();
    trace.warnings.push(crate::model::Warning {
        file,
        position: Some(position),
        message: problem.message,
    });
    Ok(())
}

/// Traces with at least this many events are checked on two threads.
const PARALLEL_CHECK_MIN_EVENTS: usize = 1 << 16;

/// Whether `event` is checked by the second thread of [`check_trace`]: acquisitions and
/// releases of odd-numbered locks. A lock's problems depend only on its own events (its
/// holders), so the locks can be split between two checkers.
fn on_second(event: &Event) -> bool {
    matches!(event.op, Op::Acquire { lock, .. } | Op::Release { lock, .. } if lock.0 % 2 == 1)
}

/// The problems of `events` (those for which `take` holds; the others only mark their
/// thread as started), in event order, stopping after the first lock problem when `strict`.
fn problems_of(
    trace: &Trace,
    strict: bool,
    take: impl Fn(&Event) -> bool,
) -> (Checker, Vec<(usize, Problem)>) {
    let mut checker = Checker::default();
    let mut problems = Vec::new();
    for (i, event) in trace.events.iter().enumerate() {
        if !take(event) {
            checker.mark_started(event.thread);
            continue;
        }
        if let Some(p) = checker.observe(trace, event, Position::Event(i)) {
            let stop = strict && p.lock;
            problems.push((i, p));
            if stop {
                break;
            }
        }
    }
    (checker, problems)
}

/// Checks a whole loaded trace, with event indices as positions. A large trace is
/// checked on two threads, each taking half of the locks; their problems are merged in
/// event order, so warnings and the strict-mode error are those of one checker.
pub(crate) fn check_trace(trace: &mut Trace, file: &Path, strict: bool) -> Result<(), LoadError> {
    let parallel = trace.events.len() >= PARALLEL_CHECK_MIN_EVENTS;
    check_trace_split(trace, file, strict, parallel)
}

/// [`check_trace`] on two threads (`parallel`) or one.
fn check_trace_split(
    trace: &mut Trace,
    file: &Path,
    strict: bool,
    parallel: bool,
) -> Result<(), LoadError> {
    let shared: &Trace = trace;
    let (checker, problems) = if parallel {
        std::thread::scope(|scope| {
            let second = scope.spawn(|| problems_of(shared, strict, on_second).1);
            let (checker, mut problems) = problems_of(shared, strict, |e| !on_second(e));
            let more = second
                .join()
                .unwrap_or_else(|payload| std::panic::resume_unwind(payload));
            // One problem per event at most, so merging by index is the single checker's order.
            problems.extend(more);
            problems.sort_by_key(|&(i, _)| i);
            (checker, problems)
        })
    } else {
        problems_of(shared, strict, |_| true)
    };
    if let Some(k) = problems.iter().position(|(_, p)| strict && p.lock) {
        let (i, p) = &problems[k];
        return Err(LoadError::new(
            file,
            Some(Position::Event(*i)),
            format!("ill-formed trace: {}", p.message),
        ));
    }
    // Problems of forks whose children never ran follow every event's problems.
    let finish = checker.finish(trace);
    let all = problems
        .into_iter()
        .map(|(i, p)| (Position::Event(i), p))
        .chain(finish);
    for (position, problem) in all.collect::<Vec<_>>() {
        report(trace, file, strict, position, problem)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Attempt, TraceBuilder};
    use proptest::prelude::*;

    /// A trace of random acquisitions, releases (matched or not, of reentrant and plain
    /// locks, in read and write mode), forks and joins by three threads.
    fn random_trace(ops: &[(u8, u8, u8, u8)]) -> Trace {
        let mut b = TraceBuilder::new("t");
        let threads: Vec<ThreadIdx> = (0..3).map(|i| b.thread(&format!("T{i}"))).collect();
        let locks: Vec<ObjIdx> = (0..4)
            .map(|i| {
                let kind = [
                    ObjectKind::Mutex,
                    ObjectKind::ReentrantMutex,
                    ObjectKind::RwLock,
                ][i % 3];
                b.object(&format!("L{i}"), kind)
            })
            .collect();
        for &(kind, t, l, m) in ops {
            let thread = threads[usize::from(t % 3)];
            let lock = locks[usize::from(l % 4)];
            let mode = if m % 2 == 0 { Mode::Write } else { Mode::Read };
            let op = match kind % 5 {
                0 | 1 => Op::Acquire {
                    lock,
                    mode,
                    attempt: Attempt::Blocking,
                },
                2 | 3 => Op::Release { lock, mode },
                _ if l % 2 == 0 => Op::Fork {
                    child: threads[usize::from(m % 3)],
                },
                _ => Op::Join {
                    child: threads[usize::from(m % 3)],
                },
            };
            b.push(Event {
                thread,
                op,
                site: crate::model::SiteIdx::UNKNOWN,
            });
        }
        b.finish()
    }

    proptest! {
        /// Two checkers splitting the locks give the single checker's warnings, in its
        /// order, and its strict-mode error.
        #[test]
        fn split_check_equals_single(
            ops in proptest::collection::vec((0u8..5, 0u8..3, 0u8..4, 0u8..3), 0..60),
            strict in any::<bool>(),
        ) {
            let file = Path::new("t");
            let outcome = |parallel| {
                let mut trace = random_trace(&ops);
                check_trace_split(&mut trace, file, strict, parallel)
                    .map(|()| trace.warnings)
                    .map_err(|e| (e.position, e.message))
            };
            prop_assert_eq!(outcome(true), outcome(false));
        }
    }

    #[test]
    fn flags_conflicts_but_not_reentrancy() {
        let mut b = TraceBuilder::new("t");
        let (t0, t1) = (b.thread("T0"), b.thread("T1"));
        let l = b.object("L", ObjectKind::ReentrantMutex);
        let m = b.object("M", ObjectKind::Mutex);
        let acq = |thread, lock| Event {
            thread,
            op: Op::Acquire {
                lock,
                mode: Mode::Write,
                attempt: Attempt::Blocking,
            },
            site: crate::model::SiteIdx::UNKNOWN,
        };
        let rel = |thread, lock| Event {
            thread,
            op: Op::Release {
                lock,
                mode: Mode::Write,
            },
            site: crate::model::SiteIdx::UNKNOWN,
        };
        let trace = b.finish();
        let mut c = Checker::default();
        let p = Position::Event(0);
        assert_eq!(c.observe(&trace, &acq(t0, l), p), None);
        assert_eq!(c.observe(&trace, &acq(t0, l), p), None);
        assert_eq!(c.depth(t0, l), 2);
        assert!(
            c.observe(&trace, &acq(t1, l), p)
                .unwrap()
                .message
                .contains("T1 acquires L, which T0 still holds")
        );
        assert_eq!(c.observe(&trace, &acq(t0, m), p), None);
        assert!(
            c.observe(&trace, &acq(t0, m), p)
                .unwrap()
                .message
                .contains("not reentrant")
        );
        assert!(
            c.observe(&trace, &rel(t1, m), p)
                .unwrap()
                .message
                .contains("does not hold")
        );
    }
}

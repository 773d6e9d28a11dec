//! Lost updates: a read-modify-write of one variable split into two steps.
//!
//! # Rule
//!
//! A *window* is a read `r` and a later write `w` of variable `x` by one thread
//! `t` where either
//!
//! * `r` is an atomic load and `w` an atomic write (store or read-modify-write:
//!   the trace does not tell them apart) of `x`, with no other access of `x` by
//!   `t` between them that closed an earlier window; or
//! * `r` is a plain read made while holding locks, `w` a plain write, and every
//!   lock held at both was released and re-acquired by `t` in between (at least
//!   one such lock): the read and the write are in separate critical sections.
//!
//! The window is a *lost update* when some write `w'` of `x` by another thread
//! is ordered neither before `r` nor after `w` by happens-before
//! (`¬(w' → r) ∧ ¬(w → w')`): exactly when some reordering of this run that
//! respects happens-before puts `w'` between `r` and `w`, so `w` overwrites it
//! with a value computed from the older `r`. That covers both the update lost
//! in this very run (`w'` between them) and one a schedule change would lose.
//! Happens-before includes the run's own reads-from: two SeqCst load/store
//! pairs run strictly one after the other are ordered (the second load read the
//! first store) and not reported; interleaved or relaxed ones are. The trace
//! does not tell a store from a read-modify-write, so a load followed by a
//! successful compare-exchange counts as a window too.
//!
//! Streaming: `w'` earlier than `r` in the trace is checked when `r` happens
//! (against the variable's current writes); `w'` between `r` and `w` in the
//! trace always qualifies (checked through the two most recent writers); `w'`
//! after `w` is checked against the thread's last closed window. State is per
//! variable, one pending read and one closed window per thread that made one.

use super::epochs::{AccessRecord, VectorClocks};
use super::lockset::{HeldLocks, Locksets};

/// A read that may start a window.
#[derive(Clone, Copy, Debug)]
pub struct PendingRead {
    /// The read.
    pub rec: AccessRecord,
    /// Whether it was an atomic load (else a plain read under locks).
    pub atomic: bool,
    /// A write by another thread not ordered before the read, when one was known at the read.
    pub witness: Option<AccessRecord>,
}

/// A closed window without a witness yet.
#[derive(Clone, Copy, Debug)]
struct Window {
    read: AccessRecord,
    write: AccessRecord,
}

/// A lost update: the window and the interfering write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LostUpdateHit {
    /// The read that starts the window.
    pub read: AccessRecord,
    /// The write that ends it.
    pub write: AccessRecord,
    /// The other thread's write that can fall between them.
    pub interferer: AccessRecord,
}

/// Lost-update state of one variable.
#[derive(Clone, Debug, Default)]
pub struct LostUpdateVar {
    pending: Vec<PendingRead>,
    windows: Vec<Window>,
    /// The last writes by the two most recent distinct writer threads, newest first.
    recent: [Option<AccessRecord>; 2],
}

impl LostUpdateVar {
    /// Records a read that may start a window (replacing the thread's earlier one).
    pub fn read(&mut self, read: PendingRead) {
        match self
            .pending
            .iter_mut()
            .find(|p| p.rec.thread == read.rec.thread)
        {
            Some(p) => *p = read,
            None => self.pending.push(read),
        }
    }

    /// Processes a write `w` (`atomic` or plain) by its thread holding `held`;
    /// calls `hit` for every lost update it completes or witnesses.
    pub fn write(
        &mut self,
        w: AccessRecord,
        atomic: bool,
        held: &HeldLocks,
        sets: &Locksets,
        clocks: &VectorClocks,
        mut hit: impl FnMut(LostUpdateHit),
    ) {
        let t = w.thread as usize;
        // Windows of other threads whose write does not happen before this one.
        self.windows.retain(|win| {
            if win.write.thread != w.thread && !clocks.ordered_before(&win.write, t) {
                hit(LostUpdateHit {
                    read: win.read,
                    write: win.write,
                    interferer: w,
                });
                false
            } else {
                true
            }
        });
        if let Some(i) = self.pending.iter().position(|p| p.rec.thread == w.thread) {
            let p = self.pending.swap_remove(i);
            let closes = if p.atomic {
                atomic
            } else {
                !atomic && split_sections(&p.rec, held, sets)
            };
            if closes {
                let between = self
                    .recent
                    .iter()
                    .flatten()
                    .find(|r| r.thread != w.thread && r.event > p.rec.event)
                    .copied();
                match p.witness.or(between) {
                    Some(interferer) => hit(LostUpdateHit {
                        read: p.rec,
                        write: w,
                        interferer,
                    }),
                    None => {
                        let win = Window {
                            read: p.rec,
                            write: w,
                        };
                        match self.windows.iter_mut().find(|x| x.write.thread == w.thread) {
                            Some(x) => *x = win,
                            None => self.windows.push(win),
                        }
                    }
                }
            }
        }
        match self.recent[0] {
            Some(r) if r.thread == w.thread => self.recent[0] = Some(w),
            _ => self.recent = [Some(w), self.recent[0]],
        }
    }
}

/// Whether a write by a thread holding `held` is in a later critical section than
/// `read`: some lock held at the read is held now, and none of them has been held
/// continuously since the read.
fn split_sections(read: &AccessRecord, held: &HeldLocks, sets: &Locksets) -> bool {
    let mut common = false;
    for &(lock, _) in sets.get(read.lockset) {
        match held.outermost(lock) {
            None => {}
            Some(acquired) if acquired < read.event => return false,
            Some(_) => common = true,
        }
    }
    common
}

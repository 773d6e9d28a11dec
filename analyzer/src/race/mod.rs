//! Data-race detection: happens-before races (FastTrack epochs), Eraser lockset
//! warnings (`--lockset`) and lost updates, in one pass over a trace.
//!
//! [`detect`] walks the events once, keeping per-thread vector clocks
//! ([`epochs::VectorClocks`], the edge rules of [`crate::predict::hb`]), each
//! thread's interned lockset, and small per-variable states. Memory is linear
//! in variables plus threads × (threads + locks), not in events; an access
//! allocates nothing unless it completes a report. [`findings`] turns a
//! [`RaceReport`] into [`Finding`]s for [`crate::analysis`].
//!
//! What races with what: two accesses of one variable by different threads,
//! at least one a write, not ordered by happens-before, and not both atomic
//! (atomics never race with each other; a plain access racing an atomic one
//! does). FastTrack checks each access against the last write and the reads
//! since it, so it reports a subset of the racy pairs but exactly the set of
//! racy variables a full vector-clock detector finds; pairs are deduplicated
//! by their two sites (and the variable when a site is unknown).

pub mod epochs;
pub mod lockset;
pub mod lost_update;

use std::collections::{BTreeSet, VecDeque};

use crate::model::fast_hash::{FastHashMap as HashMap, FastHashSet as HashSet};

use crate::finding::{Access, Finding, FindingKind, LockRef, RoleSite, fingerprint};
use crate::graph::lock_order::{event_site, thread_name};
use crate::graph::{lock_ref, site_ref};
use crate::model::{Mode, ObjIdx, Op, SiteIdx, ThreadIdx, Trace};

pub use epochs::{AccessKind, AccessRecord, VarState, VectorClocks};
pub use lockset::{ForkJoinClocks, HeldLocks, LockEntry, Locksets};
pub use lost_update::{LostUpdateHit, LostUpdateVar, PendingRead};

/// Settings of race detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RaceOptions {
    /// Run the Eraser lockset algorithm too (`potential-race` reports).
    pub lockset: bool,
    /// Most pairs reported per kind and trace; later ones are counted as cut.
    pub max_pairs: usize,
}

/// Default for [`RaceOptions::max_pairs`].
pub const DEFAULT_MAX_RACE_PAIRS: usize = 1000;

impl Default for RaceOptions {
    fn default() -> Self {
        RaceOptions {
            lockset: false,
            max_pairs: DEFAULT_MAX_RACE_PAIRS,
        }
    }
}

/// One access of a reported pair, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaceAccess {
    /// Index into `trace.events`.
    pub event: usize,
    /// The thread.
    pub thread: ThreadIdx,
    /// Where.
    pub site: SiteIdx,
    /// What kind of access.
    pub kind: AccessKind,
    /// Locks held at the access, sorted.
    pub locks_held: Vec<LockEntry>,
}

/// Two conflicting accesses of `var`: `first` earlier in the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RacePair {
    /// The variable.
    pub var: ObjIdx,
    /// The earlier access.
    pub first: RaceAccess,
    /// The later access.
    pub second: RaceAccess,
}

/// A lost update of `var`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostUpdate {
    /// The variable.
    pub var: ObjIdx,
    /// The read starting the window.
    pub read: RaceAccess,
    /// The write ending it.
    pub write: RaceAccess,
    /// Another thread's write that can fall between them.
    pub interferer: RaceAccess,
}

/// What [`detect`] found in one trace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RaceReport {
    /// Happens-before races, one per site pair, in trace order of their second access.
    pub races: Vec<RacePair>,
    /// Variables with at least one happens-before race, sorted (never truncated).
    pub racy_vars: Vec<ObjIdx>,
    /// Eraser warnings (lockset mode only), one per variable.
    pub potential: Vec<RacePair>,
    /// Lost updates, one per (read site, write site).
    pub lost_updates: Vec<LostUpdate>,
    /// Whether a kind reached [`RaceOptions::max_pairs`] and further reports were dropped.
    pub truncated: bool,
    /// Receives whose sender clock had been evicted (see [`epochs::HISTORY_LEN`]).
    pub stale_receives: u64,
    /// Variable accesses examined.
    pub accesses: u64,
    /// Threads of a trace refused for having more than [`MAX_RACE_THREADS`] (0 when analysed):
    /// nothing was examined then.
    pub too_many_threads: usize,
}

/// Most threads a trace may have for race detection. Its vector clocks are dense
/// (threads² words, twice with lockset mode), so 16,384 threads cost up to 1 GiB each;
/// above this the trace is refused with a reported limit instead of exhausting memory.
pub const MAX_RACE_THREADS: usize = 16_384;

/// Raw reports before resolution.
#[derive(Default)]
struct Collected {
    races: Vec<(ObjIdx, AccessRecord, AccessRecord)>,
    race_keys: HashSet<(u32, SiteIdx, SiteIdx)>,
    racy: Vec<bool>,
    potential: Vec<(ObjIdx, AccessRecord, AccessRecord)>,
    lost: Vec<(ObjIdx, LostUpdateHit)>,
    lost_keys: HashSet<(SiteIdx, SiteIdx)>,
    truncated: bool,
}

/// Runs happens-before race detection, lost-update detection and (with
/// `options.lockset`) Eraser over `trace`, in one pass.
pub fn detect(trace: &Trace, options: &RaceOptions) -> RaceReport {
    let n = trace.threads.len().max(
        trace
            .events
            .iter()
            .map(|e| e.thread.0 as usize + 1)
            .max()
            .unwrap_or(0),
    );
    if n > MAX_RACE_THREADS {
        return RaceReport {
            too_many_threads: n,
            ..RaceReport::default()
        };
    }
    let mut clocks = VectorClocks::new(n);
    let mut fj = options.lockset.then(|| ForkJoinClocks::new(n));
    let mut sets = Locksets::default();
    let mut held: Vec<HeldLocks> = vec![HeldLocks::default(); n];
    let mut vars: Vec<VarState> = Vec::new();
    let mut lost: Vec<Option<Box<LostUpdateVar>>> = Vec::new();
    let mut eraser: Vec<lockset::EraserVar> = Vec::new();
    let mut out = Collected::default();
    let mut accesses = 0u64;
    let site_of = |e: usize| trace.events[e].site;

    for (i, ev) in trace.events.iter().enumerate() {
        let t = ev.thread.0 as usize;
        let clock = clocks.before(ev);
        let fj_clock = fj.as_mut().map_or(0, |f| f.step(t, &ev.op));
        match ev.op {
            Op::Acquire { lock, mode, .. } => held[t].acquire(lock, mode, i),
            Op::Release { lock, mode } => held[t].release(lock, mode),
            ref op => {
                if let Some((var, kind)) = AccessKind::of(op) {
                    accesses += 1;
                    let v = var.0 as usize;
                    if v >= vars.len() {
                        vars.resize_with(v + 1, VarState::default);
                        lost.resize_with(v + 1, || None);
                        out.racy.resize(v + 1, false);
                    }
                    let rec = AccessRecord {
                        thread: t as u32,
                        clock,
                        lockset: held[t].id(&mut sets),
                        event: i,
                    };
                    let state = &mut vars[v];
                    state.access(kind, rec, &clocks, |earlier| {
                        out.racy[v] = true;
                        let (a, b) = (site_of(earlier.event), site_of(i));
                        let (lo, hi) = (a.min(b), a.max(b));
                        let scope = if lo == SiteIdx::UNKNOWN {
                            var.0
                        } else {
                            u32::MAX
                        };
                        if out.race_keys.contains(&(scope, lo, hi)) {
                            return;
                        }
                        if out.races.len() >= options.max_pairs {
                            out.truncated = true;
                            return;
                        }
                        out.race_keys.insert((scope, lo, hi));
                        out.races.push((var, *earlier, rec));
                    });
                    lost_update_step(
                        &mut lost[v],
                        state,
                        kind,
                        rec,
                        &held[t],
                        &sets,
                        &clocks,
                        |hit| {
                            let key = (site_of(hit.read.event), site_of(hit.write.event));
                            if out.lost_keys.contains(&key) {
                                return;
                            }
                            if out.lost.len() >= options.max_pairs {
                                out.truncated = true;
                                return;
                            }
                            out.lost_keys.insert(key);
                            out.lost.push((var, hit));
                        },
                    );
                    if let Some(fj) = &fj
                        && matches!(kind, AccessKind::Read | AccessKind::Write)
                    {
                        if v >= eraser.len() {
                            eraser.resize_with(v + 1, Default::default);
                        }
                        if let Some(w) = eraser[v].access(&mut sets, fj, kind, rec, fj_clock) {
                            if out.potential.len() >= options.max_pairs {
                                out.truncated = true;
                            } else {
                                out.potential.push((var, w.first, w.second));
                            }
                        }
                    }
                }
            }
        }
        clocks.after(ev);
    }

    let resolve = |r: &AccessRecord| RaceAccess {
        event: r.event,
        thread: ThreadIdx(r.thread),
        site: site_of(r.event),
        kind: AccessKind::of(&trace.events[r.event].op).map_or(AccessKind::Read, |(_, k)| k),
        locks_held: sets.get(r.lockset).to_vec(),
    };
    let pair = |&(var, a, b): &(ObjIdx, AccessRecord, AccessRecord)| RacePair {
        var,
        first: resolve(&a),
        second: resolve(&b),
    };
    RaceReport {
        races: out.races.iter().map(pair).collect(),
        racy_vars: out
            .racy
            .iter()
            .enumerate()
            .filter(|&(_, &r)| r)
            .map(|(v, _)| ObjIdx(v as u32))
            .collect(),
        potential: out.potential.iter().map(pair).collect(),
        lost_updates: out
            .lost
            .iter()
            .map(|(var, h)| LostUpdate {
                var: *var,
                read: resolve(&h.read),
                write: resolve(&h.write),
                interferer: resolve(&h.interferer),
            })
            .collect(),
        truncated: out.truncated,
        stale_receives: clocks.stale_receives,
        accesses,
        too_many_threads: 0,
    }
}

/// Feeds one access to the lost-update state of its variable.
#[allow(clippy::too_many_arguments)]
fn lost_update_step(
    slot: &mut Option<Box<LostUpdateVar>>,
    state: &VarState,
    kind: AccessKind,
    rec: AccessRecord,
    held: &HeldLocks,
    sets: &Locksets,
    clocks: &VectorClocks,
    hit: impl FnMut(LostUpdateHit),
) {
    let t = rec.thread as usize;
    match kind {
        AccessKind::AtomicLoad | AccessKind::Read => {
            let atomic = kind == AccessKind::AtomicLoad;
            if !atomic && rec.lockset == Locksets::EMPTY {
                return;
            }
            // A write by another thread already not ordered before the read.
            let witness = state
                .write
                .iter()
                .chain(state.atomic_writes.iter())
                .find(|w| w.thread != rec.thread && !clocks.ordered_before(w, t))
                .copied();
            slot.get_or_insert_with(Default::default).read(PendingRead {
                rec,
                atomic,
                witness,
            });
        }
        AccessKind::Write | AccessKind::AtomicStore => {
            if let Some(lv) = slot {
                lv.write(
                    rec,
                    kind == AccessKind::AtomicStore,
                    held,
                    sets,
                    clocks,
                    hit,
                );
            }
        }
    }
}

/// Messages for the bounds `report` hit, naming the flag that raises them.
pub fn limit_messages(trace: &Trace, report: &RaceReport, options: &RaceOptions) -> Vec<String> {
    let mut out = Vec::new();
    if report.truncated {
        out.push(format!(
            "{}: race reports stopped at {} pairs per kind; raise with --max-race-pairs",
            trace.source, options.max_pairs
        ));
    }
    if report.too_many_threads > 0 {
        out.push(format!(
            "{}: race detection skipped: {} threads, more than the {} its dense vector clocks allow",
            trace.source, report.too_many_threads, MAX_RACE_THREADS
        ));
    }
    if report.stale_receives > 0 {
        out.push(format!(
            "{}: {} synchronisations received from senders older than the last {} kept per object \
             were ignored (races may be over-reported)",
            trace.source,
            report.stale_receives,
            epochs::HISTORY_LEN
        ));
    }
    out
}

/// Synchronisation steps shown per access in a race finding.
pub const HISTORY_STEPS: usize = 4;

/// Whether `op` is a synchronisation operation worth showing in a thread's history.
fn is_sync(op: &Op) -> bool {
    match op {
        Op::Acquire { .. }
        | Op::Release { .. }
        | Op::Fork { .. }
        | Op::Join { .. }
        | Op::Wake { .. }
        | Op::Notify { .. }
        | Op::Send { .. }
        | Op::Recv { .. }
        | Op::BarrierArrive { .. }
        | Op::BarrierDepart { .. } => true,
        Op::Atomic { order, .. } => {
            crate::predict::hb::is_acquire(*order) || crate::predict::hb::is_release(*order)
        }
        _ => false,
    }
}

/// A short description of synchronisation event `e`.
fn describe_sync(trace: &Trace, op: &Op) -> String {
    let name = |o: &ObjIdx| lock_ref(trace, *o).name;
    let mode = |m: &Mode| match m {
        Mode::Write => "",
        Mode::Read => " (read)",
        Mode::Upgradable => " (upgradable)",
    };
    match op {
        Op::Acquire { lock, mode: m, .. } => format!("acquire {}{}", name(lock), mode(m)),
        Op::Release { lock, mode: m } => format!("release {}{}", name(lock), mode(m)),
        Op::Fork { child } => format!("spawn {}", thread_name(trace, child.0 as usize)),
        Op::Join { child } => format!("join {}", thread_name(trace, child.0 as usize)),
        Op::Wake { condvar, .. } => format!("wake on {}", name(condvar)),
        Op::Notify { condvar, .. } => format!("notify {}", name(condvar)),
        Op::Send { channel, seq } => format!("send #{seq} on {}", name(channel)),
        Op::Recv { channel, seq } => format!("receive #{seq} from {}", name(channel)),
        Op::BarrierArrive { barrier, .. } => format!("arrive at {}", name(barrier)),
        Op::BarrierDepart { barrier, .. } => format!("leave {}", name(barrier)),
        Op::Atomic {
            var, write, order, ..
        } => format!(
            "atomic {} {} ({order:?})",
            if *write { "store" } else { "load" },
            name(var)
        ),
        other => format!("{other:?}"),
    }
}

/// For each event in `wanted`, the last [`HISTORY_STEPS`] synchronisation events of
/// its thread before it (oldest first), in one pass over the trace.
fn sync_histories(trace: &Trace, wanted: &BTreeSet<usize>) -> HashMap<usize, Vec<usize>> {
    let mut out = HashMap::default();
    let Some(&last) = wanted.last() else {
        return out;
    };
    let mut recent: HashMap<ThreadIdx, VecDeque<usize>> = HashMap::default();
    for (i, ev) in trace.events.iter().enumerate().take(last + 1) {
        if wanted.contains(&i) {
            let h = recent
                .get(&ev.thread)
                .map(|q| q.iter().copied().collect())
                .unwrap_or_default();
            out.insert(i, h);
        }
        if is_sync(&ev.op) {
            let q = recent.entry(ev.thread).or_default();
            if q.len() == HISTORY_STEPS {
                q.pop_front();
            }
            q.push_back(i);
        }
    }
    out
}

/// The lock names of `locks`, read-held ones marked.
fn lock_names(trace: &Trace, locks: &[LockEntry]) -> Vec<String> {
    let mut names: Vec<String> = locks
        .iter()
        .map(|(l, m)| match m {
            Mode::Write => lock_ref(trace, *l).name,
            Mode::Read => format!("{} (read)", lock_ref(trace, *l).name),
            Mode::Upgradable => format!("{} (upgradable)", lock_ref(trace, *l).name),
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// What identifies a variable across runs: its class site, or its name.
fn variable_key(var: &LockRef) -> String {
    match &var.class {
        Some(c) => format!("class:{}", c.display),
        None => format!("name:{}", var.name),
    }
}

/// Builds findings from race reports.
struct FindingBuilder<'a> {
    trace: &'a Trace,
    histories: HashMap<usize, Vec<usize>>,
}

impl FindingBuilder<'_> {
    fn access(&self, a: &RaceAccess) -> Access {
        let thread = thread_name(self.trace, a.thread.0 as usize);
        let history = self
            .histories
            .get(&a.event)
            .map(|h| {
                h.iter()
                    .map(|&e| RoleSite {
                        role: describe_sync(self.trace, &self.trace.events[e].op),
                        thread: thread.clone(),
                        site: site_ref(self.trace, event_site(self.trace, e)),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Access {
            thread,
            op: a.kind.as_str().to_owned(),
            site: site_ref(self.trace, a.site),
            locks_held: lock_names(self.trace, &a.locks_held),
            history,
        }
    }

    fn finding(
        &self,
        kind: FindingKind,
        var: ObjIdx,
        accesses: Vec<Access>,
        keyed: usize,
        message: String,
        reason: String,
    ) -> Finding {
        let variable = lock_ref(self.trace, var);
        let mut sites: Vec<&str> = accesses[..keyed]
            .iter()
            .map(|a| a.site.display.as_str())
            .collect();
        sites.sort();
        let key = variable_key(&variable);
        let id = fingerprint([kind.as_str(), key.as_str()].into_iter().chain(sites));
        let mut threads: Vec<String> = accesses.iter().map(|a| a.thread.clone()).collect();
        threads.sort();
        threads.dedup();
        let role_sites = accesses
            .iter()
            .map(|a| RoleSite {
                role: a.op.clone(),
                thread: a.thread.clone(),
                site: a.site.clone(),
            })
            .collect();
        Finding {
            id,
            kind,
            severity: kind.severity(),
            message,
            locks: Vec::new(),
            threads,
            sites: role_sites,
            cycle: Vec::new(),
            coffman: None,
            fixes: Vec::new(),
            reason: Some(reason),
            variable: Some(variable),
            accesses,
            traces: vec![self.trace.source.clone()],
            occurrences: 1,
        }
    }
}

/// `write by worker-1 at src/x.rs:10`.
fn access_phrase(a: &Access) -> String {
    format!("{} by {} at {}", a.op, a.thread, a.site.display)
}

/// `holding A, B` or `holding no lock`.
fn holding(a: &Access) -> String {
    if a.locks_held.is_empty() {
        "holding no lock".to_owned()
    } else {
        format!("holding {}", a.locks_held.join(", "))
    }
}

/// The findings of `report` (one per reported pair; the analysis merges equal ids).
pub fn findings(trace: &Trace, report: &RaceReport) -> Vec<Finding> {
    let wanted: BTreeSet<usize> = report
        .races
        .iter()
        .chain(&report.potential)
        .flat_map(|p| [p.first.event, p.second.event])
        .chain(
            report
                .lost_updates
                .iter()
                .flat_map(|l| [l.read.event, l.write.event, l.interferer.event]),
        )
        .collect();
    let b = FindingBuilder {
        trace,
        histories: sync_histories(trace, &wanted),
    };
    let mut out = Vec::new();
    for p in &report.races {
        let (a, c) = (b.access(&p.first), b.access(&p.second));
        let var = lock_ref(trace, p.var).name;
        let message = format!(
            "data race on {var}: {} and {} are not ordered by happens-before",
            access_phrase(&a),
            access_phrase(&c)
        );
        let reason = format!(
            "no synchronisation orders them: the first access is {}, the second {}",
            holding(&a),
            holding(&c)
        );
        out.push(b.finding(FindingKind::DataRace, p.var, vec![a, c], 2, message, reason));
    }
    for p in &report.potential {
        let (a, c) = (b.access(&p.first), b.access(&p.second));
        let var = lock_ref(trace, p.var).name;
        let message = format!(
            "potential race on {var}: {} ({}) and {} ({}) share no common lock",
            access_phrase(&a),
            holding(&a),
            access_phrase(&c),
            holding(&c)
        );
        let reason = "lockset (Eraser): the variable is written by several threads and no lock is \
                      held at all its accesses; this run may have ordered them by luck"
            .to_owned();
        out.push(b.finding(
            FindingKind::PotentialRace,
            p.var,
            vec![a, c],
            2,
            message,
            reason,
        ));
    }
    for l in &report.lost_updates {
        let (r, w, x) = (
            b.access(&l.read),
            b.access(&l.write),
            b.access(&l.interferer),
        );
        let var = lock_ref(trace, l.var).name;
        let split = if l.read.kind == AccessKind::AtomicLoad {
            "separate atomic operations".to_owned()
        } else {
            "separate critical sections".to_owned()
        };
        let message = format!(
            "lost update on {var}: {} reads it at {} and writes it back at {} in {split}; \
             the {} can fall between them and be overwritten",
            r.thread,
            r.site.display,
            w.site.display,
            access_phrase(&x)
        );
        let reason =
            "the interfering write is ordered neither before the read nor after the write \
                      by happens-before"
                .to_owned();
        out.push(b.finding(
            FindingKind::LostUpdate,
            l.var,
            vec![r, w, x],
            2,
            message,
            reason,
        ));
    }
    out
}

//! Runs every analysis over loaded traces and gathers the findings.
//!
//! Traces are analysed one at a time ([`AnalysisBuilder`]), so memory holds one
//! trace plus what the cross-trace part needs. Per trace: lock dependencies,
//! deadlock patterns and their sync-preserving confirmation, races, nesting and
//! observed findings. Across traces: one lock-order graph (see
//! [`crate::graph::lock_order`] for how locks of different runs merge) whose
//! elementary cycles are classified one finding kind each:
//!
//! 1. `predicted-deadlock`: a deadlock pattern realising the cycle is confirmed;
//! 2. `lock-order-inversion`: a pattern realises it but none is confirmed;
//! 3. `guarded-cycle`: every realisation (one dependency per edge, with
//!    conflicting modes) has a gate lock held by all its steps;
//! 4. `lock-order-inversion`: some realisation is ungated (single thread,
//!    several threads without a pattern, or across runs).
//!
//! Findings are fingerprinted by lock class and sites, so the same problem
//! seen in many runs is one finding with its `occurrences` and `traces`.
//! A cycle finding counts as occurrences its confirmed patterns (at most one
//! per run) for `predicted-deadlock`, its unconfirmed patterns for a
//! pattern-backed inversion, and its realisations of the chosen spread (one
//! thread, one run, several runs) or gated realisations otherwise; nesting and
//! observed findings count one per event or report.

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::explain;
use crate::finding::{
    Coffman, Condition, CycleStep, Finding, FindingKind, LockRef, RoleSite, SiteRef, Summary,
    fingerprint,
};
use crate::graph::lock_order::{event_site, thread_name};
use crate::graph::{
    DepRef, LockOrderGraph, LockOrderGraphBuilder, LockOrderView, elementary_cycles, lock_ref,
    site_ref, site_ref_of,
};
use crate::model::{Mode, ObjIdx, SiteIdx, ThreadIdx, Trace, Warning};
use crate::predict::{
    ClosureIndex, DeadlockPattern, Dependencies, NestingEvent, deadlock_patterns,
    lock_dependencies_bounded,
};

/// Settings of an analysis run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnalysisOptions {
    /// Longest cycle enumerated, in locks.
    pub max_cycle_len: usize,
    /// Most cycles enumerated before the search stops (and says so).
    pub max_cycles: usize,
    /// Kinds that fail the check.
    pub fail_on: Vec<FindingKind>,
    /// Also run the Eraser lockset algorithm (`potential-race` findings).
    pub lockset: bool,
    /// Most race pairs reported per kind and trace (see [`crate::race::RaceOptions`]).
    pub max_race_pairs: usize,
    /// Most held locks (the innermost) a lock dependency records; deeper nesting is
    /// reported as a limit (see [`crate::predict::lock_dependencies_bounded`]).
    pub max_held: usize,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            max_cycle_len: 8,
            max_cycles: 10_000,
            fail_on: FindingKind::ALL
                .into_iter()
                .filter(|k| k.fails_by_default())
                .collect(),
            lockset: false,
            max_race_pairs: crate::race::DEFAULT_MAX_RACE_PAIRS,
            max_held: crate::predict::DEFAULT_MAX_HELD,
        }
    }
}

/// A bound that cut a search short; reports must show it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LimitHit {
    /// What was cut, and the flag that raises the bound.
    pub message: String,
}

/// Everything the renderers need.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Analysis {
    /// The input files, in the order read.
    pub inputs: Vec<String>,
    /// Findings in a stable order (kind, then id).
    pub findings: Vec<Finding>,
    /// The whole-run lock-order graph.
    pub graph: LockOrderView,
    /// Counts.
    pub summary: Summary,
    /// Loader warnings.
    pub warnings: Vec<Warning>,
    /// Bounds that were hit.
    pub limits: Vec<LimitHit>,
}

impl Analysis {
    /// Findings that fail the check under `options.fail_on`.
    pub fn failing<'a>(
        &'a self,
        options: &'a AnalysisOptions,
    ) -> impl Iterator<Item = &'a Finding> + 'a {
        self.findings
            .iter()
            .filter(|f| options.fail_on.contains(&f.kind))
    }
}

/// Per-trace numbers for `analyzer stats`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TraceStats {
    /// The trace file.
    pub source: String,
    /// Threads described.
    pub threads: usize,
    /// Lock objects.
    pub locks: usize,
    /// Events.
    pub events: usize,
    /// Deduplicated lock dependencies.
    pub dependencies: usize,
    /// Abstract deadlock patterns found (within the bounds).
    pub patterns: usize,
    /// Whether a bound cut the pattern search.
    pub patterns_truncated: bool,
    /// Patterns confirmed as sync-preserving deadlocks.
    pub confirmed: usize,
    /// Time spent on dependencies, patterns and confirmation.
    pub elapsed: Duration,
}

/// Runs the deadlock prediction of one trace and counts what it found.
pub fn trace_stats(trace: &Trace, options: &AnalysisOptions) -> TraceStats {
    let start = Instant::now();
    let deps = lock_dependencies_bounded(trace, options.max_held);
    let search = deadlock_patterns(&deps.deps, options.max_cycle_len, options.max_cycles);
    // One closure index serves every pattern of the trace (building it is linear in the trace).
    let index = (!search.patterns.is_empty()).then(|| ClosureIndex::new(trace));
    let confirmed = search
        .patterns
        .iter()
        .filter(|p| {
            index
                .as_ref()
                .is_some_and(|ix| ix.confirm(trace, &deps.deps, p).is_some())
        })
        .count();
    TraceStats {
        source: trace.source.clone(),
        threads: trace.threads.len(),
        locks: count_locks(trace),
        events: trace.events.len(),
        dependencies: deps.deps.len(),
        patterns: search.patterns.len(),
        patterns_truncated: search.truncated,
        confirmed,
        elapsed: start.elapsed(),
    }
}

/// Most realisations (one dependency per cycle edge) examined per cycle.
pub const MAX_REALISATIONS: usize = 4096;

/// Most deadlock patterns of one cycle and one trace handed to sync-preserving
/// confirmation (linear in the trace each) before that trace is given up on.
pub const MAX_CONFIRMATIONS: usize = 64;

/// Traces with fewer events run race detection inline rather than on a second thread.
pub const RACE_THREAD_MIN_EVENTS: usize = 20_000;

/// Analyzes `traces` together: [`AnalysisBuilder`] fed every trace in order.
///
/// Race detection of each trace (of at least [`RACE_THREAD_MIN_EVENTS`] events) runs on
/// a second thread while its deadlock prediction runs on this one (they share nothing
/// but the trace); their findings are merged in a fixed order, so the result does not
/// depend on which finishes first.
pub fn analyze(traces: &[Trace], options: &AnalysisOptions) -> Analysis {
    let mut builder = AnalysisBuilder::new(options.clone());
    for trace in traces {
        builder.add_trace(trace);
    }
    builder.finish()
}

/// An analysis of many traces fed one at a time, so only one trace's events are
/// in memory at once.
///
/// [`AnalysisBuilder::add_trace`] runs everything that reads the trace's events —
/// lock dependencies, deadlock patterns and their sync-preserving confirmation,
/// races, nesting and observed findings — and keeps only what the cross-trace part
/// needs: the lock-order graph (names, class keys, witness strings), a summary of
/// each dependency (its thread, locks, modes and first acquisition's sites), the
/// verdict of each deadlock pattern keyed by the cycle of locks it realises, and the
/// trace's findings. [`AnalysisBuilder::finish`] then searches the merged graph for
/// cycles, classifies and explains them, and merges everything into an [`Analysis`]
/// equal to what [`analyze`] returns for the same traces in the same order.
#[derive(Debug)]
pub struct AnalysisBuilder {
    options: AnalysisOptions,
    graph: LockOrderGraphBuilder,
    runs: Vec<RunSummary>,
    /// Nesting findings, merged by id in trace order.
    nesting: BTreeMap<String, Finding>,
    /// Race findings, merged by id in trace order.
    races: BTreeMap<String, Finding>,
    /// Observed findings, merged by id in trace order.
    observed: BTreeMap<String, Finding>,
    limits: BTreeSet<LimitHit>,
    warnings: Vec<Warning>,
    events: u64,
    threads: usize,
    locks: usize,
    /// The thread freeing the previous large trace's dependencies: joined before the next
    /// trace's are made (so at most one set waits to be freed), left to finish on its own
    /// by [`Self::finish`].
    freeing: Option<std::thread::JoinHandle<()>>,
}

/// What the cross-trace part keeps of one trace.
#[derive(Debug)]
struct RunSummary {
    /// The trace file.
    source: String,
    /// The sites the kept summaries refer to, as findings show them.
    sites: BTreeMap<SiteIdx, SiteRef>,
    /// The names of the threads the kept summaries refer to.
    thread_names: BTreeMap<ThreadIdx, String>,
    /// Summaries of the dependencies an edge or a pattern refers to, by dependency index.
    deps: Vec<(usize, DepSummary)>,
    /// Deadlock patterns grouped by the cycle of locks they realise, in search order.
    patterns: Vec<CyclePatterns>,
}

impl RunSummary {
    /// Site `s` as findings show it (as [`site_ref`] would from the trace).
    fn site(&self, s: SiteIdx) -> SiteRef {
        match self.sites.get(&s) {
            Some(site) => site.clone(),
            None => site_ref_of(&crate::model::Site::unknown()),
        }
    }

    /// The kept dependency with index `d`.
    fn dep(&self, d: usize) -> Option<&DepSummary> {
        let i = self.deps.binary_search_by_key(&d, |&(i, _)| i).ok()?;
        Some(&self.deps[i].1)
    }

    /// The name of thread `t` (as [`thread_name`] would from the trace).
    fn thread_name(&self, t: ThreadIdx) -> String {
        self.thread_names
            .get(&t)
            .cloned()
            .unwrap_or_else(|| format!("T{}", t.0))
    }
}

/// What the cross-trace part keeps of one lock dependency: a few indices, so that
/// the ~150k distinct dependencies of a large trace stay small.
#[derive(Debug)]
struct DepSummary {
    thread: ThreadIdx,
    lock: ObjIdx,
    mode: Mode,
    /// Where the first acquisition took `lock` (unknown without one).
    wanted_at: SiteIdx,
    /// The held locks, sorted by lock.
    held: Box<[HeldLock]>,
}

/// A lock held by a dependency.
#[derive(Clone, Copy, Debug)]
struct HeldLock {
    lock: ObjIdx,
    mode: Mode,
    /// A one-time cell or a task's completion: held by its own thread only, never a gate.
    once: bool,
    /// Where the first acquisition of the dependency had taken it (unknown without one).
    held_at: SiteIdx,
}

/// The sites of the acquisition of a dependency a confirmation chose.
#[derive(Debug)]
struct AcquisitionSites {
    /// Where each held lock was taken (parallel to the held set, possibly shorter).
    held_at: Box<[SiteIdx]>,
    /// Where the lock was requested.
    wanted_at: SiteIdx,
}

/// The deadlock patterns of one trace realising one cycle of locks.
#[derive(Debug)]
struct CyclePatterns {
    /// The locks of the cycle, in order (the first pattern's order).
    locks: Vec<ObjIdx>,
    /// Patterns handed to confirmation, in search order; later ones are skipped
    /// once one is confirmed or [`MAX_CONFIRMATIONS`] were tried.
    verdicts: Vec<PatternVerdict>,
    /// Whether patterns were left unconfirmed after [`MAX_CONFIRMATIONS`] attempts.
    gave_up: bool,
}

/// One deadlock pattern and what confirmation said of it.
#[derive(Debug)]
struct PatternVerdict {
    /// Dependency indices, in pattern order.
    deps: Vec<usize>,
    confirmed: Option<Confirmation>,
}

/// A sync-preserving witness, reduced to what findings show.
#[derive(Debug)]
struct Confirmation {
    /// Events of the reordered prefix.
    prefix_len: usize,
    /// Per pattern position, the sites of the acquisition the witness chose.
    sites: Vec<AcquisitionSites>,
}

impl AnalysisBuilder {
    /// An empty analysis with `options`.
    pub fn new(options: AnalysisOptions) -> AnalysisBuilder {
        AnalysisBuilder {
            options,
            // Realisations past the first MAX_REALISATIONS are never examined; one more
            // dependency per edge keeps "more than MAX_REALISATIONS" detectable.
            graph: LockOrderGraphBuilder::for_cycles(MAX_REALISATIONS + 1),
            runs: Vec::new(),
            nesting: BTreeMap::new(),
            races: BTreeMap::new(),
            observed: BTreeMap::new(),
            limits: BTreeSet::new(),
            warnings: Vec::new(),
            events: 0,
            threads: 0,
            locks: 0,
            freeing: None,
        }
    }

    /// Traces added so far.
    pub fn trace_count(&self) -> usize {
        self.runs.len()
    }

    /// Analyzes what needs `trace`'s events and keeps the rest for [`Self::finish`];
    /// the trace can be dropped afterwards. Traces are numbered in the order added.
    pub fn add_trace(&mut self, trace: &Trace) {
        let race_options = crate::race::RaceOptions {
            lockset: self.options.lockset,
            max_pairs: self.options.max_race_pairs,
        };
        let detect_races = || {
            let races = crate::race::detect(trace, &race_options);
            (
                crate::race::limit_messages(trace, &races, &race_options),
                crate::race::findings(trace, &races),
            )
        };
        let (messages, race_findings) = if trace.events.len() < RACE_THREAD_MIN_EVENTS {
            // Starting and joining a thread costs more than a small trace's races
            // (a thousand small runs took 8× longer).
            self.predict(trace);
            detect_races()
        } else {
            std::thread::scope(|scope| {
                // A panic in the race thread is re-raised here, as if it had run inline.
                let races = scope.spawn(detect_races);
                self.predict(trace);
                races
                    .join()
                    .unwrap_or_else(|payload| std::panic::resume_unwind(payload))
            })
        };
        for message in messages {
            self.limits.insert(LimitHit { message });
        }
        for f in race_findings {
            merge_finding(&mut self.races, f);
        }
        for report in &trace.observed {
            merge_finding(&mut self.observed, observed_finding(trace, report));
        }
        self.events += trace.events.len() as u64;
        self.threads += trace.threads.len();
        self.locks += count_locks(trace);
        self.warnings.extend(trace.warnings.iter().cloned());
    }

    /// Dependencies, graph contribution, confirmed patterns and nesting findings of `trace`.
    fn predict(&mut self, trace: &Trace) {
        if let Some(freeing) = self.freeing.take() {
            freeing
                .join()
                .unwrap_or_else(|payload| std::panic::resume_unwind(payload));
        }
        let options = &self.options;
        let deps = lock_dependencies_bounded(trace, options.max_held);
        // The graph, the pattern search and the closure index (linear in the trace to
        // build; any confirmation needs it) only read the dependencies: on a large trace
        // the graph takes the trace in on a second thread while this one searches for
        // patterns and, if there are any, builds the index and confirms them (by then the
        // race thread is usually done, so the two share the cores).
        let (truncated, patterns, mut kept) = if trace.events.len() >= RACE_THREAD_MIN_EVENTS {
            let graph = &mut self.graph;
            let deps = &deps;
            std::thread::scope(|scope| {
                let kept = scope.spawn(move || graph.add_trace(trace, deps));
                let found =
                    deadlock_patterns(&deps.deps, options.max_cycle_len, options.max_cycles);
                let closure: OnceCell<ClosureIndex> = OnceCell::new();
                if !found.patterns.is_empty() {
                    let _ = closure.set(ClosureIndex::new(trace));
                }
                // Confirmation reads only the trace, the dependencies and the index: it
                // runs before the join, beside the graph build.
                let patterns = confirm_patterns(trace, deps, found.patterns, closure);
                let kept = kept
                    .join()
                    .unwrap_or_else(|payload| std::panic::resume_unwind(payload));
                ((found.truncated, found.length_cut), patterns, kept)
            })
        } else {
            let kept = self.graph.add_trace(trace, &deps);
            let found = deadlock_patterns(&deps.deps, options.max_cycle_len, options.max_cycles);
            let patterns = confirm_patterns(trace, &deps, found.patterns, OnceCell::new());
            ((found.truncated, found.length_cut), patterns, kept)
        };
        if deps.held_truncated > 0 {
            self.limits.insert(LimitHit {
                message: format!(
                    "{}: {} acquisitions held more than {} other locks; their dependencies keep \
                     the innermost {}; raise with --max-held",
                    trace.source, deps.held_truncated, deps.max_held, deps.max_held
                ),
            });
        }
        let (truncated, length_cut) = truncated;
        if truncated {
            // Say which bound cut the search: a count that was never reached is no reason.
            let message = if length_cut {
                format!(
                    "{}: deadlock patterns of more than {} locks were not searched (longer \
                     chains of dependencies exist); raise with --max-cycle-len",
                    trace.source, options.max_cycle_len
                )
            } else {
                format!(
                    "{}: deadlock-pattern search stopped at {} patterns; raise with --max-cycles",
                    trace.source, options.max_cycles
                )
            };
            self.limits.insert(LimitHit { message });
        }
        for verdict in patterns.iter().flat_map(|g| &g.verdicts) {
            for &d in &verdict.deps {
                if let Some(k) = kept.get_mut(d) {
                    *k = true;
                }
            }
        }
        let summaries: Vec<(usize, DepSummary)> = deps
            .deps
            .iter()
            .enumerate()
            .filter(|&(d, _)| kept[d])
            .map(|(d, dep)| {
                let first = dep.instances.first();
                let held_sites = first.map_or(&[][..], |inst| deps.held_sites(dep, inst));
                let summary = DepSummary {
                    thread: dep.thread,
                    lock: dep.lock,
                    mode: dep.mode,
                    wanted_at: first.map_or(SiteIdx::UNKNOWN, |inst| inst.site),
                    held: dep
                        .held
                        .iter()
                        .enumerate()
                        .map(|(pos, &(h, mode))| HeldLock {
                            lock: h,
                            mode,
                            once: trace.object(h).kind == crate::model::ObjectKind::Once,
                            held_at: held_sites.get(pos).copied().unwrap_or(SiteIdx::UNKNOWN),
                        })
                        .collect(),
                };
                (d, summary)
            })
            .collect();
        for (kind, events) in [
            (FindingKind::SelfDeadlock, &deps.self_deadlocks),
            (FindingKind::RecursiveReadHazard, &deps.recursive_reads),
            (FindingKind::SameClassNesting, &deps.same_class),
        ] {
            for e in events {
                merge_finding(&mut self.nesting, nesting_finding(trace, kind, e));
            }
        }
        self.runs.push(RunSummary {
            source: trace.source.clone(),
            sites: referenced_sites(trace, &summaries, &patterns),
            thread_names: summary_threads(&summaries)
                .into_iter()
                .map(|t| (t, thread_name(trace, t.0 as usize)))
                .collect(),
            deps: summaries,
            patterns,
        });
        if trace.events.len() >= RACE_THREAD_MIN_EVENTS {
            // Freeing a large trace's dependencies (two vectors each, ~850k at 10M events)
            // took ~0.2 s on the critical path; another thread does it while this one goes on.
            self.freeing = Some(std::thread::spawn(move || drop(deps)));
        }
    }

    /// Searches the merged graph for cycles, classifies them and gathers every finding.
    pub fn finish(self) -> Analysis {
        let AnalysisBuilder {
            options,
            graph,
            runs,
            nesting,
            races,
            observed,
            mut limits,
            warnings,
            events,
            threads,
            locks,
            freeing: _,
        } = self;
        let graph = graph.finish();
        let search = elementary_cycles(
            &graph.successors(),
            options.max_cycle_len,
            options.max_cycles,
        );
        if search.count_limited {
            limits.insert(LimitHit {
                message: format!(
                    "cycle search stopped at {} cycles; raise with --max-cycles",
                    options.max_cycles
                ),
            });
        }
        if search.length_limited {
            limits.insert(LimitHit {
                message: format!(
                    "cycle search skipped cycles longer than {} locks; raise with --max-cycle-len",
                    options.max_cycle_len
                ),
            });
        }
        // Pattern verdicts per trace, keyed by the graph cycle (canonical rotation) they realise.
        let mut patterns_of: BTreeMap<Vec<usize>, Vec<(usize, &CyclePatterns)>> = BTreeMap::new();
        for (t, run) in runs.iter().enumerate() {
            for group in &run.patterns {
                let nodes: Option<Vec<usize>> = group
                    .locks
                    .iter()
                    .map(|&l| graph.node_of(t, l).map(|n| n.index()))
                    .collect();
                let Some(nodes) = nodes else { continue };
                let Some(start) = (0..nodes.len()).min_by_key(|&i| nodes[i]) else {
                    continue;
                };
                let mut cycle = nodes[start..].to_vec();
                cycle.extend_from_slice(&nodes[..start]);
                patterns_of.entry(cycle).or_default().push((t, group));
            }
        }

        let mut context = Context {
            runs: &runs,
            graph: &graph,
            findings: BTreeMap::new(),
        };
        let mut in_cycle: BTreeSet<(usize, usize)> = BTreeSet::new();
        for cycle in &search.cycles {
            let patterns = patterns_of.get(cycle).map_or(&[][..], Vec::as_slice);
            let reported = context.classify_cycle(cycle, patterns, &mut limits);
            if reported {
                for i in 0..cycle.len() {
                    in_cycle.insert((cycle[i], cycle[(i + 1) % cycle.len()]));
                }
            }
        }
        let mut findings = context.findings;
        // Categories never share ids (the kind is fingerprinted), so merging each
        // pre-merged category in the old order gives the same result.
        for f in nesting
            .into_values()
            .chain(races.into_values())
            .chain(observed.into_values())
        {
            merge_finding(&mut findings, f);
        }

        let mut findings: Vec<Finding> = findings.into_values().collect();
        fold_into_observed(&mut findings);
        group_instances_by_sites(&mut findings);
        // Merged by their exact ids above; shown by ids that survive moved lines.
        crate::finding::assign_stable_ids(&mut findings);
        let rank = |k: FindingKind| {
            FindingKind::ALL
                .iter()
                .position(|&x| x == k)
                .unwrap_or(usize::MAX)
        };
        findings.sort_by(|a, b| (rank(a.kind), &a.id).cmp(&(rank(b.kind), &b.id)));

        let mut summary = Summary {
            traces: runs.len(),
            events,
            threads,
            locks,
            findings: findings.len(),
            ..Summary::default()
        };
        for f in &findings {
            *summary.by_kind.entry(f.kind).or_default() += 1;
        }
        summary.failing = findings
            .iter()
            .filter(|f| options.fail_on.contains(&f.kind))
            .count();

        Analysis {
            inputs: runs.iter().map(|r| r.source.clone()).collect(),
            findings,
            graph: graph.view(&in_cycle),
            summary,
            warnings,
            limits: limits.into_iter().collect(),
        }
    }
}

/// Groups the deadlock patterns of one trace by the cycle of locks they realise and
/// confirms them: per cycle, patterns are tried in search order until one is
/// confirmed, at most [`MAX_CONFIRMATIONS`] of them. One closure index (linear in the
/// trace to build) serves every pattern, built on the first confirmation it serves.
fn confirm_patterns(
    trace: &Trace,
    deps: &Dependencies,
    patterns: Vec<DeadlockPattern>,
    closure: OnceCell<ClosureIndex>,
) -> Vec<CyclePatterns> {
    let mut groups: Vec<CyclePatterns> = Vec::new();
    // Per cycle (canonical rotation of its locks): its group, whether settled, attempts.
    let mut group_of: BTreeMap<Vec<ObjIdx>, (usize, bool, usize)> = BTreeMap::new();
    for p in patterns {
        // Dependency `d_i` acquires the lock `d_{i+1}` holds, so the locks in order follow edges.
        let locks: Option<Vec<ObjIdx>> = p
            .deps
            .iter()
            .map(|&d| deps.deps.get(d).map(|d| d.lock))
            .collect();
        let Some(locks) = locks else { continue };
        let Some(start) = (0..locks.len()).min_by_key(|&i| locks[i]) else {
            continue;
        };
        let mut key = locks[start..].to_vec();
        key.extend_from_slice(&locks[..start]);
        let next = groups.len();
        let (g, settled, tried) = group_of.entry(key).or_insert((next, false, 0));
        if *g == next {
            groups.push(CyclePatterns {
                locks,
                verdicts: Vec::new(),
                gave_up: false,
            });
        }
        let group = &mut groups[*g];
        if *settled || *tried >= MAX_CONFIRMATIONS {
            if *tried == MAX_CONFIRMATIONS && !*settled {
                *tried += 1;
                group.gave_up = true;
            }
            continue;
        }
        *tried += 1;
        let index = closure.get_or_init(|| ClosureIndex::new(trace));
        let confirmed = index.confirm(trace, &deps.deps, &p).map(|w| {
            *settled = true;
            Confirmation {
                prefix_len: w.prefix_len,
                sites: p
                    .deps
                    .iter()
                    .enumerate()
                    .map(|(j, &d)| {
                        let dep = &deps.deps[d];
                        let event = w.events.get(j).copied();
                        event
                            .and_then(|e| {
                                dep.instances
                                    .iter()
                                    .find(|i| i.acquire == e || i.request == Some(e))
                            })
                            .or_else(|| dep.instances.first())
                            .map_or(
                                AcquisitionSites {
                                    held_at: Box::default(),
                                    wanted_at: SiteIdx::UNKNOWN,
                                },
                                |inst| AcquisitionSites {
                                    held_at: deps.held_sites(dep, inst).into(),
                                    wanted_at: inst.site,
                                },
                            )
                    })
                    .collect(),
            }
        });
        group.verdicts.push(PatternVerdict {
            deps: p.deps,
            confirmed,
        });
    }
    groups
}

/// The sites of `trace` that `deps` and the confirmations of `patterns` refer to,
/// with the unknown site (the fallback of a missing one), as findings show them.
fn referenced_sites(
    trace: &Trace,
    deps: &[(usize, DepSummary)],
    patterns: &[CyclePatterns],
) -> BTreeMap<SiteIdx, SiteRef> {
    // Gathered flat and made distinct once: there are a few per kept dependency.
    let mut used: Vec<SiteIdx> = vec![SiteIdx::UNKNOWN];
    for (_, d) in deps {
        used.push(d.wanted_at);
        used.extend(d.held.iter().map(|h| h.held_at));
    }
    let confirmations = patterns
        .iter()
        .flat_map(|g| &g.verdicts)
        .filter_map(|v| v.confirmed.as_ref());
    for c in confirmations {
        for a in &c.sites {
            used.push(a.wanted_at);
            used.extend(a.held_at.iter().copied());
        }
    }
    used.sort_unstable();
    used.dedup();
    used.into_iter().map(|s| (s, site_ref(trace, s))).collect()
}

/// The distinct threads of `deps`, sorted (each name is then made once, not per dependency).
fn summary_threads(deps: &[(usize, DepSummary)]) -> Vec<ThreadIdx> {
    let mut threads: Vec<ThreadIdx> = deps.iter().map(|(_, d)| d.thread).collect();
    threads.sort_unstable();
    threads.dedup();
    threads
}

/// Lock objects of `trace`.
fn count_locks(trace: &Trace) -> usize {
    (0..trace.objects.len())
        .filter(|&o| trace.is_lock(crate::model::ObjIdx(o as u32)))
        .count()
}

/// One way a cycle is realised: per step `i` (holding `cycle[i]`, wanting `cycle[i+1]`), a dependency,
/// and the concrete acquisition shown for it.
#[derive(Clone, Debug)]
struct Realisation<'a> {
    steps: Vec<DepRef>,
    /// Per step, the acquisition a confirmation chose; `None` shows the dependency's first.
    chosen: Vec<Option<&'a AcquisitionSites>>,
}

/// How an ungated realisation relates threads and runs, in the order a finding prefers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Spread {
    /// All steps in one thread of one run.
    OneThread,
    /// Several threads of one run, but not a deadlock pattern.
    OneRun,
    /// Steps from different runs.
    Runs,
}

/// State shared while building findings.
struct Context<'a> {
    runs: &'a [RunSummary],
    graph: &'a LockOrderGraph,
    findings: BTreeMap<String, Finding>,
}

impl<'a> Context<'a> {
    /// Adds `f`, merging it into an earlier finding with the same id.
    fn add(&mut self, f: Finding) {
        merge_finding(&mut self.findings, f);
    }

    /// Classifies one elementary cycle and adds its finding; false when it is no hazard
    /// (no realisation has conflicting modes at every step).
    fn classify_cycle(
        &mut self,
        cycle: &[usize],
        patterns: &[(usize, &'a CyclePatterns)],
        limits: &mut BTreeSet<LimitHit>,
    ) -> bool {
        let k = cycle.len();
        if !patterns.is_empty() {
            let mut confirmed: Vec<(Realisation<'a>, usize)> = Vec::new();
            let mut unconfirmed: Vec<Realisation<'a>> = Vec::new();
            // The verdicts were reached per trace when it was added (see `confirm_patterns`).
            for &(t, group) in patterns {
                for verdict in &group.verdicts {
                    let Some(mut real) = self.pattern_realisation(cycle, t, &verdict.deps) else {
                        continue;
                    };
                    match &verdict.confirmed {
                        Some(c) => {
                            // The witness lists acquisitions in pattern order; map them to steps.
                            real.chosen = real
                                .steps
                                .iter()
                                .map(|s| {
                                    let j = verdict.deps.iter().position(|&d| d == s.dep);
                                    j.and_then(|j| c.sites.get(j))
                                })
                                .collect();
                            confirmed.push((real, c.prefix_len));
                        }
                        None => unconfirmed.push(real),
                    }
                }
                if group.gave_up {
                    limits.insert(LimitHit {
                        message: format!(
                            "{}: gave up confirming a cycle through {} after {MAX_CONFIRMATIONS} deadlock patterns",
                            self.runs[t].source,
                            self.graph.node(petgraph::graph::NodeIndex::new(cycle[0])).lock.name
                        ),
                    });
                }
            }
            if let Some((first, prefix_len)) = confirmed.first() {
                let traces = confirmed.iter().map(|(r, _)| r.steps[0].trace).collect();
                let reason = format!(
                    "confirmed: a sync-preserving reordering of {} reaches these {k} blocking requests together \
                     after {} events",
                    self.runs[first.steps[0].trace].source, prefix_len
                );
                let f = self.cycle_finding(
                    FindingKind::PredictedDeadlock,
                    cycle,
                    first,
                    &[],
                    Some(reason),
                    traces,
                    confirmed.len(),
                );
                self.add(f);
                return true;
            }
            if let Some(first) = unconfirmed.first() {
                let traces = unconfirmed.iter().map(|r| r.steps[0].trace).collect();
                let f = self.cycle_finding(
                    FindingKind::LockOrderInversion,
                    cycle,
                    first,
                    &[],
                    Some("ordered by happens-before / not sync-preserving in this run".to_owned()),
                    traces,
                    unconfirmed.len(),
                );
                self.add(f);
                return true;
            }
        }

        // No pattern: look at every realisation of the cycle by dependencies.
        let per_edge: Vec<Vec<DepRef>> = (0..k)
            .map(|i| {
                let from = petgraph::graph::NodeIndex::new(cycle[i]);
                let to = petgraph::graph::NodeIndex::new(cycle[(i + 1) % k]);
                self.graph
                    .edge(from, to)
                    .map(|e| e.deps.iter().copied().collect())
                    .unwrap_or_default()
            })
            .collect();
        let mut gated: Vec<(Realisation, Vec<usize>)> = Vec::new();
        let mut ungated: BTreeMap<Spread, Vec<Realisation>> = BTreeMap::new();
        let mut choice = vec![0usize; k];
        let mut examined = 0usize;
        if per_edge.iter().any(Vec::is_empty) {
            return false;
        }
        'product: loop {
            examined += 1;
            if examined > MAX_REALISATIONS {
                limits.insert(LimitHit {
                    message: format!(
                        "a cycle through {} has more than {MAX_REALISATIONS} realisations; only the first were classified",
                        self.graph.node(petgraph::graph::NodeIndex::new(cycle[0])).lock.name
                    ),
                });
                break;
            }
            let steps: Vec<DepRef> = (0..k).map(|i| per_edge[i][choice[i]]).collect();
            let real = Realisation {
                chosen: vec![None; steps.len()],
                steps,
            };
            if self.modes_conflict(cycle, &real) {
                let gates = self.gates(cycle, &real);
                if gates.is_empty() {
                    let spread = self.spread(&real);
                    ungated.entry(spread).or_default().push(real);
                } else {
                    gated.push((real, gates));
                }
            }
            // Next combination, odometer style.
            let mut i = 0;
            loop {
                if i == k {
                    break 'product;
                }
                choice[i] += 1;
                if choice[i] < per_edge[i].len() {
                    break;
                }
                choice[i] = 0;
                i += 1;
            }
        }

        if let Some((spread, reals)) = ungated.into_iter().next() {
            let first = &reals[0];
            let reason = match spread {
                Spread::OneThread => format!(
                    "all in thread {}: would deadlock if these paths ran concurrently",
                    self.runs[first.steps[0].trace].thread_name(self.dep(first.steps[0]).thread)
                ),
                Spread::OneRun => {
                    let threads: BTreeSet<String> = first
                        .steps
                        .iter()
                        .map(|s| self.runs[s.trace].thread_name(self.dep(*s).thread))
                        .collect();
                    format!(
                        "threads {} take these locks in conflicting orders but never as a deadlock pattern in this run \
                         (a thread takes two steps, or their held locks overlap): would deadlock if these paths ran \
                         concurrently",
                        threads.into_iter().collect::<Vec<_>>().join(", ")
                    )
                }
                Spread::Runs => {
                    let runs: BTreeSet<&str> = first
                        .steps
                        .iter()
                        .map(|s| self.runs[s.trace].source.as_str())
                        .collect();
                    format!(
                        "seen across separate runs: {}",
                        runs.into_iter().collect::<Vec<_>>().join(", ")
                    )
                }
            };
            let traces = reals
                .iter()
                .flat_map(|r| r.steps.iter().map(|s| s.trace))
                .collect();
            let f = self.cycle_finding(
                FindingKind::LockOrderInversion,
                cycle,
                first,
                &[],
                Some(reason),
                traces,
                reals.len(),
            );
            self.add(f);
            return true;
        }
        if let Some((first, gates)) = gated.first() {
            let names: BTreeSet<String> = gated
                .iter()
                .flat_map(|(_, g)| {
                    g.iter().map(|&n| {
                        self.graph
                            .node(petgraph::graph::NodeIndex::new(n))
                            .lock
                            .name
                            .clone()
                    })
                })
                .collect();
            let reason = format!(
                "every realisation holds the gate lock {} around the whole cycle, so it cannot deadlock (informational)",
                names.into_iter().collect::<Vec<_>>().join(" or ")
            );
            let traces = gated
                .iter()
                .flat_map(|(r, _)| r.steps.iter().map(|s| s.trace))
                .collect();
            let f = self.cycle_finding(
                FindingKind::GuardedCycle,
                cycle,
                first,
                gates,
                Some(reason),
                traces,
                gated.len(),
            );
            self.add(f);
            return true;
        }
        false
    }

    /// The dependency `d`.
    fn dep(&self, d: DepRef) -> &'a DepSummary {
        match self.runs[d.trace].dep(d.dep) {
            Some(dep) => dep,
            // Every dependency an edge or a pattern refers to was kept when its trace was added.
            None => unreachable!("dependency {d:?} was not kept"),
        }
    }

    /// The steps of pattern `p` of trace `t` in the order of `cycle`.
    fn pattern_realisation(
        &self,
        cycle: &[usize],
        t: usize,
        pattern: &[usize],
    ) -> Option<Realisation<'a>> {
        let k = cycle.len();
        let mut steps = Vec::with_capacity(k);
        for i in 0..k {
            let wants = cycle[(i + 1) % k];
            let d = pattern.iter().copied().find(|&d| {
                self.runs[t]
                    .dep(d)
                    .and_then(|d| self.graph.node_of(t, d.lock))
                    .map(|n| n.index())
                    == Some(wants)
            })?;
            steps.push(DepRef { trace: t, dep: d });
        }
        Some(Realisation {
            chosen: vec![None; steps.len()],
            steps,
        })
    }

    /// Position in `dep.held` of the lock that is node `node`.
    fn held_pos(&self, d: DepRef, node: usize) -> Option<usize> {
        self.dep(d)
            .held
            .iter()
            .position(|h| self.graph.node_of(d.trace, h.lock).map(|n| n.index()) == Some(node))
    }

    /// Whether, at every step, the requested mode conflicts with the mode the next step holds the lock in.
    fn modes_conflict(&self, cycle: &[usize], real: &Realisation) -> bool {
        let k = cycle.len();
        (0..k).all(|i| {
            let next = real.steps[(i + 1) % k];
            let wanted = self.dep(real.steps[i]).mode;
            match self.held_pos(next, cycle[(i + 1) % k]) {
                Some(pos) => explain::modes_conflict(self.dep(next).held[pos].mode, wanted),
                None => false,
            }
        })
    }

    /// Nodes held by every step of `real` other than the cycle's own locks: the gate locks.
    fn gates(&self, cycle: &[usize], real: &Realisation) -> Vec<usize> {
        let mut common: Option<BTreeSet<usize>> = None;
        for &s in &real.steps {
            let held: BTreeSet<usize> = self
                .dep(s)
                .held
                .iter()
                .filter_map(|h| self.graph.node_of(s.trace, h.lock).map(|n| n.index()))
                .filter(|n| !cycle.contains(n))
                .collect();
            common = Some(match common {
                None => held,
                Some(c) => c.intersection(&held).copied().collect(),
            });
        }
        common.unwrap_or_default().into_iter().collect()
    }

    /// How the steps of `real` spread over threads and runs.
    fn spread(&self, real: &Realisation) -> Spread {
        let runs: BTreeSet<usize> = real.steps.iter().map(|s| s.trace).collect();
        if runs.len() > 1 {
            return Spread::Runs;
        }
        let threads: BTreeSet<_> = real.steps.iter().map(|s| self.dep(*s).thread).collect();
        if threads.len() == 1 {
            Spread::OneThread
        } else {
            Spread::OneRun
        }
    }

    /// The [`CycleStep`]s of `real`; thread names carry the run when the steps span runs.
    fn cycle_steps(&self, cycle: &[usize], real: &Realisation) -> Vec<CycleStep> {
        let k = cycle.len();
        let cross_run = real.steps.iter().any(|s| s.trace != real.steps[0].trace);
        (0..k)
            .map(|i| {
                let d = real.steps[i];
                let run = &self.runs[d.trace];
                let dep = self.dep(d);
                let pos = self.held_pos(d, cycle[i]);
                let (held_at, wanted_at) = match real.chosen[i] {
                    Some(a) => (pos.and_then(|p| a.held_at.get(p).copied()), a.wanted_at),
                    None => (pos.map(|p| dep.held[p].held_at), dep.wanted_at),
                };
                let mut thread = run.thread_name(dep.thread);
                if cross_run {
                    thread = format!("{thread} [{}]", run.source);
                }
                let mut also_held: Vec<String> = dep
                    .held
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| Some(j) != pos)
                    // A one-time cell or a task's completion is held by its own thread only:
                    // it is no lock a sibling path could share, so never a gate to suggest.
                    .filter(|&(_, h)| !h.once)
                    // Every held lock of a dependency is a graph node.
                    .filter_map(|(_, h)| self.graph.node_of(d.trace, h.lock))
                    .map(|n| self.graph.node(n).lock.name.clone())
                    .collect();
                also_held.sort();
                also_held.dedup();
                CycleStep {
                    thread,
                    holds: self
                        .graph
                        .node(petgraph::graph::NodeIndex::new(cycle[i]))
                        .lock
                        .clone(),
                    holds_mode: pos.map_or(Mode::Write, |p| dep.held[p].mode),
                    held_at: run.site(held_at.unwrap_or(SiteIdx::UNKNOWN)),
                    wants: self
                        .graph
                        .node(petgraph::graph::NodeIndex::new(cycle[(i + 1) % k]))
                        .lock
                        .clone(),
                    wants_mode: dep.mode,
                    wanted_at: run.site(wanted_at),
                    also_held,
                }
            })
            .collect()
    }

    /// A cycle finding of `kind` shown through realisation `real`.
    #[allow(clippy::too_many_arguments)]
    fn cycle_finding(
        &self,
        kind: FindingKind,
        cycle: &[usize],
        real: &Realisation,
        gates: &[usize],
        reason: Option<String>,
        traces: BTreeSet<usize>,
        occurrences: usize,
    ) -> Finding {
        let mut steps = self.cycle_steps(cycle, real);
        // Rotate to the smallest step key so the id and the order do not depend on node numbering.
        let keys: Vec<[String; 4]> = steps
            .iter()
            .map(|s| {
                [
                    class_key(&s.holds),
                    s.held_at.display.clone(),
                    class_key(&s.wants),
                    s.wanted_at.display.clone(),
                ]
            })
            .collect();
        let start = (0..steps.len())
            .min_by(|&a, &b| {
                let ra = keys[a..].iter().chain(&keys[..a]);
                let rb = keys[b..].iter().chain(&keys[..b]);
                ra.cmp(rb)
            })
            .unwrap_or(0);
        steps.rotate_left(start);
        let mut parts: Vec<&str> = vec![kind.as_str()];
        let rotated: Vec<&[String; 4]> = keys[start..].iter().chain(&keys[..start]).collect();
        for k in &rotated {
            parts.extend(k.iter().map(String::as_str));
        }
        let id = fingerprint(parts);

        let gate_names: Vec<String> = gates
            .iter()
            .map(|&n| {
                self.graph
                    .node(petgraph::graph::NodeIndex::new(n))
                    .lock
                    .name
                    .clone()
            })
            .collect();
        let mut threads: Vec<String> = steps.iter().map(|s| s.thread.clone()).collect();
        threads.sort();
        threads.dedup();
        let sites = steps
            .iter()
            .flat_map(|s| {
                [
                    RoleSite {
                        role: format!("holds {}", s.holds.name),
                        thread: s.thread.clone(),
                        site: s.held_at.clone(),
                    },
                    RoleSite {
                        role: format!("requests {}", s.wants.name),
                        thread: s.thread.clone(),
                        site: s.wanted_at.clone(),
                    },
                ]
            })
            .collect();
        Finding {
            id,
            kind,
            severity: kind.severity(),
            message: explain::cycle_message(kind, &steps, &gate_names),
            locks: steps.iter().map(|s| s.holds.clone()).collect(),
            threads,
            sites,
            coffman: Some(explain::coffman(&steps, &gate_names)),
            fixes: explain::fixes(&steps, &gate_names),
            cycle: steps,
            reason,
            variable: None,
            accesses: Vec::new(),
            traces: traces
                .into_iter()
                .map(|t| self.runs[t].source.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            occurrences,
        }
    }
}

/// Adds `f` to `findings`, merging it into an earlier finding with the same id.
fn merge_finding(findings: &mut BTreeMap<String, Finding>, f: Finding) {
    match findings.get_mut(&f.id) {
        Some(existing) => {
            existing.occurrences += f.occurrences;
            existing.traces.extend(f.traces);
            existing.traces.sort();
            existing.traces.dedup();
            existing.threads.extend(f.threads);
            existing.threads.sort();
            existing.threads.dedup();
        }
        None => {
            findings.insert(f.id.clone(), f);
        }
    }
}

/// What identifies a lock across runs in a fingerprint: its class site, or its name when unknown.
fn class_key(lock: &LockRef) -> String {
    match &lock.class {
        Some(c) => format!("class:{}", c.display),
        None => format!("name:{}", lock.name),
    }
}

/// A self-deadlock, recursive-read or same-class finding.
fn nesting_finding(trace: &Trace, kind: FindingKind, e: &NestingEvent) -> Finding {
    let thread = thread_name(trace, e.thread.0 as usize);
    let held = lock_ref(trace, e.held);
    let lock = lock_ref(trace, e.lock);
    let held_at = site_ref(trace, event_site(trace, e.held_acquire));
    let again_at = site_ref(trace, event_site(trace, e.acquire));
    let (message, locks, sites) = match kind {
        FindingKind::SameClassNesting => (
            format!(
                "same-class nesting: thread {thread} holds {} ({}) and takes {} ({}), two instances of the class {}",
                held.name,
                held_at.display,
                lock.name,
                again_at.display,
                held.class
                    .as_ref()
                    .map_or("<unknown>", |c| c.display.as_str())
            ),
            vec![held.clone(), lock.clone()],
            vec![
                role(format!("holds {}", held.name), &thread, &held_at),
                role(format!("requests {}", lock.name), &thread, &again_at),
            ],
        ),
        FindingKind::RecursiveReadHazard => (
            format!(
                "recursive read: thread {thread} read-locks {} again at {} while read-holding it since {}; \
                 a writer queued in between deadlocks both",
                lock.name, again_at.display, held_at.display
            ),
            vec![lock.clone()],
            vec![
                role(format!("reads {}", lock.name), &thread, &held_at),
                role(format!("reads {} again", lock.name), &thread, &again_at),
            ],
        ),
        _ => (
            format!(
                "self-deadlock: thread {thread} locks {} again at {} while holding it since {}",
                lock.name, again_at.display, held_at.display
            ),
            vec![lock.clone()],
            vec![
                role(format!("holds {}", lock.name), &thread, &held_at),
                role(format!("requests {} again", lock.name), &thread, &again_at),
            ],
        ),
    };
    let id = fingerprint([
        kind.as_str(),
        &class_key(&held),
        &held_at.display,
        &class_key(&lock),
        &again_at.display,
    ]);
    Finding {
        id,
        kind,
        severity: kind.severity(),
        message,
        locks,
        threads: vec![thread],
        sites,
        cycle: Vec::new(),
        coffman: None,
        fixes: vec![explain::nesting_fix(kind, &lock.name, &held_at, &again_at)],
        reason: None,
        variable: None,
        accesses: Vec::new(),
        traces: vec![trace.source.clone()],
        occurrences: 1,
    }
}

/// A [`RoleSite`].
fn role(role: String, thread: &str, site: &SiteRef) -> RoleSite {
    RoleSite {
        role,
        thread: thread.to_owned(),
        site: site.clone(),
    }
}

/// A finding the program reported at run time. Its kind is the report's own when
/// it names a known kind, else `observed-deadlock`; `locks` and `threads` come from
/// its JSON when present (strings, or objects with a `name`).
fn observed_finding(trace: &Trace, report: &crate::model::ObservedReport) -> Finding {
    let kind = FindingKind::parse(&report.kind).unwrap_or(FindingKind::ObservedDeadlock);
    let json: serde_json::Value =
        serde_json::from_str(&report.json).unwrap_or(serde_json::Value::Null);
    let live = ObservedJson::read(&json);
    // The trace's own record of a lock by the name the live report gave it, for its class.
    let class_of = |name: &str| {
        trace
            .objects
            .iter()
            .find(|o| o.name == name)
            .map(|o| site_ref(trace, o.class))
            .filter(|c| c.line != 0)
    };
    let locks: Vec<LockRef> = live
        .locks
        .iter()
        .map(|(name, kind)| LockRef {
            name: name.clone(),
            kind: kind.clone(),
            class: class_of(name),
        })
        .collect();
    // The threads of the cycle when there is one (the others only wait on them).
    let mut threads: Vec<String> = if live.cycle.is_empty() {
        live.threads.iter().map(|t| t.name.clone()).collect()
    } else {
        live.cycle.clone()
    };
    threads.sort();
    threads.dedup();
    let mut sites = Vec::new();
    for t in &live.threads {
        for (lock, site) in &t.holds {
            sites.push(role(format!("holds {lock}"), &t.name, &parse_site(site)));
        }
        sites.push(role(
            format!("waits for {}", t.waits_for),
            &t.name,
            &parse_site(&t.site),
        ));
    }
    sites.sort();
    sites.dedup();
    let cycle = observed_cycle(&live, &locks);
    let coffman = (!live.coffman.is_empty()).then(|| {
        let condition = |name: &str| Condition {
            holds: true,
            evidence: live
                .coffman
                .iter()
                .find(|(k, _)| k == name)
                .map_or_else(String::new, |(_, v)| v.clone()),
        };
        Coffman {
            mutual_exclusion: condition("mutual exclusion"),
            hold_and_wait: condition("hold and wait"),
            no_preemption: condition("no preemption"),
            circular_wait: condition("circular wait"),
        }
    });
    let mut parts: Vec<&str> = vec![kind.as_str(), "observed"];
    if locks.is_empty() {
        parts.push(&report.message);
    } else {
        let mut sorted: Vec<&str> = locks.iter().map(|l| l.name.as_str()).collect();
        sorted.sort();
        parts.extend(sorted);
    }
    let id = fingerprint(parts);
    Finding {
        id,
        kind,
        severity: kind.severity(),
        message: report.message.clone(),
        locks,
        threads,
        sites,
        cycle,
        coffman,
        fixes: Vec::new(),
        reason: Some("observed while the program ran".to_owned()),
        variable: None,
        accesses: Vec::new(),
        traces: vec![trace.source.clone()],
        occurrences: 1,
    }
}

/// Cycles over lock instances without a class (foreign traces name locks, not their
/// construction sites) that run through the same acquisition sites are one finding, as
/// a class would make them: the same code taking different objects. The first (by id)
/// stands for the group; the others add their occurrences, traces and threads.
fn group_instances_by_sites(findings: &mut Vec<Finding>) {
    let key = |f: &Finding| -> Option<(FindingKind, Vec<(String, String)>)> {
        if f.cycle.is_empty() || f.locks.iter().any(|l| l.class.is_some()) {
            return None;
        }
        let mut steps: Vec<(String, String)> = f
            .cycle
            .iter()
            .map(|s| (s.held_at.display.clone(), s.wanted_at.display.clone()))
            .collect();
        steps.sort();
        Some((f.kind, steps))
    };
    let mut order: Vec<usize> = (0..findings.len()).collect();
    order.sort_by(|&a, &b| findings[a].id.cmp(&findings[b].id));
    let mut first_of: BTreeMap<(FindingKind, Vec<(String, String)>), usize> = BTreeMap::new();
    let mut merged_into: Vec<Option<usize>> = vec![None; findings.len()];
    for i in order {
        let Some(k) = key(&findings[i]) else { continue };
        match first_of.get(&k) {
            Some(&rep) => merged_into[i] = Some(rep),
            None => {
                first_of.insert(k, i);
            }
        }
    }
    let mut extra = vec![0usize; findings.len()];
    for i in 0..findings.len() {
        let Some(rep) = merged_into[i] else { continue };
        extra[rep] += 1;
        let (occurrences, traces, threads) = (
            findings[i].occurrences,
            findings[i].traces.clone(),
            findings[i].threads.clone(),
        );
        let target = &mut findings[rep];
        target.occurrences += occurrences;
        target.traces.extend(traces);
        target.traces.sort();
        target.traces.dedup();
        target.threads.extend(threads);
        target.threads.sort();
        target.threads.dedup();
    }
    for (f, &n) in findings.iter_mut().zip(&extra) {
        if n > 0 {
            f.message.push_str(&format!(
                " (and {n} more lock instance cycles through the same sites)"
            ));
        }
    }
    let mut i = 0;
    findings.retain(|_| {
        i += 1;
        merged_into[i - 1].is_none()
    });
}

/// One deadlock, one finding: a predicted cycle over exactly the locks (and among
/// the threads) of a deadlock the program really hit is folded into the observed
/// finding, which takes its fix suggestions and, if it has none, its cycle steps.
fn fold_into_observed(findings: &mut Vec<Finding>) {
    let names =
        |f: &Finding| -> BTreeSet<String> { f.locks.iter().map(|l| l.name.clone()).collect() };
    let observed: Vec<(usize, BTreeSet<String>)> = findings
        .iter()
        .enumerate()
        .filter(|(_, f)| f.kind == FindingKind::ObservedDeadlock && !f.locks.is_empty())
        .map(|(i, f)| (i, names(f)))
        .collect();
    if observed.is_empty() {
        return;
    }
    let mut folded = vec![false; findings.len()];
    for i in 0..findings.len() {
        let f = &findings[i];
        if !matches!(
            f.kind,
            FindingKind::PredictedDeadlock | FindingKind::LockOrderInversion
        ) {
            continue;
        }
        let locks = names(f);
        let Some(&(o, _)) = observed.iter().find(|(o, l)| {
            *l == locks && f.threads.iter().all(|t| findings[*o].threads.contains(t))
        }) else {
            continue;
        };
        let (fixes, cycle) = (f.fixes.clone(), f.cycle.clone());
        let target = &mut findings[o];
        if target.fixes.is_empty() {
            target.fixes = fixes;
        }
        if target.cycle.is_empty() {
            target.cycle = cycle;
        }
        target.reason =
            Some("observed while the program ran; the trace also predicts this cycle".to_owned());
        folded[i] = true;
    }
    let mut i = 0;
    findings.retain(|_| {
        i += 1;
        !folded[i - 1]
    });
}

/// The live detector's report as recorded in the trace (`instrumented_sync`'s
/// `DeadlockReport::to_json`); fields it lacks are empty.
struct ObservedJson {
    locks: Vec<(String, String)>,
    threads: Vec<ObservedThread>,
    cycle: Vec<String>,
    coffman: Vec<(String, String)>,
}

struct ObservedThread {
    name: String,
    waits_for: String,
    resource_kind: String,
    site: String,
    /// `queued-writers` for a reader waiting behind writers.
    wakers_are: String,
    holds: Vec<(String, String)>,
}

impl ObservedJson {
    fn read(json: &serde_json::Value) -> ObservedJson {
        let text = |v: &serde_json::Value, field: &str| {
            v.get(field)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let array = |v: &serde_json::Value, field: &str| -> Vec<serde_json::Value> {
            v.get(field)
                .and_then(serde_json::Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let locks = array(json, "locks")
            .iter()
            .filter_map(|l| match l {
                serde_json::Value::String(s) => Some((s.clone(), "mutex".to_owned())),
                serde_json::Value::Object(_) => {
                    Some((text(l, "name"), contract_kind(&text(l, "kind")).to_owned()))
                }
                _ => None,
            })
            .filter(|(name, _)| !name.is_empty())
            .collect();
        let threads = array(json, "threads")
            .iter()
            .filter_map(|t| match t {
                serde_json::Value::String(s) => Some(ObservedThread {
                    name: s.clone(),
                    waits_for: String::new(),
                    resource_kind: String::new(),
                    site: String::new(),
                    wakers_are: String::new(),
                    holds: Vec::new(),
                }),
                serde_json::Value::Object(_) => Some(ObservedThread {
                    name: text(t, "name"),
                    waits_for: text(t, "waits_for"),
                    resource_kind: contract_kind(&text(t, "resource_kind")).to_owned(),
                    site: text(t, "site"),
                    wakers_are: text(t, "wakers_are"),
                    holds: array(t, "holds")
                        .iter()
                        .map(|h| (text(h, "lock"), text(h, "site")))
                        .collect(),
                }),
                _ => None,
            })
            .collect();
        let cycle = array(json, "cycle")
            .iter()
            .filter_map(|c| c.as_str().map(str::to_owned))
            .collect();
        let coffman = json
            .get("coffman")
            .and_then(serde_json::Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        ObservedJson {
            locks,
            threads,
            cycle,
            coffman,
        }
    }
}

/// The JSON contract's kind names; older live reports spelled two of them differently.
fn contract_kind(kind: &str) -> &str {
    match kind {
        "rwlock" => "rw-lock",
        "spinlock" => "spin-lock",
        other => other,
    }
}

/// `file:line:column` (or `unknown`) as the live report writes a site.
fn parse_site(text: &str) -> SiteRef {
    let mut parts = text.rsplitn(3, ':');
    let column = parts.next().and_then(|c| c.parse::<u32>().ok());
    let line = parts.next().and_then(|l| l.parse::<u32>().ok());
    match (parts.next(), line, column) {
        (Some(file), Some(line), Some(column)) => SiteRef {
            file: Some(file.to_owned()),
            line,
            column,
            display: text.to_owned(),
        },
        _ => SiteRef {
            file: None,
            line: 0,
            column: 0,
            display: "<unknown>".to_owned(),
        },
    }
}

/// The cycle's steps when it runs through locks only: each thread holds the lock the
/// previous one waits for and waits for the next.
fn observed_cycle(live: &ObservedJson, locks: &[LockRef]) -> Vec<CycleStep> {
    let lock = |name: &str| {
        locks
            .iter()
            .find(|l| l.name == name)
            .cloned()
            .unwrap_or(LockRef {
                name: name.to_owned(),
                kind: "mutex".to_owned(),
                class: None,
            })
    };
    let n = live.cycle.len();
    let mut steps = Vec::new();
    for (i, name) in live.cycle.iter().enumerate() {
        let Some(t) = live.threads.iter().find(|t| &t.name == name) else {
            return Vec::new();
        };
        let prev = &live.cycle[(i + n - 1) % n];
        let Some(p) = live.threads.iter().find(|t| &t.name == prev) else {
            return Vec::new();
        };
        // What this thread holds that the previous one waits for (a read hold is
        // listed as "name (read)").
        let held = t.holds.iter().find(|(l, _)| {
            l == &p.waits_for || l.strip_suffix(" (read)") == Some(p.waits_for.as_str())
        });
        let Some((held_name, held_at)) = held else {
            return Vec::new();
        };
        if t.resource_kind == "thread" || t.waits_for.is_empty() {
            return Vec::new();
        }
        let read = held_name.ends_with(" (read)");
        steps.push(CycleStep {
            thread: t.name.clone(),
            holds: lock(held_name.strip_suffix(" (read)").unwrap_or(held_name)),
            holds_mode: if read { Mode::Read } else { Mode::Write },
            held_at: parse_site(held_at),
            wants: lock(&t.waits_for),
            wants_mode: if t.wakers_are == "queued-writers" {
                Mode::Read
            } else {
                Mode::Write
            },
            wanted_at: parse_site(&t.site),
            also_held: Vec::new(),
        });
    }
    steps
}

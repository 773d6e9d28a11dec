//! Many traces fed one at a time to `AnalysisBuilder`: the merged lock-order graph and
//! its cycles against a brute-force oracle, and equality with `analyze`.

use std::collections::{BTreeMap, BTreeSet};

use analyzer::analysis::{AnalysisBuilder, AnalysisOptions, analyze};
use analyzer::finding::FindingKind;
use analyzer::model::{Attempt, Event, Mode, ObjectKind, Op, Site, Trace, TraceBuilder};
use proptest::prelude::*;

/// Locks named `L0`…`L3`; a classed lock's class is line `100 + i` of `src/state.rs`.
const LOCKS: usize = 4;

/// One run: which locks have a class site, and nestings `(thread, outer, inner)`.
#[derive(Clone, Debug)]
struct Run {
    classed: [bool; LOCKS],
    nests: Vec<(usize, usize, usize)>,
}

/// What identifies a node across runs: a class, or one run's instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Class(usize),
    Instance(usize, usize),
}

fn source(t: usize) -> String {
    format!("run{t}.trace")
}

fn build(t: usize, run: &Run) -> Trace {
    let mut b = TraceBuilder::new(source(t));
    let file = |line: u32| Site {
        file: Some("src/bank.rs".into()),
        line,
        column: 0,
    };
    for (i, &classed) in run.classed.iter().enumerate() {
        let o = b.object(&format!("L{i}"), ObjectKind::Mutex);
        if classed {
            let class = b.site(Site {
                file: Some("src/state.rs".into()),
                line: 100 + i as u32,
                column: 0,
            });
            let obj = &mut b.trace_mut().objects[o.0 as usize];
            obj.class = class;
            obj.user_named = true;
        }
    }
    for (n, &(thread, outer, inner)) in run.nests.iter().enumerate() {
        let th = b.thread(&format!("T{thread}"));
        let line = 10 * n as u32;
        let (o, i) = (
            b.object(&format!("L{outer}"), ObjectKind::Mutex),
            b.object(&format!("L{inner}"), ObjectKind::Mutex),
        );
        for (lock, at) in [(o, line), (i, line + 1)] {
            let site = b.site(file(at));
            b.push(Event {
                thread: th,
                op: Op::Acquire {
                    lock,
                    mode: Mode::Write,
                    attempt: Attempt::Blocking,
                },
                site,
            });
        }
        for (lock, at) in [(i, line + 2), (o, line + 3)] {
            let site = b.site(file(at));
            b.push(Event {
                thread: th,
                op: Op::Release {
                    lock,
                    mode: Mode::Write,
                },
                site,
            });
        }
    }
    b.finish()
}

fn key(t: usize, runs: &[Run], lock: usize) -> Key {
    if runs[t].classed[lock] {
        Key::Class(lock)
    } else {
        Key::Instance(t, lock)
    }
}

/// The merged graph by definition: every nesting of every run is an edge between keys.
fn oracle_edges(runs: &[Run]) -> BTreeSet<(Key, Key)> {
    let mut edges = BTreeSet::new();
    for (t, run) in runs.iter().enumerate() {
        for &(_, outer, inner) in &run.nests {
            edges.insert((key(t, runs, outer), key(t, runs, inner)));
        }
    }
    edges
}

/// Whether `to` reaches `from` in `edges` (so the edge `from`→`to` lies on a cycle).
fn on_cycle(edges: &BTreeSet<(Key, Key)>, from: Key, to: Key) -> bool {
    let mut seen = BTreeSet::from([to]);
    let mut stack = vec![to];
    while let Some(v) = stack.pop() {
        if v == from {
            return true;
        }
        for &(a, b) in edges {
            if a == v && seen.insert(b) {
                stack.push(b);
            }
        }
    }
    false
}

fn run_strategy() -> impl Strategy<Value = Run> {
    let nest = (0usize..2, 0..LOCKS, 1..LOCKS)
        .prop_map(|(thread, outer, step)| (thread, outer, (outer + step) % LOCKS));
    (
        proptest::array::uniform4(proptest::bool::weighted(0.7)),
        proptest::collection::vec(nest, 0..5),
    )
        .prop_map(|(classed, nests)| Run { classed, nests })
}

fn options() -> AnalysisOptions {
    AnalysisOptions {
        // Long enough for every elementary cycle of these small graphs.
        max_cycle_len: 4 * LOCKS,
        ..AnalysisOptions::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn merged_graph_and_cycles_match_the_oracle(runs in proptest::collection::vec(run_strategy(), 1..5)) {
        let mut builder = AnalysisBuilder::new(options());
        for (t, run) in runs.iter().enumerate() {
            // Each trace is dropped before the next is built.
            builder.add_trace(&build(t, run));
        }
        prop_assert_eq!(builder.trace_count(), runs.len());
        let analysis = builder.finish();

        let expected = oracle_edges(&runs);
        let run_of: BTreeMap<String, usize> = (0..runs.len()).map(|t| (source(t), t)).collect();
        // A node's key from its lock and the run an edge witness names.
        let view_key = |node: usize, trace: &str| -> Key {
            let lock = &analysis.graph.nodes[node].lock;
            let i: usize = lock.name[1..].parse().unwrap();
            match lock.class {
                Some(_) => Key::Class(i),
                None => Key::Instance(run_of[trace], i),
            }
        };
        let mut got = BTreeSet::new();
        let mut in_cycle = BTreeSet::new();
        for e in &analysis.graph.edges {
            prop_assert!(!e.witnesses.is_empty());
            for w in &e.witnesses {
                let k = (view_key(e.from, &w.trace), view_key(e.to, &w.trace));
                got.insert(k);
                if e.in_cycle {
                    in_cycle.insert(k);
                }
            }
        }
        prop_assert_eq!(&got, &expected);
        let nodes: BTreeSet<Key> = expected.iter().flat_map(|&(a, b)| [a, b]).collect();
        prop_assert_eq!(analysis.graph.nodes.len(), nodes.len());

        // Every edge on a cycle is reported (all modes conflict, nothing gates), and no other.
        let cyclic: BTreeSet<(Key, Key)> =
            expected.iter().copied().filter(|&(a, b)| on_cycle(&expected, a, b)).collect();
        prop_assert_eq!(&in_cycle, &cyclic);
        let cycle_findings = analysis
            .findings
            .iter()
            .filter(|f| matches!(f.kind, FindingKind::PredictedDeadlock | FindingKind::LockOrderInversion))
            .count();
        prop_assert_eq!(cycle_findings > 0, !cyclic.is_empty());
        prop_assert!(analysis.findings.iter().all(|f| f.kind != FindingKind::GuardedCycle));

        // The slice API is the same builder: byte-identical output.
        let traces: Vec<Trace> = runs.iter().enumerate().map(|(t, r)| build(t, r)).collect();
        prop_assert_eq!(analyze(&traces, &options()), analysis);
    }
}

#[test]
fn a_builder_with_no_traces_finishes_empty() {
    let analysis = AnalysisBuilder::new(AnalysisOptions::default()).finish();
    assert!(analysis.findings.is_empty());
    assert!(analysis.graph.nodes.is_empty());
    assert_eq!(analysis.summary.traces, 0);
    assert_eq!(analysis, analyze(&[], &AnalysisOptions::default()));
}

/// Whether `to` reaches `from` along `succ` (so the edge `from`→`to` lies on a cycle).
fn reaches(succ: &[Vec<usize>], to: usize, from: usize) -> bool {
    let mut seen = vec![false; succ.len()];
    let mut stack = vec![to];
    seen[to] = true;
    while let Some(v) = stack.pop() {
        if v == from {
            return true;
        }
        for &w in &succ[v] {
            if !seen[w] {
                seen[w] = true;
                stack.push(w);
            }
        }
    }
    false
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn cycle_graph_keeps_the_first_deps_of_every_cyclic_edge(
        runs in proptest::collection::vec(run_strategy(), 1..5),
        max in 1usize..4,
    ) {
        use analyzer::graph::{LockOrderGraph, LockOrderGraphBuilder};
        let traces: Vec<Trace> = runs.iter().enumerate().map(|(t, r)| build(t, r)).collect();
        let deps: Vec<_> = traces
            .iter()
            .map(|t| analyzer::predict::lock_dependencies_bounded(t, 8))
            .collect();
        let full = LockOrderGraph::build(&traces, &deps);
        let mut builder = LockOrderGraphBuilder::for_cycles(max);
        for (t, d) in traces.iter().zip(&deps) {
            builder.add_trace(t, d);
        }
        let pruned = builder.finish();
        // Same nodes, edges and witnesses.
        let none = BTreeSet::new();
        prop_assert_eq!(full.view(&none), pruned.view(&none));
        let succ = full.successors();
        for e in full.graph.edge_indices() {
            let (from, to) = full.graph.edge_endpoints(e).unwrap();
            let all: Vec<_> = full.graph[e].deps.iter().copied().collect();
            let kept: Vec<_> = pruned.edge(from, to).unwrap().deps.iter().copied().collect();
            if reaches(&succ, to.index(), from.index()) {
                prop_assert_eq!(&kept[..], &all[..all.len().min(max)]);
            } else {
                // Nothing to keep, but never more than the cap or anything foreign.
                prop_assert!(kept.len() <= max && kept.iter().all(|d| all.contains(d)));
            }
        }
    }
}

#[test]
fn acyclic_instance_edges_keep_no_dependencies() {
    use analyzer::graph::LockOrderGraphBuilder;
    // Unclassed locks are this run's own: an acyclic run can never close a cycle.
    let run = Run {
        classed: [false; LOCKS],
        nests: vec![(0, 0, 1), (1, 1, 2)],
    };
    let trace = build(0, &run);
    let deps = analyzer::predict::lock_dependencies_bounded(&trace, 8);
    let mut builder = LockOrderGraphBuilder::for_cycles(4);
    let kept = builder.add_trace(&trace, &deps);
    assert!(kept.iter().all(|&k| !k), "{kept:?}");
    let graph = builder.finish();
    assert_eq!(graph.graph.edge_count(), 2);
    assert!(graph.graph.edge_weights().all(|e| e.deps.is_empty()));

    // The same shape with classed locks may meet another run's opposite order.
    let run = Run {
        classed: [true; LOCKS],
        nests: vec![(0, 0, 1), (1, 1, 2)],
    };
    let trace = build(0, &run);
    let deps = analyzer::predict::lock_dependencies_bounded(&trace, 8);
    let mut builder = LockOrderGraphBuilder::for_cycles(4);
    assert!(builder.add_trace(&trace, &deps).iter().all(|&k| k));
}

//! The lock-order graph: an edge A→B for every dependency that acquired B while holding A.
//!
//! # Node keying
//!
//! Several traces are analysed together, so a node must say which lock it is
//! across runs. A lock instance of trace `t` is keyed
//!
//! - [`NodeKey::Class`] `(class site, display name)` when its class (construction
//!   site) is known and no other lock of the same trace has the same class and
//!   name. Such locks of *different* traces merge into one node: test 1 taking
//!   `accounts` then `audit` and test 2 taking `audit` then `accounts` form a
//!   2-cycle even though each run alone is consistent.
//! - [`NodeKey::Instance`] `(t, lock)` otherwise: foreign traces without class
//!   sites, and instances that share class and name with another instance of
//!   the same trace (merging those would invent self-loops and hide real
//!   nesting of two instances).

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::{DiGraph, NodeIndex};

use super::{EdgeWitness, GraphEdge, GraphNode, LockOrderView};
use crate::finding::{LockRef, SiteRef};
use crate::model::fast_hash::FastHashMap;
use crate::model::{ObjIdx, ObjectKind, Site, SiteIdx, Trace};
use crate::predict::Dependencies;

/// What identifies a node of the lock-order graph (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeKey {
    /// A lock with a known class whose (class, name) is unique in its trace; merges across traces.
    Class {
        /// The construction site.
        class: Site,
        /// The display name.
        name: String,
    },
    /// A lock instance of one trace.
    Instance {
        /// Index of the trace in the analysed slice.
        trace: usize,
        /// The lock in that trace.
        lock: ObjIdx,
    },
}

/// A node: one lock, possibly seen in several traces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockNode {
    /// Stable id, usable as a DOT node id; nodes are indexed in id order.
    pub id: String,
    /// The lock as findings show it (taken from its first instance).
    pub lock: LockRef,
    /// What identifies it.
    pub key: NodeKey,
    /// Every (trace index, lock) instance merged into this node, sorted.
    pub instances: Vec<(usize, ObjIdx)>,
}

/// One dependency of one trace: index `dep` into `Dependencies::deps` of trace `trace`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DepRef {
    /// Index of the trace in the analysed slice.
    pub trace: usize,
    /// Index into that trace's `Dependencies::deps`.
    pub dep: usize,
}

/// An edge A→B: the dependencies that acquired B while holding A.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LockEdge {
    /// Every distinct witness.
    pub witnesses: BTreeSet<EdgeWitness>,
    /// Every dependency behind the edge.
    pub deps: BTreeSet<DepRef>,
}

/// The lock-order graph of one or more traces.
#[derive(Clone, Debug, Default)]
pub struct LockOrderGraph {
    /// Nodes in id order; edges in (from, to) order.
    pub graph: DiGraph<LockNode, LockEdge>,
    node_of: BTreeMap<(usize, ObjIdx), NodeIndex>,
}

impl LockOrderGraph {
    /// Builds the graph of `traces`, where `deps[i]` are the dependencies of `traces[i]`.
    /// Extra entries of the longer slice are ignored.
    pub fn build(traces: &[Trace], deps: &[Dependencies]) -> LockOrderGraph {
        let mut builder = LockOrderGraphBuilder::default();
        for (trace, d) in traces.iter().zip(deps) {
            builder.add_trace(trace, d);
        }
        builder.finish()
    }

    /// The node of lock `lock` of trace `trace`, if it takes part in a dependency.
    pub fn node_of(&self, trace: usize, lock: ObjIdx) -> Option<NodeIndex> {
        self.node_of.get(&(trace, lock)).copied()
    }

    /// The node at `ix`.
    pub fn node(&self, ix: NodeIndex) -> &LockNode {
        &self.graph[ix]
    }

    /// The edge `from`→`to`, if any.
    pub fn edge(&self, from: NodeIndex, to: NodeIndex) -> Option<&LockEdge> {
        self.graph.find_edge(from, to).map(|e| &self.graph[e])
    }

    /// Successor lists by node index, for [`super::elementary_cycles`].
    pub fn successors(&self) -> Vec<Vec<usize>> {
        let mut succ = vec![Vec::new(); self.graph.node_count()];
        for e in self.graph.raw_edges() {
            succ[e.source().index()].push(e.target().index());
        }
        succ
    }

    /// The graph as plain data; edges in `in_cycle` (pairs of node indices) are marked.
    pub fn view(&self, in_cycle: &BTreeSet<(usize, usize)>) -> LockOrderView {
        let nodes = self
            .graph
            .node_weights()
            .map(|n| GraphNode {
                id: n.id.clone(),
                lock: n.lock.clone(),
            })
            .collect();
        let mut edges: Vec<GraphEdge> = self
            .graph
            .raw_edges()
            .iter()
            .map(|e| {
                let (from, to) = (e.source().index(), e.target().index());
                GraphEdge {
                    from,
                    to,
                    witnesses: e.weight.witnesses.iter().cloned().collect(),
                    in_cycle: in_cycle.contains(&(from, to)),
                }
            })
            .collect();
        edges.sort_by_key(|e| (e.from, e.to));
        LockOrderView { nodes, edges }
    }
}

/// A node gathered by [`LockOrderGraphBuilder`] before ids and indices are assigned.
#[derive(Clone, Debug)]
struct PendingNode {
    /// The lock as its first instance shows it.
    lock: LockRef,
    /// Every (trace index, lock) instance, in the order added (which is sorted).
    instances: Vec<(usize, ObjIdx)>,
}

/// An edge gathered by [`LockOrderGraphBuilder`], between provisional node numbers.
#[derive(Clone, Debug, Default)]
struct PendingEdge {
    /// Sorted and distinct: traces and their dependencies are added in index order.
    deps: Vec<DepRef>,
    witnesses: BTreeSet<EdgeWitness>,
}

/// Builds a [`LockOrderGraph`] one trace at a time.
///
/// Each trace contributes its node keys, its first-seen lock names, its
/// dependency references and its witnesses as strings, so the trace (and its
/// dependencies, whose instances grow with the events) can be dropped once
/// added: the builder grows with the graph, not with the events. Node ids and
/// indices depend on every key, so they are assigned by [`Self::finish`]; the
/// result equals [`LockOrderGraph::build`] over the same traces in the same order
/// (except for the dependencies [`Self::for_cycles`] leaves out).
#[derive(Clone, Debug)]
pub struct LockOrderGraphBuilder {
    /// Provisional node number of each key.
    keys: BTreeMap<NodeKey, usize>,
    /// Nodes by provisional number.
    nodes: Vec<PendingNode>,
    /// Edges by provisional (from, to).
    edges: BTreeMap<(usize, usize), PendingEdge>,
    /// Traces added so far.
    traces: usize,
    /// Most dependencies kept per edge.
    max_edge_deps: usize,
    /// Keep dependencies only on edges that can lie on a cycle of the merged graph.
    cycles_only: bool,
}

impl Default for LockOrderGraphBuilder {
    fn default() -> Self {
        LockOrderGraphBuilder {
            keys: BTreeMap::new(),
            nodes: Vec::new(),
            edges: BTreeMap::new(),
            traces: 0,
            max_edge_deps: usize::MAX,
            cycles_only: false,
        }
    }
}

impl LockOrderGraphBuilder {
    /// An empty builder keeping every dependency of every edge.
    pub fn new() -> LockOrderGraphBuilder {
        LockOrderGraphBuilder::default()
    }

    /// An empty builder that keeps, in [`LockEdge::deps`], only what a search over
    /// the cycles of the merged graph can use, so that it grows with the graph rather
    /// than with the runs: at most `max_edge_deps` dependencies per edge (the smallest
    /// [`DepRef`]s), and none on an edge that can lie on no cycle whatever traces are
    /// added later. Trace `t`'s edge u→v lies on a cycle only if v reaches u; a path
    /// leaves `t`'s own edges only through class-keyed nodes (instance nodes have no
    /// other edges), so v must reach u within `t`'s edges, or reach a class node while
    /// u is reached from one. Nodes and witnesses are all kept.
    pub fn for_cycles(max_edge_deps: usize) -> LockOrderGraphBuilder {
        LockOrderGraphBuilder {
            max_edge_deps,
            cycles_only: true,
            ..LockOrderGraphBuilder::default()
        }
    }

    /// Traces added so far.
    pub fn trace_count(&self) -> usize {
        self.traces
    }

    /// Adds `trace` with its dependencies `deps` as trace number [`Self::trace_count`]
    /// (the `trace` of its [`DepRef`]s and [`NodeKey::Instance`] keys) and returns, per
    /// dependency of `deps`, whether an edge kept it.
    pub fn add_trace(&mut self, trace: &Trace, deps: &Dependencies) -> Vec<bool> {
        let t = self.traces;
        self.traces += 1;
        // Provisional node number of each lock of this trace, by lock index (a plain
        // array: there is one lookup per held lock of every dependency).
        let lock_slots = deps
            .deps
            .iter()
            .flat_map(|d| std::iter::once(d.lock).chain(d.held.iter().map(|&(h, _)| h)))
            .map(|l| l.0 as usize + 1)
            .max()
            .unwrap_or(0);
        let mut local: Vec<usize> = vec![NO_NODE; lock_slots];
        // Every lock that takes part in a dependency becomes (part of) a node.
        for dep in &deps.deps {
            local[dep.lock.0 as usize] = 0;
            for &(h, _) in &dep.held {
                local[h.0 as usize] = 0;
            }
        }
        let mut counts: BTreeMap<(SiteIdx, &str), usize> = BTreeMap::new();
        for o in &trace.objects {
            if o.class != SiteIdx::UNKNOWN && is_lock_kind(o.kind) {
                *counts.entry((o.class, o.name.as_str())).or_default() += 1;
            }
        }
        // Those nodes keyed by class: the only nodes other traces' edges can reach.
        let mut class_nodes: BTreeSet<usize> = BTreeSet::new();
        // Locks in index order, so each node's instances stay sorted.
        for (l, slot) in local.iter_mut().enumerate() {
            if *slot == NO_NODE {
                continue;
            }
            let lock = ObjIdx(l as u32);
            let key = match trace.objects.get(l) {
                Some(o)
                    if o.class != SiteIdx::UNKNOWN
                        && counts.get(&(o.class, o.name.as_str())).copied() == Some(1) =>
                {
                    let class = trace
                        .sites
                        .get(o.class.0 as usize)
                        .cloned()
                        .unwrap_or_else(Site::unknown);
                    NodeKey::Class {
                        class,
                        name: o.name.clone(),
                    }
                }
                _ => NodeKey::Instance { trace: t, lock },
            };
            let next = self.nodes.len();
            let is_class = matches!(key, NodeKey::Class { .. });
            let n = *self.keys.entry(key).or_insert(next);
            if is_class {
                class_nodes.insert(n);
            }
            if n == next {
                // Traces come in index order, so the first instance is the smallest.
                self.nodes.push(PendingNode {
                    lock: lock_ref(trace, lock),
                    instances: Vec::new(),
                });
            }
            self.nodes[n].instances.push((t, lock));
            *slot = n;
        }

        // One pass over the dependencies numbers this trace's distinct edges (one hash
        // probe per held lock), lists each edge's dependencies in order, and gathers the
        // witnesses as plain indices: there is one per dependency instance (per
        // acquisition event), so their strings are made only once per distinct witness.
        let mut edge_of: FastHashMap<(usize, usize), u32> = FastHashMap::default();
        // Per local edge: its (from, to) and its dependencies in index order.
        let mut edge_list: Vec<((usize, usize), Vec<u32>)> = Vec::new();
        // (local edge, thread, held site, acquired site), made distinct per dependency.
        let mut raw: Vec<RawWitness> = Vec::new();
        let mut dep_raw: Vec<RawWitness> = Vec::new();
        // Per held lock of the current dependency: its local edge (NO_EDGE for `to` itself).
        let mut targets: Vec<u32> = Vec::new();
        for (di, dep) in deps.deps.iter().enumerate() {
            let to = local[dep.lock.0 as usize];
            targets.clear();
            for &(h, _) in &dep.held {
                let from = local[h.0 as usize];
                if from == to {
                    // Re-acquiring a held lock is a nesting finding, not an ordering.
                    targets.push(NO_EDGE);
                    continue;
                }
                let next = edge_list.len() as u32;
                let e = *edge_of.entry((from, to)).or_insert(next);
                if e == next {
                    edge_list.push(((from, to), Vec::new()));
                }
                edge_list[e as usize].1.push(di as u32);
                targets.push(e);
            }
            if targets.iter().all(|&e| e == NO_EDGE) {
                continue;
            }
            dep_raw.clear();
            for inst in &dep.instances {
                // Sites were recorded with the dependency: the event array is not touched.
                let held_sites = deps.held_sites(dep, inst);
                for (pos, &e) in targets.iter().enumerate() {
                    if e != NO_EDGE {
                        let held_at = held_sites.get(pos).copied().unwrap_or(SiteIdx::UNKNOWN);
                        dep_raw.push((e, dep.thread.0, held_at, inst.site));
                    }
                }
            }
            // Instances of one dependency mostly repeat the same sites: keep the flat
            // array short by deduplicating each dependency's share before adding it.
            dep_raw.sort_unstable();
            dep_raw.dedup();
            raw.extend_from_slice(&dep_raw);
        }
        raw.sort_unstable();
        raw.dedup();

        let mut kept = vec![false; deps.deps.len()];
        let live = self
            .cycles_only
            .then(|| live_edges(&edge_list, &local, &class_nodes));
        for (e, (key, edge_deps)) in edge_list.iter().enumerate() {
            let edge = self.edges.entry(*key).or_default();
            let can_cycle = live.as_ref().is_none_or(|l| l[e]);
            if can_cycle {
                for &di in edge_deps {
                    if edge.deps.len() >= self.max_edge_deps {
                        break;
                    }
                    edge.deps.push(DepRef {
                        trace: t,
                        dep: di as usize,
                    });
                    kept[di as usize] = true;
                }
            }
        }
        // Distinct witnesses come grouped by local edge; site strings are made once per site.
        let mut site_refs: FastHashMap<SiteIdx, SiteRef> = FastHashMap::default();
        let mut site = |s: SiteIdx| {
            site_refs
                .entry(s)
                .or_insert_with(|| site_ref(trace, s))
                .clone()
        };
        for group in raw.chunk_by(|a, b| a.0 == b.0) {
            let key = edge_list[group[0].0 as usize].0;
            let edge = self.edges.entry(key).or_default();
            for &(_, thread, held_at, acquired_at) in group {
                edge.witnesses.insert(EdgeWitness {
                    thread: thread_name(trace, thread as usize),
                    held_at: site(held_at),
                    acquired_at: site(acquired_at),
                    trace: trace.source.clone(),
                });
            }
        }
        kept
    }

    /// The graph: ids from names (equal names get a suffix in key order), nodes indexed in id order.
    pub fn finish(self) -> LockOrderGraph {
        let LockOrderGraphBuilder {
            keys, nodes, edges, ..
        } = self;
        let mut nodes: Vec<Option<PendingNode>> = nodes.into_iter().map(Some).collect();
        let mut ordered: Vec<(usize, LockNode)> = Vec::with_capacity(nodes.len());
        let mut base_uses: BTreeMap<String, usize> = BTreeMap::new();
        for (key, n) in keys {
            let Some(pending) = nodes.get_mut(n).and_then(Option::take) else {
                continue;
            };
            let base = format!("lock_{}", sanitize(&pending.lock.name));
            let uses = base_uses.entry(base.clone()).or_default();
            *uses += 1;
            let id = if *uses == 1 {
                base
            } else {
                format!("{base}_{uses}")
            };
            ordered.push((
                n,
                LockNode {
                    id,
                    lock: pending.lock,
                    key,
                    instances: pending.instances,
                },
            ));
        }
        ordered.sort_by(|a, b| a.1.id.cmp(&b.1.id));

        let mut graph = DiGraph::new();
        let mut node_of = BTreeMap::new();
        let mut index_of = vec![NodeIndex::end(); ordered.len()];
        for (n, node) in ordered {
            let instances = node.instances.clone();
            let ix = graph.add_node(node);
            if let Some(slot) = index_of.get_mut(n) {
                *slot = ix;
            }
            for inst in instances {
                node_of.insert(inst, ix);
            }
        }
        // Edges are added in (from, to) order of the final indices.
        let edges: BTreeMap<(NodeIndex, NodeIndex), PendingEdge> = edges
            .into_iter()
            .map(|((from, to), e)| ((index_of[from], index_of[to]), e))
            .collect();
        for ((from, to), e) in edges {
            graph.add_edge(
                from,
                to,
                LockEdge {
                    witnesses: e.witnesses,
                    deps: e.deps.into_iter().collect(),
                },
            );
        }
        LockOrderGraph { graph, node_of }
    }
}

/// Per edge of `edge_list` (one trace's distinct edges between provisional node
/// numbers): whether it can lie on a cycle of the merged graph (see
/// [`LockOrderGraphBuilder::for_cycles`]); `local` maps the trace's locks to provisional
/// node numbers ([`NO_NODE`] for none), `class_nodes` are those keyed by class.
fn live_edges(
    edge_list: &[((usize, usize), Vec<u32>)],
    local: &[usize],
    class_nodes: &BTreeSet<usize>,
) -> Vec<bool> {
    // Compact numbering of this trace's nodes for the searches.
    let nodes: Vec<usize> = local
        .iter()
        .copied()
        .filter(|&n| n != NO_NODE)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let index = |n: usize| nodes.binary_search(&n).unwrap_or(0);
    let mut g: DiGraph<(), ()> = DiGraph::with_capacity(nodes.len(), edge_list.len());
    let ix: Vec<NodeIndex> = nodes.iter().map(|_| g.add_node(())).collect();
    for &((from, to), _) in edge_list {
        g.add_edge(ix[index(from)], ix[index(to)], ());
    }
    let mut component = vec![0usize; nodes.len()];
    // Kosaraju: petgraph's Tarjan recurses once per node and overflows the stack on long chains.
    for (c, members) in petgraph::algo::kosaraju_scc(&g).into_iter().enumerate() {
        for m in members {
            component[m.index()] = c;
        }
    }
    let is_class: Vec<bool> = nodes.iter().map(|n| class_nodes.contains(n)).collect();
    let reach = |dir: petgraph::Direction| -> Vec<bool> {
        let mut seen = is_class.clone();
        let mut stack: Vec<usize> = (0..nodes.len()).filter(|&i| seen[i]).collect();
        while let Some(v) = stack.pop() {
            for w in g.neighbors_directed(ix[v], dir) {
                if !seen[w.index()] {
                    seen[w.index()] = true;
                    stack.push(w.index());
                }
            }
        }
        seen
    };
    // Nodes reached from a class node, and nodes that reach one.
    let from_class = reach(petgraph::Direction::Outgoing);
    let to_class = reach(petgraph::Direction::Incoming);
    edge_list
        .iter()
        .map(|&((from, to), _)| {
            let (u, v) = (index(from), index(to));
            component[u] == component[v] || (to_class[v] && from_class[u])
        })
        .collect()
}

/// The provisional node number of a lock that takes part in no dependency.
const NO_NODE: usize = usize::MAX;

/// The local edge of a held lock that is the acquired lock itself (no edge).
const NO_EDGE: u32 = u32::MAX;

/// A witness as plain indices: (local edge, thread, held site, acquired site).
type RawWitness = (u32, u32, SiteIdx, SiteIdx);

/// Whether `kind` is a lock.
fn is_lock_kind(kind: ObjectKind) -> bool {
    matches!(
        kind,
        ObjectKind::Mutex | ObjectKind::RwLock | ObjectKind::ReentrantMutex | ObjectKind::SpinLock
    )
}

/// `name` with everything but ASCII letters, digits and `_` replaced by `_`, so it is a DOT id.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The site of event `e`, unknown when `e` is out of range.
pub(crate) fn event_site(trace: &Trace, e: usize) -> SiteIdx {
    trace.events.get(e).map_or(SiteIdx::UNKNOWN, |ev| ev.site)
}

/// The name of thread `t`, or `T<t>` when the trace does not describe it.
pub(crate) fn thread_name(trace: &Trace, t: usize) -> String {
    trace
        .threads
        .get(t)
        .map_or_else(|| format!("T{t}"), |th| th.name.clone())
}

/// The kebab-case name of an object kind, as findings spell it.
pub fn kind_name(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Mutex => "mutex",
        ObjectKind::RwLock => "rw-lock",
        ObjectKind::ReentrantMutex => "reentrant-mutex",
        ObjectKind::SpinLock => "spin-lock",
        ObjectKind::Condvar => "condvar",
        ObjectKind::Barrier => "barrier",
        ObjectKind::Semaphore => "semaphore",
        ObjectKind::Channel => "channel",
        ObjectKind::Once => "once",
        ObjectKind::Variable => "variable",
    }
}

/// Lock `lock` of `trace` as findings show it.
pub fn lock_ref(trace: &Trace, lock: ObjIdx) -> LockRef {
    match trace.objects.get(lock.0 as usize) {
        Some(o) => LockRef {
            name: o.name.clone(),
            kind: kind_name(o.kind).to_owned(),
            class: (o.class != SiteIdx::UNKNOWN).then(|| site_ref(trace, o.class)),
        },
        None => LockRef {
            name: format!("lock#{}", lock.0),
            kind: "mutex".to_owned(),
            class: None,
        },
    }
}

/// Site `site` of `trace` as findings show it.
pub fn site_ref(trace: &Trace, site: SiteIdx) -> SiteRef {
    let unknown = Site::unknown();
    site_ref_of(trace.sites.get(site.0 as usize).unwrap_or(&unknown))
}

/// `s` as findings show it.
pub fn site_ref_of(s: &Site) -> SiteRef {
    SiteRef {
        file: s.file.clone(),
        line: s.line,
        column: s.column,
        display: s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::LockOrderGraph;
    use crate::model::{Op, Trace};
    use crate::predict::lock_dependencies;
    use crate::trace::{LoadOptions, load_bytes};

    /// An edge of trace `trace` from lock `from` to lock `to`, by lock index.
    type OracleEdge = (usize, u32, u32);

    /// A witness as (thread, held site, acquired site, trace), in display form.
    type OracleWitness = (String, String, String, String);

    /// An STD trace of `steps` (thread, lock, site): a thread takes the lock when
    /// it does not hold it and otherwise releases its most recent lock, so every
    /// thread nests properly and never re-acquires a held lock.
    fn std_trace(steps: &[(u8, u8, u8)]) -> String {
        let mut held: BTreeMap<u8, Vec<u8>> = BTreeMap::new();
        let mut text = String::new();
        for &(t, l, s) in steps {
            let stack = held.entry(t).or_default();
            if stack.contains(&l) {
                let top = stack.pop().unwrap_or(l);
                text.push_str(&format!("T{t}|rel(L{top})|{s}\n"));
            } else {
                stack.push(l);
                text.push_str(&format!("T{t}|acq(L{l})|{s}\n"));
            }
        }
        text
    }

    /// Every edge of `trace` (number `t`) with its witnesses, straight from the events:
    /// each acquisition is ordered after every lock its thread holds at that moment.
    fn oracle(t: usize, trace: &Trace, out: &mut BTreeMap<OracleEdge, BTreeSet<OracleWitness>>) {
        let mut held: BTreeMap<u32, Vec<(u32, String)>> = BTreeMap::new();
        for ev in &trace.events {
            let site = super::site_ref(trace, ev.site).display;
            let stack = held.entry(ev.thread.0).or_default();
            match ev.op {
                Op::Acquire { lock, .. } => {
                    for (h, held_at) in stack.iter() {
                        out.entry((t, *h, lock.0)).or_default().insert((
                            super::thread_name(trace, ev.thread.0 as usize),
                            held_at.clone(),
                            site.clone(),
                            trace.source.clone(),
                        ));
                    }
                    stack.push((lock.0, site));
                }
                Op::Release { lock, .. } => stack.retain(|(h, _)| *h != lock.0),
                _ => {}
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Edges, their witnesses and their dependencies match a walk of the events.
        #[test]
        fn edges_and_witnesses_match_the_events(
            runs in proptest::collection::vec(
                proptest::collection::vec((0u8..3, 0u8..4, 1u8..5), 1..40),
                1..3,
            )
        ) {
            let traces: Vec<Trace> = runs
                .iter()
                .enumerate()
                .map(|(i, steps)| {
                    load_bytes(&format!("t{i}.std"), std_trace(steps).as_bytes(), &LoadOptions::default())
                        .expect("generated trace loads")
                })
                .collect();
            let deps: Vec<_> = traces.iter().map(lock_dependencies).collect();
            let graph = LockOrderGraph::build(&traces, &deps);
            let mut expected: BTreeMap<OracleEdge, BTreeSet<OracleWitness>> = BTreeMap::new();
            for (t, trace) in traces.iter().enumerate() {
                oracle(t, trace, &mut expected);
            }
            let mut seen = 0;
            for (&(t, from, to), witnesses) in &expected {
                let node = |l: u32| graph.node_of(t, crate::model::ObjIdx(l)).expect("lock has a node");
                let edge = graph.edge(node(from), node(to)).expect("edge exists");
                // The traces' locks are all instance-keyed, so edges of different traces never merge.
                let got: BTreeSet<OracleWitness> = edge
                    .witnesses
                    .iter()
                    .map(|w| (w.thread.clone(), w.held_at.display.clone(), w.acquired_at.display.clone(), w.trace.clone()))
                    .collect();
                prop_assert_eq!(&got, witnesses);
                // Exactly the dependencies acquiring `to` while holding `from`.
                let want_deps: BTreeSet<usize> = deps[t]
                    .deps
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| d.lock.0 == to && d.held.iter().any(|&(h, _)| h.0 == from))
                    .map(|(i, _)| i)
                    .collect();
                let got_deps: BTreeSet<usize> = edge.deps.iter().filter(|d| d.trace == t).map(|d| d.dep).collect();
                prop_assert_eq!(got_deps, want_deps);
                seen += 1;
            }
            prop_assert_eq!(graph.graph.edge_count(), seen);
        }
    }
}

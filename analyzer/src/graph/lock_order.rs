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
use crate::model::fast_hash::FastHashSet;
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
        // Every lock that takes part in a dependency becomes (part of) a node.
        let mut used: BTreeSet<(usize, ObjIdx)> = BTreeSet::new();
        for (t, d) in deps.iter().enumerate().take(traces.len()) {
            for dep in &d.deps {
                used.insert((t, dep.lock));
                used.extend(dep.held.iter().map(|&(h, _)| (t, h)));
            }
        }

        let mut members: BTreeMap<NodeKey, Vec<(usize, ObjIdx)>> = BTreeMap::new();
        let mut ambiguous: Vec<BTreeMap<(SiteIdx, &str), usize>> = Vec::new();
        for trace in traces {
            let mut counts: BTreeMap<(SiteIdx, &str), usize> = BTreeMap::new();
            for o in &trace.objects {
                if o.class != SiteIdx::UNKNOWN && is_lock_kind(o.kind) {
                    *counts.entry((o.class, o.name.as_str())).or_default() += 1;
                }
            }
            ambiguous.push(counts);
        }
        for &(t, lock) in &used {
            let trace = &traces[t];
            let key = match trace.objects.get(lock.0 as usize) {
                Some(o)
                    if o.class != SiteIdx::UNKNOWN
                        && ambiguous[t].get(&(o.class, o.name.as_str())).copied() == Some(1) =>
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
            members.entry(key).or_default().push((t, lock));
        }

        // Readable ids from names; equal names get a suffix in key order.
        let mut nodes: Vec<LockNode> = Vec::new();
        let mut base_uses: BTreeMap<String, usize> = BTreeMap::new();
        for (key, instances) in members {
            let (t, lock) = instances[0];
            let lock_ref = lock_ref(&traces[t], lock);
            let base = format!("lock_{}", sanitize(&lock_ref.name));
            let uses = base_uses.entry(base.clone()).or_default();
            *uses += 1;
            let id = if *uses == 1 {
                base
            } else {
                format!("{base}_{uses}")
            };
            nodes.push(LockNode {
                id,
                lock: lock_ref,
                key,
                instances,
            });
        }
        nodes.sort_by(|a, b| a.id.cmp(&b.id));

        let mut graph = DiGraph::new();
        let mut node_of = BTreeMap::new();
        for node in nodes {
            let instances = node.instances.clone();
            let ix = graph.add_node(node);
            for inst in instances {
                node_of.insert(inst, ix);
            }
        }

        // Witnesses are gathered as plain indices first: there is one per dependency
        // instance (per acquisition event), and building their strings for each one
        // dominated the analysis of large traces. Strings are made once per distinct witness.
        type RawWitness = (usize, u32, SiteIdx, SiteIdx);
        let mut edges: BTreeMap<
            (NodeIndex, NodeIndex),
            (BTreeSet<DepRef>, FastHashSet<RawWitness>),
        > = BTreeMap::new();
        for (t, d) in deps.iter().enumerate().take(traces.len()) {
            for (di, dep) in d.deps.iter().enumerate() {
                let to = node_of[&(t, dep.lock)];
                // The edges of this dependency, one per held lock other than `to`.
                let mut targets = Vec::with_capacity(dep.held.len());
                for (pos, &(h, _)) in dep.held.iter().enumerate() {
                    let from = node_of[&(t, h)];
                    if from == to {
                        // Re-acquiring a held lock is a nesting finding, not an ordering.
                        continue;
                    }
                    let (edge_deps, _) = edges.entry((from, to)).or_default();
                    edge_deps.insert(DepRef { trace: t, dep: di });
                    targets.push((pos, (from, to)));
                }
                if targets.is_empty() {
                    continue;
                }
                // Instances outermost: each acquisition's site is looked up once (the
                // events array is large, so these lookups are cache misses).
                let mut raws: Vec<FastHashSet<RawWitness>> =
                    vec![FastHashSet::default(); targets.len()];
                for inst in &dep.instances {
                    // Sites were recorded with the dependency: the event array is not touched.
                    let held_sites = d.held_sites(dep, inst);
                    for (raw, &(pos, _)) in raws.iter_mut().zip(&targets) {
                        let held_at = held_sites.get(pos).copied().unwrap_or(SiteIdx::UNKNOWN);
                        raw.insert((t, dep.thread.0, held_at, inst.site));
                    }
                }
                for (raw, (_, key)) in raws.into_iter().zip(targets) {
                    edges.entry(key).or_default().1.extend(raw);
                }
            }
        }
        for ((from, to), (edge_deps, raw)) in edges {
            let witnesses = raw
                .into_iter()
                .map(|(t, thread, held_at, acquired_at)| {
                    let trace = &traces[t];
                    EdgeWitness {
                        thread: thread_name(trace, thread as usize),
                        held_at: site_ref(trace, held_at),
                        acquired_at: site_ref(trace, acquired_at),
                        trace: trace.source.clone(),
                    }
                })
                .collect();
            let edge = LockEdge {
                witnesses,
                deps: edge_deps,
            };
            graph.add_edge(from, to, edge);
        }
        LockOrderGraph { graph, node_of }
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
    let s = trace.sites.get(site.0 as usize).unwrap_or(&unknown);
    SiteRef {
        file: s.file.clone(),
        line: s.line,
        column: s.column,
        display: s.to_string(),
    }
}

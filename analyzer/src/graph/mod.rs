//! The lock-order graph and its cycles.

pub mod cycles;
pub mod lock_order;

use serde::Serialize;

pub use cycles::{CycleSearch, elementary_cycles};
pub use lock_order::{
    DepRef, LockEdge, LockNode, LockOrderGraph, LockOrderGraphBuilder, NodeKey, lock_ref, site_ref,
    site_ref_of,
};

use crate::finding::{LockRef, SiteRef};

/// One witness of an edge A→B: a thread took B at `acquired_at` while holding A taken at `held_at`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct EdgeWitness {
    /// The thread.
    pub thread: String,
    /// Where it took A.
    pub held_at: SiteRef,
    /// Where it took B.
    pub acquired_at: SiteRef,
    /// The trace file.
    pub trace: String,
}

/// A node of the rendered lock-order graph.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct GraphNode {
    /// Stable id, usable as a DOT node id.
    pub id: String,
    /// The lock.
    pub lock: LockRef,
}

/// An edge of the rendered lock-order graph: `to` was acquired while holding `from`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct GraphEdge {
    /// Index into [`LockOrderView::nodes`].
    pub from: usize,
    /// Index into [`LockOrderView::nodes`].
    pub to: usize,
    /// Every distinct witness, sorted.
    pub witnesses: Vec<EdgeWitness>,
    /// Whether the edge lies on a reported cycle.
    pub in_cycle: bool,
}

/// The whole-run lock-order graph as plain data for renderers, in a stable order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct LockOrderView {
    /// Nodes, sorted by id.
    pub nodes: Vec<GraphNode>,
    /// Edges, sorted by (from, to).
    pub edges: Vec<GraphEdge>,
}

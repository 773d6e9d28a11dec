//! Abstract deadlock patterns over lock dependencies.
//!
//! A depth-first search over the dependency graph (d → e when e's thread holds the lock d
//! acquires, in a conflicting mode). Before searching, dependencies that cannot lie on
//! any cycle are dropped: their (held lock → acquired lock) edges must lie inside one
//! strongly connected component of the lock graph, and the acquired lock must be held by
//! some other thread's dependency (locks touched by one thread only never close a cycle).

use crate::model::fast_hash::FastHashMap as HashMap;

use petgraph::algo::kosaraju_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use super::dependencies::LockDependency;
use crate::model::{Mode, ObjIdx};

/// Dependencies `d_1 … d_k` (indices into `Dependencies::deps`, k ≥ 2) from distinct threads,
/// each acquiring a lock held by the next, the last acquiring a lock held by the first, with
/// pairwise disjoint held sets and conflicting modes. Rotated so the smallest index is first.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeadlockPattern {
    /// Indices into `Dependencies::deps`, in cycle order.
    pub deps: Vec<usize>,
}

/// The result of a bounded pattern search.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PatternSearch {
    /// Patterns found, sorted.
    pub patterns: Vec<DeadlockPattern>,
    /// Whether `max_patterns` or `max_len` cut the search short. For `max_len` this means a
    /// valid chain of `max_len` dependencies could have been extended further (a longer
    /// pattern may exist, it was not looked for).
    pub truncated: bool,
    /// Whether `max_len` cut it (else, if `truncated`, only `max_patterns` did).
    pub length_cut: bool,
}

/// Whether a thread acquiring in `acquire` mode waits for a holder in `held` mode.
pub fn modes_conflict(acquire: Mode, held: Mode) -> bool {
    !matches!(
        (acquire, held),
        (Mode::Read, Mode::Read) | (Mode::Read, Mode::Upgradable) | (Mode::Upgradable, Mode::Read)
    )
}

/// Whether `from` can be followed by `to` in a pattern: other thread, and `to` holds the lock
/// `from` acquires in a conflicting mode.
pub fn waits_for(from: &LockDependency, to: &LockDependency) -> bool {
    from.thread != to.thread
        && to
            .held_mode(from.lock)
            .is_some_and(|m| modes_conflict(from.mode, m))
}

/// Whether two held sets share a lock (both sorted by lock).
pub fn held_overlap(a: &[(ObjIdx, Mode)], b: &[(ObjIdx, Mode)]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

/// Whether `cycle` (indices into `deps`, in order) is a deadlock pattern.
pub fn is_pattern(deps: &[LockDependency], cycle: &[usize]) -> bool {
    let k = cycle.len();
    if k < 2 {
        return false;
    }
    for (x, &i) in cycle.iter().enumerate() {
        if !waits_for(&deps[i], &deps[cycle[(x + 1) % k]]) {
            return false;
        }
        for &j in &cycle[x + 1..] {
            let (a, b) = (&deps[i], &deps[j]);
            if a.thread == b.thread || a.lock == b.lock || held_overlap(&a.held, &b.held) {
                return false;
            }
        }
    }
    true
}

/// The depth-first search state.
struct Search<'a> {
    deps: &'a [LockDependency],
    /// Candidate dependencies holding each lock (the successors of an acquisition of it).
    holders: HashMap<ObjIdx, Vec<usize>>,
    /// Strongly connected component of each candidate's acquired lock.
    component: Vec<usize>,
    max_len: usize,
    max_patterns: usize,
    path: Vec<usize>,
    found: Vec<DeadlockPattern>,
    truncated: bool,
    length_cut: bool,
    /// Set once `max_patterns` is exceeded: the search is over.
    stopped: bool,
}

impl Search<'_> {
    /// Whether `next` may extend the current path: a larger index than the start, same
    /// component, a thread and lock not yet used, and a held set disjoint from all so far.
    fn compatible(&self, next: usize) -> bool {
        let d = &self.deps[next];
        next > self.path[0]
            && self.component[next] == self.component[self.path[0]]
            && self.path.iter().all(|&p| {
                let e = &self.deps[p];
                e.thread != d.thread && e.lock != d.lock && !held_overlap(&e.held, &d.held)
            })
    }

    /// Extends the current path depth-first, recording the cycles it closes.
    fn extend(&mut self) {
        let last = *self.path.last().expect("the path starts non-empty");
        let first = self.path[0];
        if self.path.len() >= 2 && waits_for(&self.deps[last], &self.deps[first]) {
            if self.found.len() >= self.max_patterns {
                self.truncated = true;
                self.stopped = true;
                return;
            }
            self.found.push(DeadlockPattern {
                deps: self.path.clone(),
            });
        }
        let lock = self.deps[last].lock;
        let candidates = self.holders.get(&lock).map_or(0, Vec::len);
        for k in 0..candidates {
            // Indexed rather than iterated: the recursion below needs `self` mutably.
            let n = self.holders[&lock][k];
            if !waits_for(&self.deps[last], &self.deps[n]) || !self.compatible(n) {
                continue;
            }
            if self.path.len() >= self.max_len {
                self.truncated = true;
                self.length_cut = true;
                return;
            }
            self.path.push(n);
            self.extend();
            self.path.pop();
            if self.stopped {
                return;
            }
        }
    }
}

/// Enumerates deadlock patterns of length at most `max_len`, stopping after `max_patterns`.
pub fn deadlock_patterns(
    deps: &[LockDependency],
    max_len: usize,
    max_patterns: usize,
) -> PatternSearch {
    // Lock graph: held → acquired, one edge per distinct (held, acquired) pair (the
    // dependencies repeat pairs many times over; components do not depend on multiplicity).
    // Locks are numbered densely in order of first appearance, so the per-dependency work
    // below indexes vectors instead of hashing.
    let mut graph: DiGraph<ObjIdx, ()> = DiGraph::new();
    let mut node: HashMap<ObjIdx, NodeIndex> = HashMap::default();
    let mut node_of =
        |g: &mut DiGraph<ObjIdx, ()>, l: ObjIdx| *node.entry(l).or_insert_with(|| g.add_node(l));
    let mut edges: crate::model::fast_hash::FastHashSet<(NodeIndex, NodeIndex)> =
        Default::default();
    // Per dependency: the node of its acquired lock (held nodes are looked up again below).
    let mut lock_node: Vec<NodeIndex> = Vec::with_capacity(deps.len());
    // Per lock: the first thread seen holding it and whether a second one does (one pass
    // with the edges, so each held set is read once here).
    let mut holding: Vec<Option<(crate::model::ThreadIdx, bool)>> = Vec::new();
    for d in deps {
        let to = node_of(&mut graph, d.lock);
        lock_node.push(to);
        for &(h, _) in &d.held {
            let from = node_of(&mut graph, h);
            if edges.insert((from, to)) {
                graph.add_edge(from, to, ());
            }
            if holding.len() <= from.index() {
                holding.resize(from.index() + 1, None);
            }
            let slot = &mut holding[from.index()];
            match slot {
                None => *slot = Some((d.thread, false)),
                Some((t, many)) => *many |= *t != d.thread,
            }
        }
    }
    holding.resize(graph.node_count(), None);
    drop(edges);
    let mut scc_of: Vec<usize> = vec![usize::MAX; graph.node_count()];
    // Kosaraju: petgraph's Tarjan recurses once per node and overflows the stack on long chains.
    for (c, members) in kosaraju_scc(&graph).into_iter().enumerate() {
        if members.len() > 1 {
            for m in members {
                scc_of[m.index()] = c;
            }
        }
    }
    let scc_of_lock = |l: ObjIdx| node.get(&l).map_or(usize::MAX, |n| scc_of[n.index()]);
    // A dependency can lie on a pattern only if one of its held locks is in its acquired
    // lock's component, and some other thread's dependency holds its acquired lock.
    let mut component = vec![usize::MAX; deps.len()];
    let mut holders: HashMap<ObjIdx, Vec<usize>> = HashMap::default();
    for (i, d) in deps.iter().enumerate() {
        let c = scc_of[lock_node[i].index()];
        if c == usize::MAX {
            continue;
        }
        let in_scc = d.held.iter().any(|&(h, _)| scc_of_lock(h) == c);
        let held_elsewhere =
            holding[lock_node[i].index()].is_some_and(|(t, many)| many || t != d.thread);
        if in_scc && held_elsewhere {
            component[i] = c;
            for &(h, _) in &d.held {
                holders.entry(h).or_default().push(i);
            }
        }
    }
    let mut search = Search {
        deps,
        holders,
        component,
        max_len,
        max_patterns,
        path: Vec::new(),
        found: Vec::new(),
        truncated: false,
        length_cut: false,
        stopped: false,
    };
    if max_len >= 2 {
        for start in 0..deps.len() {
            if search.component[start] == usize::MAX {
                continue;
            }
            if search.stopped {
                break;
            }
            search.path.push(start);
            search.extend();
            search.path.pop();
        }
    }
    let mut patterns = search.found;
    patterns.sort();
    PatternSearch {
        patterns,
        truncated: search.truncated,
        length_cut: search.length_cut,
    }
}

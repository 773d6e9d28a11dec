//! Elementary cycles of a directed graph, bounded in length and count.
//!
//! A depth-first search from each start node `s` that only visits nodes
//! greater than `s` (so each cycle is found once, from its smallest node, which
//! is also its canonical rotation) and only steps onto nodes that can still
//! reach `s` within the remaining length budget. That distance test does the
//! job of SCC pruning: nodes outside the strongly connected component of `s`
//! (among nodes ≥ `s`) have no path back to `s` and are never entered.

use std::collections::VecDeque;

/// The result of a bounded cycle search.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CycleSearch {
    /// Elementary cycles as node indices, each rotated so its smallest node is first, sorted.
    pub cycles: Vec<Vec<usize>>,
    /// The count bound stopped the search: more cycles exist.
    pub count_limited: bool,
    /// The length bound pruned a path that could still return to its start: longer cycles may exist.
    pub length_limited: bool,
}

/// Enumerates the elementary cycles of the graph with `successors[v]` listing the
/// targets of `v`'s edges. Self-loops are cycles of length 1. Cycles with more than
/// `max_len` nodes are skipped, and the search stops after `max_cycles` cycles.
pub fn elementary_cycles(
    successors: &[Vec<usize>],
    max_len: usize,
    max_cycles: usize,
) -> CycleSearch {
    let n = successors.len();
    let mut search = CycleSearch::default();
    if max_len == 0 || n == 0 {
        search.length_limited = max_len == 0 && successors.iter().any(|s| !s.is_empty());
        return search;
    }
    // Sorted, deduplicated successor lists make the output order independent of edge order.
    let succ: Vec<Vec<usize>> = successors
        .iter()
        .map(|s| {
            let mut s: Vec<usize> = s.iter().copied().filter(|&w| w < n).collect();
            s.sort_unstable();
            s.dedup();
            s
        })
        .collect();
    let mut pred: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (v, ws) in succ.iter().enumerate() {
        for &w in ws {
            pred[w].push(v);
        }
    }

    // Strongly connected components bound both the starts worth trying and each BFS.
    let mut component = vec![usize::MAX; n];
    let mut scc_graph: petgraph::Graph<(), ()> = petgraph::Graph::with_capacity(n, 0);
    let ix: Vec<_> = (0..n).map(|_| scc_graph.add_node(())).collect();
    for (v, ws) in succ.iter().enumerate() {
        for &w in ws {
            scc_graph.add_edge(ix[v], ix[w], ());
        }
    }
    let mut cyclic_component = Vec::new();
    // Kosaraju: petgraph's Tarjan recurses once per node and overflows the stack on long chains.
    for (c, members) in petgraph::algo::kosaraju_scc(&scc_graph)
        .into_iter()
        .enumerate()
    {
        let v0 = members[0].index();
        cyclic_component.push(members.len() > 1 || succ[v0].contains(&v0));
        for m in members {
            component[m.index()] = c;
        }
    }

    let mut on_path = vec![false; n];
    let mut dist = vec![usize::MAX; n];
    let mut touched = Vec::new();
    'starts: for s in 0..n {
        if !cyclic_component[component[s]] {
            continue;
        }
        distances_to(s, &pred, &component, &mut dist, &mut touched);
        if dist[s] == usize::MAX {
            continue;
        }
        // Iterative DFS: the path and, per path node, the position in its successor list.
        let mut path = vec![s];
        let mut cursor = vec![0usize];
        on_path[s] = true;
        while let Some(&v) = path.last() {
            let depth = path.len() - 1;
            let i = cursor[depth];
            if i >= succ[v].len() {
                path.pop();
                cursor.pop();
                on_path[v] = false;
                continue;
            }
            cursor[depth] += 1;
            let w = succ[v][i];
            if w == s {
                // Only a cycle beyond the bound proves the bound cut something.
                if search.cycles.len() >= max_cycles {
                    search.count_limited = true;
                    for &p in &path {
                        on_path[p] = false;
                    }
                    break 'starts;
                }
                search.cycles.push(path.clone());
                continue;
            }
            if w < s || on_path[w] || dist[w] == usize::MAX {
                continue;
            }
            // Taking w makes the path len+1 nodes; it then needs dist[w] more edges back to s,
            // visiting dist[w]-1 more nodes: the cycle has at least path.len()+dist[w] nodes.
            if path.len() + dist[w] > max_len {
                search.length_limited = true;
                continue;
            }
            on_path[w] = true;
            path.push(w);
            cursor.push(0);
        }
    }
    search.cycles.sort();
    search
}

/// Fills `dist` with the shortest distance (in edges) from each node ≥ `s` to `s`, through
/// nodes ≥ `s` of the component of `s` only; `usize::MAX` when there is no such path.
/// `dist[s]` is the length of the shortest cycle through `s` (MAX when none). `touched`
/// lists the entries set by the previous call, so the buffer is reset in time proportional
/// to the component rather than to the whole graph.
fn distances_to(
    s: usize,
    pred: &[Vec<usize>],
    component: &[usize],
    dist: &mut [usize],
    touched: &mut Vec<usize>,
) {
    for v in touched.drain(..) {
        dist[v] = usize::MAX;
    }
    let mut queue = VecDeque::new();
    let mut cycle_len = usize::MAX;
    // BFS backwards from s; dist[s] is filled in at the end as the shortest cycle.
    queue.push_back((s, 0usize));
    while let Some((v, d)) = queue.pop_front() {
        for &u in &pred[v] {
            if u == s {
                cycle_len = cycle_len.min(d + 1);
                continue;
            }
            if u < s || dist[u] != usize::MAX || component[u] != component[s] {
                continue;
            }
            dist[u] = d + 1;
            touched.push(u);
            queue.push_back((u, d + 1));
        }
    }
    dist[s] = cycle_len;
    touched.push(s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// Every simple cycle by brute force: each sequence of distinct nodes whose first
    /// node is its smallest, checked edge by edge.
    fn oracle(n: usize, edges: &BTreeSet<(usize, usize)>, max_len: usize) -> BTreeSet<Vec<usize>> {
        fn extend(
            path: &mut Vec<usize>,
            n: usize,
            edges: &BTreeSet<(usize, usize)>,
            max_len: usize,
            out: &mut BTreeSet<Vec<usize>>,
        ) {
            // Check every edge of the closed sequence; the enumeration itself ignores edges.
            let closed =
                (0..path.len()).all(|i| edges.contains(&(path[i], path[(i + 1) % path.len()])));
            if closed {
                out.insert(path.clone());
            }
            let first = path[0];
            if path.len() == max_len {
                return;
            }
            for w in 0..n {
                if w > first && !path.contains(&w) {
                    path.push(w);
                    extend(path, n, edges, max_len, out);
                    path.pop();
                }
            }
        }
        let mut out = BTreeSet::new();
        for s in 0..n {
            extend(&mut vec![s], n, edges, max_len, &mut out);
        }
        out
    }

    fn successors(n: usize, edges: &BTreeSet<(usize, usize)>) -> Vec<Vec<usize>> {
        let mut succ = vec![Vec::new(); n];
        for &(a, b) in edges {
            succ[a].push(b);
        }
        succ
    }

    fn graph() -> impl Strategy<Value = (usize, BTreeSet<(usize, usize)>)> {
        (1usize..=6).prop_flat_map(|n| {
            (
                Just(n),
                proptest::collection::btree_set((0..n, 0..n), 0..=n * n),
            )
        })
    }

    proptest! {
        #[test]
        fn finds_exactly_the_simple_cycles((n, edges) in graph(), max_len in 1usize..=7) {
            let found = elementary_cycles(&successors(n, &edges), max_len, usize::MAX);
            let expected = oracle(n, &edges, max_len);
            let got: BTreeSet<Vec<usize>> = found.cycles.iter().cloned().collect();
            prop_assert_eq!(got.len(), found.cycles.len(), "a cycle was reported twice");
            prop_assert_eq!(&got, &expected);
            prop_assert!(!found.count_limited);
            // The length flag is raised whenever a longer cycle exists.
            let longer = oracle(n, &edges, 7).iter().any(|c| c.len() > max_len);
            if longer {
                prop_assert!(found.length_limited);
            }
        }

        #[test]
        fn count_bound_stops_and_says_so((n, edges) in graph(), max_cycles in 1usize..5) {
            let found = elementary_cycles(&successors(n, &edges), 6, max_cycles);
            let all = oracle(n, &edges, 6);
            prop_assert_eq!(found.cycles.len(), all.len().min(max_cycles));
            prop_assert_eq!(found.count_limited, all.len() > max_cycles);
            for c in &found.cycles {
                prop_assert!(all.contains(c));
            }
        }
    }

    #[test]
    fn two_cycle_and_triangle() {
        let succ = vec![vec![1], vec![0, 2], vec![0]];
        let found = elementary_cycles(&succ, 8, 100);
        assert_eq!(found.cycles, vec![vec![0, 1], vec![0, 1, 2]]);
        assert!(!found.length_limited && !found.count_limited);
        let short = elementary_cycles(&succ, 2, 100);
        assert_eq!(short.cycles, vec![vec![0, 1]]);
        assert!(short.length_limited);
    }

    #[test]
    fn long_ring_is_cut_by_the_length_bound() {
        let n = 1000;
        let succ: Vec<Vec<usize>> = (0..n).map(|v| vec![(v + 1) % n]).collect();
        let cut = elementary_cycles(&succ, 8, 100);
        assert!(cut.cycles.is_empty() && cut.length_limited);
        let full = elementary_cycles(&succ, n, 100);
        assert_eq!(full.cycles, vec![(0..n).collect::<Vec<_>>()]);
        assert!(!full.length_limited);
    }
}

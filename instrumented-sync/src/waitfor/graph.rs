//! The wait-for graph as data, and the two questions asked of it: which
//! blocked threads can never wake (a closed group), and whether every live
//! thread is blocked.
//!
//! Most waits are OR-waits: a thread wakes if any one of its wakers makes
//! progress (a mutex has one waker, its holder; a semaphore's are its permit
//! holders). A writer waiting for a reader-writer lock's readers, or a reader
//! queued behind writers, is an AND-wait: it wakes only once every one of them
//! has. A thread whose wakers are unknown (a condvar: anyone may notify) is
//! never part of a closed group; it can only be part of an all-blocked state.

use std::collections::{BTreeMap, BTreeSet};

/// One live thread, as the detector sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Node {
    /// Running (or waiting outside instrumented code, or in a timed wait).
    Running,
    /// In an untimed instrumented wait.
    Blocked(Wakers),
}

/// Who could end a blocked thread's wait.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Wakers {
    /// Any one of these threads (non-empty): the holder of a lock, a joined thread, permit holders.
    Known(Vec<u32>),
    /// Every one of these threads (non-empty): a lock's readers, for a writer;
    /// the writers queued ahead, for a reader.
    All(Vec<u32>),
    /// Possibly any thread (condvar, barrier, channel).
    Unknown,
}

impl Wakers {
    /// The wakers named, if known.
    pub(crate) fn named(&self) -> Option<&[u32]> {
        match self {
            Wakers::Known(w) | Wakers::All(w) => Some(w),
            Wakers::Unknown => None,
        }
    }
}

/// The threads that can never wake: the greatest set `D` of threads blocked
/// with known wakers such that each member stays blocked while `D` does: every
/// waker of an OR-wait is a member, some waker of an AND-wait is. Computed by
/// removing, until nothing changes, members whose wait could end.
pub(crate) fn never_waking(nodes: &BTreeMap<u32, Node>) -> BTreeSet<u32> {
    let mut members: BTreeSet<u32> = nodes
        .iter()
        .filter(|(_, n)| matches!(n, Node::Blocked(w) if w.named().is_some_and(|w| !w.is_empty())))
        .map(|(&t, _)| t)
        .collect();
    loop {
        let outside: Vec<u32> = members
            .iter()
            .copied()
            .filter(|t| match &nodes[t] {
                Node::Blocked(Wakers::Known(w)) => w.iter().any(|x| !members.contains(x)),
                Node::Blocked(Wakers::All(w)) => !w.iter().any(|x| members.contains(x)),
                _ => true,
            })
            .collect();
        if outside.is_empty() {
            return members;
        }
        for t in outside {
            members.remove(&t);
        }
    }
}

/// Whether every live thread is blocked (and there is at least one), with no
/// known waker outside the live threads (a holder the detector does not know
/// of may be running).
pub(crate) fn all_blocked(nodes: &BTreeMap<u32, Node>) -> bool {
    !nodes.is_empty()
        && nodes.values().all(|n| match n {
            Node::Running => false,
            Node::Blocked(Wakers::Unknown) => true,
            Node::Blocked(Wakers::Known(w) | Wakers::All(w)) => {
                w.iter().all(|t| nodes.contains_key(t))
            }
        })
}

/// A cycle through `start`'s wakers inside `members`, following the first
/// member waker of each thread until a thread repeats; the repeating part.
pub(crate) fn cycle_from(
    nodes: &BTreeMap<u32, Node>,
    members: &BTreeSet<u32>,
    start: u32,
) -> Vec<u32> {
    let mut path: Vec<u32> = Vec::new();
    let mut at = start;
    loop {
        if let Some(pos) = path.iter().position(|&t| t == at) {
            return path.split_off(pos);
        }
        path.push(at);
        let next = match nodes.get(&at) {
            Some(Node::Blocked(w)) => w
                .named()
                .and_then(|w| w.iter().copied().find(|x| members.contains(x))),
            _ => None,
        };
        match next {
            Some(n) => at = n,
            None => return Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Brute force: a thread never wakes iff every thread reachable from it
    /// (itself included) is blocked with known, non-empty wakers.
    fn oracle(nodes: &BTreeMap<u32, Node>) -> BTreeSet<u32> {
        let mut out = BTreeSet::new();
        'threads: for &t in nodes.keys() {
            let mut seen = BTreeSet::from([t]);
            let mut stack = vec![t];
            while let Some(x) = stack.pop() {
                match nodes.get(&x) {
                    Some(Node::Blocked(Wakers::Known(w))) if !w.is_empty() => {
                        for &y in w {
                            if seen.insert(y) {
                                stack.push(y);
                            }
                        }
                    }
                    _ => continue 'threads,
                }
            }
            out.insert(t);
        }
        out
    }

    /// Up to six threads; `and_waits` adds AND-waits (a writer waiting for readers).
    fn graph_with(and_waits: bool) -> impl Strategy<Value = BTreeMap<u32, Node>> {
        (1usize..7).prop_flat_map(move |n| {
            let n32 = u32::try_from(n).unwrap_or(1);
            prop::collection::vec(
                prop_oneof![
                    Just(Node::Running),
                    Just(Node::Blocked(Wakers::Unknown)),
                    // Wakers may name threads that are not live (ended): never members.
                    prop::collection::vec(0..n32 + 1, 0..3)
                        .prop_map(|w| Node::Blocked(Wakers::Known(w))),
                    prop::collection::vec(0..n32 + 1, 1..4).prop_map(move |w| {
                        Node::Blocked(if and_waits {
                            Wakers::All(w)
                        } else {
                            Wakers::Known(w)
                        })
                    }),
                ],
                n,
            )
            .prop_map(|v| (0u32..).zip(v).collect())
        })
    }

    /// Brute force for mixed OR/AND waits: the union of every set `D` of
    /// blocked threads in which each member stays blocked while `D` does
    /// (closed sets are closed under union, so this is the greatest one).
    fn subset_oracle(nodes: &BTreeMap<u32, Node>) -> BTreeSet<u32> {
        let ids: Vec<u32> = nodes.keys().copied().collect();
        let mut out = BTreeSet::new();
        for mask in 0u32..(1 << ids.len()) {
            let d: BTreeSet<u32> = (0..ids.len())
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| ids[i])
                .collect();
            let closed = d.iter().all(|t| match &nodes[t] {
                Node::Blocked(Wakers::Known(w)) => !w.is_empty() && w.iter().all(|x| d.contains(x)),
                Node::Blocked(Wakers::All(w)) => w.iter().any(|x| d.contains(x)),
                _ => false,
            });
            if closed {
                out.extend(d);
            }
        }
        out
    }

    proptest! {
        #[test]
        fn never_waking_matches_subset_oracle_with_and_waits(nodes in graph_with(true)) {
            let members = never_waking(&nodes);
            prop_assert_eq!(&members, &subset_oracle(&nodes));
            for &t in &members {
                let cycle = cycle_from(&nodes, &members, t);
                prop_assert!(!cycle.is_empty());
                prop_assert!(cycle.iter().all(|c| members.contains(c)));
            }
        }

        #[test]
        fn never_waking_matches_reachability_oracle(nodes in graph_with(false)) {
            prop_assert_eq!(never_waking(&nodes), oracle(&nodes));
        }

        #[test]
        fn cycles_stay_inside_the_group(nodes in graph_with(false)) {
            let members = never_waking(&nodes);
            for &t in &members {
                let cycle = cycle_from(&nodes, &members, t);
                // Every member reaches a cycle of members (finite graph, every member has a member waker).
                prop_assert!(!cycle.is_empty());
                prop_assert!(cycle.iter().all(|c| members.contains(c)));
            }
        }
    }

    #[test]
    fn abba_is_a_closed_group_and_a_bystander_is_not() {
        let nodes = BTreeMap::from([
            (0, Node::Blocked(Wakers::Known(vec![1]))),
            (1, Node::Blocked(Wakers::Known(vec![0]))),
            (2, Node::Blocked(Wakers::Known(vec![3]))),
            (3, Node::Running),
        ]);
        assert_eq!(never_waking(&nodes), BTreeSet::from([0, 1]));
        assert_eq!(cycle_from(&nodes, &never_waking(&nodes), 0), [0, 1]);
        assert!(!all_blocked(&nodes));
    }

    #[test]
    fn a_writer_is_stuck_behind_one_stuck_reader_even_if_another_runs() {
        // 0: writer waiting for readers 1 and 2; 1 runs; 2 waits for the writer's mutex.
        let nodes = BTreeMap::from([
            (0, Node::Blocked(Wakers::All(vec![1, 2]))),
            (1, Node::Running),
            (2, Node::Blocked(Wakers::Known(vec![0]))),
        ]);
        assert_eq!(never_waking(&nodes), BTreeSet::from([0, 2]));
        // As an OR-wait the running reader could have woken it.
        let or = BTreeMap::from([
            (0, Node::Blocked(Wakers::Known(vec![1, 2]))),
            (1, Node::Running),
            (2, Node::Blocked(Wakers::Known(vec![0]))),
        ]);
        assert!(never_waking(&or).is_empty());
    }
}

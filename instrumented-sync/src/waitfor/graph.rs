//! The wait-for graph as data, and the two questions asked of it: which
//! blocked threads can never wake (a closed group), and whether every live
//! thread is blocked.
//!
//! Waits are OR-waits: a thread wakes if any one of its wakers makes progress
//! (a mutex has one waker, its holder; a semaphore's are its permit holders).
//! A thread whose wakers are unknown (a condvar: anyone may notify) is never
//! part of a closed group; it can only be part of an all-blocked state.

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
    /// Exactly these threads (non-empty): the holder of a lock, a joined thread, permit holders.
    Known(Vec<u32>),
    /// Possibly any thread (condvar, barrier, channel).
    Unknown,
}

/// The threads that can never wake: the greatest set `D` of threads blocked
/// with known wakers such that every waker of a member is itself a member.
/// Computed by removing, until nothing changes, members with a waker outside.
pub(crate) fn never_waking(nodes: &BTreeMap<u32, Node>) -> BTreeSet<u32> {
    let mut members: BTreeSet<u32> = nodes
        .iter()
        .filter(|(_, n)| matches!(n, Node::Blocked(Wakers::Known(w)) if !w.is_empty()))
        .map(|(&t, _)| t)
        .collect();
    loop {
        let outside: Vec<u32> = members
            .iter()
            .copied()
            .filter(|t| match &nodes[t] {
                Node::Blocked(Wakers::Known(w)) => w.iter().any(|x| !members.contains(x)),
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
            Node::Blocked(Wakers::Known(w)) => w.iter().all(|t| nodes.contains_key(t)),
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
            Some(Node::Blocked(Wakers::Known(w))) => {
                w.iter().copied().find(|x| members.contains(x))
            }
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

    fn graph() -> impl Strategy<Value = BTreeMap<u32, Node>> {
        (1usize..7).prop_flat_map(|n| {
            let n32 = u32::try_from(n).unwrap_or(1);
            prop::collection::vec(
                prop_oneof![
                    Just(Node::Running),
                    Just(Node::Blocked(Wakers::Unknown)),
                    // Wakers may name threads that are not live (ended): never members.
                    prop::collection::vec(0..n32 + 1, 0..3)
                        .prop_map(|w| Node::Blocked(Wakers::Known(w))),
                ],
                n,
            )
            .prop_map(|v| (0u32..).zip(v).collect())
        })
    }

    proptest! {
        #[test]
        fn never_waking_matches_reachability_oracle(nodes in graph()) {
            prop_assert_eq!(never_waking(&nodes), oracle(&nodes));
        }

        #[test]
        fn cycles_stay_inside_the_group(nodes in graph()) {
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
}

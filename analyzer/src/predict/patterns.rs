//! Abstract deadlock patterns over lock dependencies.

use super::dependencies::LockDependency;

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
    /// Whether `max_patterns` or `max_len` cut the search short.
    pub truncated: bool,
}

/// Enumerates deadlock patterns of length at most `max_len`, stopping after `max_patterns`.
pub fn deadlock_patterns(deps: &[LockDependency], max_len: usize, max_patterns: usize) -> PatternSearch {
    let _ = (deps, max_len, max_patterns);
    PatternSearch::default()
}

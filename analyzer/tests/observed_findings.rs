//! A deadlock the program hit while it ran (recorded by instrumented-sync's live
//! detector into the trace) becomes a full finding: its threads, the sites where
//! each holds and waits, the cycle's steps and the Coffman conditions, so text,
//! HTML and SARIF reports can place it in the code.

use std::path::Path;

use analyzer::analysis::{AnalysisOptions, analyze};
use analyzer::finding::FindingKind;
use analyzer::trace::{LoadOptions, load_path};

#[test]
fn the_gallery_barrier_abba_deadlock_is_explained() {
    let file = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../reports/barrier_abba/trace.istrace"
    ));
    let trace = load_path(file, &LoadOptions::default()).unwrap();
    let analysis = analyze(std::slice::from_ref(&trace), &AnalysisOptions::default());
    let observed: Vec<_> = analysis
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::ObservedDeadlock)
        .collect();
    assert_eq!(observed.len(), 1, "{:#?}", analysis.findings);
    // The same cycle, predicted from the trace, is folded into it: one deadlock, one finding.
    assert_eq!(analysis.findings.len(), 1, "{:#?}", analysis.findings);
    // The blocked requests (never granted: the threads panicked out of them) are edges.
    let cycle_edges = analysis.graph.edges.iter().filter(|e| e.in_cycle).count();
    assert_eq!(cycle_edges, 2, "{:#?}", analysis.graph.edges);
    let f = observed[0];
    assert_eq!(
        f.threads,
        ["clerk-0", "clerk-1"],
        "only the cycle's threads"
    );
    assert_eq!(f.cycle.len(), 2, "{f:#?}");
    for step in &f.cycle {
        assert!(
            step.held_at
                .file
                .as_deref()
                .is_some_and(|p| p.ends_with("barrier_abba.rs"))
        );
        assert!(step.wanted_at.line > 0);
        assert_ne!(step.holds.name, step.wants.name);
    }
    assert!(
        f.coffman
            .as_ref()
            .is_some_and(|c| !c.circular_wait.evidence.is_empty())
    );
    assert!(f.sites.iter().any(|s| s.role.starts_with("holds ")));
    assert!(f.sites.iter().any(|s| s.role.starts_with("waits for ")));
    assert!(f.locks.iter().all(|l| l.kind == "mutex"), "{:?}", f.locks);
    assert!(!f.fixes.is_empty(), "the predicted cycle's fixes are kept");
}

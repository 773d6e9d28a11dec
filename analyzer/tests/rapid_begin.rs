//! RAPID's STD traces open every thread with a `begin` at the very top, before
//! the fork that starts it. That `begin` must not hide the fork's ordering:
//! a lock-order inversion whose first half happens before the fork cannot
//! deadlock, with or without the hoisted line.

use std::path::Path;

use analyzer::analysis::{AnalysisOptions, analyze};
use analyzer::finding::FindingKind;
use analyzer::trace::{Format, LoadOptions, load_bytes, load_path};

const FORK_ORDERED_ABBA: &str = "\
T0|acq(A)|1
T0|acq(B)|2
T0|rel(B)|3
T0|rel(A)|4
T0|fork(T1)|5
T1|acq(B)|6
T1|acq(A)|7
T1|rel(A)|8
T1|rel(B)|9
";

fn kinds(text: &str) -> (Vec<FindingKind>, Vec<String>) {
    let options = LoadOptions {
        format: Some(Format::Std),
        ..LoadOptions::default()
    };
    let trace = load_bytes("t.std", text.as_bytes(), &options).unwrap();
    let warnings = trace.warnings.iter().map(|w| w.message.clone()).collect();
    let analysis = analyze(std::slice::from_ref(&trace), &AnalysisOptions::default());
    (analysis.findings.iter().map(|f| f.kind).collect(), warnings)
}

#[test]
fn a_hoisted_begin_keeps_the_fork_ordering() {
    let (plain, _) = kinds(FORK_ORDERED_ABBA);
    assert_eq!(plain, [FindingKind::LockOrderInversion]);
    let hoisted = format!("T0|begin|0\nT1|begin|0\n{FORK_ORDERED_ABBA}");
    let (with_begin, warnings) = kinds(&hoisted);
    assert_eq!(with_begin, plain, "the begin lines change nothing");
    assert!(
        !warnings.iter().any(|w| w.contains("already run")),
        "a bare begin does not start the thread: {warnings:?}"
    );
}

#[test]
fn dbcp1_has_one_confirmed_deadlock_not_two() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/traces"));
    let file = dir.join("std/Dbcp1.std");
    if !file.exists() {
        return;
    }
    let trace = load_path(&file, &LoadOptions::default()).unwrap();
    let analysis = analyze(std::slice::from_ref(&trace), &AnalysisOptions::default());
    let confirmed = analysis
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::PredictedDeadlock)
        .count();
    // The other cycle's first half happens before the fork of its second thread.
    assert_eq!(confirmed, 1, "{:#?}", analysis.findings);
}

//! Foreign (RAPID) traces name lock objects, not their construction sites, so
//! every pair of objects taken by the same code would be its own finding
//! (jigsaw: 1,148). Cycles through the same acquisition sites are one finding,
//! as a lock class would make them.

use analyzer::analysis::{AnalysisOptions, analyze};
use analyzer::finding::FindingKind;
use analyzer::trace::{Format, LoadOptions, load_bytes};

fn analyse(text: &str) -> Vec<analyzer::finding::Finding> {
    let options = LoadOptions {
        format: Some(Format::Std),
        ..LoadOptions::default()
    };
    let trace = load_bytes("t.std", text.as_bytes(), &options).unwrap();
    analyze(std::slice::from_ref(&trace), &AnalysisOptions::default()).findings
}

/// `T{a}` takes `first` then `second` at locations 1, 2; `T{b}` the other way at 3, 4.
fn abba(a: u32, b: u32, first: &str, second: &str) -> String {
    format!(
        "T{a}|acq({first})|1\nT{a}|acq({second})|2\nT{a}|rel({second})|9\nT{a}|rel({first})|9\n\
         T{b}|acq({second})|3\nT{b}|acq({first})|4\nT{b}|rel({first})|9\nT{b}|rel({second})|9\n"
    )
}

#[test]
fn cycles_of_other_objects_through_the_same_sites_are_one_finding() {
    let text = abba(0, 1, "A", "B") + &abba(2, 3, "C", "D");
    let findings = analyse(&text);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = &findings[0];
    assert_eq!(f.kind, FindingKind::PredictedDeadlock);
    assert_eq!(f.occurrences, 2);
    assert_eq!(f.threads, ["T0", "T1", "T2", "T3"]);
    assert!(
        f.message.contains("1 more lock instance cycle"),
        "{}",
        f.message
    );
}

#[test]
fn cycles_through_other_sites_stay_apart() {
    let other_sites = abba(2, 3, "C", "D")
        .replace("|1\n", "|11\n")
        .replace("|2\n", "|12\n");
    let findings = analyse(&(abba(0, 1, "A", "B") + &other_sites));
    assert_eq!(findings.len(), 2, "{findings:#?}");
}

//! JUnit XML for CI test dashboards, written by `quick-junit`.
//!
//! One test suite `analyzer`; one test case per finding (a failure when it fails the
//! check, skipped with its message when it does not), then one passing test case per
//! trace that witnessed no finding, so a clean run still shows what was checked.

use std::collections::BTreeSet;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::analysis::Analysis;
use crate::report::ReportOptions;
use crate::report::text::render_finding;

/// Renders the JUnit XML document.
pub fn render(analysis: &Analysis, options: &ReportOptions) -> String {
    let mut suite = TestSuite::new("analyzer");
    for finding in &analysis.findings {
        let fails = options.fails(finding);
        let mut status = if fails {
            TestCaseStatus::non_success(NonSuccessKind::Failure)
        } else {
            TestCaseStatus::skipped()
        };
        let message = if fails {
            finding.message.clone()
        } else if options
            .baseline
            .as_ref()
            .is_some_and(|b| b.suppresses(&finding.id))
        {
            format!("accepted by the baseline: {}", finding.message)
        } else {
            format!("does not fail the check: {}", finding.message)
        };
        status
            .set_message(message)
            .set_type(finding.kind.as_str())
            .set_description(render_finding(finding, fails));
        let mut case = TestCase::new(format!("{} {}", finding.kind, finding.id), status);
        case.set_classname(format!("analyzer.{}", finding.kind));
        suite.add_test_case(case);
    }
    let witnessing: BTreeSet<&str> = analysis
        .findings
        .iter()
        .flat_map(|f| f.traces.iter().map(String::as_str))
        .collect();
    for input in &analysis.inputs {
        if witnessing.contains(input.as_str()) {
            continue;
        }
        let mut case = TestCase::new(input.clone(), TestCaseStatus::success());
        case.set_classname("analyzer.trace");
        suite.add_test_case(case);
    }
    let mut report = Report::new("analyzer");
    report.add_test_suite(suite);
    // Serializing into a String only fails on I/O, which a String cannot have.
    report
        .to_string()
        .expect("JUnit XML serializes to a string")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    #[test]
    fn failing_findings_fail_and_others_are_skipped() {
        let xml = render(&fixtures::analysis(), &ReportOptions::default());
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        assert!(
            xml.contains("tests=\"2\" skipped=\"1\" failures=\"1\""),
            "{xml}"
        );
        assert!(xml.contains("<testcase name=\"predicted-deadlock 00112233aabbccdd\" classname=\"analyzer.predicted-deadlock\">"), "{xml}");
        assert!(xml.contains("type=\"predicted-deadlock\""));
        assert!(xml.contains("does not fail the check: potential race on counter"));
        assert!(xml.contains("accounts &quot;main&quot;"), "escaped: {xml}");
        let reparsed = Report::deserialize_from_str(&xml).expect("valid JUnit XML");
        assert_eq!(reparsed.test_suites[0].test_cases.len(), 2);
    }

    #[test]
    fn clean_traces_are_passing_cases() {
        let analysis = Analysis {
            inputs: vec!["a.std".into(), "b.std".into()],
            ..Analysis::default()
        };
        let xml = render(&analysis, &ReportOptions::default());
        assert!(
            xml.contains("tests=\"2\" skipped=\"0\" failures=\"0\""),
            "{xml}"
        );
        assert!(xml.contains("<testcase name=\"a.std\" classname=\"analyzer.trace\"/>"));
    }
}

//! In-process checks: run the analyzer over this process's own recording.

use std::fmt::Write as _;

use analyzer::analysis::{Analysis, AnalysisOptions, analyze};
use analyzer::finding::{Finding, FindingKind};
use analyzer::trace::{LoadOptions, from_records};
use sync_trace::Record;

/// The name of the in-process trace in reports.
const SOURCE: &str = "<this process>";

/// Analyzes everything this process recorded so far (flushing every thread's
/// buffer first) with the analyzer's default options.
///
/// If the in-memory copy hit its cap, the analysis carries a warning saying
/// how many events were dropped.
///
/// ```
/// use instrumented_sync::Mutex;
/// let (a, b) = (Mutex::new(0), Mutex::new(0));
/// drop((a.lock(), b.lock()));
/// let analysis = instrumented_sync::findings();
/// assert_eq!(analysis.inputs, ["<this process>"]);
/// ```
pub fn findings() -> Analysis {
    let mut records = crate::recorded();
    if !matches!(records.last(), Some(Record::End)) {
        records.push(Record::End);
    }
    let options = LoadOptions::default();
    let mut analysis = match from_records(SOURCE, records, &options) {
        Ok(trace) => analyze(std::slice::from_ref(&trace), &AnalysisOptions::default()),
        Err(e) => Analysis {
            inputs: vec![SOURCE.to_owned()],
            warnings: vec![analyzer::model::Warning {
                file: SOURCE.to_owned(),
                position: None,
                message: format!("the recording could not be loaded: {e}"),
            }],
            ..Analysis::default()
        },
    };
    let dropped = crate::dropped_events();
    if dropped > 0 {
        analysis.warnings.push(analyzer::model::Warning {
            file: SOURCE.to_owned(),
            position: None,
            message: format!(
                "{dropped} events were dropped because the in-memory trace reached its cap of {} events; findings are incomplete",
                crate::recorder::memory_cap()
            ),
        });
    }
    analysis
}

/// The finding kinds [`assert_no_deadlock_risk`] fails on.
pub const DEADLOCK_KINDS: [FindingKind; 5] = [
    FindingKind::ObservedDeadlock,
    FindingKind::PredictedDeadlock,
    FindingKind::LockOrderInversion,
    FindingKind::SelfDeadlock,
    FindingKind::RecursiveReadHazard,
];

/// Panics with a readable report if the analysis of this process so far has
/// a failing finding of a deadlock kind ([`DEADLOCK_KINDS`]).
///
/// # Panics
/// When there is such a finding; the message lists each one's kind, message and sites.
///
/// ```
/// use instrumented_sync::Mutex;
/// let m = Mutex::new(());
/// drop(m.lock());
/// instrumented_sync::assert_no_deadlock_risk();
/// ```
#[track_caller]
pub fn assert_no_deadlock_risk() {
    let analysis = findings();
    let options = AnalysisOptions::default();
    let failing: Vec<&Finding> = analysis
        .failing(&options)
        .filter(|f| DEADLOCK_KINDS.contains(&f.kind))
        .collect();
    if !failing.is_empty() {
        panic!("{}", deadlock_report(&failing));
    }
}

/// The multi-line report of [`assert_no_deadlock_risk`].
fn deadlock_report(failing: &[&Finding]) -> String {
    let mut out = format!(
        "instrumented-sync: {} deadlock risk(s) found in this process:\n",
        failing.len()
    );
    for f in failing {
        let _ = writeln!(
            out,
            "\n{}[{}] {}  (id {})",
            f.severity, f.kind, f.message, f.id
        );
        for s in &f.sites {
            let _ = writeln!(
                out,
                "    {} in thread {} at {}",
                s.role, s.thread, s.site.display
            );
        }
        if let Some(reason) = &f.reason {
            let _ = writeln!(out, "    why: {reason}");
        }
        for fix in &f.fixes {
            let _ = writeln!(out, "    fix ({}): {}", fix.breaks, fix.advice);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use analyzer::finding::{RoleSite, Severity, SiteRef};

    #[test]
    fn report_lists_kind_message_and_sites() {
        let site = SiteRef {
            file: Some("src/a.rs".into()),
            line: 3,
            column: 5,
            display: "src/a.rs:3:5".into(),
        };
        let finding = Finding {
            id: "abc".into(),
            kind: FindingKind::LockOrderInversion,
            severity: Severity::Warning,
            message: "A and B are taken in both orders".into(),
            locks: vec![],
            threads: vec!["T1".into()],
            sites: vec![RoleSite {
                role: "holds A".into(),
                thread: "T1".into(),
                site,
            }],
            cycle: vec![],
            coffman: None,
            fixes: vec![],
            reason: None,
            variable: None,
            accesses: vec![],
            traces: vec![],
            occurrences: 1,
        };
        let report = deadlock_report(&[&finding]);
        assert!(
            report.contains("warning[lock-order-inversion] A and B are taken in both orders"),
            "{report}"
        );
        assert!(
            report.contains("holds A in thread T1 at src/a.rs:3:5"),
            "{report}"
        );
    }
}

//! The human-readable report: one block per finding, then warnings, limits and
//! a one-line summary for CI logs.

use std::fmt::Write as _;

use crate::analysis::Analysis;
use crate::finding::{Condition, CycleStep, Finding, Mode};
use crate::report::{ReportOptions, count_by_kind, plural};

/// Renders the whole report.
pub fn render(analysis: &Analysis, options: &ReportOptions) -> String {
    let mut out = String::new();
    for finding in &analysis.findings {
        out.push_str(&render_finding(finding, options.fails(finding)));
        out.push('\n');
    }
    for warning in &analysis.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    for limit in &analysis.limits {
        let _ = writeln!(out, "limit: {}", limit.message);
    }
    let stale = options.baseline.as_ref().map_or(&[][..], |b| &b.stale[..]);
    for entry in stale {
        let _ = writeln!(
            out,
            "stale baseline entry: {} [{}] {} (no longer found; remove it)",
            entry.id, entry.kind, entry.message
        );
    }
    if !analysis.warnings.is_empty() || !analysis.limits.is_empty() || !stale.is_empty() {
        out.push('\n');
    }
    out.push_str(&summary_line(analysis, options));
    out.push('\n');
    out
}

/// The final line, for example
/// `analyzer: 3 findings (1 predicted-deadlock, 2 lock-order-inversion), 1 failing, in 2 traces`.
pub fn summary_line(analysis: &Analysis, options: &ReportOptions) -> String {
    let counts = count_by_kind(&analysis.findings);
    let mut line = format!(
        "analyzer: {}",
        plural(analysis.findings.len(), "finding", "findings")
    );
    if !counts.is_empty() {
        let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let _ = write!(line, " ({})", parts.join(", "));
    }
    let _ = write!(
        line,
        ", {} failing, in {}",
        options.failing_count(analysis),
        plural(analysis.inputs.len(), "trace", "traces")
    );
    if let Some(baseline) = &options.baseline {
        let _ = write!(
            line,
            ", {} accepted by the baseline, {}",
            baseline.suppressed.len(),
            plural(
                baseline.stale.len(),
                "stale baseline entry",
                "stale baseline entries"
            )
        );
    }
    if !analysis.warnings.is_empty() {
        let _ = write!(
            line,
            ", {}",
            plural(analysis.warnings.len(), "warning", "warnings")
        );
    }
    if !analysis.limits.is_empty() {
        let _ = write!(
            line,
            ", {} hit",
            plural(analysis.limits.len(), "limit", "limits")
        );
    }
    line
}

/// Renders one finding as an indented block ending in a newline.
pub fn render_finding(finding: &Finding, fails: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}[{}] {}  (id {})",
        finding.severity, finding.kind, finding.message, finding.id
    );
    if !fails {
        out.push_str("  (does not fail the check under the current --fail-on)\n");
    }
    if !finding.threads.is_empty() {
        let _ = writeln!(out, "  threads: {}", finding.threads.join(", "));
    }
    if !finding.locks.is_empty() {
        let names: Vec<&str> = finding.locks.iter().map(|l| l.name.as_str()).collect();
        let _ = writeln!(out, "  locks: {}", names.join(", "));
    }
    if !finding.cycle.is_empty() {
        out.push_str("  cycle:\n");
        for (i, step) in finding.cycle.iter().enumerate() {
            let _ = writeln!(out, "    {}. {}", i + 1, describe_step(step));
            if !step.also_held.is_empty() {
                let _ = writeln!(out, "       (also holding {})", step.also_held.join(", "));
            }
        }
    }
    if let Some(variable) = &finding.variable {
        let _ = writeln!(out, "  variable: {}", variable.name);
    }
    if !finding.accesses.is_empty() {
        out.push_str("  accesses:\n");
        for access in &finding.accesses {
            let held = if access.locks_held.is_empty() {
                "holding no lock".to_owned()
            } else {
                format!("holding {}", access.locks_held.join(", "))
            };
            let _ = writeln!(
                out,
                "    thread {} {} at {} ({held})",
                access.thread, access.op, access.site.display
            );
        }
    }
    // Cycles and accesses already show every site; other kinds list their sites here.
    if finding.cycle.is_empty() && finding.accesses.is_empty() && !finding.sites.is_empty() {
        out.push_str("  sites:\n");
        for site in &finding.sites {
            let _ = writeln!(
                out,
                "    thread {} {} at {}",
                site.thread, site.role, site.site.display
            );
        }
    }
    if let Some(coffman) = &finding.coffman {
        out.push_str("  conditions:\n");
        let rows: [(&str, &Condition); 4] = [
            ("mutual exclusion", &coffman.mutual_exclusion),
            ("hold and wait", &coffman.hold_and_wait),
            ("no preemption", &coffman.no_preemption),
            ("circular wait", &coffman.circular_wait),
        ];
        for (name, condition) in rows {
            let mark = if condition.holds { '✔' } else { '✘' };
            let _ = writeln!(out, "    {mark} {name}: {}", one_line(&condition.evidence));
        }
    }
    if let Some(reason) = &finding.reason {
        let _ = writeln!(out, "  why this kind: {}", one_line(reason));
    }
    for fix in &finding.fixes {
        let _ = writeln!(
            out,
            "  fix (breaks {}): {}",
            fix.breaks,
            one_line(&fix.advice)
        );
    }
    if !finding.traces.is_empty() {
        let _ = writeln!(
            out,
            "  seen in: {} ({})",
            finding.traces.join(", "),
            plural(finding.occurrences, "occurrence", "occurrences")
        );
    }
    out
}

/// `thread T1 holds A (taken at src/x.rs:10:5) and waits for B at src/x.rs:11:5`.
pub fn describe_step(step: &CycleStep) -> String {
    format!(
        "thread {} holds {}{} (taken at {}) and waits for {}{} at {}",
        step.thread,
        step.holds.name,
        mode_suffix(step.holds_mode),
        step.held_at.display,
        step.wants.name,
        mode_suffix(step.wants_mode),
        step.wanted_at.display
    )
}

/// Exclusive holds are the norm; only shared modes are spelled out.
fn mode_suffix(mode: Mode) -> &'static str {
    match mode {
        Mode::Write => "",
        Mode::Read => " (read)",
        Mode::Upgradable => " (upgradable read)",
    }
}

/// Keeps multi-sentence evidence on the finding's indented line.
fn one_line(text: &str) -> String {
    text.split('\n')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Analysis;
    use crate::finding::FindingKind;
    use crate::report::fixtures;

    #[test]
    fn finding_block_shows_cycle_conditions_fixes_and_traces() {
        let text = render(&fixtures::analysis(), &ReportOptions::default());
        assert!(
            text.starts_with("error[predicted-deadlock] deadlock predicted: thread T1"),
            "{text}"
        );
        assert!(text.contains("(id 00112233aabbccdd)"));
        assert!(text.contains(
            "1. thread T1 holds accounts \"main\" (taken at src/x.rs:10:5) and waits for audit\nlog at src/x.rs:11:5"
        ));
        assert!(text.contains("✔ mutual exclusion: both locks"));
        assert!(text.contains("✔ circular wait: T1 → audit → T2 → accounts → T1"));
        assert!(text.contains("fix (breaks circular-wait): always take accounts before audit"));
        assert!(text.contains("seen in: a.istrace (2 occurrences)"));
        assert!(text.contains("warning[potential-race] potential race on counter"));
        assert!(text.contains("thread T2 read at src/y.rs:9:9 (holding no lock)"));
        assert!(text.contains("warning: b.istrace: byte 120: release of unheld lock m"));
        assert!(text.contains("limit: cycle search stopped"));
    }

    #[test]
    fn summary_line_counts_kinds_in_report_order() {
        let analysis = fixtures::analysis();
        let line = summary_line(&analysis, &ReportOptions::default());
        assert_eq!(
            line,
            "analyzer: 2 findings (1 predicted-deadlock, 1 potential-race), 1 failing, in 2 traces, 1 warning, 1 limit hit"
        );
        let all = ReportOptions {
            fail_on: FindingKind::ALL.to_vec(),
            baseline: None,
        };
        assert!(summary_line(&analysis, &all).contains(", 2 failing,"));
        assert!(render(&analysis, &all).ends_with("1 limit hit\n"));
    }

    #[test]
    fn empty_analysis_has_a_plain_summary() {
        let analysis = Analysis {
            inputs: vec!["t.std".into()],
            ..Analysis::default()
        };
        assert_eq!(
            render(&analysis, &ReportOptions::default()),
            "analyzer: 0 findings, 0 failing, in 1 trace\n"
        );
    }

    #[test]
    fn a_failed_condition_is_marked() {
        let mut finding = fixtures::abba();
        finding.coffman.as_mut().unwrap().no_preemption = Condition {
            holds: false,
            evidence: "T2 uses try_lock\nat src/x.rs:21:5".into(),
        };
        let text = render_finding(&finding, false);
        assert!(
            text.contains("✘ no preemption: T2 uses try_lock at src/x.rs:21:5"),
            "{text}"
        );
        assert!(text.contains("does not fail the check"));
    }
}

//! The JSON report: one object, documented field by field in `analyzer/JSON.md`.
//!
//! Field order is the declaration order of the structs below (serde keeps it),
//! so the output is byte-stable for equal inputs.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::analysis::{Analysis, LimitHit};
use crate::finding::Finding;
use crate::model::Warning;
use crate::report::{ReportOptions, count_by_kind};

/// The version of the JSON document; bumped on incompatible changes.
pub const JSON_VERSION: u32 = 1;

/// The top-level document.
#[derive(Serialize)]
struct Document<'a> {
    version: u32,
    inputs: &'a [String],
    findings: Vec<JsonFinding<'a>>,
    summary: JsonSummary,
    warnings: &'a [Warning],
    limits: &'a [LimitHit],
    /// Present only with `--baseline`: accepted finding ids and stale entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline: Option<&'a crate::report::baseline::BaselineStatus>,
}

/// A finding plus whether it fails the check under the chosen `--fail-on`.
#[derive(Serialize)]
struct JsonFinding<'a> {
    #[serde(flatten)]
    finding: &'a Finding,
    fails: bool,
}

/// The summary, with counts keyed by kebab-case kind in report order.
#[derive(Serialize)]
struct JsonSummary {
    traces: usize,
    events: u64,
    threads: usize,
    locks: usize,
    findings: usize,
    by_kind: BTreeMap<String, usize>,
    failing: usize,
    exit_code: i32,
}

/// Renders the report as pretty JSON with a trailing newline.
pub fn render(analysis: &Analysis, options: &ReportOptions) -> String {
    let failing = options.failing_count(analysis);
    let summary = &analysis.summary;
    let document = Document {
        version: JSON_VERSION,
        inputs: &analysis.inputs,
        findings: analysis
            .findings
            .iter()
            .map(|f| JsonFinding {
                finding: f,
                fails: options.fails(f),
            })
            .collect(),
        summary: JsonSummary {
            // The renderer counts what it prints, so the summary always agrees with `findings`.
            traces: analysis.inputs.len(),
            events: summary.events,
            threads: summary.threads,
            locks: summary.locks,
            findings: analysis.findings.len(),
            by_kind: count_by_kind(&analysis.findings)
                .into_iter()
                .map(|(k, n)| (k.as_str().to_owned(), n))
                .collect(),
            failing,
            exit_code: if failing > 0 { 1 } else { 0 },
        },
        warnings: &analysis.warnings,
        limits: &analysis.limits,
        baseline: options.baseline.as_ref(),
    };
    // Serializing plain data with string keys cannot fail.
    let mut out = serde_json::to_string_pretty(&document).expect("the report serializes");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::report::fixtures;

    fn parsed() -> Value {
        let text = render(&fixtures::analysis(), &ReportOptions::default());
        assert!(text.ends_with("}\n"));
        serde_json::from_str(&text).expect("valid JSON")
    }

    #[test]
    fn top_level_fields_are_present_in_order() {
        let text = render(&fixtures::analysis(), &ReportOptions::default());
        let keys = [
            "\"version\"",
            "\"inputs\"",
            "\"findings\"",
            "\"summary\"",
            "\"warnings\"",
            "\"limits\"",
        ];
        let positions: Vec<usize> = keys.iter().map(|k| text.find(k).expect(k)).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
        let v = parsed();
        assert_eq!(v["version"], 1);
        assert_eq!(v["inputs"][1], "b.istrace");
    }

    #[test]
    fn findings_carry_the_contract_fields() {
        let v = parsed();
        let f = &v["findings"][0];
        assert_eq!(f["kind"], "predicted-deadlock");
        assert_eq!(f["severity"], "error");
        assert_eq!(f["id"], "00112233aabbccdd");
        assert!(
            f["message"]
                .as_str()
                .unwrap()
                .starts_with("deadlock predicted")
        );
        assert_eq!(f["locks"][0]["name"], "accounts \"main\"");
        assert_eq!(f["locks"][1]["name"], "audit\nlog");
        assert_eq!(f["threads"], serde_json::json!(["T1", "T2"]));
        assert_eq!(f["sites"][0]["site"]["display"], "src/x.rs:10:5");
        assert_eq!(f["cycle"][1]["wanted_at"]["line"], 21);
        assert_eq!(f["coffman"]["circular_wait"]["holds"], true);
        assert_eq!(f["fails"], true);
        let race = &v["findings"][1];
        assert_eq!(race["kind"], "potential-race");
        assert_eq!(race["fails"], false);
        assert!(race.get("cycle").is_none(), "empty cycles are omitted");
        assert_eq!(race["accesses"][1]["op"], "read");
    }

    #[test]
    fn summary_warnings_and_limits() {
        let v = parsed();
        let s = &v["summary"];
        assert_eq!(s["findings"], 2);
        assert_eq!(s["traces"], 2);
        assert_eq!(s["failing"], 1);
        assert_eq!(s["exit_code"], 1);
        assert_eq!(s["by_kind"]["predicted-deadlock"], 1);
        assert_eq!(s["by_kind"]["potential-race"], 1);
        assert_eq!(v["warnings"][0]["position"]["byte"], 120);
        assert_eq!(v["warnings"][0]["file"], "b.istrace");
        assert!(
            v["limits"][0]["message"]
                .as_str()
                .unwrap()
                .contains("--max-cycles")
        );
    }

    #[test]
    fn empty_analysis_renders_empty_lists() {
        let v: Value =
            serde_json::from_str(&render(&Analysis::default(), &ReportOptions::default())).unwrap();
        assert_eq!(v["findings"], serde_json::json!([]));
        assert_eq!(v["summary"]["exit_code"], 0);
        assert_eq!(v["summary"]["by_kind"], serde_json::json!({}));
    }
}

//! Baselines: a checked-in list of accepted findings, so `check` fails only on new ones.
//!
//! The file is a JSON array of `{id, kind, message, reason}` sorted by id. Findings are
//! matched by their stable fingerprint (`id`) alone; `kind` and `message` are there for
//! the reader of the file. Entries whose finding no longer occurs are *stale* and are
//! reported, so the baseline shrinks as problems get fixed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::finding::Finding;

/// The reason written for a finding newly added by `--update-baseline`.
pub const UNREVIEWED_REASON: &str = "not yet reviewed: say why this finding is accepted";

/// One accepted finding.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineEntry {
    /// The finding's stable fingerprint.
    pub id: String,
    /// Its kind, kebab-case (informational).
    pub kind: String,
    /// Its message when it was accepted (informational).
    pub message: String,
    /// Why it is accepted.
    pub reason: String,
}

/// A baseline file's content.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Baseline {
    /// Entries sorted by id, ids unique.
    entries: Vec<BaselineEntry>,
}

/// How a baseline applies to a set of findings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BaselineStatus {
    /// Ids of current findings that the baseline accepts, sorted.
    pub suppressed: BTreeSet<String>,
    /// Entries with no current finding, sorted by id: remove them from the baseline.
    pub stale: Vec<BaselineEntry>,
}

impl BaselineStatus {
    /// Whether the finding with `id` is accepted by the baseline.
    pub fn suppresses(&self, id: &str) -> bool {
        self.suppressed.contains(id)
    }
}

/// Why a baseline file could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The file could not be read. The I/O error is the `source` (not repeated in this
    /// message, so a printed error chain says it once).
    #[error("{}: cannot read baseline", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a baseline.
    #[error("{}: line {line}, column {column}: not a baseline (expected a JSON array of {{id, kind, message, reason}}): {message}", file.display())]
    Parse {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What serde_json said.
        message: String,
    },
    /// Two entries have the same id.
    #[error("{}: finding {id} is listed twice", file.display())]
    Duplicate {
        /// The file.
        file: PathBuf,
        /// The repeated id.
        id: String,
    },
}

impl Baseline {
    /// Reads a baseline file.
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Read {
            file: path.to_owned(),
            source,
        })?;
        Baseline::parse(path, &text)
    }

    /// Parses baseline text; `file` names it in errors.
    pub fn parse(file: &Path, text: &str) -> Result<Baseline, BaselineError> {
        let mut entries: Vec<BaselineEntry> =
            serde_json::from_str(text).map_err(|e| BaselineError::Parse {
                file: file.to_owned(),
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })?;
        entries.sort();
        if let Some(pair) = entries.windows(2).find(|w| w[0].id == w[1].id) {
            return Err(BaselineError::Duplicate {
                file: file.to_owned(),
                id: pair[0].id.clone(),
            });
        }
        Ok(Baseline { entries })
    }

    /// The entries, sorted by id.
    pub fn entries(&self) -> &[BaselineEntry] {
        &self.entries
    }

    /// Which findings the baseline accepts and which of its entries are stale.
    pub fn apply(&self, findings: &[Finding]) -> BaselineStatus {
        let current: BTreeSet<&str> = findings.iter().map(|f| f.id.as_str()).collect();
        let listed: BTreeSet<&str> = self.entries.iter().map(|e| e.id.as_str()).collect();
        BaselineStatus {
            suppressed: current
                .intersection(&listed)
                .map(|id| (*id).to_owned())
                .collect(),
            stale: self
                .entries
                .iter()
                .filter(|e| !current.contains(e.id.as_str()))
                .cloned()
                .collect(),
        }
    }

    /// The baseline accepting exactly `findings`: reasons of entries still found are kept,
    /// new entries get [`UNREVIEWED_REASON`], stale entries are dropped.
    pub fn updated(&self, findings: &[Finding]) -> Baseline {
        let reasons: BTreeMap<&str, &str> = self
            .entries
            .iter()
            .map(|e| (e.id.as_str(), e.reason.as_str()))
            .collect();
        let mut entries: Vec<BaselineEntry> = findings
            .iter()
            .map(|f| BaselineEntry {
                id: f.id.clone(),
                kind: f.kind.as_str().to_owned(),
                message: f.message.clone(),
                reason: reasons
                    .get(f.id.as_str())
                    .copied()
                    .unwrap_or(UNREVIEWED_REASON)
                    .to_owned(),
            })
            .collect();
        entries.sort();
        entries.dedup_by(|a, b| a.id == b.id);
        Baseline { entries }
    }

    /// The file content: pretty JSON, sorted by id, with a trailing newline.
    pub fn to_json(&self) -> String {
        // Plain strings in a Vec always serialize.
        let mut out = serde_json::to_string_pretty(&self.entries).expect("baseline serializes");
        out.push('\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    #[test]
    fn update_keeps_reasons_and_drops_stale_entries() {
        let old = Baseline::parse(
            Path::new("b.json"),
            r#"[{"id":"ffeeddccbbaa9988","kind":"potential-race","message":"old","reason":"benign counter"},
                {"id":"0000000000000000","kind":"data-race","message":"gone","reason":"fixed since"}]"#,
        )
        .unwrap();
        let findings = [fixtures::race(), fixtures::abba()];
        let new = old.updated(&findings);
        let ids: Vec<&str> = new.entries().iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["00112233aabbccdd", "ffeeddccbbaa9988"]);
        assert_eq!(new.entries()[0].reason, UNREVIEWED_REASON);
        assert_eq!(new.entries()[1].reason, "benign counter");
        assert_eq!(new.entries()[1].message, fixtures::race().message);
        let round = Baseline::parse(Path::new("b.json"), &new.to_json()).unwrap();
        assert_eq!(round, new);
    }

    #[test]
    fn apply_splits_suppressed_and_stale() {
        let baseline = Baseline::parse(
            Path::new("b.json"),
            r#"[{"id":"00112233aabbccdd","kind":"predicted-deadlock","message":"m","reason":"r"},
                {"id":"0000000000000000","kind":"data-race","message":"gone","reason":"r"}]"#,
        )
        .unwrap();
        let status = baseline.apply(&[fixtures::abba(), fixtures::race()]);
        assert!(status.suppresses("00112233aabbccdd"));
        assert!(!status.suppresses("ffeeddccbbaa9988"));
        assert_eq!(status.stale.len(), 1);
        assert_eq!(status.stale[0].id, "0000000000000000");
    }

    #[test]
    fn bad_files_name_file_and_position() {
        let err = Baseline::parse(Path::new("base.json"), "[\n  {\"id\": 3}\n]").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("base.json: line 2, column"), "{text}");
        let dup = r#"[{"id":"a","kind":"k","message":"m","reason":"r"},{"id":"a","kind":"k","message":"m","reason":"r"}]"#;
        let err = Baseline::parse(Path::new("base.json"), dup).unwrap_err();
        assert_eq!(err.to_string(), "base.json: finding a is listed twice");
        let err = Baseline::load(Path::new("/nonexistent/base.json")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/nonexistent/base.json: cannot read baseline")
        );
    }
}

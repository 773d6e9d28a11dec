//! Renderers: findings in, text out. Renderers never analyse.
//!
//! Each renderer takes an [`Analysis`] (and [`ReportOptions`]) and returns a
//! `String`; [`render`] picks one by [`OutputFormat`]. Output is a pure
//! function of its inputs, so two runs over the same traces print the same bytes.

pub mod baseline;
#[cfg(feature = "report-files")]
pub mod bundle;
pub mod dot;
pub mod html;
pub mod json;
#[cfg(feature = "report-files")]
pub mod junit;
pub mod layout;
#[cfg(feature = "report-files")]
pub mod sarif;
pub mod svg;
pub mod text;

use std::fmt;
use std::str::FromStr;

use crate::analysis::{Analysis, AnalysisOptions};
use crate::finding::{Finding, FindingKind};

/// The output formats of `analyzer check`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    /// Human-readable report ending in a one-line summary.
    #[default]
    Text,
    /// One JSON document (see `analyzer/JSON.md`).
    Json,
    /// The lock-order graph in Graphviz DOT.
    Dot,
}

impl OutputFormat {
    /// Every format, for help texts.
    pub const ALL: [OutputFormat; 3] = [OutputFormat::Text, OutputFormat::Json, OutputFormat::Dot];

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Text => "text",
            OutputFormat::Json => "json",
            OutputFormat::Dot => "dot",
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An output format name that is not one of [`OutputFormat::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown output format {0:?}, expected one of: text, json, dot")]
pub struct UnknownFormat(pub String);

impl FromStr for OutputFormat {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OutputFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// What the renderers need besides the analysis itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportOptions {
    /// Kinds that fail the check; findings of these kinds are marked failing.
    pub fail_on: Vec<FindingKind>,
    /// The baseline's verdict, when one is used: accepted findings do not fail.
    pub baseline: Option<baseline::BaselineStatus>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            fail_on: AnalysisOptions::default().fail_on,
            baseline: None,
        }
    }
}

impl From<&AnalysisOptions> for ReportOptions {
    fn from(options: &AnalysisOptions) -> Self {
        ReportOptions {
            fail_on: options.fail_on.clone(),
            baseline: None,
        }
    }
}

impl ReportOptions {
    /// Whether `finding` fails the check under these options (its kind fails and no
    /// baseline accepts it).
    pub fn fails(&self, finding: &Finding) -> bool {
        self.fail_on.contains(&finding.kind)
            && !self
                .baseline
                .as_ref()
                .is_some_and(|b| b.suppresses(&finding.id))
    }

    /// How many findings of `analysis` fail the check.
    pub fn failing_count(&self, analysis: &Analysis) -> usize {
        analysis.findings.iter().filter(|f| self.fails(f)).count()
    }
}

/// Renders `analysis` in `format`.
pub fn render(analysis: &Analysis, format: OutputFormat, options: &ReportOptions) -> String {
    match format {
        OutputFormat::Text => text::render(analysis, options),
        OutputFormat::Json => json::render(analysis, options),
        OutputFormat::Dot => dot::render(analysis),
    }
}

/// Counts findings per kind, in [`FindingKind::ALL`] order, leaving out kinds with none.
pub fn count_by_kind(findings: &[Finding]) -> Vec<(FindingKind, usize)> {
    FindingKind::ALL
        .into_iter()
        .map(|k| (k, findings.iter().filter(|f| f.kind == k).count()))
        .filter(|&(_, n)| n > 0)
        .collect()
}

/// `finding-<id>`: the name, without extension, of a finding's DOT and SVG files in a
/// report directory. Ids are hex fingerprints; anything else is made safe for a file
/// name anyway.
pub(crate) fn finding_file_stem(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("finding-{safe}")
}

/// `1 finding`, `2 findings`: English plurals for counts in messages.
pub(crate) fn plural(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Hand-built analyses for renderer tests (renderers must not depend on the analyses).

    use crate::analysis::{Analysis, LimitHit};
    use crate::finding::{
        Access, Coffman, Condition, CycleStep, Finding, FindingKind, Fix, LockRef, RoleSite,
        SiteRef, Summary,
    };
    use crate::graph::{EdgeWitness, GraphEdge, GraphNode, LockOrderView};
    use crate::model::{Mode, Position, Warning};

    pub fn site(file: &str, line: u32, column: u32) -> SiteRef {
        SiteRef {
            file: Some(file.into()),
            line,
            column,
            display: format!("{file}:{line}:{column}"),
        }
    }

    pub fn lock(name: &str, line: u32) -> LockRef {
        LockRef {
            name: name.into(),
            kind: "mutex".into(),
            class: Some(site("src/lib.rs", line, 17)),
        }
    }

    fn condition(holds: bool, evidence: &str) -> Condition {
        Condition {
            holds,
            evidence: evidence.into(),
        }
    }

    /// A two-thread ABBA deadlock; lock names carry quotes and a newline to test escaping.
    pub fn abba() -> Finding {
        let a = lock("accounts \"main\"", 3);
        let b = lock("audit\nlog", 4);
        let step =
            |thread: &str, holds: &LockRef, held: u32, wants: &LockRef, wanted: u32| CycleStep {
                thread: thread.into(),
                holds: holds.clone(),
                holds_mode: Mode::Write,
                held_at: site("src/x.rs", held, 5),
                wants: wants.clone(),
                wants_mode: Mode::Write,
                wanted_at: site("src/x.rs", wanted, 5),
                also_held: Vec::new(),
            };
        Finding {
            id: "00112233aabbccdd".into(),
            kind: FindingKind::PredictedDeadlock,
            severity: FindingKind::PredictedDeadlock.severity(),
            message: "deadlock predicted: thread T1 holds accounts and waits for audit; thread T2 holds audit and waits for accounts".into(),
            locks: vec![a.clone(), b.clone()],
            threads: vec!["T1".into(), "T2".into()],
            sites: vec![
                RoleSite { role: "holds accounts".into(), thread: "T1".into(), site: site("src/x.rs", 10, 5) },
                RoleSite { role: "requests audit".into(), thread: "T1".into(), site: site("src/x.rs", 11, 5) },
            ],
            cycle: vec![step("T1", &a, 10, &b, 11), step("T2", &b, 20, &a, 21)],
            coffman: Some(Coffman {
                mutual_exclusion: condition(true, "both locks are mutexes held exclusively"),
                hold_and_wait: condition(true, "T1 holds accounts at src/x.rs:10:5 while requesting audit at src/x.rs:11:5"),
                no_preemption: condition(true, "all acquisitions block"),
                circular_wait: condition(true, "T1 → audit → T2 → accounts → T1"),
            }),
            fixes: vec![Fix { breaks: "circular-wait".into(), advice: "always take accounts before audit".into() }],
            reason: None,
            variable: None,
            accesses: Vec::new(),
            traces: vec!["a.istrace".into()],
            occurrences: 2,
        }
    }

    /// A data race (no cycle, no Coffman table).
    pub fn race() -> Finding {
        Finding {
            id: "ffeeddccbbaa9988".into(),
            kind: FindingKind::PotentialRace,
            severity: FindingKind::PotentialRace.severity(),
            message: "potential race on counter: no common lock".into(),
            locks: Vec::new(),
            threads: vec!["T1".into(), "T2".into()],
            sites: vec![RoleSite {
                role: "write".into(),
                thread: "T1".into(),
                site: site("src/y.rs", 7, 9),
            }],
            cycle: Vec::new(),
            coffman: None,
            fixes: Vec::new(),
            reason: Some("lockset analysis".into()),
            variable: Some(LockRef {
                name: "counter".into(),
                kind: "variable".into(),
                class: None,
            }),
            accesses: vec![
                Access {
                    thread: "T1".into(),
                    op: "write".into(),
                    site: site("src/y.rs", 7, 9),
                    locks_held: vec!["m".into()],
                    history: Vec::new(),
                },
                Access {
                    thread: "T2".into(),
                    op: "read".into(),
                    site: site("src/y.rs", 9, 9),
                    locks_held: Vec::new(),
                    history: Vec::new(),
                },
            ],
            traces: vec!["a.istrace".into(), "b.istrace".into()],
            occurrences: 1,
        }
    }

    pub fn analysis() -> Analysis {
        let findings = vec![abba(), race()];
        let witness = |thread: &str, held: u32, acq: u32| EdgeWitness {
            thread: thread.into(),
            held_at: site("src/x.rs", held, 5),
            acquired_at: site("src/x.rs", acq, 5),
            trace: "a.istrace".into(),
        };
        let graph = LockOrderView {
            nodes: vec![
                GraphNode {
                    id: "n0".into(),
                    lock: lock("accounts \"main\"", 3),
                },
                GraphNode {
                    id: "n1".into(),
                    lock: lock("audit\nlog", 4),
                },
                GraphNode {
                    id: "n2".into(),
                    lock: LockRef {
                        name: "m".into(),
                        kind: "rw-lock".into(),
                        class: None,
                    },
                },
            ],
            edges: vec![
                GraphEdge {
                    from: 0,
                    to: 1,
                    witnesses: (0..6)
                        .map(|i| witness(&format!("T{i}"), 10, 11 + i))
                        .collect(),
                    in_cycle: true,
                },
                GraphEdge {
                    from: 1,
                    to: 0,
                    witnesses: vec![witness("T2", 20, 21)],
                    in_cycle: true,
                },
                GraphEdge {
                    from: 1,
                    to: 2,
                    witnesses: vec![witness("T3", 30, 31)],
                    in_cycle: false,
                },
            ],
        };
        let summary = Summary {
            traces: 2,
            events: 40,
            threads: 3,
            locks: 3,
            findings: 2,
            by_kind: [
                (FindingKind::PredictedDeadlock, 1),
                (FindingKind::PotentialRace, 1),
            ]
            .into_iter()
            .collect(),
            failing: 1,
        };
        Analysis {
            inputs: vec!["a.istrace".into(), "b.istrace".into()],
            findings,
            graph,
            summary,
            warnings: vec![Warning {
                file: "b.istrace".into(),
                position: Some(Position::Byte(120)),
                message: "release of unheld lock m".into(),
            }],
            limits: vec![LimitHit {
                message: "cycle search stopped at 1 cycles; raise with --max-cycles".into(),
            }],
        }
    }
}

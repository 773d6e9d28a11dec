//! Findings: what the analyses conclude, as plain data for the renderers.
//!
//! This is the JSON contract of `analyzer check --format json` (see
//! `analyzer/JSON.md`): field names and `kind` values are stable.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

pub use crate::model::Mode;

/// The kind of a finding. Serialized in kebab-case (`predicted-deadlock`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// A deadlock the program hit while it ran.
    ObservedDeadlock,
    /// A confirmed deadlock pattern: this run, rescheduled, deadlocks.
    PredictedDeadlock,
    /// A lock-order cycle that cannot deadlock in a reordering of this run, but
    /// would if its code paths ran concurrently.
    LockOrderInversion,
    /// Re-acquiring a non-reentrant lock already held by the same thread.
    SelfDeadlock,
    /// A second read of a read-held `RwLock` by the same thread.
    RecursiveReadHazard,
    /// A cycle made impossible by a gate lock held by all its threads.
    GuardedCycle,
    /// Two instances of one lock class nested.
    SameClassNesting,
    /// Two conflicting accesses not ordered by happens-before.
    DataRace,
    /// Accesses to a variable that share no common lock (lockset mode).
    PotentialRace,
    /// A read-modify-write split across two atomic steps with a conflicting write possible between.
    LostUpdate,
}

impl FindingKind {
    /// Every kind, in report order.
    pub const ALL: [FindingKind; 10] = [
        FindingKind::ObservedDeadlock,
        FindingKind::PredictedDeadlock,
        FindingKind::LockOrderInversion,
        FindingKind::SelfDeadlock,
        FindingKind::RecursiveReadHazard,
        FindingKind::DataRace,
        FindingKind::LostUpdate,
        FindingKind::PotentialRace,
        FindingKind::SameClassNesting,
        FindingKind::GuardedCycle,
    ];

    /// The kebab-case name used in JSON, SARIF rule ids and `--fail-on`.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::ObservedDeadlock => "observed-deadlock",
            FindingKind::PredictedDeadlock => "predicted-deadlock",
            FindingKind::LockOrderInversion => "lock-order-inversion",
            FindingKind::SelfDeadlock => "self-deadlock",
            FindingKind::RecursiveReadHazard => "recursive-read-hazard",
            FindingKind::GuardedCycle => "guarded-cycle",
            FindingKind::SameClassNesting => "same-class-nesting",
            FindingKind::DataRace => "data-race",
            FindingKind::PotentialRace => "potential-race",
            FindingKind::LostUpdate => "lost-update",
        }
    }

    /// Parses a kebab-case name.
    pub fn parse(name: &str) -> Option<FindingKind> {
        FindingKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Whether `check` fails on this kind when no `--fail-on` is given.
    pub fn fails_by_default(self) -> bool {
        matches!(
            self,
            FindingKind::ObservedDeadlock
                | FindingKind::PredictedDeadlock
                | FindingKind::LockOrderInversion
                | FindingKind::SelfDeadlock
                | FindingKind::RecursiveReadHazard
                | FindingKind::DataRace
                | FindingKind::LostUpdate
        )
    }

    /// How serious this kind is.
    pub fn severity(self) -> Severity {
        match self {
            FindingKind::ObservedDeadlock
            | FindingKind::PredictedDeadlock
            | FindingKind::SelfDeadlock
            | FindingKind::DataRace
            | FindingKind::LostUpdate => Severity::Error,
            FindingKind::LockOrderInversion
            | FindingKind::RecursiveReadHazard
            | FindingKind::PotentialRace => Severity::Warning,
            FindingKind::GuardedCycle | FindingKind::SameClassNesting => Severity::Note,
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How serious a finding is (SARIF levels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Will or did go wrong.
    Error,
    /// Can go wrong in another run.
    Warning,
    /// Informational.
    Note,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        })
    }
}

/// A source location in a finding.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SiteRef {
    /// Source file, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Line (or foreign location id).
    pub line: u32,
    /// Column (0 when unknown).
    pub column: u32,
    /// Human form: `src/main.rs:12:5` or `loc 1234`.
    pub display: String,
}

/// A lock (or other object) in a finding.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LockRef {
    /// Display name: the user's name, the trace's name, or `Mutex@file:line`.
    pub name: String,
    /// Object kind, kebab-case (`mutex`, `rw-lock`, …).
    pub kind: String,
    /// Construction site, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<SiteRef>,
}

/// A site with the role it plays in a finding.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RoleSite {
    /// For example `holds A`, `requests B`, `write`.
    pub role: String,
    /// Which thread.
    pub thread: String,
    /// Where.
    pub site: SiteRef,
}

/// One edge of a deadlock cycle: a thread holding one lock and requesting the next.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct CycleStep {
    /// The thread.
    pub thread: String,
    /// The lock it holds.
    pub holds: LockRef,
    /// The mode it holds it in.
    pub holds_mode: Mode,
    /// Where it took it.
    pub held_at: SiteRef,
    /// The lock it requests while holding `holds`.
    pub wants: LockRef,
    /// The mode it requests.
    pub wants_mode: Mode,
    /// Where it requests it.
    pub wanted_at: SiteRef,
    /// Other locks held at the same time (the full held set minus `holds`).
    pub also_held: Vec<String>,
}

/// One of the four Coffman conditions with its evidence.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Condition {
    /// Whether the condition holds.
    pub holds: bool,
    /// The evidence, in one or more sentences.
    pub evidence: String,
}

/// The four Coffman conditions for a deadlock finding.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Coffman {
    /// One holder at a time.
    pub mutual_exclusion: Condition,
    /// Holding one resource while waiting for another.
    pub hold_and_wait: Condition,
    /// Held resources cannot be taken away (blocking acquisitions, no try or timeout).
    pub no_preemption: Condition,
    /// The waits form a cycle.
    pub circular_wait: Condition,
}

/// A concrete way to break one condition.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Fix {
    /// Which condition it breaks: `circular-wait`, `hold-and-wait`, `no-preemption`, `mutual-exclusion`.
    pub breaks: String,
    /// What to do, naming locks and sites.
    pub advice: String,
}

/// One access in a race finding.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Access {
    /// The thread.
    pub thread: String,
    /// `read` or `write` (or `atomic-load`/`atomic-store`).
    pub op: String,
    /// Where.
    pub site: SiteRef,
    /// Locks held at the access.
    pub locks_held: Vec<String>,
    /// The thread's last synchronisation operations before the access, oldest
    /// first (role: what it did, for example `release counter_lock`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<RoleSite>,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Finding {
    /// Stable fingerprint: the same finding in another run has the same id.
    pub id: String,
    /// What kind of problem.
    pub kind: FindingKind,
    /// How serious.
    pub severity: Severity,
    /// One line saying what is wrong.
    pub message: String,
    /// The locks involved, in cycle order.
    pub locks: Vec<LockRef>,
    /// The threads involved, sorted.
    pub threads: Vec<String>,
    /// Every relevant site with its role.
    pub sites: Vec<RoleSite>,
    /// The cycle, for deadlock kinds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cycle: Vec<CycleStep>,
    /// The four conditions, for deadlock kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coffman: Option<Coffman>,
    /// Ways to fix it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fixes: Vec<Fix>,
    /// Why this finding has its kind (for example why a cycle is not a predicted deadlock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The variable, for race kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variable: Option<LockRef>,
    /// The accesses, for race kinds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accesses: Vec<Access>,
    /// The trace files that witnessed it.
    pub traces: Vec<String>,
    /// How many times it was witnessed (deduplicated instances).
    pub occurrences: usize,
}

/// Counts for the summary line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Traces read.
    pub traces: usize,
    /// Events read.
    pub events: u64,
    /// Threads seen.
    pub threads: usize,
    /// Locks seen.
    pub locks: usize,
    /// Findings in total.
    pub findings: usize,
    /// Findings per kind.
    pub by_kind: BTreeMap<FindingKind, usize>,
    /// Findings that fail the check under the chosen policy.
    pub failing: usize,
}

/// Gives each finding an id that survives edits elsewhere in its files: made of
/// its kind, its locks or variable (a generated `Mutex@src/x.rs:12` counts as
/// `Mutex@src/x.rs`), and the files (not lines) of its sites, so a baseline entry
/// still matches after a line is added above the code. Findings that would share
/// an id are told apart by their order in the file (`#2`, `#3`, … by line).
pub fn assign_stable_ids(findings: &mut [Finding]) {
    let keys: Vec<(Vec<String>, Vec<String>)> = findings
        .iter()
        .map(|f| (stable_key(f), precise_order(f)))
        .collect();
    let mut by_key: BTreeMap<&[String], Vec<usize>> = BTreeMap::new();
    for (i, (key, _)) in keys.iter().enumerate() {
        by_key.entry(key).or_default().push(i);
    }
    for (key, mut members) in by_key {
        members.sort_by(|&a, &b| keys[a].1.cmp(&keys[b].1));
        for (n, &i) in members.iter().enumerate() {
            let ordinal = format!("#{}", n + 1);
            let parts = key.iter().map(String::as_str);
            findings[i].id = if n == 0 {
                fingerprint(parts)
            } else {
                fingerprint(parts.chain([ordinal.as_str()]))
            };
        }
    }
}

/// What identifies a finding across edits that move lines.
fn stable_key(f: &Finding) -> Vec<String> {
    let mut key = vec![f.kind.as_str().to_owned()];
    let mut locks: Vec<String> = f.locks.iter().map(|l| lock_key(&l.name)).collect();
    locks.sort();
    key.extend(locks);
    if let Some(v) = &f.variable {
        key.push(format!("variable:{}", lock_key(&v.name)));
    }
    let mut places: Vec<String> = f
        .cycle
        .iter()
        .flat_map(|s| [file_key(&s.held_at), file_key(&s.wanted_at)])
        .chain(f.sites.iter().map(|s| file_key(&s.site)))
        .chain(
            f.accesses
                .iter()
                .map(|a| format!("{} {}", a.op, file_key(&a.site))),
        )
        .collect();
    places.sort();
    places.dedup();
    key.extend(places);
    key
}

/// The order among findings that share a stable key: their sites by file and line.
fn precise_order(f: &Finding) -> Vec<String> {
    let mut sites: Vec<String> = f
        .cycle
        .iter()
        .flat_map(|s| [&s.held_at, &s.wanted_at])
        .chain(f.sites.iter().map(|s| &s.site))
        .chain(f.accesses.iter().map(|a| &a.site))
        .map(|s| {
            format!(
                "{}:{:09}:{:09}",
                s.file.as_deref().unwrap_or(&s.display),
                s.line,
                s.column
            )
        })
        .collect();
    sites.sort();
    sites.push(f.id.clone());
    sites
}

/// A lock's name without the line of a generated name (`Mutex@src/x.rs:12#2` → `Mutex@src/x.rs`).
fn lock_key(name: &str) -> String {
    let Some((kind, place)) = name.split_once('@') else {
        return name.to_owned();
    };
    let place = place.split_once('#').map_or(place, |(p, _)| p);
    match place.rsplit_once(':') {
        Some((file, line)) if !kind.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{kind}@{file}")
        }
        _ => name.to_owned(),
    }
}

/// A site's file, or its whole display when it has none (foreign traces' `loc 12`).
fn file_key(site: &SiteRef) -> String {
    site.file.clone().unwrap_or_else(|| site.display.clone())
}

/// 64-bit FNV-1a, written out so fingerprints never change with a dependency's hasher.
pub fn fingerprint<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0u8)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(file: &str, line: u32) -> SiteRef {
        SiteRef {
            file: Some(file.to_owned()),
            line,
            column: 5,
            display: format!("{file}:{line}:5"),
        }
    }

    fn inversion(a: &str, b: &str, file: &str, line: u32) -> Finding {
        let lock = |name: &str| LockRef {
            name: name.to_owned(),
            kind: "mutex".to_owned(),
            class: None,
        };
        Finding {
            id: fingerprint([a, b, &line.to_string()]),
            kind: FindingKind::LockOrderInversion,
            severity: Severity::Warning,
            message: String::new(),
            locks: vec![lock(a), lock(b)],
            threads: vec!["T1".into(), "T2".into()],
            sites: vec![RoleSite {
                role: format!("holds {a}"),
                thread: "T1".into(),
                site: site(file, line),
            }],
            cycle: Vec::new(),
            coffman: None,
            fixes: Vec::new(),
            reason: None,
            variable: None,
            accesses: Vec::new(),
            traces: Vec::new(),
            occurrences: 1,
        }
    }

    #[test]
    fn stable_ids_survive_moved_lines_and_stay_distinct() {
        let mut before = vec![
            inversion(
                "Mutex@src/bank.rs:10",
                "Mutex@src/bank.rs:11#2",
                "src/bank.rs",
                30,
            ),
            inversion(
                "Mutex@src/bank.rs:10",
                "Mutex@src/bank.rs:11#2",
                "src/bank.rs",
                60,
            ),
            inversion("accounts", "journal", "src/bank.rs", 80),
        ];
        // One line added at the top of bank.rs: every line moves by one.
        let mut after = vec![
            inversion(
                "Mutex@src/bank.rs:11",
                "Mutex@src/bank.rs:12#2",
                "src/bank.rs",
                61,
            ),
            inversion(
                "Mutex@src/bank.rs:11",
                "Mutex@src/bank.rs:12#2",
                "src/bank.rs",
                31,
            ),
            inversion("accounts", "journal", "src/bank.rs", 81),
        ];
        assign_stable_ids(&mut before);
        assign_stable_ids(&mut after);
        assert_eq!(before[0].id, after[1].id, "same finding, same id");
        assert_eq!(before[1].id, after[0].id);
        assert_eq!(before[2].id, after[2].id);
        let ids: std::collections::BTreeSet<&str> = before.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids.len(), 3, "distinct findings keep distinct ids");
        let mut renamed = vec![inversion("accounts", "ledger", "src/bank.rs", 80)];
        assign_stable_ids(&mut renamed);
        assert_ne!(renamed[0].id, before[2].id, "other locks, other id");
    }

    #[test]
    fn lock_keys_drop_only_a_generated_line() {
        assert_eq!(lock_key("Mutex@src/a.rs:12"), "Mutex@src/a.rs");
        assert_eq!(lock_key("RwLock@a.rs:3#4"), "RwLock@a.rs");
        assert_eq!(lock_key("accounts"), "accounts");
        assert_eq!(lock_key("L34"), "L34");
        assert_eq!(lock_key("Mutex@<unknown>#2"), "Mutex@<unknown>#2");
    }

    #[test]
    fn kinds_round_trip_their_names() {
        for k in FindingKind::ALL {
            assert_eq!(FindingKind::parse(k.as_str()), Some(k));
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
        }
    }

    #[test]
    fn fingerprints_are_stable_and_separate_parts() {
        assert_eq!(fingerprint(["a", "b"]), fingerprint(["a", "b"]));
        assert_ne!(fingerprint(["ab", ""]), fingerprint(["a", "b"]));
        assert_eq!(fingerprint([]), "cbf29ce484222325");
    }
}

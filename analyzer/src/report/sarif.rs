//! SARIF 2.1.0 for GitHub code scanning, built with the `serde-sarif` types.
//!
//! One rule per finding kind (`ruleId` is the kind's kebab-case name, and the rule
//! list is every kind in [`FindingKind::ALL`] order so `ruleIndex` is stable), one
//! result per finding with its level from the severity, its sites as locations and
//! its id as partial fingerprint. Source files become repository-relative URIs by
//! stripping the repository root; sites without a file become logical locations.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_sarif::sarif::{
    ArtifactLocation, Location, LogicalLocation, Message, MultiformatMessageString,
    PhysicalLocation, Region, ReportingConfiguration, ReportingDescriptor, Result as SarifResult,
    ResultLevel, Run, Sarif, Tool, ToolComponent,
};

use crate::analysis::Analysis;
use crate::finding::{Finding, FindingKind, RoleSite, Severity, SiteRef};
use crate::report::ReportOptions;

/// The `$schema` of the document.
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The key of a result's fingerprint in `partialFingerprints`.
pub const FINGERPRINT_KEY: &str = "findingId/v1";

/// Short and full description of each rule.
pub fn rule_text(kind: FindingKind) -> (&'static str, &'static str) {
    match kind {
        FindingKind::ObservedDeadlock => (
            "Deadlock observed",
            "The program deadlocked while it was traced: every thread in the cycle waits for a lock another one holds.",
        ),
        FindingKind::PredictedDeadlock => (
            "Deadlock predicted",
            "A reordering of the traced run deadlocks: the threads take the same locks in opposite orders and nothing orders their acquisitions.",
        ),
        FindingKind::LockOrderInversion => (
            "Lock-order inversion",
            "Locks are taken in inconsistent orders (a cycle in the lock-order graph); this run could not deadlock on it, but another schedule or run can.",
        ),
        FindingKind::SelfDeadlock => (
            "Self-deadlock",
            "A thread acquires a non-reentrant lock it already holds and blocks forever.",
        ),
        FindingKind::RecursiveReadHazard => (
            "Recursive read lock",
            "A thread read-locks an RwLock it already read-holds; a writer queued in between deadlocks both.",
        ),
        FindingKind::GuardedCycle => (
            "Guarded lock-order cycle",
            "A lock-order cycle that cannot deadlock because one gate lock is held by all its threads.",
        ),
        FindingKind::SameClassNesting => (
            "Same-class lock nesting",
            "Two locks of the same class (construction site) are nested; their order is decided at run time.",
        ),
        FindingKind::DataRace => (
            "Data race",
            "Two conflicting accesses to one variable are not ordered by happens-before.",
        ),
        FindingKind::PotentialRace => (
            "Potential data race",
            "Accesses to one variable share no common lock (lockset analysis).",
        ),
        FindingKind::LostUpdate => (
            "Lost update",
            "A read-modify-write is split across two atomic steps and a conflicting write can come between them.",
        ),
    }
}

fn level(severity: Severity) -> ResultLevel {
    match severity {
        Severity::Error => ResultLevel::Error,
        Severity::Warning => ResultLevel::Warning,
        Severity::Note => ResultLevel::Note,
    }
}

fn text(s: impl Into<String>) -> MultiformatMessageString {
    MultiformatMessageString::builder().text(s.into()).build()
}

fn message(s: impl Into<String>) -> Message {
    Message::builder().text(s.into()).build()
}

/// A file path as a URI relative to `repo_root` when under it; other absolute paths
/// as `file://` URIs; relative paths as they are. Separators become `/`.
pub fn repo_uri(file: &str, repo_root: &Path) -> String {
    let path = Path::new(file);
    if let Ok(relative) = path.strip_prefix(repo_root) {
        return relative.to_string_lossy().replace('\\', "/");
    }
    let slashed = file.replace('\\', "/");
    if path.is_absolute() {
        format!("file://{}", percent_encode(&slashed))
    } else {
        percent_encode(slashed.strip_prefix("./").unwrap_or(&slashed))
    }
}

/// Encodes the characters a URI path cannot carry as they are.
fn percent_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b':' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

fn location(site: &SiteRef, note: String, repo_root: &Path) -> Location {
    match &site.file {
        Some(file) => {
            let mut region = Region::builder().build();
            if site.line > 0 {
                region.start_line = Some(i64::from(site.line));
                if site.column > 0 {
                    region.start_column = Some(i64::from(site.column));
                }
            }
            let physical = PhysicalLocation::builder()
                .artifact_location(
                    ArtifactLocation::builder()
                        .uri(repo_uri(file, repo_root))
                        .build(),
                )
                .region(region)
                .build();
            Location::builder()
                .physical_location(physical)
                .message(message(note))
                .build()
        }
        None => Location::builder()
            .logical_locations(vec![
                LogicalLocation::builder()
                    .name(site.display.clone())
                    .kind("location".to_owned())
                    .build(),
            ])
            .message(message(note))
            .build(),
    }
}

/// The finding's sites, once each, in the finding's order: role sites, then cycle and access sites.
fn sites(finding: &Finding) -> Vec<RoleSite> {
    let mut all: Vec<RoleSite> = finding.sites.clone();
    for step in &finding.cycle {
        all.push(RoleSite {
            role: format!("holds {}", step.holds.name),
            thread: step.thread.clone(),
            site: step.held_at.clone(),
        });
        all.push(RoleSite {
            role: format!("requests {}", step.wants.name),
            thread: step.thread.clone(),
            site: step.wanted_at.clone(),
        });
    }
    for access in &finding.accesses {
        all.push(RoleSite {
            role: access.op.clone(),
            thread: access.thread.clone(),
            site: access.site.clone(),
        });
    }
    let mut seen = BTreeSet::new();
    all.retain(|s| seen.insert((s.site.clone(), s.thread.clone())));
    all
}

/// Renders the SARIF log as pretty JSON with a trailing newline.
pub fn render(analysis: &Analysis, options: &ReportOptions, repo_root: &Path) -> String {
    let rules: Vec<ReportingDescriptor> = FindingKind::ALL
        .iter()
        .map(|&kind| {
            let (short, full) = rule_text(kind);
            ReportingDescriptor::builder()
                .id(kind.as_str().to_owned())
                .name(kind.as_str().to_owned())
                .short_description(text(short))
                .full_description(text(full))
                .default_configuration(
                    ReportingConfiguration::builder()
                        .level(serde_json::Value::String(kind.severity().to_string()))
                        .build(),
                )
                .build()
        })
        .collect();
    let driver = ToolComponent::builder()
        .name("analyzer".to_owned())
        .semantic_version(env!("CARGO_PKG_VERSION").to_owned())
        .rules(rules)
        .build();
    let results: Vec<SarifResult> = analysis
        .findings
        .iter()
        .map(|finding| {
            let rule_index = FindingKind::ALL
                .iter()
                .position(|&k| k == finding.kind)
                .unwrap_or(0);
            let locations: Vec<Location> = sites(finding)
                .iter()
                .map(|s| {
                    location(
                        &s.site,
                        format!("thread {}: {}", s.thread, s.role),
                        repo_root,
                    )
                })
                .collect();
            let mut fingerprints = BTreeMap::new();
            fingerprints.insert(FINGERPRINT_KEY.to_owned(), finding.id.clone());
            let mut body = finding.message.clone();
            if options
                .baseline
                .as_ref()
                .is_some_and(|b| b.suppresses(&finding.id))
            {
                body.push_str(" (accepted by the baseline)");
            }
            let mut result = SarifResult::builder()
                .rule_id(finding.kind.as_str().to_owned())
                .rule_index(rule_index as i64)
                .level(level(finding.severity))
                .message(message(body))
                .partial_fingerprints(fingerprints)
                .occurrence_count(finding.occurrences as i64)
                .build();
            if !locations.is_empty() {
                result.locations = Some(locations);
            }
            result
        })
        .collect();
    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .results(results)
        .build();
    let log = Sarif::builder()
        .schema(SCHEMA.to_owned())
        .version(serde_json::Value::String("2.1.0".to_owned()))
        .runs(vec![run])
        .build();
    // Plain data with string keys always serializes.
    let mut out = serde_json::to_string_pretty(&log).expect("SARIF serializes");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::report::fixtures;

    fn parsed(repo_root: &str) -> Value {
        let text = render(
            &fixtures::analysis(),
            &ReportOptions::default(),
            Path::new(repo_root),
        );
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn log_has_the_required_sarif_shape() {
        let v = parsed("/repo");
        assert_eq!(v["version"], "2.1.0");
        assert_eq!(v["$schema"], SCHEMA);
        let run = &v["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "analyzer");
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), FindingKind::ALL.len());
        for (rule, kind) in rules.iter().zip(FindingKind::ALL) {
            assert_eq!(rule["id"], kind.as_str());
            assert!(rule["shortDescription"]["text"].is_string());
            assert!(rule["fullDescription"]["text"].is_string());
        }
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        for result in results {
            assert!(result["message"]["text"].is_string());
            let index = result["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[index]["id"], result["ruleId"]);
        }
        assert_eq!(results[0]["ruleId"], "predicted-deadlock");
        assert_eq!(results[0]["level"], "error");
        assert_eq!(results[1]["level"], "warning");
        assert_eq!(
            results[0]["partialFingerprints"][FINGERPRINT_KEY],
            "00112233aabbccdd"
        );
    }

    #[test]
    fn locations_are_relative_with_regions() {
        let v = parsed("/repo");
        let loc = &v["runs"][0]["results"][0]["locations"][0];
        assert_eq!(
            loc["physicalLocation"]["artifactLocation"]["uri"],
            "src/x.rs"
        );
        assert_eq!(loc["physicalLocation"]["region"]["startLine"], 10);
        assert_eq!(loc["physicalLocation"]["region"]["startColumn"], 5);
        assert_eq!(loc["message"]["text"], "thread T1: holds accounts");
        let race_locations = v["runs"][0]["results"][1]["locations"].as_array().unwrap();
        assert_eq!(
            race_locations.len(),
            2,
            "the write and the read, deduplicated"
        );
    }

    #[test]
    fn uris_strip_the_repository_root() {
        assert_eq!(
            repo_uri("/repo/src/a b.rs", Path::new("/repo")),
            "src/a b.rs"
        );
        assert_eq!(
            repo_uri("/elsewhere/a b.rs", Path::new("/repo")),
            "file:///elsewhere/a%20b.rs"
        );
        assert_eq!(repo_uri("./src/x.rs", Path::new("/repo")), "src/x.rs");
    }

    #[test]
    fn sites_without_files_are_logical_locations() {
        let mut analysis = fixtures::analysis();
        let finding = &mut analysis.findings[1];
        for site in finding
            .sites
            .iter_mut()
            .map(|s| &mut s.site)
            .chain(finding.accesses.iter_mut().map(|a| &mut a.site))
        {
            site.file = None;
            site.display = format!("loc {}", site.line);
        }
        let text = render(&analysis, &ReportOptions::default(), Path::new("/"));
        let v: Value = serde_json::from_str(&text).unwrap();
        let loc = &v["runs"][0]["results"][1]["locations"][0];
        assert!(loc.get("physicalLocation").is_none());
        assert_eq!(loc["logicalLocations"][0]["name"], "loc 7");
    }
}

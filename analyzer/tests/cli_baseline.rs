//! `--baseline FILE` in a repository that has none yet: an empty baseline with a note,
//! so the README's ready CI job works from the first run; `--update-baseline` creates
//! it. Read errors say the OS error once.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn analyzer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn abba() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/abba.std")
        .to_str()
        .unwrap()
        .to_owned()
}

/// One thread taking one lock: nothing to find.
fn clean_trace(dir: &Path) -> String {
    let path = dir.join("clean.std");
    fs::write(&path, "T1|acq(A)|1\nT1|rel(A)|2\n").unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_missing_baseline_is_empty_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("lock-baseline.json");
    let baseline = baseline.to_str().unwrap();
    let clean = clean_trace(dir.path());
    let out = analyzer(&["check", "--baseline", baseline, &clean]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("no baseline yet, so every finding counts (--update-baseline creates it)"),
        "{stderr}"
    );
    assert!(stderr.contains(baseline), "{stderr}");
    assert!(!Path::new(baseline).exists(), "check alone writes nothing");

    // A finding still fails: the empty baseline accepts nothing.
    let out = analyzer(&["check", "--baseline", baseline, &abba()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));

    // The same through `report`, the command of the ready CI job.
    let report_dir = dir.path().join("report");
    let out = analyzer(&[
        "report",
        "--svg-renderer",
        "builtin",
        "--out",
        report_dir.to_str().unwrap(),
        "--baseline",
        baseline,
        &clean,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(report_dir.join("report.sarif").is_file());
}

#[test]
fn update_baseline_creates_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("lock-baseline.json");
    let baseline = baseline.to_str().unwrap();
    let out = analyzer(&[
        "check",
        "--baseline",
        baseline,
        "--update-baseline",
        &abba(),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("no baseline yet"), "{stderr}");
    let written: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(baseline).unwrap()).unwrap();
    assert_eq!(written.as_array().map(Vec::len), Some(1), "{written}");
    // Now accepted: the same check passes.
    let out = analyzer(&["check", "--baseline", baseline, &abba()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn an_unreadable_baseline_is_an_error_that_says_why_once() {
    let dir = tempfile::tempdir().unwrap();
    // A directory exists but cannot be read as a file.
    let baseline = dir.path().to_str().unwrap();
    let out = analyzer(&["check", "--baseline", baseline, &abba()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("{baseline}: cannot read baseline: ")),
        "{stderr}"
    );
    assert_eq!(stderr.matches("os error").count(), 1, "said once: {stderr}");
}

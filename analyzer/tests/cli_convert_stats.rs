//! `analyzer convert` and `analyzer stats` end to end.

use std::path::Path;
use std::process::{Command, Output};

fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

fn analyzer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn findings(path: &str) -> (Option<i32>, Vec<(String, String)>) {
    let out = analyzer(&["check", "--format", "json", path]);
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    let list = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_owned(),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (out.status.code(), list)
}

#[test]
fn converted_traces_give_the_same_findings() {
    let dir = tempfile::tempdir().unwrap();
    let original = findings(&data("abba.std"));
    assert_eq!(original.0, Some(1));
    for (to, name) in [
        ("native", "abba.istrace"),
        ("jsonl", "abba.jsonl"),
        ("std", "abba.std"),
    ] {
        let out_path = dir.path().join(name);
        let out = analyzer(&[
            "convert",
            &data("abba.std"),
            "--to",
            to,
            "-o",
            out_path.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{to}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
        assert_eq!(findings(out_path.to_str().unwrap()), original, "{to}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        3,
        "no temporary files left behind: {leftovers:?}"
    );
}

#[test]
fn convert_to_std_writes_std_lines() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("copy.std");
    let out = analyzer(&[
        "convert",
        &data("ordered.std"),
        "--to",
        "std",
        "-o",
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(&out_path).unwrap();
    assert_eq!(text.lines().count(), 8, "{text}");
    assert!(text.lines().all(|l| l.split('|').count() == 3), "{text}");
}

#[test]
fn convert_errors_exit_2_and_leave_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("out.istrace");
    let out = analyzer(&[
        "convert",
        &data("garbage.std"),
        "--to",
        "native",
        "-o",
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("analyzer: error: ")
            && stderr(&out).contains("garbage.std: line 3"),
        "{}",
        stderr(&out)
    );
    assert!(!out_path.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    let missing_dir = dir.path().join("no/such/dir/out.jsonl");
    let out = analyzer(&[
        "convert",
        &data("abba.std"),
        "--to",
        "jsonl",
        "-o",
        missing_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("no/such/dir"), "{}", stderr(&out));
}

#[test]
fn stats_prints_one_row_per_trace() {
    let out = analyzer(&["stats", &data("abba.std"), &data("ordered.std")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "file",
            "threads",
            "locks",
            "events",
            "dependencies",
            "patterns",
            "confirmed",
            "time",
            "ms"
        ]
    );
    let abba: Vec<&str> = lines[1].split_whitespace().collect();
    assert!(abba[0].ends_with("abba.std"), "{text}");
    // 2 threads, 2 locks, 8 events, 2 dependencies, 1 pattern, 1 confirmed.
    assert_eq!(&abba[1..7], ["2", "2", "8", "2", "1", "1"], "{text}");
    let ordered: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(&ordered[5..7], ["0", "0"], "{text}");
}

#[test]
fn stats_on_bad_input_exits_2() {
    let out = analyzer(&["stats", &data("garbage.std")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("garbage.std: line 3"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn convert_help_offers_only_what_applies_to_one_input() {
    let help = analyzer(&["convert", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(!text.contains("--keep-going"), "{text}");
    assert!(!text.contains("Analyze"), "{text}");
    assert!(
        text.contains("Convert a trace whose last record is torn"),
        "{text}"
    );
    let out = analyzer(&[
        "convert",
        "--keep-going",
        "--to",
        "std",
        "-o",
        "x.std",
        &data("abba.std"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("unexpected argument '--keep-going'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn check_help_says_what_dot_output_holds() {
    let help = analyzer(&["check", "--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("no Coffman tables"), "{text}");
}

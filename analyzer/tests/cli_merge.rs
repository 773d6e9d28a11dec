//! `analyzer check`/`report` over many traces: runs are streamed one at a time into one
//! lock-order graph keyed by lock class, and the result equals analysing them together.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use analyzer::analysis::{AnalysisOptions, analyze};
use analyzer::report::{self, OutputFormat, ReportOptions};
use analyzer::trace::{LoadOptions, load_path};
use sync_trace::codec::TraceWriter;
use sync_trace::{
    Attempt, Event, Mode, ObjectId, ObjectInfo, ObjectKind, Op, ProcessInfo, Record, Site, SiteId,
    ThreadId, ThreadInfo,
};

fn analyzer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8 output")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A native trace of one test process whose single thread takes `first` then `second`
/// (each of `accounts`, `audit`, with class sites in `src/bank.rs`) at lines from `line`.
fn one_order_run(dir: &Path, file: &str, first: u64, second: u64, line: u32) -> PathBuf {
    let path = dir.join(file);
    let mut bytes = Vec::new();
    let mut w = TraceWriter::new(&mut bytes).unwrap();
    let site = |id: u32, line: u32| {
        Record::Site(Site {
            id: SiteId(id),
            file: "src/bank.rs".into(),
            line,
            column: 9,
        })
    };
    let lock = |id: u64, name: &str| {
        Record::Object(ObjectInfo {
            id: ObjectId(id),
            kind: ObjectKind::Mutex,
            class: SiteId(id as u32),
            name: Some(name.into()),
        })
    };
    let take = |lock: u64, seq: u64, site: u32| {
        [
            Event {
                op: Op::Request {
                    lock: ObjectId(lock),
                    mode: Mode::Write,
                },
                site: SiteId(site),
            },
            Event {
                op: Op::Acquire {
                    lock: ObjectId(lock),
                    mode: Mode::Write,
                    attempt: Attempt::Blocking,
                    seq,
                },
                site: SiteId(site),
            },
        ]
    };
    let release = |lock: u64, seq: u64, site: u32| Event {
        op: Op::Release {
            lock: ObjectId(lock),
            mode: Mode::Write,
            seq,
        },
        site: SiteId(site),
    };
    let mut events = vec![Event {
        op: Op::Begin,
        site: SiteId::UNKNOWN,
    }];
    events.extend(take(first, 1, 10));
    events.extend(take(second, 1, 11));
    events.extend([
        release(second, 2, 12),
        release(first, 2, 13),
        Event {
            op: Op::End,
            site: SiteId::UNKNOWN,
        },
    ]);
    let records = [
        Record::Process(ProcessInfo {
            pid: 1,
            program: "bank-tests".into(),
        }),
        // Class sites: where `accounts` (1) and `audit` (2) are constructed.
        site(1, 3),
        site(2, 4),
        site(10, line),
        site(11, line + 1),
        site(12, line + 2),
        site(13, line + 3),
        Record::Thread(ThreadInfo {
            id: ThreadId(1),
            name: Some("main".into()),
        }),
        lock(1, "accounts"),
        lock(2, "audit"),
        Record::Events {
            thread: ThreadId(1),
            events,
        },
        Record::End,
    ];
    for record in &records {
        w.write(record).unwrap();
    }
    drop(w);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Two test runs with opposite lock orders, in `dir`.
fn opposite_runs(dir: &Path) -> (PathBuf, PathBuf) {
    (
        one_order_run(dir, "test1.istrace", 1, 2, 20),
        one_order_run(dir, "test2.istrace", 2, 1, 40),
    )
}

/// What the library renders for `paths` loaded together, as `check --format json` would.
fn rendered_together(paths: &[&Path]) -> String {
    let traces: Vec<_> = paths
        .iter()
        .map(|p| load_path(p, &LoadOptions::default()).unwrap())
        .collect();
    let options = AnalysisOptions::default();
    report::render(
        &analyze(&traces, &options),
        OutputFormat::Json,
        &ReportOptions::from(&options),
    )
}

#[test]
fn opposite_orders_in_two_runs_are_one_cross_run_inversion() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = opposite_runs(dir.path());
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let out = analyzer(&["check", a, b, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let findings = json["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{json:#}");
    let f = &findings[0];
    assert_eq!(f["kind"], "lock-order-inversion");
    assert_eq!(f["traces"], serde_json::json!([a, b]));
    assert_eq!(
        f["reason"],
        format!("seen across separate runs: {a}, {b}").as_str()
    );
    assert_eq!(json["summary"]["traces"], 2);
    // One node per class: the two runs' locks merged.
    let names: Vec<&str> = f["locks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["accounts", "audit"]);
    let dot = stdout(&analyzer(&["check", a, b, "--format", "dot"]));
    assert_eq!(dot.matches("[label=\"accounts\\n").count(), 1, "{dot}");
    assert_eq!(dot.matches("[label=\"audit\\n").count(), 1, "{dot}");

    // Each run alone is consistent.
    for run in [a, b] {
        let out = analyzer(&["check", run]);
        assert_eq!(out.status.code(), Some(0), "{run}: {}", stdout(&out));
    }
}

#[test]
fn streamed_check_equals_analysing_the_traces_together() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = opposite_runs(dir.path());
    let c = one_order_run(dir.path(), "test3.istrace", 1, 2, 60);
    let out = analyzer(&[
        "check",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        c.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let expected = rendered_together(&[&a, &b, &c]);
    assert_eq!(stdout(&out), expected);
    // A directory is expanded in sorted order: the same three runs, the same bytes.
    let out = analyzer(&["check", dir.path().to_str().unwrap(), "--format", "json"]);
    assert_eq!(stdout(&out), expected);
    // Occurrences and traces of the merged finding count all three runs.
    let json: serde_json::Value = serde_json::from_str(&expected).unwrap();
    assert_eq!(json["findings"][0]["traces"].as_array().unwrap().len(), 3);
}

#[test]
fn report_merges_the_runs_into_the_same_findings_as_check() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    std::fs::create_dir(&runs).unwrap();
    opposite_runs(&runs);
    let out_dir = dir.path().join("out");
    let out = analyzer(&[
        "report",
        runs.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--svg-renderer",
        "builtin",
    ]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let written = std::fs::read_to_string(out_dir.join("report.json")).unwrap();
    let check = analyzer(&["check", runs.to_str().unwrap(), "--format", "json"]);
    assert_eq!(written, stdout(&check));
}

#[test]
fn an_unreadable_run_is_skipped_with_keep_going_and_the_rest_still_merge() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = opposite_runs(dir.path());
    let bad = dir.path().join("test0.istrace");
    std::fs::write(&bad, b"not a trace").unwrap();
    let dir_arg = dir.path().to_str().unwrap();

    let out = analyzer(&["check", dir_arg]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("test0.istrace"), "{}", stderr(&out));
    assert!(
        stdout(&out).is_empty(),
        "no report on error: {}",
        stdout(&out)
    );

    let out = analyzer(&["check", dir_arg, "--keep-going", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["findings"][0]["kind"], "lock-order-inversion");
    assert_eq!(
        json["findings"][0]["traces"],
        serde_json::json!([a.to_str().unwrap(), b.to_str().unwrap()])
    );
    let warnings = json["warnings"].to_string();
    assert!(warnings.contains("test0.istrace"), "{warnings}");
}

//! End-to-end `analyzer check`: exit codes on real deadlock shapes, output formats, determinism.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sync_trace::codec::TraceWriter;
use sync_trace::{
    Attempt, Event, Mode, ObjectId, ObjectInfo, ObjectKind, Op, ProcessInfo, Record, Site, SiteId,
    ThreadId, ThreadInfo,
};

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

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8 output")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn std_abba_fails_the_check() {
    let out = analyzer(&["check", &data("abba.std")]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stderr: {}\nstdout: {}",
        stderr(&out),
        stdout(&out)
    );
    let text = stdout(&out);
    assert!(text.contains("[predicted-deadlock]"), "{text}");
    assert!(text.contains("circular wait"), "{text}");
    assert!(
        text.lines()
            .last()
            .unwrap()
            .starts_with("analyzer: 1 finding (1 predicted-deadlock), 1 failing"),
        "{text}"
    );
}

#[test]
fn consistently_ordered_trace_passes() {
    let out = analyzer(&["check", &data("ordered.std")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}\nstdout: {}",
        stderr(&out),
        stdout(&out)
    );
    assert_eq!(
        stdout(&out),
        "analyzer: 0 findings, 0 failing, in 1 trace\n"
    );
}

#[test]
fn fail_on_none_passes_despite_findings() {
    let out = analyzer(&["check", "--fail-on", "none", &data("abba.std")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("0 failing"));
}

#[test]
fn json_report_has_the_contract_fields() {
    let out = analyzer(&["check", "--format", "json", &data("abba.std")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("valid JSON");
    assert_eq!(v["version"], 1);
    assert_eq!(v["inputs"].as_array().unwrap().len(), 1);
    let f = &v["findings"][0];
    assert_eq!(f["kind"], "predicted-deadlock");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["fails"], true);
    assert!(f["id"].as_str().is_some_and(|id| !id.is_empty()));
    let mut locks: Vec<&str> = f["locks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    locks.sort();
    assert_eq!(locks, ["A", "B"]);
    assert_eq!(f["threads"], serde_json::json!(["T1", "T2"]));
    assert_eq!(v["summary"]["failing"], 1);
    assert_eq!(v["summary"]["exit_code"], 1);
}

#[test]
fn dot_graph_and_finding_graph_parse() {
    let out = analyzer(&["check", "--format", "dot", &data("abba.std")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let dot = stdout(&out);
    graphviz_rust::parse(&dot).unwrap_or_else(|e| panic!("{e}\n{dot}"));
    assert!(
        dot.contains("n0 -> n1") && dot.contains("n1 -> n0"),
        "{dot}"
    );
    assert!(dot.contains("color=red"), "{dot}");

    let json = analyzer(&["check", "--format", "json", &data("abba.std")]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let id = v["findings"][0]["id"].as_str().unwrap();
    let out = analyzer(&[
        "check",
        "--format",
        "dot",
        "--finding",
        id,
        &data("abba.std"),
    ]);
    let dot = stdout(&out);
    graphviz_rust::parse(&dot).unwrap_or_else(|e| panic!("{e}\n{dot}"));
    assert!(dot.contains("Coffman conditions"), "{dot}");
    let out = analyzer(&[
        "check",
        "--format",
        "dot",
        "--finding",
        "no-such-id",
        &data("abba.std"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no finding with id no-such-id"));
}

#[test]
fn json_and_dot_are_byte_identical_across_runs() {
    for format in ["json", "dot", "text"] {
        let args = [
            "check",
            "--format",
            format,
            &data("abba.std"),
            &data("ordered.std"),
        ];
        let first = analyzer(&args);
        let second = analyzer(&args);
        assert!(
            matches!(first.status.code(), Some(0 | 1)),
            "{format}: {}",
            stderr(&first)
        );
        assert!(!first.stdout.is_empty());
        assert_eq!(
            first.stdout, second.stdout,
            "{format} output differs between runs"
        );
    }
}

#[test]
fn output_file_matches_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let to_file = analyzer(&[
        "check",
        "--format",
        "json",
        "-o",
        path.to_str().unwrap(),
        &data("abba.std"),
    ]);
    assert_eq!(to_file.status.code(), Some(1), "{}", stderr(&to_file));
    assert!(to_file.stdout.is_empty());
    let to_stdout = analyzer(&["check", "--format", "json", &data("abba.std")]);
    assert_eq!(std::fs::read(&path).unwrap(), to_stdout.stdout);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left behind"
    );
}

#[test]
fn directory_inputs_are_expanded() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(data("abba.std"), dir.path().join("abba.std")).unwrap();
    std::fs::copy(data("ordered.std"), dir.path().join("ordered.std")).unwrap();
    let out = analyzer(&["check", "--format", "json", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let inputs: Vec<&str> = v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap())
        .collect();
    assert_eq!(inputs.len(), 2);
    assert!(
        inputs[0].ends_with("abba.std") && inputs[1].ends_with("ordered.std"),
        "{inputs:?}"
    );
}

/// Two threads taking mutexes `accounts` and `audit` in opposite orders, recorded natively.
fn native_abba(dir: &Path) -> PathBuf {
    let path = dir.join("abba.istrace");
    let mut bytes = Vec::new();
    let mut w = TraceWriter::new(&mut bytes).unwrap();
    let site = |id, line| {
        Record::Site(Site {
            id: SiteId(id),
            file: "src/bank.rs".into(),
            line,
            column: 9,
        })
    };
    let lock = |id, name: &str| {
        Record::Object(ObjectInfo {
            id: ObjectId(id),
            kind: ObjectKind::Mutex,
            class: SiteId(id as u32),
            name: Some(name.into()),
        })
    };
    let take = |lock, seq, site| {
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
    let release = |lock, seq, site| Event {
        op: Op::Release {
            lock: ObjectId(lock),
            mode: Mode::Write,
            seq,
        },
        site: SiteId(site),
    };
    let mut t1 = vec![Event {
        op: Op::Begin,
        site: SiteId::UNKNOWN,
    }];
    t1.extend(take(1, 1, 10));
    t1.extend(take(2, 1, 11));
    t1.extend([
        release(2, 2, 12),
        release(1, 2, 13),
        Event {
            op: Op::End,
            site: SiteId::UNKNOWN,
        },
    ]);
    let mut t2 = vec![Event {
        op: Op::Begin,
        site: SiteId::UNKNOWN,
    }];
    t2.extend(take(2, 3, 20));
    t2.extend(take(1, 3, 21));
    t2.extend([
        release(1, 4, 22),
        release(2, 4, 23),
        Event {
            op: Op::End,
            site: SiteId::UNKNOWN,
        },
    ]);
    let mut records = vec![Record::Process(ProcessInfo {
        pid: 1,
        program: "bank".into(),
    })];
    records.extend([
        site(1, 3),
        site(2, 4),
        site(10, 10),
        site(11, 11),
        site(12, 12),
        site(13, 13),
    ]);
    records.extend([site(20, 20), site(21, 21), site(22, 22), site(23, 23)]);
    records.extend([
        Record::Thread(ThreadInfo {
            id: ThreadId(1),
            name: Some("t1".into()),
        }),
        Record::Thread(ThreadInfo {
            id: ThreadId(2),
            name: Some("t2".into()),
        }),
        lock(1, "accounts"),
        lock(2, "audit"),
        Record::Events {
            thread: ThreadId(1),
            events: t1,
        },
        Record::Events {
            thread: ThreadId(2),
            events: t2,
        },
        Record::End,
    ]);
    for record in &records {
        w.write(record).unwrap();
    }
    drop(w);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn native_abba_names_locks_and_sites() {
    let dir = tempfile::tempdir().unwrap();
    let path = native_abba(dir.path());
    let out = analyzer(&["check", path.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stderr: {}\nstdout: {}",
        stderr(&out),
        stdout(&out)
    );
    let text = stdout(&out);
    assert!(text.contains("[predicted-deadlock]"), "{text}");
    assert!(
        text.contains("accounts") && text.contains("audit"),
        "{text}"
    );
    assert!(
        text.contains("src/bank.rs:11:9") && text.contains("src/bank.rs:21:9"),
        "{text}"
    );
}

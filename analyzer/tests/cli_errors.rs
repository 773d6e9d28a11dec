//! Bad input never panics: the binary exits 2 with one line naming the file and position.

use std::path::Path;
use std::process::{Command, Output};

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

fn check(path: &Path) -> Output {
    analyzer(&["check", path.to_str().expect("utf-8 temp path")])
}

/// Exit 2, nothing on stdout, and exactly one `analyzer: error:` line naming `file`
/// (and a line or byte position when `positioned`).
fn assert_one_line_error(out: &Output, file: &str, positioned: bool) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(stderr.lines().count(), 1, "one line expected: {stderr}");
    assert!(stderr.starts_with("analyzer: error: "), "{stderr}");
    assert!(stderr.contains(file), "error should name {file}: {stderr}");
    if positioned {
        assert!(
            stderr.contains("byte ") || stderr.contains("line "),
            "error should give a position: {stderr}"
        );
    }
}

/// A small valid native trace: one thread taking lock A at src/main.rs:5:9.
fn native_trace() -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut w = TraceWriter::new(&mut bytes).unwrap();
    let records = [
        Record::Process(ProcessInfo {
            pid: 7,
            program: "fixture".into(),
        }),
        Record::Site(Site {
            id: SiteId(1),
            file: "src/main.rs".into(),
            line: 3,
            column: 13,
        }),
        Record::Site(Site {
            id: SiteId(2),
            file: "src/main.rs".into(),
            line: 5,
            column: 9,
        }),
        Record::Thread(ThreadInfo {
            id: ThreadId(0),
            name: Some("main".into()),
        }),
        Record::Object(ObjectInfo {
            id: ObjectId(1),
            kind: ObjectKind::Mutex,
            class: SiteId(1),
            name: Some("A".into()),
        }),
        Record::Events {
            thread: ThreadId(0),
            events: vec![
                Event {
                    op: Op::Begin,
                    site: SiteId::UNKNOWN,
                },
                Event {
                    op: Op::Request {
                        lock: ObjectId(1),
                        mode: Mode::Write,
                    },
                    site: SiteId(2),
                },
                Event {
                    op: Op::Acquire {
                        lock: ObjectId(1),
                        mode: Mode::Write,
                        attempt: Attempt::Blocking,
                        seq: 1,
                    },
                    site: SiteId(2),
                },
                Event {
                    op: Op::Release {
                        lock: ObjectId(1),
                        mode: Mode::Write,
                        seq: 2,
                    },
                    site: SiteId(2),
                },
                Event {
                    op: Op::End,
                    site: SiteId::UNKNOWN,
                },
            ],
        },
        Record::End,
    ];
    for record in &records {
        w.write(record).unwrap();
    }
    drop(w);
    bytes
}

#[test]
fn missing_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-trace.std");
    assert_one_line_error(&check(&path), "no-such-trace.std", false);
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.istrace");
    std::fs::write(&path, b"").unwrap();
    assert_one_line_error(&check(&path), "empty.istrace", true);
}

#[test]
fn truncated_native_trace() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("torn.istrace");
    let bytes = native_trace();
    // Cut inside the last frames, as a killed recorder leaves it.
    std::fs::write(&path, &bytes[..bytes.len() - 7]).unwrap();
    assert_one_line_error(&check(&path), "torn.istrace", true);
}

#[test]
fn truncated_native_trace_is_analyzed_with_allow_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("torn.istrace");
    let bytes = native_trace();
    std::fs::write(&path, &bytes[..bytes.len() - 7]).unwrap();
    let out = analyzer(&["check", "--allow-truncated", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("truncated"),
        "the report should mention the torn record: {stdout}"
    );
}

#[test]
fn random_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("noise.bin");
    // A fixed xorshift stream: arbitrary but reproducible bytes.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    std::fs::write(&path, &bytes).unwrap();
    assert_one_line_error(&check(&path), "noise.bin", true);
}

#[test]
fn future_format_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.istrace");
    let mut bytes = native_trace();
    bytes[8..10].copy_from_slice(&99u16.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let out = check(&path);
    assert_one_line_error(&out, "future.istrace", true);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("99"),
        "the error should name the version"
    );
}

#[test]
fn garbage_std_line() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/garbage.std");
    let out = check(&path);
    assert_one_line_error(&out, "garbage.std", true);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 3"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn valid_native_trace_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.istrace");
    std::fs::write(&path, native_trace()).unwrap();
    let out = check(&path);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("0 failing, in 1 trace\n"));
}

#[test]
fn usage_errors_exit_2_on_one_line() {
    for args in [
        &["check"][..],
        &["check", "--format", "svg", "x.std"],
        &["check", "--fail-on", "everything", "x.std"],
        &["check", "--max-cycle-len", "1", "x.std"],
        &["frobnicate"],
        &["convert", "x.std"],
    ] {
        let out = analyzer(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("analyzer: error: "),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"));
    }
}

#[test]
fn usage_errors_name_what_is_wrong_and_the_subcommand_help() {
    for (args, expected) in [
        (
            &["report", "x.std"][..],
            "analyzer: error: the following required arguments were not provided: --out <DIR> \
             (see 'analyzer report --help')",
        ),
        (
            &["check", "--format", "xml", "x.std"],
            "analyzer: error: invalid value 'xml' for '--format <FORMAT>' \
             [possible values: text, json, dot] (see 'analyzer check --help')",
        ),
        (
            &["convert", "x.std"],
            "analyzer: error: the following required arguments were not provided: --to <TO> \
             --output <OUT> (see 'analyzer convert --help')",
        ),
        (
            &["chek", "x.std"],
            "analyzer: error: unrecognized subcommand 'chek'; tip: a similar subcommand exists: \
             'check' (see 'analyzer --help')",
        ),
    ] {
        let out = analyzer(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end(), expected, "{args:?}");
    }
}

#[test]
fn help_and_version_exit_0() {
    for args in [&["--help"][..], &["check", "--help"], &["--version"]] {
        let out = analyzer(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(!out.stdout.is_empty());
    }
}

#[test]
fn finding_selection_needs_dot() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/abba.std");
    let out = analyzer(&["check", "--finding", "0123", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--format dot"), "{stderr}");
}

#[test]
fn strict_rejects_what_tolerant_mode_warns_about() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/unheld.std");
    let tolerant = check(&path);
    let stdout = String::from_utf8_lossy(&tolerant.stdout);
    assert_eq!(
        tolerant.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&tolerant.stderr)
    );
    assert!(
        stdout.contains("warning: ") && stdout.contains("unheld.std: line 3"),
        "{stdout}"
    );
    assert!(stdout.ends_with(", 1 warning\n"), "{stdout}");

    let strict = analyzer(&["check", "--strict", path.to_str().unwrap()]);
    assert_one_line_error(&strict, "unheld.std", true);
    assert!(String::from_utf8_lossy(&strict.stderr).contains("line 3"));
}

#[test]
fn input_format_overrides_detection() {
    // A valid STD trace read as RapidBin is rejected with a position, not misread or panicked on.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ordered.std");
    let out = analyzer(&[
        "check",
        "--input-format",
        "rapidbin",
        path.to_str().unwrap(),
    ]);
    assert_one_line_error(&out, "ordered.std", true);
    let out = analyzer(&["check", "--input-format", "std", path.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

//! Bad input: every case is an error naming the file and a position, never a panic.

use std::path::{Path, PathBuf};

use analyzer::model::{Op, Position};
use analyzer::trace::{Format, LoadOptions, collect_inputs, load_bytes, load_path};
use sync_trace::codec::TraceWriter;
use sync_trace::{
    Attempt, Event, Mode, ObjectId, ObjectInfo, ObjectKind, Record, SiteId, ThreadId,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")).join(name)
}

fn write_temp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn native_sample() -> Vec<u8> {
    let lock = ObjectId(7);
    let mut w = TraceWriter::new(Vec::new()).unwrap();
    w.write(&Record::Object(ObjectInfo {
        id: lock,
        kind: ObjectKind::Mutex,
        class: SiteId(0),
        name: None,
    }))
    .unwrap();
    for seq in [1u64, 3] {
        let events = vec![
            Event {
                op: Op2::acq(lock, seq),
                site: SiteId(0),
            },
            Event {
                op: sync_trace::Op::Release {
                    lock,
                    mode: Mode::Write,
                    seq: seq + 1,
                },
                site: SiteId(0),
            },
        ];
        w.write(&Record::Events {
            thread: ThreadId(seq as u32 / 2),
            events,
        })
        .unwrap();
    }
    w.write(&Record::End).unwrap();
    w.into_inner()
}

struct Op2;
impl Op2 {
    fn acq(lock: ObjectId, seq: u64) -> sync_trace::Op {
        sync_trace::Op::Acquire {
            lock,
            mode: Mode::Write,
            attempt: Attempt::Blocking,
            seq,
        }
    }
}

#[test]
fn native_sample_loads() {
    let trace = load_bytes("s.istrace", &native_sample(), &LoadOptions::default()).unwrap();
    assert_eq!(trace.events.len(), 4);
    assert!(trace.warnings.is_empty(), "{:?}", trace.warnings);
    assert_eq!(trace.objects[0].name, "Mutex@<unknown>");
    assert!(matches!(trace.events[0].op, Op::Acquire { .. }));
}

#[test]
fn missing_path() {
    let path = Path::new("/nonexistent/trace.std");
    let err = load_path(path, &LoadOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/nonexistent/trace.std: no such file or directory"
    );
    let err = collect_inputs(&[path.to_owned()]).unwrap_err();
    assert!(
        err.to_string().contains("no such file or directory"),
        "{err}"
    );
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(&dir, "empty.std", b"");
    let err = load_path(&path, &LoadOptions::default()).unwrap_err();
    assert_eq!(err.position, Some(Position::Byte(0)));
    assert!(err.to_string().ends_with("empty.std: byte 0: empty file, expected a native trace, JSON Lines, RAPID STD text or RapidBin"), "{err}");
}

#[test]
fn truncated_native_trace() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = native_sample();
    let path = write_temp(&dir, "cut.istrace", &bytes[..bytes.len() - 3]);
    let err = load_path(&path, &LoadOptions::default()).unwrap_err();
    let Some(Position::Byte(at)) = err.position else {
        panic!("{err}")
    };
    assert!(at > 12 && at < bytes.len() as u64, "{err}");
    assert!(
        err.to_string().contains("cut.istrace: byte") && err.message.contains("truncated frame"),
        "{err}"
    );
    // The torn frame is the End record: an 8-byte frame header and a 1-byte payload, 3 bytes cut.
    let trace = load_path(
        &path,
        &LoadOptions {
            allow_truncated: true,
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(trace.events.len(), 4);
    let w = &trace.warnings[0];
    assert_eq!(w.position, Some(Position::Byte(at)));
    assert_eq!(
        w.message,
        format!("truncated at byte {at}: 6 bytes of an incomplete record ignored")
    );
}

#[test]
fn random_bytes() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let err = load_bytes("noise.bin", &bytes, &LoadOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "noise.bin: byte 0: expected a native trace, JSON Lines, RAPID STD text or RapidBin"
    );
}

#[test]
fn future_format_version() {
    let mut bytes = native_sample();
    bytes[8] = 9;
    let err = load_bytes("future.istrace", &bytes, &LoadOptions::default()).unwrap_err();
    assert_eq!(err.position, Some(Position::Byte(8)));
    assert!(err.message.contains("version 9 is newer"), "{err}");
}

#[test]
fn corrupt_native_frame() {
    let mut bytes = native_sample();
    let last = bytes.len() - 1;
    bytes[last - 20] ^= 0xff;
    let err = load_bytes("flip.istrace", &bytes, &LoadOptions::default()).unwrap_err();
    assert!(matches!(err.position, Some(Position::Byte(_))), "{err}");
}

#[test]
fn garbage_std_line() {
    let text = "T0|begin|0\nT0|acq(L1)|3\nT0|this is not an event at all, and it goes on and on and on and on and on\n";
    let err = load_bytes("bad.std", text.as_bytes(), &LoadOptions::default()).unwrap_err();
    assert_eq!(err.position, Some(Position::Line(3)));
    assert_eq!(
        err.to_string(),
        "bad.std: line 3: expected THREAD|OP(OPERAND)|LOCATION, found \"T0|this is not an event at all, and it goes on and on and on…\""
    );
    let err = load_bytes(
        "bad.std",
        b"T0|begin|0\nT0|acq(L1)|-3\n",
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.position, Some(Position::Line(2)));
}

#[test]
fn overlong_std_line_is_refused_without_reading_it_whole() {
    let mut text = b"T0|begin|0\nT0|w(".to_vec();
    text.extend(std::iter::repeat_n(b'x', 1 << 20));
    text.extend_from_slice(b")|1\n");
    let err = load_bytes("long.std", &text, &LoadOptions::default()).unwrap_err();
    assert_eq!(err.position, Some(Position::Line(2)));
    assert!(err.message.contains("longer than 65536 bytes"), "{err}");
}

fn rapidbin(threads: i16, events: i64, body: &[u64]) -> Vec<u8> {
    let mut b = threads.to_be_bytes().to_vec();
    b.extend_from_slice(&1i32.to_be_bytes());
    b.extend_from_slice(&1i32.to_be_bytes());
    b.extend_from_slice(&events.to_be_bytes());
    for e in body {
        b.extend_from_slice(&e.to_be_bytes());
    }
    b
}

#[test]
fn truncated_rapidbin() {
    // T0 begin, T0 acq(L5) at loc 3, T0 rel(L5).
    let events = [6 << 10, (5 << 14) | (3 << 48), (1 << 10) | (5 << 14)];
    let whole = rapidbin(1, 3, &events);
    let trace = load_bytes("ok.data", &whole, &LoadOptions::default()).unwrap();
    assert_eq!(trace.events.len(), 3);
    assert_eq!(trace.object(analyzer::model::ObjIdx(0)).name, "L5");
    assert_eq!(trace.sites[trace.events[1].site.0 as usize].line, 3);
    let cut = &whole[..whole.len() - 5];
    let err = load_bytes("cut.data", cut, &LoadOptions::default()).unwrap_err();
    assert_eq!(err.position, Some(Position::Byte(18 + 16 + 3)), "{err}");
    assert!(
        err.message.contains("truncated RapidBin event 3 of 3"),
        "{err}"
    );
    let err = load_bytes(
        "hdr.data",
        &whole[..10],
        &LoadOptions {
            format: Some(Format::RapidBin),
            ..LoadOptions::default()
        },
    )
    .unwrap_err();
    assert_eq!(err.position, Some(Position::Byte(10)));
}

#[test]
fn rapidbin_header_claiming_huge_counts_does_not_allocate() {
    let bytes = rapidbin(1, 1 << 60, &[6 << 10]);
    let err = load_bytes("huge.data", &bytes, &LoadOptions::default()).unwrap_err();
    assert!(
        err.message
            .contains("truncated RapidBin event 2 of 1152921504606846976"),
        "{err}"
    );
}

#[test]
fn bad_jsonl_line() {
    let err = load_bytes(
        "bad.jsonl",
        b"{\"End\":null}\n{oops\n",
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.position, Some(Position::Line(2)));
}

#[test]
fn nested_wait_releases_and_restores_every_level() {
    let trace = load_path(
        &fixture("wait_nested.std"),
        &LoadOptions {
            strict: true,
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert!(trace.warnings.is_empty(), "{:?}", trace.warnings);
    let t0: Vec<Op> = trace
        .events
        .iter()
        .filter(|e| e.thread.0 == 0)
        .map(|e| e.op)
        .collect();
    let kinds: Vec<&str> = t0
        .iter()
        .map(|op| match op {
            Op::Acquire { .. } => "acq",
            Op::Release { .. } => "rel",
            Op::Request { .. } => "req",
            Op::Wait { .. } => "wait",
            Op::Wake {
                notified_seen: 1, ..
            } => "wake1",
            Op::Begin => "begin",
            Op::End => "end",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "begin", "acq", "acq", "rel", "wait", "rel", "wake1", "req", "acq", "acq", "rel",
            "rel", "end"
        ]
    );
}

#[test]
fn unmatched_forks_and_joins_are_warnings() {
    let trace = load_path(
        &fixture("fork_unmatched.std"),
        &LoadOptions {
            strict: true,
            ..LoadOptions::default()
        },
    )
    .unwrap();
    let messages: Vec<String> = trace.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[0].ends_with(
        "line 7: T9 joins T13, which has no events before the join; the join's ordering is unknown"
    ));
    assert!(messages[1].ends_with(
        "line 3: T9 forks T12, which never runs in this trace; the fork's ordering is unknown"
    ));
}

#[test]
fn collect_inputs_walks_directories_sorted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    for name in [
        "b.std",
        "a.jsonl",
        "sub/c.data",
        "notes.txt",
        "sub/d.istrace",
    ] {
        write_temp(&dir, name, b"");
    }
    let files = collect_inputs(&[dir.path().to_owned()]).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["a.jsonl", "b.std", "sub/c.data", "sub/d.istrace"]);
}

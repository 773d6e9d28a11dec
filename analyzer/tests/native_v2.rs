//! Native format version 2 against version 1: the same records written in
//! either version load into the same model (the version-1 loader, which goes
//! through `RecordLoader` and `linearize`, is the oracle for the version-2
//! decoder with its incremental order check and dense-id tables). Also:
//! errors and truncation of version-2 files.

use std::path::Path;

use analyzer::generate::{GenerateFormat, GenerateOptions, write_generated};
use analyzer::model::{Position, Trace};
use analyzer::trace::{Format, LoadOptions, load_bytes};
use proptest::prelude::*;
use sync_trace::codec::{TraceReader, TraceWriter, TraceWriterV1};
use sync_trace::{
    Attempt, Event, MemoryOrder, Mode, ObjectId, ObjectInfo, ObjectKind, Op, Record, Site, SiteId,
    ThreadId, ThreadInfo,
};

fn v2(records: &[Record]) -> Vec<u8> {
    let mut w = TraceWriter::new(Vec::new()).unwrap();
    for r in records {
        w.write(r).unwrap();
    }
    w.into_inner()
}

fn v1(records: &[Record]) -> Vec<u8> {
    let mut w = TraceWriterV1::new(Vec::new()).unwrap();
    for r in records {
        w.write(r).unwrap();
    }
    w.into_inner()
}

fn records_of(bytes: &[u8]) -> Vec<Record> {
    TraceReader::new(bytes)
        .unwrap()
        .map(|r| r.unwrap().1)
        .collect()
}

fn load(bytes: &[u8], options: &LoadOptions) -> Result<Trace, String> {
    load_bytes("t.istrace", bytes, options).map_err(|e| e.to_string())
}

/// Loads `records` written as version 1 and as version 2, and checks both agree.
fn same_model(records: &[Record], options: &LoadOptions) -> Result<(), TestCaseError> {
    let old = load(&v1(records), options);
    let new = load(&v2(records), options);
    prop_assert_eq!(old, new);
    Ok(())
}

#[test]
fn every_gallery_trace_loads_the_same_as_version_2() {
    let reports = Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports");
    let mut checked = 0;
    let mut dirs: Vec<_> = std::fs::read_dir(&reports)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let path = dir.join("trace.istrace");
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let records = records_of(&bytes);
        let options = LoadOptions::default();
        let old = load(&bytes, &options).unwrap();
        let rewritten = v2(&records);
        assert_eq!(u16::from_le_bytes([rewritten[8], rewritten[9]]), 2);
        let new = load(&rewritten, &options).unwrap();
        assert_eq!(old, new, "{}", path.display());
        assert_eq!(records_of(&rewritten), records, "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} gallery traces found");
}

#[test]
fn generated_traces_are_version_2_and_load_as_their_version_1_copy() {
    let options = GenerateOptions {
        events: 20_000,
        plant_cycle: true,
        plant_race: true,
        ..GenerateOptions::default()
    };
    let mut bytes = Vec::new();
    write_generated(&options, GenerateFormat::Native, &mut bytes).unwrap();
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 2);
    let records = records_of(&bytes);
    let new = load(&bytes, &LoadOptions::default()).unwrap();
    let old = load(&v1(&records), &LoadOptions::default()).unwrap();
    assert_eq!(new.events.len(), 20_000);
    assert_eq!(old, new);
}

fn thread_started(t: u32) -> Vec<Event> {
    vec![ev(Op::Begin, 0), ev(Op::Fork { child: ThreadId(t) }, 0)]
}

fn ev(op: Op, site: u32) -> Event {
    Event {
        op,
        site: SiteId(site),
    }
}

#[test]
fn an_out_of_order_file_is_merged_as_version_1_merges_it() {
    // Thread 1's batch with lock seq 3-4 comes before thread 0's seq 1-2.
    let lock = ObjectId(7);
    let acq = |seq| Op::Acquire {
        lock,
        mode: Mode::Write,
        attempt: Attempt::Blocking,
        seq,
    };
    let rel = |seq| Op::Release {
        lock,
        mode: Mode::Write,
        seq,
    };
    let records = vec![
        Record::Object(ObjectInfo {
            id: lock,
            kind: ObjectKind::Mutex,
            class: SiteId(0),
            name: None,
        }),
        Record::Events {
            thread: ThreadId(0),
            events: thread_started(1),
        },
        Record::Events {
            thread: ThreadId(1),
            events: vec![ev(acq(3), 0), ev(rel(4), 0)],
        },
        Record::Events {
            thread: ThreadId(0),
            events: vec![ev(acq(1), 0), ev(rel(2), 0)],
        },
        Record::End,
    ];
    same_model(&records, &LoadOptions::default()).unwrap();
    let trace = load(&v2(&records), &LoadOptions::default()).unwrap();
    let threads: Vec<u32> = trace.events.iter().map(|e| e.thread.0).collect();
    assert_eq!(threads, [0, 0, 0, 0, 1, 1]);
}

#[test]
fn errors_name_the_file_and_byte() {
    let records = vec![
        Record::Events {
            thread: ThreadId(0),
            events: vec![ev(Op::Begin, 0), ev(Op::End, 0)],
        },
        Record::End,
    ];
    let bytes = v2(&records);
    // A corrupt event tag, with the frame's checksum fixed so the record parser sees it.
    let mut bad = bytes.clone();
    let frame = 12 + 18; // header, then the thread's declaration
    let slot = frame + 8 + 9;
    bad[slot] = 99;
    let crc = crc32(&bad[frame + 8..frame + 8 + 9 + 2 * sync_trace::wire::EVENT_LEN]);
    bad[frame + 4..frame + 8].copy_from_slice(&crc.to_le_bytes());
    let e = load_bytes("bad.istrace", &bad, &LoadOptions::default()).unwrap_err();
    assert_eq!(e.position, Some(Position::Byte(slot as u64)), "{e}");
    assert!(e.to_string().starts_with("bad.istrace: byte "), "{e}");
    assert!(e.to_string().contains("unknown event tag 99"), "{e}");

    // A torn last frame: an error, or with --allow-truncated a warning.
    let cut = &bytes[..bytes.len() - 1];
    let e = load_bytes("cut.istrace", cut, &LoadOptions::default()).unwrap_err();
    assert!(e.to_string().contains("--allow-truncated"), "{e}");
    let tolerant = LoadOptions {
        allow_truncated: true,
        ..LoadOptions::default()
    };
    let trace = load_bytes("cut.istrace", cut, &tolerant).unwrap();
    assert_eq!(trace.events.len(), 2);
    assert!(
        trace
            .warnings
            .iter()
            .any(|w| w.message.contains("truncated at byte")),
        "{:?}",
        trace.warnings
    );
}

#[test]
fn ids_that_are_not_dense_are_refused() {
    // A batch for dense thread 4 000 000 right after the header.
    let mut bytes = sync_trace::codec::header(2).to_vec();
    let mut payload = Vec::new();
    sync_trace::wire::write_events_header(4_000_000, 0, &mut payload);
    let mut frame = vec![0u8; 8];
    frame.extend_from_slice(&payload);
    sync_trace::codec::seal_frame(&mut frame).unwrap();
    bytes.extend_from_slice(&frame);
    let e = load_bytes("sparse.istrace", &bytes, &LoadOptions::default()).unwrap_err();
    assert_eq!(e.position, Some(Position::Byte(12)));
    assert!(e.to_string().contains("not dense"), "{e}");
    let e = TraceReader::new(&bytes[..])
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert!(e.to_string().contains("not dense"), "{e}");
}

fn crc32(bytes: &[u8]) -> u32 {
    // CRC-32/ISO-HDLC, bit by bit (the test's own oracle, independent of crc32fast).
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

// Random traces: few ids so that events collide on locks, condvars and
// channels, sequence numbers from small ranges so that batches come in and out
// of order, some objects and sites undescribed.

fn small_op() -> impl Strategy<Value = Op> {
    // Each kind of use has its own ids, so an undescribed object's guessed kind is unambiguous.
    let id = |lo: u64, hi: u64| (lo..hi).prop_map(|i| ObjectId(i * 1000 + 3));
    let (lock, condvar, barrier, channel, var) = (id(0, 2), id(2, 4), id(4, 5), id(5, 6), id(6, 8));
    let thread = (0u32..4).prop_map(|t| ThreadId(t * 10));
    let mode = prop_oneof![Just(Mode::Write), Just(Mode::Read)];
    let n = 0u64..6;
    prop_oneof![
        (lock.clone(), mode.clone()).prop_map(|(lock, mode)| Op::Request { lock, mode }),
        (lock.clone(), mode.clone(), n.clone()).prop_map(|(lock, mode, seq)| Op::Acquire {
            lock,
            mode,
            attempt: Attempt::Blocking,
            seq
        }),
        (lock.clone(), mode.clone(), n.clone()).prop_map(|(lock, mode, seq)| Op::Release {
            lock,
            mode,
            seq
        }),
        (lock.clone(), mode).prop_map(|(lock, mode)| Op::TryFailed { lock, mode }),
        (condvar.clone(), lock.clone(), any::<bool>()).prop_map(|(condvar, lock, timed)| {
            Op::CondWait {
                condvar,
                lock,
                timed,
            }
        }),
        (condvar.clone(), n.clone(), any::<bool>()).prop_map(
            |(condvar, notified_seen, timed_out)| {
                Op::CondWake {
                    condvar,
                    notified_seen,
                    timed_out,
                }
            }
        ),
        (condvar.clone(), any::<bool>(), n.clone()).prop_map(|(condvar, all, seq)| Op::Notify {
            condvar,
            all,
            seq
        }),
        (barrier.clone(), n.clone()).prop_map(|(barrier, generation)| Op::BarrierArrive {
            barrier,
            generation
        }),
        (barrier, n.clone()).prop_map(|(barrier, generation)| Op::BarrierDepart {
            barrier,
            generation
        }),
        (channel.clone(), n.clone()).prop_map(|(channel, seq)| Op::Send { channel, seq }),
        (channel, n.clone()).prop_map(|(channel, seq)| Op::Recv { channel, seq }),
        thread.clone().prop_map(|child| Op::Fork { child }),
        thread.prop_map(|child| Op::Join { child }),
        Just(Op::Begin),
        Just(Op::End),
        (
            var,
            any::<bool>(),
            prop::option::of(Just(MemoryOrder::SeqCst)),
            n
        )
            .prop_map(|(var, write, order, version)| Op::Access {
                var,
                write,
                order,
                version
            }),
    ]
}

fn small_record() -> impl Strategy<Value = Record> {
    let kind = prop_oneof![
        Just(ObjectKind::Mutex),
        Just(ObjectKind::Condvar),
        Just(ObjectKind::Variable),
        Just(ObjectKind::Channel),
    ];
    prop_oneof![
        4 => ((0u32..4).prop_map(|t| ThreadId(t * 10)),
              prop::collection::vec((small_op(), 0u32..4).prop_map(|(op, s)| ev(op, s * 5)), 0..8))
            .prop_map(|(thread, events)| Record::Events { thread, events }),
        1 => ((0u64..8), kind, 0u32..4, prop::option::of("[ab]"))
            .prop_map(|(i, kind, class, name)| Record::Object(ObjectInfo {
                id: ObjectId(i * 1000 + 3),
                kind,
                class: SiteId(class * 5),
                name,
            })),
        1 => (0u32..4, prop::option::of("[ab]"))
            .prop_map(|(t, name)| Record::Thread(ThreadInfo { id: ThreadId(t * 10), name })),
        1 => (0u32..4, 1u32..3).prop_map(|(s, line)| Record::Site(Site {
                id: SiteId(s * 5),
                file: "f.rs".to_owned(),
                line,
                column: 1,
            })),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_records_load_the_same_in_both_versions(
        mut records in prop::collection::vec(small_record(), 0..20),
        end in any::<bool>(),
        strict in any::<bool>(),
    ) {
        if end {
            records.push(Record::End);
        }
        let options = LoadOptions { strict, ..LoadOptions::default() };
        same_model(&records, &options)?;
        prop_assert_eq!(records_of(&v2(&records)), records);
    }
}

#[test]
fn format_is_forced_or_detected_alike() {
    let records = vec![
        Record::Events {
            thread: ThreadId(3),
            events: vec![ev(Op::Begin, 0), ev(Op::End, 0)],
        },
        Record::End,
    ];
    let bytes = v2(&records);
    let forced = LoadOptions {
        format: Some(Format::Native),
        ..LoadOptions::default()
    };
    assert_eq!(
        load(&bytes, &forced).unwrap(),
        load(&bytes, &LoadOptions::default()).unwrap()
    );
    assert_eq!(load(&bytes, &forced).unwrap().threads[0].name, "T3");
}

fn corpus() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/native")
}

/// Writes version-2 copies of the version-1 fuzz seeds: `v2-<name>` through
/// `TraceWriter` (renumbered, with declarations) and `v2dense-<name>` frame by
/// frame with `encode_frame`, as the recorder writes. Run once by hand:
/// `cargo test -p analyzer --test native_v2 -- --ignored write_v2_fuzz_seeds`.
#[test]
#[ignore = "regenerates fuzz/corpus/native; run by hand"]
fn write_v2_fuzz_seeds() {
    let mut paths: Vec<_> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for path in paths {
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.starts_with("v2") || bytes.get(8) != Some(&1) {
            continue;
        }
        let records = records_of(&bytes);
        std::fs::write(corpus().join(format!("v2-{name}")), v2(&records)).unwrap();
        let mut dense = sync_trace::codec::header(2).to_vec();
        let mut frame = Vec::new();
        for r in &records {
            sync_trace::codec::encode_frame(r, &mut frame).unwrap();
            dense.extend_from_slice(&frame);
        }
        std::fs::write(corpus().join(format!("v2dense-{name}")), dense).unwrap();
    }
}

/// The byte-mutation pass (`fuzz_mutations.rs`) and the fuzzer start from this
/// corpus: it must hold small seeds of both versions, and they must load.
#[test]
fn the_fuzz_corpus_covers_both_versions() {
    let mut versions = std::collections::BTreeMap::<u8, usize>::new();
    for entry in std::fs::read_dir(corpus()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if bytes.len() <= 12 * 1024 {
            *versions.entry(bytes[8]).or_default() += 1;
            load_bytes("seed.istrace", &bytes, &LoadOptions::default())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
    assert!(versions.get(&1).copied().unwrap_or(0) >= 3, "{versions:?}");
    assert!(versions.get(&2).copied().unwrap_or(0) >= 3, "{versions:?}");
}

//! Atomic versions order the merge of per-thread batches: a load of version v
//! comes after the store of v even when the loading thread's batch was
//! flushed first, so a correct release/acquire publication is not a race.

use analyzer::analysis::{AnalysisOptions, analyze};
use analyzer::finding::FindingKind;
use analyzer::model::Op as ModelOp;
use analyzer::trace::{LoadOptions, from_records};
use sync_trace::{
    Event, MemoryOrder, ObjectId, ObjectInfo, ObjectKind, Op, Record, SiteId, ThreadId, ThreadInfo,
};

fn access(var: u64, write: bool, order: Option<MemoryOrder>, version: u64) -> Event {
    Event {
        op: Op::Access {
            var: ObjectId(var),
            write,
            order,
            version,
        },
        site: SiteId::UNKNOWN,
    }
}

fn variable(id: u64, name: &str) -> Record {
    Record::Object(ObjectInfo {
        id: ObjectId(id),
        kind: ObjectKind::Variable,
        class: SiteId::UNKNOWN,
        name: Some(name.into()),
    })
}

/// Producer writes `data`, then stores `flag` (Release); consumer loads `flag`
/// (Acquire, version 1), then reads `data`. The consumer's batch comes first.
fn publication(store: MemoryOrder, load: MemoryOrder) -> Vec<Record> {
    let (data, flag) = (1, 2);
    vec![
        Record::Thread(ThreadInfo {
            id: ThreadId(0),
            name: Some("producer".into()),
        }),
        Record::Thread(ThreadInfo {
            id: ThreadId(1),
            name: Some("consumer".into()),
        }),
        variable(data, "data"),
        variable(flag, "flag"),
        Record::Events {
            thread: ThreadId(1),
            events: vec![
                access(flag, false, Some(load), 1),
                access(data, false, None, 0),
            ],
        },
        Record::Events {
            thread: ThreadId(0),
            events: vec![
                access(data, true, None, 0),
                access(flag, true, Some(store), 1),
            ],
        },
        Record::End,
    ]
}

#[test]
fn a_load_follows_the_store_it_read_from() {
    let trace = from_records(
        "t",
        publication(MemoryOrder::Release, MemoryOrder::Acquire),
        &LoadOptions::default(),
    )
    .unwrap();
    let ops: Vec<(u32, bool)> = trace
        .events
        .iter()
        .filter_map(|e| match e.op {
            ModelOp::Atomic { write, .. } => Some((e.thread.0, write)),
            _ => None,
        })
        .collect();
    assert_eq!(ops.len(), 2, "{:?}", trace.events);
    assert!(ops[0].1 && !ops[1].1, "store before load: {ops:?}");
    assert!(trace.warnings.is_empty(), "{:?}", trace.warnings);
    let analysis = analyze(&[trace], &AnalysisOptions::default());
    assert!(
        analysis
            .findings
            .iter()
            .all(|f| f.kind != FindingKind::DataRace),
        "{:#?}",
        analysis.findings
    );
}

#[test]
fn a_relaxed_publication_is_still_a_race() {
    let trace = from_records(
        "t",
        publication(MemoryOrder::Relaxed, MemoryOrder::Relaxed),
        &LoadOptions::default(),
    )
    .unwrap();
    let analysis = analyze(&[trace], &AnalysisOptions::default());
    assert!(
        analysis
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::DataRace)
    );
}

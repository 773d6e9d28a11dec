//! Linearisation of native per-thread batches, checked against a brute-force
//! validator of every ordering constraint, plus codec and conversion round trips.

use analyzer::model::Trace;
use analyzer::trace::{Format, LoadOptions, load_bytes, write_trace};
use proptest::prelude::*;
use sync_trace::codec::TraceWriter;
use sync_trace::{
    Attempt, Event, Mode, ObjectId, ObjectInfo, ObjectKind, Op, Record, SiteId, ThreadId,
    ThreadInfo,
};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const LOCKS: u64 = 3;
const CONDVARS: [u64; 2] = [10, 11];
const CHANNEL: u64 = 20;
const BARRIER: u64 = 30;
const VAR: u64 = 40;

fn ev(op: Op) -> Event {
    Event {
        op,
        site: SiteId(0),
    }
}

/// A random valid execution in global order: thread 0 forks the others,
/// everyone locks, notifies, wakes, sends, receives and meets at barriers.
fn execution(rng: &mut Rng, threads: usize, steps: usize) -> Vec<(usize, Event)> {
    let mut out = Vec::new();
    let mut started = vec![false; threads];
    let mut ended = vec![false; threads];
    started[0] = true;
    let mut held: Vec<Vec<u64>> = vec![Vec::new(); threads];
    let mut owner: Vec<Option<usize>> = vec![None; LOCKS as usize];
    let mut lock_seq = [0u64; LOCKS as usize];
    let mut notified = [0u64; 2];
    let (mut sent, mut received, mut generation) = (0u64, 0u64, 0u64);
    let release_all = |t: usize,
                       held: &mut Vec<Vec<u64>>,
                       owner: &mut Vec<Option<usize>>,
                       seqs: &mut [u64],
                       out: &mut Vec<(usize, Event)>| {
        while let Some(l) = held[t].pop() {
            owner[l as usize] = None;
            seqs[l as usize] += 1;
            out.push((
                t,
                ev(Op::Release {
                    lock: ObjectId(l),
                    mode: Mode::Write,
                    seq: seqs[l as usize],
                }),
            ));
        }
    };
    for _ in 0..steps {
        let running: Vec<usize> = (0..threads).filter(|&t| started[t] && !ended[t]).collect();
        let t = running[rng.below(running.len())];
        match rng.below(10) {
            0 => {
                if let Some(c) = (1..threads).find(|&c| !started[c]) {
                    out.push((
                        t,
                        ev(Op::Fork {
                            child: ThreadId(c as u32),
                        }),
                    ));
                    started[c] = true;
                }
            }
            1 => {
                let l = rng.below(LOCKS as usize);
                if owner[l].is_none() {
                    owner[l] = Some(t);
                    held[t].push(l as u64);
                    lock_seq[l] += 1;
                    let op = Op::Acquire {
                        lock: ObjectId(l as u64),
                        mode: Mode::Write,
                        attempt: Attempt::Blocking,
                        seq: lock_seq[l],
                    };
                    out.push((t, ev(op)));
                }
            }
            2 => {
                if let Some(l) = held[t].pop() {
                    owner[l as usize] = None;
                    lock_seq[l as usize] += 1;
                    out.push((
                        t,
                        ev(Op::Release {
                            lock: ObjectId(l),
                            mode: Mode::Write,
                            seq: lock_seq[l as usize],
                        }),
                    ));
                }
            }
            3 => {
                let c = rng.below(2);
                notified[c] += 1;
                out.push((
                    t,
                    ev(Op::Notify {
                        condvar: ObjectId(CONDVARS[c]),
                        all: rng.below(2) == 0,
                        seq: notified[c],
                    }),
                ));
            }
            4 => {
                let c = rng.below(2);
                let seen = notified[c].saturating_sub(rng.below(2) as u64);
                out.push((
                    t,
                    ev(Op::CondWake {
                        condvar: ObjectId(CONDVARS[c]),
                        notified_seen: seen,
                        timed_out: false,
                    }),
                ));
            }
            5 => {
                sent += 1;
                out.push((
                    t,
                    ev(Op::Send {
                        channel: ObjectId(CHANNEL),
                        seq: sent,
                    }),
                ));
            }
            6 if received < sent => {
                received += 1;
                out.push((
                    t,
                    ev(Op::Recv {
                        channel: ObjectId(CHANNEL),
                        seq: received,
                    }),
                ));
            }
            7 => {
                generation += 1;
                for &u in &running {
                    out.push((
                        u,
                        ev(Op::BarrierArrive {
                            barrier: ObjectId(BARRIER),
                            generation,
                        }),
                    ));
                }
                for &u in &running {
                    out.push((
                        u,
                        ev(Op::BarrierDepart {
                            barrier: ObjectId(BARRIER),
                            generation,
                        }),
                    ));
                }
            }
            8 => out.push((
                t,
                ev(Op::Access {
                    var: ObjectId(VAR),
                    write: rng.below(2) == 0,
                    order: None,
                    version: 0,
                }),
            )),
            _ if t != 0 => {
                release_all(t, &mut held, &mut owner, &mut lock_seq, &mut out);
                out.push((t, ev(Op::End)));
                ended[t] = true;
            }
            _ => {}
        }
    }
    for c in 1..threads {
        if started[c] && !ended[c] {
            release_all(c, &mut held, &mut owner, &mut lock_seq, &mut out);
            out.push((c, ev(Op::End)));
        }
    }
    for c in (1..threads).filter(|&c| started[c]) {
        {
            out.push((
                0,
                ev(Op::Join {
                    child: ThreadId(c as u32),
                }),
            ));
        }
    }
    release_all(0, &mut held, &mut owner, &mut lock_seq, &mut out);
    out.push((0, ev(Op::End)));
    out
}

/// Per-thread batches of 1–4 events, interleaved at random (each thread's in order).
/// The execution's events as records: per-thread batches of 1-4 events in a random
/// interleaving, or (`in_order`) runs of consecutive same-thread events in execution order,
/// a batch order that already meets every constraint (the loader replays it directly).
fn records(
    rng: &mut Rng,
    threads: usize,
    execution: &[(usize, Event)],
    in_order: bool,
) -> Vec<Record> {
    let mut out = Vec::new();
    for t in 0..threads {
        out.push(Record::Thread(ThreadInfo {
            id: ThreadId(t as u32),
            name: None,
        }));
    }
    let objects = (0..LOCKS)
        .map(|l| (l, ObjectKind::Mutex))
        .chain(CONDVARS.iter().map(|&c| (c, ObjectKind::Condvar)))
        .chain([
            (CHANNEL, ObjectKind::Channel),
            (BARRIER, ObjectKind::Barrier),
            (VAR, ObjectKind::Variable),
        ]);
    for (id, kind) in objects {
        out.push(Record::Object(ObjectInfo {
            id: ObjectId(id),
            kind,
            class: SiteId(0),
            name: None,
        }));
    }
    if in_order {
        let mut i = 0;
        while i < execution.len() {
            let t = execution[i].0;
            let n = execution[i..]
                .iter()
                .take(1 + rng.below(4))
                .take_while(|(u, _)| *u == t)
                .count();
            out.push(Record::Events {
                thread: ThreadId(t as u32),
                events: execution[i..i + n].iter().map(|(_, e)| *e).collect(),
            });
            i += n;
        }
        out.push(Record::End);
        return out;
    }
    let mut chunks: Vec<Vec<Vec<Event>>> = vec![Vec::new(); threads];
    for (t, slot) in chunks.iter_mut().enumerate() {
        let mine: Vec<Event> = execution
            .iter()
            .filter(|(u, _)| *u == t)
            .map(|(_, e)| *e)
            .collect();
        let mut rest = &mine[..];
        while !rest.is_empty() {
            let n = (1 + rng.below(4)).min(rest.len());
            slot.push(rest[..n].to_vec());
            rest = &rest[n..];
        }
        slot.reverse();
    }
    loop {
        let waiting: Vec<usize> = (0..threads).filter(|&t| !chunks[t].is_empty()).collect();
        if waiting.is_empty() {
            break;
        }
        let t = waiting[rng.below(waiting.len())];
        let events = chunks[t].pop().unwrap();
        out.push(Record::Events {
            thread: ThreadId(t as u32),
            events,
        });
    }
    out.push(Record::End);
    out
}

fn encode(records: &[Record]) -> Vec<u8> {
    let mut w = TraceWriter::new(Vec::new()).unwrap();
    for r in records {
        w.write(r).unwrap();
    }
    w.into_inner()
}

/// Whether `later` may not come after `earlier` (brute force, per pair).
fn violates(earlier: (usize, &Event), later: (usize, &Event)) -> Option<&'static str> {
    let ((t1, a), (t2, b)) = (earlier, later);
    match (a.op, b.op) {
        (
            Op::Acquire {
                lock: l1, seq: s1, ..
            }
            | Op::Release {
                lock: l1, seq: s1, ..
            },
            Op::Acquire {
                lock: l2, seq: s2, ..
            }
            | Op::Release {
                lock: l2, seq: s2, ..
            },
        ) if l1 == l2 && s1 > s2 => Some("lock sequence"),
        (
            Op::Notify {
                condvar: c1,
                seq: s1,
                ..
            },
            Op::Notify {
                condvar: c2,
                seq: s2,
                ..
            },
        ) if c1 == c2 && s1 > s2 => Some("notify order"),
        (
            Op::CondWake {
                condvar: c1,
                notified_seen,
                ..
            },
            Op::Notify {
                condvar: c2, seq, ..
            },
        ) if c1 == c2 && seq <= notified_seen => Some("wake before its notification"),
        (
            Op::BarrierDepart {
                barrier: b1,
                generation: g1,
            },
            Op::BarrierArrive {
                barrier: b2,
                generation: g2,
            },
        ) if b1 == b2 && g1 == g2 => Some("barrier departure before an arrival"),
        (
            Op::Recv {
                channel: c1,
                seq: s1,
            },
            Op::Send {
                channel: c2,
                seq: s2,
            },
        ) if c1 == c2 && s1 == s2 => Some("receive before send"),
        (_, Op::Fork { child }) if child.0 as usize == t1 => Some("child event before its fork"),
        (Op::Join { child }, _) if child.0 as usize == t2 => Some("child event after its join"),
        _ => None,
    }
}

fn same_model(a: &Trace, b: &Trace) -> bool {
    a.threads == b.threads
        && a.objects == b.objects
        && a.sites == b.sites
        && a.events == b.events
        && a.observed == b.observed
}

fn check(seed: u64, threads: usize, steps: usize, in_order: bool) -> Result<(), TestCaseError> {
    let mut rng = Rng(seed);
    let execution = execution(&mut rng, threads, steps);
    let records = records(&mut rng, threads, &execution, in_order);
    let bytes = encode(&records);
    let trace = load_bytes("gen.istrace", &bytes, &LoadOptions::default())
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(trace.warnings.is_empty(), "{:?}", trace.warnings);
    prop_assert_eq!(trace.events.len(), execution.len());

    // Map each output event back to the input event it came from (per-thread order is kept).
    let per_thread: Vec<Vec<Event>> = (0..threads)
        .map(|t| {
            execution
                .iter()
                .filter(|(u, _)| *u == t)
                .map(|(_, e)| *e)
                .collect()
        })
        .collect();
    let mut next = vec![0usize; threads];
    let mut order: Vec<(usize, Event)> = Vec::new();
    for e in &trace.events {
        let t = e.thread.0 as usize;
        prop_assert_eq!(&trace.threads[t].name, &format!("T{t}"));
        let original = per_thread[t][next[t]];
        next[t] += 1;
        prop_assert_eq!(
            std::mem::discriminant(&original.op) == std::mem::discriminant(&Op::End),
            matches!(e.op, analyzer::model::Op::End)
        );
        order.push((t, original));
    }
    if in_order {
        // A consistent batch order is reproduced exactly.
        prop_assert!(order == execution, "batch order not kept");
    }
    for i in 0..order.len() {
        for j in i + 1..order.len() {
            if let Some(why) = violates((order[i].0, &order[i].1), (order[j].0, &order[j].1)) {
                return Err(TestCaseError::fail(format!(
                    "{why}: event {i} {:?} before event {j} {:?}",
                    order[i], order[j]
                )));
            }
        }
    }

    for format in [Format::Jsonl, Format::Native] {
        let mut out = Vec::new();
        write_trace(&trace, format, &mut out).unwrap();
        let back = load_bytes("back", &out, &LoadOptions::default())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(same_model(&trace, &back), "{:?} round trip differs", format);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn linearisation_respects_every_constraint(seed in any::<u64>(), threads in 1usize..5, steps in 0usize..60) {
        check(seed, threads, steps, false)?;
    }

    #[test]
    fn batches_already_in_a_consistent_order_are_kept(seed in any::<u64>(), threads in 1usize..5, steps in 0usize..60) {
        check(seed, threads, steps, true)?;
    }
}

#[test]
fn the_validator_catches_a_wrong_order() {
    let acq = |seq| Event {
        op: Op::Acquire {
            lock: ObjectId(0),
            mode: Mode::Write,
            attempt: Attempt::Blocking,
            seq,
        },
        site: SiteId(0),
    };
    assert!(violates((0, &acq(2)), (1, &acq(1))).is_some());
    assert!(violates((0, &acq(1)), (1, &acq(2))).is_none());
    let fork = Event {
        op: Op::Fork { child: ThreadId(1) },
        site: SiteId(0),
    };
    assert!(violates((1, &acq(1)), (0, &fork)).is_some());
}

#[test]
fn inconsistent_input_is_emitted_with_a_warning() {
    // Each thread's first event needs a sequence number the other reaches only later: a cycle.
    let lock = |l, seq, acquire: bool| {
        let op = if acquire {
            Op::Acquire {
                lock: ObjectId(l),
                mode: Mode::Write,
                attempt: Attempt::Blocking,
                seq,
            }
        } else {
            Op::Release {
                lock: ObjectId(l),
                mode: Mode::Write,
                seq,
            }
        };
        Event {
            op,
            site: SiteId(0),
        }
    };
    let records = vec![
        Record::Events {
            thread: ThreadId(0),
            events: vec![
                lock(0, 3, true),
                lock(0, 4, false),
                lock(1, 1, true),
                lock(1, 2, false),
            ],
        },
        Record::Events {
            thread: ThreadId(1),
            events: vec![
                lock(1, 3, true),
                lock(1, 4, false),
                lock(0, 1, true),
                lock(0, 2, false),
            ],
        },
        Record::End,
    ];
    let trace = load_bytes("cycle.istrace", &encode(&records), &LoadOptions::default()).unwrap();
    assert_eq!(trace.events.len(), 8);
    let message = trace
        .warnings
        .iter()
        .find(|w| w.message.contains("cannot be ordered"))
        .unwrap()
        .message
        .clone();
    assert!(
        message.contains("cannot be ordered consistently"),
        "{message}"
    );
    assert!(
        message.contains("the remaining 8 events follow in thread order"),
        "{message}"
    );
}

//! Speed of the epoch engine on a synthetic 10M-event trace. Ignored by default;
//! run with `cargo test --release -p analyzer --test race_scale -- --ignored --nocapture`.

use std::time::Instant;

use analyzer::model::{Attempt, Event, Mode, ObjectKind, Op, Site, Trace, TraceBuilder};
use analyzer::race::{RaceOptions, detect};

/// `threads` workers forked by main; each event is (in rotation) a locked
/// read-modify-write of a shared variable, a plain access of a thread-local
/// variable, or an unprotected access of one of `hot` racy variables.
fn synthetic(events: usize, threads: u32, vars: u32, hot: u32) -> Trace {
    let mut b = TraceBuilder::new("synthetic-10m");
    let main = b.thread("main");
    let workers: Vec<_> = (0..threads).map(|i| b.thread(&format!("w{i}"))).collect();
    let var: Vec<_> = (0..vars)
        .map(|i| b.object(&format!("v{i}"), ObjectKind::Variable))
        .collect();
    let lock = b.object("m", ObjectKind::Mutex);
    let sites: Vec<_> = (1..=16)
        .map(|line| {
            b.site(Site {
                file: Some("src/bench.rs".to_owned()),
                line,
                column: 0,
            })
        })
        .collect();
    b.trace_mut().events.reserve(events);
    for &w in &workers {
        b.push(Event {
            thread: main,
            op: Op::Fork { child: w },
            site: sites[0],
        });
    }
    let mut i: u64 = 0;
    while b.trace_mut().events.len() + 4 <= events {
        i += 1;
        let t = workers[(i % threads as u64) as usize];
        let site = sites[(i % 16) as usize];
        let shared = var[(i.wrapping_mul(2_654_435_761) % vars as u64) as usize];
        match i % 4 {
            0 | 1 => {
                b.push(Event {
                    thread: t,
                    op: Op::Acquire {
                        lock,
                        mode: Mode::Write,
                        attempt: Attempt::Blocking,
                    },
                    site,
                });
                b.push(Event {
                    thread: t,
                    op: Op::Read { var: shared },
                    site,
                });
                b.push(Event {
                    thread: t,
                    op: Op::Write { var: shared },
                    site,
                });
                b.push(Event {
                    thread: t,
                    op: Op::Release {
                        lock,
                        mode: Mode::Write,
                    },
                    site,
                });
            }
            2 => {
                let own = var[(t.0 % vars) as usize];
                b.push(Event {
                    thread: t,
                    op: Op::Read { var: own },
                    site,
                });
                b.push(Event {
                    thread: t,
                    op: Op::Write { var: own },
                    site,
                });
            }
            _ => {
                let racy = var[(i % hot as u64) as usize];
                b.push(Event {
                    thread: t,
                    op: Op::Read { var: racy },
                    site,
                });
            }
        }
    }
    b.finish()
}

#[test]
#[ignore = "scale test: run in release"]
fn ten_million_events_in_seconds() {
    let trace = synthetic(10_000_000, 8, 100_000, 16);
    let start = Instant::now();
    let report = detect(&trace, &RaceOptions::default());
    let hb = start.elapsed();
    let start = Instant::now();
    let with_lockset = detect(
        &trace,
        &RaceOptions {
            lockset: true,
            ..RaceOptions::default()
        },
    );
    let lockset = start.elapsed();
    println!(
        "{} events, {} accesses: epochs {:.2?}, with lockset {:.2?}; {} racy variables, {} pairs, {} lost updates, {} potential",
        trace.events.len(),
        report.accesses,
        hb,
        lockset,
        report.racy_vars.len(),
        report.races.len(),
        report.lost_updates.len(),
        with_lockset.potential.len()
    );
    assert!(report.accesses > 5_000_000);
    assert!(!report.racy_vars.is_empty());
    assert!(hb.as_secs() < 10, "took {hb:?}");
}

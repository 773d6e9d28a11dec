//! The in-memory copy (what `findings()` reads) keeps ring batches in their
//! compact form and decodes them when read: checked in a child process (this
//! test binary re-invoked, so the cap is set before the recorder starts) whose
//! cap falls inside a ring batch, in the middle of an uncontended acquisition
//! (one ring slot standing for `Request` and `Acquire`), after a drain that
//! left the ring's tail mid-ring (so a later drain hands over two slices).
#![cfg(not(feature = "passthrough"))]

use std::process::Command;

use instrumented_sync::Mutex;
use sync_trace::{Op, Record};

const CHILD_VAR: &str = "RECORDER_MEMORY_CHILD";
const CAP: u64 = 5000;
const FIRST_ROUNDS: u64 = 100;
const SECOND_ROUNDS: u64 = 3000;

#[test]
fn the_memory_copy_keeps_an_exact_prefix_up_to_its_cap() {
    if std::env::var_os(CHILD_VAR).is_some() {
        return child();
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_memory_copy_keeps_an_exact_prefix_up_to_its_cap",
            "--nocapture",
        ])
        .env(CHILD_VAR, "1")
        .env("INSTRUMENTED_SYNC_MEMORY_CAP", CAP.to_string())
        .env_remove("INSTRUMENTED_SYNC_TRACE")
        .env_remove("INSTRUMENTED_SYNC")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("child checked"),
        "the child did not run its checks: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn child() {
    let m = Mutex::new(0u64);
    for _ in 0..FIRST_ROUNDS {
        *m.lock().unwrap() += 1;
    }
    // Drains 1 + 2 * FIRST_ROUNDS slots: the ring's tail is now mid-ring.
    instrumented_sync::flush();
    for _ in 0..SECOND_ROUNDS {
        *m.lock().unwrap() += 1;
    }
    let records = instrumented_sync::recorded();
    let events: Vec<Op> = records
        .iter()
        .filter_map(|r| match r {
            Record::Events { events, .. } => Some(events.iter().map(|e| e.op)),
            _ => None,
        })
        .flatten()
        .collect();
    // This thread's `Begin`, then three events per round; nothing else ran.
    let total = 1 + 3 * (FIRST_ROUNDS + SECOND_ROUNDS);
    assert_eq!(events.len() as u64, CAP, "the copy is full, not more");
    assert_eq!(instrumented_sync::dropped_events(), total - CAP);
    assert_eq!(events[0], Op::Begin);
    // The kept events are the exact prefix: rounds in order, their sequence
    // numbers consecutive, and the cap cuts the last round after its request.
    let mut seq = 0;
    for (k, round) in events[1..].chunks(3).enumerate() {
        assert!(
            matches!(round[0], Op::Request { .. }),
            "round {k}: {round:?}"
        );
        if round.len() == 3 {
            assert!(matches!(round[1], Op::Acquire { seq: s, .. } if s == seq + 1));
            assert!(matches!(round[2], Op::Release { seq: s, .. } if s == seq + 2));
            seq += 2;
        } else {
            assert_eq!(round.len(), 1, "cut inside one round's slot: {round:?}");
        }
    }
    assert_eq!(
        (CAP - 1) % 3,
        1,
        "the cap falls between Request and Acquire"
    );
    println!("child checked");
}

//! Live deadlock detection over channels (`instrumented_sync::mpsc`).
#![cfg(not(feature = "passthrough"))]

use std::time::Duration;

use instrumented_sync::{mpsc, thread};

mod scenario;

use scenario::{join_all, run};

fn rendezvous(fixed: bool) {
    let (tx_a, rx_a) = mpsc::sync_channel::<u32>(0);
    let (tx_b, rx_b) = mpsc::sync_channel::<u32>(0);
    let t1 = thread::Builder::new()
        .name("left".into())
        .spawn(move || {
            tx_a.send(1).unwrap();
            assert_eq!(rx_b.recv().unwrap(), 2);
        })
        .unwrap();
    let t2 = thread::Builder::new()
        .name("right".into())
        .spawn(move || {
            if fixed {
                assert_eq!(rx_a.recv().unwrap(), 1);
                tx_b.send(2).unwrap();
            } else {
                tx_b.send(2).unwrap();
                assert_eq!(rx_a.recv().unwrap(), 1);
            }
        })
        .unwrap();
    join_all(vec![t1, t2]);
}

#[test]
fn rendezvous_in_opposite_order_is_reported() {
    let msg = run(|| rendezvous(false)).expect("must panic");
    assert!(msg.contains("deadlock"), "{msg}");
    assert!(msg.contains("left") && msg.contains("right"), "{msg}");
}

#[test]
fn rendezvous_in_matching_order_is_silent() {
    assert_eq!(run(|| rendezvous(true)), None);
}

/// The seed's three-stage pipeline: produce -> square -> sum over bounded queues.
fn pipeline(fixed: bool) {
    let (to_square, squares_in) = mpsc::sync_channel::<u64>(2);
    let (to_sum, sums_in) = mpsc::sync_channel::<u64>(2);
    // A spare sender kept for retries; the bug is never dropping it before waiting.
    let mut keep = Some(to_square.clone());
    let producer = thread::Builder::new()
        .name("producer".into())
        .spawn(move || {
            for i in 1..=10 {
                to_square.send(i).unwrap();
            }
        })
        .unwrap();
    let squarer = thread::Builder::new()
        .name("squarer".into())
        .spawn(move || {
            for v in squares_in.iter() {
                to_sum.send(v * v).unwrap();
            }
        })
        .unwrap();
    let summer = thread::Builder::new()
        .name("summer".into())
        .spawn(move || assert_eq!(sums_in.iter().sum::<u64>(), 385))
        .unwrap();
    if fixed {
        keep = None;
    }
    join_all(vec![producer, squarer, summer]);
    drop(keep);
}

#[test]
fn pipeline_with_a_sender_left_open_is_reported() {
    let msg = run(|| pipeline(false)).expect("must panic");
    assert!(msg.contains("deadlock"), "{msg}");
    assert!(msg.contains("squarer") && msg.contains("summer"), "{msg}");
}

#[test]
fn pipeline_closed_is_silent() {
    assert_eq!(run(|| pipeline(true)), None);
}

#[test]
fn recv_timeout_and_try_recv_are_not_deadlocks() {
    assert_eq!(
        run(|| {
            let (tx, rx) = mpsc::channel::<u32>();
            let h = thread::spawn(move || {
                assert!(rx.try_recv().is_err());
                for _ in 0..3 {
                    assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
                }
                assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 7);
            });
            std::thread::sleep(Duration::from_millis(400));
            tx.send(7).unwrap();
            join_all(vec![h]);
        }),
        None
    );
}

#[test]
fn channels_behave_like_std() {
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    tx.send(1).unwrap();
    tx2.send(2).unwrap();
    drop((tx, tx2));
    assert_eq!(rx.iter().collect::<Vec<_>>(), [1, 2]);
    assert!(rx.recv().is_err());
    let (stx, srx) = mpsc::sync_channel(1);
    stx.try_send(1).unwrap();
    assert!(matches!(stx.try_send(2), Err(mpsc::TrySendError::Full(2))));
    assert_eq!(srx.try_iter().collect::<Vec<_>>(), [1]);
    drop(srx);
    assert!(stx.send(3).is_err());
}

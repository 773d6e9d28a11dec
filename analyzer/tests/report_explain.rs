//! Explanations through the CLI: a cycle inside one thread says one thread, and a cycle
//! whose every step is the same two lines (one `transfer(from, to)` called with swapped
//! arguments) advises one global order instead of "change this acquisition".

use std::fs;
use std::path::Path;
use std::process::Command;

fn check_text(dir: &Path, name: &str, trace: &str) -> String {
    let path = dir.join(name);
    fs::write(&path, trace).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .arg("check")
        .arg(&path)
        .output()
        .expect("the binary runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_cycle_inside_one_thread_is_not_called_three_threads() {
    let dir = tempfile::tempdir().unwrap();
    let report = check_text(
        dir.path(),
        "one.std",
        "T1|acq(A)|1\nT1|acq(B)|2\nT1|rel(B)|3\nT1|rel(A)|4\n\
         T1|acq(B)|5\nT1|acq(C)|6\nT1|rel(C)|7\nT1|rel(B)|8\n\
         T1|acq(C)|9\nT1|acq(A)|10\nT1|rel(A)|11\nT1|rel(C)|12\n",
    );
    assert!(!report.contains("3 threads"), "{report}");
    assert!(
        report.contains(
            "lock-order inversion: thread T1 alone takes A → B → C → A in a circular order"
        ),
        "{report}"
    );
    assert!(
        report.contains("another thread running the same code at the same time could"),
        "{report}"
    );
}

#[test]
fn one_transfer_function_gets_a_global_order_fix_with_each_site_once() {
    let dir = tempfile::tempdir().unwrap();
    // Both threads lock their first argument at loc 30 and their second at loc 31.
    let report = check_text(
        dir.path(),
        "pair.std",
        "T1|acq(A)|30\nT1|acq(B)|31\nT1|rel(B)|32\nT1|rel(A)|33\n\
         T2|acq(B)|30\nT2|acq(A)|31\nT2|rel(A)|32\nT2|rel(B)|33\n",
    );
    assert!(
        report.contains(
            "take them in one global order instead, for example by account id or address"
        ),
        "{report}"
    );
    assert!(!report.contains("change the acquisition"), "{report}");
    assert!(
        report.contains("so the nested acquisition at loc 31 disappears"),
        "{report}"
    );
    assert!(!report.contains("loc 31, loc 31"), "{report}");
}

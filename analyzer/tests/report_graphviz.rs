//! `analyzer report` with Graphviz on PATH never hangs: big graphs go to the built-in
//! layout, a slow `dot` is killed after `--dot-timeout`, and both are said once on
//! stderr and in index.html. Big whole-run graphs are drawn as an overview of the locks
//! on reported cycles.
//!
//! The tests put a fake `dot` first on PATH (a shell script), so they do not depend on
//! how fast the machine's Graphviz is, or on it being installed.

#![cfg(unix)]

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes an executable `dot` running `body` into `dir`.
fn fake_dot(dir: &Path, body: &str) {
    let path = dir.join("dot");
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Runs `analyzer report` with `bin` first on PATH.
fn report_with_path(bin: &Path, args: &[&str]) -> Output {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin.to_owned()];
    dirs.extend(std::env::split_paths(&path));
    Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .arg("report")
        .args(args)
        .env("PATH", std::env::join_paths(dirs).unwrap())
        .output()
        .expect("the binary runs")
}

/// `pairs` independent ABBA inversions, each over its own two locks (2 × pairs locks,
/// 2 × pairs edges, all on reported cycles), plus `chain` more locks taken in one order.
fn std_trace(dir: &Path, pairs: usize, chain: usize) -> PathBuf {
    let mut out = String::new();
    let mut loc = 1;
    let mut line = |out: &mut String, thread: usize, op: &str| {
        let _ = writeln!(out, "T{thread}|{op}|{loc}");
        loc += 1;
    };
    for p in 0..pairs {
        let (a, b) = (format!("P{p}a"), format!("P{p}b"));
        for (thread, first, second) in [(1, &a, &b), (2, &b, &a)] {
            line(&mut out, thread, &format!("acq({first})"));
            line(&mut out, thread, &format!("acq({second})"));
            line(&mut out, thread, &format!("rel({second})"));
            line(&mut out, thread, &format!("rel({first})"));
        }
    }
    for c in 1..chain {
        line(&mut out, 3, &format!("acq(C{})", c - 1));
        line(&mut out, 3, &format!("acq(C{c})"));
        line(&mut out, 3, &format!("rel(C{c})"));
        line(&mut out, 3, &format!("rel(C{})", c - 1));
    }
    let path = dir.join(format!("pairs{pairs}_chain{chain}.std"));
    fs::write(&path, out).unwrap();
    path
}

#[test]
fn a_hanging_dot_is_killed_and_the_report_falls_back_to_builtin() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    fs::create_dir(&bin).unwrap();
    // `exec` so the kill reaches the sleeping process itself.
    fake_dot(&bin, "exec sleep 60");
    let trace = std_trace(dir.path(), 3, 0);
    let out_dir = dir.path().join("out");
    let start = Instant::now();
    let out = report_with_path(
        &bin,
        &[
            "--out",
            out_dir.to_str().unwrap(),
            "--dot-timeout",
            "0.5",
            trace.to_str().unwrap(),
        ],
    );
    let elapsed = start.elapsed();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // The whole-run graph times out, then the first (smaller) finding graph; the other
    // finding graphs are as large as that one and skip Graphviz: 2 timeouts, not 4.
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    assert_eq!(
        stderr.matches("Graphviz was killed").count(),
        1,
        "said once: {stderr}"
    );
    assert!(
        stderr.contains("Graphviz was killed after 0.5 s on 2 graphs (lock-order.svg, finding-"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "and 2 graphs were not given to it after that; drawn by the built-in layout instead"
        ),
        "{stderr}"
    );
    let html = fs::read_to_string(out_dir.join("index.html")).unwrap();
    assert_eq!(
        html.matches("Graphviz was killed after 0.5 s on 2 graphs")
            .count(),
        1,
        "index.html says so once"
    );
    let svg = fs::read_to_string(out_dir.join("lock-order.svg")).unwrap();
    assert!(svg.contains("<svg"), "the built-in layout drew it: {svg}");
    assert!(text(&out.stdout).contains("some by builtin"));
}

#[test]
fn graphs_over_the_size_limit_skip_graphviz_under_auto() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    fs::create_dir(&bin).unwrap();
    let log = dir.path().join("dot.log");
    fake_dot(
        &bin,
        &format!(
            "cat > /dev/null\necho called >> '{}'\necho '<svg id=\"fake-dot\"></svg>'",
            log.display()
        ),
    );
    // One ABBA pair (one small finding graph for dot), then 30 locks taken pairwise in one
    // order: 435 edges and no cycle, so the whole-run graph (32 locks, 437 edges) is
    // drawn in full, over the 400 edges Graphviz is given.
    let mut lines = fs::read_to_string(std_trace(dir.path(), 1, 0)).unwrap();
    let mut loc = 1000;
    for i in 0..30 {
        for j in i + 1..30 {
            for op in [
                format!("acq(D{i})"),
                format!("acq(D{j})"),
                format!("rel(D{j})"),
                format!("rel(D{i})"),
            ] {
                let _ = writeln!(lines, "T3|{op}|{loc}");
                loc += 1;
            }
        }
    }
    let trace = dir.path().join("dense.std");
    fs::write(&trace, lines).unwrap();
    let out_dir = dir.path().join("out");
    let out = report_with_path(
        &bin,
        &["--out", out_dir.to_str().unwrap(), trace.to_str().unwrap()],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let calls = fs::read_to_string(&log).unwrap_or_default().lines().count();
    assert_eq!(
        calls, 1,
        "one dot call for the finding graph, none for the whole run"
    );
    let whole = fs::read_to_string(out_dir.join("lock-order.svg")).unwrap();
    assert!(!whole.contains("fake-dot"), "drawn by the built-in layout");
    let finding = fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "svg") && p != &out_dir.join("lock-order.svg"))
        .unwrap();
    assert!(fs::read_to_string(finding).unwrap().contains("fake-dot"));
    assert_eq!(stderr.matches("more than 200 nodes").count(), 1, "{stderr}");
    assert!(
        stderr.contains("(the first, lock-order.svg, has 33 nodes and 437 edges)"),
        "{stderr}"
    );
    let html = fs::read_to_string(out_dir.join("index.html")).unwrap();
    assert!(html.contains("more than 200 nodes or 400 edges"));
}

#[test]
fn a_big_whole_run_graph_draws_only_the_locks_on_cycles() {
    let dir = tempfile::tempdir().unwrap();
    // 2 locks on a cycle, 150 more in a chain: over the 100-lock overview limit.
    let trace = std_trace(dir.path(), 1, 150);
    let out_dir = dir.path().join("out");
    let out = Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .args(["report", "--svg-renderer", "builtin", "--out"])
        .arg(&out_dir)
        .arg(&trace)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let dot = fs::read_to_string(out_dir.join("lock-order.dot")).unwrap();
    assert!(dot.contains("P0a") && dot.contains("P0b"), "{dot}");
    assert!(!dot.contains("C17"), "chain locks are left out: {dot}");
    let left_out = "only the 2 locks and 2 edges of reported cycles are drawn; 150 locks and 149 edges left out";
    assert!(dot.contains(left_out), "{dot}");
    assert!(dot.contains("(152 locks, 151 edges)"), "{dot}");
    let html = fs::read_to_string(out_dir.join("index.html")).unwrap();
    assert!(html.contains(left_out));
    assert!(stderr.contains(left_out), "{stderr}");
    // `check --format dot` still writes the whole graph.
    let full = Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .args(["check", "--format", "dot"])
        .arg(&trace)
        .output()
        .unwrap();
    assert!(text(&full.stdout).contains("C17"));
}

/// Progress is drawn on a terminal only: `script` gives the binary one; a plain pipe
/// (tests, CI logs) gets none.
#[test]
fn progress_is_shown_on_a_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    // 25 findings: 26 graphs, enough for the "drawing" spinner.
    let trace = std_trace(dir.path(), 25, 0);
    let out_dir = dir.path().join("out");
    let args = format!(
        "{} report --svg-renderer builtin --out {} {}",
        env!("CARGO_BIN_EXE_analyzer"),
        out_dir.display(),
        trace.display()
    );
    let piped = Command::new("sh").arg("-c").arg(&args).output().unwrap();
    assert_eq!(piped.status.code(), Some(1), "{}", text(&piped.stderr));
    assert!(
        !text(&piped.stderr).contains("drawing"),
        "{}",
        text(&piped.stderr)
    );
    let log = dir.path().join("tty.log");
    let Ok(on_tty) = Command::new("script")
        .args(["-qec", &args])
        .arg(&log)
        .output()
    else {
        eprintln!("skipped the terminal half: `script` (util-linux) is not installed");
        return;
    };
    let drawn = fs::read_to_string(&log).unwrap_or_default();
    assert!(
        drawn.contains("drawing 26 graphs"),
        "{drawn}\n{}",
        text(&on_tty.stderr)
    );
}

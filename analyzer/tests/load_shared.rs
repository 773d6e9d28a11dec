//! Loading the real traces in `shared/traces` (skipped when absent).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use analyzer::model::{Op, Position, Trace};
use analyzer::trace::{Format, LoadOptions, collect_inputs, load_bytes, load_path, write_trace};

fn shared() -> Option<PathBuf> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/traces"));
    if dir.is_dir() {
        Some(dir.to_owned())
    } else {
        println!("skipped: {} is absent", dir.display());
        None
    }
}

/// Events an STD file must load to: one per line, plus what the `wait` rule
/// adds (a wake before the waiter's next event, and a release/re-acquire per
/// nested hold level still held at the wait). Computed independently here.
fn expected_std_events(text: &str) -> usize {
    let mut depth: HashMap<(String, String), usize> = HashMap::new();
    let mut pending: HashMap<String, usize> = HashMap::new();
    let mut count = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut fields = line.split('|');
        let thread = fields.next().unwrap().to_owned();
        let op = fields.next().unwrap();
        let (name, operand) = op
            .split_once('(')
            .map_or((op, ""), |(n, o)| (n, o.trim_end_matches(')')));
        count += 1;
        if let Some(levels) = pending.remove(&thread) {
            count += 1 + levels;
        }
        let key = (thread.clone(), operand.to_owned());
        match name {
            "acq" => *depth.entry(key).or_default() += 1,
            "rel" => {
                let d = depth.entry(key).or_default();
                *d = d.saturating_sub(1);
            }
            "wait" => {
                let levels = depth.get(&key).copied().unwrap_or(0);
                count += levels;
                pending.insert(thread, levels);
            }
            _ => {}
        }
    }
    count
}

fn rapidbin_event_count(bytes: &[u8]) -> usize {
    i64::from_be_bytes(bytes[10..18].try_into().unwrap()) as usize
}

#[test]
fn every_shared_trace_loads_with_expected_event_counts() {
    let Some(dir) = shared() else { return };
    let files = collect_inputs(&[dir]).unwrap();
    assert!(files.len() >= 30, "found only {} trace files", files.len());
    for file in &files {
        let trace = load_path(file, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let bytes = std::fs::read(file).unwrap();
        let expected = match file.extension().unwrap().to_str().unwrap() {
            "std" => expected_std_events(std::str::from_utf8(&bytes).unwrap()),
            "data" => rapidbin_event_count(&bytes),
            other => panic!("unexpected file {other}"),
        };
        assert_eq!(trace.events.len(), expected, "{}", file.display());
        for w in &trace.warnings {
            assert!(w.position.is_some(), "{w}");
        }
    }
}

fn same_model(a: &Trace, b: &Trace) -> bool {
    a.threads == b.threads && a.objects == b.objects && a.sites == b.sites && a.events == b.events
}

#[test]
fn every_rapidbin_file_loads_like_its_std_twin() {
    let Some(dir) = shared() else { return };
    let mut twins = 0;
    for entry in std::fs::read_dir(dir.join("rapidbin")).unwrap() {
        let bin = entry.unwrap().path();
        let std = dir
            .join("std")
            .join(bin.file_stem().unwrap())
            .with_extension("std");
        let a = load_path(&bin, &LoadOptions::default()).unwrap();
        let b = load_path(&std, &LoadOptions::default()).unwrap();
        assert!(
            same_model(&a, &b),
            "{} and {} differ",
            bin.display(),
            std.display()
        );
        let messages = |t: &Trace| {
            t.warnings
                .iter()
                .map(|w| w.message.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(messages(&a), messages(&b), "{}", bin.display());
        twins += 1;
    }
    assert_eq!(twins, 11);
}

#[test]
fn strict_mode_rejects_jigsaw_with_a_position() {
    let Some(dir) = shared() else { return };
    let file = dir.join("std/jigsaw.std");
    let err = load_path(
        &file,
        &LoadOptions {
            strict: true,
            ..LoadOptions::default()
        },
    )
    .unwrap_err();
    // The first acquisition of a lock another thread holds.
    assert_eq!(err.position, Some(Position::Line(46638)), "{err}");
    assert!(
        err.to_string().contains(
            "jigsaw.std: line 46638: ill-formed trace: T11 acquires L411, which T10 still holds"
        ),
        "{err}"
    );
    let tolerant = load_path(&file, &LoadOptions::default()).unwrap();
    assert_eq!(
        tolerant
            .warnings
            .iter()
            .filter(|w| w.message.contains("still holds"))
            .count(),
        9
    );
    let first = tolerant
        .warnings
        .iter()
        .find(|w| w.message.contains("still holds"))
        .unwrap();
    assert_eq!(first.position, Some(Position::Line(46638)));
}

#[test]
fn dlf_fork_mismatches_are_warnings_even_in_strict_mode() {
    let Some(dir) = shared() else { return };
    let file = dir.join("std/condvar/cond_var_tn_dlf.std");
    let trace = load_path(
        &file,
        &LoadOptions {
            strict: true,
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert!(trace.warnings.is_empty(), "{:?}", trace.warnings);
    let log4j = load_path(
        &dir.join("std/condvar/log4j_38137_dlf.std"),
        &LoadOptions::default(),
    )
    .unwrap();
    assert!(
        log4j
            .warnings
            .iter()
            .any(|w| w.message.contains("still holds"))
    );
}

#[test]
fn condvar_waits_become_wait_and_wake() {
    let Some(dir) = shared() else { return };
    let trace = load_path(
        &dir.join("std/condvar/cond_var_fp_dlf.std"),
        &LoadOptions::default(),
    )
    .unwrap();
    let ops: Vec<&Op> = trace.events.iter().map(|e| &e.op).collect();
    let wait = ops
        .iter()
        .position(|op| matches!(op, Op::Wait { .. }))
        .unwrap();
    let wake = ops
        .iter()
        .position(|op| matches!(op, Op::Wake { .. }))
        .unwrap();
    assert!(wait < wake);
    let Op::Wake { notified_seen, .. } = ops[wake] else {
        unreachable!()
    };
    // T12 notified once (line 26) before T9's next event (line 30).
    assert_eq!(*notified_seen, 1);
    assert!(matches!(ops[wake + 1], Op::Request { .. }));
}

/// `fork(11)` in STD input is written back as `fork(T11)` (the model keeps
/// thread names, not how a fork operand was spelt).
fn normalise_std(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut parts: Vec<String> = l.split('|').map(str::to_owned).collect();
            for op in ["fork(", "join("] {
                if let Some(rest) = parts[1].strip_prefix(op)
                    && rest.starts_with(|c: char| c.is_ascii_digit())
                {
                    parts[1] = format!("{op}T{rest}");
                }
            }
            parts.join("|")
        })
        .collect()
}

fn per_thread(lines: &[String]) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for l in lines {
        out.entry(l.split('|').next().unwrap().to_owned())
            .or_default()
            .push(l.clone());
    }
    out
}

/// Native traces cannot express a child that runs before its fork (physically
/// impossible), but the RAPID traces list every `begin` first. Reading such a
/// native file moves the child's events after the fork, so for traces with
/// fork/join warnings only each thread's own lines are compared; the others
/// must come back line for line.
#[test]
fn std_to_native_to_std_gives_the_same_lines() {
    let Some(dir) = shared() else { return };
    let files = collect_inputs(&[dir]).unwrap();
    let mut exact = 0;
    for file in files.iter().filter(|f| f.extension().unwrap() == "std") {
        let original = load_path(file, &LoadOptions::default()).unwrap();
        let mut native = Vec::new();
        let report = write_trace(&original, Format::Native, &mut native).unwrap();
        assert!(
            report.dropped.is_empty(),
            "{}: {:?}",
            file.display(),
            report.dropped
        );
        let reloaded = load_bytes("native", &native, &LoadOptions::default()).unwrap();
        let mut std_out = Vec::new();
        write_trace(&reloaded, Format::Std, &mut std_out).unwrap();
        let expected = normalise_std(&std::fs::read_to_string(file).unwrap());
        let written = normalise_std(&String::from_utf8(std_out).unwrap());
        let fork_order_unknown = original
            .warnings
            .iter()
            .any(|w| w.message.contains("ordering is unknown"));
        // RAPID hoists every thread's `begin` above the fork that starts it; the
        // native writer keeps each thread's order but may place those lines later.
        if fork_order_unknown || has_hoisted_begin(&original) {
            assert_eq!(
                per_thread(&written),
                per_thread(&expected),
                "{}",
                file.display()
            );
        } else {
            assert_eq!(reloaded.events, original.events, "{}", file.display());
            assert_eq!(written, expected, "{}", file.display());
            exact += 1;
        }
    }
    assert!(exact >= 10, "only {exact} traces compared line for line");
}

#[test]
fn report_jigsaw_load_time() {
    let Some(dir) = shared() else { return };
    let start = Instant::now();
    let trace = load_path(&dir.join("std/jigsaw.std"), &LoadOptions::default()).unwrap();
    println!(
        "loaded jigsaw.std ({} events) in {:?}",
        trace.events.len(),
        start.elapsed()
    );
}

/// Whether some thread's `begin` comes before the fork that starts it.
fn has_hoisted_begin(trace: &Trace) -> bool {
    let mut begun = std::collections::HashSet::new();
    trace.events.iter().any(|e| match e.op {
        Op::Begin => {
            begun.insert(e.thread);
            false
        }
        Op::Fork { child } => begun.contains(&child),
        _ => false,
    })
}

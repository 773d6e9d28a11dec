//! Loading time of the same generated trace as STD and as native (format
//! version 2), measured in one run, alternating, so that the ratio is
//! comparable on a shared machine (see BENCHMARKS.md, "Native format v2").
//!
//! `cargo bench -p analyzer --bench native_parse` generates a 1M-event trace
//! in memory; `cargo bench -p analyzer --bench native_parse -- A.std B.istrace`
//! times `load_path` on two files instead (for example the 10M-event ones).

use std::path::Path;
use std::time::{Duration, Instant};

use analyzer::generate::{GenerateFormat, GenerateOptions, write_generated};
use analyzer::model::Trace;
use analyzer::trace::{LoadOptions, load_bytes, load_path};

/// Loads one input.
type Loader = Box<dyn Fn() -> Trace>;

/// Timed loads of each input (the best and the median are reported).
const ROUNDS: usize = 5;

fn main() {
    // `cargo bench` passes `--bench`; everything else is a path.
    let paths: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let options = LoadOptions::default();
    let (std_load, native_load): (Loader, Loader) = match paths.as_slice() {
        [std_path, native_path] => {
            let (s, n) = (std_path.clone(), native_path.clone());
            (
                Box::new(move || load_path(Path::new(&s), &options).expect("load STD")),
                Box::new(move || load_path(Path::new(&n), &options).expect("load native")),
            )
        }
        [] => {
            let generate = |format| {
                let gen_options = GenerateOptions {
                    events: 1_000_000,
                    plant_cycle: true,
                    plant_race: true,
                    ..GenerateOptions::default()
                };
                let mut out = Vec::new();
                write_generated(&gen_options, format, &mut out).expect("generate");
                out
            };
            let (s, n) = (
                generate(GenerateFormat::Std),
                generate(GenerateFormat::Native),
            );
            (
                Box::new(move || load_bytes("g.std", &s, &options).expect("load STD")),
                Box::new(move || load_bytes("g.istrace", &n, &options).expect("load native")),
            )
        }
        _ => {
            eprintln!("usage: native_parse [STD_FILE NATIVE_FILE]");
            std::process::exit(2);
        }
    };
    let (mut std_times, mut native_times) = (Vec::new(), Vec::new());
    let mut events = 0;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let a = std_load();
        std_times.push(t.elapsed());
        let t = Instant::now();
        let b = native_load();
        native_times.push(t.elapsed());
        // Both name the same events; anything else would make the ratio meaningless.
        assert_eq!(a.events.len(), b.events.len());
        events = a.events.len();
        drop((a, b));
    }
    let summary = |times: &mut Vec<Duration>| {
        times.sort();
        (times[0], times[times.len() / 2])
    };
    let (std_best, std_median) = summary(&mut std_times);
    let (native_best, native_median) = summary(&mut native_times);
    let rate = |d: Duration| events as f64 / d.as_secs_f64() / 1e6;
    println!("events: {events}, {ROUNDS} rounds, alternating");
    println!(
        "parse/std     best {std_best:>10.1?}  median {std_median:>10.1?}  ({:.1} M events/s)",
        rate(std_best)
    );
    println!(
        "parse/native  best {native_best:>10.1?}  median {native_median:>10.1?}  ({:.1} M events/s)",
        rate(native_best)
    );
    println!(
        "native is {:.2}x faster than STD (best), {:.2}x (median)",
        std_best.as_secs_f64() / native_best.as_secs_f64(),
        std_median.as_secs_f64() / native_median.as_secs_f64()
    );
}

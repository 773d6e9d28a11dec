//! A stable-toolchain stand-in for the cargo-fuzz targets in `fuzz/` (which
//! need libFuzzer): proptest mutates the committed seed corpus
//! (`fuzz/corpus/<target>/`) with byte flips, insertions, deletions,
//! truncations and splices, and feeds every result to `load_bytes` with each
//! format forced and with detection, tolerant and strict.
//!
//! Each load must return `Ok` or `Err` without panicking, within a time bound,
//! and every `Err` must say where: a line or a byte offset (or, for lock
//! discipline violations found after linearisation, an event index).
//!
//! The regression tests at the end replay inputs the fuzzers found.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use analyzer::model::Position;
use analyzer::trace::{Format, LoadOptions, load_bytes};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::ValueTree;

/// Seeds larger than this are left to the fuzzers: debug-mode loads of big
/// seeds would make the pass too slow for every `cargo test`.
const MAX_SEED_LEN: usize = 12 * 1024;

/// Per-load bound. Seeds are at most a few KiB, so a correct reader takes
/// milliseconds even in debug; this only catches hangs and blow-ups.
const LOAD_BOUND: Duration = Duration::from_secs(5);

/// The corpus directory of one fuzz target.
fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// The seeds of one target, sorted by file name so cases are reproducible.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = corpus_dir(target);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    paths.sort();
    let seeds: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .filter(|bytes| bytes.len() <= MAX_SEED_LEN)
        .collect();
    assert!(
        seeds.len() >= 3,
        "{}: expected at least 3 small seeds",
        dir.display()
    );
    seeds
}

/// One edit of a seed. Positions are [`Index`]es so they scale to any length.
#[derive(Clone, Debug)]
enum Mutation {
    /// Flip one bit.
    FlipBit(Index, u8),
    /// Overwrite one byte, biased towards bytes that matter to the formats.
    SetByte(Index, u8),
    /// Insert bytes.
    Insert(Index, Vec<u8>),
    /// Delete up to `len` bytes.
    Delete(Index, usize),
    /// Cut the input short.
    Truncate(Index),
    /// Copy a range of the input (or of another seed) over another place.
    Splice {
        from_seed: Option<Index>,
        src: Index,
        len: usize,
        dst: Index,
    },
    /// Repeat a range many times (long lines, many records).
    Repeat(Index, usize, usize),
}

/// Bytes that are structural in at least one format.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        any::<u8>(),
        prop::sample::select(vec![
            b'\n', b'\r', b'|', b'(', b')', b'{', b'}', b'"', b':', b',', b'[', b']', b'0', b'9',
            b'-', 0x00, 0x7f, 0x80, 0xff, 0xfe,
        ]),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        3 => (any::<Index>(), interesting_byte()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        2 => (any::<Index>(), prop::collection::vec(interesting_byte(), 1..16))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => (any::<Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        2 => (
            prop::option::of(any::<Index>()),
            any::<Index>(),
            1usize..256,
            any::<Index>()
        )
            .prop_map(|(from_seed, src, len, dst)| Mutation::Splice {
                from_seed,
                src,
                len,
                dst
            }),
        1 => (any::<Index>(), 1usize..32, 2usize..200)
            .prop_map(|(i, len, times)| Mutation::Repeat(i, len, times)),
    ]
}

/// Applies `mutations` to a copy of `seed`; `others` are splice sources.
fn mutate(seed: &[u8], others: &[Vec<u8>], mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for m in mutations {
        // `Index::index` needs a non-zero length; inserting or splicing into
        // an empty input happens at 0.
        let at = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len) };
        match m {
            Mutation::FlipBit(i, bit) if !bytes.is_empty() => {
                let p = at(i, bytes.len());
                bytes[p] ^= 1 << bit;
            }
            Mutation::SetByte(i, b) if !bytes.is_empty() => {
                let p = at(i, bytes.len());
                bytes[p] = *b;
            }
            Mutation::Insert(i, new) => {
                let p = at(i, bytes.len() + 1);
                bytes.splice(p..p, new.iter().copied());
            }
            Mutation::Delete(i, n) if !bytes.is_empty() => {
                let p = at(i, bytes.len());
                let end = (p + n).min(bytes.len());
                bytes.drain(p..end);
            }
            Mutation::Truncate(i) => {
                let p = at(i, bytes.len() + 1);
                bytes.truncate(p);
            }
            Mutation::Splice {
                from_seed,
                src,
                len,
                dst,
            } => {
                let source: &[u8] = match from_seed {
                    Some(s) => &others[s.index(others.len())],
                    None => &bytes,
                };
                if source.is_empty() {
                    continue;
                }
                let s = at(src, source.len());
                let chunk = source[s..(s + len).min(source.len())].to_vec();
                let d = at(dst, bytes.len() + 1);
                let end = (d + chunk.len()).min(bytes.len());
                bytes.splice(d..end, chunk);
            }
            Mutation::Repeat(i, len, times) if !bytes.is_empty() => {
                let p = at(i, bytes.len());
                let chunk = bytes[p..(p + len).min(bytes.len())].to_vec();
                let repeated = chunk.repeat(*times);
                bytes.splice(p..p, repeated);
            }
            _ => {}
        }
    }
    bytes
}

/// Loads `bytes` every way there is and checks the contract of each result.
fn load_every_way(bytes: &[u8]) -> Result<(), TestCaseError> {
    let formats = [
        Some(Format::Native),
        Some(Format::Jsonl),
        Some(Format::Std),
        Some(Format::RapidBin),
        None,
    ];
    for format in formats {
        for (strict, allow_truncated) in [(false, true), (true, false)] {
            let options = LoadOptions {
                strict,
                allow_truncated,
                format,
            };
            let started = Instant::now();
            let result = load_bytes("mutant.trace", bytes, &options);
            let took = started.elapsed();
            prop_assert!(
                took < LOAD_BOUND,
                "{format:?} strict={strict}: load took {took:?}"
            );
            if let Err(e) = result {
                check_error(&e, format, strict)?;
            }
        }
    }
    Ok(())
}

/// An error names the file and a line or byte (an event index only for
/// strict lock-discipline errors, which are found after linearisation).
fn check_error(
    e: &analyzer::trace::LoadError,
    format: Option<Format>,
    strict: bool,
) -> Result<(), TestCaseError> {
    let text = e.to_string();
    prop_assert!(
        text.starts_with("mutant.trace: "),
        "{format:?}: error does not name the file: {text}"
    );
    match e.position {
        Some(Position::Line(n)) => {
            prop_assert!(n >= 1, "{format:?}: line 0 in {text}");
            prop_assert!(text.contains(&format!("line {n}")), "{text}");
        }
        Some(Position::Byte(n)) => {
            prop_assert!(text.contains(&format!("byte {n}")), "{text}");
        }
        Some(Position::Event(n)) => {
            prop_assert!(
                strict && e.message.starts_with("ill-formed trace"),
                "{format:?}: an event index where a line or byte was expected: {text}"
            );
            prop_assert!(text.contains(&format!("event {n}")), "{text}");
        }
        None => prop_assert!(false, "{format:?}: error without a position: {text}"),
    }
    Ok(())
}

/// Cases per target: enough to reach past the headers of every format while
/// keeping the whole file under ~20 s in debug on a loaded machine.
const CASES: u32 = 1024;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        // Shrinking a slow case would repeat it many times; the case itself is what matters.
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    }
}

/// Mutates seeds of `target` and loads each mutant every way.
fn mutation_pass(target: &str) {
    let seeds = seeds(target);
    let mut runner = proptest::test_runner::TestRunner::new(config());
    let strategy = (any::<Index>(), prop::collection::vec(mutation(), 1..8));
    let result = runner.run(&strategy, |(seed, mutations)| {
        let seed = &seeds[seed.index(seeds.len())];
        let mutant = mutate(seed, &seeds, &mutations);
        load_every_way(&mutant)
    });
    if let Err(e) = result {
        panic!("{target}: {e}");
    }
}

#[test]
fn mutated_native_traces_never_panic() {
    mutation_pass("native");
}

#[test]
fn mutated_jsonl_traces_never_panic() {
    mutation_pass("jsonl");
}

#[test]
fn mutated_std_traces_never_panic() {
    mutation_pass("std_text");
}

#[test]
fn mutated_rapidbin_traces_never_panic() {
    mutation_pass("rapidbin");
}

/// The unmutated seeds load every way too (and the forced right format succeeds).
#[test]
fn every_seed_loads_every_way() {
    for (target, format) in [
        ("native", Format::Native),
        ("jsonl", Format::Jsonl),
        ("std_text", Format::Std),
        ("rapidbin", Format::RapidBin),
    ] {
        for seed in seeds(target) {
            load_every_way(&seed).unwrap();
            let options = LoadOptions {
                format: Some(format),
                ..LoadOptions::default()
            };
            let _ = load_bytes("seed", &seed, &options);
        }
    }
}

/// The mutation operators do what they say (a pass that never mutated would prove nothing).
#[test]
fn mutations_change_the_input() {
    let seed = b"T0|acq(L1)|3\nT0|rel(L1)|3\n".to_vec();
    let idx = |n: usize| -> Index {
        // Index maps a u64-derived fraction onto the length; pick via sampling.
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        loop {
            let i = any::<Index>().new_tree(&mut runner).unwrap().current();
            if i.index(seed.len()) == n {
                return i;
            }
        }
    };
    let flipped = mutate(&seed, &[], &[Mutation::FlipBit(idx(0), 0)]);
    assert_eq!(flipped[0], b'T' ^ 1);
    let cut = mutate(&seed, &[], &[Mutation::Truncate(idx(5))]);
    assert!(cut.len() < seed.len());
    let grown = mutate(&seed, &[], &[Mutation::Repeat(idx(0), 4, 10)]);
    assert_eq!(grown.len(), seed.len() + 40);
    let shrunk = mutate(&seed, &[], &[Mutation::Delete(idx(2), 3)]);
    assert_eq!(shrunk.len(), seed.len() - 3);
}

/// Regression (found by review while fuzzing; libFuzzer's small inputs cannot
/// reach it): JSON Lines had no line cap, so a 1 GiB line was read whole into
/// memory. Now it is refused after `MAX_LINE_LEN` bytes, naming the line.
#[test]
fn a_one_gigabyte_jsonl_line_is_refused_after_the_cap() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.jsonl");
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(b"{\"End\":null}\n{\"End\":").unwrap();
    // Sparse: the rest of the second line is a hole of spaces' worth of zeros.
    file.set_len(1 << 30).unwrap();
    drop(file);
    let started = Instant::now();
    let err = analyzer::trace::load_path(&path, &LoadOptions::default()).unwrap_err();
    assert_eq!(err.position, Some(Position::Line(2)), "{err}");
    assert!(
        err.message.contains(&format!(
            "line longer than {} bytes",
            sync_trace::jsonl::MAX_LINE_LEN
        )),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(30), "{err}");
}

//! Synthetic lock traces for benchmarks and scale tests (`analyzer generate`).
//!
//! A deterministic simulation (seeded, no global state): thread `T0` forks
//! `T1 … T{T-1}`, then a random thread runs a burst of 1 to 16 steps, each of
//! which acquires a lock, releases its innermost lock, or reads/writes a
//! variable. Locks are always
//! acquired in increasing index order and nesting never exceeds `depth`, so
//! the background has no lock-order cycle; a variable is only touched while
//! holding its guard lock (`V{v}` is guarded by `L{v mod L}`), and a write
//! always follows a read of the same variable in the same critical section (an
//! increment), so there is no data race and no lost update. Optional planted bugs, placed halfway through:
//!
//! * `plant_cycle`: `T0` takes `PA` then `PB`, then `T1` takes `PB` then `PA`,
//!   a classic ABBA inversion that is a predictable deadlock;
//! * `plant_race`: `T0` and `T1` each write `RACE` holding no lock.
//!
//! Every run with the same options writes the same bytes. STD and native
//! output describe the same events; both are streamed, so memory stays
//! O(threads + locks) whatever the event count.

use std::io::{self, Write};

use sync_trace::codec::TraceWriter;
use sync_trace::{
    Attempt, Event as NativeEvent, Mode, ObjectId, ObjectInfo, ObjectKind, Op as NativeOp,
    ProcessInfo, Record, Site as NativeSite, SiteId, ThreadId, ThreadInfo,
};
use thiserror::Error;

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Total number of events written (exactly).
    pub events: u64,
    /// Number of threads (at least 1; 2 when something is planted).
    pub threads: u32,
    /// Number of background locks (at least 1).
    pub locks: u32,
    /// Number of background shared variables.
    pub vars: u32,
    /// Deepest nesting of background locks (at least 1).
    pub depth: u32,
    /// Plant an ABBA lock-order inversion between `T0` and `T1`.
    pub plant_cycle: bool,
    /// Plant an unprotected write/write race between `T0` and `T1`.
    pub plant_race: bool,
    /// Seed of the pseudo-random choices.
    pub seed: u64,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            events: 1_000_000,
            threads: 8,
            locks: 64,
            vars: 256,
            depth: 4,
            plant_cycle: false,
            plant_race: false,
            seed: 1,
        }
    }
}

/// The formats the generator writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenerateFormat {
    /// RAPID's STD text format.
    Std,
    /// instrumented-sync's native binary format.
    Native,
}

/// Why a trace could not be generated.
#[derive(Debug, Error)]
pub enum GenerateError {
    /// The options cannot describe a trace.
    #[error("invalid generator options: {0}")]
    Options(String),
    /// Writing failed.
    #[error("write error: {0}")]
    Io(#[from] io::Error),
}

/// One generated event, before it is written in some format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenEvent {
    /// The thread index (`T{thread}`).
    pub thread: u32,
    /// What it does.
    pub op: GenOp,
    /// A location id (a source line for native output).
    pub loc: u32,
}

/// The operations the generator uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenOp {
    /// Acquire lock `n` (see [`lock_name`]).
    Acquire(u32),
    /// Release lock `n`.
    Release(u32),
    /// Read variable `n` (see [`var_name`]).
    Read(u32),
    /// Write variable `n`.
    Write(u32),
    /// Fork thread `n`.
    Fork(u32),
    /// Join thread `n`.
    Join(u32),
}

/// The lock index of the planted cycle's first lock (`PA`); `PB` is the next one.
fn planted_lock(options: &GenerateOptions, second: bool) -> u32 {
    options.locks + u32::from(second)
}

/// The variable index of the planted race (`RACE`).
fn planted_var(options: &GenerateOptions) -> u32 {
    options.vars
}

/// The variable index of `PRIV`, read only by `T0` to fill the last slots exactly.
fn private_var(options: &GenerateOptions) -> u32 {
    options.vars + 1
}

/// The display name of lock `n`: `L{n}`, or `PA`/`PB` for the planted ones.
pub fn lock_name(options: &GenerateOptions, n: u32) -> String {
    if n == planted_lock(options, false) {
        "PA".to_owned()
    } else if n == planted_lock(options, true) {
        "PB".to_owned()
    } else {
        format!("L{n}")
    }
}

/// The display name of variable `n`: `V{n}`, `RACE` for the planted race, `PRIV` for `T0`'s own.
pub fn var_name(options: &GenerateOptions, n: u32) -> String {
    if n == planted_var(options) {
        "RACE".to_owned()
    } else if n == private_var(options) {
        "PRIV".to_owned()
    } else {
        format!("V{n}")
    }
}

/// SplitMix64: tiny, fast and good enough for workload shapes; fixed so output is stable.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the modulo bias is irrelevant here.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Events the planted bugs need, at most (their own events plus releases to empty two stacks).
fn planted_events(options: &GenerateOptions) -> u64 {
    let own = if options.plant_cycle { 8 } else { 0 } + if options.plant_race { 2 } else { 0 };
    own + 2 * u64::from(options.depth)
}

/// Checks `options`, explaining what is wrong.
pub fn validate(options: &GenerateOptions) -> Result<(), GenerateError> {
    let fail = |m: &str| Err(GenerateError::Options(m.to_owned()));
    if options.threads == 0 {
        return fail("--threads must be at least 1");
    }
    if options.locks == 0 {
        return fail("--locks must be at least 1");
    }
    if options.depth == 0 {
        return fail("--depth must be at least 1");
    }
    if options.locks > u32::MAX - 2 || options.vars > u32::MAX - 2 {
        return fail("--locks and --vars must leave room for the planted objects");
    }
    let planting = options.plant_cycle || options.plant_race;
    if planting && options.threads < 2 {
        return fail("planting a cycle or a race needs --threads of at least 2");
    }
    let frame = 2 * (u64::from(options.threads) - 1);
    let needed = frame + if planting { planted_events(options) } else { 0 };
    if options.events < needed {
        return Err(GenerateError::Options(format!(
            "--events {} is too few: forking and joining {} threads{} takes up to {needed}",
            options.events,
            options.threads,
            if planting { " and planting takes" } else { "" }
        )));
    }
    Ok(())
}

/// Runs the simulation, handing every event to `sink` in trace order.
/// Exactly `options.events` events are produced.
pub fn generate(
    options: &GenerateOptions,
    sink: &mut dyn FnMut(GenEvent) -> io::Result<()>,
) -> Result<(), GenerateError> {
    validate(options)?;
    let mut rng = SplitMix64(options.seed);
    let threads = options.threads as usize;
    let locks = options.locks;
    let depth = options.depth as usize;
    // Held stacks (innermost last) and the owner of each lock.
    let mut held: Vec<Vec<u32>> = vec![Vec::new(); threads];
    let mut owner: Vec<u32> = vec![u32::MAX; locks as usize];
    let mut total_held: u64 = 0;
    let mut emitted: u64 = 0;
    let joins = options.threads as u64 - 1;
    let planting = options.plant_cycle || options.plant_race;
    let mut planted = !planting;
    let plant_at = options.events / 2;
    let (mut current, mut burst) = (0usize, 0u64);
    let mut emit = |e: GenEvent, emitted: &mut u64| -> io::Result<()> {
        *emitted += 1;
        sink(e)
    };
    // Locations: one per (operation kind, object) so sites are meaningful but bounded.
    let loc_acq = |l: u32| 1 + 4 * l;
    let loc_rel = |l: u32| 2 + 4 * l;
    let loc_var = |v: u32, write: bool| 3 + 4 * v + u32::from(write);

    for child in 1..options.threads {
        emit(
            GenEvent {
                thread: 0,
                op: GenOp::Fork(child),
                loc: 0,
            },
            &mut emitted,
        )?;
    }
    // Events still owed to close the trace: one release per held lock, and the joins;
    // while planting is pending, its budget too.
    let owed = |total_held: u64, planted: bool| {
        total_held + joins + if planted { 0 } else { planted_events(options) }
    };
    while emitted + owed(total_held, planted) < options.events {
        if !planted && emitted >= plant_at {
            // Empty T0's and T1's stacks, then plant (the budget reserved covers it).
            for (t, stack) in held.iter_mut().enumerate().take(2) {
                while let Some(l) = stack.pop() {
                    owner[l as usize] = u32::MAX;
                    total_held -= 1;
                    let e = GenEvent {
                        thread: t as u32,
                        op: GenOp::Release(l),
                        loc: loc_rel(l),
                    };
                    emit(e, &mut emitted)?;
                }
            }
            let (pa, pb) = (planted_lock(options, false), planted_lock(options, true));
            if options.plant_cycle {
                for (t, first, second) in [(0, pa, pb), (1, pb, pa)] {
                    for op in [
                        GenOp::Acquire(first),
                        GenOp::Acquire(second),
                        GenOp::Release(second),
                        GenOp::Release(first),
                    ] {
                        let loc = match op {
                            GenOp::Acquire(l) => loc_acq(l),
                            GenOp::Release(l) => loc_rel(l),
                            _ => 0,
                        };
                        emit(GenEvent { thread: t, op, loc }, &mut emitted)?;
                    }
                }
            }
            if options.plant_race {
                let v = planted_var(options);
                for t in 0..2 {
                    let e = GenEvent {
                        thread: t,
                        op: GenOp::Write(v),
                        loc: loc_var(v, true),
                    };
                    emit(e, &mut emitted)?;
                }
            }
            planted = true;
            continue;
        }
        let room = emitted + owed(total_held, planted) + 2 <= options.events;
        if !room {
            // One slot left before the closing releases: fill it with T0's private read.
            let loc = loc_var(private_var(options), false);
            let op = GenOp::Read(private_var(options));
            emit(GenEvent { thread: 0, op, loc }, &mut emitted)?;
            continue;
        }
        // A thread runs for a burst of 1..=16 steps, as between two scheduler switches.
        if burst == 0 {
            current = rng.below(threads as u64) as usize;
            burst = 1 + rng.below(16);
        }
        burst -= 1;
        let t = current;
        let stack = &mut held[t];
        let choice = rng.below(10);
        if choice < 4 && stack.len() < depth {
            // Acquire a free lock above the innermost one (a few tries, else fall through).
            let floor = stack.last().map_or(0, |&l| l + 1);
            if floor < locks {
                let span = u64::from(locks - floor);
                let mut got = None;
                for _ in 0..4 {
                    let l = floor + rng.below(span) as u32;
                    if owner[l as usize] == u32::MAX {
                        got = Some(l);
                        break;
                    }
                }
                if let Some(l) = got {
                    owner[l as usize] = t as u32;
                    stack.push(l);
                    total_held += 1;
                    let e = GenEvent {
                        thread: t as u32,
                        op: GenOp::Acquire(l),
                        loc: loc_acq(l),
                    };
                    emit(e, &mut emitted)?;
                    continue;
                }
            }
        }
        if choice < 7
            && let Some(l) = stack.pop()
        {
            owner[l as usize] = u32::MAX;
            total_held -= 1;
            let e = GenEvent {
                thread: t as u32,
                op: GenOp::Release(l),
                loc: loc_rel(l),
            };
            emit(e, &mut emitted)?;
            continue;
        }
        // An access to a variable guarded by a held lock; nothing this step otherwise.
        if options.vars > 0 && !stack.is_empty() {
            let g = stack[rng.below(stack.len() as u64) as usize];
            // Variables g, g + L, g + 2L, … are guarded by lock g.
            let count = (options.vars.saturating_sub(g)).div_ceil(locks);
            if count > 0 {
                let v = g + locks * rng.below(u64::from(count)) as u32;
                let thread = t as u32;
                let read = GenEvent {
                    thread,
                    op: GenOp::Read(v),
                    loc: loc_var(v, false),
                };
                emit(read, &mut emitted)?;
                // A write is the second half of an increment in the same critical section, so
                // no read-modify-write spans two sections (no lost update in the background).
                if rng.below(3) == 0 {
                    let write = GenEvent {
                        thread,
                        op: GenOp::Write(v),
                        loc: loc_var(v, true),
                    };
                    emit(write, &mut emitted)?;
                }
            }
        }
    }
    // Close: release everything (innermost first), then join.
    for (t, stack) in held.iter_mut().enumerate() {
        while let Some(l) = stack.pop() {
            let e = GenEvent {
                thread: t as u32,
                op: GenOp::Release(l),
                loc: loc_rel(l),
            };
            emit(e, &mut emitted)?;
        }
    }
    for child in 1..options.threads {
        let e = GenEvent {
            thread: 0,
            op: GenOp::Join(child),
            loc: 0,
        };
        emit(e, &mut emitted)?;
    }
    // The loop stops with at most the owed events left, all emitted above; pad the rest.
    while emitted < options.events {
        let loc = loc_var(private_var(options), false);
        let op = GenOp::Read(private_var(options));
        emit(GenEvent { thread: 0, op, loc }, &mut emitted)?;
    }
    Ok(())
}

/// Appends the decimal digits of `n` without allocating.
fn push_u32(out: &mut Vec<u8>, n: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Writes one STD line for `e` into `line`.
fn std_line(options: &GenerateOptions, e: GenEvent, line: &mut Vec<u8>) {
    line.clear();
    line.push(b'T');
    push_u32(line, e.thread);
    let (op, (prefix, n)): (&[u8], (u8, u32)) = match e.op {
        GenOp::Acquire(l) => (b"|acq(", (b'L', l)),
        GenOp::Release(l) => (b"|rel(", (b'L', l)),
        GenOp::Read(v) => (b"|r(", (b'V', v)),
        GenOp::Write(v) => (b"|w(", (b'V', v)),
        GenOp::Fork(t) => (b"|fork(", (b'T', t)),
        GenOp::Join(t) => (b"|join(", (b'T', t)),
    };
    line.extend_from_slice(op);
    let special = match prefix {
        b'L' if n >= options.locks => Some(lock_name(options, n)),
        b'V' if n >= options.vars => Some(var_name(options, n)),
        _ => None,
    };
    match special {
        Some(name) => line.extend_from_slice(name.as_bytes()),
        None => {
            line.push(prefix);
            push_u32(line, n);
        }
    }
    line.push(b')');
    line.push(b'|');
    push_u32(line, e.loc);
    line.push(b'\n');
}

/// Generates a trace into `out` in `format`; returns the number of events written.
pub fn write_generated(
    options: &GenerateOptions,
    format: GenerateFormat,
    out: &mut dyn Write,
) -> Result<u64, GenerateError> {
    validate(options)?;
    match format {
        GenerateFormat::Std => {
            let mut out = io::BufWriter::with_capacity(1 << 16, out);
            let mut line = Vec::with_capacity(64);
            generate(options, &mut |e| {
                std_line(options, e, &mut line);
                out.write_all(&line)
            })?;
            out.flush()?;
        }
        GenerateFormat::Native => write_native(options, out)?,
    }
    Ok(options.events)
}

/// Most events in one native `Events` record (bounds the reader's frame size).
const NATIVE_BATCH: usize = 4096;

fn write_native(options: &GenerateOptions, out: &mut dyn Write) -> Result<(), GenerateError> {
    let mut writer = TraceWriter::new(io::BufWriter::with_capacity(1 << 16, out))?;
    writer.write(&Record::Process(ProcessInfo {
        pid: 0,
        program: "analyzer generate".to_owned(),
    }))?;
    for t in 0..options.threads {
        // Unnamed threads read back as `T{id}`, the same names as STD.
        writer.write(&Record::Thread(ThreadInfo {
            id: ThreadId(t),
            name: None,
        }))?;
    }
    let lock_count = options.locks + 2;
    for l in 0..lock_count {
        writer.write(&Record::Object(ObjectInfo {
            id: ObjectId(u64::from(l)),
            kind: ObjectKind::Mutex,
            class: SiteId::UNKNOWN,
            name: Some(lock_name(options, l)),
        }))?;
    }
    for v in 0..=private_var(options) {
        writer.write(&Record::Object(ObjectInfo {
            id: ObjectId(u64::from(lock_count) + u64::from(v)),
            kind: ObjectKind::Variable,
            class: SiteId::UNKNOWN,
            name: Some(var_name(options, v)),
        }))?;
    }
    // Sites are declared on first use, as a recorder would; an empty file marks a location id.
    let mut site_declared: Vec<u64> = Vec::new();
    let mut lock_seq: Vec<u64> = vec![0; lock_count as usize];
    let var_id = |v: u32| ObjectId(u64::from(lock_count) + u64::from(v));
    let mut batch: Vec<NativeEvent> = Vec::with_capacity(NATIVE_BATCH);
    let mut batch_thread = 0u32;
    let mut pending_sites: Vec<Record> = Vec::new();
    let flush = |writer: &mut TraceWriter<_>,
                 batch: &mut Vec<NativeEvent>,
                 thread: u32|
     -> io::Result<()> {
        if !batch.is_empty() {
            writer.write(&Record::Events {
                thread: ThreadId(thread),
                events: std::mem::take(batch),
            })?;
        }
        Ok(())
    };
    generate(options, &mut |e| {
        if e.thread != batch_thread || batch.len() >= NATIVE_BATCH {
            flush(&mut writer, &mut batch, batch_thread)?;
            batch_thread = e.thread;
        }
        let word = (e.loc / 64) as usize;
        if word >= site_declared.len() {
            site_declared.resize(word + 1, 0);
        }
        if e.loc != 0 && site_declared[word] & (1 << (e.loc % 64)) == 0 {
            site_declared[word] |= 1 << (e.loc % 64);
            pending_sites.push(Record::Site(NativeSite {
                id: SiteId(e.loc),
                file: String::new(),
                line: e.loc,
                column: 0,
            }));
        }
        if !pending_sites.is_empty() {
            // A site must be described before the batch using it is written.
            flush(&mut writer, &mut batch, batch_thread)?;
            for r in pending_sites.drain(..) {
                writer.write(&r)?;
            }
        }
        let op = match e.op {
            GenOp::Acquire(l) => {
                lock_seq[l as usize] += 1;
                NativeOp::Acquire {
                    lock: ObjectId(u64::from(l)),
                    mode: Mode::Write,
                    attempt: Attempt::Blocking,
                    seq: lock_seq[l as usize],
                }
            }
            GenOp::Release(l) => {
                lock_seq[l as usize] += 1;
                NativeOp::Release {
                    lock: ObjectId(u64::from(l)),
                    mode: Mode::Write,
                    seq: lock_seq[l as usize],
                }
            }
            GenOp::Read(v) | GenOp::Write(v) => NativeOp::Access {
                var: var_id(v),
                write: matches!(e.op, GenOp::Write(_)),
                order: None,
                version: 0,
            },
            GenOp::Fork(c) => NativeOp::Fork { child: ThreadId(c) },
            GenOp::Join(c) => NativeOp::Join { child: ThreadId(c) },
        };
        batch.push(NativeEvent {
            op,
            site: SiteId(e.loc),
        });
        Ok(())
    })?;
    flush(&mut writer, &mut batch, batch_thread)?;
    writer.write(&Record::End)?;
    writer.flush()?;
    Ok(())
}

//! The native binary format. Version 1 (postcard records) goes through
//! `sync_trace::codec::TraceReader` and the shared [`RecordLoader`]; version 2
//! (fixed-width slots, dense ids) is decoded straight into the model by
//! [`DenseLoader`], with the same result as loading the same records as version 1.
//!
//! The version-2 path does no per-event allocation and no hash-map lookup for
//! locks, variables, threads and sites: dense ids index `Vec`s. While decoding
//! it checks the file's batch order against the merge constraints (the
//! `linearize` replay, done incrementally); when the order holds, the decoded
//! events are the result, otherwise they are regrouped per thread and merged.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::Path;

use sync_trace::codec::{DecodeError, FrameReader, TraceReader};
use sync_trace::wire::{self, WireEvent, WireRecord, tag};
use sync_trace::{ObjectId, ThreadId};

use super::linearize::{ThreadEvents, linearize};
use super::records::{RecordLoader, dedupe, generated_names};
use super::{LoadError, LoadOptions, wellformed};
use crate::model::fast_hash::FastHashSet;
use crate::model::{
    Attempt, Event, ObjIdx, Object, ObjectKind, ObservedReport, Op, Position, Site, SiteIdx,
    Thread, ThreadIdx, Trace, Warning,
};

/// The byte offset a decode error names.
fn offset_of(e: &DecodeError) -> u64 {
    match e {
        DecodeError::Empty | DecodeError::BadMagic => 0,
        DecodeError::TruncatedHeader { found } => *found,
        DecodeError::FutureVersion { .. } => 8,
        DecodeError::Truncated { offset, .. }
        | DecodeError::FrameTooLarge { offset, .. }
        | DecodeError::Checksum { offset }
        | DecodeError::Record { offset, .. }
        | DecodeError::Invalid { offset, .. }
        | DecodeError::Io { offset, .. } => *offset,
    }
}

/// The error's message without its own `byte N: ` prefix (the position carries it).
fn message_of(e: &DecodeError) -> String {
    let text = e.to_string();
    let prefix = format!("byte {}: ", offset_of(e));
    text.strip_prefix(&prefix)
        .map_or(text.clone(), str::to_owned)
}

fn decode_error(file: &Path, e: &DecodeError) -> LoadError {
    LoadError::new(file, Some(Position::Byte(offset_of(e))), message_of(e))
}

/// What to do with a torn end: an error, or (with `allow_truncated`) the warning to give.
fn truncation(
    file: &Path,
    e: &DecodeError,
    options: &LoadOptions,
) -> Result<(Position, String), LoadError> {
    if !options.allow_truncated {
        return Err(LoadError::new(
            file,
            Some(Position::Byte(offset_of(e))),
            format!(
                "{} (use --allow-truncated to analyze the complete part)",
                message_of(e)
            ),
        ));
    }
    let (at, ignored) = match *e {
        DecodeError::Truncated { offset, found, .. } => (offset, found),
        DecodeError::TruncatedHeader { found } => (0, found),
        _ => (offset_of(e), 0),
    };
    Ok((
        Position::Byte(at),
        format!("truncated at byte {at}: {ignored} bytes of an incomplete record ignored"),
    ))
}

const NO_END: &str =
    "no End record: the recording did not finish cleanly; the trace may be incomplete";

/// Loads a native trace (version 1 or 2) from `input`.
pub(crate) fn load(
    input: impl Read,
    source: &str,
    file: &Path,
    options: &LoadOptions,
) -> Result<Trace, LoadError> {
    let frames = match FrameReader::new(input) {
        Ok(frames) => frames,
        Err(e) if e.is_truncation() => {
            let mut loader = RecordLoader::new(source);
            let (at, message) = truncation(file, &e, options)?;
            loader.warn(Some(at), message);
            return loader.finish(file, options);
        }
        Err(e) => return Err(decode_error(file, &e)),
    };
    if frames.version() >= 2 {
        return load_dense(frames, source, file, options);
    }
    let mut loader = RecordLoader::new(source);
    let mut truncated = false;
    for item in TraceReader::from_frames(frames) {
        match item {
            Ok((offset, record)) => loader.add(record, Some(Position::Byte(offset))),
            Err(e) if e.is_truncation() => {
                let (at, message) = truncation(file, &e, options)?;
                loader.warn(Some(at), message);
                truncated = true;
            }
            Err(e) => return Err(decode_error(file, &e)),
        }
    }
    if !truncated && !loader.ended() {
        loader.warn(None, NO_END);
    }
    loader.finish(file, options)
}

/// Loads the frames of a version-2 file.
fn load_dense(
    mut frames: FrameReader<impl Read>,
    source: &str,
    file: &Path,
    options: &LoadOptions,
) -> Result<Trace, LoadError> {
    let mut loader = DenseLoader::new(source);
    let mut truncated = false;
    loop {
        match frames.next_frame() {
            Ok(Some((offset, payload))) => loader
                .add(offset, payload)
                .map_err(|(at, message)| LoadError::new(file, Some(Position::Byte(at)), message))?,
            Ok(None) => break,
            Err(e) if e.is_truncation() => {
                let (at, message) = truncation(file, &e, options)?;
                loader.warnings.push((Some(at), message));
                truncated = true;
                break;
            }
            Err(e) => return Err(decode_error(file, &e)),
        }
    }
    if !truncated && !loader.ended {
        loader.warnings.push((None, NO_END.to_owned()));
    }
    loader.finish(file, options)
}

/// An undescribed slot.
const NONE: u32 = u32::MAX;
/// Marks an object index that is still a dense id (the object was not described yet).
const PROVISIONAL: u32 = 1 << 31;

/// A decoding error: the byte offset and what is wrong.
type Bad = (u64, String);

/// What the loader knows about one dense thread id.
#[derive(Clone, Debug, Default)]
struct ThreadSlot {
    original: Option<u32>,
    /// `Some(name)` once a `Thread` description was read.
    described: Option<Option<String>>,
    has_batch: bool,
    child: bool,
    /// For the order check: has events, was forked, was forked before its first event, was joined.
    started: bool,
    forked: bool,
    forked_before_start: bool,
    joined: bool,
}

/// What the loader knows about one dense object id.
#[derive(Clone, Debug)]
struct ObjectSlot {
    /// Its `ObjIdx` once described (or, at the end, once placed among the undescribed).
    idx: u32,
    original: Option<u64>,
    /// The kind judged from its first use, for an object never described.
    used_as: Option<ObjectKind>,
    /// For the order check: the last lock and notification sequence numbers, the largest `notified_seen`.
    lock_seq: u64,
    notify_seq: u64,
    max_wake: Option<u64>,
}

impl Default for ObjectSlot {
    fn default() -> ObjectSlot {
        ObjectSlot {
            idx: NONE,
            original: None,
            used_as: None,
            lock_seq: 0,
            notify_seq: 0,
            max_wake: None,
        }
    }
}

/// A described object, by `ObjIdx`.
#[derive(Debug)]
struct Described {
    dense: u32,
    kind: ObjectKind,
    class: u32,
    name: Option<String>,
}

/// Version-2 records into the model; see the module documentation.
struct DenseLoader {
    trace: Trace,
    threads: Vec<ThreadSlot>,
    objects: Vec<ObjectSlot>,
    described: Vec<Described>,
    /// Dense site id to `SiteIdx` (`NONE`: undescribed), and to the writer's id.
    site_idx: Vec<u32>,
    site_original: Vec<Option<u32>>,
    interned: HashMap<Site, SiteIdx>,
    max_site_used: u32,
    /// Whether some event holds a provisional object index.
    provisional: bool,
    /// The `seq` of every `Acquire` and `Release`, in event order (only a merge needs them).
    lock_seqs: Vec<u64>,
    /// Batches in file order: dense thread, first event, end.
    batches: Vec<(u32, usize, usize)>,
    /// Whether the file order meets every merge constraint so far.
    in_order: bool,
    departed: FastHashSet<(u64, u64)>,
    received: FastHashSet<(u64, u64)>,
    warnings: Vec<(Option<Position>, String)>,
    ended: bool,
}

/// The model's mode, or a complaint.
fn mode(code: u8, at: u64) -> Result<sync_trace::Mode, Bad> {
    wire::mode_of(code).ok_or_else(|| (at, format!("mode code {code} (expected 0 to 2)")))
}

fn flag(code: u8, at: u64, name: &str) -> Result<bool, Bad> {
    match code {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err((at, format!("flag `{name}` is {code}, expected 0 or 1"))),
    }
}

/// The index of dense object `id` used as `kind`: its `ObjIdx` when described,
/// else a provisional index (fixed when the loader finishes).
#[inline(always)]
fn object(
    objects: &mut Vec<ObjectSlot>,
    provisional: &mut bool,
    id: u64,
    kind: ObjectKind,
    at: u64,
) -> Result<ObjIdx, Bad> {
    if let Some(slot) = objects.get(id as usize)
        && slot.idx != NONE
    {
        return Ok(ObjIdx(slot.idx));
    }
    let i = dense("object", id, at)?;
    if i >= objects.len() {
        objects.resize(i + 1, ObjectSlot::default());
    }
    objects[i].used_as.get_or_insert(kind);
    *provisional = true;
    Ok(ObjIdx(PROVISIONAL | id as u32))
}

/// [`object`] for a lock event with sequence number `seq`: the file order
/// holds while a lock's sequence numbers do not decrease.
#[inline(always)]
fn lock(
    objects: &mut Vec<ObjectSlot>,
    in_order: &mut bool,
    provisional: &mut bool,
    id: u64,
    seq: u64,
    at: u64,
) -> Result<ObjIdx, Bad> {
    let idx = object(objects, provisional, id, ObjectKind::Mutex, at)?;
    let slot = &mut objects[id as usize];
    *in_order &= seq >= slot.lock_seq;
    slot.lock_seq = seq;
    Ok(idx)
}

/// Checks that `id` is dense enough at `at`.
fn dense(what: &str, id: u64, at: u64) -> Result<usize, Bad> {
    let max = wire::max_dense_id(at).min(u64::from(PROVISIONAL - 1));
    if id > max {
        return Err((
            at,
            format!("{what} id {id} is not dense (at most {max} here); the file is corrupt"),
        ));
    }
    Ok(id as usize)
}

impl DenseLoader {
    fn new(source: &str) -> DenseLoader {
        let mut interned = HashMap::new();
        interned.insert(Site::unknown(), SiteIdx::UNKNOWN);
        DenseLoader {
            trace: Trace::new(source),
            threads: Vec::new(),
            objects: Vec::new(),
            described: Vec::new(),
            site_idx: vec![0],
            site_original: vec![Some(0)],
            interned,
            max_site_used: 0,
            provisional: false,
            lock_seqs: Vec::new(),
            batches: Vec::new(),
            in_order: true,
            departed: FastHashSet::default(),
            received: FastHashSet::default(),
            warnings: Vec::new(),
            ended: false,
        }
    }

    fn thread(&mut self, id: u64, at: u64) -> Result<&mut ThreadSlot, Bad> {
        let i = dense("thread", id, at)?;
        if i >= self.threads.len() {
            self.threads.resize(i + 1, ThreadSlot::default());
        }
        Ok(&mut self.threads[i])
    }

    fn object_slot(&mut self, id: u64, at: u64) -> Result<&mut ObjectSlot, Bad> {
        let i = dense("object", id, at)?;
        if i >= self.objects.len() {
            self.objects.resize(i + 1, ObjectSlot::default());
        }
        Ok(&mut self.objects[i])
    }

    fn site(
        &mut self,
        dense_id: u32,
        original: u32,
        place: Option<(&str, u32, u32)>,
        at: u64,
    ) -> Result<(), Bad> {
        let i = dense("site", u64::from(dense_id), at)?;
        if i >= self.site_idx.len() {
            self.site_idx.resize(i + 1, NONE);
            self.site_original.resize(i + 1, None);
        }
        self.site_original[i] = Some(original);
        // Dense site 0 is the unknown site, whatever a description says (as in version 1).
        if let Some((file, line, column)) = place
            && i != 0
        {
            let site = Site {
                // An empty file name stands for a foreign location id (see `convert`).
                file: (!file.is_empty()).then(|| file.to_owned()),
                line,
                column,
            };
            let next = SiteIdx(self.trace.sites.len() as u32);
            let idx = *self.interned.entry(site.clone()).or_insert(next);
            if idx == next {
                self.trace.sites.push(site);
            }
            self.site_idx[i] = idx.0;
        }
        Ok(())
    }

    /// Takes one frame's payload, read at byte `offset`.
    fn add(&mut self, offset: u64, payload: &[u8]) -> Result<(), Bad> {
        let record = wire::parse_record(payload)
            .map_err(|e| (offset, format!("undecodable record: {e}")))?;
        if self.ended {
            self.warnings.push((
                Some(Position::Byte(offset)),
                "record after the End record ignored".to_owned(),
            ));
            return Ok(());
        }
        match record {
            WireRecord::Process { .. } => {}
            WireRecord::Site {
                dense,
                original,
                place,
            } => self.site(dense, original, place, offset)?,
            WireRecord::Thread {
                dense,
                original,
                name,
            } => {
                let slot = self.thread(u64::from(dense), offset)?;
                slot.original = Some(original);
                if let Some(name) = name {
                    slot.described = Some(name.map(str::to_owned));
                }
            }
            WireRecord::Object {
                dense: id,
                original,
                description,
            } => {
                let next = self.described.len() as u32;
                let slot = self.object_slot(u64::from(id), offset)?;
                slot.original = Some(original);
                if let Some((kind, class, name)) = description {
                    dense("site", u64::from(class), offset)?;
                    let entry = Described {
                        dense: id,
                        kind,
                        class,
                        name: name.map(str::to_owned),
                    };
                    // The last description wins; the first fixes the object's place.
                    if slot.idx == NONE {
                        slot.idx = next;
                        self.described.push(entry);
                    } else {
                        let i = slot.idx as usize;
                        self.described[i] = entry;
                    }
                }
            }
            WireRecord::Events { thread, slots } => self.add_events(offset, thread, slots)?,
            WireRecord::Observed {
                kind,
                message,
                json,
            } => self.trace.observed.push(ObservedReport {
                kind: kind.to_owned(),
                message: message.to_owned(),
                json: json.to_owned(),
            }),
            WireRecord::End => self.ended = true,
        }
        Ok(())
    }

    /// Decodes one batch into `trace.events` (the hot loop).
    fn add_events(&mut self, offset: u64, thread: u32, slots: &[u8]) -> Result<(), Bad> {
        let first_slot = offset + 8 + wire::EVENTS_HEADER_LEN as u64;
        let t = self.thread(u64::from(thread), offset)?;
        t.has_batch = true;
        if slots.is_empty() {
            return Ok(());
        }
        // Events after the thread was joined break the file order (so does a fork after them, below).
        let joined = t.joined;
        if !t.started {
            t.started = true;
            t.forked_before_start = t.forked;
        }
        if joined {
            self.in_order = false;
        }
        // Locals, not fields, so that the loop keeps them in registers (an error drops them).
        let mut events = std::mem::take(&mut self.trace.events);
        let mut seqs = std::mem::take(&mut self.lock_seqs);
        let mut objects = std::mem::take(&mut self.objects);
        let (mut in_order, mut provisional) = (self.in_order, self.provisional);
        let start = events.len();
        events.reserve(slots.len() / wire::EVENT_LEN * 5 / 4);
        let me = ThreadIdx(thread);
        for (i, chunk) in slots.chunks_exact(wire::EVENT_LEN).enumerate() {
            let w = WireEvent::from_bytes(chunk.try_into().expect("a whole slot"));
            let at = first_slot + (i * wire::EVENT_LEN) as u64;
            if w.site > self.max_site_used {
                dense("site", u64::from(w.site), at)?;
                self.max_site_used = w.site;
            }
            let site = SiteIdx(w.site);
            let (a, b) = (u64::from(w.a), w.b);
            let op = match w.tag {
                tag::REQUEST_ACQUIRE => {
                    let lock = lock(&mut objects, &mut in_order, &mut provisional, a, b, at)?;
                    let mode = mode(w.f1, at)?;
                    events.push(Event {
                        thread: me,
                        op: Op::Request { lock, mode },
                        site,
                    });
                    seqs.push(b);
                    Op::Acquire {
                        lock,
                        mode,
                        attempt: Attempt::Blocking,
                    }
                }
                tag::REQUEST => Op::Request {
                    lock: object(&mut objects, &mut provisional, a, ObjectKind::Mutex, at)?,
                    mode: mode(w.f1, at)?,
                },
                tag::ACQUIRE => {
                    let lock = lock(&mut objects, &mut in_order, &mut provisional, a, b, at)?;
                    let attempt = wire::attempt_of(w.f2)
                        .ok_or_else(|| (at, format!("attempt code {} (expected 0 to 2)", w.f2)))?;
                    let mode = mode(w.f1, at)?;
                    seqs.push(b);
                    Op::Acquire {
                        lock,
                        mode,
                        attempt,
                    }
                }
                tag::TRY_FAILED => Op::TryFailed {
                    lock: object(&mut objects, &mut provisional, a, ObjectKind::Mutex, at)?,
                    mode: mode(w.f1, at)?,
                },
                tag::RELEASE => {
                    let lock = lock(&mut objects, &mut in_order, &mut provisional, a, b, at)?;
                    let mode = mode(w.f1, at)?;
                    seqs.push(b);
                    Op::Release { lock, mode }
                }
                tag::ACCESS => {
                    let var = object(&mut objects, &mut provisional, a, ObjectKind::Variable, at)?;
                    let write = flag(w.f1, at, "write")?;
                    match wire::order_of(w.f2) {
                        Some(None) if write => Op::Write { var },
                        Some(None) => Op::Read { var },
                        Some(Some(order)) => {
                            // Version order is left to the merge.
                            in_order = false;
                            Op::Atomic {
                                var,
                                write,
                                order,
                                version: b,
                            }
                        }
                        None => {
                            return Err((
                                at,
                                format!("memory order code {} (expected 0 to 5)", w.f2),
                            ));
                        }
                    }
                }
                tag::COND_WAIT => Op::Wait {
                    condvar: object(&mut objects, &mut provisional, a, ObjectKind::Condvar, at)?,
                    lock: object(&mut objects, &mut provisional, b, ObjectKind::Mutex, at)?,
                    timed: flag(w.f1, at, "timed")?,
                },
                tag::COND_WAKE => {
                    let condvar =
                        object(&mut objects, &mut provisional, a, ObjectKind::Condvar, at)?;
                    let timed_out = flag(w.f1, at, "timed_out")?;
                    let slot = &mut objects[a as usize];
                    slot.max_wake = Some(slot.max_wake.map_or(b, |m| m.max(b)));
                    Op::Wake {
                        condvar,
                        notified_seen: b,
                        timed_out,
                    }
                }
                tag::NOTIFY => {
                    let condvar =
                        object(&mut objects, &mut provisional, a, ObjectKind::Condvar, at)?;
                    let all = flag(w.f1, at, "all")?;
                    let slot = &mut objects[a as usize];
                    // A wake that saw this notification came earlier, or the numbers go back.
                    if b < slot.notify_seq || slot.max_wake.is_some_and(|m| b <= m) {
                        in_order = false;
                    }
                    slot.notify_seq = b;
                    Op::Notify {
                        condvar,
                        all,
                        seq: b,
                    }
                }
                tag::BARRIER_ARRIVE => {
                    let barrier =
                        object(&mut objects, &mut provisional, a, ObjectKind::Barrier, at)?;
                    if self.departed.contains(&(a, b)) {
                        in_order = false;
                    }
                    Op::BarrierArrive {
                        barrier,
                        generation: b,
                    }
                }
                tag::BARRIER_DEPART => {
                    let barrier =
                        object(&mut objects, &mut provisional, a, ObjectKind::Barrier, at)?;
                    self.departed.insert((a, b));
                    Op::BarrierDepart {
                        barrier,
                        generation: b,
                    }
                }
                tag::SEND => {
                    let channel =
                        object(&mut objects, &mut provisional, a, ObjectKind::Channel, at)?;
                    if self.received.contains(&(a, b)) {
                        in_order = false;
                    }
                    Op::Send { channel, seq: b }
                }
                tag::RECV => {
                    let channel =
                        object(&mut objects, &mut provisional, a, ObjectKind::Channel, at)?;
                    self.received.insert((a, b));
                    Op::Recv { channel, seq: b }
                }
                tag::FORK => {
                    let c = self.thread(a, at)?;
                    c.child = true;
                    c.forked = true;
                    let late = c.started && !c.forked_before_start;
                    if late {
                        in_order = false;
                    }
                    Op::Fork {
                        child: ThreadIdx(a as u32),
                    }
                }
                tag::JOIN => {
                    let c = self.thread(a, at)?;
                    c.child = true;
                    if a != u64::from(thread) {
                        c.joined = true;
                    }
                    Op::Join {
                        child: ThreadIdx(a as u32),
                    }
                }
                tag::BEGIN => Op::Begin,
                tag::END => Op::End,
                other => return Err((at, format!("unknown event tag {other}"))),
            };
            events.push(Event {
                thread: me,
                op,
                site,
            });
        }
        self.batches.push((thread, start, events.len()));
        self.objects = objects;
        (self.in_order, self.provisional) = (in_order, provisional);
        self.trace.events = events;
        self.lock_seqs = seqs;
        Ok(())
    }

    fn finish(mut self, file: &Path, options: &LoadOptions) -> Result<Trace, LoadError> {
        // Threads: described ones, ones with batches and fork/join children, by the writer's id.
        let mut by_original: BTreeMap<u32, Option<String>> = BTreeMap::new();
        for (d, slot) in self.threads.iter().enumerate() {
            if slot.described.is_some() || slot.has_batch || slot.child {
                let original = slot.original.unwrap_or(d as u32);
                let name = by_original.entry(original).or_default();
                if let Some(described) = &slot.described {
                    name.clone_from(described);
                }
            }
        }
        let position: HashMap<u32, u32> = by_original
            .keys()
            .enumerate()
            .map(|(i, &o)| (o, i as u32))
            .collect();
        let thread_map: Vec<u32> = self
            .threads
            .iter()
            .enumerate()
            .map(|(d, slot)| {
                position
                    .get(&slot.original.unwrap_or(d as u32))
                    .copied()
                    .unwrap_or(NONE)
            })
            .collect();
        let thread_original: Vec<u32> = by_original.keys().copied().collect();
        let mut names: Vec<String> = by_original
            .into_iter()
            .map(|(o, name)| name.unwrap_or_else(|| format!("T{o}")))
            .collect();
        dedupe(&mut names);
        self.trace.threads = names.into_iter().map(|name| Thread { name }).collect();

        // Sites: dense ids to interned sites; undescribed ones are unknown.
        let site_map: Vec<u32> = self
            .site_idx
            .iter()
            .map(|&s| if s == NONE { 0 } else { s })
            .collect();
        let site_of_original = |d: u32| -> u32 {
            self.site_original
                .get(d as usize)
                .copied()
                .flatten()
                .unwrap_or(d)
        };
        let mut unknown_sites: BTreeSet<u32> = BTreeSet::new();

        // Objects: described ones in order of first description, then undescribed ones by id.
        let mut undescribed: Vec<(u64, ObjectKind, usize)> = self
            .objects
            .iter()
            .enumerate()
            .filter(|(_, s)| s.idx == NONE && s.used_as.is_some())
            .map(|(d, s)| {
                (
                    s.original.unwrap_or(d as u64),
                    s.used_as.expect("filtered"),
                    d,
                )
            })
            .collect();
        undescribed.sort();
        let mut object_original: Vec<u64> = Vec::new();
        for info in &self.described {
            let class = match site_map.get(info.class as usize) {
                Some(&s) if info.class == 0 || self.site_idx[info.class as usize] != NONE => s,
                _ => {
                    unknown_sites.insert(site_of_original(info.class));
                    0
                }
            };
            object_original.push(
                self.objects[info.dense as usize]
                    .original
                    .unwrap_or(u64::from(info.dense)),
            );
            self.trace.objects.push(Object {
                name: info.name.clone().unwrap_or_default(),
                kind: info.kind,
                class: SiteIdx(class),
                user_named: info.name.is_some(),
            });
        }
        if !undescribed.is_empty() {
            let list: Vec<String> = undescribed
                .iter()
                .take(5)
                .map(|(id, _, _)| id.to_string())
                .collect();
            self.warnings.push((
                None,
                format!(
                    "{} objects are used without an Object record (ids {}{}); their kind is guessed from their use",
                    undescribed.len(),
                    list.join(", "),
                    if undescribed.len() > 5 { ", …" } else { "" }
                ),
            ));
        }
        for &(original, kind, d) in &undescribed {
            self.objects[d].idx = self.trace.objects.len() as u32;
            object_original.push(original);
            self.trace.objects.push(Object {
                name: String::new(),
                kind,
                class: SiteIdx::UNKNOWN,
                user_named: false,
            });
        }
        let entries: Vec<_> = self
            .trace
            .objects
            .iter()
            .map(|o| (!o.user_named).then(|| (o.kind, &self.trace.sites[o.class.0 as usize])))
            .collect();
        let generated = generated_names(&entries);
        for (o, name) in self.trace.objects.iter_mut().zip(generated) {
            if let Some(name) = name {
                o.name = name;
            }
        }

        // One pass over the events only when some id is not already the model's index.
        let threads_identity = thread_map
            .iter()
            .enumerate()
            .all(|(d, &t)| t == d as u32 || t == NONE);
        let sites_identity = (1..=self.max_site_used as usize)
            .all(|d| self.site_idx.get(d).is_some_and(|&s| s == d as u32));
        if !threads_identity || !sites_identity || self.provisional {
            let objects = &self.objects;
            let obj = |o: &mut ObjIdx| {
                if o.0 & PROVISIONAL != 0 {
                    o.0 = objects[(o.0 & !PROVISIONAL) as usize].idx;
                }
            };
            let thr = |t: &mut ThreadIdx| t.0 = thread_map[t.0 as usize];
            for e in &mut self.trace.events {
                thr(&mut e.thread);
                let described = site_map.get(e.site.0 as usize).copied();
                e.site = match described {
                    Some(s) if e.site.0 == 0 || self.site_idx[e.site.0 as usize] != NONE => {
                        SiteIdx(s)
                    }
                    _ => {
                        unknown_sites.insert(site_of_original(e.site.0));
                        SiteIdx::UNKNOWN
                    }
                };
                match &mut e.op {
                    Op::Request { lock, .. }
                    | Op::Acquire { lock, .. }
                    | Op::TryFailed { lock, .. }
                    | Op::Release { lock, .. } => obj(lock),
                    Op::Read { var } | Op::Write { var } | Op::Atomic { var, .. } => obj(var),
                    Op::Wait { condvar, lock, .. } => {
                        obj(condvar);
                        obj(lock);
                    }
                    Op::Wake { condvar, .. } | Op::Notify { condvar, .. } => obj(condvar),
                    Op::BarrierArrive { barrier, .. } | Op::BarrierDepart { barrier, .. } => {
                        obj(barrier)
                    }
                    Op::Send { channel, .. } | Op::Recv { channel, .. } => obj(channel),
                    Op::Fork { child } | Op::Join { child } => thr(child),
                    Op::Begin | Op::End | Op::Branch => {}
                }
            }
        }

        if !self.in_order
            && let Some(stuck) = self.merge(&thread_map, &thread_original, &object_original)
        {
            self.warnings.push((None, stuck));
        }
        if !unknown_sites.is_empty() {
            let list: Vec<String> = unknown_sites.iter().take(5).map(u32::to_string).collect();
            self.warnings.push((
                None,
                format!(
                    "site ids without a Site record shown as unknown: {}",
                    list.join(", ")
                ),
            ));
        }
        let mut trace = self.trace;
        let source = trace.source.clone();
        trace.warnings = self
            .warnings
            .into_iter()
            .map(|(position, message)| Warning {
                file: source.clone(),
                position,
                message,
            })
            .collect();
        wellformed::check_trace(&mut trace, file, options.strict)?;
        Ok(trace)
    }

    /// Regroups the (remapped) events per thread and merges them as version 1 does;
    /// returns why the merge got stuck, if it did.
    fn merge(
        &mut self,
        thread_map: &[u32],
        thread_original: &[u32],
        object_original: &[u64],
    ) -> Option<String> {
        let n = thread_original.len();
        let mut native: Vec<ThreadEvents> = thread_original
            .iter()
            .map(|&o| ThreadEvents::new(ThreadId(o)))
            .collect();
        let mut model: Vec<Vec<Event>> = vec![Vec::new(); n];
        let mut seqs = self.lock_seqs.iter().copied();
        let obj = |o: ObjIdx| ObjectId(object_original[o.0 as usize]);
        let thr = |t: ThreadIdx| ThreadId(thread_original[t.0 as usize]);
        for (k, &(dense_thread, start, end)) in self.batches.iter().enumerate() {
            let t = thread_map[dense_thread as usize] as usize;
            let events = &self.trace.events[start..end];
            let batch: Vec<sync_trace::Event> = events
                .iter()
                .map(|e| {
                    use sync_trace::Op as N;
                    let op = match e.op {
                        Op::Request { lock, mode } => N::Request {
                            lock: obj(lock),
                            mode,
                        },
                        Op::Acquire {
                            lock,
                            mode,
                            attempt,
                        } => N::Acquire {
                            lock: obj(lock),
                            mode,
                            attempt,
                            seq: seqs.next().unwrap_or(0),
                        },
                        Op::TryFailed { lock, mode } => N::TryFailed {
                            lock: obj(lock),
                            mode,
                        },
                        Op::Release { lock, mode } => N::Release {
                            lock: obj(lock),
                            mode,
                            seq: seqs.next().unwrap_or(0),
                        },
                        Op::Read { var } => N::Access {
                            var: obj(var),
                            write: false,
                            order: None,
                            version: 0,
                        },
                        Op::Write { var } => N::Access {
                            var: obj(var),
                            write: true,
                            order: None,
                            version: 0,
                        },
                        Op::Atomic {
                            var,
                            write,
                            order,
                            version,
                        } => N::Access {
                            var: obj(var),
                            write,
                            order: Some(order),
                            version,
                        },
                        Op::Wait {
                            condvar,
                            lock,
                            timed,
                        } => N::CondWait {
                            condvar: obj(condvar),
                            lock: obj(lock),
                            timed,
                        },
                        Op::Wake {
                            condvar,
                            notified_seen,
                            timed_out,
                        } => N::CondWake {
                            condvar: obj(condvar),
                            notified_seen,
                            timed_out,
                        },
                        Op::Notify { condvar, all, seq } => N::Notify {
                            condvar: obj(condvar),
                            all,
                            seq,
                        },
                        Op::BarrierArrive {
                            barrier,
                            generation,
                        } => N::BarrierArrive {
                            barrier: obj(barrier),
                            generation,
                        },
                        Op::BarrierDepart {
                            barrier,
                            generation,
                        } => N::BarrierDepart {
                            barrier: obj(barrier),
                            generation,
                        },
                        Op::Send { channel, seq } => N::Send {
                            channel: obj(channel),
                            seq,
                        },
                        Op::Recv { channel, seq } => N::Recv {
                            channel: obj(channel),
                            seq,
                        },
                        Op::Fork { child } => N::Fork { child: thr(child) },
                        Op::Join { child } => N::Join { child: thr(child) },
                        Op::Begin | Op::Branch => N::Begin,
                        Op::End => N::End,
                    };
                    sync_trace::Event {
                        op,
                        site: sync_trace::SiteId(0),
                    }
                })
                .collect();
            native[t].push_batch(batch, k as u64 + 1);
            model[t].extend_from_slice(events);
        }
        let merged = linearize(&native);
        self.trace.events = merged
            .order
            .iter()
            .map(|&(t, i)| model[t as usize][i as usize])
            .collect();
        merged.stuck
    }
}

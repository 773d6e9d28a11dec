//! Native records (from the binary format, JSON Lines or in-process) into the model.
//!
//! Ids are interned in a deterministic order: threads by `ThreadId`, objects
//! in order of their `Object` records (then undescribed ones by id), sites in
//! order of their `Site` records. Unnamed threads are called `T<id>`; unnamed
//! objects `{Kind}@{file name}:{line}` after their class site, with `#k` suffixes
//! (in order of first appearance) when several share a class.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use sync_trace::{ObjectId, ObjectInfo, Record, SiteId, ThreadId};

use super::linearize::{ThreadEvents, linearize};
use super::{LoadError, LoadOptions, wellformed};
use crate::model::fast_hash::FastHashMap;
use crate::model::{
    Event, ObjIdx, Object, ObjectKind, ObservedReport, Op, Position, Site, SiteIdx, Thread,
    ThreadIdx, Trace, Warning,
};

/// Accumulates records, then builds the trace.
pub(crate) struct RecordLoader {
    source: String,
    sites: Vec<(SiteId, Site)>,
    thread_names: HashMap<ThreadId, Option<String>>,
    objects: Vec<ObjectInfo>,
    object_seen: FastHashMap<ObjectId, usize>,
    threads: HashMap<ThreadId, ThreadEvents>,
    batches: u64,
    observed: Vec<ObservedReport>,
    warnings: Vec<(Option<Position>, String)>,
    ended: bool,
}

/// The generated display names of objects without a user name: `entries`
/// holds each object's kind and class site, `None` for user-named objects.
pub(crate) fn generated_names(entries: &[Option<(ObjectKind, &Site)>]) -> Vec<Option<String>> {
    let base: Vec<Option<String>> = entries
        .iter()
        .map(|e| {
            e.map(|(kind, site)| match &site.file {
                // The file name alone keeps names short; the full path stays in the class site.
                Some(file) => {
                    let short = file.rsplit(['/', '\\']).next().unwrap_or(file);
                    format!("{kind:?}@{short}:{}", site.line)
                }
                None if site.line == 0 => format!("{kind:?}@<unknown>"),
                None => format!("{kind:?}@loc{}", site.line),
            })
        })
        .collect();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for name in base.iter().flatten() {
        *count.entry(name).or_default() += 1;
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    base.iter()
        .map(|name| {
            name.as_deref().map(|name| {
                if count[name] > 1 {
                    let k = seen.entry(name).or_default();
                    *k += 1;
                    format!("{name}#{k}")
                } else {
                    name.to_owned()
                }
            })
        })
        .collect()
}

/// Makes duplicate names unique with `#k` suffixes, numbered in order.
pub(crate) fn dedupe(names: &mut [String]) {
    let mut count: HashMap<String, usize> = HashMap::new();
    for n in names.iter() {
        *count.entry(n.clone()).or_default() += 1;
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for n in names.iter_mut() {
        if count[n.as_str()] > 1 {
            let k = seen.entry(n.clone()).or_default();
            *k += 1;
            *n = format!("{n}#{k}");
        }
    }
}

/// The kind an undescribed object has, judged from how an event uses it.
fn kind_from_use(op: &sync_trace::Op) -> Option<(ObjectId, ObjectKind)> {
    use sync_trace::Op as N;
    Some(match *op {
        N::Request { lock, .. }
        | N::Acquire { lock, .. }
        | N::TryFailed { lock, .. }
        | N::Release { lock, .. } => (lock, ObjectKind::Mutex),
        N::CondWait { condvar, .. } | N::CondWake { condvar, .. } | N::Notify { condvar, .. } => {
            (condvar, ObjectKind::Condvar)
        }
        N::BarrierArrive { barrier, .. } | N::BarrierDepart { barrier, .. } => {
            (barrier, ObjectKind::Barrier)
        }
        N::Send { channel, .. } | N::Recv { channel, .. } => (channel, ObjectKind::Channel),
        N::Access { var, .. } => (var, ObjectKind::Variable),
        _ => return None,
    })
}

/// Every object an event refers to (a condvar wait names its mutex too).
fn objects_of(op: &sync_trace::Op) -> impl Iterator<Item = (ObjectId, ObjectKind)> {
    let extra = match *op {
        sync_trace::Op::CondWait { lock, .. } => Some((lock, ObjectKind::Mutex)),
        _ => None,
    };
    kind_from_use(op).into_iter().chain(extra)
}

impl RecordLoader {
    /// An empty loader for a trace shown as `source`.
    pub fn new(source: &str) -> RecordLoader {
        RecordLoader {
            source: source.to_owned(),
            sites: Vec::new(),
            thread_names: HashMap::new(),
            objects: Vec::new(),
            object_seen: FastHashMap::default(),
            threads: HashMap::new(),
            batches: 0,
            observed: Vec::new(),
            warnings: Vec::new(),
            ended: false,
        }
    }

    /// Records a warning.
    pub fn warn(&mut self, position: Option<Position>, message: impl Into<String>) {
        self.warnings.push((position, message.into()));
    }

    /// Whether an `End` record has been seen.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Takes one record read at `position`.
    pub fn add(&mut self, record: Record, position: Option<Position>) {
        if self.ended {
            self.warn(position, "record after the End record ignored");
            return;
        }
        match record {
            Record::Process(_) => {}
            Record::Site(site) => {
                // An empty file name stands for a foreign location id (see `convert`).
                let file = (!site.file.is_empty()).then_some(site.file);
                self.sites.push((
                    site.id,
                    Site {
                        file,
                        line: site.line,
                        column: site.column,
                    },
                ));
            }
            Record::Thread(info) => {
                self.thread_names.insert(info.id, info.name);
            }
            // A repeated description names an object after first use (FORMAT.md):
            // the last one wins, the first fixes its place in the order.
            Record::Object(info) => match self.object_seen.get(&info.id) {
                Some(&i) => self.objects[i] = info,
                None => {
                    self.object_seen.insert(info.id, self.objects.len());
                    self.objects.push(info);
                }
            },
            Record::Events { thread, events } => {
                self.batches += 1;
                let batch = self.batches;
                self.threads
                    .entry(thread)
                    .or_insert_with(|| ThreadEvents::new(thread))
                    .push_batch(events, batch);
            }
            Record::Observed {
                kind,
                message,
                json,
            } => self.observed.push(ObservedReport {
                kind,
                message,
                json,
            }),
            Record::End => self.ended = true,
        }
    }

    /// Builds the trace: interns, linearises and checks well-formedness.
    pub fn finish(mut self, file: &Path, options: &LoadOptions) -> Result<Trace, LoadError> {
        let mut trace = Trace::new(self.source.clone());

        // Sites, in record order; site id 0 is always the unknown site.
        let mut site_of: FastHashMap<SiteId, SiteIdx> = FastHashMap::default();
        let mut interned: HashMap<Site, SiteIdx> = HashMap::new();
        interned.insert(Site::unknown(), SiteIdx::UNKNOWN);
        for (id, site) in std::mem::take(&mut self.sites) {
            if id == SiteId::UNKNOWN {
                continue;
            }
            let idx = *interned.entry(site.clone()).or_insert_with(|| {
                trace.sites.push(site);
                SiteIdx(trace.sites.len() as u32 - 1)
            });
            site_of.insert(id, idx);
        }

        // Threads: described ones, ones with events, and fork/join children; by id.
        let mut ids: BTreeSet<ThreadId> = self.thread_names.keys().copied().collect();
        ids.extend(self.threads.keys().copied());
        for t in self.threads.values() {
            for e in &t.events {
                if let sync_trace::Op::Fork { child } | sync_trace::Op::Join { child } = e.op {
                    ids.insert(child);
                }
            }
        }
        let thread_of: FastHashMap<ThreadId, ThreadIdx> = ids
            .iter()
            .enumerate()
            .map(|(i, &t)| (t, ThreadIdx(i as u32)))
            .collect();
        let mut names: Vec<String> = ids
            .iter()
            .map(|t| {
                self.thread_names
                    .get(t)
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| format!("T{}", t.0))
            })
            .collect();
        dedupe(&mut names);
        trace.threads = names.into_iter().map(|name| Thread { name }).collect();

        // Objects: described ones in record order, then undescribed ones by id.
        let mut undescribed: Vec<(ObjectId, ObjectKind)> = Vec::new();
        let mut undescribed_seen: BTreeSet<ObjectId> = BTreeSet::new();
        for t in self.threads.values() {
            for e in &t.events {
                for (id, kind) in objects_of(&e.op) {
                    if !self.object_seen.contains_key(&id) && undescribed_seen.insert(id) {
                        undescribed.push((id, kind));
                    }
                }
            }
        }
        undescribed.sort();
        if !undescribed.is_empty() {
            let list: Vec<String> = undescribed
                .iter()
                .take(5)
                .map(|(id, _)| id.0.to_string())
                .collect();
            self.warn(
                None,
                format!(
                    "{} objects are used without an Object record (ids {}{}); their kind is guessed from their use",
                    undescribed.len(),
                    list.join(", "),
                    if undescribed.len() > 5 { ", …" } else { "" }
                ),
            );
        }
        let mut unknown_sites: BTreeSet<u32> = BTreeSet::new();
        let site_idx = |id: SiteId, unknown: &mut BTreeSet<u32>| -> SiteIdx {
            if id == SiteId::UNKNOWN {
                return SiteIdx::UNKNOWN;
            }
            site_of.get(&id).copied().unwrap_or_else(|| {
                unknown.insert(id.0);
                SiteIdx::UNKNOWN
            })
        };
        let mut object_of: FastHashMap<ObjectId, ObjIdx> = FastHashMap::default();
        let mut entries = Vec::new();
        for info in &self.objects {
            object_of.insert(info.id, ObjIdx(trace.objects.len() as u32));
            let class = site_idx(info.class, &mut unknown_sites);
            trace.objects.push(Object {
                name: info.name.clone().unwrap_or_default(),
                kind: info.kind,
                class,
                user_named: info.name.is_some(),
            });
        }
        for &(id, kind) in &undescribed {
            object_of.insert(id, ObjIdx(trace.objects.len() as u32));
            trace.objects.push(Object {
                name: String::new(),
                kind,
                class: SiteIdx::UNKNOWN,
                user_named: false,
            });
        }
        for o in &trace.objects {
            entries.push((!o.user_named).then(|| (o.kind, &trace.sites[o.class.0 as usize])));
        }
        let generated = generated_names(&entries);
        for (o, name) in trace.objects.iter_mut().zip(generated) {
            if let Some(name) = name {
                o.name = name;
            }
        }

        // Events: linearise the per-thread batches.
        let mut threads: Vec<ThreadEvents> =
            std::mem::take(&mut self.threads).into_values().collect();
        threads.sort_by_key(|t| t.id);
        let merged = linearize(&threads);
        if let Some(message) = merged.stuck {
            self.warn(None, message);
        }
        let obj = |id: ObjectId| object_of[&id];
        let thr = |id: ThreadId| thread_of[&id];
        trace.events.reserve(merged.order.len());
        for (t, i) in merged.order {
            let thread = &threads[t as usize];
            let e = thread.events[i as usize];
            use sync_trace::Op as N;
            let op = match e.op {
                N::Request { lock, mode } => Op::Request {
                    lock: obj(lock),
                    mode,
                },
                N::Acquire {
                    lock,
                    mode,
                    attempt,
                    ..
                } => Op::Acquire {
                    lock: obj(lock),
                    mode,
                    attempt,
                },
                N::TryFailed { lock, mode } => Op::TryFailed {
                    lock: obj(lock),
                    mode,
                },
                N::Release { lock, mode, .. } => Op::Release {
                    lock: obj(lock),
                    mode,
                },
                N::CondWait {
                    condvar,
                    lock,
                    timed,
                } => Op::Wait {
                    condvar: obj(condvar),
                    lock: obj(lock),
                    timed,
                },
                N::CondWake {
                    condvar,
                    notified_seen,
                    timed_out,
                } => Op::Wake {
                    condvar: obj(condvar),
                    notified_seen,
                    timed_out,
                },
                N::Notify { condvar, all, seq } => Op::Notify {
                    condvar: obj(condvar),
                    all,
                    seq,
                },
                N::BarrierArrive {
                    barrier,
                    generation,
                } => Op::BarrierArrive {
                    barrier: obj(barrier),
                    generation,
                },
                N::BarrierDepart {
                    barrier,
                    generation,
                } => Op::BarrierDepart {
                    barrier: obj(barrier),
                    generation,
                },
                N::Send { channel, seq } => Op::Send {
                    channel: obj(channel),
                    seq,
                },
                N::Recv { channel, seq } => Op::Recv {
                    channel: obj(channel),
                    seq,
                },
                N::Fork { child } => Op::Fork { child: thr(child) },
                N::Join { child } => Op::Join { child: thr(child) },
                N::Begin => Op::Begin,
                N::End => Op::End,
                N::Access {
                    var,
                    write,
                    order: None,
                    ..
                } => {
                    if write {
                        Op::Write { var: obj(var) }
                    } else {
                        Op::Read { var: obj(var) }
                    }
                }
                N::Access {
                    var,
                    write,
                    order: Some(order),
                    version,
                } => Op::Atomic {
                    var: obj(var),
                    write,
                    order,
                    version,
                },
            };
            let site = site_idx(e.site, &mut unknown_sites);
            trace.events.push(Event {
                thread: thr(thread.id),
                op,
                site,
            });
        }
        if !unknown_sites.is_empty() {
            let list: Vec<String> = unknown_sites.iter().take(5).map(u32::to_string).collect();
            self.warn(
                None,
                format!(
                    "site ids without a Site record shown as unknown: {}",
                    list.join(", ")
                ),
            );
        }
        trace.observed = self.observed;
        trace.warnings = self
            .warnings
            .into_iter()
            .map(|(position, message)| Warning {
                file: self.source.clone(),
                position,
                message,
            })
            .collect();
        wellformed::check_trace(&mut trace, file, options.strict)?;
        Ok(trace)
    }
}

//! Writing a loaded trace in another format (`analyzer convert`).
//!
//! Native and JSON Lines output are the same records: one `Events` record per
//! run of consecutive events of one thread, so reading them back reproduces
//! the event order exactly; lock sequence numbers are renumbered from that
//! order. Thread and object names are written only when regeneration would not
//! give them back. Sites of foreign traces (bare location ids) are written with
//! an empty file name, which the reader maps back to a location id.
//!
//! STD output writes `THREAD|op(OPERAND)|LOCATION`; the location is the foreign
//! location id, or the site's index for native sites. Events STD cannot express
//! (failed try-locks, wakes, barriers, channels) are dropped and counted;
//! atomics become plain `r`/`w`. RapidBin output is not supported.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use sync_trace::codec::TraceWriter;
use sync_trace::{ObjectId, ObjectInfo, ProcessInfo, Record, SiteId, ThreadId, ThreadInfo};
use thiserror::Error;

use super::Format;
use super::records::generated_names;
use crate::model::{Op, SiteIdx, Trace};

/// Why a trace could not be written.
#[derive(Debug, Error)]
pub enum ConvertError {
    /// The output format cannot be written.
    #[error("writing {0} is not supported; convert to native, jsonl or std")]
    Unsupported(&'static str),
    /// Writing failed.
    #[error("write error: {0}")]
    Io(#[from] io::Error),
}

/// What a conversion left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConvertReport {
    /// Events the target format cannot express, by kind, with counts.
    pub dropped: BTreeMap<&'static str, usize>,
}

/// Writes `trace` as `to` into `out`.
pub fn write_trace(
    trace: &Trace,
    to: Format,
    out: &mut dyn Write,
) -> Result<ConvertReport, ConvertError> {
    match to {
        Format::Native => {
            let mut writer = TraceWriter::new(out)?;
            let report = to_records(trace, &mut |r| writer.write(r))?;
            writer.flush()?;
            Ok(report)
        }
        Format::Jsonl => {
            let report = to_records(trace, &mut |r| {
                sync_trace::jsonl::write_record(&mut &mut *out, r)
            })?;
            out.flush()?;
            Ok(report)
        }
        Format::Std => write_std(trace, out),
        Format::RapidBin => Err(ConvertError::Unsupported("RapidBin")),
    }
}

/// Which objects are written with their name: user-named ones, and unnamed
/// ones whose generated name would come out differently on reading. Iterated
/// because naming one changes the `#k` numbering of the rest.
fn object_names_to_write(trace: &Trace) -> Vec<bool> {
    let mut named: Vec<bool> = trace.objects.iter().map(|o| o.user_named).collect();
    loop {
        let entries: Vec<_> = trace
            .objects
            .iter()
            .zip(&named)
            .map(|(o, &n)| (!n).then(|| (o.kind, trace.site(o.class))))
            .collect();
        let generated = generated_names(&entries);
        let mut changed = false;
        for (i, g) in generated.iter().enumerate() {
            if let Some(g) = g
                && *g != trace.objects[i].name
            {
                named[i] = true;
                changed = true;
            }
        }
        if !changed {
            return named;
        }
    }
}

fn to_records(
    trace: &Trace,
    write: &mut dyn FnMut(&Record) -> io::Result<()>,
) -> Result<ConvertReport, ConvertError> {
    let mut report = ConvertReport::default();
    write(&Record::Process(ProcessInfo {
        pid: 0,
        program: trace.source.clone(),
    }))?;
    for (i, site) in trace.sites.iter().enumerate().skip(1) {
        write(&Record::Site(sync_trace::Site {
            id: SiteId(i as u32),
            file: site.file.clone().unwrap_or_default(),
            line: site.line,
            column: site.column,
        }))?;
    }
    for (i, thread) in trace.threads.iter().enumerate() {
        let name = (thread.name != format!("T{i}")).then(|| thread.name.clone());
        write(&Record::Thread(ThreadInfo {
            id: ThreadId(i as u32),
            name,
        }))?;
    }
    let named = object_names_to_write(trace);
    for (i, object) in trace.objects.iter().enumerate() {
        write(&Record::Object(ObjectInfo {
            id: ObjectId(i as u64),
            kind: object.kind,
            class: SiteId(object.class.0),
            name: named[i].then(|| object.name.clone()),
        }))?;
    }
    let mut lock_seq: HashMap<u32, u64> = HashMap::new();
    let mut next_seq = |lock: u32| {
        let s = lock_seq.entry(lock).or_insert(0);
        *s += 1;
        *s
    };
    let oid = |o: crate::model::ObjIdx| ObjectId(u64::from(o.0));
    let tid = |t: crate::model::ThreadIdx| ThreadId(t.0);
    let mut batch: Vec<sync_trace::Event> = Vec::new();
    let mut batch_thread = None;
    for e in &trace.events {
        use sync_trace::Op as N;
        let op = match e.op {
            Op::Request { lock, mode } => N::Request {
                lock: oid(lock),
                mode,
            },
            Op::Acquire {
                lock,
                mode,
                attempt,
            } => N::Acquire {
                lock: oid(lock),
                mode,
                attempt,
                seq: next_seq(lock.0),
            },
            Op::TryFailed { lock, mode } => N::TryFailed {
                lock: oid(lock),
                mode,
            },
            Op::Release { lock, mode } => N::Release {
                lock: oid(lock),
                mode,
                seq: next_seq(lock.0),
            },
            Op::Read { var } => N::Access {
                var: oid(var),
                write: false,
                order: None,
                version: 0,
            },
            Op::Write { var } => N::Access {
                var: oid(var),
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
                var: oid(var),
                write,
                order: Some(order),
                version,
            },
            Op::Fork { child } => N::Fork { child: tid(child) },
            Op::Join { child } => N::Join { child: tid(child) },
            Op::Begin => N::Begin,
            Op::End => N::End,
            Op::Branch => {
                *report.dropped.entry("branch").or_default() += 1;
                continue;
            }
            Op::Wait {
                condvar,
                lock,
                timed,
            } => N::CondWait {
                condvar: oid(condvar),
                lock: oid(lock),
                timed,
            },
            Op::Wake {
                condvar,
                notified_seen,
                timed_out,
            } => N::CondWake {
                condvar: oid(condvar),
                notified_seen,
                timed_out,
            },
            Op::Notify { condvar, all, seq } => N::Notify {
                condvar: oid(condvar),
                all,
                seq,
            },
            Op::BarrierArrive {
                barrier,
                generation,
            } => N::BarrierArrive {
                barrier: oid(barrier),
                generation,
            },
            Op::BarrierDepart {
                barrier,
                generation,
            } => N::BarrierDepart {
                barrier: oid(barrier),
                generation,
            },
            Op::Send { channel, seq } => N::Send {
                channel: oid(channel),
                seq,
            },
            Op::Recv { channel, seq } => N::Recv {
                channel: oid(channel),
                seq,
            },
        };
        if batch_thread != Some(e.thread) && !batch.is_empty() {
            let thread = tid(batch_thread.expect("batch has a thread"));
            write(&Record::Events {
                thread,
                events: std::mem::take(&mut batch),
            })?;
        }
        batch_thread = Some(e.thread);
        batch.push(sync_trace::Event {
            op,
            site: SiteId(e.site.0),
        });
    }
    if let Some(t) = batch_thread
        && !batch.is_empty()
    {
        write(&Record::Events {
            thread: tid(t),
            events: batch,
        })?;
    }
    for o in &trace.observed {
        write(&Record::Observed {
            kind: o.kind.clone(),
            message: o.message.clone(),
            json: o.json.clone(),
        })?;
    }
    write(&Record::End)?;
    Ok(report)
}

/// A name STD can carry: characters that would break the line grammar become `_`.
fn std_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_whitespace() || matches!(c, '|' | '(' | ')') {
                '_'
            } else {
                c
            }
        })
        .collect();
    if clean.is_empty() {
        "_".to_owned()
    } else {
        clean
    }
}

fn write_std(trace: &Trace, out: &mut dyn Write) -> Result<ConvertReport, ConvertError> {
    let mut report = ConvertReport::default();
    let threads: Vec<String> = trace.threads.iter().map(|t| std_name(&t.name)).collect();
    let objects: Vec<String> = trace.objects.iter().map(|o| std_name(&o.name)).collect();
    let loc = |s: SiteIdx| {
        let site = trace.site(s);
        if site.file.is_none() { site.line } else { s.0 }
    };
    let mut out = io::BufWriter::new(out);
    for e in &trace.events {
        let (name, operand): (&str, Option<&str>) = match e.op {
            Op::Request { lock, .. } => ("req", Some(&objects[lock.0 as usize])),
            Op::Acquire { lock, .. } => ("acq", Some(&objects[lock.0 as usize])),
            Op::Release { lock, .. } => ("rel", Some(&objects[lock.0 as usize])),
            Op::Read { var }
            | Op::Atomic {
                var, write: false, ..
            } => ("r", Some(&objects[var.0 as usize])),
            Op::Write { var }
            | Op::Atomic {
                var, write: true, ..
            } => ("w", Some(&objects[var.0 as usize])),
            Op::Fork { child } => ("fork", Some(&threads[child.0 as usize])),
            Op::Join { child } => ("join", Some(&threads[child.0 as usize])),
            Op::Begin => ("begin", None),
            Op::End => ("end", None),
            Op::Branch => ("branch", None),
            Op::Wait { lock, .. } => ("wait", Some(&objects[lock.0 as usize])),
            Op::Notify { condvar, all, .. } => (
                if all { "notifyAll" } else { "notify" },
                Some(&objects[condvar.0 as usize]),
            ),
            Op::TryFailed { .. } => {
                *report.dropped.entry("failed try-lock").or_default() += 1;
                continue;
            }
            Op::Wake { .. } => {
                *report.dropped.entry("wake").or_default() += 1;
                continue;
            }
            Op::BarrierArrive { .. } | Op::BarrierDepart { .. } => {
                *report.dropped.entry("barrier").or_default() += 1;
                continue;
            }
            Op::Send { .. } | Op::Recv { .. } => {
                *report.dropped.entry("channel").or_default() += 1;
                continue;
            }
        };
        let thread = &threads[e.thread.0 as usize];
        match operand {
            Some(operand) => writeln!(out, "{thread}|{name}({operand})|{}", loc(e.site))?,
            None => writeln!(out, "{thread}|{name}|{}", loc(e.site))?,
        }
    }
    out.flush()?;
    Ok(report)
}

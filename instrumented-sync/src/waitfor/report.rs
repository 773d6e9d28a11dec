//! [`DeadlockReport`]: what a detected deadlock looks like, as text, JSON and DOT.

use std::fmt;

/// How a deadlock was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detection {
    /// A thread closed a cycle of waits when it started to wait.
    Cycle,
    /// The watchdog found a group of threads none of which can ever be woken.
    ClosedGroup,
    /// The watchdog found every live instrumented thread blocked in an untimed wait.
    AllBlocked,
}

impl Detection {
    /// A short name (`cycle`, `closed-group`, `all-blocked`).
    pub fn as_str(self) -> &'static str {
        match self {
            Detection::Cycle => "cycle",
            Detection::ClosedGroup => "closed-group",
            Detection::AllBlocked => "all-blocked",
        }
    }
}

/// A lock a blocked thread holds, and where it took it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldLock {
    /// The lock's name (`Mutex@file:line` when unnamed).
    pub lock: String,
    /// Where it was acquired (`file:line:column`, or `unknown`).
    pub site: String,
}

/// How a blocked thread's wakers end its wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WakersAre {
    /// Any one of them can: a lock's holder, a joined thread, permit holders.
    AnyOf,
    /// Only all of them can: the readers of a reader-writer lock a writer waits for.
    Readers,
    /// Only all of them can: writers queued for a reader-writer lock ahead of a
    /// reader (std's and parking_lot's locks admit no new reader while a writer waits).
    QueuedWriters,
}

impl WakersAre {
    /// The DOT edge label from the resource to a waker.
    fn edge(self) -> &'static str {
        match self {
            WakersAre::AnyOf => "held by",
            WakersAre::Readers => "read-held by",
            WakersAre::QueuedWriters => "writer queued ahead",
        }
    }

    fn sentence(self) -> &'static str {
        match self {
            WakersAre::AnyOf => "can be woken only by",
            WakersAre::Readers => "waits until each of these readers lets go",
            WakersAre::QueuedWriters => "queued behind the waiting writer(s)",
        }
    }
}

/// One thread of a deadlock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockedThread {
    /// The thread's id in the trace.
    pub id: u32,
    /// Its name (`main`, a `Builder::name`, or `thread-<id>`).
    pub name: String,
    /// What it waits for (`Mutex "a"`, `Condvar "ready"`, `join of worker`, …).
    pub waits_for: String,
    /// The kind of the object waited for (`mutex`, `condvar`, `thread`, …).
    pub resource_kind: String,
    /// Where it waits (`file:line:column`, or `unknown`).
    pub site: String,
    /// The threads that could end its wait, when known.
    pub wakers: Option<Vec<String>>,
    /// How `wakers` end the wait.
    pub wakers_are: WakersAre,
    /// Locks of the deadlock that it holds.
    pub holds: Vec<HeldLock>,
}

/// A deadlock observed while the program ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadlockReport {
    /// How it was found.
    pub detection: Detection,
    /// The blocked threads, by id.
    pub threads: Vec<BlockedThread>,
    /// The cycle of thread names (each waits for the next; the last for the first), when there is one.
    pub cycle: Vec<String>,
    /// The thread that is told to act (panic) on the report.
    pub actor: String,
}

impl DeadlockReport {
    /// The one-line summary (contains the word "deadlock").
    pub fn summary(&self) -> String {
        match self.detection {
            Detection::Cycle | Detection::ClosedGroup if !self.cycle.is_empty() => {
                let mut c = self.cycle.clone();
                c.push(self.cycle[0].clone());
                format!("deadlock: wait-for cycle {}", c.join(" -> "))
            }
            Detection::AllBlocked => format!(
                "deadlock: all {} live instrumented threads are blocked ({})",
                self.threads.len(),
                self.names().join(", ")
            ),
            _ => format!(
                "deadlock: threads {} can never be woken",
                self.names().join(", ")
            ),
        }
    }

    fn names(&self) -> Vec<String> {
        self.threads.iter().map(|t| t.name.clone()).collect()
    }

    /// The names of the locks and other objects waited for, sorted and deduplicated.
    pub fn resources(&self) -> Vec<(String, String)> {
        let mut r: Vec<(String, String)> = self
            .threads
            .iter()
            .filter(|t| t.resource_kind != "thread")
            .map(|t| (t.waits_for.clone(), t.resource_kind.clone()))
            .collect();
        r.sort();
        r.dedup();
        r
    }

    /// The four Coffman conditions, each with the evidence of this deadlock.
    pub fn coffman(&self) -> [(&'static str, String); 4] {
        let exclusive: Vec<String> = self
            .threads
            .iter()
            .filter(|t| t.resource_kind != "thread")
            .map(|t| match (t.resource_kind.as_str(), t.wakers_are) {
                (_, WakersAre::Readers) => {
                    format!("{} is wanted for writing while read-held", t.waits_for)
                }
                (_, WakersAre::QueuedWriters) => {
                    format!("{} admits no new reader while a writer waits", t.waits_for)
                }
                ("condvar" | "barrier" | "channel", _) => {
                    format!(
                        "{} ({}) needs another thread's action",
                        t.waits_for, t.resource_kind
                    )
                }
                ("semaphore", _) => format!("{} has no permit left", t.waits_for),
                (kind, _) => format!("{} ({kind}) is held exclusively", t.waits_for),
            })
            .collect();
        let mutual = if exclusive.is_empty() {
            "each wait needs another thread's action (a join waits for the thread to end)"
                .to_owned()
        } else {
            let mut e = exclusive;
            e.sort();
            e.dedup();
            e.join("; ")
        };
        let holding: Vec<String> = self
            .threads
            .iter()
            .filter(|t| !t.holds.is_empty())
            .map(|t| {
                let held: Vec<String> = t
                    .holds
                    .iter()
                    .map(|h| format!("{} (taken at {})", h.lock, h.site))
                    .collect();
                format!(
                    "{} holds {} while waiting for {} at {}",
                    t.name,
                    held.join(", "),
                    t.waits_for,
                    t.site
                )
            })
            .collect();
        let hold_and_wait = if holding.is_empty() {
            "no blocked thread holds a lock of the deadlock: the threads wait for each other's actions"
                .to_owned()
        } else {
            holding.join("; ")
        };
        let circular = if self.cycle.is_empty() {
            "every thread that could wake a blocked thread is itself blocked".to_owned()
        } else {
            let mut c = self.cycle.clone();
            c.push(self.cycle[0].clone());
            format!("{} (each waits for the next)", c.join(" -> "))
        };
        [
            ("mutual exclusion", mutual),
            ("hold and wait", hold_and_wait),
            (
                "no preemption",
                "nothing takes a lock or permit away from its holder: only the holder releases it"
                    .to_owned(),
            ),
            ("circular wait", circular),
        ]
    }

    /// The wait-for graph in Graphviz DOT: threads as boxes, objects as ellipses,
    /// `waits` edges from a thread to what it waits for, `held by` edges to holders.
    pub fn dot(&self) -> String {
        let mut out = String::from("digraph wait_for {\n  rankdir=LR;\n");
        let q = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        for t in &self.threads {
            out.push_str(&format!("  {} [shape=box];\n", q(&t.name)));
        }
        for t in &self.threads {
            let res = format!("{} ({})", t.waits_for, t.resource_kind);
            out.push_str(&format!("  {} [shape=ellipse];\n", q(&res)));
            // A spin lock's waiter burns CPU: it spins, it does not sleep.
            let verb = if t.resource_kind == "spin-lock" {
                "spins on"
            } else {
                "waits"
            };
            out.push_str(&format!(
                "  {} -> {} [label=\"{verb}\", color=red];\n",
                q(&t.name),
                q(&res)
            ));
            for w in t.wakers.iter().flatten() {
                out.push_str(&format!(
                    "  {} -> {} [label=\"{}\"];\n",
                    q(&res),
                    q(w),
                    t.wakers_are.edge()
                ));
            }
        }
        out.push_str("}\n");
        out
    }

    /// The report as the JSON of a `Record::Observed` (`threads`, `locks`, `cycle`, `coffman`, `dot`).
    pub fn to_json(&self) -> String {
        let threads: Vec<serde_json::Value> = self
            .threads
            .iter()
            .map(|t| {
                serde_json::json!({
                    "id": t.id,
                    "name": t.name,
                    "waits_for": t.waits_for,
                    "resource_kind": t.resource_kind,
                    "site": t.site,
                    "wakers": t.wakers,
                    "wakers_are": match t.wakers_are {
                        WakersAre::AnyOf => "any-of",
                        WakersAre::Readers => "readers",
                        WakersAre::QueuedWriters => "queued-writers",
                    },
                    "holds": t.holds.iter().map(|h| serde_json::json!({"lock": h.lock, "site": h.site})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let locks: Vec<serde_json::Value> = self
            .resources()
            .into_iter()
            .map(|(name, kind)| serde_json::json!({"name": name, "kind": kind}))
            .collect();
        let coffman: serde_json::Map<String, serde_json::Value> = self
            .coffman()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v)))
            .collect();
        serde_json::json!({
            "kind": "observed-deadlock",
            "detection": self.detection.as_str(),
            "message": self.summary(),
            "threads": threads,
            "locks": locks,
            "cycle": self.cycle,
            "actor": self.actor,
            "coffman": coffman,
            "dot": self.dot(),
        })
        .to_string()
    }
}

impl fmt::Display for DeadlockReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary())?;
        writeln!(f, "detected by: {}", self.detection.as_str())?;
        for t in &self.threads {
            let verb = if t.resource_kind == "spin-lock" {
                "spins on"
            } else {
                "waits for"
            };
            writeln!(
                f,
                "  thread {} {verb} {} at {}",
                t.name, t.waits_for, t.site
            )?;
            if let Some(w) = &t.wakers {
                writeln!(f, "    {}: {}", t.wakers_are.sentence(), w.join(", "))?;
            }
            for h in &t.holds {
                writeln!(f, "    holds {} (acquired at {})", h.lock, h.site)?;
            }
        }
        writeln!(f, "Coffman conditions:")?;
        for (name, how) in self.coffman() {
            writeln!(f, "  {name}: {how}")?;
        }
        writeln!(f, "wait-for graph (DOT):")?;
        write!(f, "{}", self.dot())
    }
}

//! Explanations of lock-order findings: the one-line message, the four Coffman
//! conditions with their evidence, and concrete fixes naming locks and sites.
//!
//! Everything here works from the [`CycleStep`]s of one realisation of a
//! cycle: step `i` is a thread holding `holds` and requesting `wants`, and
//! `wants` of step `i` is `holds` of step `i + 1` (cyclically).

use std::collections::BTreeSet;

use crate::finding::{Coffman, Condition, CycleStep, FindingKind, Fix, Mode, SiteRef};

/// Whether a lock held in mode `held` blocks a request in mode `wanted`.
/// Readers share with readers and with one upgradable holder; everything else excludes.
pub fn modes_conflict(held: Mode, wanted: Mode) -> bool {
    !matches!(
        (held, wanted),
        (Mode::Read, Mode::Read) | (Mode::Read, Mode::Upgradable) | (Mode::Upgradable, Mode::Read)
    )
}

/// The mode as a word.
fn mode_word(mode: Mode) -> &'static str {
    match mode {
        Mode::Write => "write",
        Mode::Read => "read",
        Mode::Upgradable => "upgradable-read",
    }
}

/// `A (src/x.rs:10)`, or just `A` when the site is unknown.
fn at(name: &str, site: &SiteRef) -> String {
    if site.line == 0 && site.file.is_none() {
        name.to_owned()
    } else {
        format!("{name} ({})", site.display)
    }
}

/// The one-line message of a cycle finding of `kind`; `gates` are the locks every step holds.
pub fn cycle_message(kind: FindingKind, steps: &[CycleStep], gates: &[String]) -> String {
    let prefix = match kind {
        FindingKind::PredictedDeadlock => "deadlock predicted".to_owned(),
        FindingKind::LockOrderInversion => "lock-order inversion".to_owned(),
        FindingKind::GuardedCycle => format!("lock-order cycle guarded by {}", gates.join(", ")),
        other => other.as_str().to_owned(),
    };
    // Steps, not threads: one thread can close a cycle on its own (taking A then B in one
    // place and B then A in another), and calling that "N threads" misleads.
    let threads: BTreeSet<&str> = steps.iter().map(|s| s.thread.as_str()).collect();
    if let (1, Some(first)) = (threads.len(), steps.first()) {
        let mut order: Vec<&str> = steps.iter().map(|s| s.holds.name.as_str()).collect();
        order.push(first.holds.name.as_str());
        return format!(
            "{prefix}: thread {} alone takes {} in a circular order (each held while taking the next); \
             it cannot deadlock by itself, but another thread running the same code at the same time could",
            first.thread,
            order.join(" → ")
        );
    }
    // Beyond two steps the per-step sentences read as a wall; the chain says the same.
    if steps.len() > 2 {
        let locks: Vec<&str> = steps.iter().map(|s| s.holds.name.as_str()).collect();
        if threads.len() < steps.len() {
            return format!(
                "{prefix}: {} threads take {} locks in a circular order ({}): {}",
                threads.len(),
                steps.len(),
                locks.join(", "),
                circular_wait_chain(steps)
            );
        }
        return format!(
            "{prefix}: {} threads wait in a circle over {}: {}",
            steps.len(),
            locks.join(", "),
            circular_wait_chain(steps)
        );
    }
    let body: Vec<String> = steps
        .iter()
        .map(|s| {
            format!(
                "thread {} holds {} and waits for {}",
                s.thread,
                at(&s.holds.name, &s.held_at),
                s.wants.name
            )
        })
        .collect();
    format!("{prefix}: {}", body.join("; "))
}

/// The chain `T1 → B → T2 → A → T1`: each thread waits for a lock held by the next.
pub fn circular_wait_chain(steps: &[CycleStep]) -> String {
    let mut chain = String::new();
    for s in steps {
        chain.push_str(&format!("{} → {} → ", s.thread, s.wants.name));
    }
    if let Some(first) = steps.first() {
        chain.push_str(&first.thread);
    }
    chain
}

/// The four Coffman conditions for the cycle `steps`, whose every step also holds `gates`.
pub fn coffman(steps: &[CycleStep], gates: &[String]) -> Coffman {
    let k = steps.len();
    let mut exclusive = true;
    let mut mutual = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let next = &steps[(i + 1) % k.max(1)];
        let conflict = modes_conflict(next.holds_mode, s.wants_mode);
        exclusive &= conflict;
        mutual.push(format!(
            "{} ({}) is held in {} mode by {} while {} requests it in {} mode{}",
            s.wants.name,
            s.wants.kind,
            mode_word(next.holds_mode),
            next.thread,
            s.thread,
            mode_word(s.wants_mode),
            if conflict {
                ""
            } else {
                ", and these modes are compatible"
            }
        ));
    }

    let hold_wait: Vec<String> = steps
        .iter()
        .map(|s| {
            format!(
                "{} holds {} (taken at {}) while requesting {} at {}",
                s.thread, s.holds.name, s.held_at.display, s.wants.name, s.wanted_at.display
            )
        })
        .collect();

    let blocking: Vec<String> = steps
        .iter()
        .map(|s| {
            format!(
                "{} requests {} at {}",
                s.thread, s.wants.name, s.wanted_at.display
            )
        })
        .collect();

    let threads: BTreeSet<&str> = steps.iter().map(|s| s.thread.as_str()).collect();
    let distinct = threads.len() == k;
    let chain = circular_wait_chain(steps);
    let (circular, circular_evidence) = if !gates.is_empty() {
        (
            false,
            format!(
                "{chain}, but every thread of the cycle holds {} first, so only one of them can be inside it at a time",
                gates.join(", ")
            ),
        )
    } else if !distinct {
        let names: Vec<&str> = threads.into_iter().collect();
        (
            false,
            format!(
                "{chain}, but the steps run in {} only ({}), so this run cannot close the wait; \
                 it would if these paths ran in different threads concurrently",
                if names.len() == 1 {
                    "one thread"
                } else {
                    "fewer threads than steps"
                },
                names.join(", ")
            ),
        )
    } else {
        (true, chain)
    };

    Coffman {
        mutual_exclusion: Condition {
            holds: exclusive,
            evidence: sentence(&mutual),
        },
        hold_and_wait: Condition {
            holds: k > 0,
            evidence: sentence(&hold_wait),
        },
        no_preemption: Condition {
            holds: k > 0,
            evidence: format!(
                "every request is a blocking acquisition (no try_lock, no timeout): {}",
                blocking.join("; ")
            ),
        },
        circular_wait: Condition {
            holds: circular,
            evidence: circular_evidence,
        },
    }
}

/// Clauses joined into one sentence.
fn sentence(clauses: &[String]) -> String {
    let mut s = clauses.join("; ");
    if !s.is_empty() {
        s.push('.');
    }
    s
}

/// Concrete fixes for the cycle `steps`, whose every step also holds `gates`.
///
/// A guarded cycle (non-empty `gates`) gets one informational entry. Otherwise,
/// in order: a gate lock that protects some steps but not others ("take it here
/// too"), a global order naming the acquisitions that break it, try-lock with
/// back-off at the first of those, and merging the locks.
pub fn fixes(steps: &[CycleStep], gates: &[String]) -> Vec<Fix> {
    let mut out = Vec::new();
    if steps.is_empty() {
        return out;
    }
    if !gates.is_empty() {
        out.push(Fix {
            breaks: "circular-wait".to_owned(),
            advice: format!(
                "informational: the gate lock {} is held on every path of this cycle, so it cannot deadlock; \
                 keep taking it around these acquisitions, or take {} in one global order so the code no longer \
                 depends on the gate",
                gates.join(", "),
                cycle_locks(steps).join(", ")
            ),
        });
        return out;
    }

    // A lock some steps hold and others do not: the sibling paths already rely on it.
    let mut partial: BTreeSet<&str> = BTreeSet::new();
    for s in steps {
        for g in &s.also_held {
            if !steps.iter().all(|o| o.also_held.contains(g)) {
                partial.insert(g.as_str());
            }
        }
    }
    for gate in partial {
        let protected: Vec<String> = steps
            .iter()
            .filter(|s| s.also_held.iter().any(|g| g == gate))
            .map(|s| {
                format!(
                    "the path of {} ({} at {} → {} at {})",
                    s.thread, s.holds.name, s.held_at.display, s.wants.name, s.wanted_at.display
                )
            })
            .collect();
        let unprotected: Vec<String> = steps
            .iter()
            .filter(|s| !s.also_held.iter().any(|g| g == gate))
            .map(|s| {
                format!(
                    "in thread {} before taking {} at {}",
                    s.thread, s.holds.name, s.held_at.display
                )
            })
            .collect();
        out.push(Fix {
            breaks: "circular-wait".to_owned(),
            advice: format!(
                "the gate lock {gate} already protects {}; take it here too: acquire {gate} {}",
                protected.join(" and "),
                unprotected.join(" and ")
            ),
        });
    }

    // A global order: the locks sorted by name; steps taking them against it must change.
    let order = {
        let mut locks = cycle_locks(steps);
        locks.sort();
        locks.dedup();
        locks
    };
    let rank = |name: &str| order.iter().position(|l| l == name).unwrap_or(usize::MAX);
    let violating: Vec<&CycleStep> = steps
        .iter()
        .filter(|s| rank(&s.holds.name) > rank(&s.wants.name))
        .collect();
    if let Some((held_at, wanted_at)) = shared_site_pair(steps) {
        // Every thread runs the same two lines: the order comes from the callers' arguments
        // (transfer(a, b) and transfer(b, a)), so no one acquisition is "the wrong one".
        out.push(Fix {
            breaks: "circular-wait".to_owned(),
            advice: format!(
                "always take {}: every step of the cycle is the same code (the first lock taken at {held_at}, \
                 the second at {wanted_at}), which locks in the order its callers pass the locks; \
                 take them in one global order instead, for example by account id or address \
                 (lock the smaller first, whichever is passed first)",
                order.join(" before ")
            ),
        });
    } else {
        let changes: Vec<String> = violating
            .iter()
            .map(|s| {
                format!(
                    "change the acquisition of {} at {} in thread {} to come before {} (taken at {})",
                    s.wants.name, s.wanted_at.display, s.thread, s.holds.name, s.held_at.display
                )
            })
            .collect();
        if !changes.is_empty() {
            out.push(Fix {
                breaks: "circular-wait".to_owned(),
                advice: format!(
                    "always take {}: {}",
                    order.join(" before "),
                    changes.join("; ")
                ),
            });
        }
    }

    let target = violating.first().copied().unwrap_or(&steps[0]);
    out.push(Fix {
        breaks: "no-preemption".to_owned(),
        advice: format!(
            "in thread {}, take {} at {} with try_lock (or a timeout); when it fails, release {} (taken at {}), \
             back off and retry",
            target.thread, target.wants.name, target.wanted_at.display, target.holds.name, target.held_at.display
        ),
    });

    let locks = order.join(" and ");
    // Each site once, in cycle order: a shared `transfer` would otherwise list one line k times.
    let mut sites: Vec<&str> = Vec::new();
    for s in steps {
        if !sites.contains(&s.wanted_at.display.as_str()) {
            sites.push(s.wanted_at.display.as_str());
        }
    }
    out.push(Fix {
        breaks: "hold-and-wait".to_owned(),
        advice: format!(
            "merge {locks} into one lock guarding all their data, so the nested {} at {} {}",
            if sites.len() == 1 {
                "acquisition"
            } else {
                "acquisitions"
            },
            sites.join(", "),
            if sites.len() == 1 {
                "disappears"
            } else {
                "disappear"
            }
        ),
    });
    out
}

/// The (held, wanted) sites every step shares, when all steps run the same two known
/// source lines; `None` when any differ or a site is unknown.
fn shared_site_pair(steps: &[CycleStep]) -> Option<(&str, &str)> {
    let known = |site: &SiteRef| site.file.is_some() || site.line != 0;
    let first = steps.first()?;
    let same = steps.iter().all(|s| {
        known(&s.held_at)
            && known(&s.wanted_at)
            && s.held_at.display == first.held_at.display
            && s.wanted_at.display == first.wanted_at.display
    });
    (same && steps.len() > 1).then_some((
        first.held_at.display.as_str(),
        first.wanted_at.display.as_str(),
    ))
}

/// The locks of the cycle, in cycle order.
fn cycle_locks(steps: &[CycleStep]) -> Vec<String> {
    steps.iter().map(|s| s.holds.name.clone()).collect()
}

/// The fix for re-acquiring a held lock (self-deadlock or recursive read).
pub fn nesting_fix(kind: FindingKind, lock: &str, held_at: &SiteRef, again_at: &SiteRef) -> Fix {
    let advice = match kind {
        FindingKind::RecursiveReadHazard => format!(
            "take the read lock of {lock} once (at {}) and pass the guard down instead of reading again at {}: \
             a writer queued between the two reads blocks the second and deadlocks both",
            held_at.display, again_at.display
        ),
        FindingKind::SameClassNesting => format!(
            "nest instances of the class of {lock} only in one global order (for example by id or address), \
             as taken at {} then {}",
            held_at.display, again_at.display
        ),
        _ => format!(
            "drop the guard of {lock} taken at {} before locking it again at {}, or pass the guard down",
            held_at.display, again_at.display
        ),
    };
    let breaks = if kind == FindingKind::SameClassNesting {
        "circular-wait"
    } else {
        "hold-and-wait"
    };
    Fix {
        breaks: breaks.to_owned(),
        advice,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::LockRef;

    fn site(line: u32) -> SiteRef {
        SiteRef {
            file: Some("src/x.rs".into()),
            line,
            column: 0,
            display: format!("src/x.rs:{line}"),
        }
    }

    fn lock(name: &str) -> LockRef {
        LockRef {
            name: name.into(),
            kind: "mutex".into(),
            class: None,
        }
    }

    fn step(thread: &str, holds: &str, h: u32, wants: &str, w: u32, also: &[&str]) -> CycleStep {
        CycleStep {
            thread: thread.into(),
            holds: lock(holds),
            holds_mode: Mode::Write,
            held_at: site(h),
            wants: lock(wants),
            wants_mode: Mode::Write,
            wanted_at: site(w),
            also_held: also.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn abba_message_conditions_and_order_fix() {
        let steps = vec![
            step("T1", "A", 10, "B", 11, &[]),
            step("T2", "B", 20, "A", 21, &[]),
        ];
        assert_eq!(
            cycle_message(FindingKind::PredictedDeadlock, &steps, &[]),
            "deadlock predicted: thread T1 holds A (src/x.rs:10) and waits for B; \
             thread T2 holds B (src/x.rs:20) and waits for A"
        );
        let c = coffman(&steps, &[]);
        assert!(
            c.mutual_exclusion.holds
                && c.hold_and_wait.holds
                && c.no_preemption.holds
                && c.circular_wait.holds
        );
        assert_eq!(c.circular_wait.evidence, "T1 → B → T2 → A → T1");
        assert!(
            c.hold_and_wait.evidence.contains("src/x.rs:10")
                && c.hold_and_wait.evidence.contains("src/x.rs:20")
        );
        let f = fixes(&steps, &[]);
        assert_eq!(
            f[0].advice,
            "always take A before B: change the acquisition of A at src/x.rs:21 in thread T2 to come before B \
             (taken at src/x.rs:20)"
        );
        assert!(
            f.iter()
                .any(|f| f.breaks == "no-preemption" && f.advice.contains("try_lock"))
        );
        assert!(
            f.iter()
                .any(|f| f.breaks == "hold-and-wait" && f.advice.starts_with("merge A and B"))
        );
    }

    #[test]
    fn read_read_does_not_exclude() {
        let mut steps = vec![
            step("T1", "A", 10, "B", 11, &[]),
            step("T2", "B", 20, "A", 21, &[]),
        ];
        steps[0].wants_mode = Mode::Read;
        steps[1].holds_mode = Mode::Read;
        let c = coffman(&steps, &[]);
        assert!(!c.mutual_exclusion.holds);
        assert!(c.mutual_exclusion.evidence.contains("compatible"));
    }

    #[test]
    fn single_thread_cycle_has_no_circular_wait() {
        let steps = vec![
            step("T1", "A", 10, "B", 11, &[]),
            step("T1", "B", 20, "A", 21, &[]),
        ];
        let c = coffman(&steps, &[]);
        assert!(!c.circular_wait.holds);
        assert!(c.circular_wait.evidence.contains("different threads"));
    }

    #[test]
    fn partial_gate_is_suggested_and_full_gate_is_informational() {
        let steps = vec![
            step("T1", "A", 10, "B", 11, &["G"]),
            step("T2", "B", 20, "A", 21, &[]),
        ];
        let f = fixes(&steps, &[]);
        assert!(
            f[0].advice
                .starts_with("the gate lock G already protects the path of T1"),
            "{}",
            f[0].advice
        );
        assert!(
            f[0].advice
                .contains("in thread T2 before taking B at src/x.rs:20")
        );

        let gated = vec![
            step("T1", "A", 10, "B", 11, &["G"]),
            step("T2", "B", 20, "A", 21, &["G"]),
        ];
        let f = fixes(&gated, &["G".to_owned()]);
        assert_eq!(f.len(), 1);
        assert!(f[0].advice.starts_with("informational: the gate lock G"));
        assert!(!coffman(&gated, &["G".to_owned()]).circular_wait.holds);
    }

    #[test]
    fn a_one_thread_cycle_says_one_thread() {
        let steps = vec![
            step("T11", "A", 10, "B", 11, &[]),
            step("T11", "B", 20, "C", 21, &[]),
            step("T11", "C", 30, "A", 31, &[]),
        ];
        let message = cycle_message(FindingKind::LockOrderInversion, &steps, &[]);
        assert_eq!(
            message,
            "lock-order inversion: thread T11 alone takes A → B → C → A in a circular order \
             (each held while taking the next); it cannot deadlock by itself, but another thread \
             running the same code at the same time could"
        );
        assert!(!message.contains("3 threads"));
        let two = &steps[..2];
        assert!(
            cycle_message(FindingKind::LockOrderInversion, two, &[])
                .contains("thread T11 alone takes A → B → A")
        );
        // Two threads over three steps are two threads, not three.
        let mut mixed = steps.clone();
        mixed[2].thread = "T12".into();
        assert_eq!(
            cycle_message(FindingKind::LockOrderInversion, &mixed, &[]),
            "lock-order inversion: 2 threads take 3 locks in a circular order (A, B, C): \
             T11 → B → T11 → C → T12 → A → T11"
        );
    }

    #[test]
    fn one_function_taking_two_locks_in_argument_order_gets_a_global_order_fix() {
        // transfer(from, to) locks `from` at line 30, then `to` at line 31, in both threads.
        let steps = vec![
            step("clerk-1", "alice", 30, "bob", 31, &[]),
            step("clerk-2", "bob", 30, "alice", 31, &[]),
        ];
        let f = fixes(&steps, &[]);
        assert_eq!(
            f[0].advice,
            "always take alice before bob: every step of the cycle is the same code (the first lock \
             taken at src/x.rs:30, the second at src/x.rs:31), which locks in the order its callers \
             pass the locks; take them in one global order instead, for example by account id or \
             address (lock the smaller first, whichever is passed first)"
        );
        let merge = f.iter().find(|f| f.breaks == "hold-and-wait").unwrap();
        assert_eq!(
            merge.advice,
            "merge alice and bob into one lock guarding all their data, so the nested acquisition \
             at src/x.rs:31 disappears"
        );
        // Different sites keep the per-site advice.
        let mut apart = steps.clone();
        apart[1].held_at = site(40);
        apart[1].wanted_at = site(41);
        let f = fixes(&apart, &[]);
        assert!(
            f[0].advice
                .contains("change the acquisition of alice at src/x.rs:41"),
            "{}",
            f[0].advice
        );
        assert!(
            f.iter()
                .any(|f| f.advice.contains("src/x.rs:31, src/x.rs:41 disappear"))
        );
    }

    #[test]
    fn modes() {
        assert!(modes_conflict(Mode::Write, Mode::Read));
        assert!(modes_conflict(Mode::Read, Mode::Write));
        assert!(modes_conflict(Mode::Upgradable, Mode::Upgradable));
        assert!(!modes_conflict(Mode::Read, Mode::Read));
        assert!(!modes_conflict(Mode::Upgradable, Mode::Read));
    }
}

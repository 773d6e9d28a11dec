//! The watchdog: a lazily started std thread that finds deadlocks no single
//! wait can see when it starts (waits without a single owner).
//!
//! Every tick (a quarter of the interval, at most 25 ms) it snapshots the
//! registry and reports
//! - a closed group of threads that can never be woken, at once;
//! - a state where every live instrumented thread is blocked and every wait
//!   began at least one interval ago (`INSTRUMENTED_SYNC_WATCHDOG_MS`,
//!   default 100), like Go's "all goroutines are asleep", unless a thread the
//!   detector does not know (a `std::thread`, a pool's worker) may still wake
//!   one of them (see [`super::outsiders`]).
//!
//! With the `panic` action, the verdict goes to one wakeable member (it panics
//! between two wait slices); the others stay eligible for later reports, so a
//! deadlock that outlives the panic is reported again.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock, PoisonError};
use std::time::Duration;

use super::outsiders::Outsiders;
use super::{
    DeadlockAction, Detection, Registry, deadlock_action, graph, mark_reported, publish, registry,
    snapshot,
};

/// Environment variable: the watchdog interval in milliseconds (default 100).
pub const WATCHDOG_MS_VAR: &str = "INSTRUMENTED_SYNC_WATCHDOG_MS";

/// The interval: how long an all-blocked state must last before it is reported.
pub(crate) fn interval() -> Duration {
    static INTERVAL: OnceLock<Duration> = OnceLock::new();
    *INTERVAL.get_or_init(|| {
        let ms = std::env::var(WATCHDOG_MS_VAR)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|&ms| ms > 0)
            .unwrap_or(100);
        Duration::from_millis(ms)
    })
}

/// Starts the watchdog thread on first call.
pub(crate) fn ensure_started() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let tick = (interval() / 4).clamp(Duration::from_millis(1), Duration::from_millis(25));
        // Without a watchdog, blocked waits still work (undetected); a failed spawn is not fatal.
        let _ = std::thread::Builder::new()
            .name("instrumented-sync-watchdog".into())
            .spawn(move || {
                let mut outsiders = Outsiders::default();
                loop {
                    std::thread::sleep(tick);
                    check(&mut outsiders);
                }
            });
    });
}

/// One look at the registry.
fn check(outsiders: &mut Outsiders) {
    let mut reg = registry();
    let snap = snapshot(&reg);
    let members = graph::never_waking(&snap.nodes);
    let unreported = |reg: &Registry, t: &u32| {
        reg.threads
            .get(t)
            .and_then(|s| s.wait.as_ref())
            .is_some_and(|e| !e.reported)
    };
    let (detection, group) = if !members.is_empty() && members.iter().any(|t| unreported(&reg, t)) {
        (Detection::ClosedGroup, members)
    } else if graph::all_blocked(&snap.nodes)
        && reg.threads.values().all(|s| {
            s.wait
                .as_ref()
                .is_some_and(|e| e.since.elapsed() >= interval())
        })
        && reg.threads.keys().any(|t| unreported(&reg, t))
        && !outsiders.may_wake(
            &reg.threads.values().filter_map(|s| s.tid).collect(),
            interval(),
        )
    {
        (
            Detection::AllBlocked,
            reg.threads.keys().copied().collect::<BTreeSet<u32>>(),
        )
    } else {
        return;
    };
    let action = deadlock_action();
    // The actor: a wakeable member, preferring waits nobody owns (condvar,
    // channel, barrier) over joins and locks, then the latest wait.
    let actor = group
        .iter()
        .filter_map(|t| {
            reg.threads
                .get(t)
                .and_then(|s| s.wait.as_ref().map(|e| (t, e)))
        })
        .filter(|(t, e)| e.wakeable && !e.reported && unreported(&reg, t))
        .max_by_key(|(_, e)| (e.wakers.is_ownerless(), e.id))
        .map(|(&t, _)| t);
    let panics = matches!(action, DeadlockAction::Panic) && actor.is_some();
    let actor_id = actor.unwrap_or_else(|| group.iter().copied().next().unwrap_or(0));
    let draft = super::build(&reg, &snap, detection, &group, actor_id);
    if panics {
        if let Some(e) = reg.threads.get_mut(&actor_id).and_then(|s| s.wait.as_mut()) {
            e.reported = true;
        }
    } else {
        mark_reported(&mut reg, &group);
    }
    let verdict = reg.threads.get(&actor_id).map(|s| Arc::clone(&s.verdict));
    let thread = reg.threads.get(&actor_id).and_then(|s| s.thread.clone());
    drop(reg);
    let report = Arc::new(draft.finish());
    publish(&report);
    match action {
        DeadlockAction::Panic if panics => {
            if let Some(v) = verdict {
                *v.report.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some(Arc::clone(&report));
                v.set.store(true, std::sync::atomic::Ordering::Release);
            }
            if let Some(th) = thread {
                th.unpark();
            }
        }
        // No member can be woken to panic: reported only.
        DeadlockAction::Panic | DeadlockAction::Report => {}
        DeadlockAction::Abort => std::process::abort(),
        DeadlockAction::Callback(f) => f(&report),
    }
}

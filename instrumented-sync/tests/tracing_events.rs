//! Every recorded event is also a `tracing` event; a subscriber that itself
//! uses instrumented locks does not make the recorder recurse.
#![cfg(not(feature = "passthrough"))]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use instrumented_sync::Mutex;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// The two tests install scoped subscribers; tracing's global max-level and
/// callsite-interest caches are rebuilt whenever one comes or goes, so a test
/// running beside the other can miss events. One at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Counts `instrumented_sync` events, taking an instrumented lock for each.
struct CountingSubscriber {
    events: AtomicUsize,
    log: Mutex<Vec<String>>,
}

impl Subscriber for CountingSubscriber {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        if event.metadata().target() == "instrumented_sync" {
            self.events.fetch_add(1, Ordering::Relaxed);
            // Re-entrant use of an instrumented lock from inside the recorder.
            self.log
                .lock()
                .unwrap()
                .push(event.metadata().name().to_owned());
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn lock_events_reach_tracing_without_recursion() {
    let _serial = serial();
    let subscriber = Arc::new(CountingSubscriber {
        events: AtomicUsize::new(0),
        log: Mutex::new(Vec::new()),
    });
    let m = Mutex::new(0);
    tracing::subscriber::with_default(Arc::clone(&subscriber), || {
        for _ in 0..10 {
            *m.lock().unwrap() += 1;
        }
    });
    // Request, Acquire and Release per round, after the thread's Begin unless it was seen before.
    let seen = subscriber.events.load(Ordering::Relaxed);
    assert!(seen == 30 || seen == 31, "{seen} tracing events");
    assert_eq!(subscriber.log.lock().unwrap().len(), seen);
}

/// Panics on every `instrumented_sync` event.
struct PanickingSubscriber;

impl Subscriber for PanickingSubscriber {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        if event.metadata().target() == "instrumented_sync" {
            panic!("subscriber failure");
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn recording_survives_a_panicking_subscriber() {
    let _serial = serial();
    let m = Mutex::new(0).named("after-panic");
    drop(m.lock());
    let result = tracing::subscriber::with_default(PanickingSubscriber, || {
        std::panic::catch_unwind(|| drop(m.lock()))
    });
    assert!(result.is_err(), "the subscriber's panic reaches the caller");
    drop(m.lock());
    let records = instrumented_sync::recorded();
    let id = records
        .iter()
        .find_map(|r| match r {
            sync_trace::Record::Object(o) if o.name.as_deref() == Some("after-panic") => Some(o.id),
            _ => None,
        })
        .unwrap();
    let acquires = records
        .iter()
        .filter_map(|r| match r {
            sync_trace::Record::Events { events, .. } => Some(events),
            _ => None,
        })
        .flatten()
        .filter(|e| matches!(e.op, sync_trace::Op::Acquire { lock, .. } if lock == id))
        .count();
    // Before the panic, and after it; the panicking call's own event may or may not be kept.
    assert!(
        acquires >= 2,
        "recording continues after the panic: {acquires}"
    );
}

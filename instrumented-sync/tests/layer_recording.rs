//! The tracing layer: building it sends the trace to the chosen file, and lock
//! events reach the subscriber's other layers with target `instrumented_sync`.
#![cfg(feature = "tracing-layer")]

use std::sync::{Arc, Mutex as StdMutex};

use instrumented_sync::tracing_layer::RecordingLayer;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};

/// Counts events with target `instrumented_sync` whose `op` mentions Acquire.
#[derive(Clone, Default)]
struct Seen(Arc<StdMutex<Vec<String>>>);

impl<S: tracing::Subscriber> Layer<S> for Seen {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() == "instrumented_sync" {
            struct Op(String);
            impl tracing::field::Visit for Op {
                fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                    if f.name() == "op" {
                        self.0 = format!("{v:?}");
                    }
                }
            }
            let mut op = Op(String::new());
            event.record(&mut op);
            self.0.lock().unwrap().push(op.0);
        }
    }
}

#[test]
fn layer_chooses_the_file_and_events_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layer.istrace");
    let seen = Seen::default();
    let layer = RecordingLayer::to_file(&path).unwrap();
    assert_eq!(layer.path(), Some(path.as_path()));
    let subscriber = tracing_subscriber::registry()
        .with(layer)
        .with(seen.clone());
    tracing::subscriber::with_default(subscriber, || {
        let m = instrumented_sync::Mutex::new(0);
        *m.lock().unwrap() += 1;
    });
    instrumented_sync::flush();
    let ops = seen.0.lock().unwrap().clone();
    assert!(ops.iter().any(|o| o.starts_with("Acquire")), "{ops:?}");
    let trace = analyzer::trace::load_path(&path, &analyzer::trace::LoadOptions::default());
    assert!(
        trace.is_ok(),
        "the file is a loadable trace: {:?}",
        trace.err()
    );
}

//! A `tracing_subscriber::Layer` for users who already configure tracing
//! subscribers (feature `tracing-layer`).
//!
//! What it does, precisely: building the layer chooses where this process's
//! lock trace goes, without the `INSTRUMENTED_SYNC_TRACE` environment variable:
//! [`RecordingLayer::to_file`] (a `.istrace` file, as the variable would) or
//! [`RecordingLayer::to_sink`] (any [`Sink`]). The recording itself does not
//! depend on tracing: the recorder writes every event to that sink whether or
//! not a subscriber listens, so the layer never re-parses log lines.
//!
//! How lock events show up in your logs: every recorded event is also a
//! `tracing` event at TRACE level with target `instrumented_sync` and fields
//! `thread` (trace thread id), `site` (site id) and `op` (the operation, e.g.
//! `Acquire { lock: ObjectId(3), mode: Write, attempt: Blocking, seq: 1 }`).
//! Filter them with `instrumented_sync=trace` in an `EnvFilter`, or
//! `Targets::new().with_target("instrumented_sync", Level::TRACE)`. The layer
//! itself does nothing per event ([`RecordingLayer`] lets every event through
//! to the layers beside it).
//!
//! ```
//! use tracing_subscriber::prelude::*;
//! use instrumented_sync::tracing_layer::RecordingLayer;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("app.istrace");
//! let layer = RecordingLayer::to_file(&path).unwrap();
//! let _guard = tracing_subscriber::registry().with(layer).set_default();
//! let m = instrumented_sync::Mutex::new(0);
//! *m.lock().unwrap() += 1;
//! instrumented_sync::flush();
//! assert!(std::fs::metadata(&path).unwrap().len() > 0);
//! ```

use std::io;
use std::path::{Path, PathBuf};

use tracing::Subscriber;
use tracing_subscriber::Layer;

use crate::{FileSink, Sink, set_sink};

/// Sends this process's lock trace to a chosen sink when built; see the module docs.
#[derive(Debug)]
pub struct RecordingLayer {
    path: Option<PathBuf>,
}

impl RecordingLayer {
    /// Records to a new trace file at `path` (replacing any sink set before).
    ///
    /// # Errors
    /// If the file cannot be created.
    pub fn to_file(path: &Path) -> io::Result<RecordingLayer> {
        set_sink(Box::new(FileSink::create(path)?));
        Ok(RecordingLayer {
            path: Some(path.to_owned()),
        })
    }

    /// Records to `sink` (replacing any sink set before).
    pub fn to_sink(sink: Box<dyn Sink>) -> RecordingLayer {
        set_sink(sink);
        RecordingLayer { path: None }
    }

    /// The trace file, when built with [`RecordingLayer::to_file`].
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

impl<S: Subscriber> Layer<S> for RecordingLayer {}

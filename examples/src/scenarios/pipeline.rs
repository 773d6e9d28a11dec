//! Three-stage pipeline (seed scenario 8): download → resize → upload, each
//! stage a worker thread reading one bounded queue and writing the next.
//!
//! Shutdown is by closing: when a stage's input has no sender left, its loop
//! ends and it drops its own output sender, closing the next stage. The bug
//! twin keeps a spare sender of the resize queue (for "retries") open while
//! joining the workers: the resizer waits forever for more input, the uploader
//! for the resizer, the coordinator for both. The live deadlock detector
//! reports that every thread is blocked and the resizer panics with the report.

use std::thread::Result as ThreadResult;

use instrumented_sync::mpsc::{Receiver, SyncSender, sync_channel};
use instrumented_sync::thread;

/// Images pushed through the pipeline (few, to keep the trace small).
const IMAGES: u32 = 4;

/// Joins every worker, then re-raises the first panic (the detector's report).
fn join_all(handles: Vec<thread::JoinHandle<()>>) {
    let results: Vec<ThreadResult<()>> = handles.into_iter().map(|h| h.join()).collect();
    for r in results {
        if let Err(e) = r {
            std::panic::resume_unwind(e);
        }
    }
}

fn stage(
    name: &str,
    input: Receiver<u32>,
    output: Option<SyncSender<u32>>,
    work: fn(u32) -> u32,
) -> thread::JoinHandle<()> {
    thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            // Ends when every sender of `input` is dropped; then `output` drops, closing the next queue.
            for item in input.iter() {
                let done = work(item);
                if let Some(out) = &output {
                    out.send(done).expect("the next stage is running");
                }
            }
        })
        .expect("spawn a stage")
}

fn run(close_spare: bool) {
    // Capacity 1: back-pressure between a fast downloader and slower stages.
    let (to_resize, resize_in) = sync_channel::<u32>(1);
    let (to_upload, upload_in) = sync_channel::<u32>(1);
    let spare = to_resize.clone();
    let downloader = thread::Builder::new()
        .name("download".into())
        .spawn(move || {
            for image in 0..IMAGES {
                to_resize.send(image).expect("the resizer is running");
            }
        })
        .expect("spawn the downloader");
    let resizer = stage("resize", resize_in, Some(to_upload), |image| image * 2);
    let uploader = stage("upload", upload_in, None, |image| image + 1);
    if close_spare {
        drop(spare);
        join_all(vec![downloader, resizer, uploader]);
    } else {
        // Bug: the spare sender is dropped only after the workers end, which they never do.
        join_all(vec![downloader, resizer, uploader]);
        drop(spare);
    }
}

/// Bug twin: a sender of the resize queue is never closed, so the resize and
/// upload stages block forever; the detector ends the program with its report.
pub fn missing_close() {
    run(false);
}

/// Fixed: every sender is closed before joining; each stage drains and ends in turn.
pub fn closed() {
    run(true);
}

//! A mutex around a shared array (seed scenario 2).
//!
//! Several threads rewrite the whole array; a thread switched out half way
//! through would leave it half-modified for the others. The mutex makes each
//! rewrite exclusive, so every reader sees an array whose elements agree.

use instrumented_sync::{Mutex, thread};

const LEN: usize = 64;

/// Four writers each rewrite the array 200 times; every snapshot is uniform.
pub fn locked() {
    let array = Mutex::new([0u32; LEN]).named("array");
    thread::scope(|s| {
        for writer in 1..=4u32 {
            let array = &array;
            thread::Builder::new()
                .name(format!("writer-{writer}"))
                .spawn_scoped(s, move || {
                    for _ in 0..200 {
                        let mut a = array.lock().unwrap();
                        for slot in a.iter_mut() {
                            *slot = writer;
                        }
                        drop(a);
                        let snapshot = *array.lock().unwrap();
                        assert!(snapshot.iter().all(|&v| v == snapshot[0]), "torn array");
                    }
                })
                .unwrap();
        }
    });
}

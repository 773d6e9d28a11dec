//! Fuzzes `sync_trace::codec::TraceReader` (versions 1 and 2, record by
//! record, as `instrumented-sync`'s tests and tools read traces) and the
//! version-2 payload parser on its own. Any panic, hang or OOM is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sync_trace::codec::TraceReader;
use sync_trace::wire::{EVENT_LEN, WireEvent, WireRecord, parse_record};

fuzz_target!(|data: &[u8]| {
    if let Ok(reader) = TraceReader::new(data) {
        for item in reader {
            if let Err(e) = item {
                // Every error names a byte offset.
                assert!(e.to_string().starts_with("byte "), "{e}");
            }
        }
    }
    if let Ok(WireRecord::Events { slots, .. }) = parse_record(data) {
        for (i, slot) in slots.chunks_exact(EVENT_LEN).enumerate() {
            let _ = WireEvent::from_bytes(slot.try_into().unwrap()).ops(i);
        }
    }
});

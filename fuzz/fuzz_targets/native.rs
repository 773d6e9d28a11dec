//! Fuzzes the Native reader: `load_bytes` with the format forced (tolerant and
//! strict), then with content detection. Any panic, hang or OOM is a bug; Ok and Err are both fine.
#![no_main]

use analyzer::trace::{Format, LoadOptions, load_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let tolerant = LoadOptions {
        strict: false,
        allow_truncated: true,
        format: Some(Format::Native),
    };
    let strict = LoadOptions {
        strict: true,
        allow_truncated: false,
        format: Some(Format::Native),
    };
    let _ = load_bytes("fuzz.native", data, &tolerant);
    let _ = load_bytes("fuzz.native", data, &strict);
    let _ = load_bytes("fuzz.native", data, &LoadOptions::default());
});

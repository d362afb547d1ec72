//! `cargo +nightly fuzz run sheet`: see `mammolab::fuzz`.
#![no_main]

use mammolab::fuzz::{Target, LIMITS};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    LIMITS.install();
    Target::Sheet.run(data)
});

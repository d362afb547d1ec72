//! `cargo +nightly fuzz run manifest`: see `mammolab::fuzz`.
#![no_main]

use mammolab::fuzz::{prepare, Target};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    prepare();
    Target::Manifest.run(data)
});

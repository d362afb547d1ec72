//! `cargo +nightly fuzz run scores`: see `mammolab::fuzz`.
#![no_main]

use mammolab::fuzz::{prepare, Target};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    prepare();
    Target::Scores.run(data)
});

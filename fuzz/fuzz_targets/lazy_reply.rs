//! Raw bytes → the partial reader of upstream UDP replies (`tern::fuzzing::lazy_reply`):
//! whatever arrives, it must not panic, and read in part then completed, a reply must be
//! exactly what hickory's full parse reads (and one hickory refuses must not be read whole).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tern::fuzzing::lazy_reply(data);
});

//! The whole resolver fed arbitrary upstream replies, and sequences of them, through a fake
//! internet: each query takes the next reply of the input (patched to answer it), a timeout or
//! a transport error; the walk, the bailiwick scrub, the store stage, the cache, the validator
//! stage, the CNAME chase, glueless lookups and QNAME minimisation all run as in production.
//! Layout and invariants: `tern::fuzzing` (src/fuzzing/).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // One runtime per input, its clock paused: timers cost nothing, and no task of an earlier
    // input can still be alive when `resolve_replies` counts the resolver's walks.
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
    else {
        return;
    };
    runtime.block_on(tern::fuzzing::resolve_replies(data));
});

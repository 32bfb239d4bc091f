//! Raw bytes → the DNS-over-HTTPS request parser: method, request target (path and query
//! string), Content-Type and body, split as `tern::fuzzing::doh_request` documents. Whatever
//! arrives, the parser must not panic, and its verdict must fit the request: a DNS query only
//! from GET or POST of /dns-query, else the status naming what is wrong.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tern::fuzzing::doh_request(data);
});

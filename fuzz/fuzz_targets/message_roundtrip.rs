//! hickory's codec, as tern relies on it: whatever parses must re-encode, and the re-encoded
//! bytes must parse to the same message (the handler echoes parsed questions and records).

#![no_main]

use hickory_proto::op::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = Message::from_vec(data) else {
        return;
    };
    let Ok(bytes) = msg.to_vec() else {
        return;
    };
    let again = match Message::from_vec(&bytes) {
        Ok(m) => m,
        Err(e) => panic!("re-encoded message does not parse: {e}; bytes = {bytes:02x?}"),
    };
    assert_eq!(again.metadata, msg.metadata);
    assert_eq!(again.queries, msg.queries);
});

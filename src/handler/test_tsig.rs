//! What the handler's tests share to sign requests as a TSIG client would (RFC 8945 §5.1).

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::{Name, TSigVerifier};

use crate::tsig::{Key, now_unix};

pub(super) fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("name")
}

/// An HMAC-SHA256 key.
pub(super) fn key(key_name: &str, secret: &[u8]) -> Key {
    Key::new(name(key_name), TsigAlgorithm::HmacSha256, secret.to_vec()).expect("key")
}

/// `m` signed with `key` now, and the verifier a client would check the response with.
pub(super) fn signed(mut m: Message, key: &Key) -> (Vec<u8>, TSigVerifier) {
    let verifier = m
        .finalize(key.signer(), now_unix())
        .expect("sign")
        .expect("verifier");
    (m.to_vec().expect("encode"), verifier)
}

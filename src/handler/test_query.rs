//! The query a stub resolver sends, as the handler's tests put it on the wire.

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

/// An A query for `qname` with EDNS (1232 bytes, the DNS Flag Day 2020 size), RD as given.
pub(super) fn query(qname: &str, rd: bool) -> Vec<u8> {
    let mut m = Message::new(0x4242, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = rd;
    m.add_query(Query::query(
        Name::from_ascii(qname).expect("name"),
        RecordType::A,
    ));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    m.set_edns(e);
    m.to_vec().expect("encodes")
}

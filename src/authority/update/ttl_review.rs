//! Review probe: the TTLs of an RRset after an UPDATE (RFC 2181 §5.2).

use std::path::Path;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};

use super::{apply, patched};
use crate::authority::Zone;
use crate::testing::name;

const ZONE: &str = "$ORIGIN t.test.\n$TTL 300\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n\
www A 192.0.2.10\nwww A 192.0.2.11\n";

/// RFC 2181 §5.2: the RRs of an RRset must share one TTL, and a client seeing them differ
/// "should treat this as an error". After `update add www 60 A 192.0.2.10` (a member already
/// there, with another TTL) tern serves `www` at 60 and 300 at once. BIND sets the whole RRset
/// to the new TTL; Knot leaves an existing RR as it is. Either keeps one TTL per RRset; which
/// one to follow is a design choice (update/mod.rs documents the literal reading).
#[test]
#[ignore = "bug: an UPDATE can leave an RRset with mixed TTLs (RFC 2181 §5.2); BIND/Knot never do"]
fn an_update_leaves_each_rrset_with_one_ttl() {
    let zone = Zone::from_text(ZONE, Path::new("t.zone"), None).expect("zone");
    let mut m = Message::new(1, MessageType::Query, OpCode::Update);
    m.add_query(Query::query(name("t.test."), RecordType::SOA));
    m.add_authority(Record::from_rdata(
        name("www.t.test."),
        60,
        RData::A(A::new(192, 0, 2, 10)),
    ));
    let m = Message::from_vec(&m.to_vec().expect("encodes")).expect("parses");
    let applied = apply(&zone, &m).expect("accepted");
    let after = patched(zone.records().cloned(), &applied.diff);
    let mut ttls: Vec<u32> = after
        .iter()
        .filter(|r| r.name == name("www.t.test.") && r.record_type() == RecordType::A)
        .map(|r| r.ttl)
        .collect();
    ttls.dedup();
    assert_eq!(ttls.len(), 1, "TTLs of www A: {ttls:?}");
}

//! A YXDOMAIN answer (RFC 6672 §2.2: a DNAME substitution too long for a name) is kept like
//! other answers with an RCODE of their own, as Unbound's message cache keeps it: for the
//! shortest TTL in it, the DNAME's. The resolver keeps no RRset for it; without the tier every
//! client asking again costs a query upstream.

use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Record, RecordType};

use super::*;
use crate::wire::parse;
use crate::wire::tests::{name, query};

#[test]
fn a_yxdomain_answer_is_kept_for_its_dnames_ttl() {
    let answers: Messages<Option<u8>> = Messages::with_capacity(64);
    let t0 = Instant::now();
    let qname = "x.d.test.";
    let mut m = Message::new(0x1234, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.recursion_available = true;
    m.metadata.response_code = ResponseCode::YXDomain;
    m.add_query(Query::query(name(qname), RecordType::A));
    m.add_answer(Record::from_rdata(
        name("d.test."),
        300,
        crate::rr::dname::rdata(&name("far.test.")),
    ));
    assert!(
        answers.insert(&mut m, t0, false, None, 0).is_some(),
        "encoded"
    );
    let q = query(qname, |_| {});
    let at = |secs| t0 + Duration::from_secs(secs);
    let bytes = answers
        .answer(&q, &parse(&q).expect("parsed"), 1232, at(100))
        .expect("kept");
    let hit = Message::from_vec(&bytes).expect("parses");
    assert_eq!(hit.metadata.response_code, ResponseCode::YXDomain);
    assert_eq!(hit.answers.len(), 1);
    assert_eq!(hit.answers[0].ttl, 200);
    assert!(
        answers
            .answer(&q, &parse(&q).expect("parsed"), 1232, at(300))
            .is_none(),
        "not past the DNAME's TTL"
    );
}

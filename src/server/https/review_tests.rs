//! Review findings on the DoH request parser and the answer's HTTP headers: a negative answer
//! behind a CNAME is cached by HTTP no longer than its SOA allows (RFC 2308 §5, RFC 8484
//! §5.1), and a `dns` parameter whose symbols are percent-encoded is the same parameter
//! (RFC 3986 §6.2.2.2: unreserved characters percent-encoded are equivalent to themselves).

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{RData, Record, RecordType};

use super::request::{self, HttpError, PATH};
use super::response::max_age;
use super::response::tests::{name, soa};

/// `www.example. A` → CNAME (TTL 3600) → `gone.example.`, which does not exist: NXDOMAIN with
/// the zone's SOA (TTL 900, MINIMUM 60) in the authority section.
fn nxdomain_behind_a_cname() -> Vec<u8> {
    let mut m = Message::new(0, MessageType::Response, OpCode::Query);
    m.metadata.response_code = ResponseCode::NXDomain;
    m.add_query(Query::query(name("www.example."), RecordType::A));
    m.add_answer(Record::from_rdata(
        name("www.example."),
        3600,
        RData::CNAME(CNAME(name("gone.example."))),
    ));
    m.add_authority(Record::from_rdata(name("example."), 900, soa(60)));
    m.to_vec().expect("encodes")
}

#[test]
fn a_negative_answer_behind_a_cname_lives_no_longer_than_its_soa_says() {
    // An HTTP cache keeps the whole reply, NXDOMAIN included: past 60 s it would still tell
    // clients that a name created since does not exist.
    assert_eq!(max_age(&nxdomain_behind_a_cname()), Some(60));
    // NODATA behind the CNAME: the same.
    let mut nodata = Message::from_vec(&nxdomain_behind_a_cname()).expect("parses");
    nodata.metadata.response_code = ResponseCode::NoError;
    assert_eq!(max_age(&nodata.to_vec().expect("encodes")), Some(60));
}

/// `www.example. A`, ID 0, RD=1 (the parser's own tests' query).
const QUERY: &[u8] =
    b"\x00\x00\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x00\x00\x01\x00\x01";

#[test]
fn a_percent_encoded_dns_parameter_is_the_same_parameter() {
    // "AAABAAABAAAAAAAAA3d3dwdleGFtcGxlAAABAAE" with its first two symbols percent-encoded.
    let query = "dns=%41%41ABAAABAAAAAAAAA3d3dwdleGFtcGxlAAABAAE";
    let head = request::Head {
        method: "GET",
        path: PATH,
        query: Some(query),
        content_type: None,
    };
    assert_eq!(
        request::parse(&head, b""),
        Ok::<_, HttpError>(QUERY.to_vec())
    );
}

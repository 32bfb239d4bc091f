//! Review probe: IXFR over UDP (RFC 1995 §2).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{RData, Record, RecordType};

use crate::acl::{Acl, TransferAcl};
use crate::authority::{Catalog, Zone};
use crate::handler::test_tsig::name;
use crate::handler::{Handler, HandlerConfig, Transfers, Transport};
use crate::metrics::Metrics;
use crate::tsig::Keyring;

const ZONE: &str = "$ORIGIN ix.test.\n$TTL 300\n\
@ SOA ns hostmaster 7 3600 600 86400 60\n@ NS ns\nns A 127.0.0.90\nwww A 192.0.2.1\n";

fn handler(allow: Acl) -> Handler {
    let zone = Zone::from_text(ZONE, Path::new("ix.zone"), None).expect("zone");
    let handler = Handler::new(
        Catalog::new([zone]).expect("catalog"),
        HandlerConfig::default(),
        Arc::new(Metrics::default()),
    );
    let acl = TransferAcl {
        cidrs: allow,
        keys: Vec::new(),
    };
    handler.with_transfers(Transfers::new(Keyring::default()).allow(&name("ix.test."), acl))
}

/// An IXFR request from a client at `serial`: the client's SOA in the authority section.
fn ixfr(serial: u32) -> Vec<u8> {
    let mut m = Message::new(0x1f1f, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(name("ix.test."), RecordType::IXFR));
    let soa = SOA::new(
        name("ns.ix.test."),
        name("hostmaster.ix.test."),
        serial,
        1,
        1,
        1,
        1,
    );
    m.add_authority(Record::from_rdata(name("ix.test."), 0, RData::SOA(soa)));
    m.to_vec().expect("encode")
}

async fn over_udp(handler: &Handler, bytes: &[u8]) -> Message {
    let src = SocketAddr::from(([127, 0, 0, 1], 5300));
    let out = handler
        .handle_bytes(bytes, src, Transport::Udp)
        .await
        .expect("a reply");
    Message::from_vec(&out).expect("parses")
}

/// RFC 1995 §2: "Transport of a query may be by either UDP or TCP"; a client that is current
/// gets the single SOA of the server's version, and one that is not, when the answer does not
/// fit (tern never tries), gets that single SOA too, "to inform the client that a TCP query
/// should be initiated". Knot answers so. A well-formed IXFR (its SOA in the authority section
/// is what RFC 1995 §3 asks for) must not be FORMERR.
#[tokio::test]
async fn ixfr_over_udp_gets_the_single_soa_of_our_version() {
    let handler = handler(Acl::loopback());
    for client in [5, 7] {
        let answer = over_udp(&handler, &ixfr(client)).await;
        assert_eq!(
            answer.metadata.response_code,
            ResponseCode::NoError,
            "{client}"
        );
        assert!(answer.metadata.authoritative, "{client}");
        assert_eq!(answer.queries.len(), 1, "the question is echoed");
        let serials: Vec<Option<u32>> = answer
            .answers
            .iter()
            .map(|r| match &r.data {
                RData::SOA(soa) => Some(soa.serial),
                _ => None,
            })
            .collect();
        assert_eq!(serials, vec![Some(7)], "client at {client}: {answer:?}");
    }
    // The ACL still applies over UDP.
    let refused = over_udp(&self::handler(Acl::new(Vec::new())), &ixfr(5)).await;
    assert_eq!(refused.metadata.response_code, ResponseCode::Refused);
}

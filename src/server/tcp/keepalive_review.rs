//! Review finding on edns-tcp-keepalive (RFC 7828) over a stream: a client's query carries the
//! option empty (§3.2.1: "Clients MUST specify an OPTION-LENGTH of 0 and omit the TIMEOUT
//! value"). Unbound answers a query whose option holds a TIMEOUT with FORMERR over TCP and TLS
//! ("query with bad edns keepalive", testdata/edns_keepalive.rpl); tern answered it as if it
//! were well formed. Over UDP the option is ignored (§3.3.1), whatever it holds.

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{Name, RecordType};

use super::hit_tests::handler;
use super::*;
use crate::handler::Reply;

/// `www.alpha.test. A` with a keepalive option holding `data`.
fn query(data: &[u8]) -> Vec<u8> {
    let mut m = Message::new(42, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(
        Name::from_ascii("www.alpha.test.").expect("name"),
        RecordType::A,
    ));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    e.options_mut()
        .insert(EdnsOption::Unknown(11, data.to_vec()));
    m.set_edns(e);
    m.to_vec().expect("encodes")
}

async fn rcode(h: &Handler, q: &[u8], transport: Transport) -> ResponseCode {
    let peer = SocketAddr::from(([127, 182, 0, 1], 5300));
    let idle = Duration::from_secs(10);
    match h.handle_stream(q, peer, transport, idle).await {
        Some(Reply::One(bytes)) => {
            Message::from_vec(&bytes)
                .expect("parses")
                .metadata
                .response_code
        }
        _ => panic!("one reply"),
    }
}

#[tokio::test]
async fn a_keepalive_option_with_a_timeout_in_a_query_is_formerr_over_a_stream() {
    let h = handler();
    for transport in [Transport::Tcp, Transport::Tls] {
        assert_eq!(
            rcode(&h, &query(&[]), transport).await,
            ResponseCode::NoError,
            "empty, as RFC 7828 §3.2.1 has clients send it"
        );
        assert_eq!(
            rcode(&h, &query(&[0, 0xff]), transport).await,
            ResponseCode::FormErr,
            "{transport:?}: a TIMEOUT only servers send"
        );
    }
    // Over UDP the option is ignored (RFC 7828 §3.3.1), whatever it holds.
    let peer = SocketAddr::from(([127, 182, 0, 1], 5300));
    let udp = h
        .handle_bytes(&query(&[0, 0xff]), peer, Transport::Udp)
        .await
        .expect("a reply");
    assert_eq!(
        Message::from_vec(&udp)
            .expect("parses")
            .metadata
            .response_code,
        ResponseCode::NoError
    );
}

//! Every answer that carries the resolver's validated data obeys its verdict: bogus data never
//! reaches a client that did not set CD, whether it comes from a walk, from the cache of a
//! snooping (RD=0) client, or at the end of an alias out of a local zone.

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

use crate::authority::Catalog;
use crate::handler::{Acl, Handler, HandlerConfig, Recursion, Transport};
use crate::metrics::Metrics;
use crate::resolver::fake::zone;
use crate::resolver::tests::validate::{signed_net, validating};

const LOCAL: &str = "$TTL 300
@ IN SOA ns.local.example. h.local.example. 1 3600 600 86400 300
@ IN NS ns.local.example.
ns IN A 127.0.0.53
good IN CNAME www.secure.test.
bad IN CNAME www.bogus.test.
";

fn handler() -> Handler {
    let (net, anchors) = signed_net();
    let resolver = validating(&net, anchors);
    let catalog = Catalog::new([zone("local.example.", LOCAL)]).expect("catalog");
    let metrics = Arc::new(Metrics::default());
    Handler::new(catalog, HandlerConfig::default(), metrics).with_recursion(Recursion {
        resolver,
        acl: Acl::loopback(),
        snoop: Acl::loopback(),
    })
}

/// An A query with DO=1 and the RD and CD bits as given.
fn ask(qname: &str, rd: bool, cd: bool) -> Vec<u8> {
    let mut m = Message::new(0x4242, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = rd;
    m.metadata.checking_disabled = cd;
    m.add_query(Query::query(
        Name::from_ascii(qname).expect("name"),
        RecordType::A,
    ));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    e.enable_dnssec();
    m.set_edns(e);
    m.to_vec().expect("encodes")
}

/// The reply's RCODE, AD bit, answer count (RRSIGs included: DO=1) and EDE info codes.
async fn reply(h: &Handler, q: &[u8]) -> (ResponseCode, bool, usize, Vec<u16>) {
    let client: SocketAddr = "127.0.0.1:40000".parse().expect("address");
    let wire = h
        .handle_bytes(q, client, Transport::Udp)
        .await
        .expect("answered");
    let m = Message::from_vec(&wire).expect("reply parses");
    let edes = crate::handler::ede_option::ede_of(&m)
        .map(|(code, _)| code)
        .into_iter()
        .collect();
    (
        m.metadata.response_code,
        m.metadata.authentic_data,
        m.answers.len(),
        edes,
    )
}

#[tokio::test(start_paused = true)]
async fn an_alias_out_of_a_local_zone_into_a_bogus_one_is_servfail() {
    let h = handler();
    let (rcode, ad, _, ede) = reply(&h, &ask("bad.local.example.", true, false)).await;
    assert_eq!((rcode, ad, ede), (ResponseCode::ServFail, false, vec![6]));
    // CD=1: the data, unchecked, without AD.
    let (rcode, ad, answers, _) = reply(&h, &ask("bad.local.example.", true, true)).await;
    assert_eq!((rcode, ad, answers), (ResponseCode::NoError, false, 3));
    // Into a secure zone: answered; the local part was not validated, so no AD.
    let (rcode, ad, answers, _) = reply(&h, &ask("good.local.example.", true, false)).await;
    assert_eq!((rcode, ad, answers), (ResponseCode::NoError, false, 3));
}

#[tokio::test(start_paused = true)]
async fn a_snooping_client_gets_ad_on_secure_data_and_servfail_on_bogus() {
    let h = handler();
    let (rcode, ad, _, _) = reply(&h, &ask("www.secure.test.", true, false)).await;
    assert_eq!((rcode, ad), (ResponseCode::NoError, true));
    let (rcode, ad, answers, _) = reply(&h, &ask("www.secure.test.", false, false)).await;
    assert_eq!((rcode, ad, answers), (ResponseCode::NoError, true, 2));
    let (rcode, _, _, ede) = reply(&h, &ask("www.bogus.test.", true, false)).await;
    assert_eq!((rcode, ede), (ResponseCode::ServFail, vec![6]));
    let (rcode, ad, _, ede) = reply(&h, &ask("www.bogus.test.", false, false)).await;
    assert_eq!((rcode, ad, ede), (ResponseCode::ServFail, false, vec![6]));
    let (rcode, ad, answers, _) = reply(&h, &ask("www.bogus.test.", false, true)).await;
    assert_eq!((rcode, ad, answers), (ResponseCode::NoError, false, 2));
}

/// RFC 4035 §5.3.4: an ANY answer a zone expanded from a wildcard is secure with the proof
/// that the name does not exist; a DO=1 client gets AD=1 and the proof (the NSEC) to check
/// it itself, from the walk and from the cache, never an EDE.
#[tokio::test(start_paused = true)]
async fn an_any_answer_expanded_from_a_wildcard_gets_ad_and_its_proof() {
    let h = handler();
    let mut q = Message::from_vec(&ask("x.wild.secure.test.", true, false)).expect("query");
    q.queries[0].set_query_type(RecordType::ANY);
    let q = q.to_vec().expect("encodes");
    let client: SocketAddr = "127.0.0.1:40000".parse().expect("address");
    for _ in 0..2 {
        let wire = h.handle_bytes(&q, client, Transport::Udp).await;
        let m = Message::from_vec(&wire.expect("answered")).expect("reply parses");
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{m}");
        assert!(m.metadata.authentic_data, "{m}");
        assert!(!m.answers.is_empty(), "{m}");
        let nsec = |r: &hickory_proto::rr::Record| r.record_type() == RecordType::NSEC;
        assert!(m.authorities.iter().any(nsec), "{m}");
        assert_eq!(crate::handler::ede_option::ede_of(&m), None, "{m}");
    }
}

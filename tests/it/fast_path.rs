//! The hit path over real sockets: the second asking of a question is answered from the kept
//! wire answer (counted in `fast_hits`), with the asker's ID and question case, TTLs that do
//! not grow, the same records, and OPT as the asker's; clients without recursion and RD=0
//! take the full path (TCP has a hit path of its own, `transport::stream_hits`).

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::support::{self, query, tcp, udp_raw, zone};

const SUBNET: u8 = 224;

const FAST_ZONE_1: &str =
    "$TTL 300\n@ SOA ns h 1 3600 600 86400 60\n@ NS ns\nns A 192.0.2.53\nwww A 192.0.2.1\n";
const FAST_ZONE_2: &str =
    "$TTL 300\n@ SOA ns h 2 3600 600 86400 60\n@ NS ns\nns A 192.0.2.53\nwww A 192.0.2.2\n";

async fn ask(server: SocketAddr, msg: &Message) -> Message {
    let reply = udp_raw(
        server,
        &msg.to_vec().expect("encode"),
        Duration::from_secs(5),
    )
    .await
    .expect("an answer");
    Message::from_vec(&reply).expect("parses")
}

/// Records as lowercase text: names compare without case (RFC 4343), and in the hit path's
/// answers names compressed against the question take the case the client wrote it in.
fn records(m: &Message) -> Vec<String> {
    let mut out: Vec<String> = m
        .answers
        .iter()
        .chain(&m.authorities)
        .map(|r| format!("{} {} {}", r.name, r.record_type(), r.data).to_lowercase())
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_question_is_answered_by_the_hit_path_like_the_full_one() {
    let bind = SocketAddr::new(support::addr(SUBNET, 100), 0);
    let r = support::start_recursive(SUBNET, bind, tern::Acl::loopback()).await;
    let server = r.server.addr;
    let fast = || r.metrics.fast_hits();

    for (qname, qtype, rcode) in [
        ("www.alpha.test.", RecordType::A, ResponseCode::NoError),
        (
            "cname-cross.alpha.test.",
            RecordType::A,
            ResponseCode::NoError,
        ),
        ("nope.alpha.test.", RecordType::A, ResponseCode::NXDomain),
    ] {
        let first = ask(server, &query(qname, qtype, true, Some(1232))).await;
        assert_eq!(first.metadata.response_code, rcode, "{qname}");
        let before = fast();
        // The same question in another case, without EDNS, with another ID.
        let upper = qname.to_uppercase();
        let mut again = query(&upper, qtype, true, None);
        again.metadata.id = first.metadata.id.wrapping_add(1);
        let second = ask(server, &again).await;
        assert_eq!(fast(), before + 1, "{qname}: answered by the hit path");
        assert_eq!(second.metadata.id, again.metadata.id);
        assert_eq!(
            second.queries[0].name().to_ascii(),
            upper,
            "question as asked"
        );
        assert_eq!(second.metadata.response_code, rcode);
        assert!(second.metadata.recursion_available && !second.metadata.authoritative);
        assert!(second.edns.is_none(), "no OPT for a query without one");
        assert_eq!(records(&second), records(&first), "{qname}: same records");
        for (a, b) in first.answers.iter().zip(&second.answers) {
            assert!(b.ttl <= a.ttl, "{qname}: TTL {} then {}", a.ttl, b.ttl);
        }
        // With EDNS and DO=0 again: OPT with our payload.
        let third = ask(server, &query(qname, qtype, true, Some(4096))).await;
        assert_eq!(fast(), before + 2);
        assert_eq!(third.edns.map(|e| e.max_payload()), Some(1232));
    }

    // RD=0 takes the full path; over TCP the connection's own hit path answers.
    let before = fast();
    let rd0 = ask(
        server,
        &query("www.alpha.test.", RecordType::A, false, None),
    )
    .await;
    assert_eq!(
        rd0.metadata.response_code,
        ResponseCode::Refused,
        "no snoop allowed"
    );
    let over_tcp = tcp(server, &query("www.alpha.test.", RecordType::A, true, None)).await;
    assert_eq!(over_tcp.metadata.response_code, ResponseCode::NoError);
    assert_eq!(fast(), before + 1, "RD=0 not a hit, TCP one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_without_recursion_never_get_kept_answers() {
    let bind = SocketAddr::new(support::addr(SUBNET, 101), 0);
    // Recursion for 127.224.0.200/32 only: the test's own address is refused.
    let acl = tern::Acl::new(vec!["127.224.0.200/32".parse().expect("cidr")]);
    let r = support::start_recursive(SUBNET + 1, bind, acl).await;
    let refused = ask(
        r.server.addr,
        &query("www.alpha.test.", RecordType::A, true, None),
    )
    .await;
    assert_eq!(refused.metadata.response_code, ResponseCode::Refused);
    assert_eq!(r.metrics.fast_hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authoritative_answers_are_kept_until_the_zones_change() {
    let at = SocketAddr::new(support::addr(SUBNET, 102), 0);
    let served = support::start_authoritative(at, vec![zone("fast.test.", FAST_ZONE_1)]).await;
    let fast = || served.handler.metrics().fast_hits();
    let q = query("www.fast.test.", RecordType::A, false, Some(1232));
    let first = ask(served.addr, &q).await;
    let second = ask(served.addr, &q).await;
    assert_eq!(fast(), 1);
    assert!(second.metadata.authoritative && !second.metadata.recursion_available);
    assert_eq!(records(&second), records(&first));
    assert_eq!(
        second.answers[0].ttl, first.answers[0].ttl,
        "a zone's TTL, not counted down"
    );

    // A reload (or UPDATE, or transfer) swaps the catalog: the next answer is the new data.
    let catalog = tern::Catalog::new([zone("fast.test.", FAST_ZONE_2)]).expect("catalog");
    served.handler.set_catalog(catalog);
    let third = ask(served.addr, &q).await;
    assert_eq!(third.answers[0].data.to_string(), "192.0.2.2");
    assert_eq!(fast(), 1, "not from the kept answer");
    let fourth = ask(served.addr, &q).await;
    assert_eq!(fourth.answers[0].data.to_string(), "192.0.2.2");
    assert_eq!(fast(), 2);
}

//! Review: README "Rate limits" promises that `[rrl]` accounts every UDP answer of a server
//! with `no_recursion`, errors included (NSD runs every processed query's answer through RRL;
//! BIND has an "errors" class, `errors-per-second`). Replies the edge words before the query
//! service (NOTIMP for an opcode we do not serve, FORMERR, BADCOOKIE, a bad TSIG's NOTAUTH)
//! never reached `limit_response`, so a spoofed flood of them was answered in full. And the
//! query limit counted none of the BADCOOKIE and NOTAUTH replies to recursive queries.

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{Name, RecordType};

use super::tests::{authoritative, client, parse, recursive};
use crate::handler::test_query::query;
use crate::handler::test_tsig::{key, signed};
use crate::handler::{Handler, Transport};
use crate::metrics::Metrics;
use crate::ratelimit::Action;

/// `q` sent `n` times over `transport` from `from`: the replies (`None`: nothing sent).
async fn flood(
    h: &Handler,
    q: &[u8],
    from: &str,
    transport: Transport,
    n: usize,
) -> Vec<Option<Vec<u8>>> {
    let mut replies = Vec::new();
    for _ in 0..n {
        replies.push(h.handle_bytes(q, client(from), transport).await);
    }
    replies
}

/// An A query for `qname` (RD as given) whose OPT carries a COOKIE option of `cookie`.
fn with_cookie(qname: &str, rd: bool, cookie: &[u8]) -> Vec<u8> {
    let mut m = Message::new(0x4242, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = rd;
    m.add_query(Query::query(
        Name::from_ascii(qname).expect("name"),
        RecordType::A,
    ));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    e.options_mut()
        .insert(EdnsOption::Unknown(10, cookie.to_vec()));
    m.set_edns(e);
    m.to_vec().expect("encodes")
}

/// A client cookie and a server cookie we never made (RFC 7873 §4): BADCOOKIE over UDP.
const WRONG: [u8; 24] = [
    0x24, 0x64, 0xc4, 0xab, 0xcf, 0x10, 0xc9, 0x57, 1, 0, 0, 0, 0x5c, 0xf7, 0x9f, 0x11, 9, 9, 9, 9,
    9, 9, 9, 9,
];

/// An A query for `qname` (RD as given) signed with a key nobody here knows: NOTAUTH (BADKEY).
fn badly_signed(qname: &str, rd: bool) -> Vec<u8> {
    let mut m = Message::new(0x4242, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = rd;
    m.add_query(Query::query(
        Name::from_ascii(qname).expect("name"),
        RecordType::A,
    ));
    signed(m, &key("stranger.", b"fedcba9876543210fedcba9876543210")).0
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_notimp_replies_is_held_to_rrl() {
    let h = authoritative(1, 0);
    let mut q = query("www.alpha.test.", false);
    // OPCODE 2 (STATUS): NOTIMP.
    q[2] = (q[2] & 0x87) | (2 << 3);
    let answered = flood(&h, &q, "192.0.2.1", Transport::Udp, 10).await;
    let answered: Vec<_> = answered.into_iter().flatten().collect();
    assert!(
        answered.len() <= 2,
        "{} of 10 answered at 1/s, slip 0",
        answered.len()
    );
    let first = parse(&answered[0]);
    assert_eq!(first.metadata.response_code, ResponseCode::NotImp);
    // Errors have an account of their own: the name's answer is not spent by them.
    let www = h
        .handle_bytes(
            &query("www.alpha.test.", false),
            client("192.0.2.1"),
            Transport::Udp,
        )
        .await;
    assert_eq!(parse(&www.expect("answered")).answers.len(), 1);
    let m = h.metrics();
    assert_eq!(Metrics::get(&m.rate_limited), 9);
    assert_eq!(Metrics::get(&m.dropped), 9);
}

#[tokio::test(start_paused = true)]
async fn formerr_over_the_rate_slips_truncated_and_tcp_is_answered_in_full() {
    let h = authoritative(1, 1);
    let mut q = query("www.alpha.test.", false);
    // ANCOUNT 1 with no answer there: the header parses, the body does not (FORMERR).
    q[7] = 1;
    let replies = flood(&h, &q, "192.0.2.1", Transport::Udp, 4).await;
    let replies: Vec<Message> = replies
        .iter()
        .map(|r| parse(r.as_deref().expect("slip 1: every reply goes out")))
        .collect();
    assert!(
        replies
            .iter()
            .all(|r| r.metadata.response_code == ResponseCode::FormErr)
    );
    let truncated: Vec<bool> = replies.iter().map(|r| r.metadata.truncation).collect();
    assert_eq!(
        truncated,
        [false, true, true, true],
        "slipped past the first"
    );
    for r in flood(&h, &q, "192.0.2.1", Transport::Tcp, 3).await {
        let r = parse(&r.expect("TCP is never limited"));
        assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
        assert!(!r.metadata.truncation);
    }
    // Another /24 has its own account.
    let other = flood(&h, &q, "192.0.3.1", Transport::Udp, 1).await;
    assert!(
        !parse(other[0].as_deref().expect("sent"))
            .metadata
            .truncation
    );
    // A packet too short for a header is dropped as before, charged to no account.
    let limited = Metrics::get(&h.metrics().rate_limited);
    assert_eq!(
        flood(&h, &q[..5], "192.0.2.9", Transport::Udp, 2).await,
        [None, None]
    );
    assert_eq!(Metrics::get(&h.metrics().rate_limited), limited);
    assert_eq!(Metrics::get(&h.metrics().formerr), 8);
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_badcookie_replies_is_held_to_rrl() {
    let h = authoritative(1, 0);
    let q = with_cookie("www.alpha.test.", false, &WRONG);
    let replies = flood(&h, &q, "192.0.2.1", Transport::Udp, 5).await;
    let first = parse(replies[0].as_deref().expect("the first is answered"));
    assert_eq!(first.metadata.response_code, ResponseCode::BADCOOKIE);
    assert_eq!(&replies[1..], [None, None, None, None]);
    // Over TCP the handshake proved the address: answered, and never limited.
    for r in flood(&h, &q, "192.0.2.1", Transport::Tcp, 3).await {
        assert_eq!(parse(&r.expect("answered")).answers.len(), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_notauth_replies_is_held_to_rrl() {
    let h = authoritative(1, 2);
    let q = badly_signed("www.alpha.test.", false);
    let replies = flood(&h, &q, "192.0.2.1", Transport::Udp, 5).await;
    let first = parse(replies[0].as_deref().expect("the first is answered"));
    assert_eq!(first.metadata.response_code, ResponseCode::NotAuth);
    assert!(!first.metadata.truncation);
    // Slip 2: dropped, truncated, dropped, truncated.
    assert_eq!((&replies[1], &replies[3]), (&None, &None));
    for slipped in [&replies[2], &replies[4]] {
        let slipped = parse(slipped.as_deref().expect("slipped"));
        assert_eq!(slipped.metadata.response_code, ResponseCode::NotAuth);
        assert!(slipped.metadata.truncation);
    }
}

#[tokio::test(start_paused = true)]
async fn the_query_limit_counts_queries_answered_badcookie_or_notauth() {
    // Burst 2 at 1/s; 127.0.0.1 may recurse.
    let h = recursive(Action::Refuse);
    let q = with_cookie("www.alpha.test.", true, &WRONG);
    let rcodes = |replies: Vec<Option<Vec<u8>>>| -> Vec<ResponseCode> {
        replies
            .iter()
            .map(|r| parse(r.as_deref().expect("a reply")).metadata.response_code)
            .collect()
    };
    let udp = rcodes(flood(&h, &q, "127.0.0.1", Transport::Udp, 3).await);
    let refused = ResponseCode::Refused;
    assert_eq!(
        udp,
        [ResponseCode::BADCOOKIE, ResponseCode::BADCOOKIE, refused]
    );
    let signed = badly_signed("www.alpha.test.", true);
    for transport in [Transport::Udp, Transport::Tcp] {
        let r = rcodes(flood(&h, &signed, "127.0.0.1", transport, 1).await);
        assert_eq!(r, [refused], "{transport:?}");
    }
    // Another /24 is under its rate: NOTAUTH as ever.
    let other = rcodes(flood(&h, &signed, "127.0.1.1", Transport::Udp, 1).await);
    assert_eq!(other, [ResponseCode::NotAuth]);
    assert_eq!(Metrics::get(&h.metrics().rate_limited), 3);
}

//! The client's own rules: what a reply must echo, the request's bytes, the source address it
//! leaves from, ICMP errors, and the TCP stream's end and mismatches. The callers' exchanges
//! (SOA, AXFR/IXFR, NOTIFY, TSIG) are tested through `replication::fetch`, the resolver's
//! through its tests and `tests/it`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use tokio::net::{TcpListener, UdpSocket};

use super::tcp::TcpQuery;
use super::udp::UdpQuery;
use super::*;
use crate::frame::{read_frame, write_frame};

fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("name")
}

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// The response a conforming server gives to `request`.
fn echo(request: &Message) -> Message {
    let mut m = Message::response(request.metadata.id, request.metadata.op_code);
    m.queries = request.queries.clone();
    m
}

#[test]
fn what_a_reply_must_echo_depends_on_the_caller() {
    let qname = name("www.example.test.");
    let request = request(OpCode::Notify, &qname, RecordType::SOA, false);
    let id = request.metadata.id;
    let answer = Expected::answer(id, &qname, RecordType::SOA);
    let response = Expected::response(&request).expect("one question");

    type Change = fn(&mut Message);
    // (what is changed in a conforming reply, accepted as the resolver's answer, as
    // replication's first response, as a later message of its stream)
    let cases: &[(&str, Change, bool, bool, bool)] = &[
        ("nothing", |_| {}, true, true, true),
        (
            "name in other case",
            |m| {
                m.queries[0].set_name(name("WWW.Example.TEST."));
            },
            true,
            true,
            true,
        ),
        ("ID", |m| m.metadata.id ^= 1, false, false, false),
        (
            "QR=0",
            |m| m.metadata.message_type = MessageType::Query,
            false,
            false,
            false,
        ),
        (
            "opcode",
            |m| m.metadata.op_code = OpCode::Update,
            true,
            false,
            false,
        ),
        (
            "name",
            |m| {
                m.queries[0].set_name(name("other.test."));
            },
            false,
            false,
            false,
        ),
        (
            "type",
            |m| {
                m.queries[0].set_query_type(RecordType::A);
            },
            false,
            false,
            false,
        ),
        (
            "class",
            |m| {
                m.queries[0].set_query_class(DNSClass::CH);
            },
            false,
            false,
            false,
        ),
        (
            "two questions",
            |m| m.queries.push(m.queries[0].clone()),
            false,
            false,
            false,
        ),
        // Unbound takes it too: ID, address and port are the proof that it answers us.
        ("no question", |m| m.queries.clear(), true, false, true),
        (
            "no question, REFUSED",
            |m| {
                m.queries.clear();
                m.metadata.response_code = ResponseCode::Refused;
            },
            true,
            true,
            true,
        ),
        (
            "no question, wrong ID",
            |m| {
                m.queries.clear();
                m.metadata.id ^= 1;
            },
            false,
            false,
            false,
        ),
    ];
    for (changed, change, as_answer, as_first, as_later) in cases {
        let mut reply = echo(&request);
        change(&mut reply);
        assert_eq!(
            answer.matches(&reply, true),
            *as_answer,
            "{changed}: answer"
        );
        assert_eq!(
            response.matches(&reply, true),
            *as_first,
            "{changed}: first"
        );
        assert_eq!(
            response.matches(&reply, false),
            *as_later,
            "{changed}: later"
        );
        assert_eq!(response.check(&reply, true).is_ok(), *as_first, "{changed}");
    }
}

#[test]
fn a_request_without_one_question_has_no_expected_reply() {
    let mut request = request(OpCode::Query, &name("a.test."), RecordType::A, false);
    request.queries.clear();
    assert!(matches!(
        Expected::response(&request),
        Err(ClientError::Encode(_))
    ));
}

#[test]
fn requests_encode_as_hickory_would_and_read_back() {
    let qname = name("a.b.c.alpha.test.");
    let soa_like = Record::from_rdata(qname.clone(), 300, RData::A(A::new(192, 0, 2, 1)));
    for edns in [true, false] {
        for with_record in [false, true] {
            let mut m = request(OpCode::Query, &qname, RecordType::AAAA, edns);
            if with_record {
                // A second name: compressed, as hickory encodes it.
                m.add_answer(soa_like.clone());
            }
            let signed = Signed::new(&m, None).expect("encodes");
            assert_eq!(signed.bytes(), m.to_vec().expect("encodes"), "edns {edns}");
            let read = Message::from_vec(signed.bytes()).expect("parses");
            assert!(
                !read.metadata.recursion_desired,
                "to authoritative servers: RD=0"
            );
            assert_eq!(read.edns.is_some(), edns);
            assert_eq!(read.metadata.id, m.metadata.id);
        }
    }
    let ids: std::collections::HashSet<u16> = (0..32)
        .map(|_| {
            request(OpCode::Query, &qname, RecordType::A, false)
                .metadata
                .id
        })
        .collect();
    assert!(ids.len() > 16, "IDs are random: {ids:?}");
}

#[test]
fn a_source_of_the_other_family_is_left_to_the_kernel() {
    let v4: SocketAddr = "192.0.2.1:53".parse().expect("addr");
    let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    assert_eq!(Peer::new(v4, Some(v6)).source, None);
    assert_eq!(Peer::new(v4, Some(loopback(9))).source, Some(loopback(9)));
    assert_eq!(Peer::from(v4).source, None);
}

#[tokio::test]
async fn udp_leaves_from_the_source_address_and_takes_only_the_matching_reply() {
    let server = UdpSocket::bind((loopback(1), 0)).await.expect("bind");
    let addr = server.local_addr().expect("addr");
    let qname = name("www.example.test.");
    let request = request(OpCode::Query, &qname, RecordType::A, true);
    let expected = Expected::answer(request.metadata.id, &qname, RecordType::A);
    let signed = Signed::new(&request, None).expect("encodes");
    let sent = UdpQuery::send(Peer::new(addr, Some(loopback(7))), signed.bytes()).expect("sends");

    let mut buf = [0; 512];
    let (len, from) = server.recv_from(&mut buf).await.expect("request");
    assert_eq!(from.ip(), loopback(7), "bound to the source address");
    assert_ne!(from.port(), 0);
    let asked = Message::from_vec(&buf[..len]).expect("parses");
    let mut forged = echo(&asked);
    forged.metadata.id ^= 1;
    let right = echo(&asked);
    for reply in [&forged, &right] {
        let bytes = reply.to_vec().expect("encodes");
        server.send_to(&bytes, from).await.expect("reply");
    }
    let (got, timing) = sent
        .reply(&expected, |raw, m| Some((raw.len(), m)))
        .await
        .expect("reply");
    assert_eq!(
        got.1.metadata.id, right.metadata.id,
        "the forged ID was skipped"
    );
    assert_eq!(
        got.0,
        right.to_vec().expect("encodes").len(),
        "its own bytes"
    );
    assert!(timing.rtt + timing.lag < std::time::Duration::from_secs(5));
}

#[tokio::test]
async fn nobody_listening_is_a_refused_connection() {
    let closed = UdpSocket::bind((loopback(1), 0)).await.expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let qname = name("www.example.test.");
    let expected = Expected::answer(1, &qname, RecordType::A);
    let sent = UdpQuery::send(Peer::from(addr), b"\x00\x01").expect("sends");
    let err = sent
        .reply(&expected, |_, m| Some(m))
        .await
        .expect_err("ICMP");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}

/// A TCP server on 127.0.0.1 that answers the first request with `frames(request)`, then
/// closes; it reports the address the connection came from.
async fn tcp_server(
    frames: fn(&Message) -> Vec<Message>,
) -> (SocketAddr, tokio::task::JoinHandle<SocketAddr>) {
    let listener = TcpListener::bind((loopback(1), 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let served = tokio::spawn(async move {
        let (mut tcp, from) = listener.accept().await.expect("accept");
        let raw = read_frame(&mut tcp).await.expect("read").expect("request");
        let request = Message::from_vec(&raw).expect("parses");
        for m in frames(&request) {
            write_frame(&mut tcp, &m.to_vec().expect("encodes"))
                .await
                .expect("write");
        }
        from
    });
    (addr, served)
}

#[tokio::test]
async fn a_tcp_stream_reads_until_the_server_closes() {
    let (addr, served) = tcp_server(|request| {
        let mut later = echo(request);
        later.queries.clear();
        let mut wrong = echo(request);
        wrong.metadata.id ^= 1;
        vec![echo(request), later, wrong]
    })
    .await;
    let qname = name("example.test.");
    let request = request(OpCode::Query, &qname, RecordType::AXFR, false);
    let expected = Expected::response(&request).expect("one question");
    let signed = Signed::new(&request, None).expect("encodes");
    let peer = Peer::new(addr, Some(loopback(8)));
    let mut tcp = TcpQuery::open(peer, signed, expected, None)
        .await
        .expect("opens");
    assert!(tcp.next().await.is_ok(), "first, with the question");
    assert!(tcp.next().await.is_ok(), "later, without");
    assert!(matches!(tcp.next().await, Err(ClientError::Malformed(_))));
    assert!(matches!(tcp.next().await, Err(ClientError::Closed(2))));
    assert_eq!(tcp.messages(), 2);
    assert!(tcp.finish().is_ok(), "unsigned: nothing to finish");
    assert_eq!(
        served.await.expect("served").ip(),
        loopback(8),
        "bound to the source"
    );
}

#[tokio::test(start_paused = true)]
async fn a_deadline_ends_a_silent_stream() {
    // Never accepted: the kernel completes the handshake and takes the request, and then
    // nothing comes.
    let listener = TcpListener::bind((loopback(1), 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let qname = name("example.test.");
    let request = request(OpCode::Query, &qname, RecordType::AXFR, false);
    let expected = Expected::response(&request).expect("one question");
    let signed = Signed::new(&request, None).expect("encodes");
    let timeout = std::time::Duration::from_secs(3);
    let deadline = Some(Deadline::after(timeout));
    let mut tcp = TcpQuery::open(Peer::from(addr), signed, expected, deadline)
        .await
        .expect("opens");
    match tcp.next().await {
        Err(ClientError::Timeout(t)) => assert_eq!(t, timeout),
        other => panic!("{other:?}"),
    }
    drop(listener);
}

mod cookies;
mod empty_question;

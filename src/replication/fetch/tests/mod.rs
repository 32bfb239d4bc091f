//! `query_soa`, `transfer` and `notify` against tiny servers on 127.0.0.1 written here, each
//! answering with exactly the bytes a case needs (right, truncated, forged, signed, stalled).

mod transfer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hickory_proto::op::OpCode;
use hickory_proto::rr::rdata::tsig::TsigError;
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{RData, RecordType};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, UdpSocket};

use super::*;
use crate::frame::{read_frame, write_frame};
use crate::tsig::{
    Keyring, ResponseStream, TsigAlgorithm, TsigClientError, Verified, now_unix, sign_response,
    verify,
};

/// The largest DNS message: what a test server reads a request into.
const MAX_MESSAGE: usize = 65_535;

const WAIT: Duration = Duration::from_secs(5);

fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("name")
}

fn zone() -> Name {
    name("cluster.test.")
}

fn soa(serial: u32) -> Record {
    Record::from_rdata(
        zone(),
        300,
        RData::SOA(SOA::new(
            name("ns.cluster.test."),
            name("admin.cluster.test."),
            serial,
            3600,
            600,
            86400,
            300,
        )),
    )
}

fn a(host: &str, last: u8) -> Record {
    Record::from_rdata(
        name(&format!("{host}.cluster.test.")),
        300,
        RData::A(A::new(192, 0, 2, last)),
    )
}

fn key(secret: &[u8]) -> Key {
    Key::new(
        name("transfer-key."),
        TsigAlgorithm::HmacSha256,
        secret.to_vec(),
    )
    .expect("key")
}

fn keyring() -> Keyring {
    Keyring::new([key(b"the shared secret")])
}

/// A response to `request`: same ID, opcode and question, AA=1, with `answers`.
fn reply(request: &Message, answers: Vec<Record>) -> Message {
    let mut m = Message::response(request.metadata.id, request.metadata.op_code);
    m.metadata.authoritative = true;
    m.queries = request.queries.clone();
    m.answers = answers;
    m
}

fn encode(m: &Message) -> Vec<u8> {
    m.to_vec().expect("encode")
}

fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A UDP server on 127.0.0.1 answering every datagram with what `answer` returns (possibly
/// several datagrams, possibly none). A panic in `answer` shows in the test's output, and
/// the client then fails for want of a reply.
async fn udp_server(answer: impl Fn(&[u8]) -> Vec<Vec<u8>> + Send + 'static) -> SocketAddr {
    udp_server_at(any_port(), answer).await
}

async fn udp_server_at(
    addr: SocketAddr,
    answer: impl Fn(&[u8]) -> Vec<Vec<u8>> + Send + 'static,
) -> SocketAddr {
    let socket = UdpSocket::bind(addr).await.expect("bind");
    let addr = socket.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = vec![0; MAX_MESSAGE];
        while let Ok((len, from)) = socket.recv_from(&mut buf).await {
            for datagram in answer(&buf[..len]) {
                let _ = socket.send_to(&datagram, from).await;
            }
        }
    });
    addr
}

/// A TCP server on `addr` answering the first request of each connection with the frames
/// `answer` returns, then holding the connection open (`hold`) or closing it.
async fn tcp_server(
    addr: SocketAddr,
    hold: bool,
    answer: impl Fn(&[u8]) -> Vec<Vec<u8>> + Send + Sync + 'static,
) -> SocketAddr {
    let listener = TcpListener::bind(addr).await.expect("bind tcp");
    let addr = listener.local_addr().expect("addr");
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let answer = Arc::clone(&answer);
            tokio::spawn(async move {
                let Ok(Some(request)) = read_frame(&mut tcp).await else {
                    return;
                };
                for frame in answer(&request) {
                    if write_frame(&mut tcp, &frame).await.is_err() {
                        return;
                    }
                }
                if hold {
                    let mut sink = Vec::new();
                    let _ = tcp.read_to_end(&mut sink).await;
                }
            });
        }
    });
    addr
}

fn parse(request: &[u8]) -> Message {
    Message::from_vec(request).expect("our request parses")
}

#[tokio::test]
async fn soa_query_returns_the_primarys_soa() {
    let server = udp_server(|raw| {
        let request = parse(raw);
        assert_eq!(request.metadata.op_code, OpCode::Query);
        assert!(
            !request.metadata.recursion_desired,
            "RD=0 to an authoritative server"
        );
        assert!(request.edns.is_some(), "EDNS, so the answer fits in UDP");
        assert_eq!(request.queries[0].query_type(), RecordType::SOA);
        vec![encode(&reply(&request, vec![soa(42)]))]
    })
    .await;
    let got = query_soa(server, &zone(), None, WAIT).await.expect("soa");
    assert_eq!(got, soa(42));
}

#[tokio::test]
async fn a_truncated_answer_is_asked_again_over_tcp() {
    let tcp_asked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&tcp_asked);
    let server = tcp_server(any_port(), false, move |raw| {
        counter.fetch_add(1, Ordering::SeqCst);
        vec![encode(&reply(&parse(raw), vec![soa(7)]))]
    })
    .await;
    udp_server_at(server, |raw| {
        let mut truncated = reply(&parse(raw), Vec::new());
        truncated.metadata.truncation = true;
        vec![encode(&truncated)]
    })
    .await;
    let got = query_soa(server, &zone(), None, WAIT)
        .await
        .expect("soa over tcp");
    assert_eq!(got, soa(7));
    assert_eq!(tcp_asked.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_soa_answer_must_be_authoritative_noerror_and_hold_the_soa() {
    type Spoil = fn(&mut Message);
    type Expect = fn(&FetchError) -> bool;
    let cases: [(&str, Spoil, Expect); 3] = [
        (
            "AA=0",
            |m| m.metadata.authoritative = false,
            |e| matches!(e, FetchError::NotAuthoritative { .. }),
        ),
        (
            "REFUSED",
            |m| {
                m.answers.clear();
                m.metadata.response_code = ResponseCode::Refused;
            },
            |e| {
                matches!(
                    e,
                    FetchError::Rcode {
                        rcode: ResponseCode::Refused,
                        ..
                    }
                )
            },
        ),
        (
            "no SOA",
            |m| m.answers = vec![a("www", 1)],
            |e| matches!(e, FetchError::NoSoa { .. }),
        ),
    ];
    for (case, spoil, expected) in cases {
        let server = udp_server(move |raw| {
            let mut m = reply(&parse(raw), vec![soa(1)]);
            spoil(&mut m);
            vec![encode(&m)]
        })
        .await;
        let err = query_soa(server, &zone(), None, WAIT)
            .await
            .expect_err(case);
        assert!(expected(&err), "{case}: {err}");
        assert!(
            err.to_string().contains(&server.to_string()),
            "{case}: names the primary: {err}"
        );
    }
}

#[tokio::test]
async fn forged_and_garbage_datagrams_are_ignored() {
    let server = udp_server(|raw| {
        let request = parse(raw);
        let mut wrong_id = reply(&request, vec![soa(666)]);
        wrong_id.metadata.id = request.metadata.id.wrapping_add(1);
        let mut wrong_question = reply(&request, vec![soa(667)]);
        wrong_question.queries[0].set_name(name("other.test."));
        vec![
            vec![0xde, 0xad],
            encode(&wrong_id),
            encode(&wrong_question),
            encode(&reply(&request, vec![soa(9)])),
        ]
    })
    .await;
    let got = query_soa(server, &zone(), None, WAIT).await.expect("soa");
    assert_eq!(got, soa(9), "only the matching reply counts");
}

#[tokio::test(start_paused = true)]
async fn a_silent_or_forging_server_times_out() {
    let silent = udp_server(|_| Vec::new()).await;
    let err = query_soa(silent, &zone(), None, Duration::from_secs(3))
        .await
        .expect_err("silence");
    assert!(matches!(err, FetchError::Timeout { .. }), "{err}");

    let forger = udp_server(|raw| {
        let mut m = reply(&parse(raw), vec![soa(1)]);
        m.metadata.id ^= 0x8000;
        vec![encode(&m)]
    })
    .await;
    let err = query_soa(forger, &zone(), None, Duration::from_secs(3))
        .await
        .expect_err("forged");
    assert!(matches!(err, FetchError::Timeout { .. }), "{err}");
}

/// Checks a signed request against `keyring()` and signs the single response.
fn signed_reply(raw: &[u8], answers: Vec<Record>) -> Vec<u8> {
    let request = parse(raw);
    let verified = verify(raw, &request, &keyring(), now_unix());
    let mut m = reply(&request, answers);
    if let Some(rcode) = verified.rcode() {
        m.metadata.response_code = rcode;
        m.answers.clear();
    }
    sign_response(encode(&m), &verified, now_unix()).expect("sign")
}

#[tokio::test]
async fn a_signed_soa_query_checks_the_answer() {
    let server = udp_server(|raw| vec![signed_reply(raw, vec![soa(5)])]).await;
    let good = key(b"the shared secret");
    assert_eq!(
        query_soa(server, &zone(), Some(&good), WAIT)
            .await
            .expect("signed"),
        soa(5)
    );

    let wrong = key(b"a wrong secret");
    let err = query_soa(server, &zone(), Some(&wrong), WAIT)
        .await
        .expect_err("BADSIG");
    assert!(
        matches!(
            err,
            FetchError::Tsig {
                error: TsigClientError::Rejected(TsigError::BadSig),
                ..
            }
        ),
        "{err}"
    );

    let unsigned = udp_server(|raw| vec![encode(&reply(&parse(raw), vec![soa(5)]))]).await;
    let err = query_soa(unsigned, &zone(), Some(&good), WAIT)
        .await
        .expect_err("unsigned");
    assert!(
        matches!(
            err,
            FetchError::Tsig {
                error: TsigClientError::Unsigned { .. },
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn notify_round_trip() {
    let server = udp_server(|raw| {
        let request = parse(raw);
        assert_eq!(request.metadata.op_code, OpCode::Notify);
        assert!(
            request.metadata.authoritative,
            "AA=1, as BIND and NSD send it"
        );
        assert_eq!(request.queries[0].query_type(), RecordType::SOA);
        assert_eq!(request.answers, vec![soa(8)]);
        // A response with another opcode does not answer a NOTIFY: ignored.
        let mut as_query = Message::response(request.metadata.id, OpCode::Query);
        as_query.queries = request.queries.clone();
        let ack = if request.signature().is_some() {
            signed_reply(raw, Vec::new())
        } else {
            encode(&reply(&request, Vec::new()))
        };
        vec![encode(&as_query), ack]
    })
    .await;
    notify(server, &zone(), &soa(8), None, WAIT)
        .await
        .expect("notify");
    notify(
        server,
        &zone(),
        &soa(8),
        Some(&key(b"the shared secret")),
        WAIT,
    )
    .await
    .expect("signed notify");

    let err = notify(server, &zone(), &soa(8), Some(&key(b"wrong")), WAIT)
        .await
        .expect_err("bad key");
    assert!(matches!(err, FetchError::Tsig { .. }), "{err}");
}

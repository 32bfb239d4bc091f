//! TCP (RFC 7766): framing, sequential and pipelined queries on one connection, half-close,
//! the idle timeout, the connection cap, and clients that stall the server by not reading.

use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use tern::TcpLimits;

use super::{answered, assert_still_serving, start, start_with_limits};
use crate::support;

#[tokio::test]
async fn tcp_answers_sequential_and_pipelined_queries_on_one_connection() {
    let s = start(141).await;
    let mut stream = TcpStream::connect(s.addr).await.expect("connect");

    // One after the other on the same connection.
    for qtype in [RecordType::A, RecordType::AAAA, RecordType::TXT] {
        let q = support::query("www.transport.test.", qtype, false, None);
        support::tcp_send(&mut stream, &q.to_vec().expect("encode")).await;
        let r = Message::from_vec(&support::tcp_recv(&mut stream).await.expect("reply"))
            .expect("parses");
        assert_eq!(r.metadata.id, q.metadata.id);
    }

    // Pipelined: every frame in one write, before reading anything (RFC 7766 §6.2.1.1).
    let names = ["www", "medium", "big", "alias", "nope", "ns1"];
    let mut expected = std::collections::HashMap::new();
    let mut burst = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let qname = format!("{n}.transport.test.");
        let qtype = if *n == "www" || *n == "ns1" {
            RecordType::A
        } else {
            RecordType::TXT
        };
        let mut q = support::query(&qname, qtype, false, None);
        q.metadata.id = 1000 + u16::try_from(i).expect("few");
        let bytes = q.to_vec().expect("encode");
        burst.extend_from_slice(&u16::try_from(bytes.len()).expect("fits").to_be_bytes());
        burst.extend_from_slice(&bytes);
        expected.insert(q.metadata.id, qname);
    }
    stream.write_all(&burst).await.expect("write burst");
    for _ in 0..names.len() {
        let r = Message::from_vec(&support::tcp_recv(&mut stream).await.expect("reply"))
            .expect("parses");
        let qname = expected
            .remove(&r.metadata.id)
            .unwrap_or_else(|| panic!("unexpected or duplicate id {}", r.metadata.id));
        assert_eq!(
            r.queries[0].name().to_ascii(),
            qname,
            "answer matches its query"
        );
        assert!(!r.metadata.truncation, "TCP never truncates {qname}");
    }
    assert!(expected.is_empty(), "unanswered: {expected:?}");
}

#[tokio::test]
async fn tcp_big_answer_is_complete_and_framed() {
    let s = start(151).await;
    let q = support::query("big.transport.test.", RecordType::TXT, false, None);
    let r = support::tcp(s.addr, &q).await;
    assert!(!r.metadata.truncation);
    assert_eq!(r.answers.len(), 20, "all of the RRset over TCP");
}

#[tokio::test]
async fn idle_tcp_connection_is_closed() {
    let idle = Duration::from_millis(200);
    let limits = TcpLimits {
        idle_timeout: idle,
        ..TcpLimits::default()
    };
    let served = start_with_limits(142, limits).await;
    let addr = served.addr;

    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // Activity within the timeout is answered.
    let q = support::query("www.transport.test.", RecordType::A, false, None);
    support::tcp_send(&mut stream, &q.to_vec().expect("encode")).await;
    assert!(support::tcp_recv(&mut stream).await.is_some(), "answered");

    // Then silence: the server closes the connection (EOF), not before the timeout.
    let quiet_from = Instant::now();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("server closed the idle connection within 5 s");
    assert!(matches!(read, Ok(0) | Err(_)), "EOF, got {read:?}");
    // The server's clock starts when it finished reading the query, a little before we got
    // the answer: allow for that, but not for closing at once.
    assert!(
        quiet_from.elapsed() >= idle / 2,
        "closed after {:?}, well before the idle timeout",
        quiet_from.elapsed()
    );

    // A connection that never sends anything is closed too.
    let mut silent = TcpStream::connect(addr).await.expect("connect");
    let read = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut buf))
        .await
        .expect("server closed the silent connection within 5 s");
    assert!(matches!(read, Ok(0) | Err(_)), "EOF, got {read:?}");
}

#[tokio::test]
async fn past_the_cap_the_connection_idle_longest_makes_room() {
    let limits = TcpLimits {
        max_connections: 2,
        ..TcpLimits::default()
    };
    let served = start_with_limits(143, limits).await;
    let addr = served.addr;

    let mut first = TcpStream::connect(addr).await.expect("connect 1");
    let mut second = TcpStream::connect(addr).await.expect("connect 2");
    // An answer on each proves the server accepted both and holds their slots; `first`
    // answered first, so it has been idle longest.
    assert!(answered(&mut first).await, "first connection works");
    assert!(answered(&mut second).await, "second connection works");

    // A newcomer at the cap is served, and the idle-longest connection is closed for it
    // (Unbound and Knot do the same), rather than the newcomer being refused.
    let mut third = TcpStream::connect(addr).await.expect("the kernel accepts");
    assert!(answered(&mut third).await, "the newcomer is served");
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(2), first.read(&mut buf))
        .await
        .expect("the idle-longest connection closed at once");
    assert!(matches!(read, Ok(0) | Err(_)), "EOF, got {read:?}");
    assert!(answered(&mut second).await, "second still works");
    assert!(answered(&mut third).await, "third still works");
}

#[tokio::test]
async fn tcp_client_that_half_closes_still_gets_its_answers() {
    let s = start(149).await;
    let mut stream = TcpStream::connect(s.addr).await.expect("connect");
    let mut ids = Vec::new();
    for _ in 0..3 {
        let q = support::query("big.transport.test.", RecordType::TXT, false, None);
        ids.push(q.metadata.id);
        support::tcp_send(&mut stream, &q.to_vec().expect("encode")).await;
    }
    stream.shutdown().await.expect("half-close");
    for _ in 0..3 {
        let r = Message::from_vec(&support::tcp_recv(&mut stream).await.expect("reply"))
            .expect("parses");
        assert!(ids.contains(&r.metadata.id));
        assert_eq!(r.answers.len(), 20);
    }
    let mut rest = Vec::new();
    let n = tokio::time::timeout(support::REPLY_TIMEOUT, stream.read_to_end(&mut rest))
        .await
        .expect("server closes after the last answer");
    assert!(matches!(n, Ok(0)), "nothing after the answers: {n:?}");
}

#[tokio::test]
async fn tcp_frame_cut_short_closes_the_connection_only() {
    let s = start(150).await;
    let mut stream = TcpStream::connect(s.addr).await.expect("connect");
    // Promise 100 bytes, send 5, then close: no reply, and the server stays up.
    stream
        .write_all(&[0, 100, 1, 2, 3, 4, 5])
        .await
        .expect("write");
    stream.shutdown().await.expect("half-close");
    let mut rest = Vec::new();
    let n = tokio::time::timeout(support::REPLY_TIMEOUT, stream.read_to_end(&mut rest))
        .await
        .expect("closed");
    assert!(
        matches!(n, Ok(0)),
        "no reply to a partial frame: {n:?} {rest:?}"
    );
    assert_still_serving(s.addr).await;
}

#[tokio::test]
async fn client_that_never_reads_does_not_hold_a_slot_forever() {
    let limits = TcpLimits {
        idle_timeout: Duration::from_millis(200),
        max_connections: 1,
        ..TcpLimits::default()
    };
    let served = start_with_limits(154, limits).await;
    let addr = served.addr;

    // Pipeline thousands of queries for a 2 KiB answer and never read: the answers fill our
    // receive buffer and the server's send buffer, and the server's writes stall.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("small receive buffer");
    let mut hog = socket.connect(addr).await.expect("connect");
    let q = support::query("big.transport.test.", RecordType::TXT, false, None);
    let bytes = q.to_vec().expect("encode");
    let mut burst = Vec::new();
    for _ in 0..4000 {
        burst.extend_from_slice(&u16::try_from(bytes.len()).expect("fits").to_be_bytes());
        burst.extend_from_slice(&bytes);
    }
    // The server stops reading once its pipeline is full, so this write may never finish.
    let _ = tokio::time::timeout(Duration::from_secs(1), hog.write_all(&burst)).await;

    // The stalled connection is given up on, and its slot goes to a client that reads.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut next = TcpStream::connect(addr).await.expect("connect");
        if answered(&mut next).await {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a client that never reads holds the only slot"
        );
        // Real time, not a moved clock: the server's write timeout counts only once its
        // writes have stalled, a state of the sockets' buffers this test cannot see; moving
        // the clock before then would close the connection for a write still under way.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(hog);
}

#[tokio::test]
async fn zero_tcp_limits_are_clamped_not_fatal() {
    let limits = TcpLimits {
        idle_timeout: Duration::ZERO,
        max_connections: 0,
        pipeline_depth: 0,
        max_per_prefix: 0,
        ipv4_prefix: 0,
        ipv6_prefix: 0,
    };
    let served = start_with_limits(155, limits).await;
    let addr = served.addr;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    assert!(
        answered(&mut stream).await,
        "one connection, one query at a time"
    );
}

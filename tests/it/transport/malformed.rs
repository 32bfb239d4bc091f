//! Packets a server must refuse: FORMERR for broken questions and compression pointers,
//! NOTIMP for opcodes we do not implement, silence for runts and responses — and the server
//! keeps answering after each. Written as raw bytes: an encoder would refuse to make them.

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::net::TcpStream;

use super::{SILENCE, answered, assert_still_serving, expect_rcode, raw, start, www_question};
use crate::support;

#[tokio::test]
async fn malformed_queries_get_formerr() {
    let s = start(146).await;
    let www = www_question();

    expect_rcode(
        s.addr,
        &raw(0x0101, 0, 0, 0, &[]),
        ResponseCode::FormErr,
        "QDCOUNT=0",
    )
    .await;

    let mut two = www.clone();
    two.extend_from_slice(&www);
    let m = expect_rcode(
        s.addr,
        &raw(0x0102, 0, 2, 0, &two),
        ResponseCode::FormErr,
        "QDCOUNT=2",
    )
    .await;
    assert!(m.answers.is_empty());

    expect_rcode(
        s.addr,
        &raw(0x0103, 0, 2, 0, &www),
        ResponseCode::FormErr,
        "QDCOUNT=2 with one question",
    )
    .await;

    let cut = &www[..www.len() - 3];
    expect_rcode(
        s.addr,
        &raw(0x0104, 0, 1, 0, cut),
        ResponseCode::FormErr,
        "cut in the question",
    )
    .await;
    expect_rcode(
        s.addr,
        &raw(0x0105, 0, 1, 0, &www[..5]),
        ResponseCode::FormErr,
        "cut in a label",
    )
    .await;
    expect_rcode(
        s.addr,
        &raw(0x0106, 0, 1, 1, &www),
        ResponseCode::FormErr,
        "ARCOUNT=1, no record",
    )
    .await;

    // A pointer to itself at offset 12.
    let self_loop = [0xc0, 0x0c, 0, 1, 0, 1];
    expect_rcode(
        s.addr,
        &raw(0x0107, 0, 1, 0, &self_loop),
        ResponseCode::FormErr,
        "self pointer",
    )
    .await;
    // A label, then a pointer back to that label: a.a.a.… forever.
    let label_loop = [1, b'a', 0xc0, 0x0c, 0, 1, 0, 1];
    expect_rcode(
        s.addr,
        &raw(0x0108, 0, 1, 0, &label_loop),
        ResponseCode::FormErr,
        "label loop",
    )
    .await;
    // Two pointers pointing at each other (offsets 12 and 14).
    let ping_pong = [0xc0, 0x0e, 0xc0, 0x0c, 0, 1, 0, 1];
    expect_rcode(
        s.addr,
        &raw(0x0109, 0, 1, 0, &ping_pong),
        ResponseCode::FormErr,
        "ping-pong",
    )
    .await;
    // A pointer past the end of the packet.
    let beyond = [0xc0, 0xff, 0, 1, 0, 1];
    expect_rcode(
        s.addr,
        &raw(0x010a, 0, 1, 0, &beyond),
        ResponseCode::FormErr,
        "pointer beyond",
    )
    .await;
    let far = [0xff, 0xff, 0, 1, 0, 1];
    expect_rcode(
        s.addr,
        &raw(0x010b, 0, 1, 0, &far),
        ResponseCode::FormErr,
        "pointer 0x3fff",
    )
    .await;
    // A label longer than 63 (0x40 and 0x80 are reserved label types).
    let bad_label = [0x40, b'a', 0, 0, 1, 0, 1];
    expect_rcode(
        s.addr,
        &raw(0x010c, 0, 1, 0, &bad_label),
        ResponseCode::FormErr,
        "label type 01",
    )
    .await;

    // The same over TCP: a FORMERR frame, and the connection keeps serving.
    let mut stream = TcpStream::connect(s.addr).await.expect("connect");
    support::tcp_send(&mut stream, &raw(0x0201, 0, 1, 0, &label_loop)).await;
    let r =
        Message::from_vec(&support::tcp_recv(&mut stream).await.expect("reply")).expect("parses");
    assert_eq!(
        (r.metadata.id, r.metadata.response_code),
        (0x0201, ResponseCode::FormErr)
    );
    assert!(answered(&mut stream).await, "connection still usable");

    assert_still_serving(s.addr).await;
}

#[tokio::test]
async fn unknown_opcodes_get_notimp() {
    let s = start(147).await;
    let www = www_question();
    for (id, opcode) in [(0x0301u16, 3u8), (0x0302, 2), (0x0303, 15)] {
        let m = expect_rcode(
            s.addr,
            &raw(id, opcode << 3, 1, 0, &www),
            ResponseCode::NotImp,
            &format!("opcode {opcode}"),
        )
        .await;
        assert_eq!(m.metadata.op_code, OpCode::from_u8(opcode), "opcode echoed");
        assert!(m.answers.is_empty());
    }
    // A request with an OPT gets an OPT back, even in a NOTIMP or FORMERR (RFC 6891 §6.1.1).
    let mut q = support::query("www.transport.test.", RecordType::A, false, Some(4096));
    q.metadata.op_code = OpCode::Status;
    let m = expect_rcode(
        s.addr,
        &q.to_vec().expect("encode"),
        ResponseCode::NotImp,
        "Status with OPT",
    )
    .await;
    let opt = m.edns.expect("OPT in the NOTIMP");
    assert_eq!((opt.max_payload(), opt.version()), (1232, 0));
    let mut q = support::query("www.transport.test.", RecordType::A, false, Some(4096));
    q.add_query(q.queries[0].clone());
    let m = expect_rcode(
        s.addr,
        &q.to_vec().expect("encode"),
        ResponseCode::FormErr,
        "QDCOUNT=2 with OPT",
    )
    .await;
    assert!(m.edns.is_some(), "OPT in the FORMERR");

    // NOTIMP even when the body does not parse.
    expect_rcode(
        s.addr,
        &raw(0x0304, 3 << 3, 1, 0, &[0xc0]),
        ResponseCode::NotImp,
        "odd body",
    )
    .await;
    assert_still_serving(s.addr).await;
}

#[tokio::test]
async fn runts_and_responses_get_no_reply() {
    let s = start(148).await;
    let www = www_question();
    let mut header_only_prefix = raw(0x0401, 0, 1, 0, &www);
    header_only_prefix.truncate(11);
    let mut waits = Vec::new();
    for (what, bytes) in [
        ("empty datagram", vec![]),
        ("one byte", vec![0x12]),
        ("eleven bytes", header_only_prefix),
        ("QR=1", raw(0x0402, 0x80, 1, 0, &www)),
        (
            "QR=1, unknown opcode",
            raw(0x0403, 0x80 | (3 << 3), 1, 0, &www),
        ),
        ("QR=1, no question", raw(0x0404, 0x80, 0, 0, &[])),
    ] {
        // Each from its own socket, all waiting out the silence at once.
        let addr = s.addr;
        waits.push((
            what,
            tokio::spawn(async move { support::udp_raw(addr, &bytes, SILENCE).await }),
        ));
    }
    for (what, wait) in waits {
        let reply = wait.await.expect("client task");
        assert_eq!(reply, None, "{what}: must not be answered");
    }

    // Over TCP, a runt frame is skipped and the connection goes on.
    let mut stream = TcpStream::connect(s.addr).await.expect("connect");
    support::tcp_send(&mut stream, &[1, 2, 3]).await;
    support::tcp_send(&mut stream, &[]).await;
    assert!(answered(&mut stream).await, "next query answered");

    assert_still_serving(s.addr).await;
}

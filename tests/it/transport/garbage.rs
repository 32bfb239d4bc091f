//! Garbage that once cost memory, answered as before: question counts past the end of the
//! packet (hickory set aside room for each before reading one), and TCP messages larger than
//! the listener's first read (its buffer now grows with the bytes that arrive, not to the
//! length the prefix claims). The server keeps serving after each.

use hickory_proto::op::{Message, ResponseCode};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::{answered, assert_still_serving, expect_rcode, raw, start, www_question};
use crate::support;

#[tokio::test]
async fn question_counts_past_the_end_get_formerr_over_udp_and_tcp() {
    let s = start(46).await;
    let bytes = raw(0x4646, 0, u16::MAX, 0, &www_question());
    expect_rcode(s.addr, &bytes, ResponseCode::FormErr, "QDCOUNT=65535").await;

    let mut stream = TcpStream::connect(s.addr).await.expect("connect");
    support::tcp_send(&mut stream, &bytes).await;
    let reply = support::tcp_recv(&mut stream)
        .await
        .expect("a reply over TCP");
    let m = Message::from_vec(&reply).expect("reply parses");
    assert_eq!(m.metadata.id, 0x4646);
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    assert!(answered(&mut stream).await, "the connection still serves");
    assert_still_serving(s.addr).await;
}

#[tokio::test]
async fn a_tcp_message_larger_than_the_first_read_arrives_whole() {
    let s = start(47).await;
    // www A, RD, with an OPT record carrying 6000 octets of a private-use option.
    let option_len: u16 = 6000;
    let mut body = www_question();
    body.push(0); // the OPT's owner: the root
    body.extend_from_slice(&41u16.to_be_bytes());
    body.extend_from_slice(&1232u16.to_be_bytes());
    body.extend_from_slice(&0u32.to_be_bytes());
    body.extend_from_slice(&(option_len + 4).to_be_bytes());
    body.extend_from_slice(&65001u16.to_be_bytes());
    body.extend_from_slice(&option_len.to_be_bytes());
    body.extend(std::iter::repeat_n(0x5a, usize::from(option_len)));
    let query = raw(0x4747, 1, 1, 1, &body);

    let mut stream = TcpStream::connect(s.addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let len = u16::try_from(query.len()).expect("fits a prefix");
    stream.write_all(&len.to_be_bytes()).await.expect("prefix");
    for piece in query.chunks(1000) {
        stream.write_all(piece).await.expect("a piece");
        tokio::task::yield_now().await;
    }
    let reply = support::tcp_recv(&mut stream).await.expect("answered");
    let m = Message::from_vec(&reply).expect("reply parses");
    assert_eq!(m.metadata.id, 0x4747);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.answers.len(), 2, "www's two addresses");
    assert!(answered(&mut stream).await, "and the next message after it");
}

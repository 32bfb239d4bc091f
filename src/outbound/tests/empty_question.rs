//! A reply with no question section is taken when ID, address and port match, as Unbound
//! takes it; never from another address or port, nor with another ID or question.

use std::net::SocketAddr;

use hickory_proto::op::{Message, OpCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::net::UdpSocket;

use super::{echo, loopback, name};
use crate::outbound::udp::UdpQuery;
use crate::outbound::{Expected, Peer, Signed, request};

/// Our reply to `asked`, marked with `mark` in its answer (192.0.2.`mark`), with or without
/// the question.
fn marked(asked: &Message, mark: u8, question: bool) -> Vec<u8> {
    let mut m = echo(asked);
    if !question {
        m.queries.clear();
    }
    let owner = asked.queries[0].name().clone();
    m.add_answer(Record::from_rdata(
        owner,
        300,
        RData::A(A::new(192, 0, 2, mark)),
    ));
    m.to_vec().expect("encodes")
}

fn mark_of(m: &Message) -> Option<u8> {
    m.answers.iter().find_map(|r| match &r.data {
        RData::A(a) => Some(a.0.octets()[3]),
        _ => None,
    })
}

#[tokio::test]
async fn a_reply_without_question_counts_only_from_the_server_asked_with_our_id() {
    let server = UdpSocket::bind((loopback(1), 0)).await.expect("bind");
    let addr = server.local_addr().expect("addr");
    // The same address on another port, and the same port on another address.
    let other_port = UdpSocket::bind((loopback(1), 0)).await.expect("bind");
    let other_addr = UdpSocket::bind((loopback(2), addr.port()))
        .await
        .expect("bind");

    let qname = name("www.example.test.");
    let request = request(OpCode::Query, &qname, RecordType::A, true);
    let expected = Expected::answer(request.metadata.id, &qname, RecordType::A);
    let signed = Signed::new(&request, None).expect("encodes");
    let sent = UdpQuery::send(Peer::from(addr), signed.bytes()).expect("sends");

    let mut buf = [0; 512];
    let (len, client) = server.recv_from(&mut buf).await.expect("request");
    let asked = Message::from_vec(&buf[..len]).expect("parses");
    let mut wrong_id = asked.clone();
    wrong_id.metadata.id ^= 1;
    let mut other_question = asked.clone();
    other_question.queries[0].set_name(Name::from_ascii("other.test.").expect("name"));

    let from = |s: &UdpSocket| s.local_addr().expect("addr");
    let datagrams: [(&UdpSocket, Vec<u8>); 5] = [
        (&other_port, marked(&asked, 1, false)),
        (&other_addr, marked(&asked, 2, false)),
        (&server, marked(&wrong_id, 3, false)),
        (&server, marked(&other_question, 4, true)),
        (&server, marked(&asked, 5, false)),
    ];
    for (socket, bytes) in &datagrams {
        assert_ne!(from(socket), client);
        socket.send_to(bytes, client).await.expect("reply");
    }
    // Without the rule, the last datagram too is skipped and the wait never ends.
    let wait = sent.reply(&expected, |_, m| Some(m));
    let (got, _) = tokio::time::timeout(std::time::Duration::from_secs(5), wait)
        .await
        .expect("the server's reply is taken")
        .expect("a reply");
    assert_eq!(
        mark_of(&got),
        Some(5),
        "only the server's, with our ID, taken; from {:?}",
        datagrams
            .iter()
            .map(|(s, _)| from(s))
            .collect::<Vec<SocketAddr>>()
    );
    assert!(got.queries.is_empty());
}

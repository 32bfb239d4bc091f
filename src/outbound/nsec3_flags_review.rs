//! Review test of a reply holding an NSEC3 record whose flags have a bit RFC 5155 leaves
//! undefined. §8.2: "Validators MUST ignore NSEC3 RRs with a Flag fields value other than zero
//! or one" (and §8.1 those of an unknown hash algorithm): the record is ignored, not the
//! reply. Unbound (val_nsec3.c, `nsec3_unknown_flags`) skips such records in its proofs.

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::{NULL, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::Expected;
use super::lazy::read;

fn n(s: &str) -> Name {
    Name::from_ascii(s).expect("name")
}

/// The RDATA of an NSEC3 of hash algorithm `alg` with `flags`: no iterations, no salt, a
/// 20-byte next hash and a type bitmap of A.
fn nsec3_rdata(alg: u8, flags: u8) -> RData {
    let mut rdata = vec![alg, flags, 0, 0, 0, 20];
    rdata.extend([0xab; 20]);
    rdata.extend([0, 1, 0x40]);
    RData::Unknown {
        code: RecordType::NSEC3,
        rdata: NULL::with(rdata),
    }
}

/// An authoritative NXDOMAIN for nope.test. A, with the zone's SOA and one NSEC3.
fn nxdomain(alg: u8, flags: u8) -> Vec<u8> {
    let mut m = Message::new(9, MessageType::Response, OpCode::Query);
    m.metadata.authoritative = true;
    m.metadata.response_code = hickory_proto::op::ResponseCode::NXDomain;
    m.add_query(Query::query(n("nope.test."), RecordType::A));
    let soa = SOA::new(n("ns1.test."), n("h.test."), 1, 3600, 600, 86400, 3600);
    m.authorities
        .push(Record::from_rdata(n("test."), 3600, RData::SOA(soa)));
    let owner = n("0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.test.");
    m.authorities
        .push(Record::from_rdata(owner, 3600, nsec3_rdata(alg, flags)));
    m.to_vec().expect("encodes")
}

/// The reply is read, its NSEC3 with an undefined flag ignored, its SOA kept: before, hickory
/// refused the whole reply (`UnrecognizedNsec3Flags`), so a server whose zone holds one
/// such record looked like a server sending garbage, and its valid answers were lost.
#[test]
fn an_nsec3_with_an_unknown_flag_is_ignored_not_the_reply() {
    let asked = n("nope.test.");
    for flags in [0u8, 1] {
        let wire = nxdomain(1, flags);
        let (mut m, rest) = read(&wire, &Expected::answer(9, &asked, RecordType::A)).expect("read");
        if let Some(rest) = rest {
            rest.complete(&mut m).expect("completes");
        }
        assert_eq!(m.authorities.len(), 2, "flags {flags}");
    }
    // An undefined flag (§8.2), then an unknown hash algorithm (§8.1).
    for (alg, flags) in [(1u8, 0x02u8), (2, 0)] {
        let wire = nxdomain(alg, flags);
        let read = read(&wire, &Expected::answer(9, &asked, RecordType::A));
        let (mut m, rest) = read.expect("a reply with an NSEC3 to ignore is still a reply");
        if let Some(rest) = rest {
            rest.complete(&mut m)
                .expect("an NSEC3 to ignore does not spoil the authority section");
        }
        let types: Vec<RecordType> = m.authorities.iter().map(|r| r.record_type()).collect();
        assert!(types.contains(&RecordType::SOA), "{types:?}");
        assert!(
            !m.authorities
                .iter()
                .any(|r| matches!(&r.data, RData::DNSSEC(_))),
            "the NSEC3 to ignore is not offered to the validator: {:?}",
            m.authorities
        );
    }
}

/// A loopback address of this review's range (127.171.0.0/16).
fn loopback() -> std::net::IpAddr {
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 171, 0, 1))
}

/// `request`'s NXDOMAIN as [`nxdomain`] writes it, with an NSEC3 of an undefined flag.
fn answer_to(raw: &[u8]) -> Vec<u8> {
    let asked = Message::from_vec(raw).expect("the request parses");
    let mut wire = nxdomain(1, 0x02);
    wire[..2].copy_from_slice(&asked.metadata.id.to_be_bytes());
    wire
}

/// End to end over the sockets: the reply of a server whose zone holds such a record is taken
/// over UDP (read whole, and read in part as the resolver does) and over TCP, and its NSEC3
/// comes through with its type and bytes. Before, hickory refused it: the UDP reply was
/// skipped as garbage until the timeout, the TCP reply was `Malformed`.
#[tokio::test]
async fn a_reply_with_such_an_nsec3_is_taken_over_udp_and_tcp() {
    use std::time::Duration;

    use tokio::net::{TcpListener, UdpSocket};

    use super::tcp::TcpQuery;
    use super::udp::UdpQuery;
    use super::{Deadline, Peer, Signed, request};
    use crate::frame::{read_frame, write_frame};

    let asked = n("nope.test.");
    let timeout = Duration::from_secs(5);
    let server = UdpSocket::bind((loopback(), 0)).await.expect("bind");
    let addr = server.local_addr().expect("addr");
    for partial in [false, true] {
        let m = request(OpCode::Query, &asked, RecordType::A, true);
        let expected = Expected::answer(m.metadata.id, &asked, RecordType::A);
        let signed = Signed::new(&m, None).expect("encodes");
        let sent = UdpQuery::send(Peer::from(addr), signed.bytes()).expect("sends");
        let mut buf = [0; 512];
        let (len, from) = server.recv_from(&mut buf).await.expect("request");
        let wire = answer_to(&buf[..len]);
        server.send_to(&wire, from).await.expect("reply");
        let keep = |raw: &[u8], mut m: Message, rest: Option<super::lazy::Rest>| {
            if let Some(rest) = rest {
                rest.complete(&mut m).ok()?;
            }
            Some((raw.to_vec(), m))
        };
        let reply = async {
            match partial {
                true => sent.reply_partial(&expected, keep).await,
                false => sent.reply(&expected, |raw, m| keep(raw, m, None)).await,
            }
        };
        let ((raw, m), _) = tokio::time::timeout(timeout, reply)
            .await
            .expect("the reply is taken, not skipped as garbage")
            .expect("reply");
        assert_eq!(raw, wire);
        assert_eq!(m.authorities.len(), 2, "partial {partial}");
        assert_eq!(m.authorities[1].record_type(), RecordType::NSEC3);
        assert_eq!(m.to_vec().expect("encodes"), wire, "relayed unchanged");
    }

    let listener = TcpListener::bind((loopback(), 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let served = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.expect("accept");
        let raw = read_frame(&mut tcp).await.expect("read").expect("request");
        write_frame(&mut tcp, &answer_to(&raw))
            .await
            .expect("write");
    });
    let m = request(OpCode::Query, &asked, RecordType::A, true);
    let expected = Expected::answer(m.metadata.id, &asked, RecordType::A);
    let signed = Signed::new(&m, None).expect("encodes");
    let deadline = Some(Deadline::after(timeout));
    let mut tcp = TcpQuery::open(Peer::from(addr), signed, expected, deadline)
        .await
        .expect("opens");
    let m = tcp.next().await.expect("the reply is read");
    assert_eq!(m.authorities.len(), 2);
    assert_eq!(m.authorities[1].record_type(), RecordType::NSEC3);
    served.await.expect("served");
}

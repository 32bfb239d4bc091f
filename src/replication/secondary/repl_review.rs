//! Review probes of the secondary (RFC 1996 NOTIFY, RFC 1982 serials, RFC 1995 IXFR), against
//! scripted primaries on 127.185.0.0/16.

use hickory_proto::rr::rdata::SOA;

use super::*;

fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("name")
}

fn xfr_key() -> crate::tsig::Key {
    crate::tsig::Key::new(
        name("xfr-key."),
        crate::tsig::TsigAlgorithm::HmacSha256,
        vec![7; 32],
    )
    .expect("key")
}

/// NSD (`allow-notify: ADDR KEY`) and Knot (an acl with a key) refuse a NOTIFY that is not
/// signed with the key the zone is configured with, and README (Replicated zones) promises
/// the same: "on NOTIFY (taken only from its primaries' addresses, and with its key when it
/// has one)". An unsigned NOTIFY can be forged from the primary's address over UDP.
#[test]
fn a_keyed_zone_refuses_an_unsigned_notify() {
    let primary: SocketAddr = "127.185.0.1:53".parse().expect("addr");
    let mut config = super::tests::zone(primary, Path::new("unused.zone"));
    config.key = Some(xfr_key());
    let secondary = Secondary::new(vec![config], None);
    let zone = name("cluster.test.");
    let from = primary.ip();
    assert_eq!(
        secondary.notified(&zone, from, None),
        ResponseCode::Refused,
        "an unsigned NOTIFY to a zone with a transfer key"
    );
    assert_eq!(
        secondary.notified(&zone, from, Some(&name("xfr-key."))),
        ResponseCode::NoError
    );
    // Without a key, an unsigned NOTIFY from the primary's address still works.
    let keyless = Secondary::new(
        vec![super::tests::zone(primary, Path::new("unused.zone"))],
        None,
    );
    assert_eq!(keyless.notified(&zone, from, None), ResponseCode::NoError);
}

fn soa(serial: u32) -> Record {
    let soa = SOA::new(
        name("ns1.cluster.test."),
        name("hostmaster.cluster.test."),
        serial,
        5,
        2,
        10,
        30,
    );
    Record::from_rdata(name("cluster.test."), 30, RData::SOA(soa))
}

/// A writer holding a copy at `serial` that keeps the serial of every transfer handed to it.
struct Holder {
    serial: u32,
    transfers: std::sync::Mutex<Vec<u32>>,
}

impl Holder {
    fn at(serial: u32) -> Holder {
        Holder {
            serial,
            transfers: std::sync::Mutex::default(),
        }
    }

    fn transfers(&self) -> Vec<u32> {
        self.transfers.lock().expect("lock").clone()
    }
}

impl Secondaries for Holder {
    fn transfer_in(&self, _zone: &Name, records: Vec<Record>) -> Result<u32, StoreError> {
        let serial = serial_of(&records).unwrap_or_default();
        self.transfers.lock().expect("lock").push(serial);
        Ok(serial)
    }

    fn set_available(&self, _zone: &Name, _available: bool) -> Result<(), StoreError> {
        Ok(())
    }

    fn records(&self, _zone: &Name) -> Option<Vec<Record>> {
        Some(vec![soa(self.serial)])
    }
}

fn reply(
    request: &hickory_proto::op::Message,
    answers: Vec<Record>,
    rcode: ResponseCode,
) -> Vec<u8> {
    use hickory_proto::op::{Message, MessageType, OpCode};
    let mut m = Message::new(request.metadata.id, MessageType::Response, OpCode::Query);
    m.metadata.authoritative = true;
    m.metadata.response_code = rcode;
    m.queries = request.queries.clone();
    m.answers = answers;
    m.to_vec().expect("encode")
}

/// A primary at `ip` at serial `serial` (SOA query and AXFR alike) that does not implement
/// IXFR (NOTIMP), as some primaries do not.
async fn primary_without_ixfr(ip: [u8; 4], serial: u32) -> SocketAddr {
    use hickory_proto::op::Message;
    use hickory_proto::rr::RecordType;
    use hickory_proto::rr::rdata::A;
    use tokio::net::{TcpListener, UdpSocket};

    use crate::frame::{read_frame, write_frame};

    let udp = UdpSocket::bind(SocketAddr::from((ip, 0)))
        .await
        .expect("bind udp");
    let addr = udp.local_addr().expect("addr");
    let tcp = TcpListener::bind(addr).await.expect("bind tcp");
    tokio::spawn(async move {
        let mut buf = vec![0; 65_535];
        while let Ok((len, from)) = udp.recv_from(&mut buf).await {
            let Ok(request) = Message::from_vec(&buf[..len]) else {
                continue;
            };
            let answer = reply(&request, vec![soa(serial)], ResponseCode::NoError);
            let _ = udp.send_to(&answer, from).await;
        }
    });
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = tcp.accept().await {
            let Ok(Some(raw)) = read_frame(&mut conn).await else {
                continue;
            };
            let Ok(request) = Message::from_vec(&raw) else {
                continue;
            };
            let frame = match request.queries.first().map(|q| q.query_type()) {
                Some(RecordType::AXFR) => {
                    let host = Record::from_rdata(
                        name("www.cluster.test."),
                        30,
                        RData::A(A::new(192, 0, 2, 9)),
                    );
                    let all = vec![soa(serial), host, soa(serial)];
                    reply(&request, all, ResponseCode::NoError)
                }
                _ => reply(&request, Vec::new(), ResponseCode::NotImp),
            };
            let _ = write_frame(&mut conn, &frame).await;
        }
    });
    addr
}

/// RFC 1982 §3.2: a serial exactly 2^31 away from ours is undefined, neither later nor earlier.
/// BIND (`isc_serial_gt`) does not transfer then, and tern's own IXFR reading
/// (`transfer::later`) calls it not later; but the SOA check and the AXFR fallback used
/// `<=`, which is false for an undefined pair, so a primary without IXFR got the zone taken.
#[tokio::test]
async fn a_serial_exactly_half_the_space_away_is_not_transferred() {
    let ours = 7u32;
    let theirs = ours.wrapping_add(1 << 31);
    let primary = primary_without_ixfr([127, 185, 0, 2], theirs).await;
    let config = super::tests::zone(primary, Path::new("unused.zone"));
    let holder = Holder::at(ours);
    let outcome = from_primary(&config, Peer::new(primary, None), &holder).await;
    assert!(
        holder.transfers().is_empty(),
        "took serial {theirs} over {ours} ({:?})",
        outcome.map_err(|e| e.to_string())
    );
}

/// The same primary one step ahead is transferred (AXFR after IXFR's NOTIMP).
#[tokio::test]
async fn a_later_serial_is_transferred_by_axfr_when_ixfr_is_not_implemented() {
    let ours = u32::MAX;
    let primary = primary_without_ixfr([127, 185, 0, 3], 1).await;
    let config = super::tests::zone(primary, Path::new("unused.zone"));
    let holder = Holder::at(ours);
    let outcome = from_primary(&config, Peer::new(primary, None), &holder).await;
    assert_eq!(
        holder.transfers(),
        vec![1],
        "{:?}",
        outcome.map_err(|e| e.to_string())
    );
}

/// Two primaries, the first one lagging at our serial, the second ahead (a NOTIFY from it is
/// what woke us). BIND's refresh asks each primary in turn until one is ahead (`next_primary`
/// after an equal or older serial), NSD starts with the one that notified; tern stopped at the
/// first answer and stayed behind the second until the first caught up.
#[tokio::test]
async fn a_lagging_first_primary_does_not_hide_a_later_second_one() {
    let lagging = primary_without_ixfr([127, 185, 0, 4], 7).await;
    let ahead = primary_without_ixfr([127, 185, 0, 5], 8).await;
    let mut config = super::tests::zone(lagging, Path::new("unused.zone"));
    config.primaries = vec![lagging, ahead];
    let holder = Holder::at(7);
    let outcome = refresh(&config, None, &holder).await;
    assert_eq!(
        holder.transfers(),
        vec![8],
        "{:?}",
        outcome.map_err(|e| e.to_string())
    );
}

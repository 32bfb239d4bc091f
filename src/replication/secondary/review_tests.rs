//! Review probes of one refresh against a scripted primary on 127.245.0.0/16.

use std::sync::Mutex;

use hickory_proto::op::{Message, MessageType, OpCode};
use hickory_proto::rr::RecordType;
use hickory_proto::rr::rdata::{A, SOA};
use tokio::net::{TcpListener, UdpSocket};

use super::tests::{Recorder, zone};
use super::*;
use crate::frame::{read_frame, write_frame};

pub(super) fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("name")
}

pub(super) fn soa(serial: u32) -> Record {
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
pub(super) struct Holder {
    serial: u32,
    transfers: Mutex<Vec<u32>>,
}

impl Holder {
    pub(super) fn at(serial: u32) -> Holder {
        Holder {
            serial,
            transfers: Mutex::default(),
        }
    }

    pub(super) fn transfers(&self) -> Vec<u32> {
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

pub(super) fn reply(request: &Message, answers: Vec<Record>, rcode: ResponseCode) -> Vec<u8> {
    let mut m = Message::new(request.metadata.id, MessageType::Response, OpCode::Query);
    m.metadata.authoritative = true;
    m.metadata.response_code = rcode;
    m.queries = request.queries.clone();
    m.answers = answers;
    m.to_vec().expect("encode")
}

/// A primary at `ip` whose SOA query says serial `soa_serial` and whose AXFR holds
/// `axfr_serial` (the same, or older: a primary rolled back between the two, or two servers
/// behind one address); IXFR is not implemented there (NOTIMP), as some primaries do not.
pub(super) async fn primary_without_ixfr(
    ip: [u8; 4],
    soa_serial: u32,
    axfr_serial: u32,
) -> SocketAddr {
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
            let answer = reply(&request, vec![soa(soa_serial)], ResponseCode::NoError);
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
                    let all = vec![soa(axfr_serial), host, soa(axfr_serial)];
                    reply(&request, all, ResponseCode::NoError)
                }
                _ => reply(&request, Vec::new(), ResponseCode::NotImp),
            };
            let _ = write_frame(&mut conn, &frame).await;
        }
    });
    addr
}

/// "Secondaries only ever move forward to its serials" (README, Replicated zones; RFC 1982):
/// an AXFR whose SOA is older than the copy held must not replace it, whatever the SOA query
/// before it said.
#[tokio::test]
async fn an_axfr_older_than_our_copy_is_not_taken() {
    let primary = primary_without_ixfr([127, 245, 0, 7], 10, 3).await;
    let config = zone(primary, Path::new("unused.zone"));
    let holder = Holder::at(7);
    let outcome = from_primary(&config, Peer::new(primary, None), &holder).await;
    let transfers = holder.transfers();
    assert!(
        transfers.is_empty(),
        "serial went back from 7 to {transfers:?} ({:?})",
        outcome.map_err(|e| e.to_string())
    );
}

/// A NOTIFY that reaches a dual-stack `[::]` listener from an IPv4 primary carries the
/// primary's address IPv4-mapped (RFC 4291 §2.5.5.2); it is still the primary (RFC 1996
/// §3.10), as the transfer ACL already counts it.
#[tokio::test]
async fn a_notify_from_a_primary_seen_ipv4_mapped_is_taken() {
    let primary: SocketAddr = "127.245.0.9:53".parse().expect("addr");
    let config = zone(primary, Path::new("unused.zone"));
    let secondary = Secondary::new(vec![config], None);
    let mapped: IpAddr = "::ffff:127.245.0.9".parse().expect("ip");
    assert_eq!(
        secondary.notified(&name("cluster.test."), mapped, None),
        ResponseCode::NoError
    );
    let stranger: IpAddr = "::ffff:127.245.0.10".parse().expect("ip");
    assert_eq!(
        secondary.notified(&name("cluster.test."), stranger, None),
        ResponseCode::Refused
    );
}

/// README, Replicated zones: after a restart the copy's age counts toward EXPIRE. A copy
/// written an hour ago with EXPIRE 10 s has expired before the first check begins; it must
/// not be served while that check waits on unreachable primaries (here 3 of them, 3 s each).
#[tokio::test(start_paused = true)]
async fn a_copy_older_than_expire_is_not_served_during_the_first_check() {
    let mut primaries = Vec::new();
    let mut sockets = Vec::new();
    for last in 11..14 {
        let silent = UdpSocket::bind(SocketAddr::from(([127, 245, 0, last], 0)))
            .await
            .expect("bind");
        primaries.push(silent.local_addr().expect("addr"));
        sockets.push(silent);
    }
    let dir = std::env::temp_dir().join(format!("tern-rev7-stale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("cluster.test.zone");
    std::fs::write(&file, "; an old copy\n").expect("copy");
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&file)
        .and_then(|f| f.set_modified(an_hour_ago))
        .expect("age the copy");
    let mut config = zone(primaries[0], &file);
    config.primaries = primaries;
    let kept = Arc::new(Kept {
        config,
        source: None,
        wake: Notify::new(),
        status: StatusCell::default(),
    });
    let writer = Arc::new(Recorder::default());
    let (trigger, signal) = crate::server::shutdown::channel();
    let start = Instant::now();
    let task = tokio::spawn(keep(
        Arc::clone(&kept),
        Arc::clone(&writer) as Arc<dyn Secondaries>,
        Arc::new(Metrics::default()),
        signal,
    ));
    tokio::time::sleep(Duration::from_secs(12)).await;
    trigger.fire();
    task.await.expect("the task ends on shutdown");
    let _ = std::fs::remove_dir_all(&dir);
    drop(sockets);
    let changes = writer.availability.lock().expect("lock").clone();
    let first_off = changes
        .iter()
        .find(|(_, available)| !available)
        .map(|(at, _)| at.duration_since(start));
    assert!(
        first_off.is_some_and(|at| at < SOA_TIMEOUT),
        "an expired copy served until {first_off:?}: {changes:?}"
    );
}

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::RecordType;

use super::*;
use crate::acl::{Acl, TransferAcl};
use crate::authority::Zone;
use crate::authority::store::ZoneFile;
use crate::config::PrimaryZone;
use crate::discovery::service::{Instance, Service};
use crate::handler::{Reply, Transport};
use crate::server::shutdown;
use crate::testing::name;

const ZONE: &str = "$TTL 60\n@ SOA ns host 7 3600 600 86400 60\n@ NS ns\nns A 192.0.2.1\n";
const CLIENT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 5353);

/// A folder of its own holding `n.test.`'s zone file.
fn zone_dir(test: &str) -> (PathBuf, ZoneFile) {
    let dir = std::env::temp_dir().join(format!("tern-nameserver-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("n.test.zone");
    std::fs::write(&file, ZONE).expect("zone file");
    let source = ZoneFile {
        journal: Some(dir.join("n.test.zone.jnl")),
        ..ZoneFile::new(name("n.test."), file)
    };
    (dir, source)
}

fn web() -> Registration {
    let service = Service::new("n.test.", "web").expect("service");
    Registration::new(service).instance(
        Instance::new("web-1", IpAddr::V4(Ipv4Addr::new(192, 0, 2, 80)), 8080),
        None,
    )
}

/// `qname qtype` with `opcode`, as bytes on the wire.
fn request(opcode: OpCode, qname: &str, qtype: RecordType) -> Vec<u8> {
    let mut m = Message::new(77, MessageType::Query, opcode);
    m.add_query(Query::query(name(qname), qtype));
    m.to_vec().expect("encodes")
}

/// The RCODE of a one-message reply; `None` for a stream (a zone transfer being sent).
async fn rcode(handler: &Handler, bytes: &[u8]) -> Option<ResponseCode> {
    match handler
        .handle_stream(
            bytes,
            CLIENT,
            Transport::Tcp,
            std::time::Duration::from_secs(10),
        )
        .await
        .expect("a reply")
    {
        Reply::One(reply) => Some(
            Message::from_vec(&reply)
                .expect("parses")
                .metadata
                .response_code,
        ),
        Reply::Stream(_) => None,
    }
}

fn serial(handler: &Handler) -> u32 {
    handler
        .catalog()
        .find(&name("n.test."))
        .expect("zone served")
        .serial()
}

#[tokio::test]
async fn fixed_zones_are_answered_on_the_bound_sockets_until_shutdown() {
    let zone = Zone::from_text(ZONE, std::path::Path::new("n.zone"), Some(&name("n.test.")))
        .expect("zone");
    let catalog = Catalog::new([zone]).expect("catalog");
    let udp = UdpSocket::bind("127.0.0.1:0").await.expect("bind udp");
    let at = udp.local_addr().expect("bound");
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind tcp");
    let (trigger, signal) = shutdown::channel();
    let mut running = NameServer::fixed(catalog, Arc::new(Metrics::default()))
        .start(vec![udp], vec![tcp], signal)
        .expect("starts");

    let client = UdpSocket::bind("127.0.0.1:0").await.expect("client");
    let query = request(OpCode::Query, "ns.n.test.", RecordType::A);
    client.send_to(&query, at).await.expect("send");
    let mut buf = [0u8; 512];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
        .await
        .expect("answered")
        .expect("recv");
    let reply = Message::from_vec(&buf[..n]).expect("parses");
    assert!(reply.metadata.authoritative);
    assert_eq!(reply.answers.len(), 1);

    trigger.fire();
    tokio::time::timeout(Duration::from_secs(5), async {
        while running.tasks.join_next().await.is_some() {}
    })
    .await
    .expect("stopped after the shutdown");
}

#[tokio::test]
async fn stored_zones_and_services_are_served_at_one_serial_across_restarts() {
    let (dir, source) = zone_dir("restart");
    let start = || {
        let store = ZoneStore::open(std::slice::from_ref(&source)).expect("opens");
        let (trigger, signal) = shutdown::channel();
        let (running, _) = NameServer::stored(store, vec![web()], Arc::new(Metrics::default()))
            .start(Vec::new(), Vec::new(), signal)
            .expect("starts");
        (running, trigger)
    };
    let (first, trigger) = start();
    let web = first
        .handler
        .catalog()
        .find(&name("web.n.test."))
        .map(|z| z.origin().clone());
    assert_eq!(web, Some(name("n.test.")), "the service is in its zone");
    // The file and the services are published as one: at the file's serial, not one step on.
    let served = serial(&first.handler);
    assert_eq!(served, 7);
    trigger.fire();

    // The same files, journal and services: nothing changed, so neither does the serial.
    let (second, trigger) = start();
    assert_eq!(serial(&second.handler), served);
    trigger.fire();
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn updates_and_transfers_are_notimp_unless_given() {
    let (dir, source) = zone_dir("services");
    let open = || ZoneStore::open(std::slice::from_ref(&source)).expect("opens");
    let update = request(OpCode::Update, "n.test.", RecordType::SOA);
    let axfr = request(OpCode::Query, "n.test.", RecordType::AXFR);
    let (_trigger, signal) = shutdown::channel();

    let (bare, _) = NameServer::stored(open(), Vec::new(), Arc::new(Metrics::default()))
        .start(Vec::new(), Vec::new(), signal.clone())
        .expect("starts");
    assert_eq!(
        rcode(&bare.handler, &update).await,
        Some(ResponseCode::NotImp)
    );
    assert_eq!(
        rcode(&bare.handler, &axfr).await,
        Some(ResponseCode::NotImp)
    );

    let key = name("k.");
    let replicated = Replication {
        primaries: vec![PrimaryZone {
            origin: name("n.test."),
            allow_transfer: TransferAcl {
                cidrs: Acl::loopback(),
                keys: Vec::new(),
            },
            notify: Vec::new(),
            notify_key: None,
        }],
        secondaries: Vec::new(),
    };
    let (full, _) = NameServer::stored(open(), Vec::new(), Arc::new(Metrics::default()))
        .updates(UpdatePolicy {
            keyring: Keyring::default(),
            zones: vec![(name("n.test."), vec![key])],
        })
        .replication(replicated, Keyring::default(), None)
        .start(Vec::new(), Vec::new(), signal)
        .expect("starts");
    // Unsigned, and the zone takes only signed updates: refused, but by the update service.
    assert_eq!(
        rcode(&full.handler, &update).await,
        Some(ResponseCode::Refused)
    );
    assert_eq!(rcode(&full.handler, &axfr).await, None, "a transfer stream");
    std::fs::remove_dir_all(&dir).ok();
}

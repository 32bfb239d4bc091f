//! A scripted authoritative server for one small zone, on UDP and TCP, whose replies a test
//! bends (no question section, cookies required, BADCOOKIE always); and a resolver that asks
//! it as the zone's stub server.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::net::{TcpListener, UdpSocket};

use crate::support::{bind_pair, name, tcp_recv, tcp_send};

/// What the server sends back to one query (`None`: silence).
pub(super) type Script = Box<dyn FnMut(&Message) -> Option<Message> + Send>;

/// A running scripted server: the queries it received over each transport.
pub(super) struct Scripted {
    pub(super) addr: SocketAddr,
    pub(super) udp: Arc<Mutex<Vec<Message>>>,
    pub(super) tcp: Arc<Mutex<Vec<Message>>>,
}

impl Scripted {
    /// Starts the server on `addr` (port 53): UDP queries go through `udp`, TCP ones are
    /// answered from the zone as they are.
    pub(super) async fn start(addr: SocketAddr, zone: &str, udp: Script) -> Scripted {
        let (sock, listener) = bind_pair(addr).await;
        let addr = sock.local_addr().expect("addr");
        let scripted = Scripted {
            addr,
            udp: Arc::default(),
            tcp: Arc::default(),
        };
        tokio::spawn(serve_udp(sock, udp, Arc::clone(&scripted.udp)));
        tokio::spawn(serve_tcp(listener, name(zone), Arc::clone(&scripted.tcp)));
        scripted
    }

    pub(super) fn udp_queries(&self) -> Vec<Message> {
        self.udp.lock().expect("log").clone()
    }

    pub(super) fn tcp_queries(&self) -> Vec<Message> {
        self.tcp.lock().expect("log").clone()
    }
}

async fn serve_udp(sock: UdpSocket, mut script: Script, log: Arc<Mutex<Vec<Message>>>) {
    let mut buf = [0; 4096];
    loop {
        let Ok((len, from)) = sock.recv_from(&mut buf).await else {
            return;
        };
        let Ok(query) = Message::from_vec(&buf[..len]) else {
            continue;
        };
        let reply = script(&query);
        log.lock().expect("log").push(query);
        if let Some(reply) = reply {
            let _ = sock.send_to(&reply.to_vec().expect("encodes"), from).await;
        }
    }
}

async fn serve_tcp(listener: TcpListener, zone: Name, log: Arc<Mutex<Vec<Message>>>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let zone = zone.clone();
        let log = Arc::clone(&log);
        tokio::spawn(async move {
            while let Some(bytes) = tcp_recv(&mut stream).await {
                let Ok(query) = Message::from_vec(&bytes) else {
                    return;
                };
                let reply = answer(&zone, &query);
                log.lock().expect("log").push(query);
                tcp_send(&mut stream, &reply.to_vec().expect("encodes")).await;
            }
        });
    }
}

/// The zone's answer to `query`: `www.<zone>` has an A record (192.0.2.7), every other name
/// in it exists with no data (the SOA in AUTHORITY). AA=1, the question repeated, an OPT
/// when the query had one.
pub(super) fn answer(zone: &Name, query: &Message) -> Message {
    let mut m = Message::response(query.metadata.id, query.metadata.op_code);
    m.metadata.authoritative = true;
    m.queries = query.queries.clone();
    if query.edns.is_some() {
        m.set_edns(Edns::new());
    }
    let Some(q) = query.queries.first() else {
        m.metadata.response_code = ResponseCode::FormErr;
        return m;
    };
    let www = Name::from_ascii("www")
        .expect("label")
        .append_domain(zone)
        .expect("name");
    if q.name() == &www && q.query_type() == RecordType::A {
        m.add_answer(Record::from_rdata(www, 300, RData::A(A::new(192, 0, 2, 7))));
    } else {
        let soa = SOA::new(
            Name::from_ascii("ns")
                .expect("label")
                .append_domain(zone)
                .expect("name"),
            Name::from_ascii("admin")
                .expect("label")
                .append_domain(zone)
                .expect("name"),
            1,
            3600,
            600,
            86400,
            300,
        );
        m.add_authority(Record::from_rdata(zone.clone(), 300, RData::SOA(soa)));
    }
    m
}

/// The COOKIE option's octets in `m`, if it has one.
pub(super) fn cookie_of(m: &Message) -> Option<Vec<u8>> {
    match m.edns.as_ref()?.option(EdnsCode::Cookie)? {
        EdnsOption::Unknown(_, data) => Some(data.clone()),
        _ => None,
    }
}

/// `m` with `cookie` as its COOKIE option (an OPT added if it had none).
pub(super) fn with_cookie(mut m: Message, cookie: Vec<u8>) -> Message {
    let mut edns = m.edns.take().unwrap_or_default();
    edns.options_mut()
        .insert(EdnsOption::Unknown(u16::from(EdnsCode::Cookie), cookie));
    m.set_edns(edns);
    m
}

/// A resolver over `upstream` that asks `server` for `zone` (a stub zone) and whose root
/// servers are nowhere.
pub(super) fn stub_resolver(
    zone: &str,
    server: SocketAddr,
    upstream: Arc<tern::NetUpstream>,
) -> Arc<tern::Resolver> {
    let nowhere = crate::support::addr(super::SUBNET, 250);
    let hints = format!(". 3600000 NS a.root.\na.root. 3600000 A {nowhere}\n");
    Arc::new(tern::Resolver::new(
        upstream,
        tern::parse_root_hints(&hints, std::path::Path::new("hints")).expect("hints"),
        Arc::new(tern::Cache::new(tern::CachePolicy::default())),
        tern::ResolverConfig {
            stubs: vec![tern::Stub {
                zone: name(zone),
                servers: vec![server],
            }],
            ..tern::ResolverConfig::default()
        },
        Arc::new(tern::Metrics::default()),
    ))
}

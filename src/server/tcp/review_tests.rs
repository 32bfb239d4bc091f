//! Review findings on the stream listener: the idle timeout a client is told (RFC 7828)
//! counts from the last answer, not from the last query, so a query the resolver took its
//! time over does not leave the client a shorter wait (in-memory stream, paused clock); a
//! frame too short to be a message is skipped; accepted sockets have Nagle's algorithm off
//! (a real loopback socket).

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::time::Instant;

use super::*;
use crate::authority::Catalog;
use crate::cache::{Cache, CachePolicy};
use crate::handler::{Acl, HandlerConfig, Recursion};
use crate::metrics::Metrics;
use crate::resolver::fake::FakeNet;
use crate::resolver::{Resolver, ResolverConfig};
use crate::server::conns::Registry;
use crate::server::shutdown::{self, ShutdownTrigger};

const IDLE: Duration = Duration::from_secs(10);

fn peer() -> SocketAddr {
    "127.242.0.2:40000".parse().expect("address")
}

/// A resolver over the fake lab internet whose every server answers after `latency`.
pub(super) fn recursive(latency: Duration) -> Handler {
    let net = FakeNet::lab();
    net.set_latency_everywhere(latency);
    let metrics = Arc::new(Metrics::default());
    let upstream = Arc::clone(&net) as Arc<dyn crate::resolver::Upstream>;
    let cache = Arc::new(Cache::new(CachePolicy::default()));
    let config = ResolverConfig::default();
    let resolver = Resolver::new(
        upstream,
        FakeNet::lab_hints(),
        cache,
        config,
        Arc::clone(&metrics),
    );
    let recursion = Recursion {
        resolver: Arc::new(resolver),
        acl: Acl::new(vec!["127.242.0.0/16".parse().expect("net")]),
        snoop: Acl::new(Vec::new()),
    };
    Handler::new(Catalog::default(), HandlerConfig::default(), metrics).with_recursion(recursion)
}

fn open(handler: &Arc<Handler>) -> (DuplexStream, ShutdownTrigger) {
    open_as(handler, Transport::Tcp)
}

/// A client's end of an in-memory connection of `transport` served by `handler`.
pub(super) fn open_as(
    handler: &Arc<Handler>,
    transport: Transport,
) -> (DuplexStream, ShutdownTrigger) {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let limits = TcpLimits {
        idle_timeout: IDLE,
        max_connections: 8,
        pipeline_depth: 4,
        ..TcpLimits::default()
    };
    let established = |guard: crate::server::conns::Guard| {
        guard.established();
        guard
    };
    let on = Connection {
        guard: established(Registry::new(&limits).admit(peer().ip()).expect("room")),
        peer: peer(),
        transport,
        handler: Arc::clone(handler),
        limits,
    };
    let (trigger, signal) = shutdown::channel();
    tokio::spawn(connection(server, on, signal));
    (client, trigger)
}

/// `www.alpha.test. A`, RD=1, with ID `id`.
fn query(id: u16) -> Vec<u8> {
    query_with(id, "www.alpha.test.", None)
}

/// `qname A`, RD=1, with ID `id` and `edns`.
pub(super) fn query_with(id: u16, qname: &str, edns: Option<Edns>) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    let qname = Name::from_ascii(qname).expect("name");
    m.add_query(Query::query(qname, RecordType::A));
    if let Some(edns) = edns {
        m.set_edns(edns);
    }
    m.to_vec().expect("encodes")
}

/// Sends `message` framed; `false` if the server has closed the connection.
pub(super) async fn send(stream: &mut DuplexStream, message: &[u8]) -> bool {
    let len = u16::try_from(message.len()).expect("fits");
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(message);
    stream.write_all(&framed).await.is_ok()
}

/// The next reply, or `None` if the server closed the connection first.
pub(super) async fn read_reply(stream: &mut DuplexStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.ok()?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut body).await.ok()?;
    Some(body)
}

/// The next reply's ID, or `None` if the server closed the connection first.
async fn reply_id(stream: &mut DuplexStream) -> Option<u16> {
    Some(
        Message::from_vec(&read_reply(stream).await?)
            .ok()?
            .metadata
            .id,
    )
}

#[tokio::test(start_paused = true)]
async fn the_idle_timeout_counts_from_the_last_answer_not_the_last_query() {
    let handler = Arc::new(recursive(Duration::from_secs(3)));
    let (mut client, _trigger) = open(&handler);
    let from = Instant::now();
    assert!(send(&mut client, &query(1)).await);
    assert_eq!(reply_id(&mut client).await, Some(1), "first answer");
    let took = from.elapsed();
    assert!(
        took >= Duration::from_secs(2),
        "the walk must be slow for this test to mean anything: {took:?}"
    );
    // Within the idle timeout after the answer (RFC 7766 §6.2.3: idle means no query
    // outstanding; RFC 7828: the client is told the timeout and counts it from the answer),
    // though past it counted from the query.
    tokio::time::sleep(IDLE - Duration::from_secs(1)).await;
    assert!(
        send(&mut client, &query(2)).await,
        "still open {:?} after the last answer",
        IDLE - Duration::from_secs(1)
    );
    let second = tokio::time::timeout(Duration::from_secs(5), reply_id(&mut client)).await;
    assert_eq!(
        second,
        Ok(Some(2)),
        "a query {:?} after the last answer is answered",
        IDLE - Duration::from_secs(1)
    );
}

#[tokio::test(start_paused = true)]
async fn an_empty_or_headerless_frame_is_skipped_and_the_next_query_answered() {
    let catalog = Catalog::new([]).expect("empty catalog");
    let handler = Arc::new(Handler::new(
        catalog,
        HandlerConfig::default(),
        Arc::default(),
    ));
    let (mut client, _trigger) = open(&handler);
    // A zero length, a five-byte frame (no whole header), then a query: in one segment.
    let mut burst = vec![0, 0, 0, 5, 1, 2, 3, 4, 5];
    let q = query(7);
    burst.extend_from_slice(&u16::try_from(q.len()).expect("fits").to_be_bytes());
    burst.extend_from_slice(&q);
    client.write_all(&burst).await.expect("write");
    let reply = tokio::time::timeout(Duration::from_secs(5), reply_id(&mut client)).await;
    assert_eq!(reply, Ok(Some(7)));
}

/// Whether the server's end of the connection from `client` to `server` (a socket of this
/// process) has Nagle's algorithm off.
fn server_side_nodelay(server: SocketAddr, client: SocketAddr) -> Option<bool> {
    use nix::sys::socket::{SockaddrStorage, getpeername, getsockname, getsockopt, sockopt};
    let ours = |fd: i32| -> Option<(SocketAddr, SocketAddr)> {
        let local = getsockname::<SockaddrStorage>(fd)
            .ok()?
            .as_sockaddr_in()?
            .to_owned();
        let peer = getpeername::<SockaddrStorage>(fd)
            .ok()?
            .as_sockaddr_in()?
            .to_owned();
        Some((
            SocketAddr::V4(std::net::SocketAddrV4::from(local)),
            SocketAddr::V4(std::net::SocketAddrV4::from(peer)),
        ))
    };
    for entry in std::fs::read_dir("/proc/self/fd").ok()?.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if ours(fd) == Some((server, client)) {
            // SAFETY: the fd is the server's socket of a connection this test holds open.
            let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            return getsockopt(&borrowed, sockopt::TcpNoDelay).ok();
        }
    }
    None
}

#[tokio::test]
async fn accepted_connections_turn_nagle_off() {
    // Replies are small and written as they are ready: with Nagle on, a reply written while
    // the one before is unacknowledged waits for the client's delayed ACK (40 ms on Linux).
    let listener = TcpListener::bind("127.242.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (_trigger, signal) = shutdown::channel();
    let catalog = Catalog::new([]).expect("empty catalog");
    let handler = Handler::new(catalog, HandlerConfig::default(), Arc::default());
    tokio::spawn(serve(
        listener,
        Arc::new(handler),
        TcpLimits::default(),
        signal,
    ));
    let mut client = TcpStream::connect(addr).await.expect("connect");
    let q = query(9);
    let mut framed = u16::try_from(q.len()).expect("fits").to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    client.write_all(&framed).await.expect("write");
    let mut len = [0u8; 2];
    client.read_exact(&mut len).await.expect("answered");
    let local = client.local_addr().expect("addr");
    assert_eq!(server_side_nodelay(addr, local), Some(true));
}

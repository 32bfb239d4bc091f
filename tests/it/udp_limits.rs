//! The UDP in-flight cap: while the only slot is taken by a slow recursive lookup, further
//! datagrams are dropped (and counted), not queued; once it frees, queries are answered again.
//! And a socket whose thread is running lookups still stops at shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::net::UdpSocket;

use tern::Acl;
use tern::Metrics;
use tern::Zone;
use tern::{Fixed, ListenerLimits, NameServer, UdpRuntime};

use crate::support::{self, query, udp_raw};

const SUBNET: u8 = 157;

/// A "root server" on host `hole` of the subnet that receives queries and never answers (each
/// lookup waits out timeouts), and a recursive handler whose root hints name it, serving
/// `local` zones.
async fn behind_a_black_hole(
    hole: u8,
    local: Vec<Zone>,
) -> (UdpSocket, NameServer<Fixed>, Arc<Metrics>) {
    let black_hole = UdpSocket::bind(SocketAddr::new(support::addr(SUBNET, hole), 53))
        .await
        .expect("bind black hole");
    let metrics = Arc::new(Metrics::default());
    let hints = format!(
        ". 3600 NS a.root.\na.root. 3600 A {}\n",
        support::addr(SUBNET, hole)
    );
    let resolver = support::net_resolver(&hints, &metrics);
    let node = support::recursive(local, resolver, Acl::loopback(), &metrics);
    (black_hole, node, metrics)
}

#[tokio::test]
async fn datagrams_beyond_the_in_flight_cap_are_dropped() {
    let local = support::zone(
        "svc.test.",
        "$TTL 60\n@ SOA ns host 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n",
    );
    let (black_hole, node, metrics) = behind_a_black_hole(9, vec![local]).await;
    // On this test's clock: the lookup's timeouts are moved past, not waited for.
    let node = node
        .listener_limits(ListenerLimits {
            udp_max_in_flight: 1,
            ..ListenerLimits::default()
        })
        .udp_runtime(UdpRuntime::Caller);
    let running = support::start_fixed(SocketAddr::new(support::addr(SUBNET, 1), 0), node).await;
    let server = running.addr;

    // Takes the only slot until the lookup gives up (it times out against the black hole).
    let slow = query("www.nowhere.test.", RecordType::A, true, Some(1232));
    let slow_bytes = slow.to_vec().expect("encode");
    let slow_reply =
        tokio::spawn(async move { udp_raw(server, &slow_bytes, Duration::from_secs(10)).await });
    // The black hole hears the lookup: the slot is taken.
    let mut buf = [0u8; 512];
    tokio::time::timeout(Duration::from_secs(2), black_hole.recv_from(&mut buf))
        .await
        .expect("upstream query within 2 s")
        .expect("recv");

    let local_q = query("ns.svc.test.", RecordType::A, false, None)
        .to_vec()
        .expect("encode");
    assert!(
        udp_raw(server, &local_q, Duration::from_millis(200))
            .await
            .is_none(),
        "dropped while the slot is taken"
    );
    assert_eq!(Metrics::get(&metrics.dropped), 1);

    // The lookup's whole time (`resolver.timeout_ms`, 7 s), less than the client's 10 s.
    support::pass(Duration::from_secs(7)).await;
    let reply = slow_reply
        .await
        .expect("join")
        .expect("the slow lookup is answered");
    let reply = Message::from_vec(&reply).expect("parses");
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    let again = udp_raw(server, &local_q, Duration::from_secs(2))
        .await
        .expect("answered once the slot is free");
    assert_eq!(Message::from_vec(&again).expect("parses").answers.len(), 1);
    drop(running);
    drop(black_hole);
}

#[tokio::test]
async fn shutdown_stops_a_socket_with_lookups_in_flight() {
    // A lookup that waits on a black hole keeps a task alive on the socket's thread, which then
    // waits on its runtime rather than in recvmmsg: shutdown must reach it there too.
    let (black_hole, node, _) = behind_a_black_hole(19, Vec::new()).await;
    let running = support::start_fixed(SocketAddr::new(support::addr(SUBNET, 11), 0), node).await;
    let server = running.addr;

    let slow = query("www.nowhere.test.", RecordType::A, true, Some(1232))
        .to_vec()
        .expect("encode");
    let client = UdpSocket::bind(SocketAddr::new(support::addr(SUBNET, 11), 0))
        .await
        .expect("client");
    client.send_to(&slow, server).await.expect("send");
    // The black hole hears the lookup: the task is alive and waiting.
    let mut buf = [0u8; 512];
    tokio::time::timeout(Duration::from_secs(2), black_hole.recv_from(&mut buf))
        .await
        .expect("upstream query within 2 s")
        .expect("recv");

    tokio::time::timeout(Duration::from_secs(2), running.stopped())
        .await
        .expect("stopped within 2 s");
    // Closed: the address binds again (no SO_REUSEPORT here).
    std::net::UdpSocket::bind(server).expect("the server's socket is closed");
}

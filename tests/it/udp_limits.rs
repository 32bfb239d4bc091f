//! The UDP in-flight cap: while the only slot is taken by a slow recursive lookup, further
//! datagrams are dropped (and counted), not queued; once it frees, queries are answered again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::net::UdpSocket;

use tern::handler::Acl;
use tern::metrics::Metrics;
use tern::server::{Server, shutdown};

use crate::support::{self, query, udp_raw};

const SUBNET: u8 = 157;

#[tokio::test]
async fn datagrams_beyond_the_in_flight_cap_are_dropped() {
    // A "root server" that receives queries and never answers: each lookup waits out timeouts.
    let black_hole = UdpSocket::bind(SocketAddr::new(support::addr(SUBNET, 9), 53))
        .await
        .expect("bind black hole");
    let metrics = Arc::new(Metrics::default());
    let hints = format!(
        ". 3600 NS a.root.\na.root. 3600 A {}\n",
        support::addr(SUBNET, 9)
    );
    let resolver = support::net_resolver(&hints, &metrics);
    let local = support::zone(
        "svc.test.",
        "$TTL 60\n@ SOA ns host 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n",
    );
    let handler = support::recursive_handler(vec![local], resolver, Acl::loopback(), &metrics);
    let (udp, tcp) = support::bind_pair(SocketAddr::new(support::addr(SUBNET, 1), 0)).await;
    let server = udp.local_addr().expect("bound");
    let (trigger, signal) = shutdown::channel();
    tokio::spawn(
        Server::new(vec![udp], vec![tcp], Arc::new(handler))
            .with_udp_max_in_flight(1)
            .run(signal),
    );

    // Takes the only slot for several hundred milliseconds (timeouts against the black hole).
    let slow = query("www.nowhere.test.", RecordType::A, true, Some(1232));
    let slow_bytes = slow.to_vec().expect("encode");
    let slow_reply =
        tokio::spawn(async move { udp_raw(server, &slow_bytes, Duration::from_secs(10)).await });
    tokio::time::sleep(Duration::from_millis(50)).await;

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
    trigger.fire();
    drop(black_hole);
}

//! Prefetch over real sockets: a name asked steadily, with a 2 s TTL and a window of half of
//! it, is refreshed from its authority before it expires, so no client's question past the
//! first waits for upstream. Real time (2.6 s): the server's clocks cannot be paused.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tern::Metrics;
use tokio::net::UdpSocket;
use tokio::time::{Instant, sleep, timeout};

use crate::support::{
    REPLY_TIMEOUT, addr, name, query, recursive, start_authoritative, start_fixed, zone,
};

/// This test's own loopback subnet.
const SUBNET: u8 = 148;

const ZONE: &str = "$ORIGIN pf.test.\n$TTL 3600\n\
@ SOA ns hostmaster 1 3600 600 86400 60\n@ NS ns\nns A 127.148.0.53\nwww 2 A 192.0.2.7\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_asked_steadily_is_refreshed_before_it_expires() {
    let authority = start_authoritative(
        SocketAddr::new(addr(SUBNET, 53), 0),
        vec![zone("pf.test.", ZONE)],
    )
    .await;
    // Root hints into nowhere: pf.test. is reached through the stub alone.
    let hints = format!(". 3600000 NS a.root.\na.root. 3600000 A 127.{SUBNET}.0.250\n");
    let metrics = Arc::new(Metrics::default());
    let resolver = tern::Resolver::new(
        Arc::new(tern::NetUpstream::default()),
        tern::parse_root_hints(&hints, Path::new("hints")).expect("hints"),
        Arc::new(tern::Cache::new(tern::CachePolicy {
            prefetch_percent: 50,
            ..tern::CachePolicy::default()
        })),
        tern::ResolverConfig {
            stubs: vec![tern::Stub {
                zone: name("pf.test."),
                servers: vec![authority.addr],
            }],
            ..tern::ResolverConfig::default()
        },
        Arc::clone(&metrics),
    );
    let node = recursive(Vec::new(), resolver, tern::Acl::loopback(), &metrics);
    let tern = start_fixed(SocketAddr::new(addr(SUBNET, 1), 0), node).await;

    let client = UdpSocket::bind(SocketAddr::new(addr(SUBNET, 100), 0))
        .await
        .expect("client socket");
    let q = query("www.pf.test.", RecordType::A, true, Some(1232))
        .to_vec()
        .expect("encodes");
    let start = Instant::now();
    let mut buf = vec![0; 4096];
    let mut asked = 0;
    // Every 100 ms for 2.6 s: past the first answer's expiry at 2 s.
    while start.elapsed() < Duration::from_millis(2600) {
        client.send_to(&q, tern.addr).await.expect("send");
        let (n, _) = timeout(REPLY_TIMEOUT, client.recv_from(&mut buf))
            .await
            .expect("a reply in time")
            .expect("received");
        let m = Message::from_vec(&buf[..n]).expect("reply parses");
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(m.answers.len(), 1, "{m:?}");
        assert!(m.answers[0].ttl >= 1, "{:?}", m.answers);
        asked += 1;
        sleep(Duration::from_millis(100)).await;
    }
    let prefetches = Metrics::get(&metrics.prefetches);
    assert!(asked > 20, "{asked}");
    assert!(prefetches >= 1, "refreshed at least once");
    assert_eq!(
        Metrics::get(&metrics.cache_misses),
        1,
        "only the first question waited for upstream"
    );
    // A refresh is one query to the authority (a retransmission on a loaded machine aside).
    assert!(Metrics::get(&metrics.upstream_queries) > prefetches);
    assert_eq!(Metrics::get(&metrics.prefetches_skipped), 0);
}

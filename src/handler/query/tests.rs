//! The query service's time: read once where the request arrived, and a resolver's answer kept
//! for the hit path as of when its last reply was read.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::Message;
use tokio::time::Instant;

use crate::authority::Catalog;
use crate::cache::{Cache, CachePolicy};
use crate::handler::test_query::query;
use crate::handler::{Acl, Handler, HandlerConfig, Recursion, Transport};
use crate::metrics::Metrics;
use crate::resolver::fake::FakeNet;
use crate::resolver::{Resolver, ResolverConfig};

fn recursive(net: Arc<FakeNet>) -> Handler {
    let metrics = Arc::new(Metrics::default());
    let resolver = Arc::new(Resolver::new(
        net,
        FakeNet::lab_hints(),
        Arc::new(Cache::new(CachePolicy::default())),
        ResolverConfig::default(),
        Arc::clone(&metrics),
    ));
    Handler::new(Catalog::default(), HandlerConfig::default(), metrics).with_recursion(Recursion {
        resolver,
        acl: Acl::loopback(),
        snoop: Acl::new(Vec::new()),
    })
}

fn answer_ttls(wire: &[u8]) -> Vec<u32> {
    let m = Message::from_vec(wire).expect("reply parses");
    m.answers.iter().map(|r| r.ttl).collect()
}

#[tokio::test(start_paused = true)]
async fn a_walks_answer_is_kept_for_the_hit_path_as_of_its_last_reply() {
    let net = FakeNet::lab();
    // Every hop takes 300 ms, less than a first retransmission timeout: the cold walk takes
    // more than a second, without a retransmission.
    net.set_latency_everywhere(Duration::from_millis(300));
    let handler = recursive(net);
    let client: SocketAddr = "127.0.0.1:40000".parse().expect("address");
    let q = query("www.alpha.test.", true);
    let asked = Instant::now();
    let full = handler
        .handle_bytes(&q, client, Transport::Udp)
        .await
        .expect("answered");
    assert!(Instant::now() >= asked + Duration::from_secs(1));
    assert_eq!(answer_ttls(&full), [3600]);
    let mut out = Vec::new();
    assert!(handler.answer_fast(&q, client, &mut out), "a hit");
    // Kept as of the request's arrival, it would count the walk's second against the TTL.
    assert_eq!(answer_ttls(&out), [3600]);
}

//! Prefetch from the hit path: the first hit (UDP or stream) in the last tenth of a kept
//! answer's lifetime refreshes its question once, the client answered from the cache; the
//! refreshed answer replaces the kept one; no client's question is a miss meanwhile.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::Message;
use tokio::time::{advance, sleep};

use crate::authority::Catalog;
use crate::cache::{Cache, CachePolicy};
use crate::handler::test_query::query;
use crate::handler::{Acl, Handler, HandlerConfig, Recursion, Transport};
use crate::metrics::Metrics;
use crate::resolver::fake::{FakeNet, ip};
use crate::resolver::{Resolver, ResolverConfig};

pub(super) fn recursive(net: &Arc<FakeNet>, policy: CachePolicy) -> Handler {
    let metrics = Arc::new(Metrics::default());
    let upstream = Arc::clone(net) as Arc<dyn crate::resolver::Upstream>;
    let (hints, cache) = (FakeNet::lab_hints(), Arc::new(Cache::new(policy)));
    let config = ResolverConfig::default();
    let resolver = Resolver::new(upstream, hints, cache, config, Arc::clone(&metrics));
    let recursion = Recursion {
        resolver: Arc::new(resolver),
        acl: Acl::loopback(),
        snoop: Acl::new(Vec::new()),
    };
    Handler::new(Catalog::default(), HandlerConfig::default(), metrics).with_recursion(recursion)
}

fn alpha_queries(net: &FakeNet) -> usize {
    net.count(ip("127.0.0.41")) + net.count(ip("127.0.0.42"))
}

fn ttl(wire: &[u8]) -> u32 {
    Message::from_vec(wire).expect("parses").answers[0].ttl
}

/// A handler over the lab whose hit path keeps www.alpha.test. A (TTL 3600), `secs` after
/// the walk; and the query.
async fn kept(policy: CachePolicy, secs: u64) -> (Arc<FakeNet>, Handler, Vec<u8>) {
    let net = FakeNet::lab();
    let handler = recursive(&net, policy);
    let q = query("www.alpha.test.", true);
    let client = client();
    handler
        .handle_bytes(&q, client, Transport::Udp)
        .await
        .expect("answered");
    advance(Duration::from_secs(secs)).await;
    (net, handler, q)
}

fn client() -> SocketAddr {
    "127.0.0.1:40000".parse().expect("address")
}

#[tokio::test(start_paused = true)]
async fn hits_in_the_window_refresh_once_and_the_answer_is_kept_anew() {
    let (net, handler, q) = kept(CachePolicy::default(), 3600 - 300).await;
    let before = alpha_queries(&net);
    let mut out = Vec::new();
    for _ in 0..10 {
        assert!(handler.answer_fast(&q, client(), &mut out), "a hit");
        assert_eq!(ttl(&out), 300);
    }
    sleep(Duration::from_secs(1)).await;
    assert_eq!(alpha_queries(&net), before + 1, "one refresh for ten hits");
    let m = handler.metrics();
    assert_eq!(Metrics::get(&m.prefetches), 1);
    // The kept answer was forgotten: the next is answered by the full path, from the
    // refreshed RRsets (a hit, not a miss), and kept again.
    assert!(!handler.answer_fast(&q, client(), &mut out));
    let full = handler
        .handle_bytes(&q, client(), Transport::Udp)
        .await
        .expect("answered");
    assert_eq!(ttl(&full), 3599);
    assert!(handler.answer_fast(&q, client(), &mut out));
    assert_eq!(ttl(&out), 3599);
    assert_eq!(Metrics::get(&m.cache_misses), 1, "only the first walk");
    assert_eq!(alpha_queries(&net), before + 1);
}

#[tokio::test(start_paused = true)]
async fn the_stream_hit_path_refreshes_too() {
    let (net, handler, q) = kept(CachePolicy::default(), 3600 - 10).await;
    let before = alpha_queries(&net);
    assert!(handler.answer_stream_fast(&q, client(), Transport::Tcp, &mut Vec::new()));
    sleep(Duration::from_secs(1)).await;
    assert_eq!(alpha_queries(&net), before + 1);
    assert_eq!(Metrics::get(&handler.metrics().prefetches), 1);
}

#[tokio::test(start_paused = true)]
async fn outside_the_window_or_off_nothing_is_refreshed() {
    let off = CachePolicy {
        prefetch_percent: 0,
        ..CachePolicy::default()
    };
    // 400 s left is before the window of 360; 10 s left is in it, but prefetch is off.
    for (policy, secs) in [(CachePolicy::default(), 3600 - 400), (off, 3600 - 10)] {
        let (net, handler, q) = kept(policy, secs).await;
        let before = net.total();
        let mut out = Vec::new();
        assert!(handler.answer_fast(&q, client(), &mut out));
        sleep(Duration::from_secs(1)).await;
        assert_eq!(net.total(), before);
        assert_eq!(Metrics::get(&handler.metrics().prefetches), 0);
    }
}

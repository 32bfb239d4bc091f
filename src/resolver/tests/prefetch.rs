//! Prefetch on the resolver's (RRset) path: the first hit in the last tenth of an answer's
//! TTL refreshes it once in the background, the client answered from the cache meanwhile;
//! not outside the window, not for a miss, not when off, not when the resolver is busy.

use std::time::Duration;

use hickory_proto::op::ResponseCode::NoError;
use hickory_proto::rr::RecordType::A;
use tokio::time::{Instant, advance, sleep};

use super::*;
use crate::cache::Key;
use crate::resolver::fake::{Sent, ip};
use crate::resolver::prefetch::Prefetch;

/// www.alpha.test. A: TTL 3600, so a window of 360 s at the default 10 %.
const WWW: &str = "www.alpha.test.";
const TTL: u64 = 3600;
const WINDOW: u64 = 360;

/// Queries alpha.test.'s servers were sent.
fn alpha_queries(net: &FakeNet) -> usize {
    net.count(ip("127.0.0.41")) + net.count(ip("127.0.0.42"))
}

fn counters(r: &Resolver) -> (u64, u64, u64, u64) {
    let m = &r.metrics;
    (
        Metrics::get(&m.cache_hits),
        Metrics::get(&m.cache_misses),
        Metrics::get(&m.prefetches),
        Metrics::get(&m.prefetches_skipped),
    )
}

/// Seconds left on www.alpha.test. A in the cache.
fn ttl_left(r: &Resolver) -> u32 {
    let key = Key::new(&name(WWW), A);
    r.cache.get(&key, Instant::now()).expect("cached").ttl
}

/// Lets spawned refreshes run (the lab answers at once; a second is ample).
async fn settle() {
    sleep(Duration::from_secs(1)).await;
}

/// A resolver that has walked for www.alpha.test. A once, `secs` ago.
async fn asked(
    config: ResolverConfig,
    policy: CachePolicy,
    secs: u64,
) -> (Arc<FakeNet>, Arc<Resolver>) {
    let net = FakeNet::lab();
    let r = Arc::new(Resolver::new(
        Arc::clone(&net) as Arc<dyn crate::resolver::Upstream>,
        FakeNet::lab_hints(),
        Arc::new(Cache::new(policy)),
        config,
        Arc::new(Metrics::default()),
    ));
    let first = expect(&r, WWW, A, NoError).await;
    assert!(first.upstream_queries > 0);
    advance(Duration::from_secs(secs)).await;
    (net, r)
}

#[tokio::test(start_paused = true)]
async fn many_hits_in_the_window_refresh_once_and_no_client_ever_misses() {
    let (net, r) = asked(Default::default(), Default::default(), TTL - WINDOW + 1).await;
    let before = alpha_queries(&net);
    for _ in 0..20 {
        let hit = expect(&r, WWW, A, NoError).await;
        assert_eq!(hit.upstream_queries, 0, "answered from the cache");
    }
    settle().await;
    assert_eq!(
        alpha_queries(&net),
        before + 1,
        "one refresh for twenty hits"
    );
    assert_eq!(
        counters(&r),
        (20, 1, 1, 0),
        "hits, misses, prefetches, skipped"
    );
    assert!(ttl_left(&r) > (TTL - 2) as u32, "fresh: {}", ttl_left(&r));
    // Past the first answer's expiry the name is still there: no client waited.
    advance(Duration::from_secs(WINDOW)).await;
    let later = expect(&r, WWW, A, NoError).await;
    assert_eq!(later.upstream_queries, 0);
    assert_eq!(Metrics::get(&r.metrics.cache_misses), 1);
    // The refreshed entry has a window of its own, refreshed once again.
    advance(Duration::from_secs(TTL - WINDOW - 10)).await;
    expect(&r, WWW, A, NoError).await;
    expect(&r, WWW, A, NoError).await;
    settle().await;
    assert_eq!(alpha_queries(&net), before + 2);
    assert_eq!(Metrics::get(&r.metrics.prefetches), 2);
}

#[tokio::test(start_paused = true)]
async fn a_hit_before_the_window_or_with_prefetch_off_starts_nothing() {
    let off = CachePolicy {
        prefetch_percent: 0,
        ..CachePolicy::default()
    };
    for (policy, secs) in [(CachePolicy::default(), TTL - WINDOW - 2), (off, TTL - 10)] {
        let (net, r) = asked(Default::default(), policy, secs).await;
        let before = net.total();
        expect(&r, WWW, A, NoError).await;
        settle().await;
        assert_eq!(net.total(), before);
        assert_eq!(counters(&r), (1, 1, 0, 0));
    }
}

#[tokio::test(start_paused = true)]
async fn a_miss_is_not_a_prefetch() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    let cold = expect(&r, WWW, A, NoError).await;
    assert!(cold.upstream_queries > 0);
    // Expired: the next is a miss, a client's walk, not a refresh.
    advance(Duration::from_secs(TTL + 1)).await;
    let expired = expect(&r, WWW, A, NoError).await;
    assert!(expired.upstream_queries > 0);
    settle().await;
    assert_eq!(counters(&r), (0, 2, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_wider_window_starts_earlier() {
    let half = CachePolicy {
        prefetch_percent: 50,
        ..CachePolicy::default()
    };
    let (net, r) = asked(Default::default(), half, TTL / 2 + 1).await;
    let before = alpha_queries(&net);
    expect(&r, WWW, A, NoError).await;
    settle().await;
    assert_eq!(alpha_queries(&net), before + 1);
}

#[tokio::test(start_paused = true)]
async fn a_busy_resolver_drops_the_refresh_and_a_later_hit_tries_again() {
    // One walk in flight is busy: a client's, held open by slow servers.
    let busy = ResolverConfig {
        prefetch_busy_walks: 1,
        ..ResolverConfig::default()
    };
    let (net, r) = asked(busy, Default::default(), TTL - 100).await;
    for beta in [ip("127.0.0.51"), ip("127.0.0.52")] {
        net.set_latency(beta, Duration::from_secs(3));
    }
    let client = Arc::clone(&r);
    let other = name("alias.beta.example.");
    let walk = tokio::spawn(async move { client.resolve(&other, A, Instant::now()).await });
    tokio::task::yield_now().await;
    let before = alpha_queries(&net);
    let hit = expect(&r, WWW, A, NoError).await;
    assert_eq!(
        hit.upstream_queries, 0,
        "the client is answered all the same"
    );
    assert_eq!(counters(&r), (1, 1, 0, 1), "dropped, and counted");
    walk.await
        .expect("joined")
        .expect("the other walk's answer");
    // Dropped, not queued: nothing was asked for it.
    assert_eq!(alpha_queries(&net), before);
    // Nor claimed: once the resolver is idle, the next hit refreshes.
    expect(&r, WWW, A, NoError).await;
    sleep(Duration::from_secs(10)).await;
    assert_eq!(alpha_queries(&net), before + 1);
    assert_eq!(counters(&r), (2, 2, 1, 1));
    assert!(ttl_left(&r) > (TTL - 20) as u32);
}

#[tokio::test(start_paused = true)]
async fn a_refresh_in_flight_is_joined_not_doubled() {
    let (net, r) = asked(Default::default(), Default::default(), TTL - 1).await;
    // alpha.test.'s servers answer after 1.5 s (within the client's stale-answer timer),
    // known to be that slow: no retransmission.
    for server in [ip("127.0.0.41"), ip("127.0.0.42")] {
        net.set_latency(server, Duration::from_millis(1500));
        r.infra
            .record_reply(server, Some(Duration::from_millis(1200)), Instant::now());
    }
    let before = alpha_queries(&net);
    let now = Instant::now();
    assert_eq!(r.prefetch(&name(WWW), A, now, None), Prefetch::Started);
    assert_eq!(r.prefetch(&name(WWW), A, now, None), Prefetch::Joined);
    // A client whose entry ran out meanwhile joins the refresh: one query between them, and
    // the client waited for it, a miss.
    sleep(Duration::from_millis(1200)).await;
    let joined = expect(&r, WWW, A, NoError).await;
    assert!(
        Instant::now() >= now + Duration::from_millis(1500),
        "waited for the refresh"
    );
    assert!(!joined.stale);
    assert_eq!(
        lines(&joined.answers),
        ["www.alpha.test. 3600 A 127.0.0.100"]
    );
    settle().await;
    assert_eq!(alpha_queries(&net), before + 1);
    assert_eq!(counters(&r), (0, 2, 1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_chain_is_refreshed_link_by_link() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    expect(&r, "alias.beta.example.", A, NoError).await;
    advance(Duration::from_secs(TTL - 10)).await;
    let before = net.total();
    expect(&r, "alias.beta.example.", A, NoError).await;
    settle().await;
    assert!(net.total() >= before + 2, "the CNAME and its target");
    // Both links fresh: past the first answer's expiry it is still a hit.
    advance(Duration::from_secs(20)).await;
    let later = expect(&r, "alias.beta.example.", A, NoError).await;
    assert_eq!(later.upstream_queries, 0, "{later:?}");
    assert!(ttl_left(&r) > (TTL - 40) as u32);
}

#[tokio::test(start_paused = true)]
async fn a_refresh_waits_behind_every_clients_miss_at_a_full_server() {
    let (net, r) = asked(Default::default(), Default::default(), TTL - 100).await;
    expect(&r, "warm.wild.alpha.test.", A, NoError).await;
    // One server for the zone in practice (the other known to be far slower), whose window
    // the misses fill: every question waits in the same line.
    net.set_latency(ip("127.0.0.41"), Duration::from_millis(100));
    for _ in 0..10 {
        let infra = &r.infra;
        infra.record_reply(
            ip("127.0.0.41"),
            Some(Duration::from_millis(100)),
            Instant::now(),
        );
        infra.record_reply(
            ip("127.0.0.42"),
            Some(Duration::from_secs(3)),
            Instant::now(),
        );
    }
    let earlier = net.total();
    let misses = |range: std::ops::Range<usize>| {
        range
            .map(|i| {
                let r = Arc::clone(&r);
                tokio::spawn(async move {
                    let qname = name(&format!("u{i}.wild.alpha.test."));
                    r.resolve(&qname, A, Instant::now()).await
                })
            })
            .collect::<Vec<_>>()
    };
    // More misses than both servers' windows hold: the rest wait in line.
    let mut walks = misses(0..100);
    sleep(Duration::from_millis(1)).await;
    assert_eq!(
        r.prefetch(&name(WWW), A, Instant::now(), None),
        Prefetch::Started
    );
    sleep(Duration::from_millis(1)).await;
    // Clients that came after the refresh, due later than it, still go before it.
    walks.extend(misses(100..120));
    for w in walks {
        w.await.expect("joined").expect("answered");
    }
    settle().await;
    let order: Vec<Sent> = net
        .sent()
        .into_iter()
        .skip(earlier)
        .filter(|s| s.qname.to_ascii().ends_with("alpha.test."))
        .collect();
    let refresh = order
        .iter()
        .position(|s| s.qname == name(WWW))
        .expect("the refresh was sent");
    let last_client = order
        .iter()
        .rposition(|s| s.qname.to_ascii().ends_with(".wild.alpha.test."))
        .expect("the clients' queries");
    assert!(
        refresh > last_client,
        "the refresh went at {refresh}, before a client's query at {last_client}: {order:#?}"
    );
    assert_eq!(counters(&r).2, 1);
    assert!(
        order.iter().all(|s| s.server == ip("127.0.0.41")),
        "{order:#?}"
    );
    assert_eq!(order.len(), 121, "one query a question: {order:#?}");
    assert!(ttl_left(&r) > (TTL - 10) as u32, "refreshed all the same");
}

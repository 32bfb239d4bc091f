//! A remembered failure (RFC 9520) hit in the last part of its life refreshes it once in the
//! background, as Unbound prefetches its SERVFAIL entries; an answer that comes back replaces
//! the failure even when it has TTL 0 and is not kept (Unbound's `fwd_0ttlservfail`), so the
//! next client gets it rather than the old SERVFAIL.

use std::time::Duration;

use hickory_proto::op::ResponseCode::NoError;
use hickory_proto::rr::RecordType::A;
use tokio::time::{advance, sleep};

use super::*;
use crate::resolver::fake::{Mode, ip, zone};

const SMALL: &str = "small.big.test.";

/// A resolver that remembers failures for 30 s (a window of 3 s at the default 10 %), after
/// `small.big.test. A` failed with big.test.'s server silent; the server then mended, its
/// answer for small now of TTL `ttl`.
async fn failed(prefetch_percent: u32, ttl: u32) -> (Arc<FakeNet>, Arc<Resolver>) {
    let net = FakeNet::lab();
    let r = Arc::new(Resolver::new(
        Arc::clone(&net) as Arc<dyn crate::resolver::Upstream>,
        FakeNet::lab_hints(),
        Arc::new(Cache::new(CachePolicy {
            prefetch_percent,
            ..CachePolicy::default()
        })),
        ResolverConfig {
            failure_ttl: 30,
            ..ResolverConfig::default()
        },
        Arc::new(Metrics::default()),
    ));
    let big = ip("127.0.0.81");
    net.set_modes(big, Mode::Unreachable, Mode::Unreachable);
    resolve(&r, SMALL, A).await.expect_err("no usable reply");
    net.set_modes(big, Mode::Answer, Mode::Answer);
    let text = FakeNet::lab_file("big.test.zone").replace(
        "small  IN  A  127.0.0.150",
        &format!("small {ttl} IN A 127.0.0.150"),
    );
    net.replace_zone(zone("big.test.", &text));
    (net, r)
}

#[tokio::test(start_paused = true)]
async fn a_failure_hit_in_its_window_is_refreshed_once_and_a_ttl_0_answer_replaces_it() {
    let (net, r) = failed(10, 0).await;
    // 26 s on: 4 s left, before the window; the failure is answered and nothing asked.
    advance(Duration::from_secs(26)).await;
    let sent = net.total();
    resolve(&r, SMALL, A)
        .await
        .expect_err("the failure, remembered");
    sleep(Duration::from_secs(1)).await;
    assert_eq!(net.total(), sent, "nothing asked outside the window");
    // 27 s on: in the window. The clients still get the failure; one refresh goes behind.
    for _ in 0..3 {
        resolve(&r, SMALL, A)
            .await
            .expect_err("the failure, remembered");
    }
    sleep(Duration::from_millis(100)).await;
    let refreshed = net.count(ip("127.0.0.81"));
    assert!(refreshed > 0 && net.total() > sent, "refreshed behind");
    assert_eq!(
        Metrics::get(&r.metrics.prefetches),
        1,
        "one refresh for three hits"
    );
    // Its answer had TTL 0 and was not kept, but the failure is gone: the next client walks.
    let res = expect(&r, SMALL, A, NoError).await;
    assert!(res.upstream_queries > 0);
    assert_eq!(lines(&res.answers), [format!("{SMALL} 0 A 127.0.0.150")]);
}

#[tokio::test(start_paused = true)]
async fn with_prefetch_off_a_failure_is_not_refreshed() {
    let (net, r) = failed(0, 300).await;
    advance(Duration::from_secs(28)).await;
    let sent = net.total();
    resolve(&r, SMALL, A)
        .await
        .expect_err("the failure, remembered");
    // Not even the instant it ends.
    advance(Duration::from_secs(2)).await;
    resolve(&r, SMALL, A)
        .await
        .expect_err("the failure, to its end");
    sleep(Duration::from_millis(100)).await;
    assert_eq!(net.total(), sent, "nothing asked while the failure lasts");
    assert_eq!(Metrics::get(&r.metrics.prefetches), 0);
}

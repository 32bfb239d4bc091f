//! A zero stale-answer timeout (Unbound's `serve-expired: yes` with its client timeout 0):
//! expired data is answered at once and refreshed by one walk behind it. An expired failure is
//! not answered, in that mode or with the default timer (Unbound's worker ignores expired
//! failure answers).

use std::time::Duration;

use hickory_proto::op::ResponseCode::NoError;
use hickory_proto::rr::RecordType::A;
use tokio::time::{Instant, advance, sleep};

use super::*;
use crate::resolver::fake::{Mode, ip};

const SHORT: &str = "short-ttl.alpha.test.";
const SMALL: &str = "small.big.test.";

fn immediate() -> ResolverConfig {
    ResolverConfig {
        stale_answer_timeout: Duration::ZERO,
        ..ResolverConfig::default()
    }
}

/// Queries alpha.test.'s servers were sent.
fn alpha_queries(net: &FakeNet) -> usize {
    net.count(ip("127.0.0.41")) + net.count(ip("127.0.0.42"))
}

/// Lets a refresh behind an answer run (the lab answers at once).
async fn settle() {
    sleep(Duration::from_secs(1)).await;
}

/// A resolver with `config` after `small.big.test. A` failed (big.test.'s server silent),
/// the server mended since and the failure (5 s) expired.
async fn failure_expired(config: ResolverConfig) -> (Arc<FakeNet>, Arc<Resolver>) {
    let net = FakeNet::lab();
    let r = resolver_with(&net, config);
    let big = ip("127.0.0.81");
    net.set_modes(big, Mode::Unreachable, Mode::Unreachable);
    resolve(&r, SMALL, A).await.expect_err("no usable reply");
    net.set_modes(big, Mode::Answer, Mode::Answer);
    sleep(Duration::from_secs(6)).await;
    (net, r)
}

#[tokio::test(start_paused = true)]
async fn expired_data_is_answered_at_once_and_refreshed_once_behind() {
    let net = FakeNet::lab();
    let r = resolver_with(&net, immediate());
    expect(&r, SHORT, A, NoError).await;
    advance(Duration::from_secs(10)).await;
    // The lab answers at once: a client that waited for the walk would get its fresh answer.
    let before = alpha_queries(&net);
    let asked = Instant::now();
    for _ in 0..3 {
        let res = expect(&r, SHORT, A, NoError).await;
        assert!(res.stale, "served expired, not waiting for the walk");
        assert_eq!(lines(&res.answers), [format!("{SHORT} 30 A 127.0.0.104")]);
    }
    assert_eq!(asked.elapsed(), Duration::ZERO, "nobody waited");
    settle().await;
    assert_eq!(
        alpha_queries(&net),
        before + 1,
        "one refresh for three clients"
    );
    let res = expect(&r, SHORT, A, NoError).await;
    assert!(!res.stale);
    assert_eq!(res.upstream_queries, 0, "from the refreshed cache");
    // Refreshed when the first client asked, a second ago.
    assert_eq!(lines(&res.answers), [format!("{SHORT} 4 A 127.0.0.104")]);
}

#[tokio::test(start_paused = true)]
async fn with_a_zero_timer_an_expired_failure_is_not_served_either() {
    let (net, r) = failure_expired(immediate()).await;
    let sent = net.total();
    let res = expect(&r, SMALL, A, NoError).await;
    assert!(
        res.upstream_queries > 0 && net.total() > sent,
        "asked again, not answered the old SERVFAIL"
    );
}

#[tokio::test(start_paused = true)]
async fn with_the_default_timer_an_expired_failure_is_not_served() {
    let (net, r) = failure_expired(ResolverConfig::default()).await;
    let sent = net.total();
    let res = expect(&r, SMALL, A, NoError).await;
    assert!(
        res.upstream_queries > 0 && net.total() > sent,
        "asked again"
    );
}

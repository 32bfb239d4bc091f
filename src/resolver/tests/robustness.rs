//! Failure caching, serve-stale, coalescing, QNAME minimisation and spoofing defences.

use std::net::Ipv4Addr;
use std::time::Duration;

use hickory_proto::op::ResponseCode::NoError;
use hickory_proto::rr::RData;
use hickory_proto::rr::RecordType::{A, TXT};
use hickory_proto::rr::rdata::{self, CNAME};
use tokio::time::{Instant, advance};

use super::*;
use crate::cache::Key;
use crate::resolver::fake::{Mode, ip};

#[tokio::test(start_paused = true)]
async fn failures_are_cached_briefly() {
    let (net, r, big) = big_test_failed(Mode::Unreachable, Mode::Unreachable).await;
    let sent = net.total();
    net.set_modes(big, Mode::Answer, Mode::Answer);
    advance(Duration::from_secs(4)).await;
    let e = resolve(&r, "small.big.test.", A).await.expect_err("cached");
    assert!(matches!(e, ResolveError::CachedFailure(_)), "{e}");
    assert_eq!(
        net.total(),
        sent,
        "RFC 9520: no new queries within the failure TTL"
    );
    advance(Duration::from_secs(2)).await;
    expect(&r, "small.big.test.", A, NoError).await;
    assert!(net.total() > sent, "tried again after the failure TTL");
    // A loop fails from cached links alone, and that failure is cached too.
    resolve(&r, "loop1.alpha.test.", A).await.expect_err("loop");
    let e = resolve(&r, "loop1.alpha.test.", A)
        .await
        .expect_err("cached");
    assert!(matches!(e, ResolveError::CachedFailure(_)), "{e}");
}

#[tokio::test(start_paused = true)]
async fn expired_data_is_served_when_upstream_is_dead() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    expect(&r, "short-ttl.alpha.test.", A, NoError).await;
    advance(Duration::from_secs(10)).await;
    net.silence(ip("127.0.0.41"));
    net.silence(ip("127.0.0.42"));
    let res = expect(&r, "short-ttl.alpha.test.", A, NoError).await;
    assert!(res.stale, "RFC 8767 stale answer");
    assert_eq!(
        lines(&res.answers),
        ["short-ttl.alpha.test. 30 A 127.0.0.104"]
    );
    // The walk goes on retransmitting in the background until both servers have had their
    // tries or the time budget is spent (a lost datagram must not end it); then the failure is
    // cached and both servers are out of rotation. (A paused clock's sleep lets every timer
    // fire in turn; `advance` would jump past them.)
    tokio::time::sleep(Duration::from_secs(6)).await;
    // Within the failure TTL the stale answer comes at once, without asking anyone.
    let asked = Instant::now();
    let sent = net.total();
    let res = expect(&r, "short-ttl.alpha.test.", A, NoError).await;
    assert!(res.stale);
    assert_eq!(net.total(), sent);
    assert_eq!(asked.elapsed(), Duration::ZERO);
    // Names never seen fail fast: both servers are out of rotation.
    let asked = Instant::now();
    let e = resolve(&r, "www.alpha.test.", TXT).await.expect_err("dead");
    assert_eq!(e.rcode(), hickory_proto::op::ResponseCode::ServFail);
    assert!(
        asked.elapsed() < Duration::from_millis(200),
        "{:?}",
        asked.elapsed()
    );
}

/// A resolver whose client response timer is `timer_ms`, holding `short-ttl.alpha.test.`
/// (TTL 5) past its expiry, while every upstream answer now takes `latency_ms`.
async fn expired_with_slow_upstream(
    timer_ms: u64,
    latency_ms: u64,
) -> (Arc<FakeNet>, Arc<Resolver>) {
    let net = FakeNet::lab();
    let r = resolver_with(
        &net,
        ResolverConfig {
            stale_answer_timeout: Duration::from_millis(timer_ms),
            ..ResolverConfig::default()
        },
    );
    expect(&r, "short-ttl.alpha.test.", A, NoError).await;
    advance(Duration::from_secs(10)).await;
    net.set_latency_everywhere(Duration::from_millis(latency_ms));
    (net, r)
}

#[tokio::test(start_paused = true)]
async fn slow_upstream_gets_a_stale_answer_after_the_client_timer() {
    // Every answer now takes 30 ms: longer than the client timer, well within the budget.
    let (net, r) = expired_with_slow_upstream(20, 30).await;
    let asked = Instant::now();
    let res = expect(&r, "short-ttl.alpha.test.", A, NoError).await;
    assert!(
        res.stale,
        "RFC 8767 §5: stale data once the client response timer fires"
    );
    assert_eq!(asked.elapsed(), Duration::from_millis(20));
    // The walk went on in the background and refreshed the cache. (A paused clock's sleep lets
    // it run; `advance` would jump past its timers without polling it.)
    tokio::time::sleep(Duration::from_millis(100)).await;
    let sent = net.total();
    let res = expect(&r, "short-ttl.alpha.test.", A, NoError).await;
    assert!(!res.stale, "refreshed by the background walk");
    assert_eq!(
        lines(&res.answers),
        ["short-ttl.alpha.test. 5 A 127.0.0.104"]
    );
    assert_eq!(net.total(), sent, "answered from the refreshed cache");
}

#[tokio::test(start_paused = true)]
async fn clients_joining_a_slow_walk_get_the_stale_answer_without_waiting_again() {
    let (_net, r) = expired_with_slow_upstream(200, 900).await;
    let first = {
        let r = Arc::clone(&r);
        tokio::spawn(async move { resolve(&r, "short-ttl.alpha.test.", A).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let asked = Instant::now();
    let res = expect(&r, "short-ttl.alpha.test.", A, NoError).await;
    assert!(res.stale);
    assert_eq!(
        asked.elapsed(),
        Duration::ZERO,
        "the timer ran out for the first client"
    );
    assert!(first.await.expect("join").expect("stale").stale);
}

#[tokio::test(start_paused = true)]
async fn identical_concurrent_questions_share_one_walk() {
    let net = FakeNet::lab();
    net.set_latency_everywhere(Duration::from_millis(10));
    let r = resolver(&net);
    let (a, b) = tokio::join!(
        resolve(&r, "www.glueless.test.", A),
        resolve(&r, "www.glueless.test.", A)
    );
    let (a, b) = (a.expect("first"), b.expect("second"));
    assert_eq!(a, b);
    assert!(a.upstream_queries > 0);
    assert_eq!(net.total(), a.upstream_queries, "one walk for both");
}

#[tokio::test(start_paused = true)]
async fn qname_minimisation_shows_each_server_one_more_label() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    expect(&r, "host.deep.alpha.test.", A, NoError).await;
    let asked = |servers: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = net
            .sent()
            .iter()
            .filter(|s| servers.iter().any(|a| ip(a) == s.server))
            .map(|s| s.qname.to_ascii())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    assert!(
        asked(&["127.0.0.11", "127.0.0.12"])
            .iter()
            .all(|n| n == "." || n == "test."),
        "the root sees only test.: {:?}",
        asked(&["127.0.0.11", "127.0.0.12"])
    );
    assert_eq!(asked(&["127.0.0.21", "127.0.0.22"]), ["alpha.test."]);
    assert_eq!(asked(&["127.0.0.41", "127.0.0.42"]), ["deep.alpha.test."]);
    assert_eq!(asked(&["127.0.0.43"]), ["host.deep.alpha.test."]);

    // Without minimisation the root sees the whole name.
    let net2 = FakeNet::lab();
    let config = ResolverConfig {
        qname_minimisation: false,
        ..ResolverConfig::default()
    };
    let r = resolver_with(&net2, config);
    expect(&r, "host.deep.alpha.test.", A, NoError).await;
    assert!(
        net2.sent()
            .iter()
            .any(|s| s.server == ip("127.0.0.11") || s.server == ip("127.0.0.12"))
    );
    assert!(
        net2.sent()
            .iter()
            .filter(|s| s.qname != Name::root())
            .all(|s| s.qname == name("host.deep.alpha.test."))
    );
}

#[tokio::test(start_paused = true)]
async fn nxdomain_for_an_empty_non_terminal_falls_back_to_the_full_name() {
    let net = FakeNet::lab();
    // A broken server: NXDOMAIN for the empty non-terminal wild.alpha.test.
    for a in ["127.0.0.41", "127.0.0.42"] {
        net.claim_nxdomain(ip(a), name("wild.alpha.test."));
    }
    let r = resolver(&net);
    let res = expect(&r, "exists.wild.alpha.test.", TXT, NoError).await;
    assert_eq!(res.answers.len(), 1);
    let qnames: Vec<Name> = net.sent().into_iter().map(|s| s.qname).collect();
    let ent = qnames
        .iter()
        .position(|n| *n == name("wild.alpha.test."))
        .expect("minimised query for the ENT");
    assert_eq!(
        qnames[ent + 1],
        name("exists.wild.alpha.test."),
        "then the full name"
    );
}

fn spoof_a(owner: &str) -> Record {
    Record::from_rdata(
        name(owner),
        86400,
        RData::A(rdata::A(Ipv4Addr::new(127, 66, 0, 66))),
    )
}

#[tokio::test(start_paused = true)]
async fn out_of_bailiwick_records_never_reach_the_cache() {
    let net = FakeNet::lab();
    let evil = ip("127.66.0.66");
    for a in ["127.0.0.41", "127.0.0.42"] {
        net.inject(
            ip(a),
            vec![
                spoof_a("www.beta.example."),
                spoof_a("ns1.beta.example."),
                Record::from_rdata(
                    name("alias.beta.example."),
                    86400,
                    RData::CNAME(CNAME(name("evil.alpha.test."))),
                ),
            ],
        );
    }
    // Glue for out-of-bailiwick NS names from the test. servers.
    for a in ["127.0.0.21", "127.0.0.22"] {
        net.inject(
            ip(a),
            vec![spoof_a("ns1.beta.example."), spoof_a("ns2.beta.example.")],
        );
    }
    let r = resolver(&net);
    let res = expect(&r, "www.alpha.test.", A, NoError).await;
    assert_eq!(lines(&res.answers), ["www.alpha.test. 3600 A 127.0.0.100"]);
    // The chain's out-of-zone tail comes from beta.example.'s own servers.
    let res = expect(&r, "cname-cross.alpha.test.", A, NoError).await;
    assert_eq!(
        lines(&res.answers),
        [
            "cname-cross.alpha.test. 3600 CNAME www.beta.example.",
            "www.beta.example. 3600 A 127.0.0.110",
        ]
    );
    let res = expect(&r, "www.glueless.test.", A, NoError).await;
    assert_eq!(
        lines(&res.answers),
        ["www.glueless.test. 3600 A 127.0.0.120"]
    );
    let res = expect(&r, "alias.beta.example.", A, NoError).await;
    assert_eq!(
        lines(&res.answers[..1]),
        ["alias.beta.example. 3600 CNAME www.alpha.test."]
    );
    assert_eq!(net.count(evil), 0, "never asked a spoofed address");
    let now = Instant::now();
    for (owner, t) in [("ns1.beta.example.", A), ("ns2.beta.example.", A)] {
        if let Some(c) = r.cache().get(&Key::new(&name(owner), t), now) {
            assert!(!format!("{:?}", c.data).contains("127.66.0.66"), "{owner}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_client_that_goes_away_mid_walk_leaves_no_walk_behind() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    expect(&r, "warm.wild.alpha.test.", A, NoError).await;
    for server in [ip("127.0.0.41"), ip("127.0.0.42")] {
        net.set_latency(server, Duration::from_secs(1));
    }
    // A stream client's query, dropped with its connection while the walk waits upstream.
    let client = Arc::clone(&r);
    let gone = tokio::spawn(async move {
        let qname = name("gone.wild.alpha.test.");
        client.resolve(&qname, A, Instant::now()).await
    });
    advance(Duration::from_millis(100)).await;
    gone.abort();
    assert!(gone.await.expect_err("aborted").is_cancelled());
    let key = Key::new(&name("gone.wild.alpha.test."), A);
    assert!(
        r.walk_started(&key).is_none(),
        "its walk is not in flight any more"
    );
    // The next client of the question, much later, walks with its own timers: it is not
    // taken for one that joined a walk running since then (an instant client timeout).
    advance(Duration::from_secs(30)).await;
    let res = expect(&r, "gone.wild.alpha.test.", A, NoError).await;
    assert_eq!(res.answers.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_cached_alias_is_followed_and_only_its_target_asked() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    expect(&r, "alias.beta.example.", A, NoError).await;
    // The target's A set goes (expired, evicted or flushed); the CNAME is still cached.
    let target = name("www.alpha.test.");
    r.flush(crate::cache::admin::Flush::Name(&target));
    let earlier = net.total();
    let res = expect(&r, "alias.beta.example.", A, NoError).await;
    assert_eq!(res.answers.len(), 2, "{res:?}");
    let asked: Vec<_> = net.sent().into_iter().skip(earlier).collect();
    assert!(
        asked.iter().all(|s| s.qname == target),
        "only the target is asked: {asked:#?}"
    );
}

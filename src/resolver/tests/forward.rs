//! Forward zones: names in them go with RD=1 to recursive resolvers, whose answers without AA
//! (negative ones too) are used; longest match across stub and forward zones; failover;
//! `forward_first` falling back to the walk.

use hickory_proto::op::ResponseCode::{NXDomain, NoError};
use hickory_proto::rr::RecordType::{A, MX};

use super::*;
use crate::resolver::fake::Sent;
use crate::resolver::{Forward, Stub};

/// Recursive resolvers on the fake internet (outside the lab's addresses).
const FWD_1: &str = "127.9.0.1";
const FWD_2: &str = "127.9.0.2";
/// The lab's alpha.test. and beta.example. servers.
const ALPHA_1: &str = "127.0.0.41";
const BETA: [&str; 2] = ["127.0.0.51", "127.0.0.52"];

fn forward(zone: &str, servers: &[&str], first: bool) -> Forward {
    Forward {
        zone: name(zone),
        servers: servers
            .iter()
            .map(|s| std::net::SocketAddr::new(ip(s), 53))
            .collect(),
        first,
        tls: None,
        no_cache: false,
    }
}

pub(super) fn with_forwards(net: &Arc<FakeNet>, forwards: Vec<Forward>) -> Arc<Resolver> {
    resolver_with(
        net,
        ResolverConfig {
            forwards,
            ..ResolverConfig::default()
        },
    )
}

/// A resolver with these forward zones, before its listeners or validator are set.
fn forwarding(net: &Arc<FakeNet>, forwards: Vec<Forward>) -> Resolver {
    Resolver::new(
        Arc::clone(net) as Arc<dyn crate::resolver::Upstream>,
        FakeNet::lab_hints(),
        Arc::new(Cache::new(CachePolicy::default())),
        ResolverConfig {
            forwards,
            ..ResolverConfig::default()
        },
        Arc::new(Metrics::default()),
    )
}

fn sent_to(net: &FakeNet, addr: &str) -> Vec<Sent> {
    net.sent()
        .into_iter()
        .filter(|s| s.server == ip(addr))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_forwarded_name_is_asked_whole_with_rd_of_the_forwarder_only() {
    let net = FakeNet::lab();
    net.add_recursive(ip(FWD_1));
    let r = with_forwards(&net, vec![forward("alpha.test.", &[FWD_1], false)]);
    let res = expect(&r, "www.alpha.test.", A, NoError).await;
    assert_eq!(lines(&res.answers), ["www.alpha.test. 3600 A 127.0.0.100"]);
    let sent = net.sent();
    assert_eq!(sent.len(), 1, "one query, no walk: {sent:?}");
    assert_eq!(sent[0].server, ip(FWD_1));
    assert!(sent[0].rd, "RD=1 to a forwarder");
    assert_eq!(sent[0].qname, name("www.alpha.test."), "not minimised");
    // Cached as usual.
    expect(&r, "www.alpha.test.", A, NoError).await;
    assert_eq!(net.total(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_forwarders_nxdomain_and_nodata_are_answers_not_lameness() {
    let net = FakeNet::lab();
    net.add_recursive(ip(FWD_1));
    net.add_recursive(ip(FWD_2));
    let r = with_forwards(&net, vec![forward("alpha.test.", &[FWD_1, FWD_2], false)]);
    let nx = expect(&r, "nope.alpha.test.", A, NXDomain).await;
    assert!(nx.answers.is_empty());
    let nodata = expect(&r, "mail.alpha.test.", MX, NoError).await;
    assert!(nodata.answers.is_empty());
    assert_eq!(
        net.total(),
        2,
        "one forwarder asked once each: {:?}",
        net.sent()
    );
    // Negative answers are cached like any other.
    expect(&r, "nope.alpha.test.", A, NXDomain).await;
    expect(&r, "mail.alpha.test.", MX, NoError).await;
    assert_eq!(net.total(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_longest_zone_match_wins_across_stub_and_forward_zones() {
    let net = FakeNet::lab();
    net.add_recursive(ip(FWD_1));
    net.add_recursive(ip(FWD_2));
    let config = ResolverConfig {
        forwards: vec![
            forward(".", &[FWD_1], false),
            forward("beta.example.", &[FWD_2], false),
        ],
        stubs: vec![Stub {
            zone: name("alpha.test."),
            servers: vec![std::net::SocketAddr::new(ip(ALPHA_1), 53)],
        }],
        ..ResolverConfig::default()
    };
    let r = resolver_with(&net, config);
    expect(&r, "www.beta.example.", A, NoError).await;
    assert_eq!(sent_to(&net, FWD_2).len(), 1, "{:?}", net.sent());
    expect(&r, "www.alpha.test.", A, NoError).await;
    let stub = sent_to(&net, ALPHA_1);
    assert_eq!(stub.len(), 1, "the deeper stub zone: {:?}", net.sent());
    assert!(!stub[0].rd, "a stub's servers are asked with RD=0");
    expect(&r, "www.example.", A, NXDomain).await;
    assert_eq!(sent_to(&net, FWD_1).len(), 1, "the rest to \".\"");
    assert_eq!(net.total(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_silent_forwarder_fails_over_to_the_next() {
    let net = FakeNet::lab();
    // FWD_1 has no host: it never answers.
    net.add_recursive(ip(FWD_2));
    let r = with_forwards(&net, vec![forward("alpha.test.", &[FWD_1, FWD_2], false)]);
    expect(&r, "www.alpha.test.", A, NoError).await;
    assert!(!sent_to(&net, FWD_2).is_empty());
    // And one that answers SERVFAIL is left for the other at once.
    let net = FakeNet::lab();
    net.add_recursive(ip(FWD_1));
    net.add_recursive(ip(FWD_2));
    net.set_modes(
        ip(FWD_1),
        Mode::Rcode(ResponseCode::ServFail),
        Mode::Rcode(ResponseCode::ServFail),
    );
    let r = with_forwards(&net, vec![forward("alpha.test.", &[FWD_1, FWD_2], false)]);
    expect(&r, "www.alpha.test.", A, NoError).await;
    expect(&r, "mail.alpha.test.", A, NoError).await;
    assert_eq!(sent_to(&net, FWD_2).len(), 2, "{:?}", net.sent());
}

#[tokio::test(start_paused = true)]
async fn forward_first_walks_the_hierarchy_when_every_forwarder_fails() {
    let net = FakeNet::lab();
    net.add_recursive(ip(FWD_1));
    net.set_modes(
        ip(FWD_1),
        Mode::Rcode(ResponseCode::ServFail),
        Mode::Rcode(ResponseCode::ServFail),
    );
    let only = with_forwards(&net, vec![forward("alpha.test.", &[FWD_1], false)]);
    resolve(&only, "www.alpha.test.", A)
        .await
        .expect_err("no fallback without forward_first");
    assert_eq!(net.count(ip(ALPHA_1)), 0);
    let first = with_forwards(&net, vec![forward("alpha.test.", &[FWD_1], true)]);
    let res = expect(&first, "www.alpha.test.", A, NoError).await;
    assert_eq!(lines(&res.answers), ["www.alpha.test. 3600 A 127.0.0.100"]);
    assert!(
        net.sent().iter().any(|s| !s.rd && s.server != ip(FWD_1)),
        "walked: {:?}",
        net.sent()
    );
}

#[tokio::test(start_paused = true)]
async fn forwarding_the_root_sends_everything_to_the_forwarder() {
    let net = FakeNet::lab();
    net.add_recursive(ip(FWD_1));
    let r = with_forwards(&net, vec![forward(".", &[FWD_1], false)]);
    expect(&r, "www.alpha.test.", A, NoError).await;
    let res = expect(&r, "cname-cross.alpha.test.", A, NoError).await;
    assert_eq!(
        lines(&res.answers),
        [
            "cname-cross.alpha.test. 3600 CNAME www.beta.example.",
            "www.beta.example. 3600 A 127.0.0.110"
        ]
    );
    expect(&r, "nope.example.", A, NXDomain).await;
    let sent = net.sent();
    assert!(
        sent.iter().all(|s| s.server == ip(FWD_1) && s.rd),
        "{sent:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_alias_out_of_a_forward_zone_is_followed_where_its_target_lives() {
    let net = FakeNet::lab();
    net.add_recursive(ip(FWD_1));
    let r = with_forwards(&net, vec![forward("alpha.test.", &[FWD_1], false)]);
    let res = expect(&r, "cname-cross.alpha.test.", A, NoError).await;
    assert_eq!(res.answers.len(), 2, "{res:?}");
    assert_eq!(sent_to(&net, FWD_1).len(), 1, "{:?}", net.sent());
    let walked: Vec<Sent> = net
        .sent()
        .into_iter()
        .filter(|s| BETA.contains(&s.server.to_string().as_str()))
        .collect();
    assert!(
        !walked.is_empty() && walked.iter().all(|s| !s.rd),
        "{walked:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_forwarded_answer_is_served_stale_when_the_forwarders_are_dead() {
    let net = FakeNet::lab();
    net.add_recursive(ip(FWD_1));
    let r = with_forwards(&net, vec![forward("alpha.test.", &[FWD_1], false)]);
    expect(&r, "short-ttl.alpha.test.", A, NoError).await;
    tokio::time::advance(std::time::Duration::from_secs(10)).await;
    net.silence(ip(FWD_1));
    let res = expect(&r, "short-ttl.alpha.test.", A, NoError).await;
    assert!(res.stale, "RFC 8767 stale answer");
    assert_eq!(net.count(ip(ALPHA_1)), 0, "never walked");
}

#[tokio::test(start_paused = true)]
async fn a_forwarder_that_is_ourselves_is_a_loop() {
    let net = FakeNet::lab();
    net.add_recursive(ip(FWD_1));
    let listen: std::net::SocketAddr = "127.9.0.1:53".parse().expect("address");
    let r = forwarding(&net, vec![forward(".", &[FWD_1], false)]).with_listeners(&[listen]);
    let r = Arc::new(r);
    let e = resolve(&r, "www.alpha.test.", A).await.expect_err("a loop");
    assert!(matches!(e, ResolveError::ForwardingLoop { .. }), "{e}");
    assert_eq!(net.total(), 0, "nothing sent anywhere");
}

/// A validating resolver over the signed lab whose secure.test. is forwarded to `FWD_1`, a
/// recursive resolver knowing the signed zones.
fn validating_forwarder(fails_validation: bool) -> (Arc<FakeNet>, Arc<Resolver>) {
    let (net, anchors) = super::validate::signed_net();
    net.add_recursive_of_hosts(ip(FWD_1));
    if fails_validation {
        net.fail_validation(ip(FWD_1));
    }
    let r = validating_with_forwarders(&net, anchors, &[FWD_1]);
    (net, r)
}

/// A validating resolver over `net` forwarding secure.test. to `servers`.
fn validating_with_forwarders(
    net: &Arc<FakeNet>,
    anchors: crate::dnssec::anchor::Anchors,
    servers: &[&str],
) -> Arc<Resolver> {
    use super::validate::SIGNED_AT;
    use crate::resolver::validate::{UnixClock, Validator};
    let validator = Validator::new(anchors, Vec::new())
        .with_clock(UnixClock::pinned(tokio::time::Instant::now(), SIGNED_AT));
    let r = forwarding(net, vec![forward("secure.test.", servers, false)]);
    Arc::new(r.with_validator(validator))
}

/// The (qname, CD) of the queries sent to `FWD_1`.
fn cd_to_forwarder(net: &FakeNet) -> Vec<(String, bool)> {
    sent_to(net, FWD_1)
        .into_iter()
        .map(|s| (format!("{} {}", s.qname, s.qtype), s.cd))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_validating_resolver_asks_a_forwarder_with_cd_0_first_as_unbound_does() {
    let (net, r) = validating_forwarder(false);
    let res = expect(&r, "www.secure.test.", A, NoError).await;
    assert_eq!(res.security, crate::cache::Trust::Secure, "{res:?}");
    let sent = cd_to_forwarder(&net);
    assert!(!sent.is_empty());
    assert!(
        sent.iter().all(|(_, cd)| !cd),
        "CD=0 while the forwarder answers: {sent:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_forwarders_servfail_is_asked_again_with_cd_1_and_validated_here() {
    let (net, r) = validating_forwarder(true);
    let res = expect(&r, "www.secure.test.", A, NoError).await;
    assert_eq!(res.security, crate::cache::Trust::Secure, "{res:?}");
    let www: Vec<bool> = cd_to_forwarder(&net)
        .into_iter()
        .filter(|(q, _)| q == "www.secure.test. A")
        .map(|(_, cd)| cd)
        .collect();
    assert_eq!(www, [false, true], "CD=0, its SERVFAIL, then CD=1");
    // Without validation here, CD=1 would hand the client unchecked data: the SERVFAIL stands.
    let net = FakeNet::lab();
    net.add_recursive(ip(FWD_1));
    net.fail_validation(ip(FWD_1));
    let r = with_forwards(&net, vec![forward("alpha.test.", &[FWD_1], false)]);
    let e = resolve(&r, "www.alpha.test.", A)
        .await
        .expect_err("SERVFAIL");
    assert!(matches!(e, ResolveError::NoReachableAuthority(_)), "{e}");
    assert!(cd_to_forwarder(&net).iter().all(|(_, cd)| !cd));
    assert_eq!(net.count(ip(FWD_1)), 1);
}

/// [`forward`] over DNS over TLS (no roots: the fake internet never makes a handshake).
fn forward_tls(zone: &str, servers: &[&str], first: bool) -> Forward {
    let dot = crate::outbound::tls::DotUpstream::with_roots(
        "dns.example",
        None,
        rustls::RootCertStore::empty(),
    )
    .expect("dot");
    Forward {
        tls: Some(crate::resolver::upstream::Encrypted::Tls(Arc::new(dot))),
        no_cache: false,
        ..forward(zone, servers, first)
    }
}

#[tokio::test(start_paused = true)]
async fn a_tls_forwarder_is_asked_only_over_tls_and_a_bad_certificate_fails_over_not_to_plaintext()
{
    let net = FakeNet::lab();
    net.add_recursive(ip(FWD_1));
    net.add_recursive(ip(FWD_2));
    net.bad_certificate(ip(FWD_1));
    let r = with_forwards(
        &net,
        vec![forward_tls("alpha.test.", &[FWD_1, FWD_2], false)],
    );
    for qname in ["www.alpha.test.", "mail.alpha.test.", "ftp.alpha.test."] {
        resolve(&r, qname, A).await.expect("answered");
    }
    let to_fwd: Vec<Sent> = net.sent().into_iter().filter(|s| s.rd).collect();
    assert_eq!(sent_to(&net, FWD_2).len(), 3, "failed over: {to_fwd:?}");
    assert!(
        to_fwd.iter().all(|s| s.tls && s.tcp),
        "TLS only: {to_fwd:?}"
    );

    // Its only server failing: SERVFAIL (EDE 22), or with forward_first the walk.
    let net = FakeNet::lab();
    net.add_recursive(ip(FWD_1));
    net.bad_certificate(ip(FWD_1));
    let r = with_forwards(&net, vec![forward_tls("alpha.test.", &[FWD_1], false)]);
    let e = resolve(&r, "www.alpha.test.", A)
        .await
        .expect_err("SERVFAIL");
    assert!(matches!(e, ResolveError::NoReachableAuthority(_)), "{e}");
    assert_eq!(e.ede().0, crate::ede::NO_REACHABLE_AUTHORITY);
    assert!(net.sent().iter().all(|s| s.tls), "{:?}", net.sent());
    let r = with_forwards(&net, vec![forward_tls("alpha.test.", &[FWD_1], true)]);
    expect(&r, "www.alpha.test.", A, NoError).await;
    let walked = net
        .sent()
        .iter()
        .any(|s| !s.rd && s.qname == name("www.alpha.test."));
    assert!(walked, "walked: {:?}", net.sent());
    assert!(sent_to(&net, FWD_1).iter().all(|s| s.tls));
}

#[tokio::test(start_paused = true)]
async fn a_doh_forwarder_is_asked_only_encrypted_fails_over_and_is_traced_as_https() {
    let net = FakeNet::lab();
    net.add_recursive(ip(FWD_1));
    net.add_recursive(ip(FWD_2));
    net.bad_certificate(ip(FWD_1));
    let doh = crate::outbound::doh::DohUpstream::with_roots(
        "https://dns.example/dns-query",
        None,
        rustls::RootCertStore::empty(),
    )
    .expect("doh");
    let https = Forward {
        tls: Some(crate::resolver::upstream::Encrypted::Https(Arc::new(doh))),
        ..forward("alpha.test.", &[FWD_1, FWD_2], false)
    };
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let traced = Arc::clone(&lines);
    let config = ResolverConfig {
        forwards: vec![https],
        trace: Some(Arc::new(move |step: &crate::resolver::TraceStep| {
            traced.lock().expect("lines").push(step.to_string());
        })),
        ..ResolverConfig::default()
    };
    let r = resolver_with(&net, config);
    resolve(&r, "www.alpha.test.", A).await.expect("answered");
    assert!(!sent_to(&net, FWD_2).is_empty(), "failed over");
    let to_fwd: Vec<Sent> = net.sent().into_iter().filter(|s| s.rd).collect();
    assert!(to_fwd.iter().all(|s| s.tls && s.tcp), "{to_fwd:?}");
    let lines = lines.lock().expect("lines").clone();
    assert!(
        !lines.is_empty() && lines.iter().all(|l| l.contains(" over HTTPS ")),
        "{lines:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_bogus_forwarded_answer_is_asked_of_the_other_forwarder_with_cd_1_not_walked() {
    use crate::lab::sign::Signing;
    let copies = [("secure.test.", Signing::Bogus, FWD_1)];
    let (net, anchors) = super::validate::signed_net_with(|_, text| text, &copies);
    net.make_recursive(ip(FWD_1));
    net.add_recursive_of_hosts(ip(FWD_2));
    let r = validating_with_forwarders(&net, anchors, &[FWD_1, FWD_2]);
    // The bad one looks fastest, so it is asked first.
    let now = tokio::time::Instant::now();
    let ms = std::time::Duration::from_millis;
    r.infra.record_reply(ip(FWD_1), Some(ms(1)), now);
    r.infra.record_reply(ip(FWD_2), Some(ms(50)), now);
    let res = expect(&r, "www.secure.test.", A, NoError).await;
    assert_eq!(res.security, crate::cache::Trust::Secure, "{res:?}");
    let www = |s: &Sent| s.qname == name("www.secure.test.") && s.qtype == A;
    let asked: Vec<(std::net::IpAddr, bool, bool)> = net
        .sent()
        .into_iter()
        .filter(www)
        .map(|s| (s.server, s.rd, s.cd))
        .collect();
    assert_eq!(
        asked,
        [(ip(FWD_1), true, false), (ip(FWD_2), true, true)],
        "the other forwarder, CD=1, and no walk"
    );
}

/// `no_cache` (Unbound's forward-no-cache): nothing learnt of the zone is cached or answered
/// from the cache, so the same question goes to the forwarder each time, and a failure is not
/// remembered either; a forward zone beside it is cached as usual, and an answer through an
/// alias from it into the no_cache zone is not kept whole: the target is asked each time.
#[tokio::test(start_paused = true)]
async fn a_no_cache_forward_zone_is_asked_every_time_and_nothing_of_it_is_cached() {
    let uncached = Forward {
        no_cache: true,
        ..forward("beta.example.", &[FWD_2], false)
    };
    let net = FakeNet::lab();
    for f in [FWD_1, FWD_2] {
        net.add_recursive(ip(f));
    }
    let r = with_forwards(
        &net,
        vec![uncached, forward("alpha.test.", &[FWD_1], false)],
    );
    for n in 1..=2 {
        let res = expect(&r, "www.beta.example.", A, NoError).await;
        assert_eq!(
            lines(&res.answers),
            ["www.beta.example. 3600 A 127.0.0.110"]
        );
        assert_eq!(res.upstream_queries, 1, "not a cache hit");
        assert_eq!(sent_to(&net, FWD_2).len(), n, "asked each time");
    }
    let key = crate::cache::Key::new(&name("www.beta.example."), A);
    assert!(
        r.cache().get(&key, Instant::now()).is_none(),
        "nothing stored"
    );

    expect(&r, "www.alpha.test.", A, NoError).await;
    expect(&r, "www.alpha.test.", A, NoError).await;
    assert_eq!(sent_to(&net, FWD_1).len(), 1, "the other zone is cached");

    for _ in 0..2 {
        let res = expect(&r, "cname-cross.alpha.test.", A, NoError).await;
        assert_eq!(res.answers.len(), 2);
        assert!(!r.keeps_answer(&name("cname-cross.alpha.test."), &res.answers));
    }
    assert_eq!(sent_to(&net, FWD_2).len(), 4, "its target each time");
    assert!(r.keeps_answer(&name("www.alpha.test."), &[]));

    net.set_modes(
        ip(FWD_2),
        Mode::Rcode(ResponseCode::ServFail),
        Mode::Rcode(ResponseCode::ServFail),
    );
    resolve(&r, "mail.beta.example.", A)
        .await
        .expect_err("SERVFAIL");
    let before = sent_to(&net, FWD_2).len();
    resolve(&r, "mail.beta.example.", A)
        .await
        .expect_err("SERVFAIL");
    assert!(
        sent_to(&net, FWD_2).len() > before,
        "not a remembered failure"
    );
}

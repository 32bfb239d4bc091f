//! Forwarding loops: a server the walk would ask that is one of our own listeners is skipped,
//! and a zone with nobody else to ask fails with its own error (see `loopguard`).

use std::net::SocketAddr;

use hickory_proto::op::ResponseCode::NoError;
use hickory_proto::rr::RecordType::A;

use super::*;
use crate::ede;
use crate::resolver::Stub;
use crate::resolver::fake::ip;

/// The lab's alpha.test. servers.
const ALPHA_1: &str = "127.0.0.41";
const ALPHA_2: &str = "127.0.0.42";

fn listening_on(net: &Arc<FakeNet>, config: ResolverConfig, listen: &[&str]) -> Arc<Resolver> {
    let listen: Vec<SocketAddr> = listen
        .iter()
        .map(|s| s.parse().expect("socket address"))
        .collect();
    Arc::new(
        Resolver::new(
            Arc::clone(net) as Arc<dyn crate::resolver::Upstream>,
            FakeNet::lab_hints(),
            Arc::new(Cache::new(CachePolicy::default())),
            config,
            Arc::new(Metrics::default()),
        )
        .with_listeners(&listen),
    )
}

#[tokio::test(start_paused = true)]
async fn a_name_server_that_is_ourselves_is_skipped_like_a_lame_one() {
    let net = FakeNet::lab();
    let r = listening_on(&net, ResolverConfig::default(), &["127.0.0.41:53"]);
    let res = expect(&r, "www.alpha.test.", A, NoError).await;
    assert!(!res.answers.is_empty());
    assert_eq!(net.count(ip(ALPHA_1)), 0, "never asked itself");
    assert!(net.count(ip(ALPHA_2)) > 0);
}

#[tokio::test(start_paused = true)]
async fn a_zone_served_only_by_ourselves_fails_with_a_loop_error() {
    let net = FakeNet::lab();
    let r = listening_on(
        &net,
        ResolverConfig::default(),
        &["127.0.0.41:53", "127.0.0.42:53"],
    );
    let e = resolve(&r, "www.alpha.test.", A).await.expect_err("a loop");
    assert!(
        matches!(&e, ResolveError::ForwardingLoop { zone, .. } if *zone == name("alpha.test.")),
        "{e}"
    );
    let (code, text) = e.ede();
    assert_eq!(code, ede::NO_REACHABLE_AUTHORITY);
    assert!(text.contains("forwarding loop"), "{text}");
    assert_eq!(net.count(ip(ALPHA_1)) + net.count(ip(ALPHA_2)), 0);
}

#[tokio::test(start_paused = true)]
async fn a_stub_zone_pointed_at_ourselves_is_a_loop() {
    let net = FakeNet::lab();
    let config = ResolverConfig {
        stubs: vec![Stub {
            zone: name("alpha.test."),
            servers: vec!["127.0.0.77:5300".parse().expect("address")],
        }],
        ..ResolverConfig::default()
    };
    let r = listening_on(&net, config, &["127.0.0.77:5300"]);
    let e = resolve(&r, "www.alpha.test.", A).await.expect_err("a loop");
    assert!(matches!(e, ResolveError::ForwardingLoop { .. }), "{e}");
    assert_eq!(net.total(), 0, "nothing sent anywhere");
}

#[tokio::test(start_paused = true)]
async fn a_wildcard_listener_on_port_53_covers_every_loopback_server() {
    // The lab's servers all live on 127.0.0.x:53: a resolver listening on 0.0.0.0:53 is
    // every one of them, the roots included.
    let net = FakeNet::lab();
    let r = listening_on(&net, ResolverConfig::default(), &["0.0.0.0:53"]);
    let e = resolve(&r, "www.alpha.test.", A).await.expect_err("a loop");
    assert!(matches!(e, ResolveError::ForwardingLoop { .. }), "{e}");
    assert_eq!(net.total(), 0);
    // The same port elsewhere is someone else.
    let r = listening_on(&net, ResolverConfig::default(), &["0.0.0.0:5300"]);
    expect(&r, "www.alpha.test.", A, NoError).await;
}

#[tokio::test(start_paused = true)]
async fn a_loop_beside_a_silent_server_is_the_usual_error() {
    // One server is ourselves, the other merely does not answer: the failure is the silent
    // server's, not a loop.
    let net = FakeNet::lab();
    net.silence(ip(ALPHA_2));
    let r = listening_on(&net, ResolverConfig::default(), &["127.0.0.41:53"]);
    let e = resolve(&r, "www.alpha.test.", A)
        .await
        .expect_err("no answer");
    assert!(!matches!(e, ResolveError::ForwardingLoop { .. }), "{e}");
    assert_eq!(net.count(ip(ALPHA_1)), 0);
}

#[tokio::test(start_paused = true)]
async fn unspecified_multicast_and_broadcast_servers_are_never_asked() {
    let net = FakeNet::lab();
    let stub = |servers: &[&str]| ResolverConfig {
        stubs: vec![Stub {
            zone: name("alpha.test."),
            servers: servers
                .iter()
                .map(|s| s.parse().expect("address"))
                .collect(),
        }],
        ..ResolverConfig::default()
    };
    let nonsense = [
        "0.0.0.0:53",
        "[::]:53",
        "[::ffff:0.0.0.0]:53",
        "224.0.0.251:53",
        "[ff02::fb]:53",
        "255.255.255.255:53",
    ];
    let r = listening_on(&net, stub(&nonsense), &["127.0.0.99:53"]);
    let e = resolve(&r, "www.alpha.test.", A).await.expect_err("nobody");
    assert!(
        matches!(&e, ResolveError::NoReachableAuthority(zone) if *zone == name("alpha.test.")),
        "{e}"
    );
    assert_eq!(net.total(), 0, "nothing sent anywhere");
    // Beside a real server they are dropped and the real one answers.
    let r = listening_on(
        &net,
        stub(&["0.0.0.0:53", "127.0.0.41:53"]),
        &["127.0.0.99:53"],
    );
    expect(&r, "www.alpha.test.", A, NoError).await;
    assert_eq!(net.count(ip("0.0.0.0")), 0);
}

//! Every per-query limit trips with an error (SERVFAIL with an EDE), never a hang.

use std::net::IpAddr;
use std::time::Duration;

use hickory_proto::op::ResponseCode::{NoError, ServFail};
use hickory_proto::rr::RecordType::A;
use tokio::time::Instant;

use super::*;
use crate::resolver::budget::Limits;
use crate::resolver::fake::{ip, zone};

/// Delegates `child` in the lab's `test.` zone to `count` servers, `ns{i}.child` at
/// `{prefix}.{i}`, and returns their addresses.
fn delegate_to_many(net: &FakeNet, child: &str, count: u8, prefix: &str) -> Vec<IpAddr> {
    let mut text = FakeNet::lab_file("test.zone");
    let mut servers = Vec::new();
    for i in 1..=count {
        text.push_str(&format!(
            "{child} 86400 IN NS ns{i}.{child}\nns{i}.{child} 86400 IN A {prefix}.{i}\n"
        ));
        servers.push(ip(&format!("{prefix}.{i}")));
    }
    net.replace_zone(zone("test.", &text));
    servers
}

fn servfail(e: &ResolveError) {
    assert_eq!(e.rcode(), ServFail);
    assert!(!e.to_string().is_empty());
}

#[tokio::test(start_paused = true)]
async fn cname_chain_longer_than_ten_fails() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    // c3 → … → www is ten CNAMEs: allowed; c2 and c1 (eleven, twelve) are not.
    expect(&r, "c3.alpha.test.", A, NoError).await;
    for qname in ["c2.alpha.test.", "c1.alpha.test."] {
        let e = resolve(&r, qname, A).await.expect_err("chain too long");
        assert_eq!(e, ResolveError::CnameChainTooLong(10), "{qname}");
        servfail(&e);
    }
}

#[tokio::test(start_paused = true)]
async fn cname_loop_fails_fast() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    let e = resolve(&r, "loop1.alpha.test.", A).await.expect_err("loop");
    assert_eq!(e, ResolveError::CnameChainTooLong(10));
    servfail(&e);
    assert!(
        net.total() < 10,
        "a loop is seen, not walked: {}",
        net.total()
    );
}

/// A tree of `levels` nested zones d1., d2.d1., …, each on its own server 127.0.1.<i>, each
/// with `www` A 127.0.1.200, under a root on the lab's root addresses.
fn nested(levels: u8) -> (Arc<FakeNet>, Vec<String>) {
    let net = FakeNet::empty();
    let mut origins = vec![".".to_string()];
    for i in 1..=levels {
        let parent = origins.last().expect("parent");
        let child = if i == 1 {
            "d1.".to_string()
        } else {
            format!("d{i}.{parent}")
        };
        origins.push(child);
    }
    let root = "$TTL 86400\n. SOA a.root-servers. h. 1 2 3 4 300\n. NS a.root-servers.\n. NS b.root-servers.\na.root-servers. A 127.0.0.11\nb.root-servers. A 127.0.0.12\nd1. NS ns.d1.\nns.d1. A 127.0.1.1\n";
    for root_addr in ["127.0.0.11", "127.0.0.12"] {
        net.add_host(ip(root_addr), vec![zone(".", root)]);
    }
    for i in 1..=levels {
        let origin = &origins[usize::from(i)];
        let mut text = format!(
            "$TTL 3600\n@ SOA ns h 1 2 3 4 300\n@ NS ns\nns A 127.0.1.{i}\nwww A 127.0.1.200\n"
        );
        if i < levels {
            let next = i + 1;
            text.push_str(&format!(
                "d{next} NS ns.d{next}\nns.d{next} A 127.0.1.{next}\n"
            ));
        }
        net.add_host(ip(&format!("127.0.1.{i}")), vec![zone(origin, &text)]);
    }
    (net, origins)
}

#[tokio::test(start_paused = true)]
async fn delegation_depth_is_bounded_at_sixteen() {
    let (net, origins) = nested(20);
    let r = resolver(&net);
    let res = expect(&r, &format!("www.{}", origins[16]), A, NoError).await;
    assert_eq!(res.answers.len(), 1, "sixteen referrals are fine");
    let (net, origins) = nested(20);
    let r = resolver(&net);
    let e = resolve(&r, &format!("www.{}", origins[20]), A)
        .await
        .expect_err("too deep");
    assert_eq!(e, ResolveError::DelegationTooDeep(16));
    servfail(&e);
    assert!(net.count(ip("127.0.1.18")) == 0, "stopped at the limit");
}

#[tokio::test(start_paused = true)]
async fn nxns_glueless_lookups_are_bounded() {
    let net = FakeNet::lab();
    let mut text = FakeNet::lab_file("test.zone");
    for i in 1..=30 {
        text.push_str(&format!("nxns.test. 86400 IN NS ns{i}.nowhere.example.\n"));
    }
    net.replace_zone(zone("test.", &text));
    let r = resolver(&net);
    let e = resolve(&r, "www.nxns.test.", A).await.expect_err("NXNS");
    assert_eq!(e, ResolveError::TooManyGlueless(10));
    servfail(&e);
    let mut looked_up: Vec<Name> = net
        .sent()
        .into_iter()
        .map(|s| s.qname)
        .filter(|n| n.num_labels() == 3 && name("nowhere.example.").zone_of(n))
        .collect();
    looked_up.sort();
    looked_up.dedup();
    assert_eq!(looked_up.len(), 10, "{looked_up:?}");
}

#[tokio::test(start_paused = true)]
async fn upstream_queries_are_bounded_at_fifty() {
    let net = FakeNet::lab();
    for server in delegate_to_many(&net, "many.test.", 60, "127.0.2") {
        // Every one of them lame: a REFUSED costs one query and moves on.
        net.add_host(server, Vec::new());
    }
    let r = resolver(&net);
    let e = resolve(&r, "www.many.test.", A).await.expect_err("budget");
    assert_eq!(e, ResolveError::TooManyUpstream(50));
    servfail(&e);
    assert_eq!(net.total(), 50);
}

#[tokio::test(start_paused = true)]
async fn the_client_gets_servfail_at_four_seconds_and_the_walk_stops_at_seven() {
    let net = FakeNet::lab();
    // Thirty servers that never answer (no host at 127.0.3.x).
    delegate_to_many(&net, "slow.test.", 30, "127.0.3");
    let r = resolver(&net);
    let started = Instant::now();
    let e = resolve(&r, "www.slow.test.", A).await.expect_err("timeout");
    let took = started.elapsed();
    assert_eq!(e, ResolveError::ClientTimeout(Duration::from_secs(4)));
    servfail(&e);
    assert_eq!(e.ede().0, crate::ede::NO_REACHABLE_AUTHORITY);
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_millis(4100),
        "{took:?}"
    );
    // The walk goes on for the cache, within its own budget: its failure is remembered
    // (RFC 9520) once it ends at 7 s.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let e = resolve(&r, "www.slow.test.", A).await.expect_err("failed");
    assert!(
        matches!(&e, ResolveError::CachedFailure(why) if why.contains("7s")),
        "{e}"
    );
    assert!(net.total() < 50);
}

#[tokio::test(start_paused = true)]
async fn an_answer_too_late_for_the_client_is_cached_for_the_next() {
    let net = FakeNet::lab();
    let client_timeout = Duration::from_secs(1);
    let config = ResolverConfig {
        limits: Limits {
            client_timeout,
            ..Limits::default()
        },
        ..ResolverConfig::default()
    };
    let r = resolver_with(&net, config);
    // The walk down to the wildcard, minimised probes included, is cached first.
    expect(&r, "warm.wild.alpha.test.", A, NoError).await;
    // Both alpha.test. servers now take 1.5 s to answer: after the client gave up.
    for a in ["127.0.0.41", "127.0.0.42"] {
        net.set_latency(ip(a), Duration::from_millis(1500));
    }
    let e = resolve(&r, "late.wild.alpha.test.", A)
        .await
        .expect_err("too late");
    assert_eq!(e, ResolveError::ClientTimeout(client_timeout));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sent = net.total();
    let res = resolve(&r, "late.wild.alpha.test.", A)
        .await
        .expect("cached");
    assert_eq!(res.answers.len(), 1);
    assert_eq!(net.total(), sent, "answered from the cache");
}

#[tokio::test(start_paused = true)]
async fn all_servers_silent_fails_within_the_budget() {
    let net = FakeNet::empty();
    let r = resolver(&net);
    let started = Instant::now();
    let e = resolve(&r, "www.alpha.test.", A)
        .await
        .expect_err("nobody answers");
    let took = started.elapsed();
    assert!(
        matches!(
            e,
            ResolveError::Timeout(_)
                | ResolveError::ClientTimeout(_)
                | ResolveError::NoReachableAuthority(_)
        ),
        "{e}"
    );
    servfail(&e);
    assert!(took <= Duration::from_secs(7), "{took:?}");
}

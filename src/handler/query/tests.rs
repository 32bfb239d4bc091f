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
    recursive_with(net, HandlerConfig::default(), ResolverConfig::default())
}

/// A recursive handler over `net`, its loopback clients allowed to recurse and to snoop.
fn recursive_with(net: Arc<FakeNet>, config: HandlerConfig, resolver: ResolverConfig) -> Handler {
    let metrics = Arc::new(Metrics::default());
    let resolver = Arc::new(Resolver::new(
        net,
        FakeNet::lab_hints(),
        Arc::new(Cache::new(CachePolicy::default())),
        resolver,
        Arc::clone(&metrics),
    ));
    Handler::new(Catalog::default(), config, metrics).with_recursion(Recursion {
        resolver,
        acl: Acl::loopback(),
        snoop: Acl::loopback(),
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

fn full_sections() -> HandlerConfig {
    HandlerConfig {
        minimal_responses: false,
        ..HandlerConfig::default()
    }
}

/// Authority and additional sections as sorted presentation lines, TTLs left out.
fn optional_sections(wire: &[u8]) -> (Vec<String>, Vec<String>) {
    let m = Message::from_vec(wire).expect("reply parses");
    let lines = |records: &[hickory_proto::rr::Record]| {
        let mut out: Vec<String> = records
            .iter()
            .map(|r| format!("{} {} {}", r.name, r.record_type(), r.data))
            .collect();
        out.sort();
        out
    };
    (lines(&m.authorities), lines(&m.additionals))
}

fn alpha_ns_and_glue() -> (Vec<String>, Vec<String>) {
    (
        vec![
            "alpha.test. NS ns1.alpha.test.".into(),
            "alpha.test. NS ns2.alpha.test.".into(),
        ],
        vec![
            "ns1.alpha.test. A 127.0.0.41".into(),
            "ns2.alpha.test. A 127.0.0.42".into(),
        ],
    )
}

#[tokio::test(start_paused = true)]
async fn without_minimal_responses_an_answer_carries_the_zones_cached_ns_set_and_glue() {
    let client: SocketAddr = "127.0.0.1:40000".parse().expect("address");
    let q = query("www.alpha.test.", true);
    let minimal = recursive(FakeNet::lab());
    let bytes = minimal.handle_bytes(&q, client, Transport::Udp).await;
    let bytes = bytes.expect("answered");
    assert_eq!(optional_sections(&bytes), (vec![], vec![]));

    let full = recursive_with(FakeNet::lab(), full_sections(), ResolverConfig::default());
    let miss = full.handle_bytes(&q, client, Transport::Udp).await;
    let miss = miss.expect("answered");
    assert_eq!(answer_ttls(&miss), [3600]);
    assert_eq!(optional_sections(&miss), alpha_ns_and_glue());
    // The hit path gives what the full path gave: the same sections.
    let mut hit = Vec::new();
    assert!(full.answer_fast(&q, client, &mut hit), "a hit");
    assert_eq!(optional_sections(&hit), alpha_ns_and_glue());
}

/// A handler with `minimal_responses = false` forwarding "." to a recursive resolver that
/// knows the lab's zones (and puts a zone's NS set beside its answers, as authorities do).
fn forwarding_everything() -> Handler {
    let net = FakeNet::lab();
    let forwarder = crate::resolver::fake::ip("127.140.0.1");
    net.add_recursive(forwarder);
    let forwards = vec![crate::resolver::Forward {
        zone: hickory_proto::rr::Name::root(),
        servers: vec![SocketAddr::new(forwarder, 53)],
        first: false,
        tls: None,
    }];
    let config = ResolverConfig {
        forwards,
        ..ResolverConfig::default()
    };
    recursive_with(net, full_sections(), config)
}

/// A forwarder's answer carries the zone's NS set in its authority section; an RD=0 question
/// for another name in the zone, from a client allowed to snoop, gets a referral to it (as
/// Unbound and BIND give), and with `minimal_responses = false` RD=1 answers carry it.
#[tokio::test(start_paused = true)]
async fn a_forwarders_ns_set_makes_referrals_for_snooping_clients() {
    let handler = forwarding_everything();
    let client: SocketAddr = "127.0.0.1:40000".parse().expect("address");
    let answer = handler
        .handle_bytes(&query("www.alpha.test.", true), client, Transport::Udp)
        .await
        .expect("answered");
    assert_eq!(optional_sections(&answer), alpha_ns_and_glue());

    let referral = handler
        .handle_bytes(&query("mail.alpha.test.", false), client, Transport::Udp)
        .await
        .expect("answered");
    let m = Message::from_vec(&referral).expect("reply parses");
    assert_eq!(
        m.metadata.response_code,
        hickory_proto::op::ResponseCode::NoError
    );
    assert!(m.answers.is_empty());
    assert_eq!(optional_sections(&referral), alpha_ns_and_glue());
}

/// The NS set beside a forwarder's answers is kept no longer than first learned: answers that
/// repeat it do not renew it (the ghost-domain bound a referral's NS set has).
#[tokio::test(start_paused = true)]
async fn an_ns_set_repeated_beside_answers_is_not_renewed() {
    let handler = forwarding_everything();
    let client: SocketAddr = "127.0.0.1:40000".parse().expect("address");
    let q = query("www.alpha.test.", true);
    let ns_ttls = |wire: &[u8]| -> Vec<u32> {
        let m = Message::from_vec(wire).expect("reply parses");
        m.authorities.iter().map(|r| r.ttl).collect()
    };
    let first = handler.handle_bytes(&q, client, Transport::Udp).await;
    assert_eq!(ns_ttls(&first.expect("answered")), [86400, 86400]);
    // The answer (TTL 3600) has run out; the NS set (86400) has not.
    tokio::time::advance(Duration::from_secs(3601)).await;
    let again = handler.handle_bytes(&q, client, Transport::Udp).await;
    let again = again.expect("answered");
    assert_eq!(answer_ttls(&again), [3600], "asked the forwarder again");
    assert_eq!(ns_ttls(&again), [86400 - 3601, 86400 - 3601]);
}

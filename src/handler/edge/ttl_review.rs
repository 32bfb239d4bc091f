//! Review of cache-time semantics on the wire: what a client is sent after a walk, and how long
//! the hit path keeps that answer, must obey the cache's TTL policy (`max_ttl`,
//! `negative_max_ttl`, RFC 2308's negative TTL) as the RRset tier does. Unbound clamps the
//! TTLs of the reply it builds from a walk the same way (`util/data/msgreply.c`,
//! `rdata_copy`: the SOA in a negative answer cut to its MINIMUM, then MIN_TTL/MAX_TTL).

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::time::advance;

use super::prefetch_tests::recursive;
use crate::cache::CachePolicy;
use crate::handler::Transport;
use crate::handler::test_query::query;
use crate::resolver::fake::FakeNet;

fn client() -> SocketAddr {
    "127.241.0.1:40000".parse().expect("address")
}

/// Every TTL of the answer and authority sections.
fn ttls(wire: &[u8]) -> Vec<u32> {
    let m = Message::from_vec(wire).expect("parses");
    m.answers
        .iter()
        .chain(&m.authorities)
        .map(|r| r.ttl)
        .collect()
}

/// The first answer to `qname` A by the full path, then the hit path `secs` later.
async fn walked_then_hit(policy: CachePolicy, qname: &str, secs: u64) -> (Vec<u8>, Option<u32>) {
    let net = FakeNet::lab();
    let handler = recursive(&net, policy);
    let q = query(qname, true);
    let first = handler
        .handle_bytes(&q, client(), Transport::Udp)
        .await
        .expect("answered");
    advance(Duration::from_secs(secs)).await;
    let mut out = Vec::new();
    let hit = handler
        .answer_fast(&q, client(), &mut out)
        .then(|| ttls(&out).into_iter().min().unwrap_or(0));
    (first, hit)
}

/// `cache.max_ttl` 60: www.alpha.test. A (TTL 3600 upstream) is cached for 60 s, so neither
/// the walk's answer may say more than 60, nor may the hit path still answer after 60 s.
#[tokio::test(start_paused = true)]
async fn a_walked_answer_obeys_max_ttl_and_is_not_kept_past_it() {
    let policy = CachePolicy {
        max_ttl: 60,
        ..CachePolicy::default()
    };
    let (first, hit) = walked_then_hit(policy, "www.alpha.test.", 61).await;
    let m = Message::from_vec(&first).expect("parses");
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.answers[0].record_type(), RecordType::A);
    assert_eq!(
        hit, None,
        "kept answer outlived the 60 s RRset it came from"
    );
    assert!(
        ttls(&first).iter().all(|&t| t <= 60),
        "walked answer's TTLs {:?} exceed max_ttl 60",
        ttls(&first)
    );
}

/// RFC 2308 §5 and `cache.negative_max_ttl` 30: nope.alpha.test. (SOA TTL 3600, MINIMUM
/// 300) is cached NXDOMAIN for 30 s; the client's SOA may not say more, and the hit path
/// may not answer NXDOMAIN past 30 s.
#[tokio::test(start_paused = true)]
async fn a_walked_negative_answer_obeys_negative_max_ttl() {
    let policy = CachePolicy {
        negative_max_ttl: 30,
        ..CachePolicy::default()
    };
    let (first, hit) = walked_then_hit(policy, "nope.alpha.test.", 31).await;
    let m = Message::from_vec(&first).expect("parses");
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(hit, None, "kept NXDOMAIN outlived its 30 s negative entry");
    assert!(
        ttls(&first).iter().all(|&t| t <= 30),
        "walked negative answer's TTLs {:?} exceed negative_max_ttl 30",
        ttls(&first)
    );
}

/// RFC 2308 §5: without any cap, the negative TTL is min(SOA TTL 3600, MINIMUM 300); the
/// client's SOA says no more, and the kept answer dies with the entry.
#[tokio::test(start_paused = true)]
async fn a_walked_negative_answer_lives_min_of_soa_ttl_and_minimum() {
    let (first, hit) = walked_then_hit(CachePolicy::default(), "nope.alpha.test.", 301).await;
    assert!(
        ttls(&first).iter().all(|&t| t <= 300),
        "walked negative answer's TTLs {:?} exceed the SOA MINIMUM 300",
        ttls(&first)
    );
    assert_eq!(hit, None, "kept NXDOMAIN outlived min(SOA TTL, MINIMUM)");
}

/// `qname` `qtype` with EDNS, RD=1.
fn query_type(qname: &str, qtype: RecordType) -> Vec<u8> {
    use hickory_proto::op::{Edns, MessageType, OpCode, Query};
    let mut m = Message::new(0x4243, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(
        hickory_proto::rr::Name::from_ascii(qname).expect("name"),
        qtype,
    ));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    m.set_edns(e);
    m.to_vec().expect("encodes")
}

/// A chain whose first link comes from the cache and whose second is walked: the cached
/// CNAME's TTL is read when the walk starts, but the answer is kept as of when it ended. With
/// 5 s left on the CNAME and a 3 s walk for its target, the hit path must not answer with
/// the CNAME once it has expired in the RRset tier (Unbound's msg cache entry would be invalid
/// with its CNAME rrset's expiry: `reply_info` TTL is the minimum of its rrsets' absolute TTLs).
#[tokio::test(start_paused = true)]
async fn a_kept_chain_does_not_outlive_its_cached_cname() {
    use crate::resolver::fake::{ip, zone};
    let net = FakeNet::lab();
    let mut text = FakeNet::lab_file("alpha.test.zone");
    text.push_str("\nt1 20 IN CNAME www.beta.example.\n");
    net.replace_zone(zone("alpha.test.", &text));
    let handler = recursive(&net, CachePolicy::default());
    // The CNAME alone (its target not asked), cached for 20 s.
    handler
        .handle_bytes(
            &query_type("t1.alpha.test.", RecordType::CNAME),
            client(),
            Transport::Udp,
        )
        .await
        .expect("answered");
    advance(Duration::from_secs(15)).await;
    for beta in ["127.0.0.51", "127.0.0.52"] {
        net.set_latency(ip(beta), Duration::from_secs(3));
    }
    let q = query("t1.alpha.test.", true);
    let started = tokio::time::Instant::now() - Duration::from_secs(15);
    let full = handler
        .handle_bytes(&q, client(), Transport::Udp)
        .await
        .expect("answered");
    let m = Message::from_vec(&full).expect("parses");
    assert_eq!(m.answers[0].record_type(), RecordType::CNAME);
    assert_eq!(m.answers.len(), 2, "the chain: {:?}", m.answers);
    // Sent 18 s after the CNAME was cached: 2 s were left of it, not 5.
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(18),
        "the walk took 3 s"
    );
    let sent = ttls(&full);
    // The CNAME's entry ended 20 s after it was cached; 21 s after, the hit path must not give
    // it back.
    advance(Duration::from_secs(21) - started.elapsed()).await;
    let mut out = Vec::new();
    let hit = handler.answer_fast(&q, client(), &mut out);
    assert!(
        !hit,
        "kept chain answered 21 s after a 20 s CNAME was cached, TTLs {:?}",
        ttls(&out)
    );
    assert!(
        sent[0] <= 2,
        "the cached CNAME's TTL was not counted down over the walk: {sent:?}"
    );
}

//! Review of cache-time semantics at the resolver: a walked answer's TTLs say no more than
//! what the cache keeps of it (RFC 4035 §5.3.3: a validated RRset and its RRSIGs live no
//! longer than the signatures; Unbound's validator cuts the rrset's TTL to them,
//! `validator/val_sigcrypt.c` `adjust_ttl`, and its reply is built from that rrset).

use std::time::Duration;

use hickory_proto::op::ResponseCode::{NXDomain, NoError};
use hickory_proto::rr::RecordType::A;
use tokio::time::{Instant, advance};

use super::validate::{SIGNED_AT, signed_net, validating};
use super::*;
use crate::cache::{Key, Trust};
use crate::resolver::validate::{UnixClock, Validator};

/// A validating resolver on the signed fake net with the cache's `policy`.
fn validating_under(policy: CachePolicy) -> (Arc<FakeNet>, Arc<Resolver>) {
    let (net, anchors) = signed_net();
    let validator = Validator::new(anchors, Vec::new())
        .with_clock(UnixClock::pinned(Instant::now(), SIGNED_AT));
    let r = Resolver::new(
        Arc::clone(&net) as Arc<dyn super::super::Upstream>,
        FakeNet::lab_hints(),
        Arc::new(Cache::new(policy)),
        ResolverConfig::default(),
        Arc::new(Metrics::default()),
    )
    .with_validator(validator);
    (net, Arc::new(r))
}

/// The lab's signatures expire 30 days after signing: walked 100 s before that, www's TTL of
/// 300 is cut to 100 in the cache, and the answer (with its RRSIGs) must say no more.
#[tokio::test(start_paused = true)]
async fn a_walked_answer_says_no_more_than_its_signatures_have_left() {
    let (net, anchors) = signed_net();
    let r = validating(&net, anchors);
    advance(Duration::from_secs(30 * 86_400 - 100)).await;
    let res = expect(&r, "www.secure.test.", A, NoError).await;
    assert_eq!(res.security, Trust::Secure, "{res:?}");
    let key = Key::new(&name("www.secure.test."), A);
    let kept = r.cache().fresh_ttl(&key, Instant::now());
    assert!(kept.is_some_and(|t| t <= 100), "cached for {kept:?}");
    let sent: Vec<u32> = res
        .answers
        .iter()
        .chain(&res.answer_sigs)
        .map(|r| r.ttl)
        .collect();
    assert!(!res.answer_sigs.is_empty());
    assert!(
        sent.iter().all(|&t| t <= 100),
        "answer TTLs {sent:?} outlive the signatures (100 s left)"
    );
}

/// `negative_max_ttl` 30: a secure NXDOMAIN is cached 30 s, and its NSEC proof (RFC 8198)
/// may not keep denying the name, or its neighbours, after that. Unbound's synthesized
/// NXDOMAIN needs the zone's SOA from its negative answer, cached no longer than
/// `cache-max-negative-ttl` (`validator/val_neg.c`, `add_soa`).
#[tokio::test(start_paused = true)]
async fn an_aggressive_nxdomain_obeys_negative_max_ttl() {
    // Each on a resolver of its own: a walk for the one renews the proof for the other.
    for qname in ["nope.secure.test.", "mail.secure.test."] {
        let (_net, r) = validating_under(CachePolicy {
            negative_max_ttl: 30,
            ..CachePolicy::default()
        });
        let first = expect(&r, "nope.secure.test.", A, NXDomain).await;
        assert_eq!(first.security, Trust::Secure, "{first:?}");
        advance(Duration::from_secs(31)).await;
        let again = expect(&r, qname, A, NXDomain).await;
        assert!(
            again.upstream_queries > 0,
            "{qname}: NXDOMAIN synthesized past negative_max_ttl 30: {:?}",
            lines(&again.authorities)
        );
    }
}

/// `max_ttl` 60: a secure wildcard expansion (TTL 300) is cached 60 s, and its proof may not
/// expand the wildcard for other names after that.
#[tokio::test(start_paused = true)]
async fn an_aggressive_wildcard_answer_obeys_max_ttl() {
    let (_net, r) = validating_under(CachePolicy {
        max_ttl: 60,
        ..CachePolicy::default()
    });
    let first = expect(&r, "x.wild.secure.test.", A, NoError).await;
    assert_eq!(first.security, Trust::Secure, "{first:?}");
    advance(Duration::from_secs(61)).await;
    let again = expect(&r, "y.wild.secure.test.", A, NoError).await;
    assert!(
        again.upstream_queries > 0,
        "wildcard expanded past max_ttl 60: {:?}",
        lines(&again.answers)
    );
}

/// RFC 2181 §5.4.1: newer authoritative data about a name replaces what the cache held about
/// it. x2 was cached as NXDOMAIN (for every type); then x2 was created, and an authoritative
/// answer through an alias to it brought x2's A: the name exists, so a question for another
/// of its types must be asked, not denied from the old NXDOMAIN. (Unbound keeps negative
/// answers per question in its msg cache: x2 TXT would be asked.)
#[tokio::test(start_paused = true)]
async fn newer_data_at_a_name_ends_its_cached_nxdomain() {
    use crate::resolver::fake::zone;
    use hickory_proto::rr::RecordType::TXT;
    let net = FakeNet::lab();
    let r = resolver(&net);
    expect(&r, "x2.alpha.test.", A, NXDomain).await;
    let mut text = FakeNet::lab_file("alpha.test.zone");
    text.push_str("\ny2 IN CNAME x2\nx2 IN A 127.0.0.120\nx2 IN TXT \"created\"\n");
    net.replace_zone(zone("alpha.test.", &text));
    let chain = expect(&r, "y2.alpha.test.", A, NoError).await;
    assert_eq!(
        lines(&chain.answers),
        [
            "y2.alpha.test. 3600 CNAME x2.alpha.test.",
            "x2.alpha.test. 3600 A 127.0.0.120"
        ]
    );
    let txt = resolve(&r, "x2.alpha.test.", TXT).await.expect("an answer");
    assert_eq!(
        txt.rcode,
        NoError,
        "x2 denied from the old NXDOMAIN while its A is cached: {:?}",
        lines(&txt.authorities)
    );
}

/// RFC 8767 §4, which updates RFC 2181 §8: a TTL with the high-order bit set is a large
/// positive value, capped (here by `max_ttl`), no longer zero. Unbound caps it at its
/// cache-max-ttl (`util/data/msgreply.c`, `rdata_copy`).
#[tokio::test(start_paused = true)]
async fn a_ttl_with_the_high_bit_set_is_capped_not_zero() {
    use crate::cache::{Data, Rank};
    use hickory_proto::rr::{RData, Record, rdata};
    let cache = Cache::new(CachePolicy::default());
    let owner = name("big.example.");
    let key = Key::new(&owner, A);
    let huge = 0x8000_0010;
    let record = Record::from_rdata(owner, huge, RData::A(rdata::A::new(192, 0, 2, 1)));
    let now = Instant::now();
    let stored = cache.insert(
        key.clone(),
        Data::Positive(vec![record]),
        huge,
        Rank::Authoritative,
        now,
    );
    assert!(stored, "a TTL of 2^31 + 16 was taken as zero");
    assert_eq!(
        cache.fresh_ttl(&key, now),
        Some(CachePolicy::default().max_ttl)
    );
}

//! RFC 8198 on the signed fake internet: a secure NXDOMAIN's proof answers other names it
//! covers without asking, a secure wildcard expansion answers other names below the wildcard,
//! names not covered are asked, and a flush or a negative trust anchor stops it.

use hickory_proto::op::ResponseCode::{NXDomain, NoError};
use hickory_proto::rr::RecordType::{A, NSEC, SOA, TXT};

use super::validate::{signed_net, validating_with};
use super::*;
use crate::cache::Trust;

/// A validating resolver on the signed fake net that has asked (`qname`, `qtype`) once and
/// got a secure `rcode`; with the fake net and how many queries that took.
async fn after_first(
    qname: &str,
    qtype: RecordType,
    rcode: ResponseCode,
) -> (Arc<FakeNet>, Arc<Resolver>, usize) {
    let (net, anchors) = signed_net();
    let r = validating_with(&net, anchors, Vec::new());
    let first = expect(&r, qname, qtype, rcode).await;
    assert_eq!(first.security, Trust::Secure, "{first:?}");
    assert!(first.upstream_queries > 0);
    let asked = net.sent().len();
    (net, r, asked)
}

#[tokio::test(start_paused = true)]
async fn a_secure_nxdomain_proof_denies_the_other_names_it_covers() {
    let (net, r, asked) = after_first("nope.secure.test.", A, NXDomain).await;

    // Between the apex and ns1., like nope.: the apex's NSEC covers it, and *.secure.test.
    let second = expect(&r, "mail.secure.test.", A, NXDomain).await;
    assert_eq!(net.sent().len(), asked, "answered without asking");
    assert_eq!(second.upstream_queries, 0);
    assert_eq!(second.security, Trust::Secure);
    assert!(second.authorities.iter().all(|r| r.record_type() == SOA));
    assert!(!second.authorities.is_empty(), "the SOA");
    assert!(second.proof.iter().any(|r| r.record_type() == NSEC));
    assert_eq!(Metrics::get(&r.metrics.aggressive_answers), 1);

    // Past www.: another NSEC covers it, one no answer has brought yet: asked.
    expect(&r, "zzz.secure.test.", A, NXDomain).await;
    assert!(net.sent().len() > asked, "not covered by what is kept");

    // A flush of the zone forgets the proofs: the next miss is asked again.
    let asked = net.sent().len();
    r.flush(crate::cache::admin::Flush::Zone(&name("secure.test.")));
    expect(&r, "mail.secure.test.", A, NXDomain).await;
    assert!(net.sent().len() > asked, "asked after the flush");
}

#[tokio::test(start_paused = true)]
async fn no_aggressive_answer_under_a_negative_trust_anchor() {
    let (net, anchors) = signed_net();
    let r = validating_with(&net, anchors, vec![name("secure.test.")]);
    let first = expect(&r, "nope.secure.test.", A, NXDomain).await;
    assert_eq!(first.security, Trust::Insecure);
    let asked = net.sent().len();
    expect(&r, "mail.secure.test.", A, NXDomain).await;
    assert!(
        net.sent().len() > asked,
        "an insecure NXDOMAIN proves nothing for others"
    );
    assert_eq!(Metrics::get(&r.metrics.aggressive_answers), 0);
}

#[tokio::test(start_paused = true)]
async fn a_secure_wildcard_expansion_answers_the_other_names_its_proof_denies() {
    let (net, r, asked) = after_first("x.wild.secure.test.", A, NoError).await;

    let second = expect(&r, "y.wild.secure.test.", A, NoError).await;
    assert_eq!(net.sent().len(), asked, "answered without asking");
    assert_eq!(second.security, Trust::Secure);
    assert_eq!(
        lines(&second.answers),
        ["y.wild.secure.test. 300 A 127.0.0.182"]
    );
    assert!(
        second
            .answer_sigs
            .iter()
            .all(|s| s.name == name("y.wild.secure.test.")),
        "the RRSIG under the name asked, its labels field as signed"
    );
    assert!(second.proof.iter().any(|r| r.record_type() == NSEC));
    assert_eq!(Metrics::get(&r.metrics.aggressive_answers), 1);

    // Another type below the wildcard was never expanded: asked.
    expect(&r, "z.wild.secure.test.", TXT, NoError).await;
    assert!(net.sent().len() > asked);
}

/// A `no_cache` forward zone keeps nothing, its denials included: a secure NXDOMAIN through
/// its forwarder answers no other name, each is asked.
#[tokio::test(start_paused = true)]
async fn no_aggressive_answer_in_a_no_cache_forward_zone() {
    let (net, anchors) = signed_net();
    let forwarder = "127.9.0.1";
    net.add_recursive_of_hosts(ip(forwarder));
    let validator = crate::resolver::validate::Validator::new(anchors, Vec::new()).with_clock(
        crate::resolver::validate::UnixClock::pinned(Instant::now(), super::validate::SIGNED_AT),
    );
    let uncached = crate::resolver::Forward {
        zone: name("secure.test."),
        servers: vec![std::net::SocketAddr::new(ip(forwarder), 53)],
        first: false,
        tls: None,
        no_cache: true,
    };
    let r = Arc::new(
        Resolver::new(
            Arc::clone(&net) as Arc<dyn super::super::Upstream>,
            FakeNet::lab_hints(),
            Arc::new(Cache::new(CachePolicy::default())),
            ResolverConfig {
                forwards: vec![uncached],
                ..ResolverConfig::default()
            },
            Arc::new(Metrics::default()),
        )
        .with_validator(validator),
    );
    let first = expect(&r, "nope.secure.test.", A, NXDomain).await;
    assert_eq!(first.security, Trust::Secure, "{first:?}");
    let asked = net.sent().len();
    let second = expect(&r, "mail.secure.test.", A, NXDomain).await;
    assert!(second.upstream_queries > 0, "{second:?}");
    assert!(net.sent().len() > asked, "asked, not synthesised");
    assert_eq!(Metrics::get(&r.metrics.aggressive_answers), 0);
}

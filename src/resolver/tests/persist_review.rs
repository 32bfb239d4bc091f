//! Review of the persistent cache at the resolver: a file keeps each entry's DNSSEC verdict,
//! so that a validating resolver restarted on it answers AD (or SERVFAIL) at once. A resolver
//! that does not validate (`[dnssec] validate = false` since the file was written) must not
//! pass those verdicts on: RFC 4035 §3.2.3 lets only a resolver that considers the data
//! authentic by its own policy set AD, and one that does not validate serves bogus data as it
//! serves any other (as it would the moment the entry is refreshed). Likewise at or below a
//! negative trust anchor (RFC 7646), in force now or when the file was written.

use hickory_proto::rr::RecordType::{A, TXT};

use super::*;
use crate::cache::{Data, Key, Rank, Signed, Trust};
use crate::dnssec::testing::records;
use crate::testing::Scratch;

#[tokio::test(start_paused = true)]
async fn verdicts_from_a_validating_runs_file_mean_nothing_to_a_resolver_that_does_not_validate() {
    let dir = Scratch::new("resolver-persist-review");
    let file = dir.join("cache.bin");
    let now = Instant::now();
    let written = Cache::new(CachePolicy::default());
    let judged = |trust| Signed {
        records: Vec::new(),
        trust,
        prefetch: false,
    };
    let secure = Key::new(&name("www.secure.test."), A);
    let data = Data::Positive(records("www.secure.test. 300 IN A 192.0.2.1"));
    let signed = Some(judged(Trust::Secure));
    assert!(written.insert_signed(secure, data, signed, 300, Rank::Authoritative, now));
    let bogus = Key::new(&name("www.bogus.test."), TXT);
    let data = Data::Positive(records("www.bogus.test. 300 IN TXT \"forged\""));
    let verdict = Trust::Bogus {
        ede: 6,
        why: "bogus.test.: no valid signature".into(),
    };
    let signed = Some(judged(verdict));
    assert!(written.insert_signed(bogus, data, signed, 60, Rank::Authoritative, now));
    written
        .save(&file, now, std::time::SystemTime::now())
        .expect("saved");

    let net = FakeNet::lab();
    let r = resolver(&net);
    let loaded = r
        .cache()
        .load(&file, now, std::time::SystemTime::now())
        .expect("loaded");
    assert_eq!(loaded.restored, 2);
    for (qname, qtype) in [("www.secure.test.", A), ("www.bogus.test.", TXT)] {
        let res = resolve(&r, qname, qtype).await.expect("from the cache");
        assert!(!res.answers.is_empty(), "{qname}: {res:?}");
        assert_eq!(res.security, Trust::Unchecked, "{qname}");
    }
}

/// `owner A` (TTL `ttl`) written to a cache file with the verdict `trust`, loaded by a
/// validating resolver with a negative trust anchor at `nta`, and asked again.
async fn loaded_under_a_negative_anchor(
    scratch: &str,
    owner: &str,
    trust: Trust,
    ttl: u32,
    nta: &str,
) -> Resolution {
    let dir = Scratch::new(scratch);
    let file = dir.join("cache.bin");
    let now = Instant::now();
    let written = Cache::new(CachePolicy::default());
    let key = Key::new(&name(owner), A);
    let data = Data::Positive(records(&format!("{owner} 300 IN A 192.0.2.1")));
    let signed = Some(Signed {
        records: Vec::new(),
        trust,
        prefetch: false,
    });
    assert!(written.insert_signed(key, data, signed, ttl, Rank::Authoritative, now));
    written
        .save(&file, now, std::time::SystemTime::now())
        .expect("saved");
    let (net, anchors) = super::validate::signed_net();
    let r = super::validate::validating_with(&net, anchors, vec![name(nta)]);
    r.cache()
        .load(&file, now, std::time::SystemTime::now())
        .expect("loaded");
    resolve(&r, owner, A).await.expect("answered")
}

/// A negative trust anchor (RFC 7646 §1.1: names at and below it are treated as insecure) set
/// since the file was written, in the config or by `tern ctl nta add` (which drops the cached
/// verdicts under it): an old file's bogus verdict under it must not come back through
/// `load-cache` or the start-up load.
#[tokio::test(start_paused = true)]
async fn a_loaded_bogus_verdict_under_a_negative_trust_anchor_is_not_used() {
    let bogus = Trust::Bogus {
        ede: 6,
        why: "bogus.test.: no valid signature".into(),
    };
    let res = loaded_under_a_negative_anchor(
        "resolver-persist-review-nta",
        "www.bogus.test.",
        bogus,
        60,
        "bogus.test.",
    )
    .await;
    assert_eq!(
        res.security,
        Trust::Insecure,
        "under a negative trust anchor: {res:?}"
    );
    assert_eq!(res.upstream_queries, 0, "from the loaded entry: {res:?}");
}

/// The same for a secure verdict: RFC 7646 §1.1, no validation below a negative trust anchor,
/// so no AD there either (RFC 4035 §3.2.3), whatever an older file says.
#[tokio::test(start_paused = true)]
async fn a_loaded_secure_verdict_under_a_negative_trust_anchor_is_not_used() {
    let res = loaded_under_a_negative_anchor(
        "resolver-persist-review-nta-secure",
        "www.secure.test.",
        Trust::Secure,
        300,
        "secure.test.",
    )
    .await;
    assert_eq!(
        res.security,
        Trust::Insecure,
        "under a negative trust anchor: {res:?}"
    );
    assert_eq!(res.upstream_queries, 0, "from the loaded entry: {res:?}");
}

/// The other way round: a verdict made insecure by a negative trust anchor, written while it
/// was in force (a runtime one at shutdown; a configured one since taken out of the config),
/// is loaded by a resolver without it. Removal and expiry drop such verdicts from memory
/// ("validated again at once, not served insecure from the cache"), but the file keeps them
/// as plain insecure: nothing in the entry says an anchor made it so.
#[tokio::test(start_paused = true)]
async fn an_insecure_verdict_written_under_a_negative_trust_anchor_is_judged_again_without_it() {
    let dir = Scratch::new("resolver-persist-review-nta-gone");
    let file = dir.join("cache.bin");
    let (net, anchors) = super::validate::signed_net();
    let r = super::validate::validating_with(&net, anchors.clone(), vec![name("bogus.test.")]);
    let res = resolve(&r, "www.bogus.test.", A).await.expect("answered");
    assert_eq!(res.security, Trust::Insecure, "{res:?}");
    r.cache()
        .save(&file, Instant::now(), std::time::SystemTime::now())
        .expect("saved");

    let r = super::validate::validating_with(&net, anchors, Vec::new());
    r.cache()
        .load(&file, Instant::now(), std::time::SystemTime::now())
        .expect("loaded");
    let res = resolve(&r, "www.bogus.test.", A).await.expect("answered");
    assert_eq!(
        super::validate::bogus_ede(&res.security),
        Some(6),
        "validated again: {res:?}"
    );
}

//! Validation on the fake internet: a small signed hierarchy (the lab's root, test.,
//! secure.test., bogus.test. and the unsigned insecure.test.), signed here at a fixed UNIX
//! time with keys made for the test, the root's DS as the trust anchor, and the validator's
//! calendar pinned to the paused clock, so that advancing the clock ages the signatures.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use hickory_proto::op::ResponseCode::{NXDomain, NoError};
use hickory_proto::rr::RecordType::{A, DNSKEY, DS, TXT};
use tokio::time::{Instant, advance};

use super::*;
use crate::cache::{Key, Trust};
use crate::dnssec::anchor::Anchors;
use crate::dnssec::{BOGUS_TTL, Ede};
use crate::lab::sign::{Keys, Signing, sign_zones};
use crate::resolver::fake::Sent;
use crate::resolver::validate::{UnixClock, Validator};

/// When the zones are signed: their RRSIGs hold from an hour before to 30 days after.
pub(super) const SIGNED_AT: u64 = 1_800_000_000;

/// The zones, by lab file, origin, how they are signed and the servers that serve them.
const ZONES: &[(&str, &str, Option<Signing>, &[&str])] = &[
    (
        "root.zone",
        ".",
        Some(Signing::Nsec),
        &["127.0.0.11", "127.0.0.12"],
    ),
    (
        "test.zone",
        "test.",
        Some(Signing::Nsec),
        &["127.0.0.21", "127.0.0.22"],
    ),
    (
        "secure.test.zone",
        "secure.test.",
        Some(Signing::Nsec),
        &["127.0.0.82"],
    ),
    (
        "bogus.test.zone",
        "bogus.test.",
        Some(Signing::Bogus),
        &["127.0.0.83"],
    ),
    (
        "insecure.test.zone",
        "insecure.test.",
        None,
        &["127.0.0.84"],
    ),
];

/// The signed hierarchy on a fake internet, and its trust anchor (the root's DS).
pub(crate) fn signed_net() -> (Arc<FakeNet>, Anchors) {
    signed_net_with(|_, text| text, &[])
}

/// [`signed_net`] with each lab file's text passed through `edit` first, and `copies` more
/// servers: (origin, how that copy is signed, its address), signed with the same keys.
pub(super) fn signed_net_with(
    edit: fn(&str, String) -> String,
    copies: &[(&str, Signing, &str)],
) -> (Arc<FakeNet>, Anchors) {
    let mut zones = HashMap::new();
    let mut plan = Vec::new();
    for (file, origin, how, _) in ZONES {
        let origin = name(origin);
        let text = edit(file, FakeNet::lab_file(file));
        let records = crate::zonefile::parse_zone_text(&text, Path::new(file), Some(&origin))
            .expect("lab zone parses");
        zones.insert(origin.clone(), records);
        if let Some(how) = how {
            plan.push((origin, *how));
        }
    }
    let keys = Keys::default();
    let mut copied = Vec::new();
    for (origin, how, server) in copies {
        let origin = name(origin);
        // The whole lab is signed again, so that a parent's copy holds its children's DS.
        let mut all = zones.clone();
        let plan: Vec<(Name, Signing)> = plan
            .iter()
            .map(|(o, h)| (o.clone(), if *o == origin { *how } else { *h }))
            .collect();
        sign_zones(&mut all, &plan, &keys, SIGNED_AT).expect("signs");
        let records = all.remove(&origin).expect("zone");
        let zone = crate::authority::Zone::from_records(Some(&origin), records, Path::new("copy"))
            .expect("signed copy is valid");
        copied.push((ip(server), zone));
    }
    sign_zones(&mut zones, &plan, &keys, SIGNED_AT).expect("signs");
    let net = FakeNet::empty();
    for (file, origin, _, servers) in ZONES {
        let origin = name(origin);
        let records = zones.remove(&origin).expect("zone");
        let zone = crate::authority::Zone::from_records(Some(&origin), records, Path::new(file))
            .expect("signed zone is valid");
        for server in *servers {
            net.add_host(ip(server), vec![zone.clone()]);
        }
    }
    for (server, zone) in copied {
        net.add_host(server, vec![zone]);
    }
    let ds = keys.ds(&Name::root(), 86_400).expect("root DS");
    let anchors = Anchors::parse(&format!("{ds}\n"), Path::new("root.anchor")).expect("anchor");
    (net, anchors)
}

/// A validating resolver whose calendar says `SIGNED_AT` at the paused clock's present.
pub(crate) fn validating(net: &Arc<FakeNet>, anchors: Anchors) -> Arc<Resolver> {
    validating_with(net, anchors, Vec::new())
}

/// [`validating`] with these negative trust anchors configured.
pub(super) fn validating_with(
    net: &Arc<FakeNet>,
    anchors: Anchors,
    negative: Vec<Name>,
) -> Arc<Resolver> {
    let validator =
        Validator::new(anchors, negative).with_clock(UnixClock::pinned(Instant::now(), SIGNED_AT));
    Arc::new(
        Resolver::new(
            Arc::clone(net) as Arc<dyn super::super::Upstream>,
            FakeNet::lab_hints(),
            Arc::new(Cache::new(CachePolicy::default())),
            ResolverConfig::default(),
            Arc::new(Metrics::default()),
        )
        .with_validator(validator),
    )
}

/// The DNSKEY and DS queries among `sent`.
pub(super) fn key_queries(sent: &[Sent]) -> Vec<String> {
    sent.iter()
        .filter(|s| s.qtype == DNSKEY || s.qtype == DS)
        .map(|s| format!("{} {}", s.qname, s.qtype))
        .collect()
}

pub(super) fn bogus_ede(trust: &Trust) -> Option<u16> {
    match trust {
        Trust::Bogus { ede, .. } => Some(*ede),
        _ => None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_secure_answer_and_its_verdict_are_cached_with_the_keys() {
    let (net, anchors) = signed_net();
    let r = validating(&net, anchors);
    let res = expect(&r, "www.secure.test.", A, NoError).await;
    assert_eq!(res.security, Trust::Secure, "{res:?}");
    assert_eq!(lines(&res.answers), ["www.secure.test. 300 A 127.0.0.182"]);
    assert!(!res.answer_sigs.is_empty(), "RRSIGs kept for DO clients");
    // The chain was walked: each zone's DNSKEY (the DS sets came with the referrals).
    let walked = key_queries(&net.sent());
    for want in [". DNSKEY", "test. DNSKEY", "secure.test. DNSKEY"] {
        assert!(walked.iter().any(|q| q == want), "{want} in {walked:?}");
    }
    // Asked again: the answer and its verdict from the cache, nothing sent.
    let sent = net.total();
    let again = expect(&r, "www.secure.test.", A, NoError).await;
    assert_eq!((again.security, again.upstream_queries), (Trust::Secure, 0));
    assert_eq!(net.total(), sent);
    // Another name of the zone: its own query only; the keys are cached.
    let txt = expect(&r, "txt.secure.test.", TXT, NoError).await;
    assert_eq!(txt.security, Trust::Secure);
    assert_eq!(key_queries(&net.sent()[sent..]), Vec::<String>::new());
    assert_eq!(txt.upstream_queries, 1);
}

#[tokio::test(start_paused = true)]
async fn nxdomain_and_nodata_are_proven_secure() {
    let (net, anchors) = signed_net();
    let r = validating(&net, anchors);
    let nx = expect(&r, "nope.secure.test.", A, NXDomain).await;
    assert_eq!(nx.security, Trust::Secure, "{nx:?}");
    assert!(!nx.proof.is_empty(), "the NSEC proof kept for DO clients");
    let nodata = expect(&r, "www.secure.test.", TXT, NoError).await;
    assert!(nodata.answers.is_empty());
    assert_eq!(nodata.security, Trust::Secure, "{nodata:?}");
    // The unsigned zone's negative answers are insecure, not bogus.
    let nx = expect(&r, "nope.insecure.test.", A, NXDomain).await;
    assert_eq!(nx.security, Trust::Insecure, "{nx:?}");
}

#[tokio::test(start_paused = true)]
async fn a_corrupted_signature_is_bogus_and_kept_at_most_the_bogus_ttl() {
    let (net, anchors) = signed_net();
    let r = validating(&net, anchors);
    let res = expect(&r, "www.bogus.test.", A, NoError).await;
    assert_eq!(bogus_ede(&res.security), Some(Ede::Bogus.code()), "{res:?}");
    let key = Key::new(&name("www.bogus.test."), A);
    let kept = r.cache().get(&key, Instant::now()).expect("cached");
    assert!(kept.ttl <= BOGUS_TTL, "{} > {BOGUS_TTL}", kept.ttl);
    // Within the bogus TTL the verdict is the cache's: nothing sent.
    advance(Duration::from_secs(u64::from(BOGUS_TTL) - 1)).await;
    let again = expect(&r, "www.bogus.test.", A, NoError).await;
    assert_eq!(
        (bogus_ede(&again.security), again.upstream_queries),
        (Some(6), 0)
    );
    // Past it (the data's own TTL is 300 s), the answer is fetched and judged again.
    advance(Duration::from_secs(2)).await;
    let later = expect(&r, "www.bogus.test.", A, NoError).await;
    assert!(later.upstream_queries > 0, "fetched again: {later:?}");
    assert_eq!(bogus_ede(&later.security), Some(6));
    // The rest of the zone is signed properly.
    let txt = expect(&r, "txt.bogus.test.", TXT, NoError).await;
    assert_eq!(txt.security, Trust::Secure);
}

#[tokio::test(start_paused = true)]
async fn a_delegation_without_ds_is_insecure() {
    let (net, anchors) = signed_net();
    let r = validating(&net, anchors);
    let res = expect(&r, "www.insecure.test.", A, NoError).await;
    assert_eq!(res.security, Trust::Insecure, "{res:?}");
    assert_eq!(
        lines(&res.answers),
        ["www.insecure.test. 300 A 127.0.0.184"]
    );
    assert!(res.answer_sigs.is_empty());
}

/// Signature time is the walk's time (task: time is an argument, also for validation): the
/// same data, secure when fetched at signing, is bogus with EDE 7 when fetched again after
/// the paused clock has moved past its RRSIGs' expiration.
#[tokio::test(start_paused = true)]
async fn an_answer_secure_at_first_is_bogus_once_its_signatures_expire() {
    let (net, anchors) = signed_net();
    let r = validating(&net, anchors);
    let res = expect(&r, "www.secure.test.", A, NoError).await;
    assert_eq!(res.security, Trust::Secure, "{res:?}");
    // 29 days on: every TTL ran out, the signatures still hold.
    advance(Duration::from_secs(29 * 86_400)).await;
    let res = expect(&r, "www.secure.test.", A, NoError).await;
    assert!(res.upstream_queries > 0);
    assert_eq!(res.security, Trust::Secure, "{res:?}");
    // Two days more: past the 30-day validity, fetched again, expired.
    advance(Duration::from_secs(2 * 86_400)).await;
    let res = expect(&r, "www.secure.test.", A, NoError).await;
    assert!(res.upstream_queries > 0);
    assert_eq!(
        bogus_ede(&res.security),
        Some(Ede::SignatureExpired.code()),
        "{res:?}"
    );
}

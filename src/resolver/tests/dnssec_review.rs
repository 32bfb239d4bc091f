//! Review tests of the validator on the signed fake internet: wildcard answers and their
//! proofs, empty non-terminals, DS answered by the parent, CNAME chains crossing zones of
//! different security, the TTL cut to a signature's expiry, signatures not yet valid.

use std::time::Duration;

use hickory_proto::op::ResponseCode::{NXDomain, NoError};
use hickory_proto::rr::RecordType::{A, DS, TXT};
use tokio::time::{Instant, advance};

use super::validate::{SIGNED_AT, bogus_ede, signed_net, signed_net_with, validating};
use super::*;
use crate::cache::Trust;
use crate::dnssec::Ede;
use crate::resolver::validate::{UnixClock, Validator};

/// secure.test. with an empty non-terminal (ent.), and aliases into each kind of zone.
fn edited(file: &str, text: String) -> String {
    match file {
        "secure.test.zone" => {
            text + "a.b.ent 300 IN A 127.0.0.1\n\
               to-insecure 300 IN CNAME www.insecure.test.\n\
               to-bogus 300 IN CNAME www.bogus.test.\n\
               to-wild 300 IN CNAME x.wild.secure.test.\n\
               *.wc 300 IN CNAME www.secure.test.\n\
               *.wc2 300 IN CNAME x.wild.secure.test.\n\
               to-nx 300 IN CNAME nope.secure.test.\n"
        }
        "insecure.test.zone" => text + "to-secure 300 IN CNAME www.secure.test.\n",
        _ => text,
    }
}

#[tokio::test(start_paused = true)]
async fn a_wildcard_expansion_is_secure_with_its_proof() {
    let (net, anchors) = signed_net();
    let r = validating(&net, anchors);
    let one = expect(&r, "x.wild.secure.test.", A, NoError).await;
    assert_eq!(one.security, Trust::Secure, "{one:?}");
    // two labels below the wildcard's parent: the closest encloser is still wild.
    let deep = expect(&r, "a.b.wild.secure.test.", A, NoError).await;
    assert_eq!(deep.security, Trust::Secure, "{deep:?}");
    // the wildcard has no TXT: a secure wildcard NODATA (RFC 4035 §3.1.3.4).
    let nodata = expect(&r, "y.wild.secure.test.", TXT, NoError).await;
    assert!(nodata.answers.is_empty());
    assert_eq!(nodata.security, Trust::Secure, "{nodata:?}");
}

#[tokio::test(start_paused = true)]
async fn an_empty_non_terminal_is_a_secure_nodata() {
    let (net, anchors) = signed_net_with(edited, &[]);
    let r = validating(&net, anchors);
    for q in ["ent.secure.test.", "b.ent.secure.test."] {
        let res = expect(&r, q, A, NoError).await;
        assert!(res.answers.is_empty(), "{res:?}");
        assert_eq!(res.security, Trust::Secure, "{q}: {res:?}");
    }
    let nx = expect(&r, "c.ent.secure.test.", A, NXDomain).await;
    assert_eq!(nx.security, Trust::Secure, "{nx:?}");
}

#[tokio::test(start_paused = true)]
async fn ds_answers_come_from_the_parent_and_are_secure() {
    let (net, anchors) = signed_net();
    let r = validating(&net, anchors);
    let ds = expect(&r, "secure.test.", DS, NoError).await;
    assert!(!ds.answers.is_empty(), "{ds:?}");
    assert_eq!(ds.security, Trust::Secure, "{ds:?}");
    // test.'s NSEC at insecure. proves there is no DS: a secure NODATA from the parent.
    let none = expect(&r, "insecure.test.", DS, NoError).await;
    assert!(none.answers.is_empty(), "{none:?}");
    assert_eq!(none.security, Trust::Secure, "{none:?}");
}

#[tokio::test(start_paused = true)]
async fn ds_of_an_unsigned_delegation_asked_after_its_data_is_still_secure() {
    let (net, anchors) = signed_net();
    let r = validating(&net, anchors);
    let www = expect(&r, "www.insecure.test.", A, NoError).await;
    assert_eq!(www.security, Trust::Insecure);
    let none = expect(&r, "insecure.test.", DS, NoError).await;
    assert!(none.answers.is_empty(), "{none:?}");
    assert_eq!(none.security, Trust::Secure, "{none:?}");
}

#[tokio::test(start_paused = true)]
async fn a_cname_chain_is_as_secure_as_its_weakest_link() {
    let (net, anchors) = signed_net_with(edited, &[]);
    let r = validating(&net, anchors);
    let res = expect(&r, "to-insecure.secure.test.", A, NoError).await;
    assert_eq!(res.answers.len(), 2, "{res:?}");
    assert_eq!(res.security, Trust::Insecure, "{res:?}");
    let res = expect(&r, "to-secure.insecure.test.", A, NoError).await;
    assert_eq!(res.answers.len(), 2, "{res:?}");
    assert_eq!(res.security, Trust::Insecure, "{res:?}");
    let res = resolve(&r, "to-bogus.secure.test.", A).await;
    let bogus = res.map(|res| bogus_ede(&res.security));
    assert!(
        matches!(bogus, Ok(Some(6)) | Err(_)),
        "a bogus target makes the chain bogus: {bogus:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_answer_lives_no_longer_than_its_signature() {
    let (net, anchors) = signed_net();
    let r = validating(&net, anchors);
    // The lab's signatures expire 30 days after SIGNED_AT: 100 s are left.
    advance(Duration::from_secs(30 * 86_400 - 100)).await;
    let res = expect(&r, "www.secure.test.", A, NoError).await;
    assert_eq!(res.security, Trust::Secure, "{res:?}");
    assert!(res.answers.iter().all(|a| a.ttl <= 100), "{res:?}");
    advance(Duration::from_secs(101)).await;
    let res = expect(&r, "www.secure.test.", A, NoError).await;
    assert_eq!(
        bogus_ede(&res.security),
        Some(Ede::SignatureExpired.code()),
        "{res:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_signature_not_yet_valid_is_bogus_with_ede_8() {
    let (net, anchors) = signed_net();
    // The validator's calendar two hours before signing: the RRSIGs start an hour before.
    let validator = Validator::new(anchors, Vec::new())
        .with_clock(UnixClock::pinned(Instant::now(), SIGNED_AT - 7200));
    let r = Arc::new(
        Resolver::new(
            Arc::clone(&net) as Arc<dyn super::super::Upstream>,
            FakeNet::lab_hints(),
            Arc::new(Cache::new(CachePolicy::default())),
            ResolverConfig::default(),
            Arc::new(Metrics::default()),
        )
        .with_validator(validator),
    );
    let res = resolve(&r, "www.secure.test.", A).await;
    let ede = res.map(|res| bogus_ede(&res.security));
    assert_eq!(ede, Ok(Some(Ede::SignatureNotYetValid.code())));
}

/// The server answers the whole in-zone chain at once: the CNAME's target, expanded from a
/// wildcard, is stored as its own link and must keep the NSEC proving that it does not exist
/// (RFC 4035 §5.3.4); it was stored with its RRSIGs only, and judged bogus (EDE 12).
#[tokio::test(start_paused = true)]
async fn a_cname_to_a_wildcard_expansion_in_the_same_zone_is_secure() {
    let (net, anchors) = signed_net_with(edited, &[]);
    let r = validating(&net, anchors);
    let res = expect(&r, "to-wild.secure.test.", A, NoError).await;
    assert_eq!(res.answers.len(), 2, "{res:?}");
    assert_eq!(res.security, Trust::Secure, "{res:?}");
}

#[tokio::test(start_paused = true)]
async fn wildcard_cnames_and_wildcards_in_other_zones_validate() {
    let (net, anchors) = signed_net_with(edited, &[]);
    let r = validating(&net, anchors);
    for q in [
        "x.wc.secure.test.",
        "y.wc2.secure.test.",
        "x.wild.bogus.test.",
    ] {
        let res = expect(&r, q, A, NoError).await;
        assert!(!res.answers.is_empty(), "{q}: {res:?}");
        assert_eq!(res.security, Trust::Secure, "{q}: {res:?}");
    }
    // The wildcard's own name, asked literally, is no expansion.
    let own = expect(&r, "*.wild.secure.test.", A, NoError).await;
    assert_eq!(own.security, Trust::Secure, "{own:?}");
    // Below an unsigned delegation, a DS question is insecure, not bogus.
    let res = resolve(&r, "sub.insecure.test.", DS).await;
    let trust = res.map(|res| res.security);
    assert!(matches!(trust, Ok(Trust::Insecure)), "{trust:?}");
}

#[tokio::test(start_paused = true)]
async fn a_negative_trust_anchor_makes_a_chain_into_a_bogus_zone_insecure() {
    let (net, anchors) = signed_net_with(edited, &[]);
    let r = super::validate::validating_with(&net, anchors, vec![name("bogus.test.")]);
    let res = expect(&r, "to-bogus.secure.test.", A, NoError).await;
    assert_eq!(res.answers.len(), 2, "{res:?}");
    assert_eq!(res.security, Trust::Insecure, "{res:?}");
}

#[tokio::test(start_paused = true)]
async fn glue_and_other_types_of_a_signed_zone_validate() {
    let (net, anchors) = signed_net();
    let r = validating(&net, anchors);
    expect(&r, "www.secure.test.", A, NoError).await;
    // Learned as glue from test.'s referral, unsigned: asked of the zone, not answered from it.
    let glue = expect(&r, "ns1.secure.test.", A, NoError).await;
    assert_eq!(glue.security, Trust::Secure, "{glue:?}");
    for qtype in [RecordType::NSEC, RecordType::DNSKEY, RecordType::SOA] {
        let q = if qtype == RecordType::NSEC {
            "www.secure.test."
        } else {
            "secure.test."
        };
        let res = expect(&r, q, qtype, NoError).await;
        assert!(!res.answers.is_empty(), "{qtype}: {res:?}");
        assert_eq!(res.security, Trust::Secure, "{qtype}: {res:?}");
    }
    // A wildcard expansion read again from the cache keeps its proof.
    for _ in 0..2 {
        let res = expect(&r, "x.wild.secure.test.", A, NoError).await;
        assert_eq!(res.security, Trust::Secure, "{res:?}");
    }
}

/// Each RRset of an ANY answer is verified on its own: it was matched against the type ANY,
/// found empty, and every signed ANY answer was bogus (EDE 6, "empty RRset").
#[tokio::test(start_paused = true)]
async fn an_any_answer_is_as_secure_as_its_rrsets() {
    let (net, anchors) = signed_net();
    let r = validating(&net, anchors);
    for (q, want) in [
        ("www.secure.test.", Some(Trust::Secure)),
        ("www.insecure.test.", Some(Trust::Insecure)),
        ("www.bogus.test.", None),
    ] {
        let res = expect(&r, q, RecordType::ANY, NoError).await;
        assert!(!res.answers.is_empty(), "{q}: {res:?}");
        match want {
            Some(trust) => assert_eq!(res.security, trust, "{q}: {res:?}"),
            None => assert_eq!(bogus_ede(&res.security), Some(6), "{q}: {res:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn an_in_zone_cname_to_a_denied_name_or_type_is_secure() {
    let (net, anchors) = signed_net_with(edited, &[]);
    let r = validating(&net, anchors);
    let nx = expect(&r, "to-nx.secure.test.", A, NXDomain).await;
    assert_eq!(nx.security, Trust::Secure, "{nx:?}");
    let nodata = expect(&r, "to-wild.secure.test.", TXT, NoError).await;
    assert_eq!(nodata.answers.len(), 1, "{nodata:?}");
    assert_eq!(nodata.security, Trust::Secure, "{nodata:?}");
    let nodata = expect(&r, "to-insecure.secure.test.", TXT, NoError).await;
    assert_eq!(nodata.security, Trust::Insecure, "{nodata:?}");
}

#[tokio::test(start_paused = true)]
async fn a_negative_answer_lives_no_longer_than_its_proof_signatures() {
    let (net, anchors) = signed_net();
    let r = validating(&net, anchors);
    advance(Duration::from_secs(30 * 86_400 - 100)).await;
    let nx = expect(&r, "nope.secure.test.", A, NXDomain).await;
    assert_eq!(nx.security, Trust::Secure, "{nx:?}");
    assert!(nx.authorities.iter().all(|a| a.ttl <= 100), "{nx:?}");
    advance(Duration::from_secs(101)).await;
    // Neither the cache nor an aggressive proof may still say it is secure.
    let nx = expect(&r, "nope.secure.test.", A, NXDomain).await;
    assert_ne!(nx.security, Trust::Secure, "{nx:?}");
    let other = expect(&r, "mail.secure.test.", A, NXDomain).await;
    assert_ne!(other.security, Trust::Secure, "{other:?}");
}

/// RFC 4035 §5.2, RFC 6840 §5.2: a DS of an unsupported digest type beside one that matches
/// is ignored; the link is secure.
#[test]
fn a_ds_set_with_one_unsupported_digest_beside_a_good_one_is_secure() {
    use hickory_proto::dnssec::rdata::DS;
    use hickory_proto::dnssec::{Algorithm, DigestType};
    use hickory_proto::rr::RecordData;

    use crate::dnssec::testing::{NOW, TestZone};
    use crate::dnssec::{Security, Validation};

    let parent = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    let child = TestZone::new("sub.example.", Algorithm::ECDSAP256SHA256);
    let mut records = child.ds();
    let real = DS::try_borrow(&records[0].data).cloned().expect("a DS");
    let odd = DS::new(
        real.key_tag(),
        real.algorithm(),
        DigestType::from(99),
        vec![0; 32],
    );
    records.push(Record::from_rdata(
        name("sub.example."),
        3600,
        odd.into_rdata(),
    ));
    let ds = parent.sign_records(records);
    let state = Validation::new(NOW).child_keys(&parent.keys(), &ds, &child.dnskey_set());
    assert_eq!(state.security(), Security::Secure, "{state:?}");
}

/// An ANY answer expanded from a wildcard: classify kept no NSEC proof for ANY (its
/// `qtype == RecordType::ANY` branch kept no `signed`, and the answer section alone was
/// taken as settled, its RRSIGs being among the data), so the validator could not prove the
/// expansion was due: bogus, EDE 12.
#[tokio::test(start_paused = true)]
async fn an_any_answer_expanded_from_a_wildcard_is_secure() {
    let (net, anchors) = signed_net();
    let r = validating(&net, anchors);
    let res = expect(&r, "x.wild.secure.test.", RecordType::ANY, NoError).await;
    assert!(!res.answers.is_empty(), "{res:?}");
    assert_eq!(res.security, Trust::Secure, "{res:?}");
}

/// The expansion's proof is now the answer's: a DO=1 client is given it in the authority
/// section, from the walk and from the cache alike, and the cached answer stays secure.
#[tokio::test(start_paused = true)]
async fn an_any_wildcard_answer_carries_its_proof_from_the_walk_and_the_cache() {
    let (net, anchors) = signed_net();
    let r = validating(&net, anchors);
    let walked = expect(&r, "x.wild.secure.test.", RecordType::ANY, NoError).await;
    let nsec = |res: &Resolution| {
        res.proof
            .iter()
            .filter(|p| p.record_type() == RecordType::NSEC)
            .count()
    };
    assert!(nsec(&walked) > 0, "{walked:?}");
    let cached = expect(&r, "x.wild.secure.test.", RecordType::ANY, NoError).await;
    assert_eq!(cached.upstream_queries, 0, "{cached:?}");
    assert_eq!(cached.security, Trust::Secure, "{cached:?}");
    assert_eq!(nsec(&cached), nsec(&walked), "{cached:?}");
}

/// Without its proof (an authority, or a forger, leaving the NSEC out), or with the proof's
/// signatures stripped, the same ANY answer is still bogus: the expansion is not taken on
/// trust (RFC 4035 §5.3.4).
#[tokio::test(start_paused = true)]
async fn an_any_answer_expanded_from_a_wildcard_without_its_proof_is_bogus() {
    use crate::cache::Signed;
    use crate::resolver::{Budget, Link, Step};

    let (net, anchors) = signed_net();
    let r = validating(&net, anchors);
    let res = expect(&r, "x.wild.secure.test.", RecordType::ANY, NoError).await;
    assert_eq!(res.security, Trust::Secure, "{res:?}");
    let unsigned: Vec<Record> = res
        .proof
        .iter()
        .filter(|p| p.record_type() != RecordType::RRSIG)
        .cloned()
        .collect();
    assert!(!unsigned.is_empty(), "{res:?}");
    let val = r.validator.as_ref().expect("validating");
    let mut budget = Budget::new(r.limits, Instant::now());
    let qname = name("x.wild.secure.test.");
    for (proof, ede) in [
        (Vec::new(), Some(Ede::NsecMissing.code())),
        (unsigned, None),
    ] {
        let link = Link {
            step: Step::Answer(res.answers.clone()),
            signed: Signed::unchecked(proof),
        };
        let trust = r
            .validate_link(val, &qname, RecordType::ANY, &link, &mut budget)
            .await;
        let got = bogus_ede(&trust);
        assert!(got.is_some(), "bogus: {trust:?}");
        if ede.is_some() {
            assert_eq!(got, ede, "{trust:?}");
        }
    }
}

use hickory_proto::dnssec::rdata::DNSKEY;
use hickory_proto::dnssec::{Algorithm, DigestType, PublicKeyBuf};
use hickory_proto::rr::Record;

use super::*;
use crate::dnssec::TrustAnchor;
use crate::dnssec::testing::{NOW, TestZone, name};

/// A parent and a child, the child's DS signed into the parent.
fn delegation(alg: Algorithm) -> (TestZone, TestZone, SignedRrset) {
    let parent = TestZone::new("example.", alg);
    let child = TestZone::new("sub.example.", alg);
    let ds = parent.sign_records(child.ds());
    (parent, child, ds)
}

fn ds_rdata(record: &Record) -> DS {
    DS::try_borrow(&record.data).cloned().unwrap()
}

#[test]
fn a_ds_matching_the_ksk_authenticates_the_child_keys() {
    for alg in [Algorithm::ECDSAP256SHA256, Algorithm::RSASHA256] {
        let (parent, child, ds) = delegation(alg);
        let mut v = Validation::traced(NOW);
        let state = v.child_keys(&parent.keys(), &ds, &child.dnskey_set());
        let keys = state.keys().unwrap_or_else(|| panic!("{alg}: {state:?}"));
        assert_eq!(keys.zone(), &name("sub.example."));
        assert_eq!(keys.keys().len(), 2);
        assert_eq!(keys.ttl(), 3600);
        assert_eq!(state.security(), Security::Secure);
        // DS RRset, DNSKEY RRset: two verifications, each traced
        assert_eq!(v.budget.verifications(), 2);
        let text: Vec<String> = v.trace.lines().iter().map(|l| l.to_string()).collect();
        assert!(
            text.iter()
                .any(|l| l.starts_with("DS") && l.contains("matches a DNSKEY")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|l| l.starts_with("DNSKEY") && l.contains("verified")),
            "{text:?}"
        );
    }
}

#[test]
fn a_ds_matching_no_key_is_dnskey_missing() {
    let (parent, child, _) = delegation(Algorithm::ECDSAP256SHA256);
    let impostor = TestZone::new("sub.example.", Algorithm::ECDSAP256SHA256);
    let ds = parent.sign_records(impostor.ds());
    let state = Validation::new(NOW).child_keys(&parent.keys(), &ds, &child.dnskey_set());
    match state {
        KeyState::Bogus { reason, ttl } => {
            assert_eq!(reason.ede, Ede::DnskeyMissing);
            assert_eq!(reason.zone, name("sub.example."));
            assert_eq!(ttl, crate::dnssec::BOGUS_TTL);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_dnskey_set_not_signed_by_the_ds_key_is_bogus() {
    let (parent, child, ds) = delegation(Algorithm::ECDSAP256SHA256);
    // the DNSKEY RRset signed by the ZSK only
    let recs = child.dnskey_set().records;
    let zsk_signed = child.sign_records(recs);
    let state = Validation::new(NOW).child_keys(&parent.keys(), &ds, &zsk_signed);
    assert!(matches!(state.security(), Security::Bogus(_)), "{state:?}");
    // and a missing DNSKEY RRset
    let mut empty = child.dnskey_set();
    empty.records.clear();
    let state = Validation::new(NOW).child_keys(&parent.keys(), &ds, &empty);
    assert!(matches!(state.security(), Security::Bogus(r) if r.ede == Ede::DnskeyMissing));
}

#[test]
fn a_forged_ds_rrset_is_bogus() {
    let (parent, child, _) = delegation(Algorithm::ECDSAP256SHA256);
    let attacker = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    let ds = attacker.sign_records(child.ds());
    let state = Validation::new(NOW).child_keys(&parent.keys(), &ds, &child.dnskey_set());
    assert!(matches!(state.security(), Security::Bogus(r) if r.ede == Ede::DnskeyMissing));
}

#[test]
fn only_unsupported_digests_or_algorithms_make_the_child_insecure() {
    let (parent, child, _) = delegation(Algorithm::ECDSAP256SHA256);
    let real = ds_rdata(&child.ds()[0]);
    let cases = [
        (
            DS::new(
                real.key_tag(),
                real.algorithm(),
                DigestType::from(99),
                real.digest().to_vec(),
            ),
            Ede::UnsupportedDsDigest,
        ),
        (
            DS::new(
                real.key_tag(),
                Algorithm::Unknown(253),
                DigestType::SHA256,
                real.digest().to_vec(),
            ),
            Ede::UnsupportedDnskeyAlgorithm,
        ),
    ];
    for (ds, ede) in cases {
        let record = Record::from_rdata(name("sub.example."), 3600, ds.into_rdata());
        let ds = parent.sign_records(vec![record]);
        let state = Validation::new(NOW).child_keys(&parent.keys(), &ds, &child.dnskey_set());
        match state {
            KeyState::Insecure {
                ede: Some(e), ttl, ..
            } => {
                assert_eq!(e, ede);
                assert_eq!(ttl, 3600);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_sha1_ds_is_ignored_beside_a_sha256_one() {
    // RFC 4509 §3: a valid SHA-1 DS must not rescue a DS RRset whose SHA-256 entry fails
    let (parent, child, _) = delegation(Algorithm::ECDSAP256SHA256);
    let sha1 = child.ksk.ds(&child.name, 3600, DigestType::SHA1).unwrap();
    let good = ds_rdata(&child.ds()[0]);
    let broken = DS::new(
        good.key_tag(),
        good.algorithm(),
        DigestType::SHA256,
        vec![0; 32],
    );
    let broken = Record::from_rdata(name("sub.example."), 3600, broken.into_rdata());
    let ds = parent.sign_records(vec![sha1.clone(), broken]);
    let state = Validation::new(NOW).child_keys(&parent.keys(), &ds, &child.dnskey_set());
    assert!(matches!(state.security(), Security::Bogus(r) if r.ede == Ede::DnskeyMissing));
    // alone, the SHA-1 DS is used
    let ds = parent.sign_records(vec![sha1]);
    let state = Validation::new(NOW).child_keys(&parent.keys(), &ds, &child.dnskey_set());
    assert_eq!(state.security(), Security::Secure);
}

#[test]
fn anchors_of_either_type_start_the_chain() {
    let zone = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    let dnskeys = zone.dnskey_set();
    let state = Validation::new(NOW).anchored_keys(&zone.anchor(), &dnskeys);
    assert_eq!(state.security(), Security::Secure);
    // the anchor's TTL does not limit the key set: the DNSKEY RRset's does
    assert_eq!(state.ttl(), 3600);

    let mut by_key = TrustAnchor::new(&zone.name);
    by_key.add(&zone.ksk.dnskey_record(&zone.name, 0));
    let state = Validation::new(NOW).anchored_keys(&by_key, &dnskeys);
    assert_eq!(state.security(), Security::Secure);

    let other = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    let state = Validation::new(NOW).anchored_keys(&other.anchor(), &dnskeys);
    assert!(matches!(state.security(), Security::Bogus(_)));

    let mut unsupported = TrustAnchor::new(&zone.name);
    unsupported.dnskeys.push(DNSKEY::with_flags(
        257,
        PublicKeyBuf::new(vec![1, 2, 3], Algorithm::Unknown(200)),
    ));
    let state = Validation::new(NOW).anchored_keys(&unsupported, &dnskeys);
    assert!(matches!(
        state,
        KeyState::Insecure {
            ede: Some(Ede::UnsupportedDnskeyAlgorithm),
            ..
        }
    ));
}

#[test]
fn only_keys_that_can_sign_are_kept() {
    let zone = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    let key = zone.zsk.dnskey().public_key().clone();
    let keys = ZoneKeys::trusted(
        &zone.name,
        [
            DNSKEY::with_flags(256, key.clone()),
            DNSKEY::with_flags(0, key.clone()), // no Zone Key bit
            DNSKEY::with_flags(256 | 128, key.clone()), // revoked
            DNSKEY::with_flags(256, PublicKeyBuf::new(vec![1], Algorithm::Unknown(200))),
        ],
        60,
    );
    assert_eq!(keys.keys().len(), 1);
    assert_eq!(keys.ttl(), 60);
}

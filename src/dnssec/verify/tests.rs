use hickory_proto::dnssec::Algorithm;
use hickory_proto::dnssec::rdata::RRSIG;
use hickory_proto::rr::{RData, RecordType};

use super::*;
use crate::dnssec::sign::Window;
use crate::dnssec::testing::{NOW, TestZone, name, records};

fn bogus_ede(checked: &Checked) -> Ede {
    match &checked.security {
        Security::Bogus(r) => r.ede,
        other => panic!("expected bogus, got {other:?}"),
    }
}

/// Replaces the signature bytes of every RRSIG of `set` by `f(bytes)`.
fn tamper(set: &mut SignedRrset, f: impl Fn(&mut Vec<u8>)) {
    for r in &mut set.rrsigs {
        let sig = rrsig(r).unwrap();
        let mut bytes = sig.sig().to_vec();
        f(&mut bytes);
        r.data = RRSIG::from_sig(sig.input().clone(), bytes).into_rdata();
    }
}

#[test]
fn each_supported_algorithm_verifies_and_caps_the_ttl() {
    for alg in [
        Algorithm::RSASHA256,
        Algorithm::RSASHA512,
        Algorithm::ECDSAP256SHA256,
        Algorithm::ECDSAP384SHA384,
        Algorithm::ED25519,
    ] {
        let zone = TestZone::new("example.", alg);
        let mut set = zone.sign("www.example. 300 IN A 192.0.2.1\nwww.example. 300 IN A 192.0.2.2");
        // a cache upstream raised the TTL: the Original TTL field caps it again
        set.records.iter_mut().for_each(|r| r.ttl = 9000);
        let mut v = Validation::new(NOW);
        let checked = v.verify(&set, &zone.keys());
        assert_eq!(checked.security, Security::Secure, "{alg}");
        assert_eq!(checked.ttl, 300, "{alg}");
        assert_eq!(checked.wildcard, None);
        assert_eq!(v.budget.verifications(), 1);
    }
}

#[test]
fn ttl_is_capped_by_the_time_left_to_expiry() {
    let mut zone = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    zone.window = Window::around(NOW, 3600, 100);
    let set = zone.sign("www.example. 3600 IN A 192.0.2.1");
    let checked = Validation::new(NOW).verify(&set, &zone.keys());
    assert_eq!(checked.security, Security::Secure);
    assert_eq!(checked.ttl, 100);
}

#[test]
fn validity_window_is_checked_in_serial_arithmetic() {
    let mut zone = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    let set = zone.sign("www.example. 300 IN A 192.0.2.1");
    let keys = zone.keys();
    let expired = Validation::new(NOW + 8 * 86400).verify(&set, &keys);
    assert_eq!(bogus_ede(&expired), Ede::SignatureExpired);
    let early = Validation::new(NOW - 2 * 3600).verify(&set, &keys);
    assert_eq!(bogus_ede(&early), Ede::SignatureNotYetValid);

    // past 2106 the 32-bit times wrap; a window around such a `now` still holds
    let later = (1u64 << 32) + 500;
    zone.window = Window::around(later, 3600, 86400);
    let set = zone.sign("www.example. 300 IN A 192.0.2.1");
    assert_eq!(
        Validation::new(later).verify(&set, &keys).security,
        Security::Secure
    );
}

#[test]
fn a_corrupted_signature_or_changed_data_is_bogus() {
    let zone = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    let mut set = zone.sign("www.example. 300 IN A 192.0.2.1");
    tamper(&mut set, |b| b[10] ^= 0x01);
    let mut v = Validation::traced(NOW);
    let checked = v.verify(&set, &zone.keys());
    assert_eq!(bogus_ede(&checked), Ede::Bogus);
    assert!(
        v.trace
            .lines()
            .iter()
            .any(|l| l.outcome == "signature does not verify")
    );

    let mut set = zone.sign("www.example. 300 IN A 192.0.2.1");
    set.records[0].data = RData::A("192.0.2.66".parse().unwrap());
    assert_eq!(
        bogus_ede(&Validation::new(NOW).verify(&set, &zone.keys())),
        Ede::Bogus
    );
}

#[test]
fn a_stripped_rrsig_is_rrsigs_missing() {
    let zone = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    let mut set = zone.sign("www.example. 300 IN A 192.0.2.1");
    set.rrsigs.clear();
    let checked = Validation::new(NOW).verify(&set, &zone.keys());
    assert_eq!(bogus_ede(&checked), Ede::RrsigsMissing);
    // an RRSIG for another type does not count
    let mut set = zone.sign("www.example. 300 IN A 192.0.2.1");
    let other = zone.sign("www.example. 300 IN TXT \"x\"");
    set.rrsigs = other.rrsigs;
    assert_eq!(
        bogus_ede(&Validation::new(NOW).verify(&set, &zone.keys())),
        Ede::RrsigsMissing
    );
}

#[test]
fn a_signature_by_an_unknown_key_is_dnskey_missing() {
    let zone = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    let stranger = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    let set = stranger.sign("www.example. 300 IN A 192.0.2.1");
    let checked = Validation::new(NOW).verify(&set, &zone.keys());
    assert_eq!(bogus_ede(&checked), Ede::DnskeyMissing);
}

#[test]
fn the_signer_must_be_the_zone_and_above_the_owner() {
    let zone = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    let other = TestZone::new("other.", Algorithm::ECDSAP256SHA256);
    // signed by other.'s key as other., offered as example.'s data
    let set = other.sign("www.example. 300 IN A 192.0.2.1");
    let checked = Validation::new(NOW).verify(&set, &zone.keys());
    match &checked.security {
        Security::Bogus(r) => {
            assert_eq!(r.ede, Ede::Bogus);
            assert!(r.step.contains("signed by other."), "{}", r.step);
        }
        s => panic!("{s:?}"),
    }
    // signed by the right zone, but the owner is outside it
    let set = other.sign("www.example. 300 IN A 192.0.2.1");
    assert_eq!(
        bogus_ede(&Validation::new(NOW).verify(&set, &other.keys())),
        Ede::Bogus
    );
}

#[test]
fn a_wildcard_expansion_is_reported_with_its_closest_encloser() {
    let zone = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    let mut set = zone.sign("*.example. 300 IN A 192.0.2.1");
    // what a server sends for a.b.example.: the wildcard's data and RRSIG under the qname
    let qname = name("a.b.example.");
    set.name = qname.clone();
    set.records.iter_mut().for_each(|r| r.name = qname.clone());
    set.rrsigs.iter_mut().for_each(|r| r.name = qname.clone());
    let checked = Validation::new(NOW).verify(&set, &zone.keys());
    assert_eq!(checked.security, Security::Secure);
    assert_eq!(checked.wildcard, Some(name("example.")));

    // the literal wildcard owner is no expansion
    let set = zone.sign("*.example. 300 IN A 192.0.2.1");
    assert_eq!(
        Validation::new(NOW).verify(&set, &zone.keys()).wildcard,
        None
    );
}

#[test]
fn a_labels_field_above_the_owners_count_is_refused() {
    let zone = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    let mut set = zone.sign("a.b.example. 300 IN A 192.0.2.1");
    // the same data offered under a shorter owner
    let short = name("b.example.");
    set.name = short.clone();
    set.records.iter_mut().for_each(|r| r.name = short.clone());
    set.rrsigs.iter_mut().for_each(|r| r.name = short.clone());
    let checked = Validation::new(NOW).verify(&set, &zone.keys());
    assert!(matches!(&checked.security, Security::Bogus(r) if r.step.contains("labels 3 > 2")));
}

#[test]
fn duplicates_are_removed_before_verifying() {
    let zone = TestZone::new("example.", Algorithm::ED25519);
    let mut set = zone.sign("www.example. 300 IN A 192.0.2.1");
    let dup = set.records[0].clone();
    set.records.push(dup);
    assert_eq!(
        Validation::new(NOW).verify(&set, &zone.keys()).security,
        Security::Secure
    );
}

#[test]
fn the_best_failure_is_reported() {
    let zone = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    let mut set = zone.sign("www.example. 300 IN A 192.0.2.1");
    // one RRSIG by an unknown key, one by the right key but expired: the expiry tells more
    let old = Window::around(NOW - 30 * 86400, 3600, 86400);
    let expired = zone.sign_with(&zone.zsk, records("www.example. 300 IN A 192.0.2.1"), old);
    let stranger = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    set.rrsigs = [
        stranger.sign("www.example. 300 IN A 192.0.2.1").rrsigs,
        expired.rrsigs,
    ]
    .concat();
    let checked = Validation::new(NOW).verify(&set, &zone.keys());
    assert_eq!(bogus_ede(&checked), Ede::SignatureExpired);
    assert_eq!(set.rtype, RecordType::A);
}

#[test]
fn an_empty_rrset_is_bogus() {
    let zone = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    let mut set = zone.sign("www.example. 300 IN A 192.0.2.1");
    set.records.clear();
    assert_eq!(
        bogus_ede(&Validation::new(NOW).verify(&set, &zone.keys())),
        Ede::Bogus
    );
}

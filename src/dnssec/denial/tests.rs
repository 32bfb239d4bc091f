//! NSEC proofs end to end: a signed zone's chain, verified into a `Denial`, asked each
//! question. (NSEC3 has its own in `nsec3/tests.rs`.)

use hickory_proto::dnssec::Algorithm;
use hickory_proto::rr::RecordType;

use super::*;
use crate::dnssec::testing::{NOW, TestZone, name, owners, pick};

/// example. with a plain name, an empty non-terminal (c), a wildcard under another (w),
/// an unsigned delegation (sub) and a signed one (sec). In canonical order:
/// example. a b.c sec sub *.w z
fn signed() -> (TestZone, Vec<SignedRrset>) {
    let zone = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    let chain = zone.nsec_chain(&owners(&[
        ("example.", "SOA NS DNSKEY"),
        ("a.example.", "A"),
        ("b.c.example.", "A"),
        ("*.w.example.", "A TXT"),
        ("sub.example.", "NS"),
        ("sec.example.", "NS DS"),
        ("z.example.", "MX"),
    ]));
    (zone, chain)
}

fn denial_of(zone: &TestZone, sets: &[SignedRrset]) -> (Validation, Denial) {
    let mut v = Validation::traced(NOW);
    let d = v.denial(&zone.keys(), sets).expect("denial verifies");
    (v, d)
}

fn ede(s: &Security) -> Option<Ede> {
    s.ede()
}

#[test]
fn nxdomain_needs_the_name_and_the_wildcard_denied() {
    let (zone, chain) = signed();
    let q = name("nx.example.");
    // b.c→sec covers nx; example.→a covers *.example.
    let (mut v, d) = denial_of(&zone, &pick(&chain, &["b.c.example.", "example."]));
    assert_eq!(v.nxdomain(&d, &q), Security::Secure);
    assert!(
        v.trace
            .lines()
            .iter()
            .any(|l| l.check == Check::Nsec && l.outcome == "proven")
    );
    assert_eq!(d.ttl(), 300);

    let (mut v, d) = denial_of(&zone, &pick(&chain, &["b.c.example."]));
    assert_eq!(ede(&v.nxdomain(&d, &q)), Some(Ede::NsecMissing));
    let (mut v, d) = denial_of(&zone, &pick(&chain, &["example."]));
    assert_eq!(ede(&v.nxdomain(&d, &q)), Some(Ede::NsecMissing));
    // a name that exists, or an empty non-terminal, is no NXDOMAIN
    let (mut v, d) = denial_of(&zone, &chain);
    assert!(matches!(
        v.nxdomain(&d, &name("a.example.")),
        Security::Bogus(_)
    ));
    assert!(matches!(
        v.nxdomain(&d, &name("c.example.")),
        Security::Bogus(_)
    ));
}

#[test]
fn a_wildcard_that_exists_defeats_nxdomain() {
    let (zone, chain) = signed();
    let (mut v, d) = denial_of(&zone, &chain);
    // x.w.example. does not exist, but *.w.example. would have answered it
    let s = v.nxdomain(&d, &name("x.w.example."));
    assert!(
        matches!(&s, Security::Bogus(r) if r.step.contains("*.w.example. exists")),
        "{s:?}"
    );
}

#[test]
fn nodata_at_a_name_an_empty_non_terminal_and_a_wildcard() {
    let (zone, chain) = signed();
    let (mut v, d) = denial_of(&zone, &pick(&chain, &["a.example."]));
    assert_eq!(
        v.nodata(&d, &name("a.example."), RecordType::TXT),
        Security::Secure
    );
    assert!(
        matches!(v.nodata(&d, &name("a.example."), RecordType::A), Security::Bogus(r) if r.ede == Ede::Bogus)
    );

    // c.example. is an empty non-terminal: a.example. → b.c.example.
    assert_eq!(
        v.nodata(&d, &name("c.example."), RecordType::A),
        Security::Secure
    );

    // x.w.example. MX: no such name, and *.w.example. has no MX
    let (mut v, d) = denial_of(&zone, &pick(&chain, &["*.w.example."]));
    assert_eq!(
        v.nodata(&d, &name("x.w.example."), RecordType::MX),
        Security::Secure
    );
    assert!(matches!(
        v.nodata(&d, &name("x.w.example."), RecordType::TXT),
        Security::Bogus(_)
    ));
    // without the NSEC that matches, nothing is proven
    let (mut v, d) = denial_of(&zone, &pick(&chain, &["z.example."]));
    assert_eq!(
        ede(&v.nodata(&d, &name("a.example."), RecordType::TXT)),
        Some(Ede::NsecMissing)
    );
}

#[test]
fn a_wildcard_answer_needs_the_qname_denied_under_the_right_encloser() {
    let (zone, chain) = signed();
    let (mut v, d) = denial_of(&zone, &pick(&chain, &["*.w.example."]));
    let q = name("x.w.example.");
    assert_eq!(
        v.wildcard_answer(&d, &q, &name("w.example.")),
        Security::Secure
    );
    // the RRSIG claimed a shorter encloser than the NSEC shows
    assert_eq!(
        ede(&v.wildcard_answer(&d, &q, &name("example."))),
        Some(Ede::NsecMissing)
    );
    // no NSEC covering the qname at all
    let (mut v, d) = denial_of(&zone, &pick(&chain, &["a.example."]));
    assert_eq!(
        ede(&v.wildcard_answer(&d, &q, &name("w.example."))),
        Some(Ede::NsecMissing)
    );
}

#[test]
fn delegations_ds_and_names_below_a_cut() {
    let (zone, chain) = signed();
    let (mut v, d) = denial_of(&zone, &chain);
    // an unsigned delegation: insecure; DS NODATA there is proven
    assert_eq!(v.no_ds(&d, &name("sub.example.")), Security::Insecure);
    assert_eq!(
        v.nodata(&d, &name("sub.example."), RecordType::DS),
        Security::Secure
    );
    // other types at the child apex, and names below the cut, are the unsigned child's:
    // the parent's NSEC cannot deny them (RFC 6840 §4.1), it shows they are insecure
    assert_eq!(
        v.nodata(&d, &name("sub.example."), RecordType::A),
        Security::Insecure
    );
    assert_eq!(v.nxdomain(&d, &name("x.sub.example.")), Security::Insecure);
    assert_eq!(
        v.nodata(&d, &name("x.sub.example."), RecordType::A),
        Security::Insecure
    );
    // at a signed cut, a NODATA for another type is a missing referral
    assert!(matches!(
        v.nodata(&d, &name("sec.example."), RecordType::A),
        Security::Bogus(_)
    ));
    // and with only the NSEC before the cut, nothing below it is proven
    let (mut v2, d2) = denial_of(&zone, &pick(&chain, &["sec.example."]));
    assert_eq!(
        ede(&v2.nxdomain(&d2, &name("x.sub.example."))),
        Some(Ede::NsecMissing)
    );
    // and a name below it is insecure for DS too
    assert_eq!(v.no_ds(&d, &name("x.sub.example.")), Security::Insecure);
    // a signed delegation has its DS
    assert!(
        matches!(v.no_ds(&d, &name("sec.example.")), Security::Bogus(r) if r.step.contains("lists DS"))
    );
    // no cut at all at a.example. (and none at an empty non-terminal, or an absent name)
    assert_eq!(v.no_ds(&d, &name("a.example.")), Security::Secure);
    assert_eq!(v.no_ds(&d, &name("c.example.")), Security::Secure);
    assert_eq!(v.no_ds(&d, &name("nx.example.")), Security::Secure);
    // the apex NSEC cannot deny the zone's own DS
    assert!(matches!(v.no_ds(&d, &name("example.")), Security::Bogus(_)));
    let (mut v, d) = denial_of(&zone, &pick(&chain, &["a.example."]));
    assert_eq!(
        ede(&v.no_ds(&d, &name("sub.example."))),
        Some(Ede::NsecMissing)
    );
}

#[test]
fn aggressive_use_proves_only_absent_names() {
    let (zone, chain) = signed();
    let (mut v, d) = denial_of(&zone, &chain);
    assert!(v.proves_nonexistent(&d, &name("nx.example.")));
    assert!(v.proves_nonexistent(&d, &name("deep.nx.example.")));
    assert!(!v.proves_nonexistent(&d, &name("a.example.")));
    assert!(!v.proves_nonexistent(&d, &name("c.example.")));
    assert!(!v.proves_nonexistent(&d, &name("x.w.example.")));
    assert!(!v.proves_nonexistent(&d, &name("x.sub.example.")));
    assert!(!v.proves_nonexistent(&d, &name("www.other.")));
    let lines = v.trace.lines().len();
    assert!(v.proves_nonexistent(&d, &name("nx.example.")));
    assert_eq!(
        v.trace.lines().len(),
        lines,
        "the cache's check leaves no trace"
    );
}

#[test]
fn a_denial_must_verify_and_belong_to_the_zone() {
    let (zone, chain) = signed();
    let mut forged = pick(&chain, &["a.example."]);
    forged[0].rrsigs.clear();
    let err = Validation::new(NOW)
        .denial(&zone.keys(), &forged)
        .unwrap_err();
    assert_eq!(err.ede, Ede::RrsigsMissing);

    let other = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    let err = Validation::new(NOW)
        .denial(&other.keys(), &chain)
        .unwrap_err();
    assert_eq!(err.ede, Ede::DnskeyMissing);

    // other types among the sets are skipped, and a qname outside the zone is refused
    let mut sets = pick(&chain, &["a.example."]);
    sets.push(zone.sign("a.example. 300 IN TXT \"x\""));
    let (mut v, d) = denial_of(&zone, &sets);
    assert!(!d.is_empty());
    assert!(matches!(
        v.nxdomain(&d, &name("www.other.")),
        Security::Bogus(_)
    ));
    let (mut v, empty) = denial_of(&zone, &[]);
    assert!(empty.is_empty());
    assert_eq!(
        ede(&v.nxdomain(&empty, &name("nx.example."))),
        Some(Ede::NsecMissing)
    );
}

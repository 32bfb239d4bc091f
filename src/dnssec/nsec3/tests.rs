//! NSEC3 proofs end to end, through `Validation`: the zone of `denial/tests.rs` with an NSEC3
//! chain, plain and opt-out.

use hickory_proto::dnssec::Algorithm;
use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{RData, Record};

use super::*;
use crate::dnssec::denial::Denial;
use crate::dnssec::sign::Nsec3Params;
use crate::dnssec::testing::{NOW, TestZone, name, owners, pick3};
use crate::dnssec::{Ede, Security, SignedRrset, Validation};

fn params(opt_out: bool, iterations: u16) -> Nsec3Params {
    Nsec3Params {
        salt: vec![0xab, 0xcd],
        iterations,
        opt_out,
    }
}

fn signed(p: &Nsec3Params) -> (TestZone, Vec<SignedRrset>) {
    let zone = TestZone::new("example.", Algorithm::ED25519);
    let chain = zone.nsec3_chain(
        &owners(&[
            ("example.", "SOA NS DNSKEY NSEC3PARAM"),
            ("a.example.", "A"),
            ("b.c.example.", "A"),
            ("*.w.example.", "A TXT"),
            ("sub.example.", "NS"),
            ("sec.example.", "NS DS"),
        ]),
        p,
    );
    (zone, chain)
}

/// The denial made of the NSEC3s of `chain` that match or cover `names`.
fn denial(
    zone: &TestZone,
    chain: &[SignedRrset],
    p: &Nsec3Params,
    names: &[&str],
) -> (Validation, Denial) {
    let mut v = Validation::traced(NOW);
    let d = v
        .denial(&zone.keys(), &pick3(chain, p, names))
        .expect("verifies");
    (v, d)
}

fn is_bogus(s: &Security, ede: Ede) -> bool {
    matches!(s, Security::Bogus(r) if r.ede == ede)
}

#[test]
fn nxdomain_is_a_closest_encloser_proof_and_a_wildcard_denial() {
    let p = params(false, 0);
    let (zone, chain) = signed(&p);
    let q = name("nx.example.");
    let (mut v, d) = denial(
        &zone,
        &chain,
        &p,
        &["example.", "nx.example.", "*.example."],
    );
    assert_eq!(v.nxdomain(&d, &q), Security::Secure);
    // three names hashed once each, however many records were tried
    assert_eq!(v.budget.hashes(), 3);

    let (mut v, d) = denial(&zone, &chain, &p, &["example.", "nx.example."]);
    assert!(is_bogus(&v.nxdomain(&d, &q), Ede::NsecMissing));
    let (mut v, d) = denial(&zone, &chain, &p, &["nx.example.", "*.example."]);
    assert!(is_bogus(&v.nxdomain(&d, &q), Ede::NsecMissing));
    // an existing name is no NXDOMAIN
    let (mut v, d) = denial(&zone, &chain, &p, &["a.example."]);
    assert!(is_bogus(&v.nxdomain(&d, &name("a.example.")), Ede::Bogus));
}

#[test]
fn nodata_matching_empty_non_terminal_and_wildcard() {
    let p = params(false, 0);
    let (zone, chain) = signed(&p);
    let (mut v, d) = denial(&zone, &chain, &p, &["a.example.", "c.example."]);
    assert_eq!(
        v.nodata(&d, &name("a.example."), RecordType::TXT),
        Security::Secure
    );
    assert!(is_bogus(
        &v.nodata(&d, &name("a.example."), RecordType::A),
        Ede::Bogus
    ));
    assert_eq!(
        v.nodata(&d, &name("c.example."), RecordType::A),
        Security::Secure
    );

    // x.w.example. MX: w.example. (an empty non-terminal) is the closest encloser, x.w is
    // covered, *.w.example. matches without MX
    let names = ["w.example.", "x.w.example.", "*.w.example."];
    let (mut v, d) = denial(&zone, &chain, &p, &names);
    assert_eq!(
        v.nodata(&d, &name("x.w.example."), RecordType::MX),
        Security::Secure
    );
    assert!(is_bogus(
        &v.nodata(&d, &name("x.w.example."), RecordType::TXT),
        Ede::Bogus
    ));
    let (mut v, d) = denial(&zone, &chain, &p, &names[..2]);
    assert!(is_bogus(
        &v.nodata(&d, &name("x.w.example."), RecordType::MX),
        Ede::NsecMissing
    ));
}

#[test]
fn a_wildcard_answer_needs_the_next_closer_covered() {
    let p = params(false, 0);
    let (zone, chain) = signed(&p);
    let (mut v, d) = denial(&zone, &chain, &p, &["x.w.example."]);
    assert_eq!(
        v.wildcard_answer(&d, &name("y.x.w.example."), &name("w.example.")),
        Security::Secure
    );
    let (mut v, d) = denial(&zone, &chain, &p, &["a.example."]);
    assert!(is_bogus(
        &v.wildcard_answer(&d, &name("x.w.example."), &name("w.example.")),
        Ede::NsecMissing
    ));
    assert!(is_bogus(
        &v.wildcard_answer(&d, &name("x.w.example."), &name("x.w.example.")),
        Ede::Bogus
    ));
}

#[test]
fn delegations_with_and_without_opt_out() {
    let p = params(false, 0);
    let (zone, chain) = signed(&p);
    let (mut v, d) = denial(
        &zone,
        &chain,
        &p,
        &["sub.example.", "sec.example.", "a.example."],
    );
    assert_eq!(v.no_ds(&d, &name("sub.example.")), Security::Insecure);
    assert_eq!(
        v.nodata(&d, &name("sub.example."), RecordType::DS),
        Security::Secure
    );
    assert!(is_bogus(&v.no_ds(&d, &name("sec.example.")), Ede::Bogus));
    assert_eq!(v.no_ds(&d, &name("a.example.")), Security::Secure);

    // opt-out: sub.example. has no NSEC3; the span over it makes its absence of DS insecure,
    // and so any NXDOMAIN it covers
    let p = params(true, 0);
    let (zone, chain) = signed(&p);
    let (mut v, d) = denial(&zone, &chain, &p, &["example.", "sub.example."]);
    assert_eq!(v.no_ds(&d, &name("sub.example.")), Security::Insecure);
    assert!(
        v.trace
            .lines()
            .iter()
            .any(|l| l.outcome.contains("opt-out"))
    );
    let (mut v, d) = denial(
        &zone,
        &chain,
        &p,
        &["example.", "nx.example.", "*.example."],
    );
    assert_eq!(v.nxdomain(&d, &name("nx.example.")), Security::Insecure);
    assert!(!v.proves_nonexistent(&d, &name("nx.example.")));
    // a span that is not opt-out proves nothing about a missing delegation
    let p = params(false, 0);
    let (zone, chain) = signed(&p);
    let (mut v, d) = denial(&zone, &chain, &p, &["example.", "nx.example."]);
    assert!(is_bogus(
        &v.no_ds(&d, &name("nx.example.")),
        Ede::NsecMissing
    ));
}

#[test]
fn too_many_iterations_are_insecure_before_any_hashing() {
    let p = params(false, MAX_ITERATIONS + 1);
    let (zone, chain) = signed(&p);
    let mut v = Validation::traced(NOW);
    let d = v.denial(&zone.keys(), &chain).unwrap();
    assert_eq!(v.nxdomain(&d, &name("nx.example.")), Security::Insecure);
    assert_eq!(v.budget.hashes(), 0);
    assert!(v.trace.lines().iter().any(|l| l.outcome.contains("EDE 27")));
    // 150 is still hashed
    let p = params(false, MAX_ITERATIONS);
    let (zone, chain) = signed(&p);
    let (mut v, d) = denial(
        &zone,
        &chain,
        &p,
        &["example.", "nx.example.", "*.example."],
    );
    assert_eq!(v.nxdomain(&d, &name("nx.example.")), Security::Secure);
}

#[test]
fn a_deep_query_name_runs_into_the_hash_budget() {
    let p = params(false, 0);
    let (zone, chain) = signed(&p);
    let mut v = Validation::new(NOW);
    let d = v.denial(&zone.keys(), &chain).unwrap();
    let deep = format!("{}example.", "x.".repeat(100));
    let s = v.nxdomain(&d, &name(&deep));
    assert!(
        matches!(&s, Security::Bogus(r) if r.step.contains("more than 64 NSEC3 hashes")),
        "{s:?}"
    );
    assert_eq!(v.budget.hashes(), 64);
    // within the budget, the same proof for a name 20 labels deep holds
    let mut v = Validation::new(NOW);
    let d = v.denial(&zone.keys(), &chain).unwrap();
    let deep = format!("{}nx.example.", "x.".repeat(20));
    assert_eq!(v.nxdomain(&d, &name(&deep)), Security::Secure);
}

#[test]
fn only_unknown_hash_algorithms_are_insecure() {
    let zone = TestZone::new("example.", Algorithm::ED25519);
    // hash algorithm 2, flags 0, 0 iterations, no salt, a 20-octet next hash, no types
    let mut rdata = vec![2, 0, 0, 0, 0, 20];
    rdata.extend([0x11; 20]);
    let owner = name("0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example.");
    let rr = Record::from_rdata(
        owner,
        300,
        RData::Unknown {
            code: RecordType::NSEC3,
            rdata: NULL::with(rdata),
        },
    );
    let set = zone.sign_records(vec![rr]);
    let mut v = Validation::new(NOW);
    let d = v.denial(&zone.keys(), &[set]).unwrap();
    assert_eq!(v.nxdomain(&d, &name("nx.example.")), Security::Insecure);
}

#[test]
fn a_span_covers_by_hash_order_and_wraps_at_the_end() {
    let rr = |own: u8, next: u8| Nsec3Rr {
        owner: name("x.example."),
        zone: name("example."),
        hash: vec![own; 20],
        nsec3: NSEC3::new(
            Nsec3HashAlgorithm::SHA1,
            false,
            0,
            vec![],
            vec![next; 20],
            [],
        ),
    };
    assert!(rr(2, 8).covers(&[5; 20]));
    assert!(!rr(2, 8).covers(&[2; 20]));
    assert!(!rr(2, 8).covers(&[8; 20]));
    assert!(rr(8, 2).covers(&[9; 20]));
    assert!(rr(8, 2).covers(&[1; 20]));
    assert!(!rr(8, 2).covers(&[5; 20]));
    assert!(rr(4, 4).covers(&[1; 20]));
    assert!(!rr(4, 4).covers(&[4; 20]));
}

//! What upstream replies mean: bailiwick, referrals, answers with and without AA, lameness.

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, NS, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::cache::Rank;
use crate::resolver::classify::{Outcome, classify};

fn n(s: &str) -> Name {
    Name::from_ascii(s).expect("name")
}

fn reply(aa: bool) -> Message {
    let mut m = Message::new(1, MessageType::Response, OpCode::Query);
    m.metadata.authoritative = aa;
    m
}

fn a(name: &str) -> Record {
    Record::from_rdata(n(name), 60, RData::A(A::new(127, 0, 0, 9)))
}

fn ns(owner: &str, target: &str) -> Record {
    Record::from_rdata(n(owner), 60, RData::NS(NS(n(target))))
}

fn cname(owner: &str, target: &str) -> Record {
    Record::from_rdata(n(owner), 60, RData::CNAME(CNAME(n(target))))
}

fn soa() -> Record {
    Record::from_rdata(
        n("alpha.test."),
        60,
        RData::SOA(SOA::new(
            n("ns1.alpha.test."),
            n("h.alpha.test."),
            1,
            2,
            3,
            4,
            60,
        )),
    )
}

fn outcome(m: &Message, zone: &str, qname: &str, qtype: RecordType) -> Outcome {
    classify(m, &n(zone), &n(qname), qtype).outcome
}

#[test]
fn out_of_bailiwick_glue_is_dropped() {
    let mut m = reply(false);
    m.add_authority(ns("alpha.test.", "ns1.alpha.test."));
    m.add_additional(a("ns1.alpha.test."));
    m.add_additional(a("www.victim.example."));
    let c = classify(&m, &n("test."), &n("www.alpha.test."), RecordType::A);
    match c.outcome {
        Outcome::Referral { cut, glue, .. } => {
            assert_eq!(cut, n("alpha.test."));
            assert_eq!(glue, vec![a("ns1.alpha.test.")]);
        }
        other => panic!("expected referral, got {other:?}"),
    }
    let ranks: Vec<(String, Rank)> = c
        .learned
        .iter()
        .map(|l| (l.key.name().to_string(), l.rank))
        .collect();
    assert_eq!(
        ranks,
        [
            ("alpha.test.".to_string(), Rank::Referral),
            ("ns1.alpha.test.".to_string(), Rank::Glue)
        ]
    );
}

#[test]
fn upward_referral_is_lame() {
    let mut m = reply(false);
    m.add_authority(ns(".", "a.root-servers."));
    assert!(matches!(
        outcome(&m, "test.", "www.alpha.test.", RecordType::A),
        Outcome::Lame(_)
    ));
}

#[test]
fn out_of_bailiwick_answer_is_ignored() {
    let mut m = reply(true);
    m.add_answer(a("www.other.example."));
    assert!(matches!(
        outcome(&m, "alpha.test.", "www.alpha.test.", RecordType::A),
        Outcome::NoData { .. }
    ));
}

#[test]
fn answers_without_aa_are_used_at_a_lower_rank() {
    for ra in [false, true] {
        let mut m = reply(false);
        m.metadata.recursion_available = ra;
        m.add_answer(a("www.alpha.test."));
        let c = classify(&m, &n("alpha.test."), &n("www.alpha.test."), RecordType::A);
        assert_eq!(c.outcome, Outcome::Answer(vec![a("www.alpha.test.")]));
        assert!(!c.authoritative);
        assert_eq!(c.learned[0].rank, Rank::NonAuthoritative);
    }
    let mut m = reply(true);
    m.add_answer(a("www.alpha.test."));
    let c = classify(&m, &n("alpha.test."), &n("www.alpha.test."), RecordType::A);
    assert_eq!(c.learned[0].rank, Rank::Authoritative);
}

#[test]
fn cname_without_aa_is_followed() {
    let mut m = reply(false);
    m.add_answer(cname("www.alpha.test.", "web.alpha.test."));
    m.add_answer(a("web.alpha.test."));
    let c = classify(&m, &n("alpha.test."), &n("www.alpha.test."), RecordType::A);
    assert!(matches!(&c.outcome, Outcome::Cname { target, .. } if *target == n("web.alpha.test.")));
    assert_eq!(c.learned.len(), 2, "the alias and the in-zone target");
    assert!(c.learned.iter().all(|l| l.rank == Rank::NonAuthoritative));
}

#[test]
fn negative_answers_from_a_recursive_cache_are_lame() {
    let mut m = reply(false);
    m.metadata.recursion_available = true;
    m.metadata.response_code = ResponseCode::NXDomain;
    m.add_authority(soa());
    assert!(matches!(
        outcome(&m, "alpha.test.", "x.alpha.test.", RecordType::A),
        Outcome::Lame(_)
    ));
    m.metadata.response_code = ResponseCode::NoError;
    assert!(matches!(
        outcome(&m, "alpha.test.", "www.alpha.test.", RecordType::MX),
        Outcome::Lame(_)
    ));
    // Without RA it is an authority that forgot AA: usable, ranked lower.
    m.metadata.recursion_available = false;
    let c = classify(&m, &n("alpha.test."), &n("www.alpha.test."), RecordType::MX);
    assert!(matches!(c.outcome, Outcome::NoData { .. }));
    assert_eq!(c.learned[0].rank, Rank::NonAuthoritative);
    m.metadata.authoritative = true;
    m.metadata.recursion_available = true;
    m.metadata.response_code = ResponseCode::NXDomain;
    assert!(matches!(
        outcome(&m, "alpha.test.", "x.alpha.test.", RecordType::A),
        Outcome::NxDomain { .. }
    ));
}

#[test]
fn nodata_with_the_zones_own_ns_set_is_not_a_referral() {
    let mut m = reply(true);
    m.add_authority(ns("alpha.test.", "ns1.alpha.test."));
    assert_eq!(
        outcome(&m, "alpha.test.", "www.alpha.test.", RecordType::MX),
        Outcome::NoData { soa: None }
    );
    m.metadata.authoritative = false;
    assert!(matches!(
        outcome(&m, "alpha.test.", "www.alpha.test.", RecordType::MX),
        Outcome::Failed(_)
    ));
}

#[test]
fn refused_and_servfail_are_lame() {
    let mut m = reply(false);
    m.metadata.response_code = ResponseCode::Refused;
    assert_eq!(
        outcome(&m, "test.", "x.test.", RecordType::A),
        Outcome::Lame("REFUSED")
    );
    m.metadata.response_code = ResponseCode::ServFail;
    assert_eq!(
        outcome(&m, "test.", "x.test.", RecordType::A),
        Outcome::Lame("SERVFAIL")
    );
}

#[test]
fn glue_beside_an_ns_answer_is_learned_as_glue() {
    let mut m = reply(true);
    m.add_answer(ns(".", "a.root-servers."));
    m.add_additional(a("a.root-servers."));
    let c = classify(&m, &Name::root(), &Name::root(), RecordType::NS);
    assert!(matches!(c.outcome, Outcome::Answer(_)));
    assert_eq!(c.learned.len(), 2);
    assert_eq!(c.learned[1].rank, Rank::Glue);
}

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

/// A reply with at most one A record in the answer and one NS record in the authority,
/// from the servers of `zone`, and the outcome it must come to.
struct Case {
    what: &'static str,
    aa: bool,
    rcode: ResponseCode,
    answer_a: Option<&'static str>,
    authority_ns: Option<(&'static str, &'static str)>,
    zone: &'static str,
    q: &'static str,
    want: fn(&Outcome) -> bool,
}

use ResponseCode::{NoError, Refused, ServFail};
#[rustfmt::skip]
const CASES: &[Case] = &[
    Case { what: "an upward referral is lame", aa: false, rcode: NoError, answer_a: None, authority_ns: Some((".", "a.root-servers.")), zone: "test.", q: "www.alpha.test. A", want: |o| matches!(o, Outcome::Lame(_)) },
    Case { what: "an out-of-bailiwick answer is ignored", aa: true, rcode: NoError, answer_a: Some("www.other.example."), authority_ns: None, zone: "alpha.test.", q: "www.alpha.test. A", want: |o| matches!(o, Outcome::NoData { .. }) },
    Case { what: "NODATA with the zone's own NS set is not a referral", aa: true, rcode: NoError, answer_a: None, authority_ns: Some(("alpha.test.", "ns1.alpha.test.")), zone: "alpha.test.", q: "www.alpha.test. MX", want: |o| *o == Outcome::NoData { soa: None } },
    Case { what: "the same without AA", aa: false, rcode: NoError, answer_a: None, authority_ns: Some(("alpha.test.", "ns1.alpha.test.")), zone: "alpha.test.", q: "www.alpha.test. MX", want: |o| matches!(o, Outcome::Failed(_)) },
    Case { what: "REFUSED is lame", aa: false, rcode: Refused, answer_a: None, authority_ns: None, zone: "test.", q: "x.test. A", want: |o| *o == Outcome::Lame("REFUSED") },
    Case { what: "SERVFAIL is lame", aa: false, rcode: ServFail, answer_a: None, authority_ns: None, zone: "test.", q: "x.test. A", want: |o| *o == Outcome::Lame("SERVFAIL") },
];

#[test]
fn single_replies_come_to_their_outcome() {
    for c in CASES {
        let mut m = reply(c.aa);
        m.metadata.response_code = c.rcode;
        m.answers.extend(c.answer_a.map(a));
        m.authorities
            .extend(c.authority_ns.map(|(owner, target)| ns(owner, target)));
        let (qname, qtype) = c.q.split_once(' ').expect("name TYPE");
        let got = outcome(&m, c.zone, qname, qtype.parse().expect("type"));
        assert!((c.want)(&got), "{}: got {got:?}", c.what);
    }
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
fn glue_beside_an_ns_answer_is_learned_as_glue() {
    let mut m = reply(true);
    m.add_answer(ns(".", "a.root-servers."));
    m.add_additional(a("a.root-servers."));
    let c = classify(&m, &Name::root(), &Name::root(), RecordType::NS);
    assert!(matches!(c.outcome, Outcome::Answer(_)));
    assert_eq!(c.learned.len(), 2);
    assert_eq!(c.learned[1].rank, Rank::Glue);
}

/// `settled_alone` vouches that a reply's authority and additional sections cannot change
/// its classification: checked against classifying with and without them, over replies of
/// each kind, and shown to refuse every reply where they do.
#[test]
fn a_verdict_settled_without_the_other_sections_is_the_verdict_with_them() {
    use crate::resolver::classify::settled_alone;
    let mut replies = Vec::new();
    for aa in [true, false] {
        let mut positive = reply(aa);
        positive.add_answer(a("www.alpha.test."));
        positive.add_authority(ns("alpha.test.", "ns1.alpha.test."));
        positive.add_additional(a("ns1.alpha.test."));
        replies.push(positive.clone());
        let mut elsewhere = positive.clone();
        elsewhere.answers = vec![a("other.alpha.test.")];
        replies.push(elsewhere);
        let mut alias = positive.clone();
        alias
            .answers
            .insert(0, cname("www.alpha.test.", "web.alpha.test."));
        replies.push(alias);
        let mut negative = reply(aa);
        negative.add_authority(soa());
        replies.push(negative.clone());
        negative.metadata.response_code = ResponseCode::NXDomain;
        replies.push(negative);
        let mut referral = reply(aa);
        referral.add_authority(ns("sub.alpha.test.", "ns1.sub.alpha.test."));
        referral.add_additional(a("ns1.sub.alpha.test."));
        replies.push(referral);
        let mut ns_answer = reply(aa);
        ns_answer.add_answer(ns("alpha.test.", "ns1.alpha.test."));
        ns_answer.add_additional(a("ns1.alpha.test."));
        replies.push(ns_answer);
    }
    let (mut alone, mut differ) = (0, 0);
    for m in &replies {
        let mut bare = m.clone();
        bare.authorities.clear();
        bare.additionals.clear();
        for (zone, qname) in [
            ("alpha.test.", "www.alpha.test."),
            ("alpha.test.", "alpha.test."),
            ("test.", "www.alpha.test."),
            ("beta.test.", "www.alpha.test."),
        ] {
            for qtype in [RecordType::A, RecordType::NS, RecordType::CNAME] {
                let (zone, qname) = (n(zone), n(qname));
                let full = classify(m, &zone, &qname, qtype);
                let without = classify(&bare, &zone, &qname, qtype);
                if settled_alone(&without, qtype) {
                    assert_eq!(full, without, "{qname} {qtype} in {zone}: {m}");
                    alone += 1;
                } else if full != without {
                    differ += 1;
                }
            }
        }
    }
    assert!(alone >= 4 && differ >= 4, "{alone} alone, {differ} differ");
}

/// A referral whose authority section also holds an NS set that does not lead to the name
/// (the parent zone's own, a sibling's): the cut is the one on the way down to qname, as
/// Unbound's scrubber keeps only that one, not whichever came first.
#[test]
fn a_referral_is_read_from_the_ns_set_that_leads_to_the_name() {
    for first in [
        ns("test.", "ns1.nic.test."),
        ns("beta.test.", "ns1.beta.test."),
    ] {
        let mut m = reply(false);
        m.add_authority(first.clone());
        m.add_authority(ns("alpha.test.", "ns1.alpha.test."));
        m.add_additional(a("ns1.alpha.test."));
        match outcome(&m, "test.", "www.alpha.test.", RecordType::A) {
            Outcome::Referral { cut, ns: set, glue } => {
                assert_eq!(cut, n("alpha.test."), "after {first}");
                assert_eq!(set, vec![ns("alpha.test.", "ns1.alpha.test.")]);
                assert_eq!(glue, vec![a("ns1.alpha.test.")]);
            }
            other => panic!("after {first}: expected a referral, got {other:?}"),
        }
    }
}

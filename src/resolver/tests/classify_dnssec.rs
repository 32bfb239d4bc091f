//! What classify keeps of a DO=1 reply's DNSSEC records, and with which piece of data: the
//! RRSIGs beside the RRset they cover (never inside it), the NSEC proof and the SOA's RRSIG
//! with a negative answer, the DS set or its proof with a referral; and that a resolution's
//! RRSIGs and proofs reach DO=1 clients only.

use hickory_proto::dnssec::Algorithm;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{Record, RecordType};

use crate::cache::{Data, Key};
use crate::dnssec::testing::{TestZone, name, owners, records};
use crate::resolver::classify::{Outcome, classify};
use crate::resolver::proof::covered;

fn reply(rcode: ResponseCode) -> Message {
    let mut m = Message::new(1, MessageType::Response, OpCode::Query);
    m.metadata.authoritative = true;
    m.metadata.response_code = rcode;
    m
}

fn all(sets: Vec<crate::dnssec::SignedRrset>) -> Vec<Record> {
    sets.into_iter()
        .flat_map(|s| s.records.into_iter().chain(s.rrsigs))
        .collect()
}

#[test]
fn rrsigs_travel_beside_the_rrset_they_cover() {
    let zone = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    let a = zone.sign("www.example. 300 IN A 192.0.2.1");
    let txt = zone.sign("www.example. 300 IN TXT \"x\"");
    let mut m = reply(ResponseCode::NoError);
    m.answers = all(vec![a.clone(), txt]);
    let c = classify(&m, &name("example."), &name("www.example."), RecordType::A);
    assert_eq!(
        c.outcome,
        Outcome::Answer(a.records.clone()),
        "no RRSIG in the data"
    );
    assert_eq!(c.signed, a.rrsigs, "only the RRSIG over A");
    assert_eq!(c.learned[0].data, Data::Positive(a.records));
    assert_eq!(c.learned[0].signed, a.rrsigs);
}

#[test]
fn a_negative_answer_keeps_its_proof_and_the_soas_rrsig() {
    let zone = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    let soa = zone.sign("example. 300 IN SOA ns.example. h.example. 1 2 3 4 300");
    let chain = zone.nsec_chain(&owners(&[("example.", "SOA NS"), ("www.example.", "A")]));
    let mut m = reply(ResponseCode::NXDomain);
    m.authorities = all(vec![soa.clone()]);
    m.authorities.extend(all(chain.clone()));
    let c = classify(&m, &name("example."), &name("nope.example."), RecordType::A);
    assert!(matches!(c.outcome, Outcome::NxDomain { soa: Some(_) }));
    let types: Vec<RecordType> = c.signed.iter().map(Record::record_type).collect();
    assert_eq!(types.iter().filter(|t| **t == RecordType::NSEC).count(), 2);
    assert!(c.signed.iter().any(|r| covered(r) == Some(RecordType::SOA)));
    assert!(
        !types.contains(&RecordType::SOA),
        "the SOA itself stays the data's"
    );
    assert_eq!(c.learned[0].key, Key::name_only(&name("nope.example.")));
    assert_eq!(c.learned[0].signed, c.signed);
}

#[test]
fn a_referral_teaches_the_ds_set_or_its_absence() {
    let parent = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    let child = TestZone::new("sub.example.", Algorithm::ECDSAP256SHA256);
    let ds = parent.sign_records(child.ds());
    let mut m = reply(ResponseCode::NoError);
    m.metadata.authoritative = false;
    m.authorities = records("sub.example. 300 IN NS ns.sub.example.");
    m.authorities.extend(all(vec![ds.clone()]));
    let c = classify(
        &m,
        &name("example."),
        &name("www.sub.example."),
        RecordType::A,
    );
    assert!(matches!(c.outcome, Outcome::Referral { .. }));
    let learned = c
        .learned
        .iter()
        .find(|l| l.key == Key::new(&name("sub.example."), RecordType::DS))
        .expect("DS learned");
    assert_eq!(learned.data, Data::Positive(ds.records));
    assert_eq!(learned.signed, ds.rrsigs);

    // An unsigned child: the NSEC at the cut (NS, no DS) is what the parent proves it with.
    let proof = parent.nsec_chain(&owners(&[("example.", "SOA NS"), ("sub.example.", "NS")]));
    m.authorities = records("sub.example. 300 IN NS ns.sub.example.");
    m.authorities.extend(all(proof));
    let c = classify(
        &m,
        &name("example."),
        &name("www.sub.example."),
        RecordType::A,
    );
    let learned = c
        .learned
        .iter()
        .find(|l| l.key == Key::new(&name("sub.example."), RecordType::DS))
        .expect("no-DS proof learned");
    assert_eq!(learned.data, Data::NoData { soa: None });
    assert!(
        learned
            .signed
            .iter()
            .any(|r| r.record_type() == RecordType::NSEC)
    );
}

#[test]
fn rrsigs_and_proofs_go_to_do_clients_only() {
    let zone = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    let a = zone.sign("www.example. 300 IN A 192.0.2.1");
    let res = crate::resolver::Resolution {
        rcode: ResponseCode::NoError,
        answers: a.records.clone(),
        authorities: Vec::new(),
        answer_sigs: a.rrsigs.clone(),
        proof: Vec::new(),
        security: crate::cache::Trust::Secure,
        stale: false,
        upstream_queries: 0,
        at: tokio::time::Instant::now(),
    };
    for dnssec_ok in [false, true] {
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        let mut opt = Edns::new();
        opt.set_dnssec_ok(dnssec_ok);
        m.set_edns(opt);
        res.clone().fill_sections(&mut m);
        let sigs = m
            .answers
            .iter()
            .filter(|r| r.record_type() == RecordType::RRSIG)
            .count();
        assert_eq!(sigs, usize::from(dnssec_ok), "DO={dnssec_ok}");
        assert_eq!(m.answers.len(), 1 + usize::from(dnssec_ok));
    }
}

#[test]
fn a_cname_keeps_the_wildcard_proof_and_the_dname_that_vouches_for_it() {
    let zone = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    // A CNAME expanded from *.wc.example.: the NSEC proving x.wc.example. absent goes with it.
    let cname = zone.sign("x.wc.example. 300 IN CNAME www.example.");
    let chain = zone.nsec_chain(&owners(&[
        ("example.", "SOA NS"),
        ("*.wc.example.", "CNAME"),
    ]));
    let mut m = reply(ResponseCode::NoError);
    m.answers = all(vec![cname.clone()]);
    m.authorities = all(chain);
    let c = classify(&m, &name("example."), &name("x.wc.example."), RecordType::A);
    assert!(matches!(c.outcome, Outcome::Cname { .. }));
    assert!(c.signed.iter().any(|r| r.record_type() == RecordType::NSEC));
    assert_eq!(c.learned[0].signed, c.signed);

    // A CNAME synthesized from a DNAME has no RRSIG; the DNAME and its RRSIG go with it.
    let dname = zone.sign_records(vec![Record::from_rdata(
        name("dn.example."),
        300,
        crate::rr::dname::rdata(&name("other.test.")),
    )]);
    let mut m = reply(ResponseCode::NoError);
    m.answers = all(vec![dname.clone()]);
    m.answers
        .extend(records("www.dn.example. 300 IN CNAME www.other.test."));
    let c = classify(
        &m,
        &name("example."),
        &name("www.dn.example."),
        RecordType::A,
    );
    let Outcome::Cname { records, .. } = &c.outcome else {
        panic!("{:?}", c.outcome);
    };
    assert_eq!(records[0], dname.records[0]);
    assert!(c.signed.contains(&dname.records[0]));
    assert!(c.signed.contains(&dname.rrsigs[0]));
    assert_eq!(c.learned[0].signed, c.signed);
}

/// A signed ANY answer keeps its RRSIGs among its data (`validate::any` groups them), and for
/// a wildcard's expansion the NSEC proof beside it, as any other type does: so the answer
/// section alone never settles it (`settled_alone`), the proof being in the authority section.
#[test]
fn a_signed_any_answer_keeps_the_proof_of_its_expansion() {
    use crate::resolver::classify::settled_alone;

    let zone = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
    let a = zone.sign("x.w.example. 300 IN A 192.0.2.1");
    let chain = zone.nsec_chain(&owners(&[("example.", "SOA NS"), ("*.w.example.", "A")]));
    let mut m = reply(ResponseCode::NoError);
    m.answers = all(vec![a.clone()]);
    m.authorities = all(chain);
    let qname = name("x.w.example.");
    let c = classify(&m, &name("example."), &qname, RecordType::ANY);
    let Outcome::Answer(data) = &c.outcome else {
        panic!("an answer: {c:?}");
    };
    assert_eq!(data.len(), 2, "the A and its RRSIG: {data:?}");
    let nsec =
        |r: &Record| r.record_type() == RecordType::NSEC || covered(r) == Some(RecordType::NSEC);
    assert!(!c.signed.is_empty() && c.signed.iter().all(nsec), "{c:?}");
    assert_eq!(c.learned[0].signed, c.signed);
    let mut alone = m.clone();
    alone.authorities.clear();
    let alone = classify(&alone, &name("example."), &qname, RecordType::ANY);
    assert!(!settled_alone(&alone, RecordType::ANY), "{alone:?}");
    // Unsigned, there is no proof to look for.
    m.answers = a.records;
    m.authorities.clear();
    let bare = classify(&m, &name("example."), &qname, RecordType::ANY);
    assert!(bare.signed.is_empty() && settled_alone(&bare, RecordType::ANY));
}

//! Answers kept and given again: ID, question case, TTLs, OPT, size limits and expiry.

use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{RData, Record, RecordType};

use super::*;
use crate::wire::parse;
use crate::wire::tests::{name, query, with_edns};

/// The answer kept for query `q` (read by `parse`), at `now`, for a server of `payload`.
fn ask(answers: &Messages<Option<u8>>, q: &[u8], payload: u16, now: Instant) -> Option<Vec<u8>> {
    answers.answer(q, &parse(q).expect("parsed"), payload, now)
}

/// The resolver's answer to `qname` A, as the handler would send it (question as asked).
fn response(qname: &str, ttl: u32, answers: usize) -> Message {
    let mut m = Message::new(0x1234, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.recursion_available = true;
    m.add_query(Query::query(name(qname), RecordType::A));
    for i in 0..answers {
        let a = A::new(192, 0, 2, u8::try_from(i % 250).expect("byte"));
        m.add_answer(Record::from_rdata(name(qname), ttl, RData::A(a)));
    }
    let soa = SOA::new(name("ns.test."), name("h.test."), 1, 2, 3, 4, 5);
    m.add_authority(Record::from_rdata(
        name("test."),
        ttl + 100,
        RData::SOA(soa),
    ));
    m
}

#[test]
fn a_kept_answer_is_given_again_with_the_querys_id_case_and_older_ttls() {
    let answers = Messages::<Option<u8>>::with_capacity(64);
    let t0 = Instant::now();
    answers.insert(
        &mut response("www.example.test.", 300, 2),
        t0,
        false,
        None,
        0,
    );

    let mut q = query("WWW.example.Test.", with_edns(1232, true));
    q[..2].copy_from_slice(&[0xAB, 0xCD]);
    let parsed = parse(&q).expect("parsed");
    // The key carries DO: a DO=1 query does not get the DO=0 answer.
    assert!(answers.answer(&q, &parsed, 1232, t0).is_none());

    let q = query("WWW.example.Test.", with_edns(1232, false));
    let parsed = parse(&q).expect("parsed");
    let later = t0 + Duration::from_secs(100);
    let bytes = answers.answer(&q, &parsed, 1400, later).expect("a hit");
    let m = Message::from_vec(&bytes).expect("parses");
    assert_eq!(m.metadata.id, 0x1234);
    assert_eq!(m.queries[0].name().to_ascii(), "WWW.example.Test.");
    let ttls: Vec<u32> = m
        .answers
        .iter()
        .chain(&m.authorities)
        .map(|r| r.ttl)
        .collect();
    assert_eq!(ttls, [200, 200, 300]);
    let edns = m.edns.expect("OPT, as the query had one");
    assert_eq!(edns.max_payload(), 1400);
    assert!(!edns.flags().dnssec_ok);
    assert!(m.metadata.recursion_available && m.metadata.recursion_desired);

    // Without EDNS, no OPT.
    let plain = query("www.example.test.", |_| {});
    let bytes = ask(&answers, &plain, 1232, later).expect("a hit");
    assert!(Message::from_vec(&bytes).expect("parses").edns.is_none());

    // The first TTL to run out ends the entry (300 s), and it is gone after.
    let gone = t0 + Duration::from_secs(300);
    assert!(ask(&answers, &plain, 1232, gone).is_none());
    assert!(ask(&answers, &plain, 1232, later).is_none());
}

#[test]
fn answers_too_big_for_the_client_take_the_full_path() {
    let answers = Messages::<Option<u8>>::with_capacity(64);
    let t0 = Instant::now();
    // 40 A records: about 650 bytes, more than 512.
    answers.insert(&mut response("big.test.", 60, 40), t0, false, None, 0);
    let plain = query("big.test.", |_| {});
    assert!(ask(&answers, &plain, 1232, t0).is_none());
    let edns = query("big.test.", with_edns(1232, false));
    assert!(ask(&answers, &edns, 1232, t0).is_some());
    // Our own payload caps the client's.
    assert!(ask(&answers, &edns, 512, t0).is_none());
}

#[test]
fn only_clean_answers_are_kept_and_clear_forgets_them() {
    let answers = Messages::<Option<u8>>::with_capacity(64);
    let t0 = Instant::now();
    let mut servfail = response("a.test.", 60, 1);
    servfail.metadata.response_code = ResponseCode::ServFail;
    let mut with_ede = response("b.test.", 60, 1);
    let mut e = Edns::new();
    e.options_mut()
        .insert(hickory_proto::rr::rdata::opt::EdnsOption::Unknown(
            15,
            vec![0, 3],
        ));
    with_ede.set_edns(e);
    let mut ttl_zero = response("c.test.", 0, 1);
    let mut nxdomain = response("d.test.", 60, 0);
    nxdomain.metadata.response_code = ResponseCode::NXDomain;
    for m in [&mut servfail, &mut with_ede, &mut ttl_zero, &mut nxdomain] {
        answers.insert(m, t0, false, None, 0);
    }
    let hit = |qname: &str| {
        let q = query(qname, |_| {});
        ask(&answers, &q, 1232, t0).is_some()
    };
    assert!(!hit("a.test."), "SERVFAIL is not kept");
    assert!(!hit("b.test."), "an answer with an EDE is not kept");
    assert!(!hit("c.test."), "TTL 0 is not kept");
    assert!(hit("d.test."), "NXDOMAIN is kept");
    let q = query("d.test.", |_| {});
    let m = Message::from_vec(&ask(&answers, &q, 1232, t0).expect("hit")).expect("parses");
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    answers.clear();
    assert!(!hit("d.test."));
}

#[test]
fn qtype_and_qclass_bytes_are_not_lowercased_into_another_type() {
    // QTYPE 65 (HTTPS) is the byte 'A'; lowercased it would be 97 and share a key with it.
    let answers = Messages::<Option<u8>>::with_capacity(64);
    let t0 = Instant::now();
    let mut kept = response("x.test.", 60, 1);
    kept.queries = vec![Query::query(name("x.test."), RecordType::Unknown(97))];
    answers.insert(&mut kept, t0, false, None, 0);
    let q = {
        let mut m = Message::new(1, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(name("x.test."), RecordType::HTTPS));
        m.to_vec().expect("encode")
    };
    assert!(ask(&answers, &q, 1232, t0).is_none());
}

#[test]
fn an_authoritative_answer_keeps_its_ttls_and_lives_until_cleared() {
    let answers = Messages::<Option<u8>>::with_capacity(64);
    let t0 = Instant::now();
    let mut local = response("www.example.test.", 300, 1);
    local.metadata.authoritative = true;
    local.metadata.recursion_desired = false;
    answers.insert(&mut local, t0, true, None, 0);
    // Asked with RD=1 a day later: the zone's TTLs, RD as asked, AA kept.
    let q = query("www.example.test.", |_| {});
    let day = t0 + Duration::from_secs(86_400);
    let bytes = ask(&answers, &q, 1232, day).expect("still kept");
    let m = Message::from_vec(&bytes).expect("parses");
    assert_eq!(m.answers[0].ttl, 300);
    assert!(m.metadata.authoritative && m.metadata.recursion_desired);
    let rd0 = query("www.example.test.", |m| {
        m.metadata.recursion_desired = false
    });
    let bytes = ask(&answers, &rd0, 1232, day).expect("kept");
    assert!(
        !Message::from_vec(&bytes)
            .expect("parses")
            .metadata
            .recursion_desired
    );
    answers.clear();
    assert!(ask(&answers, &q, 1232, t0).is_none());
}

#[test]
fn an_answer_worked_out_before_a_clear_is_not_kept_after_it() {
    let answers = Messages::<Option<u8>>::with_capacity(64);
    let t0 = Instant::now();
    let q = query("www.example.test.", |_| {});
    // Read before the answer was worked out; a reload clears the store meanwhile.
    let before = answers.generation();
    answers.clear();
    answers.insert(
        &mut response("www.example.test.", 300, 1),
        t0,
        true,
        None,
        before,
    );
    assert!(ask(&answers, &q, 1232, t0).is_none());
    // Worked out after the clear: kept.
    let after = answers.generation();
    answers.insert(
        &mut response("www.example.test.", 300, 1),
        t0,
        true,
        None,
        after,
    );
    assert!(ask(&answers, &q, 1232, t0).is_some());
}

#[test]
fn a_negative_answer_without_soa_is_not_served_past_its_lifetime() {
    // RFC 2308 §5 (Deckard iter_nottl): NODATA without an SOA has no TTL to be kept by; it
    // used to be kept for ever and served a day after the data changed.
    let answers = Messages::<Option<u8>>::with_capacity(64);
    let t0 = Instant::now();
    let mut nodata = response("empty.test.", 60, 0);
    nodata.authorities.clear();
    answers.insert(&mut nodata, t0, false, None, 0);
    // A CNAME to a name without the type, no SOA: NODATA at the end of a chain.
    let mut chain = response("alias.test.", 60, 0);
    chain.authorities.clear();
    chain.add_answer(Record::from_rdata(
        name("alias.test."),
        60,
        RData::CNAME(hickory_proto::rr::rdata::CNAME(name("empty.test."))),
    ));
    answers.insert(&mut chain, t0, false, None, 0);
    let day = t0 + Duration::from_secs(86_400);
    for qname in ["empty.test.", "alias.test."] {
        let q = query(qname, |_| {});
        let parsed = parse(&q).expect("parsed");
        assert!(answers.answer(&q, &parsed, 1232, day).is_none(), "{qname}");
        assert!(answers.answer(&q, &parsed, 1232, t0).is_none(), "{qname}");
    }
    // With its SOA (TTL 160), NODATA lives as long as the SOA, then goes.
    answers.insert(&mut response("soa.test.", 60, 0), t0, false, None, 0);
    let q = query("soa.test.", |_| {});
    let parsed = parse(&q).expect("parsed");
    assert!(answers.answer(&q, &parsed, 1232, t0).is_some());
    assert!(
        answers
            .answer(&q, &parsed, 1232, t0 + Duration::from_secs(159))
            .is_some()
    );
    assert!(
        answers
            .answer(&q, &parsed, 1232, t0 + Duration::from_secs(160))
            .is_none()
    );
}

//! The hit path's reader of queries, and answers kept and given again: ID, question case,
//! TTLs, OPT, size limits and expiry.

use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::{A, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::*;

fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("name")
}

fn query(qname: &str, edit: impl FnOnce(&mut Message)) -> Vec<u8> {
    let mut m = Message::new(0x1234, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name(qname), RecordType::A));
    edit(&mut m);
    m.to_vec().expect("encode")
}

fn with_edns(payload: u16, dnssec_ok: bool) -> impl FnOnce(&mut Message) {
    move |m| {
        let mut e = Edns::new();
        e.set_max_payload(payload);
        e.set_dnssec_ok(dnssec_ok);
        m.set_edns(e);
    }
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
fn only_plain_recursive_queries_are_read() {
    let ok = |bytes: &[u8]| parse(bytes).is_some();
    assert!(ok(&query("www.example.test.", |_| {})));
    assert!(ok(&query("www.example.test.", with_edns(1232, true))));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "a response",
            query("a.test.", |m| {
                m.metadata.message_type = MessageType::Response
            }),
        ),
        (
            "NOTIFY",
            query("a.test.", |m| m.metadata.op_code = OpCode::Notify),
        ),
        ("TC", query("a.test.", |m| m.metadata.truncation = true)),
        (
            "two questions",
            query("a.test.", |m| {
                m.add_query(Query::query(name("b.test."), RecordType::A));
            }),
        ),
        (
            "an answer",
            query("a.test.", |m| {
                m.add_answer(Record::from_rdata(
                    name("a.test."),
                    1,
                    RData::A(A::new(1, 2, 3, 4)),
                ));
            }),
        ),
        (
            "class CH",
            query("a.test.", |m| {
                let mut q = Query::query(name("a.test."), RecordType::TXT);
                q.set_query_class(hickory_proto::rr::DNSClass::CH);
                m.queries = vec![q];
            }),
        ),
        (
            "an additional record that is not OPT",
            query("a.test.", |m| {
                m.add_additional(Record::from_rdata(
                    name("a.test."),
                    1,
                    RData::TXT(TXT::new(vec!["x".into()])),
                ));
            }),
        ),
        (
            "EDNS version 1",
            query("a.test.", |m| {
                let mut e = Edns::new();
                e.set_version(1);
                m.set_edns(e);
            }),
        ),
    ];
    for (why, bytes) in cases {
        assert!(parse(&bytes).is_none(), "{why}");
    }
    // EDNS options: a whole COOKIE is read past; a cut one or another option is not.
    let with_option = |code: u16, data: Vec<u8>| {
        query("a.test.", move |m| {
            let mut e = Edns::new();
            e.options_mut()
                .insert(hickory_proto::rr::rdata::opt::EdnsOption::Unknown(
                    code, data,
                ));
            m.set_edns(e);
        })
    };
    assert!(ok(&with_option(10, vec![1; 8])), "a client cookie");
    assert!(
        !ok(&with_option(8, vec![0, 1, 24, 0, 192, 0, 2])),
        "client subnet"
    );
    let mut cut = with_option(10, vec![1; 8]);
    let len = cut.len();
    cut[len - 9] = 0x7a; // the option claims more bytes than the OPT holds
    assert!(!ok(&cut), "an option longer than its OPT");
    let mut trailing = query("a.test.", |_| {});
    trailing.push(0);
    assert!(parse(&trailing).is_none(), "trailing bytes");
    assert!(parse(&trailing[..11]).is_none(), "short header");
    // A question naming itself by pointer is not a query anyone sends.
    let mut pointer = query("a.test.", |_| {});
    pointer.truncate(12);
    pointer.extend_from_slice(&[0xC0, 0x0C, 0, 1, 0, 1]);
    assert!(parse(&pointer).is_none(), "compressed QNAME");

    let q = query("Www.Example.TEST.", with_edns(4096, true));
    let parsed = parse(&q).expect("parsed");
    assert_eq!(parsed.payload, Some(4096));
    assert!(parsed.dnssec_ok && !parsed.checking_disabled);
    assert_eq!(parsed.wire.len(), "Www.Example.TEST.".len() + 1 + 4);
}

#[test]
fn a_kept_answer_is_given_again_with_the_querys_id_case_and_older_ttls() {
    let answers = FastAnswers::with_capacity(64);
    let t0 = Instant::now();
    answers.keep(
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
    let bytes = answers
        .answer(&plain, &parse(&plain).expect("parsed"), 1232, later)
        .expect("a hit");
    assert!(Message::from_vec(&bytes).expect("parses").edns.is_none());

    // The first TTL to run out ends the entry (300 s), and it is gone after.
    let gone = t0 + Duration::from_secs(300);
    assert!(
        answers
            .answer(&plain, &parse(&plain).expect("parsed"), 1232, gone)
            .is_none()
    );
    assert!(
        answers
            .answer(&plain, &parse(&plain).expect("parsed"), 1232, later)
            .is_none()
    );
}

#[test]
fn answers_too_big_for_the_client_take_the_full_path() {
    let answers = FastAnswers::with_capacity(64);
    let t0 = Instant::now();
    // 40 A records: about 650 bytes, more than 512.
    answers.keep(&mut response("big.test.", 60, 40), t0, false, None, 0);
    let plain = query("big.test.", |_| {});
    assert!(
        answers
            .answer(&plain, &parse(&plain).expect("parsed"), 1232, t0)
            .is_none()
    );
    let edns = query("big.test.", with_edns(1232, false));
    assert!(
        answers
            .answer(&edns, &parse(&edns).expect("parsed"), 1232, t0)
            .is_some()
    );
    // Our own payload caps the client's.
    assert!(
        answers
            .answer(&edns, &parse(&edns).expect("parsed"), 512, t0)
            .is_none()
    );
}

#[test]
fn only_clean_answers_are_kept_and_clear_forgets_them() {
    let answers = FastAnswers::with_capacity(64);
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
        answers.keep(m, t0, false, None, 0);
    }
    let hit = |qname: &str| {
        let q = query(qname, |_| {});
        answers
            .answer(&q, &parse(&q).expect("parsed"), 1232, t0)
            .is_some()
    };
    assert!(!hit("a.test."), "SERVFAIL is not kept");
    assert!(!hit("b.test."), "an answer with an EDE is not kept");
    assert!(!hit("c.test."), "TTL 0 is not kept");
    assert!(hit("d.test."), "NXDOMAIN is kept");
    let q = query("d.test.", |_| {});
    let m = Message::from_vec(
        &answers
            .answer(&q, &parse(&q).expect("parsed"), 1232, t0)
            .expect("hit"),
    )
    .expect("parses");
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    answers.clear();
    assert!(!hit("d.test."));
}

#[test]
fn qtype_and_qclass_bytes_are_not_lowercased_into_another_type() {
    // QTYPE 65 (HTTPS) is the byte 'A'; lowercased it would be 97 and share a key with it.
    let answers = FastAnswers::with_capacity(64);
    let t0 = Instant::now();
    let mut kept = response("x.test.", 60, 1);
    kept.queries = vec![Query::query(name("x.test."), RecordType::Unknown(97))];
    answers.keep(&mut kept, t0, false, None, 0);
    let q = {
        let mut m = Message::new(1, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(name("x.test."), RecordType::HTTPS));
        m.to_vec().expect("encode")
    };
    assert!(
        answers
            .answer(&q, &parse(&q).expect("parsed"), 1232, t0)
            .is_none()
    );
}

#[test]
fn an_authoritative_answer_keeps_its_ttls_and_lives_until_cleared() {
    let answers = FastAnswers::with_capacity(64);
    let t0 = Instant::now();
    let mut local = response("www.example.test.", 300, 1);
    local.metadata.authoritative = true;
    local.metadata.recursion_desired = false;
    answers.keep(&mut local, t0, true, None, 0);
    // Asked with RD=1 a day later: the zone's TTLs, RD as asked, AA kept.
    let q = query("www.example.test.", |_| {});
    let day = t0 + Duration::from_secs(86_400);
    let bytes = answers
        .answer(&q, &parse(&q).expect("parsed"), 1232, day)
        .expect("still kept");
    let m = Message::from_vec(&bytes).expect("parses");
    assert_eq!(m.answers[0].ttl, 300);
    assert!(m.metadata.authoritative && m.metadata.recursion_desired);
    let rd0 = query("www.example.test.", |m| {
        m.metadata.recursion_desired = false
    });
    let bytes = answers
        .answer(&rd0, &parse(&rd0).expect("parsed"), 1232, day)
        .expect("kept");
    assert!(
        !Message::from_vec(&bytes)
            .expect("parses")
            .metadata
            .recursion_desired
    );
    answers.clear();
    assert!(
        answers
            .answer(&q, &parse(&q).expect("parsed"), 1232, t0)
            .is_none()
    );
}

#[test]
fn an_answer_worked_out_before_a_clear_is_not_kept_after_it() {
    let answers = FastAnswers::with_capacity(64);
    let t0 = Instant::now();
    let q = query("www.example.test.", |_| {});
    // Read before the answer was worked out; a reload clears the store meanwhile.
    let before = answers.generation();
    answers.clear();
    answers.keep(
        &mut response("www.example.test.", 300, 1),
        t0,
        true,
        None,
        before,
    );
    assert!(
        answers
            .answer(&q, &parse(&q).expect("parsed"), 1232, t0)
            .is_none()
    );
    // Worked out after the clear: kept.
    let after = answers.generation();
    answers.keep(
        &mut response("www.example.test.", 300, 1),
        t0,
        true,
        None,
        after,
    );
    assert!(
        answers
            .answer(&q, &parse(&q).expect("parsed"), 1232, t0)
            .is_some()
    );
}

#[test]
fn a_negative_answer_without_soa_is_not_served_past_its_lifetime() {
    // RFC 2308 §5 (Deckard iter_nottl): NODATA without an SOA has no TTL to be kept by; it
    // used to be kept for ever and served a day after the data changed.
    let answers = FastAnswers::with_capacity(64);
    let t0 = Instant::now();
    let mut nodata = response("empty.test.", 60, 0);
    nodata.authorities.clear();
    answers.keep(&mut nodata, t0, false, None, 0);
    // A CNAME to a name without the type, no SOA: NODATA at the end of a chain.
    let mut chain = response("alias.test.", 60, 0);
    chain.authorities.clear();
    chain.add_answer(Record::from_rdata(
        name("alias.test."),
        60,
        RData::CNAME(hickory_proto::rr::rdata::CNAME(name("empty.test."))),
    ));
    answers.keep(&mut chain, t0, false, None, 0);
    let day = t0 + Duration::from_secs(86_400);
    for qname in ["empty.test.", "alias.test."] {
        let q = query(qname, |_| {});
        let parsed = parse(&q).expect("parsed");
        assert!(answers.answer(&q, &parsed, 1232, day).is_none(), "{qname}");
        assert!(answers.answer(&q, &parsed, 1232, t0).is_none(), "{qname}");
    }
    // With its SOA (TTL 160), NODATA lives as long as the SOA, then goes.
    answers.keep(&mut response("soa.test.", 60, 0), t0, false, None, 0);
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

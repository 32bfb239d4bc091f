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

/// An empty tier and the time its answers are kept at.
fn tier() -> (Messages<Option<u8>>, Instant) {
    (Messages::with_capacity(64), Instant::now())
}

/// Keeps `m` at `t0` as a resolver's answer worked out in the tier's first generation.
fn keep(answers: &Messages<Option<u8>>, mut m: Message, t0: Instant) {
    answers.insert(&mut m, t0, false, None, 0);
}

/// Whether a plain query for `qname` (RD=1, no EDNS) is answered at `now`.
fn hit(answers: &Messages<Option<u8>>, qname: &str, now: Instant) -> bool {
    ask(answers, &query(qname, |_| {}), 1232, now).is_some()
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
    let (answers, t0) = tier();
    keep(&answers, response("www.example.test.", 300, 2), t0);

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
    let (answers, t0) = tier();
    // 40 A records: about 650 bytes, more than 512.
    keep(&answers, response("big.test.", 60, 40), t0);
    let plain = query("big.test.", |_| {});
    assert!(ask(&answers, &plain, 1232, t0).is_none());
    let edns = query("big.test.", with_edns(1232, false));
    assert!(ask(&answers, &edns, 1232, t0).is_some());
    // Our own payload caps the client's.
    assert!(ask(&answers, &edns, 512, t0).is_none());
}

#[test]
fn only_clean_answers_are_kept_and_clear_forgets_them() {
    let (answers, t0) = tier();
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
    let ttl_zero = response("c.test.", 0, 1);
    let mut nxdomain = response("d.test.", 60, 0);
    nxdomain.metadata.response_code = ResponseCode::NXDomain;
    for m in [servfail, with_ede, ttl_zero, nxdomain] {
        keep(&answers, m, t0);
    }
    for (qname, kept, why) in [
        ("a.test.", false, "SERVFAIL is not kept"),
        ("b.test.", false, "an answer with an EDE is not kept"),
        ("c.test.", false, "TTL 0 is not kept"),
        ("d.test.", true, "NXDOMAIN is kept"),
    ] {
        assert_eq!(hit(&answers, qname, t0), kept, "{why}");
    }
    let q = query("d.test.", |_| {});
    let m = Message::from_vec(&ask(&answers, &q, 1232, t0).expect("hit")).expect("parses");
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    answers.clear();
    assert!(!hit(&answers, "d.test.", t0));
}

#[test]
fn qtype_and_qclass_bytes_are_not_lowercased_into_another_type() {
    // QTYPE 65 (HTTPS) is the byte 'A'; lowercased it would be 97 and share a key with it.
    let (answers, t0) = tier();
    let mut kept = response("x.test.", 60, 1);
    kept.queries = vec![Query::query(name("x.test."), RecordType::Unknown(97))];
    keep(&answers, kept, t0);
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
    let (answers, t0) = tier();
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
    let (answers, t0) = tier();
    let q = query("www.example.test.", |_| {});
    // Read before the answer was worked out; a reload clears the store meanwhile.
    let before = answers.generation();
    answers.clear();
    // Worked out before the clear: not kept; after it: kept.
    for (generation, kept) in [(before, false), (answers.generation(), true)] {
        let mut m = response("www.example.test.", 300, 1);
        answers.insert(&mut m, t0, true, None, generation);
        assert_eq!(ask(&answers, &q, 1232, t0).is_some(), kept, "{generation}");
    }
}

#[test]
fn a_negative_answer_without_soa_is_not_served_past_its_lifetime() {
    // RFC 2308 §5 (Deckard iter_nottl): NODATA without an SOA has no TTL to be kept by; it
    // used to be kept for ever and served a day after the data changed.
    let (answers, t0) = tier();
    let mut nodata = response("empty.test.", 60, 0);
    nodata.authorities.clear();
    keep(&answers, nodata, t0);
    // A CNAME to a name without the type, no SOA: NODATA at the end of a chain.
    let mut chain = response("alias.test.", 60, 0);
    chain.authorities.clear();
    chain.add_answer(Record::from_rdata(
        name("alias.test."),
        60,
        RData::CNAME(hickory_proto::rr::rdata::CNAME(name("empty.test."))),
    ));
    keep(&answers, chain, t0);
    let day = t0 + Duration::from_secs(86_400);
    for qname in ["empty.test.", "alias.test."] {
        assert!(!hit(&answers, qname, day), "{qname}");
        assert!(!hit(&answers, qname, t0), "{qname}");
    }
    // With its SOA (TTL 160), NODATA lives as long as the SOA, then goes.
    keep(&answers, response("soa.test.", 60, 0), t0);
    for (secs, alive) in [(0, true), (159, true), (160, false)] {
        let at = t0 + Duration::from_secs(secs);
        assert_eq!(hit(&answers, "soa.test.", at), alive, "after {secs} s");
    }
}

#[test]
fn forget_removes_only_what_it_picks_and_refuses_answers_worked_out_before() {
    let (answers, t0) = tier();
    keep(&answers, response("a.test.", 60, 1), t0);
    keep(&answers, response("b.test.", 60, 1), t0);
    let before = answers.generation();
    let removed = answers.forget(|wire| {
        Message::from_vec(wire).expect("parses").queries[0]
            .name()
            .to_ascii()
            == "a.test."
    });
    assert_eq!(removed, 1);
    assert!(!hit(&answers, "a.test.", t0));
    assert!(hit(&answers, "b.test.", t0));
    answers.insert(&mut response("a.test.", 60, 1), t0, false, None, before);
    assert!(
        !hit(&answers, "a.test.", t0),
        "worked out from the flushed data"
    );
}

/// A resolver's answer to `qname` A that reaches it through `alias` CNAME `qname`.
fn chain(alias: &str, qname: &str) -> Message {
    let mut m = response(qname, 60, 1);
    m.queries = vec![Query::query(name(alias), RecordType::A)];
    let cname = RData::CNAME(hickory_proto::rr::rdata::CNAME(name(qname)));
    m.answers
        .insert(0, Record::from_rdata(name(alias), 60, cname));
    m
}

#[test]
fn a_flush_of_the_cache_reaches_the_answers_that_hold_the_name() {
    use crate::cache::admin::Flush;
    use crate::cache::{Cache, CachePolicy};
    let cache = Cache::new(CachePolicy::default());
    let t0 = Instant::now();
    let tier = cache.messages();
    let keep = |m: Message| tier.insert(&mut { m }, t0, false, None, tier.generation());
    keep(response("www.alpha.test.", 60, 1));
    keep(chain("alias.beta.test.", "www.alpha.test."));
    keep(response("other.beta.test.", 60, 1));
    keep(response("deep.in.gamma.test.", 60, 1));
    let hit = |q: &str| {
        let q = query(q, |_| {});
        tier.answer(&q, &parse(&q).expect("parsed"), 1232, t0)
            .is_some()
    };
    // A name: its own answer and the chain through it, whatever the case.
    cache.flush(Flush::Name(&name("WWW.Alpha.test.")));
    for (qname, kept) in [
        ("www.alpha.test.", false),
        ("alias.beta.test.", false),
        ("other.beta.test.", true),
        ("deep.in.gamma.test.", true),
    ] {
        assert_eq!(hit(qname), kept, "{qname}");
    }
    // A subtree: at or below it, by whole labels.
    cache.flush(Flush::Zone(&name("gamma.test.")));
    assert!(!hit("deep.in.gamma.test."));
    assert!(hit("other.beta.test."));
    cache.flush(Flush::All);
    assert!(!hit("other.beta.test."));
}

#[test]
fn the_handlers_options_go_into_our_opt_and_count_against_the_clients_limit() {
    let (answers, t0) = tier();
    let cookie = [0u8, 10, 0, 24]
        .into_iter()
        .chain(1..=24)
        .collect::<Vec<u8>>();
    // An answer that fits 512 bytes with our bare OPT, not with the COOKIE in it too.
    let n = (1..40)
        .find(|&n| {
            let len = response("www.example.test.", 300, n)
                .to_vec()
                .expect("encodes")
                .len();
            len + OPT_LEN <= 512 && len + OPT_LEN + cookie.len() > 512
        })
        .expect("some count of A records falls in the window");
    keep(&answers, response("www.example.test.", 300, n), t0);
    let small = query("www.example.test.", with_edns(512, false));
    let parsed = parse(&small).expect("parsed");
    let mut out = Vec::new();
    assert!(
        answers
            .answer_into(
                &small,
                &parsed,
                udp_limit(&parsed, 1232),
                1232,
                &[],
                t0,
                &mut out
            )
            .is_some()
    );
    assert!(
        answers
            .answer_into(
                &small,
                &parsed,
                udp_limit(&parsed, 1232),
                1232,
                &cookie,
                t0,
                &mut out
            )
            .is_none(),
        "too big with the cookie: the full path decides"
    );
    let big = query("www.example.test.", with_edns(1232, false));
    let parsed = parse(&big).expect("parsed");
    answers
        .answer_into(
            &big,
            &parsed,
            udp_limit(&parsed, 1232),
            1232,
            &cookie,
            t0,
            &mut out,
        )
        .expect("a hit");
    let m = Message::from_vec(&out).expect("parses");
    assert_eq!(m.answers.len(), n);
    let edns = m.edns.expect("OPT");
    let option = edns
        .options()
        .get(hickory_proto::rr::rdata::opt::EdnsCode::Cookie);
    assert_eq!(
        option,
        Some(&hickory_proto::rr::rdata::opt::EdnsOption::Unknown(
            10,
            (1..=24).collect()
        ))
    );
}

#[test]
fn a_stream_limit_answers_what_no_udp_limit_holds() {
    let (answers, t0) = tier();
    // 100 A records: some 1,600 bytes, past our 1232 and so past any UDP limit.
    keep(&answers, response("www.example.test.", 300, 100), t0);
    let q = query("www.example.test.", with_edns(4096, false));
    let parsed = parse(&q).expect("parsed");
    assert!(ask(&answers, &q, 1232, t0).is_none(), "too big for UDP");
    let mut out = Vec::new();
    let stream = usize::from(u16::MAX);
    answers
        .answer_into(&q, &parsed, stream, 1232, &[], t0, &mut out)
        .expect("a hit within 65,535 bytes");
    let m = Message::from_vec(&out).expect("parses");
    assert_eq!(m.answers.len(), 100);
    assert_eq!(m.edns.map(|e| e.max_payload()), Some(1232), "our payload");
    let just_short = out.len() - 1;
    assert!(
        answers
            .answer_into(&q, &parsed, just_short, 1232, &[], t0, &mut out)
            .is_none(),
        "the limit is the whole reply's, OPT included"
    );
}

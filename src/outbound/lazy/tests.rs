use hickory_proto::op::{MessageType, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::rdata::{A, AAAA, NS, SOA, TXT};
use hickory_proto::rr::{RData, Record};

use super::*;

static QNAME: std::sync::LazyLock<Name> = std::sync::LazyLock::new(|| n("u1.wild.alpha.test."));

/// What a reply to [`positive`]'s question must echo.
fn ours() -> Expected<'static> {
    Expected::answer(7, &QNAME, RecordType::A)
}

fn n(s: &str) -> Name {
    Name::from_ascii(s).expect("name")
}

fn rec(owner: &str, data: RData) -> Record {
    Record::from_rdata(n(owner), 300, data)
}

/// A reply to u1.wild.alpha.test. A as an authority gives it: the answer, the zone's NS set,
/// its servers' addresses, and OPT (with a cookie) when `edns`.
fn positive(edns: bool) -> Message {
    let mut m = Message::new(7, MessageType::Response, OpCode::Query);
    m.metadata.authoritative = true;
    m.add_query(Query::query(n("u1.wild.alpha.test."), RecordType::A));
    m.answers
        .push(rec("u1.wild.alpha.test.", RData::A(A::new(127, 0, 0, 101))));
    for i in 1..=2 {
        m.authorities.push(rec(
            "alpha.test.",
            RData::NS(NS(n(&format!("ns{i}.alpha.test.")))),
        ));
        m.additionals.push(rec(
            &format!("ns{i}.alpha.test."),
            RData::A(A::new(127, 0, 0, 40 + i)),
        ));
    }
    m.additionals.push(rec(
        "ns1.alpha.test.",
        RData::AAAA(AAAA::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
    ));
    if edns {
        let mut opt = Edns::new();
        opt.options_mut().insert(EdnsOption::Unknown(
            u16::from(EdnsCode::Cookie),
            vec![9; 24],
        ));
        m.set_edns(opt);
    }
    m
}

fn soa() -> RData {
    RData::SOA(SOA::new(
        n("ns1.alpha.test."),
        n("hostmaster.alpha.test."),
        1,
        3600,
        600,
        86400,
        300,
    ))
}

/// Read in part, then completed: what hickory's full parse reads.
fn completed(wire: &[u8]) -> Option<(Message, bool)> {
    let (mut m, rest) = read(wire, &ours())?;
    let partial = rest.is_some();
    if let Some(rest) = rest {
        assert!(m.authorities.is_empty() && m.additionals.is_empty());
        rest.complete(&mut m).expect("the rest decodes");
    }
    Some((m, partial))
}

#[test]
fn a_reply_read_in_part_and_completed_is_hickorys_parse() {
    let mut cases = vec![positive(true), positive(false)];
    // A referral, a negative answer, nothing but OPT, nothing at all.
    let mut referral = positive(true);
    referral.answers.clear();
    referral.metadata.authoritative = false;
    cases.push(referral);
    let mut nx = positive(true);
    nx.answers.clear();
    nx.authorities = vec![rec("alpha.test.", soa())];
    nx.additionals.clear();
    nx.metadata.response_code = ResponseCode::NXDomain;
    cases.push(nx);
    let mut bare = positive(true);
    bare.authorities.clear();
    bare.additionals.clear();
    cases.push(bare.clone());
    bare.edns = None;
    cases.push(bare);
    // BADCOOKIE: the RCODE's upper bits are in the OPT record.
    let mut bad = positive(true);
    bad.metadata.response_code = ResponseCode::BADCOOKIE;
    cases.push(bad);
    // OPT first in the additional section, a TXT beside the addresses.
    let mut first = positive(true);
    first
        .additionals
        .push(rec("alpha.test.", RData::TXT(TXT::new(vec!["x".into()]))));
    cases.push(first);
    for (i, m) in cases.iter().enumerate() {
        let wire = m.to_vec().expect("encodes");
        let hickory = Message::from_vec(&wire).expect("parses");
        let (ours, partial) = completed(&wire).expect("reads");
        assert_eq!(ours, hickory, "case {i}");
        let others = m.authorities.len() + m.additionals.len();
        assert_eq!(partial, others > 0, "case {i}");
    }
}

#[test]
fn the_cut_is_the_first_ns_owner_above_the_question_deep_enough() {
    let mut m = positive(true);
    m.authorities.insert(0, rec("alpha.test.", soa()));
    let ns = |owner: &str| rec(owner, RData::NS(NS(n("ns.elsewhere."))));
    m.authorities.push(ns("deep.alpha.test."));
    m.authorities.push(ns("WILD.alpha.test."));
    let wire = m.to_vec().expect("encodes");
    let (_, rest) = read(&wire, &ours()).expect("reads");
    let rest = rest.expect("a rest");
    let cut = |labels| rest.ns_cut(labels).map(|c| c.map(|w| w.to_vec()));
    assert_eq!(cut(0), Some(Some(b"\x05alpha\x04test\x00".to_vec())));
    assert_eq!(cut(2), cut(0));
    assert_eq!(
        cut(3),
        Some(Some(b"\x04wild\x05alpha\x04test\x00".to_vec()))
    );
    assert_eq!(cut(4), Some(None));
    // Without the question in the reply the wire cannot tell.
    m.queries.clear();
    let wire = m.to_vec().expect("encodes");
    let (_, rest) = read(&wire, &ours()).expect("a reply without a question is ours");
    assert_eq!(rest.expect("a rest").ns_cut(0), None);
}

#[test]
fn what_hickory_refuses_is_refused_and_bad_contents_are_found_on_completion() {
    let wire = positive(true).to_vec().expect("encodes");
    // Cut anywhere: hickory's verdict, whichever it is.
    for len in 12..wire.len() {
        let cut = &wire[..len];
        assert_eq!(
            read(cut, &ours()).map(|(m, _)| m.answers.len()).is_some() && completed(cut).is_some(),
            Message::from_vec(cut).is_ok(),
            "cut at {len}"
        );
    }
    // An OPT record in the authority section: refused, as hickory refuses it.
    let mut opt_in_authority = positive(false);
    opt_in_authority.authorities.push(Record::from_rdata(
        Name::root(),
        0,
        RData::OPT(Default::default()),
    ));
    let wire = opt_in_authority.to_vec().expect("encodes");
    assert!(Message::from_vec(&wire).is_err());
    assert!(read(&wire, &ours()).is_none());
    // An AAAA record of five octets (the last record) frames, so it is found only when the
    // rest is decoded.
    let mut wire = positive(false).to_vec().expect("encodes");
    let rdata = wire.len() - 16;
    wire[rdata - 2..rdata].copy_from_slice(&[0, 5]);
    wire.truncate(rdata + 5);
    assert!(Message::from_vec(&wire).is_err());
    let (mut m, rest) = read(&wire, &ours()).expect("frames");
    assert!(rest.expect("a rest").complete(&mut m).is_err());
}

#[test]
fn a_repeated_question_is_ours_and_anything_else_is_read() {
    let wire = positive(true).to_vec().expect("encodes");
    let hickory = Message::from_vec(&wire).expect("parses");
    let asked = n("U1.Wild.ALPHA.test.");
    let (mut m, rest) = read(&wire, &Expected::answer(7, &asked, RecordType::A)).expect("reads");
    assert_eq!(m.queries, vec![Query::query(asked.clone(), RecordType::A)]);
    rest.expect("a rest").complete(&mut m).expect("decodes");
    m.queries = hickory.queries.clone();
    assert_eq!(m, hickory, "the rest as hickory reads it");
    // Another type, another name, a name not fully qualified: not ours, as hickory's
    // parse and the match say.
    for (name, qtype) in [
        (asked.clone(), RecordType::AAAA),
        (n("u2.wild.alpha.test."), RecordType::A),
        (n("u1.wild.alpha.test"), RecordType::A),
    ] {
        let expected = Expected::answer(7, &name, qtype);
        assert!(!expected.matches(&hickory, true));
        assert!(read(&wire, &expected).is_none(), "{name} {qtype}");
    }
    // Another ID: not ours either.
    assert!(read(&wire, &Expected::answer(8, &asked, RecordType::A)).is_none());
}

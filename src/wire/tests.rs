//! The raw readers against messages hickory encodes: queries the hit path reads or leaves,
//! QTYPE and RCODE off the wire, TTL offsets, and the slipped reply.

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, NS, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::*;

/// Test helpers, shared with the message tier's tests (they read queries through `parse`).
pub(crate) fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("name")
}

pub(crate) fn query(qname: &str, edit: impl FnOnce(&mut Message)) -> Vec<u8> {
    let mut m = Message::new(0x1234, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name(qname), RecordType::A));
    edit(&mut m);
    m.to_vec().expect("encode")
}

pub(crate) fn with_edns(payload: u16, dnssec_ok: bool) -> impl FnOnce(&mut Message) {
    move |m| {
        let mut e = Edns::new();
        e.set_max_payload(payload);
        e.set_dnssec_ok(dnssec_ok);
        m.set_edns(e);
    }
}

/// An authoritative answer to `qname` A with an answer, an NS and a glue record.
fn answer(qname: &str) -> Message {
    let mut m = Message::new(7, MessageType::Response, OpCode::Query);
    m.metadata.authoritative = true;
    m.add_query(Query::query(name(qname), RecordType::A));
    let a = |owner: &str, ttl| Record::from_rdata(name(owner), ttl, RData::A(A::new(192, 0, 2, 1)));
    m.add_answer(a(qname, 300));
    m.add_authority(Record::from_rdata(
        name("example."),
        3600,
        RData::NS(NS(name("ns.example."))),
    ));
    m.add_additional(a("ns.example.", 60));
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
        ok(&with_option(10, vec![1; 24])),
        "a client and server cookie"
    );
    for len in [0, 7, 9, 15, 41] {
        assert!(
            !ok(&with_option(10, vec![1; len])),
            "a COOKIE of {len} bytes"
        );
    }
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
fn qtype_off_the_wire() {
    let mut q = vec![0u8; 12];
    q.extend_from_slice(b"\x03www\x07example\x00\x00\x1c\x00\x01");
    assert_eq!(qtype(&q), Some(28));
    assert_eq!(qtype(&q[..20]), None);
    assert_eq!(qtype(&[0u8; 5]), None);
}

#[test]
fn rcode_off_the_wire_has_the_opt_records_upper_bits() {
    let reply = |rcode: ResponseCode, edns: bool| {
        let mut m = Message::new(7, MessageType::Response, OpCode::Query);
        m.add_query(Query::query(name("www.example."), RecordType::A));
        m.metadata.response_code = rcode;
        if edns {
            m.set_edns(Edns::new());
        }
        m.to_vec().expect("encodes")
    };
    assert_eq!(rcode(&reply(ResponseCode::BADVERS, true)), 16);
    assert_eq!(rcode(&reply(ResponseCode::NXDomain, true)), 3);
    assert_eq!(rcode(&reply(ResponseCode::ServFail, false)), 2);
    // Cut short inside the OPT record: the header's 4 bits.
    let badvers = reply(ResponseCode::BADVERS, true);
    assert_eq!(rcode(&badvers[..badvers.len() - 8]), 0);
}

#[test]
fn ttl_offsets_point_at_every_records_ttl() {
    let mut wire = answer("www.example.").to_vec().expect("encodes");
    let offsets = ttl_offsets(&wire).expect("walks");
    let ttls: Vec<u32> = offsets.iter().map(|&(_, ttl)| ttl).collect();
    assert_eq!(ttls, [300, 3600, 60]);
    // Patched in place, the records say the new TTLs.
    for &(at, _) in &offsets {
        let at = at as usize;
        wire[at..at + 4].copy_from_slice(&9u32.to_be_bytes());
    }
    let m = Message::from_vec(&wire).expect("parses");
    assert!(
        m.answers
            .iter()
            .chain(&m.authorities)
            .chain(&m.additionals)
            .all(|r| r.ttl == 9)
    );
    // With OPT, cut short, or with trailing bytes: not walked.
    let mut with_opt = answer("www.example.");
    with_opt.set_edns(Edns::new());
    assert!(ttl_offsets(&with_opt.to_vec().expect("encodes")).is_none());
    assert!(ttl_offsets(&wire[..wire.len() - 1]).is_none());
    wire.push(0);
    assert!(ttl_offsets(&wire).is_none());
}

#[test]
fn labels_stop_where_the_name_stops_parsing() {
    let got: Vec<&[u8]> = labels(b"\x03www\x07example\x00\x00\x01").collect();
    assert_eq!(got, [&b"www"[..], b"example"]);
    assert_eq!(labels(b"\x03www\xC0\x0C").count(), 1);
    assert_eq!(labels(b"\x09www").count(), 0);
}

#[test]
fn a_slipped_reply_is_the_header_and_question_with_tc() {
    let q = query("www.example.", |_| {});
    let question = parse(&q).expect("parsed");
    let m = answer("www.example.");
    let mut wire = m.to_vec().expect("encodes");
    assert!(truncate_to_question(&mut wire, &question).is_some());
    let slipped = Message::from_vec(&wire).expect("parses");
    assert!(slipped.metadata.truncation);
    assert!(slipped.metadata.authoritative);
    assert_eq!(slipped.metadata.id, 7);
    assert_eq!(slipped.queries, m.queries);
    assert!(slipped.answers.is_empty() && slipped.authorities.is_empty());
    assert!(slipped.additionals.is_empty() && slipped.edns.is_none());
    // Not a reply to that question, or too short: left as it is.
    let mut other = answer("mail.example.").to_vec().expect("encodes");
    let before = other.clone();
    assert!(truncate_to_question(&mut other, &question).is_none());
    assert_eq!(other, before);
    let mut short = vec![0u8; 11];
    assert!(truncate_to_question(&mut short, &question).is_none());
}

#[test]
fn refused_and_opt_are_worded_as_the_full_path_words_them() {
    let q = query("Www.Example.", |m| {
        m.metadata.checking_disabled = true;
        with_edns(1232, true)(m);
    });
    let question = parse(&q).expect("parsed");
    let mut out = Vec::new();
    refused_into(&q, &question, 1400, &[], &mut out).expect("written");
    let m = Message::from_vec(&out).expect("parses");
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    assert_eq!(m.metadata.message_type, MessageType::Response);
    assert!(m.metadata.recursion_available && m.metadata.recursion_desired);
    assert!(m.metadata.checking_disabled);
    assert_eq!(m.queries[0].name().to_ascii(), "Www.Example.");
    let edns = m.edns.expect("OPT, as the query had one");
    assert_eq!(edns.max_payload(), 1400);
    assert!(edns.flags().dnssec_ok);
}

#[test]
fn the_cookie_is_read_and_our_option_written_into_opt() {
    use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
    let cookie: Vec<u8> = (1..=24).collect();
    let with = |options: &[Vec<u8>]| {
        let options = options.to_vec();
        query("a.test.", move |m| {
            let mut e = Edns::new();
            e.options_mut().insert(EdnsOption::Unknown(12, vec![0; 5]));
            for data in options {
                e.options_mut().insert(EdnsOption::Unknown(10, data));
            }
            m.set_edns(e);
        })
    };
    let q = with(std::slice::from_ref(&cookie));
    let question = parse(&q).expect("parsed");
    assert_eq!(question.cookie, Some(&cookie[..]));
    assert_eq!(parse(&with(&[])).expect("parsed").cookie, None);
    // Two cookies: the full path judges (and answers) that.
    assert!(parse(&with(&[vec![1; 8], vec![2; 8]])).is_none());

    let ours = [0, 10, 0, 4, 9, 8, 7, 6];
    let mut out = Vec::new();
    refused_into(&q, &question, 1400, &ours, &mut out).expect("written");
    let m = Message::from_vec(&out).expect("parses");
    let edns = m.edns.expect("OPT");
    assert_eq!(
        edns.options().get(EdnsCode::Cookie),
        Some(&EdnsOption::Unknown(10, vec![9, 8, 7, 6]))
    );
    // Without EDNS in the query there is no OPT to carry options.
    let plain = query("a.test.", |_| {});
    let mut out = Vec::new();
    refused_into(
        &plain,
        &parse(&plain).expect("parsed"),
        1400,
        &ours,
        &mut out,
    )
    .expect("written");
    assert!(Message::from_vec(&out).expect("parses").edns.is_none());
}

#[test]
fn a_question_count_the_bytes_cannot_hold_does_not_fit() {
    let with = |qdcount: u16, questions: usize| {
        let mut b = vec![0, 9, 0, 0];
        b.extend_from_slice(&qdcount.to_be_bytes());
        b.extend_from_slice(&[0; 6]);
        for _ in 0..questions {
            b.extend_from_slice(&[0, 0, 1, 0, 1]);
        }
        b
    };
    assert!(questions_fit(&with(0, 0)));
    assert!(questions_fit(&with(2, 2)));
    assert!(!questions_fit(&with(3, 2)));
    assert!(!questions_fit(&with(65_535, 1)));
    assert!(!questions_fit(&[0, 9, 0]), "shorter than a header");
}

/// The common positive answer written directly is what hickory's encoder writes; any other
/// message is left to it.
#[test]
fn simple_answers_are_written_as_hickory_writes_them() {
    use hickory_proto::rr::rdata::AAAA;
    use hickory_proto::rr::rdata::opt::EdnsOption;

    let a = |owner: &str, last: u8| {
        Record::from_rdata(name(owner), 300, RData::A(A::new(192, 0, 2, last)))
    };
    let aaaa = |owner: &str| {
        Record::from_rdata(
            name(owner),
            7,
            RData::AAAA(AAAA::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        )
    };
    let base = |qname: &str| {
        let mut m = Message::new(4242, MessageType::Response, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.metadata.recursion_available = true;
        m.add_query(Query::query(name(qname), RecordType::A));
        m
    };
    let mut written = 0;
    for edns in [false, true] {
        for rcode in [ResponseCode::NoError, ResponseCode::NXDomain] {
            let mut m = base("WWW.Alpha.test.");
            m.metadata.response_code = rcode;
            m.add_answer(a("WWW.Alpha.test.", 1));
            m.add_answer(a("WWW.Alpha.test.", 2));
            m.add_additional(aaaa("WWW.Alpha.test."));
            if edns {
                let mut opt = Edns::new();
                opt.set_max_payload(1232);
                opt.set_dnssec_ok(true);
                opt.options_mut()
                    .insert(EdnsOption::Unknown(10, (0..24).collect()));
                m.set_edns(opt);
            }
            let direct = super::encode_simple(&m).expect("a simple answer");
            assert_eq!(direct, m.to_vec().expect("encodes"), "edns {edns} {rcode}");
            written += 1;
        }
    }
    assert_eq!(written, 4);
    let empty = base("a.test.");
    assert_eq!(
        super::encode_simple(&empty),
        Some(empty.to_vec().expect("encodes"))
    );
    // Another case, another owner, other data, the root: hickory's.
    let mut case = base("a.test.");
    case.add_answer(a("A.test.", 1));
    assert_eq!(super::encode_simple(&case), None);
    for owner in ["b.test.", "b.a.test.", "test.", "a.test.b."] {
        let mut other = base("a.test.");
        other.add_answer(a(owner, 1));
        assert_eq!(super::encode_simple(&other), None, "{owner}");
    }
    let mut ns = base("a.test.");
    ns.add_authority(Record::from_rdata(
        name("a.test."),
        60,
        RData::NS(NS(name("ns.a.test."))),
    ));
    assert_eq!(super::encode_simple(&ns), None);
    assert_eq!(super::encode_simple(&base(".")), None);
}

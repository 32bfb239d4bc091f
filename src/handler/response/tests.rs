use std::net::SocketAddr;

use hickory_proto::op::{OpCode, Query};
use hickory_proto::rr::Name;
use hickory_proto::rr::rdata::{A, AAAA, NS, TXT};

use super::*;

fn req(edns: Option<u16>, transport: Transport) -> Request {
    Request {
        id: 1,
        op_code: OpCode::Query,
        recursion_desired: false,
        checking_disabled: false,
        authentic_data: false,
        query: Query::query(
            Name::from_ascii("big.test.").expect("name"),
            RecordType::TXT,
        ),
        edns: edns.map(|payload| EdnsInfo {
            payload,
            version: 0,
            dnssec_ok: false,
            ..EdnsInfo::default()
        }),
        src: SocketAddr::from(([127, 0, 0, 1], 1)),
        transport,
        signed: false,
        cookie: None,
    }
}

#[test]
fn malformed_replies_carry_opt_when_the_request_did() {
    let bad = |edns| Malformed::Reply {
        id: 9,
        op_code: OpCode::Status,
        recursion_desired: true,
        checking_disabled: false,
        query: None,
        rcode: ResponseCode::NotImp,
        edns,
    };
    let info = EdnsInfo {
        payload: 4096,
        version: 0,
        dnssec_ok: true,
        ..EdnsInfo::default()
    };
    let reply = malformed_reply(&bad(Some(info)), 1400, None, false).expect("a reply");
    let m = Message::from_vec(&reply.to_vec().expect("encodes")).expect("parses");
    assert_eq!(
        (m.metadata.id, m.metadata.response_code),
        (9, ResponseCode::NotImp)
    );
    assert_eq!(m.metadata.message_type, MessageType::Response);
    assert!(m.metadata.recursion_desired);
    let opt = m.edns.expect("OPT echoed (RFC 6891 §6.1.1)");
    assert_eq!((opt.max_payload(), opt.version()), (1400, 0));
    assert!(opt.flags().dnssec_ok);

    let reply = malformed_reply(&bad(None), 1232, None, false).expect("a reply");
    let bytes = reply.to_vec().expect("encodes");
    assert!(Message::from_vec(&bytes).expect("parses").edns.is_none());
    assert!(malformed_reply(&Malformed::Drop, 1232, None, false).is_none());
}

#[test]
fn size_limits_follow_rfc_6891() {
    assert_eq!(size_limit(&req(None, Transport::Udp), 1232), 512);
    assert_eq!(size_limit(&req(Some(4096), Transport::Udp), 1232), 1232);
    assert_eq!(size_limit(&req(Some(700), Transport::Udp), 1232), 700);
    assert_eq!(size_limit(&req(None, Transport::Tcp), 1232), 65535);
}

fn rr(owner: &str, data: RData) -> Record {
    Record::from_rdata(Name::from_ascii(owner).expect("name"), 60, data)
}

/// A referral to `sub.test.` with `n` in-domain name servers, each with A and AAAA glue,
/// and one out-of-domain server whose address record is optional.
fn referral(n: usize) -> Message {
    let mut m = reply_to(&req(None, Transport::Udp), 1232);
    for i in 0..n {
        let ns = format!("a-rather-long-name-server-label-{i}.sub.test.");
        m.add_authority(rr(
            "sub.test.",
            RData::NS(NS(Name::from_ascii(&ns).expect("name"))),
        ));
        m.add_additional(rr(&ns, RData::A(A::new(192, 0, 2, 1))));
        m.add_additional(rr(
            &ns,
            RData::AAAA(AAAA::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        ));
    }
    m.add_authority(rr(
        "sub.test.",
        RData::NS(NS(Name::from_ascii("ns.elsewhere.example.").expect("name"))),
    ));
    m.add_additional(rr(
        "ns.elsewhere.example.",
        RData::A(A::new(198, 51, 100, 1)),
    ));
    m
}

#[test]
fn optional_authority_is_dropped_before_truncating() {
    // A positive answer that fits only without the zone's NS set and its addresses: NSD
    // drops those and sends the answer whole, TC=0.
    let mut m = referral(4);
    let answer = rr("www.sub.test.", RData::A(A::new(192, 0, 2, 80)));
    m.add_answer(answer.clone());
    let limit = {
        let mut bare = m.clone();
        bare.authorities.clear();
        bare.additionals.clear();
        bare.to_vec().expect("encode").len()
    };
    let back = Message::from_vec(&encode(m.clone(), limit, true)).expect("parses");
    assert!(!back.metadata.truncation);
    assert_eq!(back.answers, vec![answer]);
    assert!(back.authorities.is_empty() && back.additionals.is_empty());
    // The same message with a required authority section (a referral after a CNAME) is
    // truncated instead.
    let back = Message::from_vec(&encode(m, limit, false)).expect("parses");
    assert!(back.metadata.truncation);
}

#[test]
fn referral_keeps_in_domain_glue_or_sets_tc() {
    // Fits once the optional out-of-domain address is gone: no TC, all glue kept.
    let m = referral(4);
    let full = m.to_vec().expect("encode").len();
    let optional = rr("ns.elsewhere.example.", RData::A(A::new(198, 51, 100, 1)));
    let bytes = encode(m, full - 1, false);
    let back = Message::from_vec(&bytes).expect("parses");
    assert!(!back.metadata.truncation);
    assert_eq!(back.additionals.len(), 8, "all in-domain glue kept");
    assert!(
        !back.additionals.contains(&optional),
        "optional record dropped"
    );
    assert_eq!(back.authorities.len(), 5);

    // Glue that does not all fit: TC=1 rather than a referral missing glue (RFC 9471 §3).
    let m = referral(8);
    assert!(m.to_vec().expect("encode").len() > 512);
    let bytes = encode(m, 512, false);
    assert!(bytes.len() <= 512);
    let back = Message::from_vec(&bytes).expect("parses");
    assert!(back.metadata.truncation, "TC=1 when glue is cut");
    assert!(back.additionals.is_empty() && back.authorities.is_empty());
}

#[test]
fn glue_is_only_addresses_of_ns_targets_below_the_cut() {
    let ns = [rr(
        "sub.test.",
        RData::NS(NS(Name::from_ascii("NS1.sub.test.").expect("name"))),
    )];
    let a = |owner: &str| rr(owner, RData::A(A::new(192, 0, 2, 1)));
    assert!(
        is_in_domain_glue(&a("ns1.SUB.test."), &ns),
        "case-insensitive"
    );
    assert!(!is_in_domain_glue(&a("ns2.sub.test."), &ns), "not a target");
    let txt = rr("ns1.sub.test.", RData::TXT(TXT::new(vec!["x".into()])));
    assert!(!is_in_domain_glue(&txt, &ns), "not an address");
    let sibling = [rr(
        "sub.test.",
        RData::NS(NS(Name::from_ascii("ns.other.test.").expect("name"))),
    )];
    assert!(
        !is_in_domain_glue(&a("ns.other.test."), &sibling),
        "sibling glue is optional"
    );
}

#[test]
fn oversized_answer_is_truncated_to_whole_rrsets() {
    let r = req(None, Transport::Udp);
    let mut m = reply_to(&r, 1232);
    let owner = Name::from_ascii("big.test.").expect("name");
    for i in 0..10 {
        let txt = RData::TXT(TXT::new(vec![format!("{i}{}", "x".repeat(100))]));
        m.add_answer(Record::from_rdata(owner.clone(), 60, txt));
    }
    let bytes = encode(m, 512, false);
    assert!(bytes.len() <= 512);
    let back = Message::from_vec(&bytes).expect("parses");
    assert!(back.metadata.truncation);
    assert!(
        back.answers.is_empty(),
        "one RRset that does not fit is dropped whole"
    );
}

/// An RRSIG over `covered` at `owner`, with a 64-octet signature.
fn rrsig(owner: &str, covered: RecordType) -> Record {
    use hickory_proto::dnssec::Algorithm;
    use hickory_proto::dnssec::rdata::{RRSIG, SigInput};
    use hickory_proto::rr::SerialNumber;
    let input = SigInput {
        type_covered: covered,
        algorithm: Algorithm::ECDSAP256SHA256,
        num_labels: 2,
        original_ttl: 60,
        sig_expiration: SerialNumber::new(2),
        sig_inception: SerialNumber::new(1),
        key_tag: 1,
        signer_name: Name::from_ascii("test.").expect("name"),
    };
    rr(
        owner,
        RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(input, vec![7; 64]))),
    )
}

#[test]
fn rrsigs_go_with_their_rrset_and_a_wildcard_proof_is_no_optional_authority() {
    let r = req(None, Transport::Udp);
    let mut m = reply_to(&r, 1232);
    m.add_answer(rr("x.w.test.", RData::A(A::new(192, 0, 2, 1))));
    m.add_answer(rrsig("x.w.test.", RecordType::A));
    for ns in ["ns1.test.", "ns2.test."] {
        m.add_authority(rr(
            "test.",
            RData::NS(NS(Name::from_ascii(ns).expect("name"))),
        ));
    }
    m.add_authority(rrsig("test.", RecordType::NS));
    let nsec = rr(
        "*.w.test.",
        RData::TXT(TXT::new(vec!["stands in for an NSEC".into()])),
    );
    m.add_authority(nsec.clone());
    m.add_authority(rrsig("*.w.test.", RecordType::TXT));
    for ns in ["ns1.test.", "ns2.test."] {
        m.add_additional(rr(ns, RData::A(A::new(192, 0, 2, 2))));
        m.add_additional(rrsig(ns, RecordType::A));
    }
    let size = |m: &Message| m.to_vec().expect("encode").len();
    let mut without_ns2 = m.clone();
    without_ns2.additionals.truncate(2);
    // Dropping ns2's address drops its RRSIG with it, and nothing else.
    let back = Message::from_vec(&encode(m.clone(), size(&without_ns2), true)).expect("parses");
    assert!(!back.metadata.truncation);
    assert_eq!(back.additionals, without_ns2.additionals);
    // Short of the NS RRset too: it goes with its RRSIG, the wildcard proof stays, no TC.
    let mut bare = m.clone();
    bare.additionals.clear();
    bare.authorities.drain(..3);
    let back = Message::from_vec(&encode(m.clone(), size(&bare), true)).expect("parses");
    assert!(!back.metadata.truncation);
    assert_eq!(back.authorities.len(), 2);
    assert_eq!(back.authorities[0], nsec);
    // One octet shorter: TC=1, the answer RRset kept whole with its RRSIG or not at all.
    let back = Message::from_vec(&encode(m, size(&bare) - 1, true)).expect("parses");
    assert!(back.metadata.truncation);
    assert_eq!(back.answers.len(), 2);
}

/// A response made from the message tier's encoding (without OPT, before AD was masked and
/// the COOKIE added) is what encoding the final message writes; one whose sections changed
/// since, or that outgrew the limit, is encoded again.
#[test]
fn a_kept_encoding_gives_the_bytes_of_a_fresh_one() {
    for edns in [None, Some(1232)] {
        let mut m = referral(2);
        m.metadata.message_type = MessageType::Response;
        m.metadata.recursion_available = true;
        m.metadata.authentic_data = true;
        m.add_answer(rr("big.test.", RData::TXT(TXT::new(vec!["x".into()]))));
        let opt = m.edns.take();
        let kept = m.to_vec().expect("encodes");
        m.edns = opt.or(edns.map(|payload| {
            let mut opt = Edns::new();
            opt.set_max_payload(payload);
            opt
        }));
        m.metadata.authentic_data = false;
        if let Some(opt) = m.edns.as_mut() {
            opt.set_dnssec_ok(true);
            opt.options_mut()
                .insert(EdnsOption::Unknown(10, (0..24).collect()));
        }
        let fresh = m.to_vec().expect("encodes");
        assert_eq!(from_kept(kept.clone(), &m, 4096), Some(fresh.clone()));
        let shape = Shape {
            limit: 4096,
            optional_authority: false,
            pad: false,
        };
        let finished = finish(m.clone(), Some(kept.clone()), shape, &Verified::Unsigned, 0);
        assert_eq!(finished, Some(fresh.clone()));
        assert_eq!(from_kept(kept.clone(), &m, fresh.len() - 1), None);
        let mut slipped = m.clone();
        slipped.metadata.truncation = true;
        slipped.answers.clear();
        assert_eq!(from_kept(kept.clone(), &slipped, 4096), None);
        let mut fewer = m.clone();
        fewer.additionals.pop();
        assert_eq!(from_kept(kept, &fewer, 4096), None);
    }
}

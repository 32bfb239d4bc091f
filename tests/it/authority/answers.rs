//! Exact matches, negative answers, additional data, ANY, case, REFUSED and truncation.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::*;
use crate::support::{self, lines, query};

#[tokio::test]
async fn exact_matches_are_authoritative() {
    let s = start(100, &[("example.test.", EXAMPLE)]).await;
    let ns_and_addrs = |answer| Case {
        answer,
        authority: EXAMPLE_NS,
        additional: EXAMPLE_NS_ADDRS,
        ..NOERROR
    };
    let cases = [
        Case {
            q: "www.example.test. A",
            ..ns_and_addrs(&["www.example.test. 300 IN A 192.0.2.80"])
        },
        Case {
            q: "www.example.test. TXT",
            ..ns_and_addrs(&["www.example.test. 300 IN TXT hello"])
        },
        Case {
            q: "example.test. SOA",
            ..ns_and_addrs(&[
                "example.test. 3600 IN SOA ns1.example.test. hostmaster.example.test. 2024010101 7200 900 1209600 60",
            ])
        },
        // The NS RRset is the answer, so it is not repeated in the authority section.
        Case {
            q: "example.test. NS",
            answer: EXAMPLE_NS,
            additional: EXAMPLE_NS_ADDRS,
            ..NOERROR
        },
        // An address already in the answer is not repeated as additional data.
        Case {
            q: "ns1.example.test. A",
            answer: &["ns1.example.test. 3600 IN A 192.0.2.1"],
            authority: EXAMPLE_NS,
            additional: &[
                "ns1.example.test. 3600 IN AAAA 2001:db8::1",
                "ns2.example.test. 3600 IN A 192.0.2.2",
            ],
            ..NOERROR
        },
    ];
    check(s.addr, &cases).await;
}

#[tokio::test]
async fn nxdomain_and_nodata_carry_the_soa_with_the_negative_ttl() {
    let s = start(105, &[("example.test.", EXAMPLE), ("other.test.", OTHER)]).await;
    let cases = [
        // RFC 2308 §3: TTL = min(SOA TTL, MINIMUM); here MINIMUM 60 < 3600.
        Case {
            q: "nope.example.test. A",
            rcode: ResponseCode::NXDomain,
            authority: &[EXAMPLE_NEG_SOA],
            ..NOERROR
        },
        Case {
            q: "deeper.nope.example.test. AAAA",
            rcode: ResponseCode::NXDomain,
            authority: &[EXAMPLE_NEG_SOA],
            ..NOERROR
        },
        Case {
            q: "www.example.test. MX",
            authority: &[EXAMPLE_NEG_SOA],
            ..NOERROR
        },
        // Empty non-terminals exist (RFC 8020): NODATA, not NXDOMAIN.
        Case {
            q: "ent.example.test. A",
            authority: &[EXAMPLE_NEG_SOA],
            ..NOERROR
        },
        Case {
            q: "b.ent.example.test. TXT",
            authority: &[EXAMPLE_NEG_SOA],
            ..NOERROR
        },
        Case {
            q: "x.b.ent.example.test. TXT",
            rcode: ResponseCode::NXDomain,
            authority: &[EXAMPLE_NEG_SOA],
            ..NOERROR
        },
        // Here the SOA's own TTL (30) is the smaller one.
        Case {
            q: "nope.other.test. A",
            rcode: ResponseCode::NXDomain,
            authority: &[OTHER_NEG_SOA],
            ..NOERROR
        },
        Case {
            q: "www.other.test. TXT",
            authority: &[OTHER_NEG_SOA],
            ..NOERROR
        },
    ];
    check(s.addr, &cases).await;
}

#[tokio::test]
async fn ns_mx_and_srv_targets_get_additional_addresses() {
    let s = start(106, &[("example.test.", EXAMPLE), ("other.test.", OTHER)]).await;
    let cases = [
        // mail.other.test. is served here too, but additional data comes from the answering
        // zone only (as NSD does).
        Case {
            q: "example.test. MX",
            answer: &[
                "example.test. 300 IN MX 10 mail.example.test.",
                "example.test. 300 IN MX 20 mail.other.test.",
            ],
            authority: EXAMPLE_NS,
            additional: &[
                "mail.example.test. 300 IN A 192.0.2.25",
                "mail.example.test. 300 IN AAAA 2001:db8::25",
                "ns1.example.test. 3600 IN A 192.0.2.1",
                "ns1.example.test. 3600 IN AAAA 2001:db8::1",
                "ns2.example.test. 3600 IN A 192.0.2.2",
            ],
            ..NOERROR
        },
        Case {
            q: "_sip._udp.example.test. SRV",
            answer: &[
                "_sip._udp.example.test. 300 IN SRV 0 5 5060 sip.example.test.",
                "_sip._udp.example.test. 300 IN SRV 1 5 5060 sip.other.test.",
            ],
            authority: EXAMPLE_NS,
            additional: &[
                "ns1.example.test. 3600 IN A 192.0.2.1",
                "ns1.example.test. 3600 IN AAAA 2001:db8::1",
                "ns2.example.test. 3600 IN A 192.0.2.2",
                "sip.example.test. 300 IN AAAA 2001:db8::5060",
            ],
            ..NOERROR
        },
    ];
    check(s.addr, &cases).await;
    // The same over TCP and without EDNS (512 bytes is enough here: nothing is dropped).
    let r = support::udp(s.addr, &query("example.test.", RecordType::MX, false, None)).await;
    assert!(!r.metadata.truncation);
    assert!(r.edns.is_none());
    assert_eq!(r.additionals.len(), 5);
}

#[tokio::test]
async fn any_gets_one_rrset() {
    let s = start(107, &[("example.test.", EXAMPLE)]).await;
    // RFC 8482 §4.1: one RRset, no authority NS. A preferred type (A, AAAA, SOA, MX, PTR)
    // wins over the TXT written first, as in NSD.
    let cases = [
        Case {
            q: "multi.example.test. ANY",
            answer: &["multi.example.test. 300 IN AAAA 2001:db8::77"],
            ..NOERROR
        },
        Case {
            q: "www.example.test. ANY",
            answer: &["www.example.test. 300 IN A 192.0.2.80"],
            ..NOERROR
        },
        // A CNAME is not followed for ANY.
        Case {
            q: "alias.example.test. ANY",
            answer: &["alias.example.test. 300 IN CNAME www.example.test."],
            ..NOERROR
        },
        Case {
            q: "ent.example.test. ANY",
            authority: &[EXAMPLE_NEG_SOA],
            ..NOERROR
        },
        Case {
            q: "nope.example.test. ANY",
            rcode: ResponseCode::NXDomain,
            authority: &[EXAMPLE_NEG_SOA],
            ..NOERROR
        },
    ];
    check(s.addr, &cases).await;
    let apex = ask(s.addr, "example.test. ANY", false).await;
    assert_eq!(apex.answers.len(), 1, "one RRset at the apex: the SOA");
    assert_eq!(apex.answers[0].record_type(), RecordType::SOA);
}

#[tokio::test]
async fn names_match_case_insensitively_and_the_question_keeps_its_case() {
    let s = start(108, &[("example.test.", EXAMPLE)]).await;
    let cases = [
        Case {
            q: "WwW.ExAmPlE.TeSt. A",
            answer: &["www.example.test. 300 IN A 192.0.2.80"],
            authority: EXAMPLE_NS,
            additional: EXAMPLE_NS_ADDRS,
            ..NOERROR
        },
        Case {
            q: "ALIAS.example.TEST. A",
            answer: &[
                "alias.example.test. 300 IN CNAME www.example.test.",
                "www.example.test. 300 IN A 192.0.2.80",
            ],
            authority: EXAMPLE_NS,
            additional: EXAMPLE_NS_ADDRS,
            ..NOERROR
        },
        Case {
            q: "NoPe.Example.Test. A",
            rcode: ResponseCode::NXDomain,
            authority: &[EXAMPLE_NEG_SOA],
            ..NOERROR
        },
        Case {
            q: "HOST.SUB.EXAMPLE.TEST. A",
            aa: false,
            authority: &[
                "sub.example.test. 86400 IN NS ns.other.test.",
                "sub.example.test. 86400 IN NS ns.sub.example.test.",
            ],
            additional: &["ns.sub.example.test. 86400 IN A 192.0.2.53"],
            ..NOERROR
        },
    ];
    check(s.addr, &cases).await;
}

#[tokio::test]
async fn names_outside_every_zone_are_refused() {
    let s = start(109, &[("example.test.", EXAMPLE)]).await;
    let refused = |q| Case {
        q,
        rcode: ResponseCode::Refused,
        aa: false,
        ..NOERROR
    };
    // The parent of a served zone and an unrelated name are not ours either.
    let cases = [
        refused("www.example.com. A"),
        refused("test. SOA"),
        refused("example. NS"),
        refused(". NS"),
    ];
    check(s.addr, &cases).await;
}

#[tokio::test]
async fn oversized_answers_are_truncated_over_udp_and_whole_over_tcp() {
    let mut text = String::from(
        "$ORIGIN big.test.\n$TTL 60\n@ SOA ns1 hostmaster 1 7200 900 1209600 60\n@ NS ns1\n\
         ns1 A 192.0.2.1\n",
    );
    for i in 0..12 {
        text.push_str(&format!("big TXT \"{i:02}{}\"\n", "x".repeat(198)));
    }
    let s = start(110, &[("big.test.", text.as_str())]).await;
    for edns in [Some(1232), None] {
        let r = support::udp(
            s.addr,
            &query("big.big.test.", RecordType::TXT, false, edns),
        )
        .await;
        assert!(r.metadata.truncation, "TC=1 over UDP (EDNS {edns:?})");
        assert!(r.metadata.authoritative);
        assert!(
            r.answers.is_empty(),
            "the one RRset does not fit and is dropped whole"
        );
    }
    let r = support::tcp(
        s.addr,
        &query("big.big.test.", RecordType::TXT, false, None),
    )
    .await;
    assert!(!r.metadata.truncation);
    assert_eq!(r.answers.len(), 12);
    assert_eq!(
        lines(&r.authorities),
        vec!["big.test. 60 IN NS ns1.big.test."]
    );
    assert_eq!(
        lines(&r.additionals),
        vec!["ns1.big.test. 60 IN A 192.0.2.1"]
    );
    // The small answer on the same server is not truncated.
    let r = support::udp(s.addr, &query("ns1.big.test.", RecordType::A, false, None)).await;
    assert!(!r.metadata.truncation);
    assert_eq!(r.answers.len(), 1);
}

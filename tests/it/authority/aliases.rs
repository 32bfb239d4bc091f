//! Aliases: CNAME chains within and across zones (RFC 1034 §4.3.2 step 3a, RFC 6604) and
//! DNAME substitution (RFC 6672).

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Record;

use super::*;
use crate::support::name;
use tern::dname_rdata;

#[tokio::test]
async fn cname_chains_are_followed_within_and_across_zones() {
    let s = start(101, &[("example.test.", EXAMPLE), ("other.test.", OTHER)]).await;
    let cases = [
        Case {
            q: "alias2.example.test. A",
            answer: &[
                "alias2.example.test. 300 IN CNAME alias.example.test.",
                "alias.example.test. 300 IN CNAME www.example.test.",
                "www.example.test. 300 IN A 192.0.2.80",
            ],
            authority: EXAMPLE_NS,
            additional: EXAMPLE_NS_ADDRS,
            ..NOERROR
        },
        // The chain leaves example.test. for other.test.: the NS set is other.test.'s.
        Case {
            q: "cross.example.test. A",
            answer: &[
                "cross.example.test. 300 IN CNAME www.other.test.",
                "www.other.test. 600 IN A 192.0.2.180",
            ],
            authority: &[OTHER_NS],
            ..NOERROR
        },
        Case {
            q: "back.other.test. A",
            answer: &[
                "back.other.test. 600 IN CNAME www.example.test.",
                "www.example.test. 300 IN A 192.0.2.80",
            ],
            authority: EXAMPLE_NS,
            additional: EXAMPLE_NS_ADDRS,
            ..NOERROR
        },
        // Asked for the CNAME itself: no chasing.
        Case {
            q: "alias.example.test. CNAME",
            answer: &["alias.example.test. 300 IN CNAME www.example.test."],
            authority: EXAMPLE_NS,
            additional: EXAMPLE_NS_ADDRS,
            ..NOERROR
        },
        // The chain ends at a type the target lacks: NODATA from the target's zone.
        Case {
            q: "cross.example.test. MX",
            answer: &["cross.example.test. 300 IN CNAME www.other.test."],
            authority: &[OTHER_NEG_SOA],
            ..NOERROR
        },
        // The chain ends at a name that does not exist: RFC 6604 §2.1, NXDOMAIN.
        Case {
            q: "dangling.example.test. A",
            rcode: ResponseCode::NXDomain,
            answer: &["dangling.example.test. 300 IN CNAME nothing.example.test."],
            authority: &[EXAMPLE_NEG_SOA],
            ..NOERROR
        },
        // The chain leaves every served zone: the CNAME alone, still authoritative.
        Case {
            q: "away.example.test. A",
            answer: &["away.example.test. 300 IN CNAME host.elsewhere.invalid."],
            ..NOERROR
        },
        // Loops terminate, each CNAME once.
        Case {
            q: "loop1.example.test. A",
            answer: &[
                "loop1.example.test. 300 IN CNAME loop2.example.test.",
                "loop2.example.test. 300 IN CNAME loop1.example.test.",
            ],
            ..NOERROR
        },
        Case {
            q: "self.example.test. AAAA",
            answer: &["self.example.test. 300 IN CNAME self.example.test."],
            ..NOERROR
        },
    ];
    check(s.addr, &cases).await;
}

/// The DNAME record as the test's `lines` renders it (hickory keeps DNAME as opaque RDATA).
fn dname_line(owner: &str, ttl: u32, target: &str) -> String {
    let r = Record::from_rdata(name(owner), ttl, dname_rdata(&name(target)));
    lines(&[r]).remove(0)
}

#[tokio::test]
async fn dname_synthesises_a_cname_and_overflow_is_yxdomain() {
    let s = start(102, &[("example.test.", EXAMPLE), ("other.test.", OTHER)]).await;

    // RFC 6672 §3.2: the DNAME, a CNAME synthesised with the DNAME's TTL, then the target.
    let r = ask(s.addr, "www.old.example.test. A", false).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.metadata.authoritative);
    let mut want = vec![
        dname_line("old.example.test.", 600, "other.test."),
        "www.old.example.test. 600 IN CNAME www.other.test.".to_string(),
        "www.other.test. 600 IN A 192.0.2.180".to_string(),
    ];
    want.sort();
    assert_eq!(lines(&r.answers), want);
    assert_eq!(lines(&r.authorities), vec![OTHER_NS.to_string()]);

    // Asked for CNAME: the synthesised CNAME is the answer; it is not followed.
    let r = ask(s.addr, "x.y.old.example.test. CNAME", true).await;
    let mut want = vec![
        dname_line("old.example.test.", 600, "other.test."),
        "x.y.old.example.test. 600 IN CNAME x.y.other.test.".to_string(),
    ];
    want.sort();
    assert_eq!(lines(&r.answers), want);
    assert!(r.authorities.is_empty());

    // Substituted name does not exist in other.test.: NXDOMAIN with other.test.'s SOA.
    let r = ask(s.addr, "nope.old.example.test. A", false).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(r.answers.len(), 2);
    assert_eq!(lines(&r.authorities), vec![OTHER_NEG_SOA.to_string()]);

    // The DNAME owner itself is not redirected.
    let r = ask(s.addr, "old.example.test. DNAME", false).await;
    assert_eq!(
        lines(&r.answers),
        vec![dname_line("old.example.test.", 600, "other.test.")]
    );
    let r = ask(s.addr, "old.example.test. A", false).await;
    assert!(r.answers.is_empty());
    assert_eq!(lines(&r.authorities), vec![EXAMPLE_NEG_SOA.to_string()]);

    // RFC 6672 §2.2: a substitution longer than 255 octets is YXDOMAIN, with the DNAME.
    let l63 = "a".repeat(63);
    let qname = format!("{l63}.{l63}.{l63}.{}.long.example.test.", "b".repeat(38));
    assert_eq!(
        qname.len() + 1,
        250,
        "the query name fits, its substitution does not"
    );
    let r = ask(s.addr, &format!("{qname} A"), false).await;
    assert_eq!(r.metadata.response_code, ResponseCode::YXDomain);
    assert!(r.metadata.authoritative);
    assert_eq!(
        lines(&r.answers),
        vec![dname_line(
            "long.example.test.",
            600,
            "a-much-longer-target-name.other.test."
        )]
    );
    assert!(r.authorities.is_empty(), "no SOA with YXDOMAIN, as NSD");
}

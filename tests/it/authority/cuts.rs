//! Zone cuts (referrals, glue, DS on the parent side) and wildcards (RFC 4592).

use hickory_proto::op::ResponseCode;

use super::*;

#[tokio::test]
async fn zone_cuts_refer_and_ds_is_answered_by_the_parent() {
    let s = start(
        103,
        &[("example.test.", EXAMPLE), ("kid.example.test.", KID)],
    )
    .await;
    let sub_ns: &[&str] = &[
        "sub.example.test. 86400 IN NS ns.other.test.",
        "sub.example.test. 86400 IN NS ns.sub.example.test.",
    ];
    let sub_glue: &[&str] = &["ns.sub.example.test. 86400 IN A 192.0.2.53"];
    let kid_ns: &[&str] = &["kid.example.test. 86400 IN NS ns.kid.example.test."];
    let kid_addr: &[&str] = &["ns.kid.example.test. 86400 IN A 192.0.2.54"];
    let cases = [
        // RFC 1034 §4.3.2 step 3b: a referral is not authoritative.
        Case {
            q: "host.sub.example.test. A",
            aa: false,
            authority: sub_ns,
            additional: sub_glue,
            ..NOERROR
        },
        Case {
            q: "sub.example.test. NS",
            aa: false,
            authority: sub_ns,
            additional: sub_glue,
            ..NOERROR
        },
        // Glue is not authoritative data: asking for it gets the referral.
        Case {
            q: "ns.sub.example.test. A",
            aa: false,
            authority: sub_ns,
            additional: sub_glue,
            ..NOERROR
        },
        // RFC 4035 §3.1.4.1: DS lives on the parent side of the cut.
        Case {
            q: "sub.example.test. DS",
            authority: &[EXAMPLE_NEG_SOA],
            ..NOERROR
        },
        // A CNAME into a delegation: AA for the CNAME, then the referral.
        Case {
            q: "to-sub.example.test. A",
            answer: &["to-sub.example.test. 300 IN CNAME host.sub.example.test."],
            authority: sub_ns,
            additional: sub_glue,
            ..NOERROR
        },
        // Glue is no additional data for an MX target; the apex NS addresses still are.
        Case {
            q: "mx-glue.example.test. MX",
            answer: &["mx-glue.example.test. 300 IN MX 10 ns.sub.example.test."],
            authority: EXAMPLE_NS,
            additional: EXAMPLE_NS_ADDRS,
            ..NOERROR
        },
        // Parent and child both served: the child answers below and at its apex...
        Case {
            q: "host.kid.example.test. A",
            answer: &["host.kid.example.test. 120 IN A 192.0.2.55"],
            authority: kid_ns,
            additional: kid_addr,
            ..NOERROR
        },
        Case {
            q: "kid.example.test. NS",
            answer: kid_ns,
            additional: kid_addr,
            ..NOERROR
        },
        Case {
            q: "nope.kid.example.test. A",
            rcode: ResponseCode::NXDomain,
            authority: &[
                "kid.example.test. 120 IN SOA ns.kid.example.test. hostmaster.kid.example.test. 1 7200 900 1209600 120",
            ],
            ..NOERROR
        },
        // ...but DS at the child's apex comes from the parent.
        Case {
            q: "kid.example.test. DS",
            authority: &[EXAMPLE_NEG_SOA],
            ..NOERROR
        },
    ];
    check(s.addr, &cases).await;
}

#[tokio::test]
async fn wildcards_follow_rfc_4592() {
    let s = start(104, &[("example.", WILD)]).await;
    let host1_a: &[&str] = &["host1.example. 3600 IN A 192.0.2.1"];
    let cases = [
        // §2.2.1: synthesised from *.example. (closest encloser example.), owner = QNAME.
        Case {
            q: "host3.example. MX",
            answer: &["host3.example. 3600 IN MX 10 host1.example."],
            authority: WILD_NS,
            additional: host1_a,
            ..NOERROR
        },
        Case {
            q: "foo.bar.example. TXT",
            answer: &["foo.bar.example. 3600 IN TXT this is a wildcard"],
            authority: WILD_NS,
            ..NOERROR
        },
        // The wildcard matches but has no A: NODATA.
        Case {
            q: "host3.example. A",
            authority: &[WILD_NEG_SOA],
            ..NOERROR
        },
        // Names that exist are never synthesised.
        Case {
            q: "host1.example. MX",
            authority: &[WILD_NEG_SOA],
            ..NOERROR
        },
        Case {
            q: "sub.*.example. MX",
            authority: &[WILD_NEG_SOA],
            ..NOERROR
        },
        // Closest encloser _tcp.host1.example. has no wildcard child: NXDOMAIN.
        Case {
            q: "_telnet._tcp.host1.example. SRV",
            rcode: ResponseCode::NXDomain,
            authority: &[WILD_NEG_SOA],
            ..NOERROR
        },
        // host2.example. is an empty non-terminal: it exists, so it blocks *.example.
        Case {
            q: "host2.example. TXT",
            authority: &[WILD_NEG_SOA],
            ..NOERROR
        },
        Case {
            q: "foo.host2.example. TXT",
            rcode: ResponseCode::NXDomain,
            authority: &[WILD_NEG_SOA],
            ..NOERROR
        },
        // Closest encloser *.example. itself; the source would be *.*.example.: NXDOMAIN.
        Case {
            q: "ghost.*.example. MX",
            rcode: ResponseCode::NXDomain,
            authority: &[WILD_NEG_SOA],
            ..NOERROR
        },
        // The wildcard applies across several missing labels but not below a cut.
        Case {
            q: "_ssh._tcp.host3.example. SRV",
            authority: &[WILD_NEG_SOA],
            ..NOERROR
        },
        Case {
            q: "host.subdel.example. A",
            aa: false,
            authority: &[
                "subdel.example. 3600 IN NS ns.example.com.",
                "subdel.example. 3600 IN NS ns.example.net.",
            ],
            ..NOERROR
        },
        // The wildcard owner asked literally is an ordinary name.
        Case {
            q: "*.example. TXT",
            answer: &["*.example. 3600 IN TXT this is a wildcard"],
            authority: WILD_NS,
            ..NOERROR
        },
    ];
    check(s.addr, &cases).await;
}

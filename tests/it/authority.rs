//! The authoritative server over real sockets: every kind of answer RFC 1034 §4.3.2 (with its
//! updates: RFC 2308, 4592, 6672, 6604, 8482) can produce, as tables of zone-file lines.
//!
//! Each test starts its own tern on `127.<subnet>.0.1` (subnets 100..=119) and serves zones
//! written inline below. Positive answers carry the zone's NS RRset in the authority section
//! and the addresses of NS, MX and SRV targets in the additional section, as NSD does.

use std::net::SocketAddr;
use std::str::FromStr;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Record, RecordType};

use crate::support::{self, addr, lines, name, query, zone};
use tern::authority::dname;

/// The main test zone. Negative TTL: min(SOA TTL 3600, MINIMUM 60) = 60.
const EXAMPLE: &str = r#"
$ORIGIN example.test.
$TTL 300
@         3600 IN SOA   ns1 hostmaster 2024010101 7200 900 1209600 60
@         3600 IN NS    ns1
@         3600 IN NS    ns2
@              IN MX    10 mail
@              IN MX    20 mail.other.test.
ns1       3600 IN A     192.0.2.1
ns1       3600 IN AAAA  2001:db8::1
ns2       3600 IN A     192.0.2.2
mail           IN A     192.0.2.25
mail           IN AAAA  2001:db8::25
www            IN A     192.0.2.80
www            IN TXT   "hello"
multi          IN TXT   "first in file"
multi          IN AAAA  2001:db8::77
_sip._udp      IN SRV   0 5 5060 sip
_sip._udp      IN SRV   1 5 5060 sip.other.test.
sip            IN AAAA  2001:db8::5060
alias          IN CNAME www
alias2         IN CNAME alias
cross          IN CNAME www.other.test.
away           IN CNAME host.elsewhere.invalid.
dangling       IN CNAME nothing
loop1          IN CNAME loop2
loop2          IN CNAME loop1
self           IN CNAME self
old       600  IN DNAME other.test.
long      600  IN DNAME a-much-longer-target-name.other.test.
a.b.ent        IN TXT   "leaf under two empty non-terminals"
sub      86400 IN NS    ns.sub
sub      86400 IN NS    ns.other.test.
ns.sub   86400 IN A     192.0.2.53
to-sub         IN CNAME host.sub
mx-glue        IN MX    10 ns.sub
kid      86400 IN NS    ns.kid
ns.kid   86400 IN A     192.0.2.54
"#;

/// A second zone, for chains that cross zones. Negative TTL: min(SOA TTL 30, MINIMUM 300) = 30.
const OTHER: &str = r#"
$ORIGIN other.test.
$TTL 600
@    30 IN SOA   ns1.example.test. hostmaster.example.test. 7 7200 900 1209600 300
@    30 IN NS    ns1.example.test.
www     IN A     192.0.2.180
back    IN CNAME www.example.test.
mail    IN A     192.0.2.125
"#;

/// A child zone of example.test. served by the same server: it answers for names below the cut.
const KID: &str = r#"
$ORIGIN kid.example.test.
$TTL 120
@      120 IN SOA ns hostmaster 1 7200 900 1209600 120
@    86400 IN NS  ns
ns   86400 IN A   192.0.2.54
host       IN A   192.0.2.55
"#;

/// RFC 4592 §2.2.1, verbatim apart from the SOA and the addresses.
const WILD: &str = r#"
$ORIGIN example.
example.                 3600 IN  SOA   ns.example.com. hostmaster.example.com. 1 7200 900 1209600 300
example.                 3600     NS    ns.example.com.
example.                 3600     NS    ns.example.net.
*.example.               3600     TXT   "this is a wildcard"
*.example.               3600     MX    10 host1.example.
sub.*.example.           3600     TXT   "this is not a wildcard"
host1.example.           3600     A     192.0.2.1
_ssh._tcp.host1.example. 3600     SRV   0 0 22 host1.example.
_ssh._tcp.host2.example. 3600     SRV   0 0 22 host2.example.
subdel.example.          3600     NS    ns.example.com.
subdel.example.          3600     NS    ns.example.net.
"#;

const EXAMPLE_NS: &[&str] = &[
    "example.test. 3600 IN NS ns1.example.test.",
    "example.test. 3600 IN NS ns2.example.test.",
];
const EXAMPLE_NS_ADDRS: &[&str] = &[
    "ns1.example.test. 3600 IN A 192.0.2.1",
    "ns1.example.test. 3600 IN AAAA 2001:db8::1",
    "ns2.example.test. 3600 IN A 192.0.2.2",
];
const EXAMPLE_NEG_SOA: &str = "example.test. 60 IN SOA ns1.example.test. hostmaster.example.test. 2024010101 7200 900 1209600 60";
const OTHER_NS: &str = "other.test. 30 IN NS ns1.example.test.";
const OTHER_NEG_SOA: &str =
    "other.test. 30 IN SOA ns1.example.test. hostmaster.example.test. 7 7200 900 1209600 300";
const WILD_NS: &[&str] = &[
    "example. 3600 IN NS ns.example.com.",
    "example. 3600 IN NS ns.example.net.",
];
const WILD_NEG_SOA: &str =
    "example. 300 IN SOA ns.example.com. hostmaster.example.com. 1 7200 900 1209600 300";

/// One query and the whole response expected for it.
struct Case {
    /// `"name TYPE"`, sent exactly as written (case included).
    q: &'static str,
    rcode: ResponseCode,
    aa: bool,
    answer: &'static [&'static str],
    authority: &'static [&'static str],
    additional: &'static [&'static str],
}

/// A `Case` with empty sections and the usual flags; fill in what the case needs.
const NOERROR: Case = Case {
    q: "",
    rcode: ResponseCode::NoError,
    aa: true,
    answer: &[],
    authority: &[],
    additional: &[],
};

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// Sends `qname qtype` with RD=1 (a stub would) and EDNS 1232, and checks the response
/// header: the question echoed exactly, RA=0 (no recursion here), and no truncation.
async fn ask(server: SocketAddr, q: &str, tcp: bool) -> Message {
    let (qname, qtype) = q.split_once(' ').expect("case query is 'name TYPE'");
    let qtype = RecordType::from_str(qtype).expect("record type");
    let msg = query(qname, qtype, true, Some(1232));
    let reply = if tcp {
        support::tcp(server, &msg).await
    } else {
        support::udp(server, &msg).await
    };
    assert_eq!(reply.queries.len(), 1, "{q}: one question");
    assert_eq!(
        reply.queries[0].name().to_ascii(),
        qname,
        "{q}: question echoed with its original case"
    );
    assert_eq!(reply.queries[0].query_type(), qtype, "{q}: qtype echoed");
    assert!(reply.metadata.recursion_desired, "{q}: RD copied");
    assert!(!reply.metadata.recursion_available, "{q}: RA=0");
    assert!(!reply.metadata.truncation, "{q}: TC=0");
    reply
}

async fn check(server: SocketAddr, cases: &[Case]) {
    for (i, case) in cases.iter().enumerate() {
        // Every third case goes over TCP: both transports must give the same answers.
        let tcp = i % 3 == 2;
        let r = ask(server, case.q, tcp).await;
        let q = case.q;
        assert_eq!(r.metadata.response_code, case.rcode, "{q}: rcode");
        assert_eq!(r.metadata.authoritative, case.aa, "{q}: AA");
        assert_eq!(lines(&r.answers), sorted(case.answer), "{q}: answer");
        assert_eq!(
            lines(&r.authorities),
            sorted(case.authority),
            "{q}: authority"
        );
        assert_eq!(
            lines(&r.additionals),
            sorted(case.additional),
            "{q}: additional"
        );
    }
}

async fn start(subnet: u8, zones: &[(&str, &str)]) -> support::TestServer {
    let zones = zones.iter().map(|(o, t)| zone(o, t)).collect();
    support::start_authoritative(SocketAddr::new(addr(subnet, 1), 0), zones).await
}

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
    let r = Record::from_rdata(name(owner), ttl, dname::rdata(&name(target)));
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

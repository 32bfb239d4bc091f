//! The authoritative server over real sockets: every kind of answer RFC 1034 §4.3.2 (with its
//! updates: RFC 2308, 4592, 6672, 6604, 8482) can produce, as tables of zone-file lines.
//!
//! Each test starts its own tern on `127.<subnet>.0.1` (subnets 100..=119) and serves zones
//! written inline below. Positive answers carry the zone's NS RRset in the authority section
//! and the addresses of NS, MX and SRV targets in the additional section, as NSD does.
//! Zones signed offline (`dnssec/`: RRSIGs and NSEC/NSEC3 proofs for DO=1, against NSD and a
//! validating Unbound) use 127.232.0.1–30.

use std::net::SocketAddr;
use std::str::FromStr;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::support::{self, addr, lines, query, zone};

mod aliases;
mod answers;
mod cuts;
mod dnssec;

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

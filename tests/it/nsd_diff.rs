//! Differential test: tern and NSD serve the same zone files (zones/cluster.test.zone and the
//! simulated internet under zones/hierarchy/) and must give the same answers to the same
//! queries — RCODE, AA and TC flags, and every section compared as a set, TTLs included.
//!
//! NSD runs on 127.120.0.1:53 from a generated config in a temporary folder; tern runs
//! in-process on 127.120.0.2. NSD must be installed (tests/run.sh installs it): without it
//! this test fails rather than silently passing.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use crate::support::nsd::Nsd;
use crate::support::{self, TempDir, addr, lines, name, query};
use tern::Zone;

const SUBNET: u8 = 120;

/// The zone files both servers serve: (origin, path).
pub(crate) fn zone_files() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("zones");
    let mut files = vec![("cluster.test.".to_string(), root.join("cluster.test.zone"))];
    let hierarchy = root.join("hierarchy");
    let manifest = std::fs::read_to_string(hierarchy.join("lab.toml")).expect("read lab.toml");
    let manifest: toml::Table = manifest.parse().expect("lab.toml parses");
    let servers = manifest["server"].as_array().expect("[[server]] tables");
    for server in servers {
        for z in server["zones"].as_array().expect("zones array") {
            let origin = z["origin"].as_str().expect("origin").to_string();
            let file = hierarchy.join(z["file"].as_str().expect("file"));
            if !files.iter().any(|(o, _)| *o == origin) {
                files.push((origin, file));
            }
        }
    }
    files
}

/// The same zone files, loaded by tern.
pub(crate) fn load(zones: &[(String, PathBuf)]) -> Vec<Zone> {
    zones
        .iter()
        .map(|(origin, file)| {
            Zone::from_file(file, Some(&name(origin)))
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        })
        .collect()
}

/// How a query is sent.
#[derive(Debug, Clone, Copy)]
enum Via {
    /// UDP with EDNS, advertising 1232 bytes.
    Udp,
    /// UDP without EDNS (512-byte limit).
    UdpPlain,
    /// TCP with EDNS.
    Tcp,
}

/// Everything about a response that the two servers must agree on.
#[derive(Debug, PartialEq)]
struct Summary {
    rcode: String,
    aa: bool,
    tc: bool,
    ra: bool,
    edns: bool,
    question: Vec<String>,
    answer: Vec<String>,
    authority: Vec<String>,
    additional: Vec<String>,
}

fn summarise(m: &Message) -> Summary {
    Summary {
        rcode: m.metadata.response_code.to_string(),
        aa: m.metadata.authoritative,
        tc: m.metadata.truncation,
        ra: m.metadata.recursion_available,
        edns: m.edns.is_some(),
        // The question must be echoed exactly, case included (RFC 1035 §7.3, 0x20 clients).
        question: m
            .queries
            .iter()
            .map(|q| format!("{} {} {}", q.name(), q.query_class(), q.query_type()))
            .collect(),
        answer: lower(lines(&m.answers)),
        authority: lower(lines(&m.authorities)),
        additional: lower(lines(&m.additionals)),
    }
}

/// Names compare case-insensitively (RFC 4343). NSD compresses names in RDATA against the
/// question, so with a mixed-case question its SOA and NS RDATA come back in the question's
/// case; that is not a difference in the data.
fn lower(lines: Vec<String>) -> Vec<String> {
    lines.into_iter().map(|l| l.to_lowercase()).collect()
}

/// A name under the DNAME `old.cluster.test.` that is exactly 255 octets long, so the
/// substitution to `apps.cluster.test.` (one octet longer) overflows: RFC 6672 §2.2 YXDOMAIN.
fn overlong_dname_qname() -> String {
    let l63 = "a".repeat(63);
    let name = format!("{l63}.{l63}.{l63}.{}.old.cluster.test.", "b".repeat(44));
    assert_eq!(name.len() + 1, 255, "wire length of the test name");
    name
}

async fn ask(server: SocketAddr, qname: &str, qtype: RecordType, via: Via) -> Message {
    match via {
        Via::Udp => support::udp(server, &query(qname, qtype, false, Some(1232))).await,
        Via::UdpPlain => support::udp(server, &query(qname, qtype, false, None)).await,
        Via::Tcp => support::tcp(server, &query(qname, qtype, false, Some(1232))).await,
    }
}

/// The queries: every kind of answer RFC 1034 §4.3.2 and its updates can produce.
/// ANY is deliberately absent: NSD with `refuse-any: no` returns every RRset, tern returns one
/// (RFC 8482 §4.1); both are allowed, and tests/it/authority.rs checks tern's choice.
const CASES: &[(&str, RecordType, Via)] = &[
    // cluster.test.: apex data, additional-section addresses, multi-string TXT.
    ("cluster.test.", RecordType::SOA, Via::Udp),
    ("cluster.test.", RecordType::NS, Via::Udp),
    ("cluster.test.", RecordType::MX, Via::Udp),
    ("cluster.test.", RecordType::TXT, Via::Udp),
    ("node1.cluster.test.", RecordType::A, Via::Udp),
    ("node1.cluster.test.", RecordType::AAAA, Via::Udp),
    ("node1.cluster.test.", RecordType::TXT, Via::Udp),
    ("node3.cluster.test.", RecordType::AAAA, Via::Udp),
    ("_http._tcp.cluster.test.", RecordType::SRV, Via::Udp),
    ("_grpc._tcp.cluster.test.", RecordType::SRV, Via::Udp),
    ("ns1.cluster.test.", RecordType::A, Via::Udp),
    // Aliases: in-zone CNAME, the CNAME itself, CNAME into another served zone.
    ("www.cluster.test.", RecordType::A, Via::Udp),
    ("www.cluster.test.", RecordType::CNAME, Via::Udp),
    ("www.cluster.test.", RecordType::TXT, Via::Udp),
    ("docs.cluster.test.", RecordType::A, Via::Udp),
    ("docs.cluster.test.", RecordType::AAAA, Via::Udp),
    // Wildcards (RFC 4592) and empty non-terminals (RFC 8020).
    ("foo.apps.cluster.test.", RecordType::A, Via::Udp),
    ("x.y.apps.cluster.test.", RecordType::A, Via::Udp),
    ("foo.apps.cluster.test.", RecordType::TXT, Via::Udp),
    ("apps.cluster.test.", RecordType::A, Via::Udp),
    ("svc.cluster.test.", RecordType::A, Via::Udp),
    ("b.svc.cluster.test.", RecordType::TXT, Via::Udp),
    ("a.b.svc.cluster.test.", RecordType::TXT, Via::Udp),
    // A literal '*' label is an ordinary name (RFC 4592 §2.1.1), also under a DNAME.
    ("*.apps.cluster.test.", RecordType::A, Via::Udp),
    ("x.*.apps.cluster.test.", RecordType::A, Via::Udp),
    ("*.wild.alpha.test.", RecordType::TXT, Via::Udp),
    ("*.old.cluster.test.", RecordType::A, Via::Udp),
    // Negative answers.
    ("nope.cluster.test.", RecordType::A, Via::Udp),
    ("deeper.nope.cluster.test.", RecordType::AAAA, Via::Udp),
    ("node1.cluster.test.", RecordType::MX, Via::Udp),
    // DNAME (RFC 6672): synthesis, the DNAME itself, the owner's other types.
    ("web.old.cluster.test.", RecordType::A, Via::Udp),
    ("a.b.old.cluster.test.", RecordType::TXT, Via::Udp),
    ("old.cluster.test.", RecordType::DNAME, Via::Udp),
    ("old.cluster.test.", RecordType::A, Via::Udp),
    // Zone cut not served here: referral; DS at the cut answered by the parent.
    ("host.lab.cluster.test.", RecordType::A, Via::Udp),
    ("lab.cluster.test.", RecordType::NS, Via::Udp),
    ("lab.cluster.test.", RecordType::A, Via::Udp),
    ("lab.cluster.test.", RecordType::DS, Via::Udp),
    ("ns.lab.cluster.test.", RecordType::A, Via::Udp),
    // Mixed case: matched case-insensitively, question echoed as sent.
    ("NoDe1.ClUsTeR.TeSt.", RecordType::A, Via::Udp),
    ("WwW.cLuStEr.TeSt.", RecordType::A, Via::Udp),
    ("FOO.Apps.Cluster.Test.", RecordType::A, Via::Udp),
    ("NoPe.CLUSTER.test.", RecordType::A, Via::Udp),
    // The simulated internet: root and TLDs with their children served alongside.
    (".", RecordType::SOA, Via::Udp),
    (".", RecordType::NS, Via::Udp),
    ("a.root-servers.", RecordType::A, Via::Udp),
    ("com.", RecordType::A, Via::Udp),
    ("test.", RecordType::NS, Via::Udp),
    ("nope.test.", RecordType::A, Via::Udp),
    ("ns1.nic.test.", RecordType::A, Via::Udp),
    ("alpha.test.", RecordType::DS, Via::Udp),
    ("alpha.test.", RecordType::NS, Via::Udp),
    ("alpha.test.", RecordType::MX, Via::Udp),
    ("alpha.test.", RecordType::SOA, Via::Udp),
    ("www.alpha.test.", RecordType::A, Via::Udp),
    ("www.alpha.test.", RecordType::AAAA, Via::Udp),
    ("www.alpha.test.", RecordType::TXT, Via::Udp),
    ("short-ttl.alpha.test.", RecordType::A, Via::Udp),
    ("anything.wild.alpha.test.", RecordType::A, Via::Udp),
    ("a.b.wild.alpha.test.", RecordType::A, Via::Udp),
    ("wild.alpha.test.", RecordType::A, Via::Udp),
    ("exists.wild.alpha.test.", RecordType::A, Via::Udp),
    ("cname-cross.alpha.test.", RecordType::A, Via::Udp),
    ("chain1.alpha.test.", RecordType::A, Via::Udp),
    ("loop1.alpha.test.", RecordType::A, Via::Udp),
    ("c3.alpha.test.", RecordType::A, Via::Udp),
    ("c1.alpha.test.", RecordType::A, Via::Udp),
    ("deep.alpha.test.", RecordType::DS, Via::Udp),
    ("deep.alpha.test.", RecordType::NS, Via::Udp),
    ("host.deep.alpha.test.", RecordType::A, Via::Udp),
    ("nope.deep.alpha.test.", RecordType::A, Via::Udp),
    ("www.beta.example.", RecordType::A, Via::Udp),
    ("www.beta.example.", RecordType::TXT, Via::Udp),
    ("alias.beta.example.", RecordType::A, Via::Udp),
    ("beta.example.", RecordType::DS, Via::Udp),
    ("www.glueless.test.", RecordType::A, Via::Udp),
    ("glueless.test.", RecordType::NS, Via::Udp),
    ("www.lame.test.", RecordType::A, Via::Udp),
    ("www.silent.test.", RecordType::A, Via::Udp),
    ("small.big.test.", RecordType::A, Via::Udp),
    // Truncation: the 2.6 KB TXT RRset over UDP (TC=1) and over TCP (whole).
    ("big.big.test.", RecordType::TXT, Via::Udp),
    ("big.big.test.", RecordType::TXT, Via::Tcp),
    ("big.big.test.", RecordType::TXT, Via::UdpPlain),
    // A few over TCP, and a few without EDNS.
    ("cluster.test.", RecordType::MX, Via::Tcp),
    ("host.lab.cluster.test.", RecordType::A, Via::Tcp),
    ("web.old.cluster.test.", RecordType::A, Via::Tcp),
    ("nope.alpha.test.", RecordType::A, Via::Tcp),
    ("_http._tcp.cluster.test.", RecordType::SRV, Via::UdpPlain),
    ("nope.cluster.test.", RecordType::A, Via::UdpPlain),
    ("www.cluster.test.", RecordType::A, Via::UdpPlain),
    ("host.lab.cluster.test.", RecordType::A, Via::UdpPlain),
];

#[tokio::test]
async fn tern_answers_like_nsd() {
    let zones = zone_files();
    let nsd_addr = SocketAddr::new(addr(SUBNET, 1), 53);
    let state = TempDir::new("nsd-diff");
    let mut nsd = Nsd::start(&state.0, nsd_addr.ip(), &zones);

    let tern =
        support::start_authoritative(SocketAddr::new(addr(SUBNET, 2), 0), load(&zones)).await;
    nsd.wait_ready(nsd_addr, "cluster.test.").await;

    let mut cases: Vec<(String, RecordType, Via)> = CASES
        .iter()
        .map(|&(n, t, v)| (n.to_string(), t, v))
        .collect();
    // One octet short of overflowing: an ordinary synthesis; then one that overflows.
    let fits = overlong_dname_qname().replacen('b', "", 1);
    cases.push((fits, RecordType::A, Via::Udp));
    cases.push((overlong_dname_qname(), RecordType::A, Via::Udp));
    cases.push((overlong_dname_qname(), RecordType::A, Via::Tcp));
    assert!(cases.len() >= 40);

    let mut differences = Vec::new();
    for (qname, qtype, via) in &cases {
        let (qname, qtype, via) = (qname.as_str(), *qtype, *via);
        let theirs = summarise(&ask(nsd_addr, qname, qtype, via).await);
        let ours = summarise(&ask(tern.addr, qname, qtype, via).await);
        if ours != theirs {
            differences.push(format!(
                "{qname} {qtype} via {via:?}\n  nsd:  {theirs:?}\n  tern: {ours:?}"
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} queries differ from NSD:\n{}",
        differences.len(),
        cases.len(),
        differences.join("\n")
    );
}

//! A validating Unbound (127.232.0.5:53) with the signed zones' DS records as trust anchors
//! and stub zones pointing at tern (127.232.0.6) resolves through tern: secure answers get
//! AD=1, and a zone with one corrupted RRSIG is bogus (SERVFAIL).

use std::net::SocketAddr;
use std::path::PathBuf;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use super::{Denial, Signed, corrupt_signature, sign};
use crate::support::unbound::Unbound;
use crate::support::{self, TempDir, addr, dnssec_query, exchange};

/// A validating Unbound on `listen` that asks tern (at `tern`) for every signed zone, with
/// their DS records as its trust anchors.
fn start_unbound(
    listen: SocketAddr,
    state: PathBuf,
    tern: SocketAddr,
    zones: &[Signed],
) -> Unbound {
    std::fs::create_dir_all(&state).expect("Unbound state folder");
    let anchors = state.join("anchors");
    let ds: Vec<&str> = zones.iter().map(|z| z.ds.as_str()).collect();
    std::fs::write(&anchors, ds.join("\n") + "\n").expect("write trust anchors");
    let server = format!(
        "  verbosity: 1\n  val-log-level: 2\n  module-config: \"validator iterator\"\n  \
         trust-anchor-file: \"{}\"\n",
        anchors.display()
    );
    let stubs: String = zones
        .iter()
        .map(|z| {
            format!(
                "stub-zone:\n  name: \"{}\"\n  stub-addr: {}@{}\n",
                z.origin,
                tern.ip(),
                tern.port()
            )
        })
        .collect();
    Unbound::start(&state, listen, &server, &stubs)
}

/// Asks with RD=1 and DO=1 over UDP and, when truncated, again over TCP.
async fn ask(server: SocketAddr, qname: &str, qtype: RecordType) -> Message {
    exchange(server, &dnssec_query(qname, qtype, true, true)).await
}

/// A question; the RCODE, the AD bit (`AD`, or `-` for none) and the number of answer records
/// other than RRSIGs expected (a NODATA has none); and why.
const EXPECT: &[(&str, &str, &str)] = &[
    ("www.nsec.test. A", "NOERROR AD 1", "positive"),
    ("nope.nsec.test. A", "NXDOMAIN AD 0", "NXDOMAIN (NSEC)"),
    ("www.nsec.test. MX", "NOERROR AD 0", "NODATA (NSEC)"),
    (
        "b.ent.nsec.test. A",
        "NOERROR AD 0",
        "NODATA at an empty non-terminal",
    ),
    ("x.wild.nsec.test. A", "NOERROR AD 1", "wildcard"),
    ("x.wild.nsec.test. MX", "NOERROR AD 0", "wildcard NODATA"),
    ("chain.nsec.test. A", "NOERROR AD 3", "CNAME chain"),
    ("insecure.nsec.test. DS", "NOERROR AD 0", "no DS (NSEC)"),
    ("secure.nsec.test. DS", "NOERROR AD 1", "DS"),
    ("www.nsec3.test. A", "NOERROR AD 1", "positive (NSEC3)"),
    ("nope.nsec3.test. A", "NXDOMAIN AD 0", "NXDOMAIN (NSEC3)"),
    (
        "deep.nope.nsec3.test. A",
        "NXDOMAIN AD 0",
        "NXDOMAIN two labels below",
    ),
    ("www.nsec3.test. MX", "NOERROR AD 0", "NODATA (NSEC3)"),
    (
        "b.ent.nsec3.test. A",
        "NOERROR AD 0",
        "NODATA at an ENT (NSEC3)",
    ),
    ("x.y.wild.nsec3.test. A", "NOERROR AD 1", "wildcard (NSEC3)"),
    (
        "x.wild.nsec3.test. MX",
        "NOERROR AD 0",
        "wildcard NODATA (NSEC3)",
    ),
    ("insecure.nsec3.test. DS", "NOERROR AD 0", "no DS (NSEC3)"),
    ("www.optout.test. A", "NOERROR AD 1", "positive (RSASHA256)"),
    (
        "www.optout.test. MX",
        "NOERROR AD 0",
        "NODATA (opt-out zone)",
    ),
    (
        "chain.optout.test. A",
        "NOERROR AD 3",
        "CNAME chain (RSASHA256)",
    ),
    // RFC 5155 §9.2: a span with the opt-out flag proves nothing secure about the names in
    // it, so these are insecure (AD=0); but their proofs are valid: not bogus, no SERVFAIL.
    (
        "nope.optout.test. A",
        "NXDOMAIN - 0",
        "NXDOMAIN in an opt-out span",
    ),
    (
        "x.wild.optout.test. A",
        "NOERROR - 1",
        "wildcard in an opt-out span",
    ),
    (
        "insecure.optout.test. DS",
        "NOERROR - 0",
        "opt-out delegation",
    ),
    // One RRSIG corrupted: that RRset is bogus; the rest of the zone still validates.
    ("www.bogus.test. A", "SERVFAIL - 0", "corrupted RRSIG"),
    (
        "www.bogus.test. AAAA",
        "NOERROR AD 1",
        "the RRset beside it",
    ),
];

/// A response as `EXPECT` writes it.
fn outcome(m: &Message) -> String {
    let rcode = match m.metadata.response_code {
        ResponseCode::NoError => "NOERROR".to_string(),
        ResponseCode::NXDomain => "NXDOMAIN".to_string(),
        ResponseCode::ServFail => "SERVFAIL".to_string(),
        other => other.to_string(),
    };
    let ad = if m.metadata.authentic_data { "AD" } else { "-" };
    let data = m
        .answers
        .iter()
        .filter(|r| r.record_type() != RecordType::RRSIG)
        .count();
    format!("{rcode} {ad} {data}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validating_unbound_accepts_tern_signed_answers() {
    let dir = TempDir::new("dnssec-unbound");
    let keys = dir.sub("keys");
    let zones = [
        sign(&keys, "nsec.test.", "ECDSAP256SHA256", Denial::Nsec),
        sign(&keys, "optout.test.", "RSASHA256", Denial::Nsec3OptOut),
        sign(&keys, "nsec3.test.", "ECDSAP256SHA256", Denial::Nsec3),
        sign(&keys, "bogus.test.", "ECDSAP256SHA256", Denial::Nsec),
    ];
    corrupt_signature(&zones[3], "www.bogus.test.", "A");
    let tern = support::start_authoritative(
        SocketAddr::new(addr(232, 6), 0),
        zones.iter().map(Signed::zone).collect(),
    )
    .await;
    let unbound_addr = SocketAddr::new(addr(232, 5), 53);
    let mut unbound = start_unbound(unbound_addr, dir.sub("unbound"), tern.addr, &zones);
    let probe = dnssec_query("nsec.test.", RecordType::SOA, true, true);
    unbound.wait_ready(unbound_addr, &probe).await;

    let mut wrong = Vec::new();
    for (question, expected, why) in EXPECT {
        let (qname, qtype) = question.split_once(' ').expect("name TYPE");
        let m = ask(unbound_addr, qname, qtype.parse().expect("type")).await;
        let got = outcome(&m);
        if got != *expected {
            wrong.push(format!(
                "{question} ({why}): expected {expected}, got {got}"
            ));
        }
    }
    let log = unbound.log();
    assert!(
        wrong.is_empty(),
        "{}\nunbound log:\n{log}",
        wrong.join("\n")
    );
}

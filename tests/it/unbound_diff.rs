//! Differential test against Unbound: the same lab hierarchy, the same questions with RD=1 to
//! Unbound (127.180.0.53) and to tern (127.180.0.54); the RCODE and the answer section, as a
//! set of (name, type, rdata), must agree, and every TTL must be at most the zone's TTL.
//!
//! Where tern deliberately differs (its 10-CNAME limit), or Unbound is known to be flaky
//! (PEERS.md), the question is compared against the right answer instead, listed in
//! `EXPECTED`.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::Path;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Record, RecordType};
use tern::Acl;

use crate::support::unbound::Unbound;
use crate::support::{Lab, TempDir, addr, exchange, query, recursive_over, start_lab};

const SUBNET: u8 = 180;

/// Every name and type of the hierarchy worth asking (≥ 50 questions).
const QUESTIONS: &[(&str, &str)] = &[
    ("www.alpha.test.", "A"),
    ("www.alpha.test.", "AAAA"),
    ("www.alpha.test.", "TXT"),
    ("www.alpha.test.", "MX"),
    ("alpha.test.", "NS"),
    ("alpha.test.", "SOA"),
    ("alpha.test.", "MX"),
    ("alpha.test.", "TXT"),
    ("mail.alpha.test.", "A"),
    ("mail.alpha.test.", "MX"),
    ("ns1.alpha.test.", "A"),
    ("short-ttl.alpha.test.", "A"),
    ("cname-cross.alpha.test.", "A"),
    ("cname-cross.alpha.test.", "CNAME"),
    ("chain1.alpha.test.", "A"),
    ("chain2.alpha.test.", "AAAA"),
    ("chain1.alpha.test.", "TXT"),
    ("alias.beta.example.", "A"),
    ("alias.beta.example.", "AAAA"),
    ("c3.alpha.test.", "A"),
    ("c1.alpha.test.", "A"),
    ("c2.alpha.test.", "A"),
    ("loop1.alpha.test.", "A"),
    ("anything.wild.alpha.test.", "A"),
    ("a.b.wild.alpha.test.", "A"),
    ("anything.wild.alpha.test.", "AAAA"),
    ("wild.alpha.test.", "A"),
    ("exists.wild.alpha.test.", "TXT"),
    ("exists.wild.alpha.test.", "A"),
    ("nope.alpha.test.", "A"),
    ("nope.alpha.test.", "AAAA"),
    ("host.deep.alpha.test.", "A"),
    ("deep.alpha.test.", "NS"),
    ("deep.alpha.test.", "SOA"),
    ("nope.deep.alpha.test.", "A"),
    ("www.beta.example.", "A"),
    ("www.beta.example.", "AAAA"),
    ("www.beta.example.", "TXT"),
    ("beta.example.", "NS"),
    ("ns1.beta.example.", "A"),
    ("www.glueless.test.", "A"),
    ("glueless.test.", "NS"),
    ("glueless.test.", "SOA"),
    ("nope.glueless.test.", "A"),
    ("www.lame.test.", "A"),
    ("www.lame.test.", "AAAA"),
    ("lame.test.", "NS"),
    ("nope.lame.test.", "A"),
    ("www.silent.test.", "A"),
    ("silent.test.", "NS"),
    ("nope.silent.test.", "A"),
    ("big.big.test.", "TXT"),
    ("small.big.test.", "A"),
    ("big.test.", "NS"),
    ("test.", "NS"),
    ("test.", "SOA"),
    ("example.", "SOA"),
    ("nope.test.", "A"),
    ("nope.example.", "A"),
    ("nope.", "A"),
    ("WWW.ALPHA.TEST.", "A"),
    ("Www.Beta.Example.", "AAAA"),
    ("Host.Deep.Alpha.Test.", "A"),
];

/// Questions compared against the right answer instead of Unbound, and why.
/// (rcode, number of answer records)
const EXPECTED: &[(&str, &str, ResponseCode, usize, &str)] = &[
    (
        "c1.alpha.test.",
        "A",
        ResponseCode::ServFail,
        0,
        "12 CNAMEs: tern stops at 10 (PowerDNS's limit); Unbound takes the whole in-zone chain",
    ),
    (
        "c2.alpha.test.",
        "A",
        ResponseCode::ServFail,
        0,
        "11 CNAMEs: tern stops at 10 (PowerDNS's limit); Unbound takes the whole in-zone chain",
    ),
];

/// Unbound over `lab`'s hierarchy on `listen`, its state in `state`; `server` is more
/// `server:` lines: its module-config, and a trust anchor to validate with.
pub(crate) fn start_unbound(lab: &Lab, state: &Path, listen: SocketAddr, server: &str) -> Unbound {
    std::fs::create_dir_all(state).expect("state dir");
    let hints = state.join("root.hints");
    std::fs::write(&hints, lab.files.root_hints().expect("hints")).expect("write hints");
    let server = format!(
        "  verbosity: 1\n  root-hints: \"{}\"\n  local-zone: \"example.\" nodefault\n{server}",
        hints.display()
    );
    Unbound::start(state, listen, &server, "")
}

/// Waits until Unbound answers a name of the lab.
pub(crate) async fn wait_ready(server: SocketAddr, unbound: &mut Unbound) {
    let probe = query("ns2.nic.test.", RecordType::A, true, Some(1232));
    unbound.wait_ready(server, &probe).await;
}

/// Asks with RD=1 and EDNS, over TCP too when the UDP answer is truncated.
async fn ask(server: SocketAddr, qname: &str, qtype: RecordType) -> Message {
    exchange(server, &query(qname, qtype, true, Some(1232))).await
}

type Rr = (String, RecordType, String);

fn rrset(records: &[Record]) -> BTreeSet<Rr> {
    records
        .iter()
        .filter(|r| r.record_type() != RecordType::OPT)
        .map(|r| {
            (
                r.name.to_ascii().to_lowercase(),
                r.record_type(),
                r.data.to_string().to_lowercase(),
            )
        })
        .collect()
}

/// Zone TTLs of every record of the lab, by (name, type, rdata) and by (type, rdata) for
/// wildcard-synthesised owners.
fn zone_ttls(lab: &Lab) -> (HashMap<Rr, u32>, HashMap<(RecordType, String), u32>) {
    let mut exact = HashMap::new();
    let mut loose = HashMap::new();
    for server in lab.files.servers().expect("lab") {
        for zone in server.catalog.zones() {
            for r in zone.records() {
                let key = (
                    r.name.to_ascii().to_lowercase(),
                    r.record_type(),
                    r.data.to_string().to_lowercase(),
                );
                // The child's TTL, not the parent's delegation or glue TTL, bounds an answer.
                let t = exact.entry(key.clone()).or_insert(u32::MAX);
                *t = (*t).min(r.ttl);
                let t = loose.entry((key.1, key.2)).or_insert(0);
                *t = (*t).max(r.ttl);
            }
        }
    }
    (exact, loose)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_match_unbound() {
    let lab = start_lab(SUBNET).await;
    let unbound_addr = SocketAddr::new(addr(SUBNET, 53), 53);
    let state = TempDir::new("unbound-diff");
    let mut unbound = start_unbound(
        &lab,
        &state.0,
        unbound_addr,
        "  module-config: \"iterator\"\n",
    );
    wait_ready(unbound_addr, &mut unbound).await;
    let (exact, loose) = zone_ttls(&lab);
    let tern = recursive_over(lab, SocketAddr::new(addr(SUBNET, 54), 53), Acl::loopback()).await;

    let mut divergences = Vec::new();
    for (qname, qtype) in QUESTIONS {
        let qtype: RecordType = qtype.parse().expect("type");
        let ours = ask(tern.server.addr, qname, qtype).await;
        let what = format!("{qname} {qtype}");
        if let Some((_, _, rcode, count, why)) = EXPECTED
            .iter()
            .find(|e| e.0 == *qname && e.1 == qtype.to_string())
        {
            if ours.metadata.response_code != *rcode || ours.answers.len() != *count {
                divergences.push(format!(
                    "{what}: expected {rcode} with {count} answers ({why}), tern gave {} with {}",
                    ours.metadata.response_code,
                    ours.answers.len()
                ));
            }
            continue;
        }
        let theirs = ask(unbound_addr, qname, qtype).await;
        if ours.metadata.response_code != theirs.metadata.response_code {
            divergences.push(format!(
                "{what}: rcode tern {} unbound {}",
                ours.metadata.response_code, theirs.metadata.response_code
            ));
        }
        let flags = |m: &Message| (m.metadata.recursion_available, m.metadata.authoritative);
        if flags(&ours) != flags(&theirs) {
            divergences.push(format!(
                "{what}: (RA, AA) tern {:?} unbound {:?}",
                flags(&ours),
                flags(&theirs)
            ));
        }
        let (a, b) = (rrset(&ours.answers), rrset(&theirs.answers));
        if a != b {
            divergences.push(format!(
                "{what}: answers differ\n  tern:    {a:?}\n  unbound: {b:?}"
            ));
        }
        // Negative answers: both carry the SOA of the same zone.
        if ours.answers.is_empty() && ours.metadata.response_code != ResponseCode::ServFail {
            let soa = |m: &Message| -> BTreeSet<String> {
                m.authorities
                    .iter()
                    .filter(|r| r.record_type() == RecordType::SOA)
                    .map(|r| r.name.to_ascii().to_lowercase())
                    .collect()
            };
            if soa(&ours) != soa(&theirs) {
                divergences.push(format!(
                    "{what}: negative SOA tern {:?} unbound {:?}",
                    soa(&ours),
                    soa(&theirs)
                ));
            }
        }
        for (server, m) in [("tern", &ours), ("unbound", &theirs)] {
            for r in &m.answers {
                let key = (
                    r.name.to_ascii().to_lowercase(),
                    r.record_type(),
                    r.data.to_string().to_lowercase(),
                );
                let zone_ttl = exact
                    .get(&key)
                    .or_else(|| loose.get(&(key.1, key.2.clone())))
                    .copied();
                match zone_ttl {
                    Some(t) if r.ttl <= t => {}
                    other => divergences.push(format!(
                        "{what}: {server} TTL {} for {key:?} (zone TTL {other:?})",
                        r.ttl
                    )),
                }
            }
        }
    }
    assert!(
        QUESTIONS.len() >= 50,
        "at least 50 questions ({})",
        QUESTIONS.len()
    );
    assert!(
        divergences.is_empty(),
        "{} divergences from Unbound:\n{}",
        divergences.len(),
        divergences.join("\n")
    );
    drop(unbound);
}

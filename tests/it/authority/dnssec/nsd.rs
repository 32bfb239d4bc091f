//! Differential test: NSD (127.232.0.1:53) and tern (127.232.0.2) serve the same signed zone
//! files — NSEC with ECDSAP256SHA256, NSEC3 with opt-out and RSASHA256, NSEC3 without — and
//! must give the same answers: RCODE, AA, TC, and every section as a set of records, with
//! DO=1 (over UDP, where the bigger RSA answers are truncated, and over TCP) and with DO=0.

use std::net::SocketAddr;

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use super::{Denial, Signed, sign};
use crate::support::nsd::Nsd;
use crate::support::{self, TempDir, addr, dnssec_query, lines};

#[derive(Debug, Clone, Copy)]
enum Via {
    /// UDP, EDNS 1232, DO=1.
    UdpDo,
    /// TCP, DO=1.
    TcpDo,
    /// UDP, EDNS 1232, DO=0.
    Udp,
}

/// What the two servers must agree on; sections only when the response is not truncated (a
/// truncated response's content is to be ignored, RFC 2181 §9, and the servers cut it in
/// different places).
#[derive(Debug, PartialEq)]
struct Summary {
    rcode: String,
    aa: bool,
    tc: bool,
    sections: Option<[Vec<String>; 3]>,
}

fn summarise(m: &Message) -> Summary {
    // Names compare case-insensitively (RFC 4343); signatures are lower-cased on both sides.
    let lower = |v: Vec<String>| v.into_iter().map(|l| l.to_lowercase()).collect();
    Summary {
        rcode: m.metadata.response_code.to_string(),
        aa: m.metadata.authoritative,
        tc: m.metadata.truncation,
        sections: (!m.metadata.truncation).then(|| {
            [
                lower(lines(&m.answers)),
                lower(lines(&m.authorities)),
                lower(lines(&m.additionals)),
            ]
        }),
    }
}

async fn ask(server: SocketAddr, qname: &str, qtype: RecordType, via: Via) -> Message {
    let dnssec_ok = !matches!(via, Via::Udp);
    let q = dnssec_query(qname, qtype, false, dnssec_ok);
    match via {
        Via::TcpDo => support::tcp(server, &q).await,
        Via::UdpDo | Via::Udp => support::udp(server, &q).await,
    }
}

/// Every kind of answer a signed zone gives, relative to its origin ("" is the apex).
const QUESTIONS: &[(&str, RecordType)] = &[
    ("", RecordType::SOA),
    ("", RecordType::NS),
    ("", RecordType::DNSKEY),
    ("", RecordType::MX),
    ("", RecordType::DS),
    ("", RecordType::NSEC3PARAM),
    ("www.", RecordType::A),
    ("www.", RecordType::AAAA),
    ("WwW.", RecordType::A),
    ("www.", RecordType::RRSIG),
    ("www.", RecordType::NSEC),
    // NODATA, NXDOMAIN, empty non-terminals.
    ("www.", RecordType::MX),
    ("nope.", RecordType::A),
    ("deep.nope.", RecordType::AAAA),
    ("b.ent.", RecordType::A),
    ("ent.", RecordType::TXT),
    ("a.b.ent.", RecordType::TXT),
    // Wildcards: answer, NODATA, the source itself, its parent (an empty non-terminal).
    ("x.wild.", RecordType::A),
    ("x.y.wild.", RecordType::TXT),
    ("x.wild.", RecordType::MX),
    ("*.wild.", RecordType::A),
    ("wild.", RecordType::A),
    // CNAMEs.
    ("alias.", RecordType::A),
    ("chain.", RecordType::A),
    ("chain.", RecordType::CNAME),
    ("alias.", RecordType::MX),
    // Delegations: DS at the cut, referrals to the signed and the unsigned child.
    ("secure.", RecordType::DS),
    ("secure.", RecordType::NS),
    ("www.secure.", RecordType::A),
    ("insecure.", RecordType::DS),
    ("insecure.", RecordType::NS),
    ("www.insecure.", RecordType::A),
    ("ns.insecure.", RecordType::A),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_answers_match_nsd() {
    let dir = TempDir::new("dnssec-nsd");
    let keys = dir.sub("keys");
    let zones = [
        sign(&keys, "nsec.test.", "ECDSAP256SHA256", Denial::Nsec),
        sign(&keys, "optout.test.", "RSASHA256", Denial::Nsec3OptOut),
        sign(&keys, "nsec3.test.", "ECDSAP256SHA256", Denial::Nsec3),
    ];
    let nsd_addr = SocketAddr::new(addr(232, 1), 53);
    let served: Vec<_> = zones
        .iter()
        .map(|z| (z.origin.clone(), z.file.clone()))
        .collect();
    let mut nsd = Nsd::start(&dir.sub("nsd"), nsd_addr.ip(), &served);
    let tern = support::start_authoritative(
        SocketAddr::new(addr(232, 2), 0),
        zones.iter().map(Signed::zone).collect(),
    )
    .await;
    nsd.wait_ready(nsd_addr, "nsec.test.").await;

    let mut questions: Vec<(String, RecordType)> = Vec::new();
    for z in &zones {
        for (relative, qtype) in QUESTIONS {
            questions.push((format!("{relative}{}", z.origin), *qtype));
        }
        // RFC 5155 §7.2.8: a hashed owner name is no name of the zone.
        if let Some(hashed) = z.hashed_owner() {
            questions.push((hashed.clone(), RecordType::A));
            questions.push((hashed, RecordType::NSEC3));
        }
    }
    let mut differences = Vec::new();
    let mut truncated = 0;
    for (qname, qtype) in &questions {
        for via in [Via::UdpDo, Via::TcpDo, Via::Udp] {
            let theirs = summarise(&ask(nsd_addr, qname, *qtype, via).await);
            let ours = summarise(&ask(tern.addr, qname, *qtype, via).await);
            truncated += usize::from(ours.tc);
            if ours != theirs {
                differences.push(format!(
                    "{qname} {qtype} via {via:?}\n  nsd:  {theirs:?}\n  tern: {ours:?}"
                ));
            }
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} answers differ from NSD:\n{}",
        differences.len(),
        questions.len() * 3,
        differences.join("\n")
    );
    // The RSA zone's negative answers do not fit 1232 octets with DO=1: the size limit holds.
    assert!(truncated > 0, "some DO=1 answers over UDP are truncated");
}

//! Transport correctness over real loopback sockets: UDP and TCP agree, TCP framing and
//! pipelining (RFC 7766), idle timeout and connection cap, EDNS(0) (RFC 6891), UDP truncation
//! to whole RRsets (RFC 2181 §9), and what a server must do with malformed packets: FORMERR,
//! NOTIMP, or silence — and keep serving afterwards.
//!
//! Malformed packets are written as raw bytes on purpose: an encoder would refuse to make them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use tern::Metrics;
use tern::TcpLimits;
use tern::{Catalog, Zone};
use tern::{ListenerLimits, NameServer};

use crate::support::{self, TestServer};

mod doh;
mod garbage;
mod malformed;
mod stream_hits;
mod stream_options;
mod tcp;
mod tls;

/// How long to wait before deciding the server sent nothing.
const SILENCE: Duration = Duration::from_millis(300);

/// One TXT string of 100 bytes, numbered so each record is distinct.
fn txt_line(owner: &str, i: usize) -> String {
    format!("{owner} IN TXT \"{i:02}{}\"\n", "x".repeat(98))
}

/// `medium` (6 × ~113 bytes) fits 1232 but not 512; `big` (20 × ~113 bytes) fits neither;
/// `alias` is a CNAME to `big`, so its answer has two RRsets; the referral to `deep` carries
/// 16 glue records that fit 1232 bytes but not 512.
fn zone() -> Zone {
    let mut text = String::from(
        "$TTL 300\n\
         @ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n\
         @ IN NS ns1\n\
         ns1 IN A 192.0.2.53\n\
         www IN A 192.0.2.1\n\
         www IN A 192.0.2.2\n\
         www IN AAAA 2001:db8::1\n\
         alias IN CNAME big\n",
    );
    for i in 0..8 {
        let ns = format!("a-rather-long-name-server-label-{i}.deep");
        text.push_str(&format!(
            "deep IN NS {ns}\n{ns} IN A 192.0.2.{i}\n{ns} IN AAAA 2001:db8::{i}\n"
        ));
    }
    for i in 0..6 {
        text.push_str(&txt_line("medium", i));
    }
    for i in 0..20 {
        text.push_str(&txt_line("big", i));
    }
    support::zone("transport.test.", &text)
}

async fn start(subnet: u8) -> TestServer {
    support::start_authoritative(SocketAddr::new(support::addr(subnet, 1), 0), vec![zone()]).await
}

/// A server whose TCP listener has the given limits (the shared helper uses the defaults).
async fn start_with_limits(subnet: u8, limits: TcpLimits) -> TestServer {
    let catalog = Catalog::new(vec![zone()]).expect("one zone");
    let node =
        NameServer::fixed(catalog, Arc::new(Metrics::default())).listener_limits(ListenerLimits {
            tcp: limits,
            ..ListenerLimits::default()
        });
    support::start_fixed(SocketAddr::new(support::addr(subnet, 1), 0), node).await
}

/// A raw query: header with the given flags byte 2 and section counts, then `body`.
fn raw(id: u16, flags: u8, qdcount: u16, arcount: u16, body: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&id.to_be_bytes());
    b.push(flags);
    b.push(0);
    b.extend_from_slice(&qdcount.to_be_bytes());
    b.extend_from_slice(&0u16.to_be_bytes());
    b.extend_from_slice(&0u16.to_be_bytes());
    b.extend_from_slice(&arcount.to_be_bytes());
    b.extend_from_slice(body);
    b
}

/// `www.transport.test. A IN` in wire form.
fn www_question() -> Vec<u8> {
    let mut q = Vec::new();
    for label in ["www", "transport", "test"] {
        q.push(u8::try_from(label.len()).expect("short label"));
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// The server still answers a normal query over UDP and TCP.
async fn assert_still_serving(server: SocketAddr) {
    let q = support::query("www.transport.test.", RecordType::A, false, None);
    let r = support::udp(server, &q).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert_eq!(r.answers.len(), 2, "UDP still answers");
    let r = support::tcp(server, &q).await;
    assert_eq!(r.answers.len(), 2, "TCP still answers");
}

/// Sends raw bytes over UDP and expects a reply with `rcode` echoing `id`.
async fn expect_rcode(
    server: SocketAddr,
    bytes: &[u8],
    rcode: ResponseCode,
    what: &str,
) -> Message {
    let reply = support::udp_raw(server, bytes, support::REPLY_TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("{what}: no reply"));
    let m = Message::from_vec(&reply).unwrap_or_else(|e| panic!("{what}: reply parses: {e}"));
    assert_eq!(
        m.metadata.message_type,
        MessageType::Response,
        "{what}: QR=1"
    );
    assert_eq!(
        m.metadata.id,
        u16::from_be_bytes([bytes[0], bytes[1]]),
        "{what}: id"
    );
    assert_eq!(m.metadata.response_code, rcode, "{what}: rcode");
    m
}

/// Sends one query on `stream` and says whether it was answered.
async fn answered(stream: &mut TcpStream) -> bool {
    let q = support::query("www.transport.test.", RecordType::A, false, None);
    let bytes = q.to_vec().expect("encode");
    let len = u16::try_from(bytes.len()).expect("fits").to_be_bytes();
    if stream.write_all(&len).await.is_err() || stream.write_all(&bytes).await.is_err() {
        return false;
    }
    support::tcp_recv(stream)
        .await
        .and_then(|r| Message::from_vec(&r).ok())
        .is_some_and(|m| m.metadata.id == q.metadata.id)
}

#[tokio::test]
async fn udp_and_tcp_give_the_same_answer() {
    let s = start(140).await;
    for (qname, qtype) in [
        ("www.transport.test.", RecordType::A),
        ("www.transport.test.", RecordType::AAAA),
        ("nope.transport.test.", RecordType::A),
        ("medium.transport.test.", RecordType::TXT),
    ] {
        let q = support::query(qname, qtype, false, Some(1232));
        let u = support::udp(s.addr, &q).await;
        let t = support::tcp(s.addr, &q).await;
        assert!(!u.metadata.truncation, "{qname} fits in UDP");
        assert_eq!(u.metadata, t.metadata, "{qname} {qtype}: header");
        assert_eq!(u.queries, t.queries, "{qname} {qtype}: question");
        assert_eq!(support::lines(&u.answers), support::lines(&t.answers));
        assert_eq!(
            support::lines(&u.authorities),
            support::lines(&t.authorities)
        );
        assert_eq!(
            support::lines(&u.additionals),
            support::lines(&t.additionals)
        );
    }
}

#[tokio::test]
async fn edns_opt_is_echoed_only_when_asked() {
    let s = start(144).await;

    let mut q = support::query("www.transport.test.", RecordType::A, false, Some(4096));
    if let Some(e) = q.edns.as_mut() {
        e.set_dnssec_ok(true);
    }
    for r in [
        support::udp(s.addr, &q).await,
        support::tcp(s.addr, &q).await,
    ] {
        let edns = r.edns.as_ref().expect("OPT in the reply");
        assert_eq!(edns.max_payload(), 1232, "our payload size");
        assert_eq!(edns.version(), 0);
        assert!(edns.flags().dnssec_ok, "DO copied (RFC 3225 §3)");
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        assert_eq!(r.answers.len(), 2);
        let opts = r
            .additionals
            .iter()
            .filter(|rr| rr.record_type() == RecordType::OPT)
            .count();
        assert_eq!(opts, 0, "OPT is carried as edns, not as a plain additional");
    }

    let plain = support::query("www.transport.test.", RecordType::A, false, None);
    let r = support::udp(s.addr, &plain).await;
    assert!(r.edns.is_none(), "no OPT without one in the query");
    let r = support::tcp(s.addr, &plain).await;
    assert!(r.edns.is_none(), "no OPT without one in the query (TCP)");
}

#[tokio::test]
async fn unknown_edns_version_gets_badvers_with_opt() {
    let s = start(152).await;
    let mut q = support::query("www.transport.test.", RecordType::A, false, Some(1232));
    if let Some(e) = q.edns.as_mut() {
        e.set_version(1);
    }
    // Checked on the raw bytes too: the extended RCODE is 16 = (1 << 4) | 0, its upper eight
    // bits in the OPT TTL (RFC 6891 §6.1.3).
    let bytes = support::udp_raw(s.addr, &q.to_vec().expect("encode"), support::REPLY_TIMEOUT)
        .await
        .expect("reply");
    assert_eq!(bytes[3] & 0x0f, 0, "low four bits of BADVERS");
    let r = Message::from_vec(&bytes).expect("parses");
    // BADVERS and BADSIG share the value 16; hickory decodes it as BADSIG, so compare numbers.
    assert_eq!(u16::from(r.metadata.response_code), 16, "BADVERS");
    let edns = r.edns.as_ref().expect("BADVERS needs an OPT");
    assert_eq!(edns.rcode_high(), 1);
    assert_eq!(edns.version(), 0, "we answer with the version we speak");
    assert!(r.answers.is_empty());
}

#[tokio::test]
async fn udp_answers_are_truncated_to_whole_rrsets() {
    let s = start(145).await;

    // No EDNS: 512 bytes. The whole TXT RRset does not fit, so none of it is sent.
    let q = support::query("medium.transport.test.", RecordType::TXT, false, None);
    let bytes = support::udp_raw(s.addr, &q.to_vec().expect("encode"), support::REPLY_TIMEOUT)
        .await
        .expect("reply");
    assert!(bytes.len() <= 512, "{} bytes", bytes.len());
    let r = Message::from_vec(&bytes).expect("parses");
    assert!(r.metadata.truncation, "TC=1");
    assert!(r.answers.is_empty(), "no partial RRset: {:?}", r.answers);

    // The CNAME fits, the TXT RRset it leads to does not: the CNAME alone, with TC=1.
    let q = support::query("alias.transport.test.", RecordType::TXT, false, None);
    let r = support::udp(s.addr, &q).await;
    assert!(r.metadata.truncation);
    let types: Vec<_> = r.answers.iter().map(|a| a.record_type()).collect();
    assert_eq!(types, [RecordType::CNAME], "whole RRsets only");

    // EDNS 4096: our 1232 applies, so `medium` fits whole and `big` does not.
    let q = support::query("medium.transport.test.", RecordType::TXT, false, Some(4096));
    let r = support::udp(s.addr, &q).await;
    assert!(!r.metadata.truncation);
    assert_eq!(r.answers.len(), 6);
    let q = support::query("big.transport.test.", RecordType::TXT, false, Some(4096));
    let bytes = support::udp_raw(s.addr, &q.to_vec().expect("encode"), support::REPLY_TIMEOUT)
        .await
        .expect("reply");
    assert!(bytes.len() <= 1232, "{} bytes", bytes.len());
    let r = Message::from_vec(&bytes).expect("parses");
    assert!(r.metadata.truncation, "TC=1 past 1232 bytes");
    assert!(r.answers.is_empty());
    assert!(r.edns.is_some(), "OPT kept in a truncated reply");

    // The same question over TCP: everything.
    let r = support::tcp(s.addr, &q).await;
    assert!(!r.metadata.truncation);
    assert_eq!(r.answers.len(), 20);
    let strings: std::collections::BTreeSet<String> = r
        .answers
        .iter()
        .filter_map(|a| match &a.data {
            RData::TXT(t) => Some(t.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(strings.len(), 20, "20 distinct TXT records");
}

#[tokio::test]
async fn referral_glue_that_does_not_fit_sets_tc() {
    let s = start(153).await;
    // EDNS 1232: the referral fits whole, all in-domain glue included.
    let q = support::query(
        "host.deep.transport.test.",
        RecordType::A,
        false,
        Some(1232),
    );
    let r = support::udp(s.addr, &q).await;
    assert!(!r.metadata.truncation);
    assert_eq!(r.authorities.len(), 8, "NS RRset");
    assert_eq!(r.additionals.len(), 16, "every in-domain glue address");

    // 512 bytes: the NS RRset would fit without the glue, but a referral missing in-domain
    // glue is useless (RFC 9471 §3), so TC=1 and the client retries over TCP.
    let q = support::query("host.deep.transport.test.", RecordType::A, false, None);
    let bytes = support::udp_raw(s.addr, &q.to_vec().expect("encode"), support::REPLY_TIMEOUT)
        .await
        .expect("reply");
    assert!(bytes.len() <= 512);
    let r = Message::from_vec(&bytes).expect("parses");
    assert!(
        r.metadata.truncation,
        "TC=1 rather than a referral without its glue"
    );
    let r = support::tcp(s.addr, &q).await;
    assert!(!r.metadata.truncation);
    assert_eq!((r.authorities.len(), r.additionals.len()), (8, 16));
}

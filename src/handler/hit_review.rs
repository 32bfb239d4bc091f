//! Review of the hit path against the full path: the same question, asked later, gets the same
//! records and TTLs whether the message tier answers it or the resolver's RRset tier does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use tokio::time::advance;

use crate::authority::Catalog;
use crate::cache::{Cache, CachePolicy};
use crate::handler::{Acl, Handler, HandlerConfig, Recursion, Transport};
use crate::metrics::Metrics;
use crate::resolver::fake::FakeNet;
use crate::resolver::{Resolver, ResolverConfig};

fn client() -> SocketAddr {
    "127.137.0.1:40000".parse().expect("address")
}

fn recursive(net: &Arc<FakeNet>) -> Handler {
    let metrics = Arc::new(Metrics::default());
    let upstream = Arc::clone(net) as Arc<dyn crate::resolver::Upstream>;
    let cache = Arc::new(Cache::new(CachePolicy::default()));
    let resolver = Resolver::new(
        upstream,
        FakeNet::lab_hints(),
        cache,
        ResolverConfig::default(),
        Arc::clone(&metrics),
    );
    let recursion = Recursion {
        resolver: Arc::new(resolver),
        acl: Acl::new(vec!["127.0.0.0/8".parse().expect("net")]),
        snoop: Acl::new(Vec::new()),
    };
    Handler::new(Catalog::default(), HandlerConfig::default(), metrics).with_recursion(recursion)
}

fn query(qname: &str, qtype: RecordType, payload: Option<u16>) -> Vec<u8> {
    let mut m = Message::new(0x5151, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(qname).expect("name"), qtype));
    if let Some(p) = payload {
        let mut e = Edns::new();
        e.set_max_payload(p);
        m.set_edns(e);
    }
    m.to_vec().expect("encodes")
}

/// Header flags and every record with its TTL, sections in order.
fn shape(wire: &[u8]) -> (u8, u8, Vec<String>) {
    let m = Message::from_vec(wire).expect("reply parses");
    let records = [&m.answers, &m.authorities, &m.additionals]
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.iter().map(move |r| (i, r)))
        .map(|(i, r)| {
            format!(
                "{i} {} {} {}",
                r.name.to_lowercase(),
                r.record_type(),
                r.ttl
            )
        })
        .collect();
    (wire[2], wire[3], records)
}

/// `secs` (and a fraction) after the first answer, the hit path's answer and then the full
/// path's (the message tier emptied so that the RRset tier answers) are the same.
async fn hit_and_full_agree(qname: &str, qtype: RecordType, later: Duration) {
    let net = FakeNet::lab();
    let h = recursive(&net);
    let q = query(qname, qtype, Some(1232));
    h.handle_bytes(&q, client(), Transport::Udp)
        .await
        .expect("answered");
    advance(later).await;
    let mut out = Vec::new();
    assert!(
        h.answer_fast(&q, client(), &mut out),
        "{qname} {qtype}: kept"
    );
    h.cache.messages().clear();
    let full = h
        .handle_bytes(&q, client(), Transport::Udp)
        .await
        .expect("answered");
    assert_eq!(shape(&out), shape(&full), "{qname} {qtype} after {later:?}");
}

#[tokio::test(start_paused = true)]
async fn a_hit_counts_ttls_down_as_the_rrset_tier_does() {
    let cases = [
        ("www.alpha.test.", RecordType::A),
        ("nothere.alpha.test.", RecordType::A),
        ("www.alpha.test.", RecordType::MX),
        ("cname-cross.alpha.test.", RecordType::A),
    ];
    for (qname, qtype) in cases {
        for later in [Duration::from_secs(100), Duration::from_millis(100_600)] {
            hit_and_full_agree(qname, qtype, later).await;
        }
    }
}

/// The question as echoed (case and all), then every record, its owner without case: names
/// compressed against the question take the asker's case on the hit path (as Unbound's
/// case-blind compression gives them), the zone's on the full path (RFC 4343: the same).
fn spelled(wire: &[u8]) -> Vec<String> {
    let m = Message::from_vec(wire).expect("reply parses");
    let question = m.queries.iter().map(|q| format!("q {}", q.name()));
    let records = [&m.answers, &m.authorities, &m.additionals]
        .into_iter()
        .flatten()
        .map(|r| format!("{} {} {}", r.name.to_lowercase(), r.record_type(), r.ttl));
    question.chain(records).collect()
}

/// An authoritative server's kept answers (a wildcard's, a name's, NXDOMAIN) given to a
/// client who asks in another case: the answer the full path would give that client.
#[tokio::test(start_paused = true)]
async fn an_authoritative_hit_is_the_full_paths_answer_in_the_askers_case() {
    let text = "$ORIGIN ex.test.\n$TTL 300\n@ SOA ns1 host 1 2 3 4 60\n@ NS ns1\n\
        ns1 A 192.0.2.1\nwww A 192.0.2.2\n*.wild A 192.0.2.3\n";
    let catalog = Catalog::new([crate::resolver::fake::zone("ex.test.", text)]).expect("one zone");
    let h = Handler::new(
        catalog,
        HandlerConfig::default(),
        Arc::new(Metrics::default()),
    );
    for (first, second) in [
        ("a.wild.ex.test.", "A.WiLd.Ex.TeSt."),
        ("www.ex.test.", "WWW.EX.TEST."),
        ("nx.ex.test.", "Nx.eX.TEST."),
    ] {
        for payload in [None, Some(1232)] {
            h.handle_bytes(
                &query(first, RecordType::A, payload),
                client(),
                Transport::Udp,
            )
            .await
            .expect("answered");
            let q = query(second, RecordType::A, payload);
            let mut out = Vec::new();
            assert!(h.answer_fast(&q, client(), &mut out), "{second}: kept");
            h.cache.messages().clear();
            let full = h
                .handle_bytes(&q, client(), Transport::Udp)
                .await
                .expect("answered");
            h.cache.messages().clear();
            assert_eq!(spelled(&out), spelled(&full), "{second} {payload:?}");
            assert_eq!(out[..4], full[..4], "{second} {payload:?}: header");
        }
    }
}

fn validating_handler() -> Handler {
    use crate::resolver::tests::validate::{signed_net, validating};
    let (net, anchors) = signed_net();
    let resolver = validating(&net, anchors);
    Handler::new(
        Catalog::default(),
        HandlerConfig::default(),
        Arc::new(Metrics::default()),
    )
    .with_recursion(Recursion {
        resolver,
        acl: Acl::new(vec!["127.0.0.0/8".parse().expect("net")]),
        snoop: Acl::new(Vec::new()),
    })
}

fn dnssec_query(qname: &str, qtype: RecordType, dnssec_ok: bool, cd: bool) -> Vec<u8> {
    let mut m = Message::new(0x5252, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.checking_disabled = cd;
    m.add_query(Query::query(Name::from_ascii(qname).expect("name"), qtype));
    let mut e = Edns::new();
    e.set_max_payload(4096);
    e.set_dnssec_ok(dnssec_ok);
    m.set_edns(e);
    m.to_vec().expect("encodes")
}

/// Signed data (positive, wildcard, NXDOMAIN and NODATA with their proofs) kept for a DO=1 or
/// CD=1 client and given again later: the records, TTLs and flags the full path gives then.
#[tokio::test(start_paused = true)]
async fn a_signed_hit_is_the_full_paths_answer_later() {
    let cases = [
        ("www.secure.test.", RecordType::A),
        ("x.wild.secure.test.", RecordType::A),
        ("nothere.secure.test.", RecordType::A),
        ("www.secure.test.", RecordType::MX),
    ];
    for (qname, qtype) in cases {
        for (dnssec_ok, cd) in [(true, false), (false, true), (true, true)] {
            let h = validating_handler();
            let q = dnssec_query(qname, qtype, dnssec_ok, cd);
            h.handle_bytes(&q, client(), Transport::Udp)
                .await
                .expect("answered");
            advance(Duration::from_millis(37_400)).await;
            let mut out = Vec::new();
            let what = format!("{qname} {qtype} DO={dnssec_ok} CD={cd}");
            assert!(h.answer_fast(&q, client(), &mut out), "{what}: kept");
            h.cache.messages().clear();
            let full = h
                .handle_bytes(&q, client(), Transport::Udp)
                .await
                .expect("answered");
            assert_eq!(shape(&out), shape(&full), "{what}");
        }
    }
}

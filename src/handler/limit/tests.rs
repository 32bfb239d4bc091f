//! Both limits through the handler: the hit path and the full path share one account, TCP is
//! never held to RRL, and a limited recursive query is REFUSED or dropped on either path.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::Name;

use crate::authority::{Catalog, Zone};
use crate::cache::{Cache, CachePolicy};
use crate::handler::test_query::query;
use crate::handler::{Acl, Handler, HandlerConfig, Recursion, Transport};
use crate::lab::LabFiles;
use crate::metrics::{Metrics, counts};
use crate::ratelimit::{
    Action, ClientPrefix, Exempt, Limits, QueryLimitSettings, QueryLimiter, Rrl, RrlSettings,
};
use crate::resolver::fake::FakeNet;
use crate::resolver::{Resolver, ResolverConfig};

pub(super) fn client(ip: &str) -> SocketAddr {
    SocketAddr::new(ip.parse::<IpAddr>().expect("test address"), 40_000)
}

pub(super) fn parse(wire: &[u8]) -> Message {
    Message::from_vec(wire).expect("reply parses")
}

pub(super) fn authoritative(rate: u32, slip: u32) -> Handler {
    let files = LabFiles::embedded();
    let text = files.file("alpha.test.zone").expect("lab zone");
    let origin = Name::from_ascii("alpha.test.").expect("name");
    let zone = Zone::from_text(text, Path::new("alpha.test.zone"), Some(&origin))
        .expect("lab zone parses");
    Handler::new(
        Catalog::new([zone]).expect("catalog"),
        HandlerConfig::default(),
        Arc::new(Metrics::default()),
    )
    .with_rate_limits(Limits {
        queries: None,
        rrl: Some(Rrl::new(&RrlSettings {
            responses_per_second: rate,
            window: 1,
            slip,
            prefix: ClientPrefix::default(),
            exempt: Exempt::default(),
            table_size: 1024,
        })),
    })
}

/// What the hit path did: `None` it passed, else the reply (empty: nothing sent).
fn fast(h: &Handler, q: &[u8], from: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    h.answer_fast(q, client(from), &mut out).then_some(out)
}

#[tokio::test(start_paused = true)]
async fn rrl_holds_hit_path_and_full_path_to_one_account_and_never_tcp() {
    let h = authoritative(2, 2);
    let q = query("www.alpha.test.", false);
    let me = "192.0.2.1";
    let first = h.handle_bytes(&q, client(me), Transport::Udp).await;
    let first = parse(&first.expect("answered"));
    assert_eq!(first.answers.len(), 1);
    let second = fast(&h, &q, me).expect("the hit path answers");
    assert_eq!(parse(&second).answers.len(), 1);
    // Over the rate: dropped, then slipped (slip 2), on either path.
    assert_eq!(fast(&h, &q, me), Some(Vec::new()), "dropped");
    let slipped = parse(&fast(&h, &q, me).expect("handled"));
    assert!(slipped.metadata.truncation && slipped.metadata.authoritative);
    assert!(slipped.answers.is_empty() && slipped.authorities.is_empty());
    assert_eq!(slipped.metadata.id, 0x4242);
    assert_eq!(slipped.queries.len(), 1);
    assert!(slipped.edns.is_some(), "OPT answers OPT (RFC 6891 §6.1.1)");
    assert_eq!(h.handle_bytes(&q, client(me), Transport::Udp).await, None);
    let slipped = h.handle_bytes(&q, client(me), Transport::Udp).await;
    let slipped = parse(&slipped.expect("slipped"));
    assert!(slipped.metadata.truncation && slipped.answers.is_empty());
    assert!(slipped.authorities.is_empty() && slipped.edns.is_some());
    // TCP, and another /24, are answered in full.
    let tcp = h.handle_bytes(&q, client(me), Transport::Tcp).await;
    assert_eq!(parse(&tcp.expect("tcp answers")).answers.len(), 1);
    let other = fast(&h, &q, "192.0.3.1").expect("hit");
    assert_eq!(parse(&other).answers.len(), 1);
    let m = h.metrics();
    assert_eq!(Metrics::get(&m.rate_limited), 4);
    assert_eq!(Metrics::get(&m.dropped), 2);
    // The window (1 s of debt at 2/s) passes, and a second's worth comes back.
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(parse(&fast(&h, &q, me).expect("hit")).answers.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn random_names_under_a_wildcard_or_nxdomain_share_one_account() {
    let h = authoritative(1, 0);
    let me = client("192.0.2.1");
    let sent = |qname: String| {
        let q = query(&qname, false);
        let h = &h;
        async move { h.handle_bytes(&q, me, Transport::Udp).await }
    };
    let first = sent("r1.wild.alpha.test.".into()).await;
    assert_eq!(parse(&first.expect("wildcard answer")).answers.len(), 1);
    assert_eq!(sent("r2.wild.alpha.test.".into()).await, None);
    let nx = sent("nope1.alpha.test.".into()).await;
    let nx = parse(&nx.expect("nxdomain"));
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(sent("nope2.alpha.test.".into()).await, None);
    // Not a wildcard's: its own account.
    assert!(sent("www.alpha.test.".into()).await.is_some());
}

pub(super) fn recursive(action: Action) -> Handler {
    let metrics = Arc::new(Metrics::default());
    let resolver = Arc::new(Resolver::new(
        FakeNet::lab(),
        FakeNet::lab_hints(),
        Arc::new(Cache::new(CachePolicy::default())),
        ResolverConfig::default(),
        Arc::clone(&metrics),
    ));
    Handler::new(Catalog::default(), HandlerConfig::default(), metrics)
        .with_recursion(Recursion {
            resolver,
            acl: Acl::loopback(),
            snoop: Acl::new(Vec::new()),
        })
        .with_rate_limits(Limits {
            queries: Some(QueryLimiter::new(&QueryLimitSettings {
                queries_per_second: 1,
                burst: 2,
                prefix: ClientPrefix::default(),
                action,
                exempt: Exempt::default(),
                table_size: 1024,
            })),
            rrl: None,
        })
}

#[tokio::test(start_paused = true)]
async fn a_client_over_its_query_rate_is_refused_on_both_paths_others_are_not() {
    let h = recursive(Action::Refuse);
    let q = query("www.alpha.test.", true);
    let me = "127.0.0.1";
    let first = h.handle_bytes(&q, client(me), Transport::Udp).await;
    assert_eq!(parse(&first.expect("resolved")).answers.len(), 1);
    assert!(fast(&h, &q, me).is_some_and(|r| parse(&r).answers.len() == 1));
    let refused = parse(&fast(&h, &q, me).expect("handled"));
    assert_eq!(refused.metadata.response_code, ResponseCode::Refused);
    assert!(refused.metadata.recursion_available && refused.answers.is_empty());
    assert!(refused.edns.is_some(), "OPT answers OPT");
    assert_eq!(refused.queries.len(), 1);
    // The refused one is a query of type A and a REFUSED response, not a hit.
    let m = h.metrics();
    let a = counts::qtype_slot(Some(1));
    assert_eq!(m.queries_in_slot(0, a), 3);
    assert_eq!(m.responses_in_slot(0, counts::rcode_slot(5)), 1);
    assert_eq!(m.responses_in_slot(0, counts::rcode_slot(0)), 2);
    assert_eq!((m.queries(), m.fast_hits()), (3, 1));
    for transport in [Transport::Udp, Transport::Tcp] {
        let other_name = query("ftp.alpha.test.", true);
        let r = h.handle_bytes(&other_name, client(me), transport).await;
        let r = parse(&r.expect("refused"));
        assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    }
    // Another /24 has its own bucket.
    assert!(fast(&h, &q, "127.0.1.1").is_some_and(|r| parse(&r).answers.len() == 1));
    assert_eq!(Metrics::get(&h.metrics().rate_limited), 3);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(fast(&h, &q, me).is_some_and(|r| parse(&r).answers.len() == 1));
}

/// A recursive handler whose query limit drops, `www.alpha.test.` (the query returned)
/// resolved once over UDP from 127.0.0.1: one of its two tokens spent, the answer kept.
async fn primed_dropping() -> (Handler, Vec<u8>) {
    let h = recursive(Action::Drop);
    let q = query("www.alpha.test.", true);
    let first = h
        .handle_bytes(&q, client("127.0.0.1"), Transport::Udp)
        .await;
    assert!(first.is_some(), "resolved");
    (h, q)
}

#[tokio::test(start_paused = true)]
async fn drop_sends_nothing_over_udp_and_refused_over_tcp() {
    let (h, q) = primed_dropping().await;
    let me = "127.0.0.1";
    assert!(fast(&h, &q, me).is_some_and(|r| !r.is_empty()));
    assert_eq!(fast(&h, &q, me), Some(Vec::new()));
    // The dropped one: a query of type A, no response.
    let m = h.metrics();
    assert_eq!(m.queries_in_slot(0, counts::qtype_slot(Some(1))), 3);
    let responses: u64 = (0..counts::RCODE_SLOTS)
        .map(|slot| m.responses_in_slot(0, slot))
        .sum();
    assert_eq!(responses, 2);
    assert_eq!(h.handle_bytes(&q, client(me), Transport::Udp).await, None);
    let tcp = h.handle_bytes(&q, client(me), Transport::Tcp).await;
    assert_eq!(
        parse(&tcp.expect("refused")).metadata.response_code,
        ResponseCode::Refused
    );
    let m = h.metrics();
    assert_eq!(Metrics::get(&m.rate_limited), 3);
    assert_eq!(Metrics::get(&m.dropped), 2);
}

/// What the stream hit path did over `transport`: `None` it passed, else the reply.
fn stream_fast(h: &Handler, q: &[u8], from: &str, transport: Transport) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    h.answer_stream_fast(q, client(from), transport, &mut out)
        .then_some(out)
}

#[tokio::test(start_paused = true)]
async fn over_a_stream_the_hit_path_is_never_held_to_rrl() {
    let h = authoritative(1, 0);
    let q = query("www.alpha.test.", false);
    let me = "192.0.2.1";
    let first = h.handle_bytes(&q, client(me), Transport::Tcp).await;
    assert_eq!(parse(&first.expect("answered")).answers.len(), 1);
    for _ in 0..5 {
        let r = stream_fast(&h, &q, me, Transport::Tcp).expect("a hit");
        assert_eq!(parse(&r).answers.len(), 1, "in full, past the rate");
    }
    // The UDP account was never spent by them: one answer, then the drop.
    assert!(fast(&h, &q, me).is_some_and(|r| !r.is_empty()));
    assert_eq!(fast(&h, &q, me), Some(Vec::new()));
    let m = h.metrics();
    let a = counts::qtype_slot(Some(1));
    let tcp = Transport::Tcp.slot();
    assert_eq!(
        (m.queries_in_slot(tcp, a), m.hit_path.qtype(tcp, a)),
        (6, 5)
    );
    assert_eq!(Metrics::get(&m.rate_limited), 1);
}

#[tokio::test(start_paused = true)]
async fn over_a_stream_a_limited_hit_is_refused_as_the_full_path_refuses() {
    let (h, q) = primed_dropping().await;
    let me = "127.0.0.1";
    let hit = stream_fast(&h, &q, me, Transport::Tls).expect("a hit");
    assert_eq!(parse(&hit).answers.len(), 1);
    // Over the rate: REFUSED, never dropped, over a stream; the full path's very bytes.
    let refused = stream_fast(&h, &q, me, Transport::Tls).expect("handled");
    assert_eq!(
        parse(&refused).metadata.response_code,
        ResponseCode::Refused
    );
    let full = h.handle_bytes(&q, client(me), Transport::Tls).await;
    assert_eq!(Some(refused), full);
    let m = h.metrics();
    let tls = Transport::Tls.slot();
    assert_eq!(m.queries_in_slot(tls, counts::qtype_slot(Some(1))), 3);
    assert_eq!(m.responses_in_slot(tls, counts::rcode_slot(5)), 2);
    assert_eq!(m.responses_in_slot(tls, counts::rcode_slot(0)), 1);
    assert_eq!(Metrics::get(&m.dropped), 0);
}

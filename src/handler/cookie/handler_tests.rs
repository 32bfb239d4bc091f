//! Server cookies through the handler (RFC 7873 §5.2): what a client sees on the full path and
//! the hit path, over UDP and TCP, and the rate limits a valid cookie lifts.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{Name, RecordType};

use crate::authority::{Catalog, Zone};
use crate::handler::{Handler, HandlerConfig, Transport};
use crate::metrics::Metrics;
use crate::ratelimit::{ClientPrefix, Exempt, Limits, Rrl, RrlSettings};

const ZONE: &str = "$ORIGIN cookie.test.\n$TTL 300\n\
@ SOA ns hostmaster 1 3600 600 86400 60\n@ NS ns\nns A 127.0.0.90\nwww A 192.0.2.1\n";

const CLIENT: [u8; 8] = [0x24, 0x64, 0xc4, 0xab, 0xcf, 0x10, 0xc9, 0x57];

fn handler() -> Handler {
    let zone = Zone::from_text(ZONE, Path::new("cookie.zone"), None).expect("zone");
    Handler::new(
        Catalog::new([zone]).expect("catalog"),
        HandlerConfig::default(),
        Arc::new(Metrics::default()),
    )
}

fn from() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 7], 40_000))
}

/// A query for `qname` A with EDNS and, when given, a COOKIE option of `cookie`.
fn ask_with(qname: &str, cookie: Option<&[u8]>, edit: impl FnOnce(&mut Message)) -> Vec<u8> {
    let mut m = Message::new(0x4242, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(
        Name::from_ascii(qname).expect("name"),
        RecordType::A,
    ));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    if let Some(data) = cookie {
        e.options_mut()
            .insert(EdnsOption::Unknown(10, data.to_vec()));
    }
    m.set_edns(e);
    edit(&mut m);
    m.to_vec().expect("encodes")
}

fn ask(cookie: Option<&[u8]>) -> Vec<u8> {
    ask_with("www.cookie.test.", cookie, |_| {})
}

fn parse(wire: &[u8]) -> Message {
    Message::from_vec(wire).expect("reply parses")
}

/// The reply's COOKIE option data.
fn cookie(reply: &Message) -> Option<Vec<u8>> {
    match reply.edns.as_ref()?.options().get(EdnsCode::Cookie)? {
        EdnsOption::Unknown(_, data) => Some(data.clone()),
        _ => None,
    }
}

async fn udp(h: &Handler, q: &[u8]) -> Message {
    parse(
        &h.handle_bytes(q, from(), Transport::Udp)
            .await
            .expect("a reply"),
    )
}

/// The hit path's reply, `None` when it passed the query on.
fn fast(h: &Handler, q: &[u8]) -> Option<Message> {
    let mut out = Vec::new();
    h.answer_fast(q, from(), &mut out).then(|| parse(&out))
}

/// Checks `reply` carries our cookie for `CLIENT` and returns its server cookie.
fn server_cookie(reply: &Message) -> Vec<u8> {
    let data = cookie(reply).expect("our COOKIE in the reply");
    assert_eq!(data.len(), 24, "client cookie and a 16-byte server cookie");
    assert_eq!(data[..8], CLIENT, "the client cookie echoed");
    assert_eq!(
        data[8..12],
        [1, 0, 0, 0],
        "RFC 9018 version 1, reserved zero"
    );
    data[8..].to_vec()
}

fn with_server(server: &[u8]) -> Vec<u8> {
    [&CLIENT[..], server].concat()
}

#[tokio::test]
async fn a_client_cookie_is_answered_with_a_server_cookie_that_is_then_valid() {
    let h = handler();
    let plain = udp(&h, &ask(None)).await;
    assert_eq!(cookie(&plain), None, "no cookie, none back");
    let first = udp(&h, &ask(Some(&CLIENT))).await;
    assert_eq!(first.metadata.response_code, ResponseCode::NoError);
    assert_eq!(first.answers.len(), 1);
    let server = server_cookie(&first);
    let again = udp(&h, &ask(Some(&with_server(&server)))).await;
    assert_eq!(again.metadata.response_code, ResponseCode::NoError);
    assert_eq!(again.answers.len(), 1);
    assert_eq!(server_cookie(&again), server, "fresh: sent back as it came");
    let m = h.metrics();
    assert_eq!((m.cookies(0), m.cookies(1), m.cookies(2)), (1, 1, 0));
}

#[tokio::test]
async fn a_wrong_server_cookie_is_badcookie_over_udp_and_answered_over_tcp() {
    let h = handler();
    let wrong = with_server(&[1, 0, 0, 0, 0x5c, 0xf7, 0x9f, 0x11, 1, 2, 3, 4, 5, 6, 7, 8]);
    let bad = udp(&h, &ask(Some(&wrong))).await;
    assert_eq!(bad.metadata.response_code, ResponseCode::BADCOOKIE);
    assert!(bad.answers.is_empty() && bad.authorities.is_empty());
    assert_eq!(bad.queries.len(), 1, "the question echoed");
    let fresh = server_cookie(&bad);
    assert_ne!(fresh, wrong[8..]);
    // The cookie BADCOOKIE carried is good for the retry.
    let retried = udp(&h, &ask(Some(&with_server(&fresh)))).await;
    assert_eq!(retried.metadata.response_code, ResponseCode::NoError);
    assert_eq!(retried.answers.len(), 1);
    // Over TCP the handshake proved the address: a normal answer, with a fresh cookie.
    let tcp = h
        .handle_bytes(&ask(Some(&wrong)), from(), Transport::Tcp)
        .await;
    let tcp = parse(&tcp.expect("a reply"));
    assert_eq!(tcp.metadata.response_code, ResponseCode::NoError);
    assert_eq!(tcp.answers.len(), 1);
    assert_ne!(server_cookie(&tcp), wrong[8..]);
    // From another address the cookie is someone else's.
    let elsewhere = SocketAddr::from(([192, 0, 2, 8], 40_000));
    let q = ask(Some(&with_server(&fresh)));
    let r = parse(
        &h.handle_bytes(&q, elsewhere, Transport::Udp)
            .await
            .expect("a reply"),
    );
    assert_eq!(r.metadata.response_code, ResponseCode::BADCOOKIE);
    assert_eq!((h.metrics().cookies(1), h.metrics().cookies(2)), (1, 3));
}

#[tokio::test]
async fn a_cookie_option_of_a_length_no_cookie_has_is_formerr() {
    let h = handler();
    for len in [0, 7, 9, 12, 41] {
        let r = udp(&h, &ask(Some(&vec![7; len]))).await;
        assert_eq!(r.metadata.response_code, ResponseCode::FormErr, "{len}");
        assert!(r.edns.is_some(), "OPT answers OPT");
        assert_eq!(cookie(&r), None, "nothing to echo");
        assert_eq!(r.queries.len(), 1);
    }
    assert_eq!(h.metrics().cookies(super::MALFORMED_SLOT), 5);
    assert_eq!(Metrics::get(&h.metrics().formerr), 5);
}

#[tokio::test]
async fn every_reply_to_a_query_with_a_cookie_carries_ours() {
    let h = handler();
    let c = Some(&CLIENT[..]);
    let cases: Vec<(&str, Vec<u8>, ResponseCode)> = vec![
        (
            "NXDOMAIN",
            ask_with("nope.cookie.test.", c, |_| {}),
            ResponseCode::NXDomain,
        ),
        (
            "REFUSED, not ours",
            ask_with("www.elsewhere.test.", c, |_| {}),
            ResponseCode::Refused,
        ),
        (
            "NOTIMP",
            ask_with("www.cookie.test.", c, |m| {
                m.metadata.op_code = OpCode::Status;
            }),
            ResponseCode::NotImp,
        ),
        (
            "FORMERR, two questions",
            ask_with("www.cookie.test.", c, |m| {
                m.add_query(Query::query(Name::root(), RecordType::NS));
            }),
            ResponseCode::FormErr,
        ),
        (
            "BADVERS",
            ask_with("www.cookie.test.", c, |m| {
                if let Some(e) = m.edns.as_mut() {
                    e.set_version(1);
                }
            }),
            ResponseCode::BADVERS,
        ),
    ];
    for (why, q, rcode) in cases {
        let r = udp(&h, &q).await;
        // By number: BADVERS reads back as BADSIG, its twin 16 (RFC 6895 §2.3).
        let got = u16::from(r.metadata.response_code);
        assert_eq!(got, u16::from(rcode), "{why}");
        server_cookie(&r);
    }
}

#[tokio::test]
async fn the_hit_path_echoes_cookies_and_leaves_wrong_ones_to_the_full_path() {
    let h = handler();
    let plain = ask(None);
    let full = h.handle_bytes(&plain, from(), Transport::Udp).await;
    let full = full.expect("answered");
    // Kept, and given again without a cookie exactly as the full path gave it.
    let mut out = Vec::new();
    assert!(h.answer_fast(&plain, from(), &mut out));
    assert_eq!(out, full);
    let first = fast(&h, &ask(Some(&CLIENT))).expect("a hit with a client cookie");
    assert_eq!(first.answers.len(), 1);
    let server = server_cookie(&first);
    let again = fast(&h, &ask(Some(&with_server(&server)))).expect("a hit with a valid cookie");
    assert_eq!(again.answers.len(), 1);
    assert_eq!(server_cookie(&again), server);
    // A cookie of the full path is good on the hit path and the other way round.
    let learned = server_cookie(&udp(&h, &ask(Some(&CLIENT))).await);
    assert!(fast(&h, &ask(Some(&with_server(&learned)))).is_some());
    let on_full = udp(&h, &ask(Some(&with_server(&server)))).await;
    assert_eq!(on_full.metadata.response_code, ResponseCode::NoError);
    // A wrong one is not a hit: the full path answers BADCOOKIE.
    let wrong = ask(Some(&with_server(&[9; 16])));
    assert!(fast(&h, &wrong).is_none());
    let bad = udp(&h, &wrong).await;
    assert_eq!(bad.metadata.response_code, ResponseCode::BADCOOKIE);
    let m = h.metrics();
    assert_eq!(m.fast_hits(), 4);
    assert_eq!((m.cookies(0), m.cookies(1), m.cookies(2)), (2, 3, 1));
}

fn rrl(h: Handler) -> Handler {
    h.with_rate_limits(Limits {
        queries: None,
        rrl: Some(Rrl::new(&RrlSettings {
            responses_per_second: 1,
            window: 1,
            slip: 0,
            prefix: ClientPrefix::default(),
            exempt: Exempt::default(),
            table_size: 1024,
        })),
    })
}

#[tokio::test(start_paused = true)]
async fn a_valid_cookie_exempts_a_client_from_rrl_on_both_paths() {
    let h = rrl(handler());
    // The one response a second RRL allows carries the server cookie.
    let server = server_cookie(&udp(&h, &ask(Some(&CLIENT))).await);
    let proven = ask(Some(&with_server(&server)));
    for _ in 0..5 {
        assert!(fast(&h, &proven).is_some_and(|r| r.answers.len() == 1));
        let r = h.handle_bytes(&proven, from(), Transport::Udp).await;
        assert!(r.is_some_and(|r| parse(&r).answers.len() == 1));
    }
    // Without a valid cookie the same client is over its rate: dropped (slip 0).
    for q in [ask(None), ask(Some(&CLIENT))] {
        assert_eq!(h.handle_bytes(&q, from(), Transport::Udp).await, None);
        let mut out = Vec::new();
        assert!(h.answer_fast(&q, from(), &mut out) && out.is_empty());
    }
    assert_eq!(Metrics::get(&h.metrics().rate_limited), 4);
}

#[tokio::test(start_paused = true)]
async fn a_valid_cookie_exempts_recursion_from_the_query_limit_over_udp_only() {
    use crate::cache::{Cache, CachePolicy};
    use crate::handler::{Acl, Recursion};
    use crate::ratelimit::{Action, QueryLimitSettings, QueryLimiter};
    use crate::resolver::fake::FakeNet;
    use crate::resolver::{Resolver, ResolverConfig};

    let metrics = Arc::new(Metrics::default());
    let resolver = Arc::new(Resolver::new(
        FakeNet::lab(),
        FakeNet::lab_hints(),
        Arc::new(Cache::new(CachePolicy::default())),
        ResolverConfig::default(),
        Arc::clone(&metrics),
    ));
    let h = Handler::new(Catalog::default(), HandlerConfig::default(), metrics)
        .with_recursion(Recursion {
            resolver,
            acl: Acl::new(vec!["192.0.2.0/24".parse().expect("cidr")]),
            snoop: Acl::new(Vec::new()),
        })
        .with_rate_limits(Limits {
            queries: Some(QueryLimiter::new(&QueryLimitSettings {
                queries_per_second: 1,
                burst: 1,
                prefix: ClientPrefix::default(),
                action: Action::Refuse,
                exempt: Exempt::default(),
                table_size: 1024,
            })),
            rrl: None,
        });
    let recursive = |cookie: Option<&[u8]>| {
        ask_with("www.alpha.test.", cookie, |m| {
            m.metadata.recursion_desired = true
        })
    };
    // The one query of the burst teaches the cookie.
    let first = udp(&h, &recursive(Some(&CLIENT))).await;
    assert_eq!(first.answers.len(), 1);
    let proven = recursive(Some(&with_server(&server_cookie(&first))));
    for _ in 0..3 {
        assert!(fast(&h, &proven).is_some_and(|r| r.answers.len() == 1));
        let r = udp(&h, &proven).await;
        assert_eq!(r.answers.len(), 1);
    }
    // Without one, and over TCP with one, the limit holds; the REFUSED carries the cookie.
    let refused = udp(&h, &recursive(Some(&CLIENT))).await;
    assert_eq!(refused.metadata.response_code, ResponseCode::Refused);
    server_cookie(&refused);
    let tcp = h.handle_bytes(&proven, from(), Transport::Tcp).await;
    let tcp = parse(&tcp.expect("a reply"));
    assert_eq!(tcp.metadata.response_code, ResponseCode::Refused);
    server_cookie(&tcp);
    let limited = fast(&h, &recursive(Some(&CLIENT))).expect("handled");
    assert_eq!(limited.metadata.response_code, ResponseCode::Refused);
    server_cookie(&limited);
}

//! tern's outbound client against authoritative servers that bend the rules (issue 19, items
//! 4 and 5): replies without a question section, a server that requires DNS Cookies, one
//! whose cookies never check out, and NSD's own cookies.

mod nsd;
mod scripted;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use tokio::time::Instant;

use self::scripted::{Script, Scripted, answer, cookie_of, stub_resolver, with_cookie};
use crate::support::{addr, lines, name};

/// This module's loopback subnet for scripted servers: 127.42.0.x (NSD's test: 43).
const SUBNET: u8 = 42;

/// The server cookie the strict server gives everyone (it checks nothing else).
const SERVER_COOKIE: &[u8] = b"strict-server-16";

/// The RCODE and answer lines of `qname A`.
async fn resolve(r: &Arc<tern::Resolver>, qname: &str) -> (ResponseCode, Vec<String>) {
    let qname_ = name(qname);
    let resolving = r.resolve(&qname_, RecordType::A, Instant::now());
    let got = tokio::time::timeout(Duration::from_secs(20), resolving)
        .await
        .expect("the walk ends")
        .unwrap_or_else(|e| panic!("{qname}: {e}"));
    (got.rcode, lines(&got.answers))
}

#[tokio::test]
async fn replies_without_a_question_section_are_answers() {
    let zone = name("empty.test.");
    let script: Script = Box::new(move |q| {
        let mut reply = answer(&zone, q);
        reply.queries.clear();
        Some(reply)
    });
    let server = Scripted::start(SocketAddr::new(addr(SUBNET, 1), 0), "empty.test.", script).await;
    let r = stub_resolver(
        "empty.test.",
        server.addr,
        Arc::new(tern::NetUpstream::default()),
    );
    let started = std::time::Instant::now();
    let got = resolve(&r, "www.empty.test.").await;
    let www = vec!["www.empty.test. 300 IN A 192.0.2.7".to_string()];
    assert_eq!(got, (ResponseCode::NoError, www));
    // Deckard's iter_req_qname: before, every reply was thrown away and the walk asked again
    // until its budget ran out (SERVFAIL after 7 s).
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered at once, not at the budget's end: {:?}",
        started.elapsed()
    );
    let asked = server.udp_queries();
    let mut questions: Vec<String> = asked.iter().map(|q| q.queries[0].to_string()).collect();
    let all = questions.len();
    questions.dedup();
    assert_eq!(questions.len(), all, "nothing asked twice: {questions:?}");
    assert_eq!(
        resolve(&r, "nope.empty.test.").await,
        (ResponseCode::NoError, vec![])
    );
}

/// A server that answers a query with its cookie, BADCOOKIE (with the cookie) to a query
/// with a client cookie alone or a wrong server cookie, and a query without any COOKIE
/// option normally (RFC 7873 §5.2).
fn strict(zone: &str) -> Script {
    let zone = name(zone);
    Box::new(move |q| {
        let Some(cookie) = cookie_of(q) else {
            return Some(answer(&zone, q));
        };
        let mut right = cookie[..8].to_vec();
        right.extend_from_slice(SERVER_COOKIE);
        if cookie == right {
            return Some(with_cookie(answer(&zone, q), right));
        }
        let mut refusal = answer(&zone, q);
        refusal.answers.clear();
        refusal.authorities.clear();
        refusal.metadata.response_code = ResponseCode::BADCOOKIE;
        Some(with_cookie(refusal, right))
    })
}

#[tokio::test]
async fn a_server_that_requires_cookies_is_answered_and_its_cookie_kept() {
    let server = Scripted::start(
        SocketAddr::new(addr(SUBNET, 2), 0),
        "strict.test.",
        strict("strict.test."),
    )
    .await;
    let upstream = Arc::new(tern::NetUpstream::default());
    let r = stub_resolver("strict.test.", server.addr, Arc::clone(&upstream));
    let got = resolve(&r, "www.strict.test.").await;
    assert_eq!(got.1, ["www.strict.test. 300 IN A 192.0.2.7"]);
    let asked = server.udp_queries();
    let first = cookie_of(&asked[0]).expect("a client cookie");
    assert_eq!(first.len(), 8, "a client cookie alone at first");
    let mut both = first.clone();
    both.extend_from_slice(SERVER_COOKIE);
    assert_eq!(
        cookie_of(&asked[1]),
        Some(both.clone()),
        "asked again with it"
    );
    assert_eq!(
        upstream.server_cookie(server.addr),
        Some(SERVER_COOKIE.to_vec())
    );
    // Known now: the next question goes with the cookie from the start.
    let before = asked.len();
    assert_eq!(
        resolve(&r, "nope.strict.test.").await,
        (ResponseCode::NoError, vec![])
    );
    let asked = server.udp_queries();
    assert!(asked.len() > before);
    assert!(
        asked[before..]
            .iter()
            .all(|q| cookie_of(q).as_ref() == Some(&both)),
        "every later query carries the server cookie"
    );
    assert!(server.tcp_queries().is_empty());
    assert_eq!(upstream.discarded_cookies(), 0);

    // `[recursion] upstream_cookies = false`: no COOKIE option at all.
    let plain = Arc::new(tern::NetUpstream::new(false));
    let before = server.udp_queries().len();
    let r = stub_resolver("strict.test.", server.addr, Arc::clone(&plain));
    resolve(&r, "www.strict.test.").await;
    let asked = server.udp_queries();
    assert!(asked[before..].iter().all(|q| cookie_of(q).is_none()));
    assert_eq!(plain.server_cookie(server.addr), None);
}

#[tokio::test]
async fn cookies_that_never_check_out_send_the_query_to_tcp() {
    // BADCOOKIE with a new server cookie every time: an anycast cluster whose members do not
    // share their secret. Over TCP the server answers.
    let mut n = 0u8;
    let zone = name("anycast.test.");
    let script: Script = Box::new(move |q| {
        n = n.wrapping_add(1);
        let mut refusal = answer(&zone, q);
        refusal.answers.clear();
        refusal.authorities.clear();
        refusal.metadata.response_code = ResponseCode::BADCOOKIE;
        let mut cookie = cookie_of(q)?[..8].to_vec();
        cookie.extend_from_slice(&[n; 16]);
        Some(with_cookie(refusal, cookie))
    });
    let server =
        Scripted::start(SocketAddr::new(addr(SUBNET, 3), 0), "anycast.test.", script).await;
    let r = stub_resolver(
        "anycast.test.",
        server.addr,
        Arc::new(tern::NetUpstream::default()),
    );
    let got = resolve(&r, "www.anycast.test.").await;
    assert_eq!(got.1, ["www.anycast.test. 300 IN A 192.0.2.7"]);
    let udp = server.udp_queries();
    let tcp = server.tcp_queries();
    assert!(!tcp.is_empty(), "asked over TCP");
    assert!(
        tcp.iter().all(|q| cookie_of(q).is_none()),
        "no cookie over TCP"
    );
    assert_eq!(cookie_of(&udp[0]).map(|c| c.len()), Some(8));
    assert_eq!(
        cookie_of(&udp[1]).map(|c| c[8..].to_vec()),
        Some(vec![1; 16]),
        "one retry with the fresh cookie, then TCP"
    );
    assert!(
        udp.len() <= 2 * tcp.len(),
        "{} UDP, {} TCP",
        udp.len(),
        tcp.len()
    );
}

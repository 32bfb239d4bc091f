//! DNS Cookies over real loopback sockets: scripted servers that require a cookie, forge
//! one, ignore cookies or reject the option, and what the client sends and keeps.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{RData, Record, RecordType};
use tokio::net::UdpSocket;

use super::{echo, loopback, name};
use crate::outbound::cookie::Secret;
use crate::outbound::{Ask, CookieJar, Peer, UdpAnswer, over_udp};

/// What a scripted server sends back to one query (nothing: silence).
type Script = Box<dyn FnMut(&Message) -> Vec<Message> + Send>;

/// A UDP server on 127.0.0.1 answering every query with what `script` makes of it; the
/// queries it received, in order.
async fn server(script: Script) -> (SocketAddr, Arc<Mutex<Vec<Message>>>) {
    let sock = UdpSocket::bind((loopback(1), 0)).await.expect("bind");
    let addr = sock.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let mut script = script;
    tokio::spawn(async move {
        let mut buf = [0; 4096];
        loop {
            let Ok((len, from)) = sock.recv_from(&mut buf).await else {
                return;
            };
            let Ok(query) = Message::from_vec(&buf[..len]) else {
                continue;
            };
            let replies = script(&query);
            // Logged before answering: the client reads the log once answered.
            log.lock().expect("log").push(query);
            for reply in replies {
                let bytes = reply.to_vec().expect("encodes");
                let _ = sock.send_to(&bytes, from).await;
            }
        }
    });
    (addr, seen)
}

/// The COOKIE option's octets in `m`, if it has one.
fn cookie_of(m: &Message) -> Option<Vec<u8>> {
    match m.edns.as_ref()?.option(EdnsCode::Cookie)? {
        EdnsOption::Unknown(_, data) => Some(data.clone()),
        _ => None,
    }
}

/// The answer to `query` (192.0.2.`mark`), with `rcode`, and an OPT with `cookie` if given.
fn reply(query: &Message, rcode: ResponseCode, cookie: Option<Vec<u8>>, mark: u8) -> Message {
    let mut m = echo(query);
    m.metadata.response_code = rcode;
    let mut edns = Edns::new();
    if let Some(cookie) = cookie {
        edns.options_mut()
            .insert(EdnsOption::Unknown(u16::from(EdnsCode::Cookie), cookie));
    }
    m.set_edns(edns);
    if rcode == ResponseCode::NoError {
        let owner = query.queries[0].name().clone();
        m.add_answer(Record::from_rdata(
            owner,
            300,
            RData::A(A::new(192, 0, 2, mark)),
        ));
    }
    m
}

fn mark_of(m: &Message) -> Option<u8> {
    m.answers.iter().find_map(|r| match &r.data {
        RData::A(a) => Some(a.0.octets()[3]),
        _ => None,
    })
}

fn jar() -> CookieJar {
    CookieJar::new(Secret::new([1; 16]), 64)
}

/// One query for www.example.test. A (with OPT when `edns`) through `jar`, bounded in time
/// so that a client that waits on a discarded reply fails instead of hanging.
async fn ask(addr: SocketAddr, jar: Option<&CookieJar>, edns: bool) -> UdpAnswer {
    let qname = name("www.example.test.");
    let ask = Ask {
        qname: &qname,
        qtype: RecordType::A,
        rd: false,
        cd: false,
        edns,
    };
    let udp = over_udp(Peer::from(addr), jar, ask);
    tokio::time::timeout(Duration::from_secs(5), udp)
        .await
        .expect("answered in time")
        .expect("no transport error")
}

fn answered(answer: UdpAnswer) -> Message {
    match answer {
        UdpAnswer::Reply(mut m, rest, _) => {
            if let Some(rest) = rest {
                rest.complete(&mut m).expect("the rest decodes");
            }
            m
        }
        UdpAnswer::Tcp => panic!("sent to TCP"),
    }
}

const SERVER_COOKIE: &[u8; 16] = b"0123456789abcdef";

/// A server that answers only a query with its cookie, and BADCOOKIE (with its cookie)
/// to any other (RFC 7873 §5.2.3).
fn strict() -> Script {
    Box::new(|q| {
        let Some(cookie) = cookie_of(q) else {
            return vec![reply(q, ResponseCode::Refused, None, 0)];
        };
        let mut ours = cookie[..8].to_vec();
        ours.extend_from_slice(SERVER_COOKIE);
        let rcode = if cookie == ours {
            ResponseCode::NoError
        } else {
            ResponseCode::BADCOOKIE
        };
        vec![reply(q, rcode, Some(ours), 1)]
    })
}

#[tokio::test]
async fn badcookie_is_asked_again_at_once_with_the_fresh_server_cookie() {
    let (addr, seen) = server(strict()).await;
    let jar = jar();
    let got = answered(ask(addr, Some(&jar), true).await);
    assert_eq!(got.metadata.response_code, ResponseCode::NoError);
    assert_eq!(mark_of(&got), Some(1));
    let sent: Vec<Option<Vec<u8>>> = seen.lock().expect("log").iter().map(cookie_of).collect();
    assert_eq!(sent.len(), 2, "the query, then the retry with the cookie");
    let first = sent[0].clone().expect("a client cookie");
    assert_eq!(first.len(), 8, "a client cookie alone at first");
    let mut both = first.clone();
    both.extend_from_slice(SERVER_COOKIE);
    assert_eq!(sent[1].as_ref(), Some(&both));
    assert_eq!(
        jar.server_cookie(addr).map(|c| c.as_bytes().to_vec()),
        Some(SERVER_COOKIE.to_vec())
    );
    // Learned: the next query carries it from the start and is answered at once.
    let got = answered(ask(addr, Some(&jar), true).await);
    assert_eq!(got.metadata.response_code, ResponseCode::NoError);
    let log = seen.lock().expect("log");
    assert_eq!(log.len(), 3);
    assert_eq!(cookie_of(&log[2]).as_ref(), Some(&both));
}

#[tokio::test]
async fn a_second_badcookie_sends_the_query_to_tcp() {
    // Every reply a new server cookie, and BADCOOKIE all the same: an anycast cluster whose
    // members do not share their secret.
    let mut n = 0u8;
    let (addr, seen) = server(Box::new(move |q| {
        n += 1;
        let mut cookie = cookie_of(q).expect("a cookie")[..8].to_vec();
        cookie.extend_from_slice(&[n; 16]);
        vec![reply(q, ResponseCode::BADCOOKIE, Some(cookie), 0)]
    }))
    .await;
    let jar = jar();
    assert!(matches!(ask(addr, Some(&jar), true).await, UdpAnswer::Tcp));
    let log = seen.lock().expect("log");
    assert_eq!(log.len(), 2, "one retry over UDP, no more");
    assert_eq!(
        cookie_of(&log[1]).map(|c| c[8..].to_vec()),
        Some(vec![1; 16])
    );
}

#[tokio::test]
async fn a_reply_with_another_client_cookie_is_discarded() {
    // A forger who knows ID and port but not our cookie, first; then the server, which does
    // not do cookies.
    let (addr, _) = server(Box::new(|q| {
        let forged = reply(
            q,
            ResponseCode::NoError,
            Some(b"forged!!0123456789abcdef".to_vec()),
            66,
        );
        let mut malformed = cookie_of(q).expect("a cookie");
        malformed.truncate(8);
        let malformed = reply(q, ResponseCode::NoError, Some(malformed), 67);
        vec![forged, malformed, reply(q, ResponseCode::NoError, None, 1)]
    }))
    .await;
    let jar = jar();
    let got = answered(ask(addr, Some(&jar), true).await);
    assert_eq!(mark_of(&got), Some(1), "the forgeries were skipped");
    assert_eq!(jar.discarded(), 2);
    assert_eq!(
        jar.server_cookie(addr),
        None,
        "nothing learned from a forgery"
    );
}

#[tokio::test]
async fn a_server_without_cookies_is_answered_as_before() {
    let (addr, seen) = server(Box::new(|q| vec![reply(q, ResponseCode::NoError, None, 1)])).await;
    let jar = jar();
    for _ in 0..2 {
        let got = answered(ask(addr, Some(&jar), true).await);
        assert_eq!(mark_of(&got), Some(1));
    }
    let log = seen.lock().expect("log");
    assert_eq!(log.len(), 2, "no retries");
    assert!(
        log.iter()
            .all(|q| cookie_of(q).is_some_and(|c| c.len() == 8)),
        "the client cookie, harmless to it, every time"
    );
    assert_eq!(jar.server_cookie(addr), None);
}

#[tokio::test]
async fn a_server_that_rejects_the_option_is_asked_without_it() {
    let (addr, seen) = server(Box::new(|q| match cookie_of(q) {
        Some(_) => vec![reply(q, ResponseCode::FormErr, None, 0)],
        None => vec![reply(q, ResponseCode::NoError, None, 1)],
    }))
    .await;
    let jar = jar();
    let got = answered(ask(addr, Some(&jar), true).await);
    assert_eq!(mark_of(&got), Some(1));
    let got = answered(ask(addr, Some(&jar), true).await);
    assert_eq!(mark_of(&got), Some(1));
    let log = seen.lock().expect("log");
    let cookies: Vec<bool> = log.iter().map(|q| cookie_of(q).is_some()).collect();
    assert_eq!(
        cookies,
        [true, false, false],
        "remembered after the first FORMERR"
    );
    assert!(log.iter().all(|q| q.edns.is_some()), "EDNS itself stays");
}

#[tokio::test]
async fn no_cookie_without_a_jar_or_an_opt_record() {
    let (addr, seen) = server(Box::new(|q| vec![reply(q, ResponseCode::NoError, None, 1)])).await;
    answered(ask(addr, None, true).await);
    answered(ask(addr, Some(&jar()), false).await);
    let log = seen.lock().expect("log");
    assert_eq!(log.len(), 2);
    assert!(log[0].edns.is_some() && cookie_of(&log[0]).is_none());
    assert!(log[1].edns.is_none());
}

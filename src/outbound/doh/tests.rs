//! The kept HTTP/2 connection against a hyper server over an in-memory pipe, paused clock:
//! the request's form (POST, media types, ID 0), the query's ID restored, the response checks
//! (status, content type, size), many streams at once on one connection, the idle close; and
//! the start-up errors of `url`.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response as HttpResponse, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::RootCertStore;
use tokio::sync::{Barrier, mpsc};
use tokio::task::JoinHandle;

use super::conn::{BadResponse, DohError, Job, MEDIA_TYPE, check_head, handshake, post, run};
use super::{DohConfigError, DohUpstream};
use crate::outbound::tls::conn::{ConnError, Limits};
use crate::outbound::tls::pool::Health;
use crate::outbound::tls::tests::ask;

const LIMITS: Limits = Limits {
    outstanding: 50,
    idle: Duration::from_secs(20),
};
const URL: &str = "https://dns.example/dns-query";

/// What the server saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    content_type: Option<HeaderValue>,
    accept: Option<HeaderValue>,
    body: Vec<u8>,
}

type Answer = HttpResponse<Full<Bytes>>;

/// A hyper HTTP/2 server on one end of a pipe answering with `respond` (given the body), and
/// the connection task on the other end; the requests seen, in order; the server's task.
async fn connection<F, Fut>(
    respond: F,
) -> (mpsc::Sender<Job>, Arc<Mutex<Vec<Seen>>>, JoinHandle<()>)
where
    F: Fn(Vec<u8>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Answer> + Send + 'static,
{
    let (client, server) = tokio::io::duplex(1 << 16);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let server = tokio::spawn(async move {
        let service = service_fn(move |req: Request<Incoming>| {
            let (log, respond) = (Arc::clone(&log), respond.clone());
            async move {
                let (head, body) = req.into_parts();
                let body = body.collect().await.map(|b| b.to_bytes().to_vec());
                let body = body.unwrap_or_default();
                log.lock().expect("log").push(Seen {
                    method: head.method.to_string(),
                    uri: head.uri.to_string(),
                    content_type: head.headers.get(CONTENT_TYPE).cloned(),
                    accept: head.headers.get(ACCEPT).cloned(),
                    body: body.clone(),
                });
                Ok::<_, Infallible>(respond(body).await)
            }
        });
        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(server), service)
            .await;
    });
    let (send, conn) = handshake(client).await.expect("h2 handshake");
    let (jobs, queue) = mpsc::channel(256);
    let uri = URL.parse().expect("uri");
    tokio::spawn(run(send, conn, uri, queue, LIMITS, Health::detached()));
    (jobs, seen, server)
}

fn dns_message(body: Vec<u8>) -> Answer {
    let mut response = HttpResponse::new(Full::new(Bytes::from(body)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    response
}

#[tokio::test(start_paused = true)]
async fn a_query_is_posted_as_rfc_8484_asks_and_its_response_gets_the_query_id_back() {
    let (jobs, seen, _server) = connection(|body| async { dns_message(body) }).await;
    let response = ask(&jobs, 0x1234, 7).await;
    let r = response.await.expect("answered").expect("a response");
    assert_eq!(
        &r.bytes[..2],
        &0x1234u16.to_be_bytes(),
        "the query's own ID"
    );
    assert_eq!(r.bytes.last(), Some(&7));
    let seen = seen.lock().expect("log").clone();
    assert_eq!(seen.len(), 1);
    let s = &seen[0];
    assert_eq!(s.method, "POST");
    assert_eq!(s.uri, URL, "scheme, authority and path of the url");
    assert_eq!(
        s.content_type.as_ref().map(|v| v.as_bytes()),
        Some(MEDIA_TYPE.as_bytes())
    );
    assert_eq!(
        s.accept.as_ref().map(|v| v.as_bytes()),
        Some(MEDIA_TYPE.as_bytes())
    );
    assert_eq!(&s.body[..2], &[0, 0], "ID 0 on the wire (RFC 8484 §4.1)");
    assert_eq!(s.body.len(), 13);
}

#[tokio::test(start_paused = true)]
async fn a_wrong_status_media_type_or_size_is_an_error_and_the_connection_goes_on() {
    let (jobs, _, _server) = connection(|body: Vec<u8>| async move {
        let tag = body.last().copied().unwrap_or(0);
        match tag {
            1 => {
                let mut r = dns_message(body);
                *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                r
            }
            2 => {
                let mut r = dns_message(body);
                r.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
                r
            }
            3 => dns_message(vec![0; 70_000]),
            4 => dns_message(vec![0; 5]),
            _ => dns_message(body),
        }
    })
    .await;
    let expected = [
        BadResponse::Status(503),
        BadResponse::ContentType("text/html".into()),
        BadResponse::TooLarge,
        BadResponse::Short(5),
    ];
    for (tag, want) in (1..).zip(expected) {
        let got = ask(&jobs, 9, tag).await.await.expect("answered");
        assert_eq!(got.expect_err("an error"), DohError::Response(want));
    }
    let fine = ask(&jobs, 9, 5).await.await.expect("answered");
    assert!(fine.is_ok(), "the same connection still serves: {fine:?}");
}

#[tokio::test(start_paused = true)]
async fn many_queries_are_in_flight_at_once_on_the_one_connection() {
    // The server answers none until all twenty are in: a client that sent one at a time
    // would never see an answer.
    const N: u8 = 20;
    let barrier = Arc::new(Barrier::new(usize::from(N)));
    let (jobs, seen, _server) = connection(move |body| {
        let barrier = Arc::clone(&barrier);
        async move {
            barrier.wait().await;
            dns_message(body)
        }
    })
    .await;
    let mut waiting = Vec::new();
    for tag in 0..N {
        waiting.push(ask(&jobs, u16::from(tag), tag).await);
    }
    for (tag, response) in (0..N).zip(waiting) {
        let r = tokio::time::timeout(Duration::from_secs(5), response)
            .await
            .expect("all in flight at once")
            .expect("answered")
            .expect("a response");
        assert_eq!(r.bytes.last(), Some(&tag), "its own stream's response");
        assert_eq!(&r.bytes[..2], &u16::from(tag).to_be_bytes());
    }
    assert_eq!(seen.lock().expect("log").len(), usize::from(N));
}

#[tokio::test(start_paused = true)]
async fn an_idle_connection_is_closed_and_a_query_abandoned_frees_its_stream() {
    let (jobs, _, _server) = connection(|body: Vec<u8>| async move {
        if body.last() == Some(&1) {
            // Never answers this one.
            std::future::pending::<()>().await;
        }
        dns_message(body)
    })
    .await;
    let abandoned = ask(&jobs, 1, 1).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(abandoned);
    let r = ask(&jobs, 2, 2).await.await.expect("answered");
    assert!(r.is_ok(), "{r:?}");
    tokio::time::sleep(LIMITS.idle - Duration::from_secs(1)).await;
    assert!(!jobs.is_closed(), "not idle yet");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(jobs.is_closed(), "closed after the idle time");
}

/// Never answers.
async fn silent(_: Vec<u8>) -> Answer {
    std::future::pending().await
}

#[tokio::test(start_paused = true)]
async fn a_server_that_goes_away_or_answers_nothing_fails_what_is_in_flight_saying_why() {
    let (jobs, _, server) = connection(silent).await;
    let response = ask(&jobs, 1, 1).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    server.abort();
    let failed = response.await.expect("told");
    assert!(
        matches!(&failed, Err(DohError::Conn(ConnError::Lost(_)))),
        "{failed:?}"
    );
    assert!(jobs.is_closed(), "the connection task ended");

    let (jobs, _, _server) = connection(silent).await;
    let response = ask(&jobs, 1, 1).await;
    let started = tokio::time::Instant::now();
    let failed = response.await.expect("told");
    assert!(
        matches!(&failed, Err(DohError::Conn(ConnError::Lost(why))) if why.contains("no response")),
        "{failed:?}"
    );
    assert_eq!(started.elapsed(), LIMITS.idle);
}

#[test]
fn the_response_head_must_be_200_and_a_dns_message() {
    let with = |value: &'static str| {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_static(value));
        h
    };
    assert_eq!(check_head(StatusCode::OK, &with(MEDIA_TYPE)), Ok(()));
    assert_eq!(
        check_head(StatusCode::OK, &with("Application/DNS-Message; charset=x")),
        Ok(())
    );
    assert_eq!(
        check_head(StatusCode::NOT_FOUND, &with(MEDIA_TYPE)),
        Err(BadResponse::Status(404))
    );
    assert_eq!(
        check_head(StatusCode::OK, &HeaderMap::new()),
        Err(BadResponse::ContentType(String::new()))
    );
    assert_eq!(
        check_head(StatusCode::OK, &with("application/dns-json")),
        Err(BadResponse::ContentType("application/dns-json".into()))
    );
}

#[test]
fn a_post_carries_id_0_and_a_short_query_is_refused() {
    let uri = URL.parse().expect("uri");
    let (id, request) = post(&uri, vec![0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]).expect("post");
    assert_eq!(id, 0xabcd);
    assert_eq!(request.method(), hyper::Method::POST);
    assert!(post(&uri, vec![1; 11]).is_none());
}

#[test]
fn the_url_must_be_https_with_a_host() {
    let roots = || RootCertStore::empty();
    for good in [
        URL,
        "https://dns.example:8443/q?x=1",
        "https://127.0.0.1/dns-query",
        "https://[::1]/dns-query",
    ] {
        let doh = DohUpstream::with_roots(good, None, roots()).expect(good);
        assert_eq!(doh.url(), good);
    }
    for bad in [
        "http://dns.example/dns-query",
        "dns.example/dns-query",
        "/dns-query",
        "https://user@dns.example/dns-query",
        "https://dns.example/dns-query{?dns}",
        "",
    ] {
        let e = DohUpstream::with_roots(bad, None, roots()).expect_err(bad);
        assert!(matches!(e, DohConfigError::Url { .. }), "{bad}: {e}");
        assert!(e.to_string().contains(&format!("{bad:?}")), "names it: {e}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_server_nobody_listens_on_is_refused_and_then_in_backoff() {
    // Nothing listens on port 1 of our test address: refused, then the same at once.
    let doh = DohUpstream::with_roots(URL, None, RootCertStore::empty()).expect("upstream");
    let server = "127.234.0.1:1".parse().expect("addr");
    let first = doh.query(server, vec![0; 12]).await;
    assert_eq!(
        first.expect_err("refused"),
        DohError::Conn(ConnError::Refused)
    );
    let again = doh.pool.connection(server).expect_err("in backoff");
    assert_eq!(again, ConnError::Refused);
}

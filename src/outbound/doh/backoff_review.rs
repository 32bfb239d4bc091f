//! Review of the pool's backoff over HTTPS, as over TLS (`tls/backoff_review.rs`): a server
//! that completes the TLS and HTTP/2 handshakes and then drops the connection before
//! answering anything failed, and must put the server in backoff; one that says GOAWAY to an
//! idle connection (nothing in flight) has not failed.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response as HttpResponse};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::DuplexStream;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use super::conn::{DohError, Http2, Job, MEDIA_TYPE, handshake, run};
use crate::outbound::tls::conn::{ConnError, Limits};
use crate::outbound::tls::pool::{Health, Pool, Transport};

const LIMITS: Limits = Limits {
    outstanding: 50,
    idle: Duration::from_secs(20),
};
const URL: &str = "https://dns.example/dns-query";

/// What the next connection's server does.
const ANSWER: u8 = 0;
/// Drops the connection when the first request comes, answering nothing.
const DROP_AT_REQUEST: u8 = 1;
/// Says GOAWAY at once, with nothing in flight.
const GOAWAY_IDLE: u8 = 2;

/// Every connection a hyper server on a pipe, behaving as `mode` says when it is made.
#[derive(Default)]
struct Pipes {
    connections: Arc<AtomicUsize>,
    mode: Arc<AtomicU8>,
    failures: Arc<Mutex<Vec<(SocketAddr, ConnError, Duration)>>>,
}

impl Transport for Pipes {
    type Error = DohError;
    type Stream = (
        hyper::client::conn::http2::SendRequest<Full<Bytes>>,
        Http2<DuplexStream>,
    );

    async fn connect(&self, _: SocketAddr) -> Result<Self::Stream, ConnError> {
        self.connections.fetch_add(1, Ordering::SeqCst);
        let (client, server) = tokio::io::duplex(1 << 16);
        tokio::spawn(serve(server, self.mode.load(Ordering::SeqCst)));
        handshake(client).await
    }

    fn serve(
        &self,
        (send, connection): Self::Stream,
        jobs: mpsc::Receiver<Job>,
        health: Health,
    ) -> impl Future<Output = ()> + Send {
        run(
            send,
            connection,
            URL.parse().expect("uri"),
            jobs,
            LIMITS,
            health,
        )
    }

    fn failed(&self, server: SocketAddr, error: &ConnError, retry_in: Duration) {
        let mut log = self.failures.lock().expect("log");
        log.push((server, error.clone(), retry_in));
    }
}

async fn serve(server: DuplexStream, mode: u8) {
    let request = Arc::new(Notify::new());
    let told = Arc::clone(&request);
    let service = service_fn(move |req: Request<Incoming>| {
        let told = Arc::clone(&told);
        async move {
            if mode == DROP_AT_REQUEST {
                told.notify_one();
                std::future::pending::<()>().await;
            }
            let body = req.into_body().collect().await.map(|b| b.to_bytes());
            let mut response = HttpResponse::new(Full::new(body.unwrap_or_default()));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
            Ok::<_, Infallible>(response)
        }
    });
    let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(server), service);
    let mut connection = std::pin::pin!(connection);
    match mode {
        // Dropped, pipe and all, with the request in flight.
        DROP_AT_REQUEST => {
            tokio::select! {
                _ = connection.as_mut() => {}
                () = request.notified() => {}
            }
        }
        GOAWAY_IDLE => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
        _ => {
            let _ = connection.await;
        }
    }
}

fn query(tag: u8) -> Vec<u8> {
    let mut bytes = vec![0x12, 0x34];
    bytes.extend_from_slice(&[0; 10]);
    bytes.push(tag);
    bytes
}

const SERVER: &str = "127.116.0.1:443";

/// As over TLS: the first connection dropped before any answer puts the server in backoff
/// (said once in the log, queries failing at once with the reason, no new handshake); after
/// it, tried again; an answer resets it; an idle close of ours is no failure.
#[tokio::test(start_paused = true)]
async fn a_server_that_drops_the_connection_before_answering_anything_is_backed_off_from() {
    let pipes = Pipes::default();
    let (connections, mode, failures) = (
        Arc::clone(&pipes.connections),
        Arc::clone(&pipes.mode),
        Arc::clone(&pipes.failures),
    );
    let pool = Pool::new(pipes, LIMITS.outstanding);
    let server: SocketAddr = SERVER.parse().expect("addr");
    mode.store(DROP_AT_REQUEST, Ordering::SeqCst);

    let first = pool.query(server, query(1)).await.expect_err("dropped");
    assert!(
        matches!(&first, DohError::Conn(ConnError::Lost(_))),
        "{first:?}"
    );
    let started = Instant::now();
    let second = pool.query(server, query(2)).await.expect_err("in backoff");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "no new handshake while in backoff"
    );
    let logged = failures.lock().expect("log").clone();
    assert_eq!(logged.len(), 1, "one log line: {logged:?}");
    let (at, why, wait) = &logged[0];
    assert_eq!((*at, *wait), (server, Duration::from_secs(1)));
    assert_eq!(second, DohError::Conn(why.clone()), "the reason, at once");
    assert_eq!(started.elapsed(), Duration::ZERO);

    tokio::time::sleep(Duration::from_secs(1)).await;
    pool.query(server, query(3)).await.expect_err("dropped");
    assert_eq!(connections.load(Ordering::SeqCst), 2);
    assert_eq!(
        failures.lock().expect("log").last().map(|f| f.2),
        Some(Duration::from_secs(2))
    );

    tokio::time::sleep(Duration::from_secs(2)).await;
    mode.store(ANSWER, Ordering::SeqCst);
    let answered = pool.query(server, query(4)).await;
    assert!(answered.is_ok(), "{answered:?}");
    assert_eq!(connections.load(Ordering::SeqCst), 3);
    tokio::time::sleep(LIMITS.idle + Duration::from_secs(2)).await;
    mode.store(DROP_AT_REQUEST, Ordering::SeqCst);
    pool.query(server, query(5)).await.expect_err("dropped");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        4,
        "idle close no failure"
    );
    assert_eq!(
        failures.lock().expect("log").last().map(|f| f.2),
        Some(Duration::from_secs(1)),
        "the answer reset the backoff"
    );
}

/// A GOAWAY on a connection with nothing in flight is a server closing an idle connection:
/// no failure, the next query connects at once.
#[tokio::test(start_paused = true)]
async fn a_goaway_with_nothing_in_flight_is_no_failure() {
    let pipes = Pipes::default();
    let (connections, mode, failures) = (
        Arc::clone(&pipes.connections),
        Arc::clone(&pipes.mode),
        Arc::clone(&pipes.failures),
    );
    let pool = Pool::new(pipes, LIMITS.outstanding);
    let server: SocketAddr = SERVER.parse().expect("addr");
    mode.store(GOAWAY_IDLE, Ordering::SeqCst);
    let jobs = pool.connection(server).expect("connects");
    tokio::time::timeout(Duration::from_secs(1), jobs.closed())
        .await
        .expect("closed by the server");
    mode.store(ANSWER, Ordering::SeqCst);
    let answered = pool.query(server, query(1)).await;
    assert!(answered.is_ok(), "{answered:?}");
    assert_eq!(connections.load(Ordering::SeqCst), 2);
    assert!(failures.lock().expect("log").is_empty());
}

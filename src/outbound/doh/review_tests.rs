//! Review of the kept HTTP/2 connection through the pool: a server that says GOAWAY (nginx
//! does after `keepalive_requests`, 1000 by default; any server on a graceful restart) takes
//! no new streams on that connection, so the queries after it must go on a new connection
//! rather than fail while the old one's last streams finish.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response as HttpResponse};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::DuplexStream;
use tokio::sync::{Notify, mpsc};

use super::conn::{DohError, Http2, Job, MEDIA_TYPE, handshake, run};
use crate::outbound::tls::conn::{ConnError, Limits};
use crate::outbound::tls::pool::{Health, Pool, Transport};

const LIMITS: Limits = Limits {
    outstanding: 50,
    idle: Duration::from_secs(20),
};
const URL: &str = "https://dns.example/dns-query";
/// A query with this last octet is answered only after [`SLOW`].
const SLOW_TAG: u8 = 1;
const SLOW: Duration = Duration::from_secs(3);

/// Every connection is a hyper server on a pipe; the first one says GOAWAY when told.
struct Pipes {
    connections: Arc<AtomicUsize>,
    go_away: Arc<Notify>,
}

impl Transport for Pipes {
    type Error = DohError;
    type Stream = (
        hyper::client::conn::http2::SendRequest<Full<Bytes>>,
        Http2<DuplexStream>,
    );

    async fn connect(&self, _: SocketAddr) -> Result<Self::Stream, ConnError> {
        let nth = self.connections.fetch_add(1, Ordering::SeqCst);
        let (client, server) = tokio::io::duplex(1 << 16);
        let go_away = (nth == 0).then(|| Arc::clone(&self.go_away));
        tokio::spawn(serve(server, go_away));
        handshake(client).await
    }

    fn serve(
        &self,
        (send, connection): Self::Stream,
        jobs: mpsc::Receiver<Job>,
        health: Health,
    ) -> impl Future<Output = ()> + Send {
        let uri = URL.parse().expect("uri");
        run(send, connection, uri, jobs, LIMITS, health)
    }

    fn failed(&self, _: SocketAddr, _: &ConnError, _: Duration) {}
}

/// Echoes each query as its response (slowly for [`SLOW_TAG`]); with `go_away`, shuts down
/// gracefully (GOAWAY, then the streams in flight finish) when it is notified.
async fn serve(server: DuplexStream, go_away: Option<Arc<Notify>>) {
    let service = service_fn(|req: Request<Incoming>| async move {
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes().to_vec());
        let body = body.unwrap_or_default();
        if body.last() == Some(&SLOW_TAG) {
            tokio::time::sleep(SLOW).await;
        }
        let mut response = HttpResponse::new(Full::new(Bytes::from(body)));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
        Ok::<_, Infallible>(response)
    });
    let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(server), service);
    let mut connection = std::pin::pin!(connection);
    if let Some(go_away) = go_away {
        tokio::select! {
            _ = connection.as_mut() => return,
            () = go_away.notified() => connection.as_mut().graceful_shutdown(),
        }
    }
    let _ = connection.await;
}

fn query(tag: u8) -> Vec<u8> {
    let mut bytes = vec![0x12, 0x34];
    bytes.extend_from_slice(&[0; 10]);
    bytes.push(tag);
    bytes
}

/// RFC 9113 §6.8: after GOAWAY the streams the server took are still answered; only new
/// ones must go elsewhere. hyper learns of the GOAWAY only when the next request is put to
/// it, so that one fails, at once; the one after goes on a new connection, and the slow
/// query in flight gets its answer rather than being failed with the old connection.
#[tokio::test(start_paused = true)]
async fn after_a_goaway_the_streams_in_flight_are_answered_and_new_queries_get_a_new_connection() {
    let connections = Arc::new(AtomicUsize::new(0));
    let go_away = Arc::new(Notify::new());
    let pool = Arc::new(Pool::new(
        Pipes {
            connections: Arc::clone(&connections),
            go_away: Arc::clone(&go_away),
        },
        LIMITS.outstanding,
    ));
    let server: SocketAddr = "127.243.0.1:443".parse().expect("addr");
    let first = pool.query(server, query(2)).await;
    assert!(first.is_ok(), "{first:?}");
    // A slow query in flight, then the server's GOAWAY.
    let slow = {
        let pool = Arc::clone(&pool);
        tokio::spawn(async move { pool.query(server, query(SLOW_TAG)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    go_away.notify_one();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = tokio::time::Instant::now();
    if let Err(e) = pool.query(server, query(3)).await {
        assert!(matches!(e, DohError::Conn(ConnError::Lost(_))), "{e:?}");
        assert_eq!(started.elapsed(), Duration::ZERO, "failed at once");
    }
    let again = pool.query(server, query(4)).await;
    assert!(again.is_ok(), "{again:?}");
    assert_eq!(connections.load(Ordering::SeqCst), 2, "a new connection");
    let slow = slow.await.expect("task");
    assert!(
        slow.is_ok(),
        "the stream in flight at the GOAWAY is answered: {slow:?}"
    );
}

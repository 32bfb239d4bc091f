//! DNS over HTTPS for clients (RFC 8484): TLS with ALPN `h2` and `http/1.1`, HTTP/2 or
//! HTTP/1.1 by hyper, `GET /dns-query?dns=` and `POST /dns-query` handed to the same handler
//! as every other transport. What a request asks is decided by [`request`] (pure, fuzzed);
//! the headers of the answer by [`response`]; this module keeps the connections: a slot of
//! the listener's cap before the handshake, the handshake bound, the idle timeout, and the
//! HTTP limits (header size, concurrent HTTP/2 streams, body size).

pub(crate) mod request;
pub(crate) mod response;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Bytes, Incoming};
use hyper::header::CONTENT_TYPE;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tracing::debug;

use self::request::{Head, HttpError, MAX_MESSAGE, Wants};
use super::conns::Guard;
use super::shutdown::Shutdown;
use super::tcp::{self, TcpLimits};
use super::tls::{self, Certificates, HANDSHAKE_TIMEOUT};
use crate::handler::{Handler, Transport};

/// HTTP/2 streams one connection may have open at once (RFC 9113 §5.1.2): a client's
/// parallelism, bounded so one connection cannot start unbounded lookups. 100 is what RFC 9113
/// recommends as the least, and what nginx and Unbound (`http-max-streams`) use.
const MAX_STREAMS: u32 = 100;

/// The most header bytes (HTTP/2 header list; HTTP/1.1 read buffer, which holds the request
/// line and headers). A GET of a 12,000-byte query fits (16,000 base64url characters); DNS
/// queries are a few dozen bytes.
const MAX_HEADERS: usize = 16 * 1024;

/// How long a connection's open requests may run on after shutdown before it is dropped.
const DRAIN: Duration = Duration::from_secs(2);

/// Serves DNS over HTTPS on `listener` until shutdown, with the TCP listener's caps: a slot is
/// taken before the handshake, so handshakes count against `max_connections`, and a connection
/// with no request for `idle_timeout` is closed.
pub(crate) async fn serve(
    listener: TcpListener,
    certificates: Arc<Certificates>,
    handler: Arc<Handler>,
    limits: TcpLimits,
    shutdown: Shutdown,
) {
    let limits = limits.clamped();
    tcp::accept_each(
        listener,
        &limits,
        shutdown,
        |stream, peer, guard, shutdown| {
            let acceptor = certificates.https_acceptor();
            let handler = Arc::clone(&handler);
            connection(
                stream,
                peer,
                acceptor,
                handler,
                limits.idle_timeout,
                guard,
                shutdown,
            )
        },
    )
    .await;
}

/// One connection in `guard`'s place among the listener's: the handshake (bounded), then
/// HTTP until the client goes, it idles past `idle`, it is closed to make room for another
/// client (only while no request runs), or shutdown.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    handler: Arc<Handler>,
    idle: Duration,
    guard: Guard,
    mut shutdown: Shutdown,
) {
    let Some(stream) = tls::handshake(acceptor, stream, peer, &guard, &mut shutdown).await else {
        return;
    };
    let guard = Arc::new(guard);
    let service = {
        let guard = Arc::clone(&guard);
        service_fn(move |req| {
            let handler = Arc::clone(&handler);
            // Busy from here: neither idle nor closed to make room while a request runs.
            let busy = guard.busy();
            async move {
                let _busy = busy;
                Ok::<_, Infallible>(respond(req, &handler, peer, idle).await)
            }
        })
    };
    let builder = builder(idle);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                debug!(client = %peer, error = %e, "doh connection ended");
            }
            return;
        }
        _ = shutdown.recv() => {}
        () = guard.idle_for(idle) => debug!(client = %peer, "doh connection idle; closing"),
        () = guard.evicted() => debug!(client = %peer, "doh connection closed to make room"),
    }
    // Shutdown or idle: HTTP/2 says GOAWAY and HTTP/1.1 closes once the request in progress
    // is answered; whatever is still running after DRAIN is dropped with the socket.
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(DRAIN, conn).await;
}

/// hyper's server for one connection: HTTP/1.1 or HTTP/2 as the client speaks (ALPN `h2`
/// clients send the HTTP/2 preface), each with its limits.
fn builder(idle: Duration) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // Headers trickled in byte by byte (slowloris) are cut off; the idle timeout covers
        // the wait before a request starts.
        .header_read_timeout(idle.min(HANDSHAKE_TIMEOUT))
        .max_buf_size(MAX_HEADERS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_STREAMS)
        .max_header_list_size(u32::try_from(MAX_HEADERS).unwrap_or(u32::MAX));
    builder
}

/// Turns one HTTP request into its response: refused with a status, or answered by the
/// handler as a DNS message from `peer` over HTTPS.
async fn respond(
    req: Request<Incoming>,
    handler: &Handler,
    peer: SocketAddr,
    idle: Duration,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let head = Head {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        content_type: parts.headers.get(CONTENT_TYPE).map(|v| v.as_bytes()),
    };
    let query = match request::head(&head) {
        Ok(Wants::Message(bytes)) => bytes,
        Ok(Wants::Body) => match read_body(body, idle).await {
            Ok(bytes) => bytes,
            Err(e) => return response::refusal(e),
        },
        Err(e) => {
            drain(body, idle).await;
            return response::refusal(e);
        }
    };
    // A cache hit is answered by the hit path, as over DoT; the rest by the full path.
    let mut hit = Vec::new();
    if handler.answer_stream_fast(&query, peer, Transport::Https, &mut hit) {
        return match hit.is_empty() {
            false => response::answer(hit),
            // A limit's answer that could not be worded: as the full path's drop below.
            true => response::refusal(HttpError::BadRequest("no DNS answer to this query")),
        };
    }
    match handler.handle_bytes(&query, peer, Transport::Https).await {
        Some(reply) => response::answer(reply),
        // Dropped by the handler (a rate limit's drop, a zone transfer, which does not fit
        // one HTTP answer): no DNS message to send.
        None => response::refusal(HttpError::BadRequest("no DNS answer to this query")),
    }
}

/// A POST body, read to its end but never past [`MAX_MESSAGE`] bytes, within `within`.
async fn read_body(body: Incoming, within: Duration) -> Result<Vec<u8>, HttpError> {
    let declared = body.size_hint().lower();
    if usize::try_from(declared).map_or(true, |n| n > MAX_MESSAGE) {
        return Err(HttpError::PayloadTooLarge);
    }
    let read = tokio::time::timeout(within, Limited::new(body, MAX_MESSAGE).collect()).await;
    let bytes = match read {
        Err(_) => return Err(HttpError::BadRequest("body not sent in time")),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(HttpError::PayloadTooLarge);
        }
        Ok(Err(_)) => return Err(HttpError::BadRequest("body cut short")),
        Ok(Ok(collected)) => collected.to_bytes().to_vec(),
    };
    request::body(&bytes)?;
    Ok(bytes)
}

/// Reads a refused request's body to its end, keeping none of it, before the refusal goes:
/// over HTTP/2 a response sent while the client still uploads is followed by RST_STREAM
/// (RFC 9113 §8.1), which some clients (curl 7.88) report as an error instead of the status.
/// At most [`MAX_MESSAGE`] bytes and `within`: past that, the refusal goes anyway.
async fn drain(body: Incoming, within: Duration) {
    let mut body = Limited::new(body, MAX_MESSAGE);
    let _ = tokio::time::timeout(within, async {
        while let Some(Ok(_)) = body.frame().await {}
    })
    .await;
}

#[cfg(test)]
mod listener_review;
#[cfg(test)]
mod review_tests;
#[cfg(test)]
mod tests;

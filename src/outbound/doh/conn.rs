//! One kept-open HTTP/2 connection to a DoH server: each query is a POST on a stream of its own
//! (RFC 8484 §4.1), many at once, so responses come back in whatever order the server finishes
//! them and are matched by stream, not by DNS ID: every query goes with ID 0 (§4.1, for HTTP
//! caches) and its response gets the query's own ID back. At most [`Limits::outstanding`]
//! streams are open at once; more wait in the job queue. With nothing in flight for
//! [`Limits::idle`], the connection is closed.
//!
//! Generic over the stream, so that tests drive it through an in-memory pipe with a hyper
//! server on the other end; in service the stream is a `tokio_rustls` client stream.

use std::error::Error as _;
use std::future::Future;
use std::time::Duration;

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http2::{self, SendRequest};
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::outbound::tls::conn::{ConnError, Limits, Response};
use crate::outbound::tls::pool::{Health, fail_queued};

/// RFC 8484 §6: the media type of a DNS message, both ways.
pub(crate) const MEDIA_TYPE: &str = "application/dns-message";
/// The largest DNS message; a longer body is no DNS message (RFC 8484 §6 allows no more).
const MAX_MESSAGE: usize = 65_535;
/// The shortest: a header.
const HEADER: usize = 12;
/// How long a closing connection may take to say GOAWAY before it is dropped.
const CLOSE: Duration = Duration::from_secs(1);

/// Why a query got no usable response over HTTPS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DohError {
    /// Connecting, the handshake, or the connection failed (as for DoT).
    #[error(transparent)]
    Conn(#[from] ConnError),
    /// The server answered the request, but not with a DNS message.
    #[error("unusable HTTP response: {0}")]
    Response(#[from] BadResponse),
}

/// What is wrong with an HTTP response to a query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BadResponse {
    #[error("status {0}, not 200")]
    Status(u16),
    #[error("content-type {0:?}, not application/dns-message")]
    ContentType(String),
    #[error("body over {MAX_MESSAGE} octets")]
    TooLarge,
    #[error("body of {0} octets, shorter than a DNS header")]
    Short(usize),
}

/// A query handed to the connection, its failure told as DoH's.
pub(crate) type Job = crate::outbound::tls::conn::Job<DohError>;

/// The connection half of an HTTP/2 client over `S`: it must be polled for any request to move.
pub(crate) type Http2<S> = http2::Connection<TokioIo<S>, Full<Bytes>, TokioExecutor>;

/// The HTTP/2 connection preface and settings over `stream` (already TLS with ALPN "h2"):
/// the sender of requests, and the connection, which must be polled for any to move.
pub(crate) async fn handshake<S>(
    stream: S,
) -> Result<(SendRequest<Full<Bytes>>, Http2<S>), ConnError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    http2::Builder::new(TokioExecutor::new())
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| ConnError::Connect(format!("HTTP/2 handshake: {}", chain(&e))))
}

/// How one stream's exchange ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// A DNS message came back.
    Answer,
    /// An HTTP response came back, but no DNS message: the server is there, the try failed.
    Unusable,
    /// Nothing came back (the waiter gave up, or the stream or connection failed).
    Nothing,
}

/// Serves `jobs` as POSTs to `uri` over the connection until it fails, the server closes it,
/// every sender is gone, or it has been idle for `limits.idle`. Queries still in flight or
/// queued then fail. `health` hears of each response, and of the server ending the
/// connection (GOAWAY, a close or reset, silence) with queries waiting.
pub(crate) async fn run<C>(
    send: SendRequest<Full<Bytes>>,
    connection: C,
    uri: Uri,
    mut jobs: mpsc::Receiver<Job>,
    limits: Limits,
    mut health: Health,
) where
    C: Future<Output = hyper::Result<()>>,
{
    let mut connection = std::pin::pin!(connection);
    let mut streams: JoinSet<Outcome> = JoinSet::new();
    // Why the connection ended, for the streams still in flight then.
    let (gone, ended) = watch::channel(None::<String>);
    // The last time the connection did anything for us: a response read, or the first query
    // sent on an idle connection. The timer runs from it, for idleness and for silence.
    let mut progress = Instant::now();
    // Why it ended; whether it is still open (ours to close); whether the server ended it
    // gracefully (GOAWAY: what it took is still answered); whether the server ended it.
    let (why, open, graceful, by_server) = loop {
        let room = streams.len() < limits.outstanding;
        tokio::select! {
            job = jobs.recv(), if room => {
                let Some(job) = job else {
                    break ("no more queries".to_string(), true, false, false);
                };
                if streams.is_empty() {
                    progress = Instant::now();
                }
                if let Some(exchange) = exchange(send.clone(), &uri, job, ended.clone()) {
                    streams.spawn(exchange);
                }
            }
            Some(done) = streams.join_next(), if !streams.is_empty() => {
                if heard(&mut health, done) {
                    progress = Instant::now();
                }
            }
            // Ok: the server's GOAWAY (RFC 9113 §6.8), or the connection's end. hyper's own
            // task still carries the streams the server took, which are then answered (or
            // fail by themselves once the connection is gone): only new ones must go elsewhere.
            ended = &mut connection => break match ended {
                Ok(()) => ("closed by the server".to_string(), false, true, true),
                Err(e) => (format!("HTTP/2: {}", chain(&e)), false, false, true),
            },
            () = tokio::time::sleep_until(progress + limits.idle) => {
                if streams.is_empty() {
                    if !jobs.is_empty() {
                        // A query came in as the timer fired: not idle after all.
                        progress = Instant::now();
                        continue;
                    }
                    break ("idle".to_string(), true, false, false);
                }
                // Streams still wait, but nothing came back for a whole idle period: a server
                // that keeps the connection open and answers nothing is no server.
                break (format!("no response for {:?}", limits.idle), true, false, true);
            }
        }
    };
    // Streams that ended as the connection did: an answer among them counts first.
    while let Some(done) = streams.try_join_next() {
        heard(&mut health, done);
    }
    // Before the queries hear of it: none of them may reconnect past the backoff. With
    // nothing in flight or queued it was an idle close, which servers may do. After a GOAWAY
    // the streams the server took may still be answered, which resets the backoff again.
    if by_server && !(streams.is_empty() && jobs.is_empty()) {
        health.lost(&ConnError::Lost(why.clone()));
    }
    // Nothing more goes on this connection: the pool makes a new one for the next query.
    fail_queued(jobs, &ConnError::Lost(why.clone()));
    if graceful {
        drain(&mut streams, &mut health, progress, limits.idle).await;
    }
    // The streams still in flight are told why, and end.
    let _ = gone.send(Some(why));
    while streams.join_next().await.is_some() {}
    drop(send);
    if open {
        // With every sender gone hyper says GOAWAY and closes; a server that holds on is not
        // waited for.
        let _ = tokio::time::timeout(CLOSE, connection).await;
    }
}

/// Tells `health` how a stream ended; true when it brought a DNS message (progress).
fn heard(health: &mut Health, done: Result<Outcome, tokio::task::JoinError>) -> bool {
    let outcome = done.unwrap_or(Outcome::Nothing);
    if outcome != Outcome::Nothing {
        health.answered();
    }
    outcome == Outcome::Answer
}

/// Waits for the streams in flight to end by themselves while they keep answering: no longer
/// than `idle` after the last response.
async fn drain(
    streams: &mut JoinSet<Outcome>,
    health: &mut Health,
    mut progress: Instant,
    idle: Duration,
) {
    loop {
        tokio::select! {
            done = streams.join_next() => match done {
                None => return,
                Some(done) => {
                    if heard(health, done) {
                        progress = Instant::now();
                    }
                }
            },
            () = tokio::time::sleep_until(progress + idle) => return,
        }
    }
}

/// One query's stream: the POST, the response checked and read, its ID restored; `None` when
/// nobody waits for it any more or it cannot be sent. The stream is reset (hyper sends
/// RST_STREAM) when its waiter gives up first.
fn exchange(
    mut send: SendRequest<Full<Bytes>>,
    uri: &Uri,
    job: Job,
    mut ended: watch::Receiver<Option<String>>,
) -> Option<impl Future<Output = Outcome> + Send + 'static> {
    let Job { bytes, mut reply } = job;
    if reply.is_closed() {
        // Its exchange ended while it waited in the queue.
        return None;
    }
    let Some((id, request)) = post(uri, bytes) else {
        let _ = reply.send(Err(
            ConnError::Lost("query shorter than a header".into()).into()
        ));
        return None;
    };
    Some(async move {
        // Edge: the round trip runs from the request's start.
        let sent = Instant::now();
        let work = async {
            let response = send
                .send_request(request)
                .await
                .map_err(|e| ConnError::Lost(chain(&e)))?;
            read(response).await
        };
        let result = tokio::select! {
            result = work => result,
            () = reply.closed() => return Outcome::Nothing,
            why = ended.wait_for(Option::is_some) => {
                let why = why.map_or_else(|_| "connection closed".to_string(), |w| w.clone().unwrap_or_default());
                Err(ConnError::Lost(why).into())
            }
        };
        // Edge: the response's arrival, body and all.
        let at = Instant::now();
        let outcome = match &result {
            Ok(_) => Outcome::Answer,
            Err(DohError::Response(_)) => Outcome::Unusable,
            Err(DohError::Conn(_)) => Outcome::Nothing,
        };
        let _ = reply.send(result.map(|mut bytes| {
            if let Some(wire) = bytes.get_mut(..2) {
                wire.copy_from_slice(&id.to_be_bytes());
            }
            Response {
                bytes,
                rtt: at.saturating_duration_since(sent),
                at,
            }
        }));
        outcome
    })
}

/// The POST of `query` to `uri` (RFC 8484 §4.1), under DNS ID 0; and the ID the query had.
pub(crate) fn post(uri: &Uri, mut query: Vec<u8>) -> Option<(u16, Request<Full<Bytes>>)> {
    if query.len() < HEADER {
        return None;
    }
    let id = u16::from_be_bytes([query[0], query[1]]);
    query[..2].fill(0);
    let mut request = Request::new(Full::new(Bytes::from(query)));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = uri.clone();
    let headers = request.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    headers.insert(ACCEPT, HeaderValue::from_static(MEDIA_TYPE));
    Some((id, request))
}

/// The DNS message in a response: 200, `application/dns-message`, at most 65,535 octets.
async fn read(response: hyper::Response<Incoming>) -> Result<Vec<u8>, DohError> {
    check_head(response.status(), response.headers())?;
    let body = Limited::new(response.into_body(), MAX_MESSAGE)
        .collect()
        .await
        .map_err(|e| match e.downcast_ref::<LengthLimitError>() {
            Some(_) => DohError::Response(BadResponse::TooLarge),
            None => DohError::Conn(ConnError::Lost(format!("reading the response: {e}"))),
        })?
        .to_bytes();
    if body.len() < HEADER {
        return Err(BadResponse::Short(body.len()).into());
    }
    Ok(Vec::from(body))
}

/// Whether a response's status and headers announce a DNS message. The media type may carry
/// parameters and is compared without case (RFC 9110 §8.3.1).
pub(crate) fn check_head(status: StatusCode, headers: &HeaderMap) -> Result<(), BadResponse> {
    if status != StatusCode::OK {
        return Err(BadResponse::Status(status.as_u16()));
    }
    let content_type = headers
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    if !media.eq_ignore_ascii_case(MEDIA_TYPE) {
        return Err(BadResponse::ContentType(content_type));
    }
    Ok(())
}

/// hyper's error with its causes (h2's reason, the I/O error), which its own text leaves out.
fn chain(e: &hyper::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

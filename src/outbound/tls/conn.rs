//! One kept-open DNS-over-TLS connection (RFC 7858 §3.3, RFC 7766 §6.2.1): queries are
//! pipelined, each with an ID no other outstanding query on the connection has, and the
//! responses are matched by ID in whatever order they come. At most [`Limits::outstanding`]
//! queries are on the wire at once; more wait in the job queue. With nothing outstanding for
//! [`Limits::idle`], the connection is closed (RFC 7858 §3.4: clients close idle ones).
//!
//! The task is generic over the stream so that tests drive it through an in-memory pipe with
//! a paused clock; in service the stream is a `tokio_rustls` client stream.

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::pool::Health;
use crate::frame::{framed, read_frame};

/// How a connection is kept.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Queries on the wire at once; more wait in the queue.
    pub(crate) outstanding: usize,
    /// With nothing outstanding this long, the connection is closed.
    pub(crate) idle: Duration,
}

/// A response read off the connection, its ID already the query's own again.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) bytes: Vec<u8>,
    /// From the query's write to the response's read: the server's time, not the handshake's.
    pub(crate) rtt: Duration,
    pub(crate) at: Instant,
}

/// Why a query got no response on this connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ConnError {
    /// Connecting or the handshake failed (the reason is the transport's or rustls's).
    #[error("{0}")]
    Connect(String),
    /// Nobody listens at the server's address.
    #[error("connection refused")]
    Refused,
    /// The connection ended (closed by the server, a read or write error, idle) before the
    /// response came.
    #[error("connection lost before the answer: {0}")]
    Lost(String),
}

/// A query handed to the connection: its wire form (the ID is the first two octets) and where
/// the response goes, or why none came (`E`: DoH's errors say more than a connection's).
pub(crate) struct Job<E = ConnError> {
    pub(crate) bytes: Vec<u8>,
    pub(crate) reply: oneshot::Sender<Result<Response, E>>,
}

/// A query on the wire: the ID it had before we chose the wire's, when it went, and who waits.
struct Outstanding {
    id: u16,
    sent: Instant,
    reply: oneshot::Sender<Result<Response, ConnError>>,
}

/// Serves `jobs` over `stream` until the stream fails, the server closes it, every sender is
/// gone, or it has been idle for `limits.idle`. Queries still outstanding or queued then get
/// [`ConnError::Lost`]. `health` hears of each response, and of the server ending the
/// connection (closing it, a read or write error, silence) with queries waiting.
pub(crate) async fn run<S>(
    stream: S,
    mut jobs: mpsc::Receiver<Job>,
    limits: Limits,
    mut health: Health,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    // Reading is its own task: a read cut off half-way by select! would lose the frame's start.
    let (frames_tx, mut frames) = mpsc::channel::<std::io::Result<Option<Vec<u8>>>>(16);
    let read_task = tokio::spawn(async move {
        loop {
            let frame = read_frame(&mut reader).await;
            let end = !matches!(frame, Ok(Some(_)));
            if frames_tx.send(frame).await.is_err() || end {
                return;
            }
        }
    });
    let mut outstanding: HashMap<u16, Outstanding> = HashMap::new();
    // The last time the connection did anything for us: a response read, or the first query
    // written to an idle connection. The timer runs from it, for idleness and for silence.
    let mut progress = Instant::now();
    // Why it ended, and whether the server ended it (not our idle close or our last sender).
    let (why, by_server) = loop {
        if outstanding.len() >= limits.outstanding {
            // Queries whose exchange has ended no longer need their place.
            outstanding.retain(|_, o| !o.reply.is_closed());
        }
        let room = outstanding.len() < limits.outstanding;
        tokio::select! {
            job = jobs.recv(), if room => {
                let Some(job) = job else { break ("no more queries".to_string(), false) };
                // Queries given up by their exchanges stay on the books (their IDs stay
                // taken), but nobody waits on them: a connection with only those is idle, and
                // the silence timer runs from this query, not from before them.
                if outstanding.values().all(|o| o.reply.is_closed()) {
                    progress = Instant::now();
                }
                if let Err(e) = send(&mut writer, &mut outstanding, job).await {
                    break (format!("write: {e}"), true);
                }
            }
            frame = frames.recv() => match frame {
                Some(Ok(Some(bytes))) => {
                    // Any response, even to a query given up: the server answers.
                    health.answered();
                    answer(&mut outstanding, bytes);
                    progress = Instant::now();
                }
                Some(Ok(None)) | None => break ("closed by the server".to_string(), true),
                Some(Err(e)) => break (format!("read: {e}"), true),
            },
            () = tokio::time::sleep_until(progress + limits.idle) => {
                outstanding.retain(|_, o| !o.reply.is_closed());
                if outstanding.is_empty() {
                    if !jobs.is_empty() {
                        // A query came in as the timer fired: not idle after all.
                        progress = Instant::now();
                        continue;
                    }
                    break ("idle".to_string(), false);
                }
                // Queries still wait, but nothing came back for a whole idle period: a server
                // that keeps the connection open and answers nothing is no server.
                break (format!("no response for {:?}", limits.idle), true);
            }
        }
    };
    // Before the queries hear of it: none of them may reconnect past the backoff. With
    // nothing outstanding or queued it was an idle close, which servers may do (RFC 7766
    // §6.2.3).
    if by_server && !(outstanding.is_empty() && jobs.is_empty()) {
        health.lost(&ConnError::Lost(why.clone()));
    }
    read_task.abort();
    // RFC 7766 §6.2.2: close cleanly when we are done with it.
    let _ = writer.shutdown().await;
    for (_, o) in outstanding.drain() {
        let _ = o.reply.send(Err(ConnError::Lost(why.clone())));
    }
    jobs.close();
    while let Ok(job) = jobs.try_recv() {
        let _ = job.reply.send(Err(ConnError::Lost(why.clone())));
    }
}

/// Writes one query under an ID unused on this connection: its own when free, else a random
/// free one (the response gets its own back in [`answer`]).
async fn send(
    writer: &mut (impl AsyncWrite + Unpin),
    outstanding: &mut HashMap<u16, Outstanding>,
    job: Job,
) -> std::io::Result<()> {
    let Job { mut bytes, reply } = job;
    if reply.is_closed() {
        // Its exchange ended while it waited in the queue.
        return Ok(());
    }
    let Some(id_bytes) = bytes.get_mut(..2) else {
        let _ = reply.send(Err(ConnError::Lost("query shorter than a header".into())));
        return Ok(());
    };
    let id = u16::from_be_bytes([id_bytes[0], id_bytes[1]]);
    let mut wire = id;
    while outstanding.contains_key(&wire) {
        wire = rand::random();
    }
    id_bytes.copy_from_slice(&wire.to_be_bytes());
    let Some(frame) = framed(&bytes) else {
        let _ = reply.send(Err(ConnError::Lost("query over 65535 octets".into())));
        return Ok(());
    };
    // Edge: the round trip runs from the write.
    let sent = Instant::now();
    outstanding.insert(wire, Outstanding { id, sent, reply });
    writer.write_all(&frame).await?;
    writer.flush().await
}

/// Hands a response to the query with its ID, restoring the query's own ID; a response to no
/// outstanding query (one given up, or a confused server) is dropped.
fn answer(outstanding: &mut HashMap<u16, Outstanding>, mut bytes: Vec<u8>) {
    let Some(id_bytes) = bytes.get_mut(..2) else {
        return;
    };
    let wire = u16::from_be_bytes([id_bytes[0], id_bytes[1]]);
    let Some(o) = outstanding.remove(&wire) else {
        tracing::debug!(id = wire, "DoT response to no outstanding query: dropped");
        return;
    };
    id_bytes.copy_from_slice(&o.id.to_be_bytes());
    // Edge: the response's arrival.
    let at = Instant::now();
    let _ = o.reply.send(Ok(Response {
        bytes,
        rtt: at.saturating_duration_since(o.sent),
        at,
    }));
}

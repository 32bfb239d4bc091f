//! One stream connection's life (TCP, or TCP inside TLS), in one task that owns the whole
//! stream (no `split`, whose lock a TLS stream would take for every read and write):
//!
//! ```text
//! read what is there ─► each whole frame ─┬─ hit path (inline) ──────────► out ─► one write
//!   (bytes buffered)                      └─ miss: spawned full path ─► channel ─┘  + flush
//! ```
//!
//! Every frame that arrived together is answered before anything is written, and the replies
//! that are ready (hits, and the full path's finished ones) go out in one write: a pipelined
//! burst costs one TLS record and one syscall, not one per reply. Reading stops (and the
//! connection closes once its answers are written) at shutdown, eviction, the client's close
//! or the idle timeout; a write the client does not take within the idle timeout closes it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::Instant;
use tracing::debug;

use super::Connection;
use crate::handler::{Handler, Reply, Transport};
use crate::server::conns::Guard;
use crate::server::shutdown::Shutdown;

/// What one read asks for: any query whole (and a burst of small ones), and what an idle
/// connection keeps allocated for its next read.
const READ_CHUNK: usize = 512;

/// At most this many bytes of replies are gathered for one write (a zone transfer's messages
/// come faster than a slow client takes them; the channel is their backpressure).
const WRITE_BATCH: usize = 64 * 1024;

/// A buffer that grew past this for one large message is let go once it is empty.
const KEEP_CAPACITY: usize = 4096;

/// How far [`State::take_frames`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Taken {
    /// Every whole frame in the buffer was answered or spawned.
    All,
    /// A frame for the full path waits for a place in the pipeline.
    Blocked,
    /// Enough replies to write before taking more.
    Full,
}

/// A connection's state besides the stream itself.
struct State<'g> {
    peer: SocketAddr,
    transport: Transport,
    handler: Arc<Handler>,
    /// Told to clients that ask (RFC 7828): the idle timeout this loop enforces.
    keepalive: Duration,
    /// Its place among the listener's connections (held by the caller: its eviction is
    /// awaited beside this).
    guard: &'g Guard,
    /// The full path's way back; `None` once reading stopped, so the channel closes when the
    /// last query in flight is answered.
    tx: Option<mpsc::Sender<Vec<u8>>>,
    in_flight: Arc<Semaphore>,
    /// The pipeline's depth: fewer places than this free means queries are in flight.
    depth: usize,
    /// A place in the pipeline taken while blocked, for the frame that waited for it.
    permit: Option<OwnedSemaphorePermit>,
    /// Bytes read and not yet taken as frames.
    input: Vec<u8>,
    /// Framed replies waiting for the next write.
    out: Vec<u8>,
    /// The hit path's reply before it is framed into `out`.
    scratch: Vec<u8>,
    /// When the last whole frame was taken or the last full-path reply came back: the idle
    /// timeout counts from there (RFC 7766 §6.2.3: idle is no query outstanding), as the
    /// client told it by edns-tcp-keepalive counts from its last answer.
    last_active: Instant,
}

impl State<'_> {
    /// Answers the whole frames at the front of `input`: a hit inline into `out`, a miss
    /// spawned on the full path while the pipeline has room.
    fn take_frames(&mut self) -> Taken {
        let mut at = 0;
        let taken = loop {
            if self.out.len() >= WRITE_BATCH {
                break Taken::Full;
            }
            let Some(&[hi, lo]) = self.input.get(at..at + 2) else {
                break Taken::All;
            };
            let end = at + 2 + usize::from(u16::from_be_bytes([hi, lo]));
            let Some(message) = self.input.get(at + 2..end) else {
                break Taken::All;
            };
            let (peer, transport) = (self.peer, self.transport);
            if self
                .handler
                .answer_stream_fast(message, peer, transport, &mut self.scratch)
            {
                // Empty: nothing to send (a limit's answer that could not be worded).
                if !self.scratch.is_empty() {
                    push_frame(&mut self.out, &self.scratch);
                }
            } else {
                let permit = match self.permit.take() {
                    Some(permit) => permit,
                    None => match Arc::clone(&self.in_flight).try_acquire_owned() {
                        Ok(permit) => permit,
                        Err(_) => break Taken::Blocked,
                    },
                };
                let Some(tx) = self.tx.clone() else {
                    break Taken::All;
                };
                self.spawn_full(message.to_vec(), tx, permit);
            }
            at = end;
        };
        if at > 0 {
            self.input.drain(..at);
            self.last_active = Instant::now();
            // A hit is no query in flight, but activity: the connection is not idle.
            self.guard.touch();
        }
        taken
    }

    /// The full path for `message` on its own task, its reply (or a transfer's messages) sent
    /// back through `tx`; the connection is busy, and holds `permit`, until it is done.
    fn spawn_full(
        &self,
        message: Vec<u8>,
        tx: mpsc::Sender<Vec<u8>>,
        permit: OwnedSemaphorePermit,
    ) {
        let handler = Arc::clone(&self.handler);
        let busy = self.guard.busy();
        let (peer, transport, keepalive) = (self.peer, self.transport, self.keepalive);
        tokio::spawn(async move {
            match handler
                .handle_stream(&message, peer, transport, keepalive)
                .await
            {
                Some(Reply::One(reply)) => {
                    let _ = tx.send(reply).await;
                }
                // A transfer: each message is made as the connection takes the one before
                // (the channel is the backpressure), and stops when the connection is gone.
                Some(Reply::Stream(messages)) => {
                    for reply in messages {
                        if tx.send(reply).await.is_err() {
                            break;
                        }
                    }
                }
                None => {}
            }
            drop(busy);
            drop(permit);
        });
    }

    /// Stops taking queries: what is in flight is still answered.
    fn stop_reading(&mut self) {
        self.tx = None;
        self.permit = None;
    }

    fn reading(&self) -> bool {
        self.tx.is_some()
    }

    /// A full-path query is still being answered.
    fn answering(&self) -> bool {
        self.in_flight.available_permits() < self.depth
    }

    /// A full-path reply came back: framed for the next write, and activity.
    fn replied(&mut self, reply: &[u8]) {
        push_frame(&mut self.out, reply);
        self.last_active = Instant::now();
    }
}

/// Appends `message` with its 2-octet length to `out`; one too long for a length prefix
/// (nothing the handler makes) is left out.
fn push_frame(out: &mut Vec<u8>, message: &[u8]) {
    let Ok(len) = u16::try_from(message.len()) else {
        return;
    };
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(message);
}

/// Empties `buf`, letting it go if one large message made it large.
fn reset(buf: &mut Vec<u8>) {
    if buf.capacity() > KEEP_CAPACITY {
        *buf = Vec::new();
    } else {
        buf.clear();
    }
}

/// One connection's life: length-prefixed queries read from `stream` and answered (hits
/// inline, the rest concurrently), replies written back as they are ready, in batches.
pub(in crate::server) async fn connection<S>(mut stream: S, on: Connection, mut shutdown: Shutdown)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let Connection {
        peer,
        transport,
        handler,
        limits,
        guard,
    } = on;
    let idle_timeout = limits.idle_timeout;
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(limits.pipeline_depth);
    let mut state = State {
        peer,
        transport,
        handler,
        keepalive: idle_timeout,
        guard: &guard,
        tx: Some(tx),
        in_flight: Arc::new(Semaphore::new(limits.pipeline_depth)),
        depth: limits.pipeline_depth,
        permit: None,
        input: Vec::with_capacity(READ_CHUNK),
        out: Vec::new(),
        scratch: Vec::new(),
        last_active: Instant::now(),
    };
    // Made once and kept across the loop: a fresh `Notified`, watch wait or timer per query
    // would each take a lock or touch the timer wheel. The idle timer is moved on lazily,
    // when it fires before the connection has been idle that long.
    let stop = shutdown.recv();
    tokio::pin!(stop);
    let evicted = guard.evicted();
    tokio::pin!(evicted);
    let idle = tokio::time::sleep(idle_timeout);
    tokio::pin!(idle);
    // The full path's replies all came back (reading stopped and nothing is in flight).
    let mut drained = false;
    loop {
        let taken = if state.reading() {
            state.take_frames()
        } else {
            Taken::All
        };
        while state.out.len() < WRITE_BATCH {
            match rx.try_recv() {
                Ok(reply) => state.replied(&reply),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    drained = true;
                    break;
                }
            }
        }
        if !state.out.is_empty() {
            // A client that stops reading would otherwise stall this write forever, and with
            // it the connection and its slot: give up after the idle timeout, as for a client
            // that stops writing.
            let write = async {
                stream.write_all(&state.out).await?;
                stream.flush().await
            };
            match tokio::time::timeout(idle_timeout, write).await {
                Ok(Ok(())) => reset(&mut state.out),
                Ok(Err(_)) => return,
                Err(_) => {
                    debug!(client = %peer, "tcp write stalled; closing");
                    return;
                }
            }
        }
        if taken == Taken::Full {
            continue;
        }
        if drained {
            break;
        }
        let reading = state.reading();
        let blocked = taken == Taken::Blocked;
        if state.input.is_empty() && state.input.capacity() > KEEP_CAPACITY {
            state.input = Vec::new();
        }
        state.input.reserve(READ_CHUNK);
        tokio::select! {
            () = &mut stop, if reading => state.stop_reading(),
            // Closed to make room for a newcomer: this connection was idle longest.
            () = &mut evicted, if reading => {
                debug!(client = %peer, "idle connection closed to make room");
                state.stop_reading();
            }
            r = stream.read_buf(&mut state.input), if reading && !blocked => match r {
                Ok(n) if n > 0 => {}
                // Closed between messages or in the middle of one, or broken.
                _ => state.stop_reading(),
            },
            // A full pipeline waits for a slot, the frame that needs it at the front. (In an
            // async block: a disabled branch's future is still made, and this one costs.)
            p = async { Arc::clone(&state.in_flight).acquire_owned().await }, if reading && blocked => {
                state.permit = p.ok();
            }
            () = &mut idle, if reading && !blocked => {
                let now = Instant::now();
                let due = state.last_active + idle_timeout;
                if state.answering() {
                    // Not idle while a query runs: looked at again a timeout later.
                    idle.as_mut().reset(now + idle_timeout);
                } else if due > now {
                    idle.as_mut().reset(due);
                } else {
                    debug!(client = %peer, "tcp idle timeout");
                    state.stop_reading();
                }
            }
            reply = rx.recv(), if !drained => match reply {
                Some(reply) => state.replied(&reply),
                None => drained = true,
            },
        }
    }
    // Let queries already read finish and be written before closing (RFC 7766 §6.2.4).
    let _ = tokio::time::timeout(idle_timeout, stream.shutdown()).await;
}

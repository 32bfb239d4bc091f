//! TCP listener (RFC 7766): two-byte length framing, pipelined queries answered concurrently
//! and written back as each finishes, an idle timeout, and caps on open connections in total
//! and per client prefix ([`conns`]: the idle-longest connection makes room for a newcomer).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tracing::{debug, warn};

use super::conns::{Guard, Registry};
use super::shutdown::Shutdown;
use crate::frame::{framed, read_frame};
use crate::handler::{Handler, Reply, Transport};
use crate::limits::{
    TCP_IDLE_TIMEOUT_MS, TCP_IPV4_PREFIX, TCP_IPV6_PREFIX, TCP_MAX_CONNECTIONS,
    TCP_MAX_CONNECTIONS_PER_PREFIX, TCP_PIPELINE_DEPTH,
};

/// Connection limits for one TCP listener.
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub pipeline_depth: usize,
    /// Connections one client prefix may hold ([`TCP_MAX_CONNECTIONS_PER_PREFIX`]).
    pub max_per_prefix: usize,
    /// The prefix lengths that make a client's network ([`TCP_IPV4_PREFIX`], [`TCP_IPV6_PREFIX`]).
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
}

impl TcpLimits {
    /// Each limit moved into its documented bounds ([`TCP_IDLE_TIMEOUT_MS`],
    /// [`TCP_MAX_CONNECTIONS`], [`TCP_PIPELINE_DEPTH`], [`TCP_MAX_CONNECTIONS_PER_PREFIX`],
    /// the prefix lengths). Zero connections would refuse every
    /// client, a zero-deep pipeline cannot exist (`mpsc::channel(0)` panics), and a zero idle
    /// timeout would close every connection before its first query.
    pub(crate) fn clamped(self) -> TcpLimits {
        let ms = u64::try_from(self.idle_timeout.as_millis()).unwrap_or(u64::MAX);
        TcpLimits {
            idle_timeout: Duration::from_millis(TCP_IDLE_TIMEOUT_MS.clamp(ms)),
            max_connections: TCP_MAX_CONNECTIONS.clamp(self.max_connections),
            pipeline_depth: TCP_PIPELINE_DEPTH.clamp(self.pipeline_depth),
            max_per_prefix: TCP_MAX_CONNECTIONS_PER_PREFIX.clamp(self.max_per_prefix),
            ipv4_prefix: TCP_IPV4_PREFIX.clamp(self.ipv4_prefix),
            ipv6_prefix: TCP_IPV6_PREFIX.clamp(self.ipv6_prefix),
        }
    }
}

pub(super) async fn serve(
    listener: TcpListener,
    handler: Arc<Handler>,
    limits: TcpLimits,
    mut shutdown: Shutdown,
) {
    let registry = Registry::new(&limits);
    while let Some((stream, peer, guard)) = accept(&listener, &registry, &mut shutdown).await {
        guard.established();
        let handler = Arc::clone(&handler);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let (reader, writer) = stream.into_split();
            let transport = Transport::Tcp;
            let on = Connection {
                peer,
                transport,
                handler,
                limits,
                guard,
            };
            connection(reader, writer, on, shutdown).await;
        });
    }
}

/// The next connection with its place in `registry` (made by closing the idle-longest
/// connection if a cap is reached); `None` at shutdown. A connection the registry cannot make
/// room for (its prefix's or every connection busy) is closed at once so the client tries
/// elsewhere (RFC 7766 §6.2.2). TLS and HTTPS listeners call it too: their `Guard` is told
/// `established` after the handshake, marked `busy` while a query is answered, and its
/// `evicted` ends the connection.
pub(crate) async fn accept(
    listener: &TcpListener,
    registry: &Arc<Registry>,
    shutdown: &mut Shutdown,
) -> Option<(TcpStream, SocketAddr, Guard)> {
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.recv() => return None,
            r = listener.accept() => match r {
                Ok(r) => r,
                Err(e) => {
                    warn!(error = %e, "tcp accept failed");
                    // Out of file descriptors: back off rather than spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        match registry.admit(peer.ip()) {
            Some(guard) => return Some((stream, peer, guard)),
            None => {
                debug!(client = %peer, "connection limit reached, all busy; closing");
                drop(stream);
            }
        }
    }
}

/// Who a connection serves and under which limits.
pub(super) struct Connection {
    pub(super) peer: SocketAddr,
    pub(super) transport: Transport,
    pub(super) handler: Arc<Handler>,
    pub(super) limits: TcpLimits,
    /// Its place among the listener's connections, freed when the connection ends.
    pub(super) guard: Guard,
}

/// One connection's life: length-prefixed queries read from `reader`, answered concurrently,
/// replies written to `writer`. Generic over the halves so TLS shares it with plain TCP, which
/// keeps its lock-free `into_split` halves.
pub(super) async fn connection<R, W>(
    mut reader: R,
    mut writer: W,
    on: Connection,
    mut shutdown: Shutdown,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let Connection {
        peer,
        transport,
        handler,
        limits,
        guard,
    } = on;
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(limits.pipeline_depth);
    let writer_task = tokio::spawn(async move {
        while let Some(reply) = rx.recv().await {
            let Some(frame) = framed(&reply) else {
                continue;
            };
            // A client that stops reading would otherwise stall this write forever, and with
            // it the pipeline, the reader and the connection's slot: give up after the idle
            // timeout, as for a client that stops writing.
            match tokio::time::timeout(limits.idle_timeout, writer.write_all(&frame)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return,
                Err(_) => {
                    debug!(client = %peer, "tcp write stalled; closing");
                    return;
                }
            }
        }
        let _ = writer.shutdown().await;
    });
    let in_flight = Arc::new(Semaphore::new(limits.pipeline_depth));
    // Advertised to clients that ask (RFC 7828): the timeout this loop enforces.
    let keepalive = limits.idle_timeout;
    loop {
        let read = tokio::select! {
            _ = shutdown.recv() => break,
            // Closed to make room for a newcomer: this connection was idle longest.
            () = guard.evicted() => {
                debug!(client = %peer, "idle connection closed to make room");
                break;
            }
            // The writer gave up: nothing read from now on could be answered.
            _ = tx.closed() => break,
            r = tokio::time::timeout(limits.idle_timeout, read_frame(&mut reader)) => r,
        };
        let packet = match read {
            Ok(Ok(Some(packet))) => packet,
            // Closed between messages, or in the middle of one.
            Ok(Ok(None) | Err(_)) => break,
            Err(_) => {
                debug!(client = %peer, "tcp idle timeout");
                break;
            }
        };
        // A full pipeline waits for a slot; a stalled writer or shutdown ends the wait.
        let permit = tokio::select! {
            _ = shutdown.recv() => break,
            _ = tx.closed() => break,
            p = Arc::clone(&in_flight).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let handler = Arc::clone(&handler);
        let tx = tx.clone();
        let busy = guard.busy();
        tokio::spawn(async move {
            match handler
                .handle_stream(&packet, peer, transport, keepalive)
                .await
            {
                Some(Reply::One(reply)) => {
                    let _ = tx.send(reply).await;
                }
                // A transfer: each message is made as the writer takes the one before (the
                // channel is the backpressure), and stops when the connection is gone.
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
    drop(tx);
    // Let queries already read finish and be written before closing (RFC 7766 §6.2.4).
    let _ = writer_task.await;
    drop(guard);
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;
    use tokio::time::Instant;

    use super::*;
    use crate::authority::Catalog;
    use crate::handler::HandlerConfig;
    use crate::metrics::Metrics;
    use crate::server::shutdown::{self, ShutdownTrigger};

    fn limits(idle_timeout: Duration, connections: usize, depth: usize) -> TcpLimits {
        TcpLimits {
            idle_timeout,
            max_connections: connections,
            pipeline_depth: depth,
            ..TcpLimits::default()
        }
    }

    fn parts(l: TcpLimits) -> (Duration, usize, usize) {
        (l.idle_timeout, l.max_connections, l.pipeline_depth)
    }

    #[test]
    fn limits_are_clamped_into_their_bounds() {
        let lowest = limits(
            Duration::from_millis(TCP_IDLE_TIMEOUT_MS.min),
            TCP_MAX_CONNECTIONS.min,
            TCP_PIPELINE_DEPTH.min,
        );
        let highest = limits(
            Duration::from_millis(TCP_IDLE_TIMEOUT_MS.max),
            TCP_MAX_CONNECTIONS.max,
            TCP_PIPELINE_DEPTH.max,
        );
        let sane = TcpLimits::default();
        for (given, clamped) in [
            (limits(Duration::ZERO, 0, 0), lowest),
            (limits(Duration::MAX, usize::MAX, usize::MAX), highest),
            (sane, sane),
        ] {
            assert_eq!(parts(given.clamped()), parts(clamped), "{given:?}");
        }
    }

    #[test]
    fn prefix_limits_are_clamped_into_their_bounds() {
        let wild = TcpLimits {
            max_per_prefix: 0,
            ipv4_prefix: 0,
            ipv6_prefix: 200,
            ..TcpLimits::default()
        }
        .clamped();
        assert_eq!(
            (wild.max_per_prefix, wild.ipv4_prefix, wild.ipv6_prefix),
            (1, TCP_IPV4_PREFIX.min, TCP_IPV6_PREFIX.max)
        );
    }

    /// A listener of an empty catalog with the given idle timeout, serving on the test's
    /// runtime (whose clock the test pauses).
    async fn listening(idle_timeout: Duration) -> (SocketAddr, ShutdownTrigger) {
        let listener = TcpListener::bind("127.46.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (trigger, signal) = shutdown::channel();
        let catalog = Catalog::new([]).expect("empty catalog");
        let metrics = Arc::new(Metrics::default());
        let handler = Handler::new(catalog, HandlerConfig::default(), metrics);
        let limits = limits(idle_timeout, 8, 4);
        tokio::spawn(serve(listener, Arc::new(handler), limits, signal));
        (addr, trigger)
    }

    /// Reads until the server closes the connection; how long after `from` that was.
    async fn closed_after(stream: &mut (impl AsyncReadExt + Unpin), from: Instant) -> Duration {
        let mut buf = [0u8; 64];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return from.elapsed(),
                Ok(_) => {}
            }
        }
    }

    const IDLE: Duration = Duration::from_secs(10);

    fn about_idle(after: Duration) -> bool {
        after >= IDLE && after < IDLE + Duration::from_secs(1)
    }

    #[tokio::test(start_paused = true)]
    async fn half_a_length_prefix_is_closed_at_the_idle_timeout() {
        let (addr, _trigger) = listening(IDLE).await;
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        // A slow-loris: the first byte of a length prefix, then nothing.
        stream.write_all(&[0]).await.expect("one byte");
        let from = Instant::now();
        let after = tokio::time::timeout(IDLE * 3, closed_after(&mut stream, from))
            .await
            .expect("closed by the server");
        assert!(about_idle(after), "closed after {after:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_trickled_in_gets_one_idle_timeout_in_all() {
        let (addr, _trigger) = listening(IDLE).await;
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let (mut reader, mut writer) = stream.split();
        // A prefix that claims 1000 bytes, then one byte every 2 s: never quiet for long, but
        // the message would take 2000 s. The timeout bounds the whole message, not each read.
        writer.write_all(&[0x03, 0xe8]).await.expect("prefix");
        let from = Instant::now();
        let trickle = async {
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                if writer.write_all(&[0]).await.is_err() {
                    return;
                }
            }
        };
        let after = tokio::select! {
            after = closed_after(&mut reader, from) => after,
            () = trickle => closed_after(&mut reader, from).await,
        };
        assert!(about_idle(after), "closed after {after:?}");
    }
}

//! TCP listener (RFC 7766): two-byte length framing, pipelined queries answered concurrently
//! and written back as they finish (cache hits inline, [`connection`]), an idle timeout, and
//! caps on open connections in total and per client prefix ([`conns`]: the idle-longest
//! connection makes room for a newcomer).

mod connection;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, warn};

use super::conns::{Guard, Registry};
use super::shutdown::Shutdown;
use crate::handler::{Handler, Transport};
use crate::limits::{
    TCP_IDLE_TIMEOUT_MS, TCP_IPV4_PREFIX, TCP_IPV6_PREFIX, TCP_MAX_CONNECTIONS,
    TCP_MAX_CONNECTIONS_PER_PREFIX, TCP_PIPELINE_DEPTH,
};
pub(super) use connection::connection;

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
    shutdown: Shutdown,
) {
    accept_each(
        listener,
        &limits,
        shutdown,
        |stream, peer, guard, shutdown| {
            guard.established();
            let on = Connection {
                peer,
                transport: Transport::Tcp,
                handler: Arc::clone(&handler),
                limits,
                guard,
            };
            connection(stream, on, shutdown)
        },
    )
    .await;
}

/// Every stream listener's loop (TCP, TLS, HTTPS): accepts connections on `listener` until
/// shutdown, each in its place among the listener's (a [`Registry`] with `limits`' caps), and
/// spawns what `start` makes of it. The connection's `Guard` is told `established` once it
/// can carry queries (after a handshake), marked `busy` while a query is answered, and its
/// `evicted` ends the connection.
pub(super) async fn accept_each<F, Fut>(
    listener: TcpListener,
    limits: &TcpLimits,
    mut shutdown: Shutdown,
    mut start: F,
) where
    F: FnMut(TcpStream, SocketAddr, Guard, Shutdown) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let registry = Registry::new(limits);
    while let Some((stream, peer, guard)) = accept(&listener, &registry, &mut shutdown).await {
        tokio::spawn(start(stream, peer, guard, shutdown.clone()));
    }
}

/// The next connection with its place in `registry` (made by closing the idle-longest
/// connection if a cap is reached); `None` at shutdown. A connection the registry cannot make
/// room for (its prefix's or every connection busy) is closed at once so the client tries
/// elsewhere (RFC 7766 §6.2.2).
async fn accept(
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
            Some(guard) => {
                // Replies are small and go out as they are ready: with Nagle's algorithm one
                // written while the last is unacknowledged would wait for the client's
                // delayed ACK. Best effort: a socket that refuses still serves.
                let _ = stream.set_nodelay(true);
                return Some((stream, peer, guard));
            }
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

#[cfg(test)]
mod hit_tests;
#[cfg(test)]
mod keepalive_review;
#[cfg(test)]
mod padding_review_tests;
#[cfg(test)]
mod review_tests;
#[cfg(test)]
mod tests;

//! Bytes in, bytes out: the listeners. A [`Server`] takes sockets that are already bound (only
//! `main` and tests bind), hands each request to the [`Handler`], and stops on shutdown.

mod batch;
pub(crate) mod conns;
pub(crate) mod https;
mod outbox;
pub(crate) mod shutdown;
pub(crate) mod tcp;
pub(crate) mod tls;
pub(crate) mod udp;

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use nix::sys::socket::{SockaddrStorage, bind, setsockopt, sockopt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinSet;

pub(crate) use shutdown::{Shutdown, ShutdownTrigger};
pub(crate) use tcp::TcpLimits;
pub(crate) use udp::UdpRuntime;

use crate::handler::Handler;
use crate::limits::{
    TCP_IDLE_TIMEOUT_MS, TCP_IPV4_PREFIX, TCP_IPV6_PREFIX, TCP_MAX_CONNECTIONS,
    TCP_MAX_CONNECTIONS_PER_PREFIX, TCP_PIPELINE_DEPTH, UDP_BUSY_POLL_US, UDP_MAX_IN_FLIGHT,
    UDP_RCVBUF,
};
use crate::net::udp_socket_for;

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            idle_timeout: std::time::Duration::from_millis(TCP_IDLE_TIMEOUT_MS.default),
            max_connections: TCP_MAX_CONNECTIONS.default,
            max_per_prefix: TCP_MAX_CONNECTIONS_PER_PREFIX.default,
            ipv4_prefix: TCP_IPV4_PREFIX.default,
            ipv6_prefix: TCP_IPV6_PREFIX.default,
            pipeline_depth: TCP_PIPELINE_DEPTH.default,
        }
    }
}

/// `workers` UDP sockets all bound to `addr` with SO_REUSEPORT (the kernel spreads clients
/// over them by address and port), non-blocking, for a [`Server`]. With port 0 the first
/// socket's port is used for the rest. Must be called inside a tokio runtime.
pub(crate) fn bind_udp(addr: SocketAddr, workers: usize) -> io::Result<Vec<UdpSocket>> {
    let mut addr = addr;
    let mut out = Vec::with_capacity(workers.max(1));
    for _ in 0..workers.max(1) {
        let fd = udp_socket_for(addr)?;
        setsockopt(&fd, sockopt::ReusePort, &true)?;
        if addr.is_ipv6() {
            // [::] takes only IPv6: an IPv4 address is its own `listen` entry, and a dual-stack
            // [::] would hold 0.0.0.0's port too, so listing both would fail to bind.
            setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
        }
        bind(fd.as_raw_fd(), &SockaddrStorage::from(addr))?;
        let socket = UdpSocket::from_std(std::net::UdpSocket::from(fd))?;
        addr = socket.local_addr()?;
        out.push(socket);
    }
    Ok(out)
}

/// A set of bound listeners serving one handler.
pub(crate) struct Server {
    udp: Vec<UdpSocket>,
    tcp: Vec<TcpListener>,
    handler: Arc<Handler>,
    tcp_limits: TcpLimits,
    udp_max_in_flight: usize,
    udp_rcvbuf: usize,
    udp_busy_poll_us: u32,
    udp_runtime: UdpRuntime,
}

impl Server {
    pub(crate) fn new(udp: Vec<UdpSocket>, tcp: Vec<TcpListener>, handler: Arc<Handler>) -> Server {
        Server {
            udp,
            tcp,
            handler,
            tcp_limits: TcpLimits::default(),
            udp_max_in_flight: UDP_MAX_IN_FLIGHT.default,
            udp_rcvbuf: UDP_RCVBUF.default,
            udp_busy_poll_us: UDP_BUSY_POLL_US.default,
            udp_runtime: UdpRuntime::default(),
        }
    }

    /// Which runtime the UDP sockets' threads use for what the hit path cannot answer.
    pub(crate) fn with_udp_runtime(mut self, runtime: UdpRuntime) -> Server {
        self.udp_runtime = runtime;
        self
    }

    /// Sets the receive buffer of the UDP sockets (clamped to its bounds; 0: system default).
    pub(crate) fn with_udp_rcvbuf(mut self, bytes: usize) -> Server {
        self.udp_rcvbuf = bytes.clamp(UDP_RCVBUF.min, UDP_RCVBUF.max);
        self
    }

    /// Sets `SO_BUSY_POLL` on the UDP sockets, in µs (clamped to its bounds; 0: off).
    pub(crate) fn with_udp_busy_poll(mut self, us: u32) -> Server {
        self.udp_busy_poll_us = UDP_BUSY_POLL_US.clamp(us);
        self
    }

    /// Caps the UDP queries answered at once per socket (clamped to its bounds).
    pub(crate) fn with_udp_max_in_flight(mut self, max: usize) -> Server {
        self.udp_max_in_flight = max.clamp(UDP_MAX_IN_FLIGHT.min, UDP_MAX_IN_FLIGHT.max);
        self
    }

    /// Replaces the TCP limits; values outside their bounds are clamped (see
    /// [`TcpLimits::clamped`]).
    pub(crate) fn with_tcp_limits(mut self, limits: TcpLimits) -> Server {
        self.tcp_limits = limits.clamped();
        self
    }

    /// Starts the listeners (each UDP socket's thread: an error if one cannot start, and then
    /// none runs) and returns what serves until `shutdown` fires, then waits for the listeners
    /// to stop.
    pub(crate) fn start(self, shutdown: Shutdown) -> io::Result<impl Future<Output = ()> + Send> {
        let Server {
            udp,
            tcp,
            handler,
            tcp_limits,
            udp_max_in_flight,
            udp_rcvbuf,
            udp_busy_poll_us,
            udp_runtime,
        } = self;
        let udp = udp
            .into_iter()
            .map(|socket| {
                udp::set_receive_buffer(&socket, udp_rcvbuf);
                if let Err(e) = udp::set_busy_poll(&socket, udp_busy_poll_us) {
                    tracing::warn!(error = %e, "udp busy polling left off");
                }
                udp::Listener::start(socket, Arc::clone(&handler), udp_max_in_flight, udp_runtime)
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(async move {
            let mut tasks = JoinSet::new();
            for listener in udp {
                tasks.spawn(listener.serve(shutdown.clone()));
            }
            for listener in tcp {
                tasks.spawn(tcp::serve(
                    listener,
                    Arc::clone(&handler),
                    tcp_limits,
                    shutdown.clone(),
                ));
            }
            while tasks.join_next().await.is_some() {}
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::authority::Catalog;
    use crate::handler::HandlerConfig;
    use crate::metrics::Metrics;

    fn handler() -> Arc<Handler> {
        let catalog = Catalog::new([]).expect("empty catalog");
        Arc::new(Handler::new(
            catalog,
            HandlerConfig::default(),
            Arc::new(Metrics::default()),
        ))
    }

    /// A query from a fresh client: true when some reply came back within two seconds.
    async fn answered(addr: SocketAddr) -> bool {
        let client = UdpSocket::bind("127.0.0.1:0").await.expect("client");
        // ID 0x1234, RD, one question: example. A IN.
        let query =
            b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x00\x00\x01\x00\x01";
        client.send_to(query, addr).await.expect("send");
        let mut buf = [0u8; 512];
        matches!(
            tokio::time::timeout(Duration::from_secs(2), client.recv_from(&mut buf)).await,
            Ok(Ok((n, _))) if n >= 12 && buf[..2] == [0x12, 0x34]
        )
    }

    /// The port is free again: every socket of the group closed, so a plain bind succeeds.
    async fn port_freed(addr: SocketAddr) -> bool {
        for _ in 0..200 {
            if std::net::UdpSocket::bind(addr).is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    /// A server of an empty catalog on two UDP sockets of one loopback port, started: its
    /// address, its trigger, and what serves it.
    fn started() -> (SocketAddr, ShutdownTrigger, impl Future<Output = ()>) {
        started_on(UdpRuntime::PerSocket)
    }

    fn started_on(runtime: UdpRuntime) -> (SocketAddr, ShutdownTrigger, impl Future<Output = ()>) {
        let udp = bind_udp("127.0.0.1:0".parse().expect("addr"), 2).expect("bind");
        let addr = udp[0].local_addr().expect("addr");
        let (trigger, signal) = shutdown::channel();
        let serving = Server::new(udp, Vec::new(), handler())
            .with_udp_runtime(runtime)
            .start(signal)
            .expect("start");
        (addr, trigger, serving)
    }

    #[tokio::test]
    async fn shutdown_wakes_the_receive_threads_and_closes_the_sockets() {
        // On the caller's runtime, a thread waits on that runtime (it has tasks alive: the
        // listeners' own) rather than in recvmmsg: the wake-up must reach it there too.
        for runtime in [UdpRuntime::PerSocket, UdpRuntime::Caller] {
            let (addr, trigger, serving) = started_on(runtime);
            let serving = tokio::spawn(serving);
            assert!(
                answered(addr).await,
                "{runtime:?}: served by a receive thread"
            );
            trigger.fire();
            // The threads wait with nothing to read, in recvmmsg or (the one whose task
            // answered REFUSED, if it has not read since) on a runtime: only the wake-up ends
            // them.
            tokio::time::timeout(Duration::from_secs(2), serving)
                .await
                .expect("stopped within 2 s")
                .expect("no panic");
            assert!(
                port_freed(addr).await,
                "{runtime:?}: sockets closed once stopped"
            );
        }
    }

    #[tokio::test]
    async fn a_server_dropped_before_it_serves_takes_its_threads_with_it() {
        let (addr, _trigger, serving) = started();
        drop(serving);
        assert!(port_freed(addr).await, "threads stopped and sockets closed");
    }

    #[tokio::test]
    async fn workers_share_one_address_and_each_receives() {
        let sockets = bind_udp("127.0.0.1:0".parse().expect("addr"), 3).expect("bind");
        assert_eq!(sockets.len(), 3);
        let addr = sockets[0].local_addr().expect("addr");
        assert_ne!(addr.port(), 0);
        assert!(sockets.iter().all(|s| s.local_addr().ok() == Some(addr)));
        // Many clients: the kernel spreads them by source port; every datagram lands somewhere.
        let mut sent = 0;
        for _ in 0..64 {
            let client = UdpSocket::bind("127.0.0.1:0").await.expect("client");
            client.send_to(b"x", addr).await.expect("send");
            sent += 1;
        }
        let mut received = 0;
        let mut buf = [0u8; 16];
        for s in &sockets {
            while s.try_recv_from(&mut buf).is_ok() {
                received += 1;
            }
        }
        assert_eq!(received, sent);
    }
}

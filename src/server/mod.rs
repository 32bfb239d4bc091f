//! Bytes in, bytes out: the listeners. A [`Server`] takes sockets that are already bound (only
//! `main` and tests bind), hands each request to the [`Handler`], and stops on shutdown.

mod batch;
pub mod shutdown;
pub mod tcp;
pub mod udp;

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use nix::sys::socket::{SockaddrStorage, bind, setsockopt, sockopt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinSet;

pub use shutdown::{Shutdown, ShutdownTrigger};
pub use tcp::TcpLimits;

use crate::handler::Handler;
use crate::limits::{
    TCP_IDLE_TIMEOUT_MS, TCP_MAX_CONNECTIONS, TCP_PIPELINE_DEPTH, UDP_MAX_IN_FLIGHT, UDP_RCVBUF,
};
use crate::net::udp_socket_for;

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            idle_timeout: std::time::Duration::from_millis(TCP_IDLE_TIMEOUT_MS.default),
            max_connections: TCP_MAX_CONNECTIONS.default,
            pipeline_depth: TCP_PIPELINE_DEPTH.default,
        }
    }
}

/// `workers` UDP sockets all bound to `addr` with SO_REUSEPORT (the kernel spreads clients
/// over them by address and port), non-blocking, for a [`Server`]. With port 0 the first
/// socket's port is used for the rest. Must be called inside a tokio runtime.
pub fn bind_udp(addr: SocketAddr, workers: usize) -> io::Result<Vec<UdpSocket>> {
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
pub struct Server {
    udp: Vec<UdpSocket>,
    tcp: Vec<TcpListener>,
    handler: Arc<Handler>,
    tcp_limits: TcpLimits,
    udp_max_in_flight: usize,
    udp_rcvbuf: usize,
}

impl Server {
    pub fn new(udp: Vec<UdpSocket>, tcp: Vec<TcpListener>, handler: Arc<Handler>) -> Server {
        Server {
            udp,
            tcp,
            handler,
            tcp_limits: TcpLimits::default(),
            udp_max_in_flight: UDP_MAX_IN_FLIGHT.default,
            udp_rcvbuf: UDP_RCVBUF.default,
        }
    }

    /// Sets the receive buffer of the UDP sockets (clamped to its bounds; 0: system default).
    pub fn with_udp_rcvbuf(mut self, bytes: usize) -> Server {
        self.udp_rcvbuf = bytes.clamp(UDP_RCVBUF.min, UDP_RCVBUF.max);
        self
    }

    /// Caps the UDP queries answered at once per socket (clamped to its bounds).
    pub fn with_udp_max_in_flight(mut self, max: usize) -> Server {
        self.udp_max_in_flight = max.clamp(UDP_MAX_IN_FLIGHT.min, UDP_MAX_IN_FLIGHT.max);
        self
    }

    /// Replaces the TCP limits; values outside their bounds are clamped (see
    /// [`TcpLimits::clamped`]).
    pub fn with_tcp_limits(mut self, limits: TcpLimits) -> Server {
        self.tcp_limits = limits.clamped();
        self
    }

    /// Serves until `shutdown` fires, then waits for the listeners to stop.
    pub async fn run(self, shutdown: Shutdown) {
        let mut tasks = JoinSet::new();
        for socket in self.udp {
            udp::set_receive_buffer(&socket, self.udp_rcvbuf);
            tasks.spawn(udp::serve(
                Arc::new(socket),
                Arc::clone(&self.handler),
                self.udp_max_in_flight,
                shutdown.clone(),
            ));
        }
        for listener in self.tcp {
            tasks.spawn(tcp::serve(
                listener,
                Arc::clone(&self.handler),
                self.tcp_limits,
                shutdown.clone(),
            ));
        }
        while tasks.join_next().await.is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

//! Bytes in, bytes out: the listeners. A [`Server`] takes sockets that are already bound (only
//! `main` and tests bind), hands each request to the [`Handler`], and stops on shutdown.

mod batch;
pub mod shutdown;
pub mod tcp;
pub mod udp;

use std::sync::Arc;

use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinSet;

pub use shutdown::{Shutdown, ShutdownTrigger};
pub use tcp::TcpLimits;

use crate::handler::Handler;
use crate::limits::{
    TCP_IDLE_TIMEOUT_MS, TCP_MAX_CONNECTIONS, TCP_PIPELINE_DEPTH, UDP_MAX_IN_FLIGHT, UDP_RCVBUF,
};

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            idle_timeout: std::time::Duration::from_millis(TCP_IDLE_TIMEOUT_MS.default),
            max_connections: TCP_MAX_CONNECTIONS.default,
            pipeline_depth: TCP_PIPELINE_DEPTH.default,
        }
    }
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

//! tern's one outbound DNS client. Every request tern sends leaves through here: the
//! resolver's iterative queries (through `resolver::upstream::NetUpstream`), and replication's
//! SOA query, zone transfers and NOTIFY (`replication::fetch`).
//!
//! It owns what every exchange needs on the wire, once:
//! - a random ID per request and a fresh socket per exchange, so a kernel-randomised source
//!   port (RFC 5452 §9.2), bound to a given source address where the peer checks who asks;
//! - reply matching (RFC 5452 §3, §9.1): only the address and port asked (the socket is
//!   connected), and the ID and question, as strictly as each caller asks ([`Expected`]);
//! - UDP with kernel receive timestamps ([`udp`]), TCP with its 2-octet length framing
//!   (RFC 7766 §8) and multi-message streams for AXFR/IXFR ([`tcp`]);
//! - TSIG signing of the request and checking of every reply (RFC 8945 §5.1, §5.4);
//! - one request, one reply, asked again over TCP when truncated ([`exchange()`]);
//! - DNS over TLS to forwarders, over kept-open pipelined connections ([`tls`]), and DNS over
//!   HTTPS to them, over kept-open multiplexed HTTP/2 connections ([`doh`]);
//! - DNS Cookies for the resolver's UDP queries (RFC 7873, RFC 9018): our client cookie,
//!   the servers' cookies learned, the BADCOOKIE retry ([`cookie`], [`over_udp`]);
//! - deadlines, for callers that want one ([`Deadline`]).
//!
//! What to ask, whom, how often and what a reply means stay with the callers: the resolver's
//! server choice, retransmission and RTT bookkeeping, replication's RCODE and SOA checks.

mod cookie;
pub(crate) mod doh;
mod exchange;
pub(crate) mod lazy;
mod matching;
mod message;
#[cfg(test)]
mod nsec3_flags_review;
mod query;
pub(crate) mod tcp;
pub(crate) mod tls;
pub(crate) mod udp;

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::time::Instant;

use crate::tsig::{SignError, TsigClientError};

pub(crate) use self::cookie::CookieJar;
pub(crate) use self::exchange::exchange;
pub(crate) use self::lazy::Rest;
#[cfg(test)]
pub(crate) use self::lazy::read_partial;
pub(crate) use self::matching::Expected;
pub(crate) use self::message::{Ask, Signed, request};
pub(crate) use self::query::{UdpAnswer, over_udp};

/// The server to ask, and the local address to ask from (BIND's `transfer-source` and
/// `notify-source`): a peer that checks who is asking (a secondary takes NOTIFY only from its
/// primaries, a primary's ACL names its secondaries) must see our service address, not
/// whichever one the kernel picks. `From<SocketAddr>`: any local address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub server: SocketAddr,
    pub source: Option<IpAddr>,
}

impl Peer {
    pub(crate) fn new(server: SocketAddr, source: Option<IpAddr>) -> Peer {
        // A source of the other family cannot reach the server: let the kernel choose.
        let source = source.filter(|ip| ip.is_ipv4() == server.is_ipv4());
        Peer { server, source }
    }

    /// The address to bind before connecting: the source with a kernel-chosen port.
    fn local(&self) -> Option<SocketAddr> {
        self.source.map(|ip| SocketAddr::new(ip, 0))
    }
}

impl From<SocketAddr> for Peer {
    fn from(server: SocketAddr) -> Peer {
        Peer {
            server,
            source: None,
        }
    }
}

/// Why an exchange gave no usable reply. The caller adds who and what it was about.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("no complete answer within {0:?}")]
    Timeout(Duration),
    #[error("cannot sign the request: {0}")]
    Sign(SignError),
    #[error("cannot encode the request: {0}")]
    Encode(String),
    /// The reply's TSIG does not check out (an unparseable reply is `Malformed`).
    #[error("TSIG check of the response failed: {0}")]
    Tsig(TsigClientError),
    /// Over TCP, a message that does not parse or does not answer the request.
    #[error("unusable response: {0}")]
    Malformed(String),
    /// The server closed the TCP connection after this many messages.
    #[error("connection closed after {0} messages")]
    Closed(usize),
}

impl From<TsigClientError> for ClientError {
    fn from(error: TsigClientError) -> ClientError {
        match error {
            TsigClientError::Malformed(reason) => ClientError::Malformed(reason),
            error => ClientError::Tsig(error),
        }
    }
}

/// When an exchange gives up, and the time it was given (for the error).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    at: Instant,
    timeout: Duration,
}

impl Deadline {
    pub(crate) fn after(timeout: Duration) -> Deadline {
        // Edge: a timer, which runs from the moment it is set.
        Deadline {
            at: Instant::now() + timeout,
            timeout,
        }
    }

    /// `work`, or [`ClientError::Timeout`] once the deadline passes.
    async fn bound<T>(
        deadline: Option<Deadline>,
        work: impl Future<Output = Result<T, ClientError>>,
    ) -> Result<T, ClientError> {
        match deadline {
            // The resolver keeps no deadline here: it stops waiting by dropping the future.
            None => work.await,
            Some(d) => tokio::time::timeout_at(d.at, work)
                .await
                .unwrap_or(Err(ClientError::Timeout(d.timeout))),
        }
    }
}

#[cfg(test)]
mod tests;

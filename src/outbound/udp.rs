//! One request over UDP from a fresh socket, and its reply.
//!
//! A socket per request gets a fresh, kernel-randomised source port (connecting binds it,
//! RFC 5452 §9.2), and being connected, it drops datagrams from any other address or port
//! and reports ICMP errors. No time limit here: the caller decides how long to wait, and the
//! resolver keeps listening for a late reply while it retransmits (RFC 1035 §4.2.1).

use std::cell::RefCell;
use std::io::{self, IoSliceMut};
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_proto::op::Message;
use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, SockaddrStorage, bind, recvmsg, setsockopt, sockopt,
};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::lazy::{self, Rest};
use super::{Expected, Peer};
use crate::net::udp_socket_for;

/// The largest UDP reply we read: our advertised payload is smaller (and without EDNS a reply
/// has at most 512 octets), so anything longer is not an answer to our request.
const MAX_UDP_REPLY: usize = 4096;

/// A request on the wire, waiting for its reply.
#[derive(Debug)]
pub(crate) struct UdpQuery {
    sock: UdpSocket,
    /// Whether the socket gives kernel receive timestamps.
    stamped: bool,
    sent: Instant,
    sent_wall: SystemTime,
}

/// How long a reply took.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    /// From sending to the moment the reply reached our socket (the kernel's receive
    /// timestamp where it gives one).
    pub(crate) rtt: Duration,
    /// How long the reply then waited in our socket before we read it: our delay.
    pub(crate) lag: Duration,
    /// When we read it: the time a resolver's walk goes on from.
    pub(crate) at: Instant,
}

/// A fresh socket connected to the server, the request not yet sent: what the request
/// carries may depend on the source address the kernel chose (a DNS client cookie does,
/// RFC 7873 §4.1).
#[derive(Debug)]
pub(crate) struct Connected {
    sock: std::net::UdpSocket,
    stamped: bool,
}

impl Connected {
    /// A new socket connected to the peer's server (bound to its source address, if any).
    pub(crate) fn open(peer: Peer) -> io::Result<Connected> {
        let fd = udp_socket_for(peer.server)?;
        if let Some(local) = peer.local() {
            bind(fd.as_raw_fd(), &SockaddrStorage::from(local))?;
        }
        let sock = std::net::UdpSocket::from(fd);
        // Without kernel timestamps the RTT falls back to the time we read the reply.
        let stamped = setsockopt(&sock, sockopt::ReceiveTimestampns, &true).is_ok();
        // UDP connect only sets the peer (and picks the source address): it never blocks.
        sock.connect(peer.server)?;
        Ok(Connected { sock, stamped })
    }

    /// The source address the request leaves from.
    pub(crate) fn local_ip(&self) -> io::Result<IpAddr> {
        Ok(self.sock.local_addr()?.ip())
    }

    /// Sends `bytes`. The datagram goes out at once, before the runtime registers the
    /// socket: awaiting writability would wait for the reactor's first event on it, a full
    /// turn of the runtime under load.
    pub(crate) fn send(self, bytes: &[u8]) -> io::Result<UdpQuery> {
        // Edge: the send time, on both clocks: the kernel stamps arrivals on the wall clock.
        let sent = Instant::now();
        let sent_wall = SystemTime::now();
        // A fresh socket's send buffer is empty; WouldBlock here is as good as a lost datagram.
        self.sock.send(bytes)?;
        Ok(UdpQuery {
            sock: UdpSocket::from_std(self.sock)?,
            stamped: self.stamped,
            sent,
            sent_wall,
        })
    }
}

impl UdpQuery {
    /// Sends `bytes` from a new socket connected to the peer's server (bound to its source
    /// address, if any).
    pub(crate) fn send(peer: Peer, bytes: &[u8]) -> io::Result<UdpQuery> {
        Connected::open(peer)?.send(bytes)
    }

    /// Waits, without a time limit, for the first datagram that parses, matches `expected`
    /// and that `keep` keeps (`Some`: what it makes of the bytes and the parse). Anything
    /// else is a spoofing attempt or junk: the wait goes on. An ICMP error ends it.
    pub(crate) async fn reply<T>(
        &self,
        expected: &Expected<'_>,
        keep: impl Fn(&[u8], Message) -> Option<T>,
    ) -> io::Result<(T, Timing)> {
        self.reply_read(expected, false, |raw, m, _| keep(raw, m))
            .await
    }

    /// [`UdpQuery::reply`], the reply read only in part ([`lazy`](super::lazy)): `keep` gets
    /// its authority and additional sections in wire form, when it has any.
    pub(crate) async fn reply_partial<T>(
        &self,
        expected: &Expected<'_>,
        keep: impl Fn(&[u8], Message, Option<Rest>) -> Option<T>,
    ) -> io::Result<(T, Timing)> {
        self.reply_read(expected, true, keep).await
    }

    async fn reply_read<T>(
        &self,
        expected: &Expected<'_>,
        partial: bool,
        keep: impl Fn(&[u8], Message, Option<Rest>) -> Option<T>,
    ) -> io::Result<(T, Timing)> {
        loop {
            // An ICMP port unreachable shows as an error event, not as readability; on
            // loopback it has often arrived before the socket was registered at all.
            let ready = self
                .sock
                .ready(Interest::READABLE | Interest::ERROR)
                .await?;
            if ready.is_error()
                && let Some(e) = self.sock.take_error()?
            {
                return Err(e);
            }
            let received = self.sock.try_io(Interest::READABLE, || {
                recv_reply(&self.sock, expected, partial, &keep)
            });
            match received {
                Ok((Some(kept), arrived)) => return Ok((kept, self.timing(arrived))),
                Ok((None, _)) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn timing(&self, arrived: Option<SystemTime>) -> Timing {
        // Edge: the reply's time, read once, is reported to the caller with it.
        let at = Instant::now();
        let waited = at.saturating_duration_since(self.sent);
        let rtt = match arrived {
            Some(at) if self.stamped => at
                .duration_since(self.sent_wall)
                .unwrap_or(Duration::ZERO)
                .min(waited),
            _ => waited,
        };
        Timing {
            rtt,
            lag: waited - rtt,
            at,
        }
    }
}

thread_local! {
    /// The thread's reply buffer, zeroed once. Per query it would be zeroed every time (a
    /// stack buffer: 4 KiB of stores per miss) or, on the heap, freed in the order replies
    /// come, which fragmented the heap enough to double the resident size under a flood.
    static REPLY_BUF: RefCell<Box<[u8; MAX_UDP_REPLY]>> =
        RefCell::new(Box::new([0; MAX_UDP_REPLY]));
}

/// One datagram, kept if it parses and matches, and the kernel's receive timestamp.
fn recv_reply<T>(
    sock: &UdpSocket,
    expected: &Expected<'_>,
    partial: bool,
    keep: impl Fn(&[u8], Message, Option<Rest>) -> Option<T>,
) -> io::Result<(Option<T>, Option<SystemTime>)> {
    REPLY_BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => recv_into(sock, &mut buf[..], expected, partial, keep),
        // Only if `keep` itself read a reply on this thread: a buffer of its own then.
        Err(_) => recv_into(sock, &mut [0; MAX_UDP_REPLY], expected, partial, keep),
    })
}

fn recv_into<T>(
    sock: &UdpSocket,
    buf: &mut [u8],
    expected: &Expected<'_>,
    partial: bool,
    keep: impl Fn(&[u8], Message, Option<Rest>) -> Option<T>,
) -> io::Result<(Option<T>, Option<SystemTime>)> {
    let (n, arrived) = recv_stamped(sock, buf)?;
    let raw = &buf[..n];
    let read = |raw: &[u8]| match partial {
        true => lazy::read(raw, expected),
        false => crate::rr::read::read_message(raw)
            .ok()
            .filter(|m| expected.matches(m, true))
            .map(|m| (m, None)),
    };
    let kept = crate::wire::questions_fit(raw)
        .then(|| read(raw))
        .flatten()
        .and_then(|(m, rest)| keep(raw, m, rest));
    Ok((kept, arrived))
}

/// One datagram and the kernel's receive timestamp (`SO_TIMESTAMPNS`), if it gave one.
fn recv_stamped(sock: &UdpSocket, buf: &mut [u8]) -> io::Result<(usize, Option<SystemTime>)> {
    let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrStorage>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .map_err(io::Error::from)?;
    let arrived = msg.cmsgs().ok().and_then(|mut c| {
        c.find_map(|m| match m {
            ControlMessageOwned::ScmTimestampns(ts) => {
                let secs = u64::try_from(ts.tv_sec()).ok()?;
                let nanos = u32::try_from(ts.tv_nsec()).ok()?;
                UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
            }
            _ => None,
        })
    });
    Ok((msg.bytes, arrived))
}

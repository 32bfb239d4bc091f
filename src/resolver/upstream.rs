//! The resolver's only outbound I/O. [`Upstream`] has two implementations: [`NetUpstream`]
//! (real UDP/TCP sockets) and, in tests, a scripted fake internet built from our own zones.
//!
//! An exchange here never times out by itself: it ends when a matching reply arrives or the
//! transport fails. The caller decides how long to wait before retransmitting, and keeps
//! listening for a late reply meanwhile (RFC 1035 §4.2.1: a timeout is not proof of loss).
//!
//! RFC 5452 defences live here: a fresh socket (random source port) and random ID per query,
//! and a reply is accepted only from the address and port queried, with the same ID and
//! question.

use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;

use crate::limits::EDNS_UDP_PAYLOAD;

/// One question to one server.
#[derive(Debug, Clone)]
pub struct UpstreamQuery {
    pub server: SocketAddr,
    pub qname: Name,
    pub qtype: RecordType,
    pub tcp: bool,
    /// Send an OPT record (RFC 6891); off only for a server that rejects EDNS.
    pub edns: bool,
}

/// A validated reply and the round trip it took.
#[derive(Debug, Clone)]
pub struct UpstreamReply {
    pub message: Message,
    /// From sending to the moment the reply reached our socket. Over UDP the arrival time is
    /// the kernel's receive timestamp, so a resolver busy with other work does not mistake its
    /// own delay for a slow server.
    pub rtt: Duration,
}

/// Why no usable reply came back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// The server's host says nobody listens there (ICMP port unreachable, TCP reset).
    #[error("connection refused")]
    Refused,
    /// Anything else: a local firewall (EPERM), full buffers, no route. Like a lost datagram,
    /// it says nothing about the server; the try is retransmitted in due course.
    #[error("network error: {0}")]
    Network(String),
}

pub type UpstreamFuture<'a> =
    Pin<Box<dyn Future<Output = Result<UpstreamReply, UpstreamError>> + Send + 'a>>;

/// Sends one query and waits, without a time limit, for the validated reply.
pub trait Upstream: Send + Sync {
    fn query(&self, q: UpstreamQuery) -> UpstreamFuture<'_>;
}

/// The query message tern sends: RD=0 (we iterate), with EDNS and our payload size unless
/// `edns` is off.
pub fn query_message(id: u16, qname: &Name, qtype: RecordType, edns: bool) -> Message {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(qname.clone(), qtype));
    if edns {
        let mut opt = Edns::new();
        opt.set_max_payload(EDNS_UDP_PAYLOAD.default);
        m.set_edns(opt);
    }
    m
}

/// RFC 5452 §9.1: the reply must echo our ID and question.
pub fn reply_matches(reply: &Message, id: u16, qname: &Name, qtype: RecordType) -> bool {
    reply.metadata.message_type == MessageType::Response
        && reply.metadata.id == id
        && reply.queries.len() == 1
        && reply.queries[0].name() == qname
        && reply.queries[0].query_type() == qtype
        && reply.queries[0].query_class() == DNSClass::IN
}

/// Real sockets.
#[derive(Debug, Default, Clone)]
pub struct NetUpstream;

impl Upstream for NetUpstream {
    fn query(&self, q: UpstreamQuery) -> UpstreamFuture<'_> {
        Box::pin(async move {
            let id: u16 = rand::random();
            let msg = query_message(id, &q.qname, q.qtype, q.edns);
            let bytes = msg
                .to_vec()
                .map_err(|e| UpstreamError::Network(e.to_string()))?;
            if q.tcp {
                tcp_exchange(&q, id, &bytes).await
            } else {
                udp_exchange(&q, id, &bytes).await
            }
        })
    }
}

fn net_err(e: io::Error) -> UpstreamError {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => UpstreamError::Refused,
        _ => UpstreamError::Network(e.to_string()),
    }
}

/// The largest UDP reply we read: our advertised payload is smaller, so anything longer is
/// not an answer to our query.
const MAX_UDP_REPLY: usize = 4096;

async fn udp_exchange(
    q: &UpstreamQuery,
    id: u16,
    bytes: &[u8],
) -> Result<UpstreamReply, UpstreamError> {
    let local: SocketAddr = if q.server.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    // A new socket per query gets a fresh, kernel-randomised source port; connecting it makes
    // the kernel drop datagrams from any other address or port (and report ICMP errors).
    let sock = UdpSocket::bind(local).await.map_err(net_err)?;
    // Without kernel timestamps the RTT falls back to the time we read the reply.
    let stamped = setsockopt(&sock, sockopt::ReceiveTimestampns, &true).is_ok();
    sock.connect(q.server).await.map_err(net_err)?;
    let sent = Instant::now();
    let sent_wall = SystemTime::now();
    sock.send(bytes).await.map_err(net_err)?;
    let mut buf = vec![0u8; MAX_UDP_REPLY];
    loop {
        sock.readable().await.map_err(net_err)?;
        let received = sock.try_io(Interest::READABLE, || recv_stamped(&sock, &mut buf));
        let (n, arrived) = match received {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(net_err(e)),
        };
        // Anything that does not parse or match is a spoofing attempt or junk: keep waiting.
        if let Ok(reply) = Message::from_vec(&buf[..n])
            && reply_matches(&reply, id, &q.qname, q.qtype)
        {
            let waited = sent.elapsed();
            let rtt = match arrived {
                Some(at) if stamped => at
                    .duration_since(sent_wall)
                    .unwrap_or(Duration::ZERO)
                    .min(waited),
                _ => waited,
            };
            return Ok(UpstreamReply {
                message: reply,
                rtt,
            });
        }
    }
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

async fn tcp_exchange(
    q: &UpstreamQuery,
    id: u16,
    bytes: &[u8],
) -> Result<UpstreamReply, UpstreamError> {
    let sent = Instant::now();
    let mut stream = TcpStream::connect(q.server).await.map_err(net_err)?;
    let len =
        u16::try_from(bytes.len()).map_err(|_| UpstreamError::Network("query too long".into()))?;
    let mut frame = Vec::with_capacity(bytes.len() + 2);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(bytes);
    stream.write_all(&frame).await.map_err(net_err)?;
    loop {
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await.map_err(net_err)?;
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut body).await.map_err(net_err)?;
        if let Ok(reply) = Message::from_vec(&body)
            && reply_matches(&reply, id, &q.qname, q.qtype)
        {
            return Ok(UpstreamReply {
                message: reply,
                rtt: sent.elapsed(),
            });
        }
    }
}

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

use hickory_proto::ProtoError;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};
use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt,
};
use tokio::io::Interest;
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;

use crate::frame::{read_frame, write_frame};
use crate::limits::EDNS_UDP_PAYLOAD;
use crate::net::udp_socket_for;

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
    /// How long the reply waited in our socket before we read it: our own delay, not the
    /// server's (zero where the transport cannot tell).
    pub lag: Duration,
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

/// The query in wire form. One name in the message: nothing to compress, and the encoder's
/// compression table would cost an allocation per label.
fn encode_query(
    id: u16,
    qname: &Name,
    qtype: RecordType,
    edns: bool,
) -> Result<Vec<u8>, ProtoError> {
    let msg = query_message(id, qname, qtype, edns);
    let mut bytes = Vec::with_capacity(64 + qname.len());
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_name_encoding(NameEncoding::Uncompressed);
    msg.emit(&mut encoder)?;
    Ok(bytes)
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
            let bytes = encode_query(id, &q.qname, q.qtype, q.edns)
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
    let (sock, stamped, sent, sent_wall) = send_udp(q.server, bytes).map_err(net_err)?;
    loop {
        // An ICMP port unreachable shows as an error event, not as readability; on loopback it
        // has often arrived before the socket was registered at all.
        let ready = sock
            .ready(Interest::READABLE | Interest::ERROR)
            .await
            .map_err(net_err)?;
        if ready.is_error()
            && let Some(e) = sock.take_error().map_err(net_err)?
        {
            return Err(net_err(e));
        }
        let received = sock.try_io(Interest::READABLE, || recv_message(&sock));
        let (parsed, arrived) = match received {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(net_err(e)),
        };
        // Anything that does not parse or match is a spoofing attempt or junk: keep waiting.
        if let Some(reply) = parsed
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
                lag: waited - rtt,
            });
        }
    }
}

/// Sends `bytes` from a new socket connected to `server`, and returns the socket, whether
/// it gives receive timestamps, and when the datagram left (monotonic and wall clock).
///
/// A socket per query gets a fresh, kernel-randomised source port (connecting binds it), and
/// being connected, it drops datagrams from any other address or port and reports ICMP
/// errors. The datagram goes out at once, before the runtime registers the socket: awaiting
/// writability would wait for the reactor's first event on it, a full turn of the runtime
/// under load.
fn send_udp(
    server: SocketAddr,
    bytes: &[u8],
) -> io::Result<(UdpSocket, bool, Instant, SystemTime)> {
    let fd = udp_socket_for(server)?;
    let sock = std::net::UdpSocket::from(fd);
    // Without kernel timestamps the RTT falls back to the time we read the reply.
    let stamped = setsockopt(&sock, sockopt::ReceiveTimestampns, &true).is_ok();
    // UDP connect only sets the peer: it never blocks.
    sock.connect(server)?;
    let sent = Instant::now();
    let sent_wall = SystemTime::now();
    // A fresh socket's send buffer is empty; WouldBlock here is as good as a lost datagram.
    sock.send(bytes)?;
    Ok((UdpSocket::from_std(sock)?, stamped, sent, sent_wall))
}

/// One datagram, parsed if it parses, and the kernel's receive timestamp. The datagram is
/// read into a buffer on the stack: a 4 KiB heap buffer per query in flight, freed in the
/// order replies come, fragmented the heap enough to double the resident size under a flood.
fn recv_message(sock: &UdpSocket) -> io::Result<(Option<Message>, Option<SystemTime>)> {
    let mut buf = [0u8; MAX_UDP_REPLY];
    let (n, arrived) = recv_stamped(sock, &mut buf)?;
    Ok((Message::from_vec(&buf[..n]).ok(), arrived))
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
    write_frame(&mut stream, bytes).await.map_err(net_err)?;
    loop {
        let body = read_frame(&mut stream)
            .await
            .map_err(net_err)?
            .ok_or_else(|| UpstreamError::Network("connection closed before the answer".into()))?;
        if let Ok(reply) = Message::from_vec(&body)
            && reply_matches(&reply, id, &q.qname, q.qtype)
        {
            return Ok(UpstreamReply {
                message: reply,
                rtt: sent.elapsed(),
                lag: Duration::ZERO,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_encoded_query_reads_back_as_the_query() {
        let qname = Name::from_ascii("a.b.c.alpha.test.").expect("name");
        for edns in [true, false] {
            let bytes = encode_query(7, &qname, RecordType::AAAA, edns).expect("encodes");
            let mut read = Message::from_vec(&bytes).expect("parses");
            read.metadata.message_type = MessageType::Response;
            assert!(reply_matches(&read, 7, &qname, RecordType::AAAA));
            assert!(!read.metadata.recursion_desired, "we iterate: RD=0");
            assert_eq!(read.edns.is_some(), edns);
            assert_eq!(
                bytes,
                query_message(7, &qname, RecordType::AAAA, edns)
                    .to_vec()
                    .expect("encodes"),
                "one name: nothing to compress"
            );
        }
    }
}

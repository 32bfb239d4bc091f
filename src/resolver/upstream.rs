//! The resolver's only outbound I/O. [`Upstream`] has two implementations: [`NetUpstream`]
//! (real UDP/TCP sockets) and, in tests, a scripted fake internet built from our own zones.
//!
//! RFC 5452 defences live here: a fresh socket (random source port) and random ID per query,
//! and a reply is accepted only from the address and port queried, with the same ID and
//! question.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::limits::EDNS_UDP_PAYLOAD;

/// One question to one server.
#[derive(Debug, Clone)]
pub struct UpstreamQuery {
    pub server: SocketAddr,
    pub qname: Name,
    pub qtype: RecordType,
    pub tcp: bool,
    /// Send an OPT record (RFC 6891); off only to retry a server that rejects EDNS.
    pub edns: bool,
    pub timeout: Duration,
}

/// Why no usable reply came back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    #[error("timed out")]
    Timeout,
    #[error("network error: {0}")]
    Network(String),
}

pub type UpstreamFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Message, UpstreamError>> + Send + 'a>>;

/// Sends one query and returns the validated reply.
pub trait Upstream: Send + Sync {
    fn query<'a>(&'a self, q: &'a UpstreamQuery) -> UpstreamFuture<'a>;
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
    fn query<'a>(&'a self, q: &'a UpstreamQuery) -> UpstreamFuture<'a> {
        Box::pin(async move {
            let id: u16 = rand::random();
            let msg = query_message(id, &q.qname, q.qtype, q.edns);
            let bytes = msg
                .to_vec()
                .map_err(|e| UpstreamError::Network(e.to_string()))?;
            let exchange = async {
                if q.tcp {
                    tcp_exchange(q, id, &bytes).await
                } else {
                    udp_exchange(q, id, &bytes).await
                }
            };
            match tokio::time::timeout(q.timeout, exchange).await {
                Ok(r) => r,
                Err(_) => Err(UpstreamError::Timeout),
            }
        })
    }
}

fn net_err(e: std::io::Error) -> UpstreamError {
    UpstreamError::Network(e.to_string())
}

async fn udp_exchange(q: &UpstreamQuery, id: u16, bytes: &[u8]) -> Result<Message, UpstreamError> {
    let local: SocketAddr = if q.server.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    // A new socket per query gets a fresh, kernel-randomised source port; connecting it makes
    // the kernel drop datagrams from any other address or port (and report ICMP errors).
    let sock = UdpSocket::bind(local).await.map_err(net_err)?;
    sock.connect(q.server).await.map_err(net_err)?;
    sock.send(bytes).await.map_err(net_err)?;
    let mut buf = vec![0u8; 65_535];
    loop {
        let n = sock.recv(&mut buf).await.map_err(net_err)?;
        // Anything that does not parse or match is a spoofing attempt or junk: keep waiting.
        if let Ok(reply) = Message::from_vec(&buf[..n])
            && reply_matches(&reply, id, &q.qname, q.qtype)
        {
            return Ok(reply);
        }
    }
}

async fn tcp_exchange(q: &UpstreamQuery, id: u16, bytes: &[u8]) -> Result<Message, UpstreamError> {
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
            return Ok(reply);
        }
    }
}

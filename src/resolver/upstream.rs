//! The resolver's only outbound I/O. [`Upstream`] has two implementations: [`NetUpstream`]
//! (real UDP/TCP sockets, and DNS over TLS or over HTTPS to the forwarders of a zone with
//! `tls_name` or `url`) and, in tests, a scripted fake internet built from our own zones.
//!
//! An exchange here never times out by itself: it ends when a matching reply arrives or the
//! transport fails. The caller decides how long to wait before retransmitting, and keeps
//! listening for a late reply meanwhile (RFC 1035 §4.2.1: a timeout is not proof of loss).
//!
//! The network implementation is an adapter over [`crate::outbound`], which holds the RFC 5452
//! defences: a fresh socket (random source port) and random ID per query, and a reply accepted
//! only from the address and port queried, with the same ID and question (or none); and DNS
//! Cookies (RFC 7873): a reply with someone else's cookie is discarded, a BADCOOKIE is
//! answered inside the client: the walk never needs to know of cookies.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RecordType};
use tokio::time::Instant;

use super::trace::Encryption;
use crate::outbound::doh::DohUpstream;
use crate::outbound::doh::conn::DohError;
use crate::outbound::tcp::TcpQuery;
use crate::outbound::tls::DotUpstream;
use crate::outbound::tls::conn::ConnError;
use crate::outbound::{
    Ask, ClientError, CookieJar, Expected, Peer, Rest, Signed, UdpAnswer, over_udp,
};
use crate::wire::padding;

/// One question to one server.
#[derive(Debug, Clone)]
pub struct UpstreamQuery {
    pub server: SocketAddr,
    pub qname: Name,
    pub qtype: RecordType,
    pub tcp: bool,
    /// Send an OPT record (RFC 6891); off only for a server that rejects EDNS.
    pub edns: bool,
    /// RD=1: the server is a recursive resolver we forward to; otherwise we iterate (RD=0).
    pub rd: bool,
    /// CD=1 (RFC 4035 §3.2.2): a forwarder is to hand over data it would find bogus, because
    /// we validate it ourselves (see `Exchange::checking_disabled`).
    pub cd: bool,
    /// Over DNS over TLS or HTTPS to a forwarder, on its kept connection: never UDP or TCP in
    /// the clear.
    pub tls: Option<Encrypted>,
}

/// How a forward zone's servers are asked when never in the clear: one field through the
/// resolver, so that "is this encrypted" stays one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encrypted {
    /// DNS over TLS (RFC 7858; `tls_name`).
    Tls(Arc<DotUpstream>),
    /// DNS over HTTPS (RFC 8484; `url`).
    Https(Arc<DohUpstream>),
}

impl Encrypted {
    /// Which of the two, for the trace.
    pub fn kind(&self) -> Encryption {
        match self {
            Encrypted::Tls(_) => Encryption::Tls,
            Encrypted::Https(_) => Encryption::Https,
        }
    }
}

/// A validated reply and the round trip it took.
#[derive(Debug, Clone)]
pub struct UpstreamReply {
    /// The reply; over UDP without its authority and additional records when `rest` holds
    /// them.
    pub message: Message,
    /// The authority and additional sections, not yet decoded (see [`Rest::complete`]).
    pub rest: Option<Rest>,
    /// From sending to the moment the reply reached our socket. Over UDP the arrival time is
    /// the kernel's receive timestamp, so a resolver busy with other work does not mistake its
    /// own delay for a slow server.
    pub rtt: Duration,
    /// How long the reply waited in our socket before we read it: our own delay, not the
    /// server's (zero where the transport cannot tell).
    pub lag: Duration,
    /// When we read it. The walk's clock moves on to it: what the reply teaches is cached as
    /// of this time, and later steps see the cache as it is then.
    pub at: Instant,
}

/// Why no usable reply came back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// The server's host says nobody listens there (ICMP port unreachable, TCP reset).
    #[error("connection refused")]
    Refused,
    /// The server cannot be used as configured: its TLS handshake or certificate failed (the
    /// reason is rustls's), or it is in backoff after such a failure. Like a refusal, asking
    /// it again in this exchange would fail the same way.
    #[error("{0}")]
    Unusable(String),
    /// Anything else: a local firewall (EPERM), full buffers, no route, a connection closed
    /// unanswered. It says nothing sure about the server, but no reply can come to this try:
    /// the next one goes at once (to a bounded number, see `exchange`).
    #[error("network error: {0}")]
    Network(String),
}

pub type UpstreamFuture<'a> =
    Pin<Box<dyn Future<Output = Result<UpstreamReply, UpstreamError>> + Send + 'a>>;

/// Sends one query and waits, without a time limit, for the validated reply.
pub trait Upstream: Send + Sync {
    fn query(&self, q: UpstreamQuery) -> UpstreamFuture<'_>;
}

/// Real sockets, through the one outbound client. UDP queries carry DNS Cookies
/// (RFC 7873) unless turned off; a clone shares the server cookies learned.
#[derive(Debug, Clone)]
pub struct NetUpstream {
    cookies: Option<Arc<CookieJar>>,
}

impl NetUpstream {
    /// With `cookies` (`[recursion] upstream_cookies`, on by default as BIND's
    /// `send-cookie`), every UDP query with an OPT record carries our client cookie, and the
    /// server cookies learned come back in later queries to the same server.
    pub fn new(cookies: bool) -> NetUpstream {
        NetUpstream {
            cookies: cookies.then(|| Arc::new(CookieJar::default())),
        }
    }

    /// The server cookie learned from `server`, if any (for tests and diagnostics).
    pub fn server_cookie(&self, server: SocketAddr) -> Option<Vec<u8>> {
        let jar = self.cookies.as_ref()?;
        jar.server_cookie(server).map(|c| c.as_bytes().to_vec())
    }

    /// UDP replies discarded so far because their COOKIE option was not ours (RFC 7873
    /// §5.3): forgeries, or a broken server.
    pub fn discarded_cookies(&self) -> u64 {
        self.cookies.as_ref().map_or(0, |jar| jar.discarded())
    }
}

impl Default for NetUpstream {
    fn default() -> NetUpstream {
        NetUpstream::new(true)
    }
}

impl Upstream for NetUpstream {
    fn query(&self, q: UpstreamQuery) -> UpstreamFuture<'_> {
        // The rarer transports' states are boxed apart: inline they would make every UDP
        // query's future, moved into its box at once, half as large again.
        Box::pin(async move {
            if let Some(encrypted) = q.tls.clone() {
                return Box::pin(over_tls(&encrypted, &q)).await;
            }
            let peer = Peer::from(q.server);
            if !q.tcp {
                let jar = self.cookies.as_deref();
                let udp = over_udp(peer, jar, ask_of(&q));
                match udp.await.map_err(upstream_err)? {
                    UdpAnswer::Reply(message, rest, timing) => {
                        return Ok(UpstreamReply {
                            message,
                            rest,
                            rtt: timing.rtt,
                            lag: timing.lag,
                            at: timing.at,
                        });
                    }
                    // RFC 7873 §5.3: BADCOOKIE to a fresh cookie; TCP needs none.
                    UdpAnswer::Tcp => {}
                }
            }
            let (id, request) = encode_query(&q).map_err(upstream_err)?;
            let expected = Expected::answer(id, &q.qname, q.qtype);
            Box::pin(over_tcp(peer, request, expected)).await
        })
    }
}

/// The query tern sends: RD=0 (we iterate) unless `rd` (a forwarder); EDNS with our payload size unless `edns` is off,
/// and then always DO=1, RFC 4035 §4.1: the RRSIGs and denial proofs come with the data, for
/// validation and for clients that ask for them. Over UDP the outbound client adds the
/// COOKIE option. A fresh random ID each time.
fn request_for(q: &UpstreamQuery) -> Message {
    ask_of(q).message()
}

/// [`request_for`]'s parts, which UDP writes without making the message.
fn ask_of(q: &UpstreamQuery) -> Ask<'_> {
    Ask {
        qname: &q.qname,
        qtype: q.qtype,
        rd: q.rd,
        cd: q.cd,
        edns: q.edns,
    }
}

/// [`request_for`]'s ID and wire form, for TCP. No cookie over TCP: the handshake already
/// proves the return path (what a cookie proves over UDP), and a server that refused our
/// cookie over UDP must not be given the same one where we go to get around it. The message
/// itself is dropped here, not kept in the future.
fn encode_query(q: &UpstreamQuery) -> Result<(u16, Signed), ClientError> {
    let message = request_for(q);
    Ok((message.metadata.id, Signed::new(&message, None)?))
}

/// Over TCP a message that does not answer us is skipped, like a stray datagram.
async fn over_tcp(
    peer: Peer,
    request: Signed,
    expected: Expected<'_>,
) -> Result<UpstreamReply, UpstreamError> {
    let mut tcp = TcpQuery::open(peer, request, expected, None)
        .await
        .map_err(upstream_err)?;
    loop {
        match tcp.next().await {
            Ok(message) => {
                // Edge: the reply's time, reported with it.
                let at = Instant::now();
                return Ok(UpstreamReply {
                    message,
                    rest: None,
                    rtt: at.saturating_duration_since(tcp.started()),
                    lag: Duration::ZERO,
                    at,
                });
            }
            Err(ClientError::Malformed(_)) => {}
            Err(ClientError::Closed(_)) => {
                return Err(UpstreamError::Network(
                    "connection closed before the answer".into(),
                ));
            }
            Err(e) => return Err(upstream_err(e)),
        }
    }
}

/// [`request_for`]'s ID, its signing state, and its wire form padded to a multiple of 128
/// octets (RFC 8467 §4.1), encoded once and grown in place.
fn encode_padded(q: &UpstreamQuery) -> Result<(u16, Signed, Vec<u8>), ClientError> {
    let mut message = request_for(q);
    let id = message.metadata.id;
    let reserved = padding::reserve(&mut message);
    let request = Signed::new(&message, None)?;
    let mut bytes = request.bytes().to_vec();
    if let Some(rdata_len) = reserved {
        padding::grow(
            &mut bytes,
            rdata_len,
            usize::from(u16::MAX),
            padding::QUERY_BLOCK,
        );
    }
    Ok((id, request, bytes))
}

/// Over the forward zone's kept TLS connection to the server (DoT, or HTTP/2 for DoH),
/// padded. The connection may carry our query under another ID (DoH: ID 0); the response
/// comes back with ours, and must answer our question.
async fn over_tls(
    encrypted: &Encrypted,
    q: &UpstreamQuery,
) -> Result<UpstreamReply, UpstreamError> {
    // RFC 8467 §4.1: padded, so the record's length does not give the name away.
    let (id, mut request, bytes) = encode_padded(q).map_err(upstream_err)?;
    let response = match encrypted {
        Encrypted::Tls(dot) => dot.query(q.server, bytes).await.map_err(conn_err),
        Encrypted::Https(doh) => doh.query(q.server, bytes).await.map_err(doh_err),
    }?;
    let message = request.read(&response.bytes).map_err(upstream_err)?;
    Expected::answer(id, &q.qname, q.qtype)
        .check(&message, true)
        .map_err(upstream_err)?;
    Ok(UpstreamReply {
        message,
        rest: None,
        rtt: response.rtt,
        lag: Duration::ZERO,
        at: response.at,
    })
}

/// A kept connection's failure, DoT's or DoH's: a certificate or handshake failure makes the
/// server unusable, which ends in EDE 22 when no other server answers.
fn conn_err(e: ConnError) -> UpstreamError {
    match e {
        ConnError::Refused => UpstreamError::Refused,
        ConnError::Connect(why) => UpstreamError::Unusable(why),
        ConnError::Lost(why) => UpstreamError::Network(why),
    }
}

/// DoH's failures: the connection's as DoT's; a response that is no DNS message (a wrong
/// status or media type) says nothing of the certificate: this try failed, the next goes.
fn doh_err(e: DohError) -> UpstreamError {
    match e {
        DohError::Conn(e) => conn_err(e),
        e @ DohError::Response(_) => UpstreamError::Network(e.to_string()),
    }
}

fn upstream_err(e: ClientError) -> UpstreamError {
    match e {
        ClientError::Io(e) => net_err(e),
        e => UpstreamError::Network(e.to_string()),
    }
}

fn net_err(e: io::Error) -> UpstreamError {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => UpstreamError::Refused,
        _ => UpstreamError::Network(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::MessageType;

    use super::*;

    #[test]
    fn a_query_is_iterative_with_edns_and_do_unless_turned_off() {
        let qname = Name::from_ascii("a.b.c.alpha.test.").expect("name");
        for edns in [true, false] {
            let q = UpstreamQuery {
                server: "127.0.0.1:53".parse().expect("addr"),
                qname: qname.clone(),
                qtype: RecordType::AAAA,
                tcp: false,
                edns,
                rd: false,
                cd: false,
                tls: None,
            };
            let (id, request) = encode_query(&q).expect("encodes");
            let mut read = Message::from_vec(request.bytes()).expect("parses");
            read.metadata.message_type = MessageType::Response;
            assert!(Expected::answer(id, &qname, RecordType::AAAA).matches(&read, true));
            assert!(!read.metadata.recursion_desired, "we iterate: RD=0");
            assert_eq!(read.edns.is_some(), edns);
            // RFC 4035 §4.1: DO=1 whenever there is an OPT to carry it.
            assert_eq!(read.edns.map(|e| e.flags().dnssec_ok), edns.then_some(true));
        }
    }

    #[test]
    fn a_doh_failure_counts_as_a_dot_one_and_an_http_error_as_a_lost_try() {
        use crate::outbound::doh::conn::BadResponse;
        let why = || "TLS handshake: invalid peer certificate".to_string();
        assert_eq!(
            doh_err(DohError::Conn(ConnError::Connect(why()))),
            UpstreamError::Unusable(why()),
            "a certificate failure: EDE 22 in the end"
        );
        assert_eq!(
            doh_err(DohError::Conn(ConnError::Refused)),
            UpstreamError::Refused
        );
        for bad in [
            BadResponse::Status(500),
            BadResponse::ContentType("text/html".into()),
        ] {
            let e = doh_err(DohError::Response(bad));
            assert!(matches!(e, UpstreamError::Network(_)), "{e}");
        }
    }

    #[test]
    fn a_query_over_tls_goes_padded_to_128_octet_blocks() {
        let q = UpstreamQuery {
            server: "127.0.0.1:853".parse().expect("addr"),
            qname: Name::from_ascii("www.example.").expect("name"),
            qtype: RecordType::A,
            tcp: true,
            edns: true,
            rd: true,
            cd: false,
            tls: None,
        };
        let (id, _, bytes) = encode_padded(&q).expect("encodes");
        assert_eq!(bytes.len() % 128, 0, "{} octets", bytes.len());
        let read = Message::from_vec(&bytes).expect("parses");
        assert_eq!(read.metadata.id, id);
        let edns = read.edns.expect("OPT");
        assert!(
            edns.option(hickory_proto::rr::rdata::opt::EdnsCode::Padding)
                .is_some()
        );
    }
}

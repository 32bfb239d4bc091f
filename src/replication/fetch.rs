//! The outbound exchanges of zone replication, each with one server and each optionally
//! TSIG-signed (RFC 8945): the SOA query a secondary polls its primary with (RFC 1034 §4.3.5),
//! the zone transfer itself over TCP (AXFR, RFC 5936; IXFR, RFC 1995), and the NOTIFY a
//! primary sends its secondaries (RFC 1996).
//!
//! A reply counts only if it comes from the server asked, with the request's ID, opcode and
//! question (RFC 5452 §3). Over UDP anything else is dropped and the wait goes on, so a forged
//! datagram cannot end an exchange; over TCP, where nothing arrives but the server's stream,
//! a mismatch ends it with an error. TCP messages carry a 2-octet length prefix (RFC 7766 §8).
//! TSIG signs with the wall clock and the peer checks it against its own, so the time here is
//! the system's, read at each signature and check, not an argument.

use std::fmt::Display;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::{Name, Record, RecordType};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};

use crate::frame::{read_frame, write_frame};
use crate::limits::EDNS_UDP_PAYLOAD;
use crate::tsig::{Key, RequestSigner, TsigClientError, now_unix};

mod error;

pub use self::error::{FetchError, Request};

/// The largest DNS message: a UDP datagram's payload, or what a TCP length prefix can count.
const MAX_MESSAGE: usize = 65_535;

/// The zone's SOA record at `primary` (RFC 1034 §4.3.5: a secondary compares serials before
/// transferring). Asked over UDP with EDNS; asked again over TCP when the answer is truncated
/// (RFC 7766 §5). The answer must be authoritative (AA=1), NOERROR, and signed with `key`
/// when one is given. `timeout` bounds both tries together.
pub async fn query_soa(
    primary: impl Into<Peer>,
    zone: &Name,
    key: Option<&Key>,
    timeout: Duration,
) -> Result<Record, FetchError> {
    let exchange = Exchange::new(primary.into(), zone, Request::Soa);
    let mut request = exchange.message();
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_UDP_PAYLOAD.default);
    request.set_edns(edns);

    let message = exchange
        .bounded(timeout, async {
            let (bytes, signer) = exchange.encode(&request, key)?;
            let (raw, message) = exchange.over_udp(&bytes).await?;
            if !message.metadata.truncation {
                return exchange.check_single(&raw, message, signer);
            }
            // Signed afresh: a TSIG is bound to the time it was made, and the first try's
            // signer has seen a (truncated, unchecked) answer.
            let (bytes, signer) = exchange.encode(&request, key)?;
            let mut tcp = exchange.connect().await?;
            write_frame(&mut tcp, &bytes)
                .await
                .map_err(|e| exchange.io(e))?;
            let raw = read_frame(&mut tcp)
                .await
                .map_err(|e| exchange.io(e))?
                .ok_or_else(|| exchange.incomplete(0))?;
            let message = Message::from_vec(&raw).map_err(|e| exchange.malformed(e))?;
            exchange.expect_match(&message, true)?;
            exchange.check_single(&raw, message, signer)
        })
        .await?;
    if !message.metadata.authoritative {
        return Err(FetchError::NotAuthoritative {
            server: exchange.server,
            zone: Box::new(zone.clone()),
        });
    }
    message
        .answers
        .into_iter()
        .find(|r| r.record_type() == RecordType::SOA && r.name == *zone)
        .ok_or_else(|| FetchError::NoSoa {
            server: exchange.server,
            zone: Box::new(zone.clone()),
        })
}

/// Sends an AXFR (`ixfr_from: None`, RFC 5936) or IXFR (`Some(our current SOA record)`, placed
/// in the authority section as RFC 1995 §3 requires) request over TCP and hands each response
/// message, TSIG-verified when `key` is set, to `on_message`, which returns `Ok(true)` once the
/// transfer is complete (it knows the zone's shape: SOA, records, SOA). Every message must
/// carry the request's ID and NOERROR; the first must repeat the question, later ones may
/// leave it out (RFC 5936 §2.2.2). With TSIG, the last message must be signed (RFC 8945
/// §5.3.1). The whole transfer is bounded by `timeout`.
pub async fn transfer<E: Display>(
    primary: impl Into<Peer>,
    zone: &Name,
    ixfr_from: Option<&Record>,
    key: Option<&Key>,
    timeout: Duration,
    mut on_message: impl FnMut(&Message) -> Result<bool, E>,
) -> Result<(), FetchError> {
    let kind = match ixfr_from {
        Some(_) => Request::Ixfr,
        None => Request::Axfr,
    };
    let exchange = Exchange::new(primary.into(), zone, kind);
    let mut request = exchange.message();
    if let Some(soa) = ixfr_from {
        request.add_authority(soa.clone());
    }
    exchange
        .bounded(timeout, async {
            let (bytes, mut signer) = exchange.encode(&request, key)?;
            let mut tcp = exchange.connect().await?;
            write_frame(&mut tcp, &bytes)
                .await
                .map_err(|e| exchange.io(e))?;
            let mut messages = 0;
            loop {
                let raw = read_frame(&mut tcp)
                    .await
                    .map_err(|e| exchange.io(e))?
                    .ok_or_else(|| exchange.incomplete(messages))?;
                let message = match signer.as_mut() {
                    Some(signer) => signer
                        .verify(&raw, now_unix())
                        .map_err(|e| exchange.tsig(e))?,
                    None => Message::from_vec(&raw).map_err(|e| exchange.malformed(e))?,
                };
                exchange.expect_match(&message, messages == 0)?;
                exchange.expect_noerror(&message)?;
                messages += 1;
                match on_message(&message) {
                    Ok(true) => break,
                    Ok(false) => {}
                    Err(reason) => {
                        return Err(FetchError::Rejected {
                            server: exchange.server,
                            zone: Box::new(zone.clone()),
                            messages,
                            reason: reason.to_string(),
                        });
                    }
                }
            }
            match &signer {
                Some(signer) => signer.finish().map_err(|e| exchange.tsig(e)),
                None => Ok(()),
            }
        })
        .await
}

/// RFC 1996 §3: sends NOTIFY (opcode NOTIFY, AA=1, question `zone` SOA, `soa` in the answer
/// section as §3.7 allows) over UDP and waits for the matching response (same ID, opcode
/// NOTIFY, QR=1), which must be NOERROR and, with `key`, signed. One attempt: the caller
/// retries (§3.6).
pub async fn notify(
    target: impl Into<Peer>,
    zone: &Name,
    soa: &Record,
    key: Option<&Key>,
    timeout: Duration,
) -> Result<(), FetchError> {
    let exchange = Exchange::new(target.into(), zone, Request::Notify);
    let mut request = exchange.message();
    request.metadata.authoritative = true;
    request.add_answer(soa.clone());
    exchange
        .bounded(timeout, async {
            let (bytes, signer) = exchange.encode(&request, key)?;
            let (raw, message) = exchange.over_udp(&bytes).await?;
            exchange.check_single(&raw, message, signer).map(|_| ())
        })
        .await
}

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
    pub fn new(server: SocketAddr, source: Option<IpAddr>) -> Peer {
        // A source of the other family cannot reach the server: let the kernel choose.
        let source = source.filter(|ip| ip.is_ipv4() == server.is_ipv4());
        Peer { server, source }
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

/// One request to one server, and the context every error about it carries.
struct Exchange<'z> {
    server: SocketAddr,
    source: Option<IpAddr>,
    zone: &'z Name,
    request: Request,
    id: u16,
}

impl<'z> Exchange<'z> {
    fn new(peer: Peer, zone: &'z Name, request: Request) -> Self {
        // RFC 5452: a random ID, so that an off-path forger must guess it.
        let id = rand::random();
        Exchange {
            server: peer.server,
            source: peer.source,
            zone,
            request,
            id,
        }
    }

    fn question(&self) -> Query {
        Query::query(self.zone.clone(), self.request.qtype())
    }

    /// The request without its payload: header (RD=0: these go to authoritative servers)
    /// and question, class IN.
    fn message(&self) -> Message {
        let mut request = Message::new(self.id, MessageType::Query, self.request.op_code());
        request.add_query(self.question());
        request
    }

    /// The request's bytes, TSIG-signed when there is a key (RFC 8945 §5.1).
    fn encode(
        &self,
        request: &Message,
        key: Option<&Key>,
    ) -> Result<(Vec<u8>, Option<RequestSigner>), FetchError> {
        let sign_error = |error| FetchError::Sign {
            server: self.server,
            zone: Box::new(self.zone.clone()),
            request: self.request,
            error,
        };
        match key {
            Some(key) => RequestSigner::sign(request, key, now_unix())
                .map(|(bytes, signer)| (bytes, Some(signer)))
                .map_err(sign_error),
            None => request
                .to_vec()
                .map(|bytes| (bytes, None))
                .map_err(|e| FetchError::Encode {
                    server: self.server,
                    zone: Box::new(self.zone.clone()),
                    request: self.request,
                    reason: e.to_string(),
                }),
        }
    }

    async fn bounded<T>(
        &self,
        timeout: Duration,
        work: impl Future<Output = Result<T, FetchError>>,
    ) -> Result<T, FetchError> {
        tokio::time::timeout(timeout, work)
            .await
            .unwrap_or_else(|_| {
                Err(FetchError::Timeout {
                    server: self.server,
                    zone: Box::new(self.zone.clone()),
                    request: self.request,
                    timeout,
                })
            })
    }

    /// Sends `request` from a fresh socket (random source port, RFC 5452) connected to
    /// the server, so the kernel drops datagrams from anyone else, and waits for a reply that
    /// matches; anything else is ignored.
    async fn over_udp(&self, request: &[u8]) -> Result<(Vec<u8>, Message), FetchError> {
        let local = SocketAddr::new(self.local_ip(), 0);
        let socket = UdpSocket::bind(local).await.map_err(|e| self.io(e))?;
        socket.connect(self.server).await.map_err(|e| self.io(e))?;
        socket.send(request).await.map_err(|e| self.io(e))?;
        let mut buf = vec![0; MAX_MESSAGE];
        loop {
            let len = socket.recv(&mut buf).await.map_err(|e| self.io(e))?;
            let raw = &buf[..len];
            let Ok(message) = Message::from_vec(raw) else {
                continue;
            };
            if self.matches(&message, true) {
                return Ok((raw.to_vec(), message));
            }
        }
    }

    async fn connect(&self) -> Result<TcpStream, FetchError> {
        let socket = match self.server {
            SocketAddr::V4(_) => TcpSocket::new_v4(),
            SocketAddr::V6(_) => TcpSocket::new_v6(),
        }
        .map_err(|e| self.io(e))?;
        if self.source.is_some() {
            socket
                .bind(SocketAddr::new(self.local_ip(), 0))
                .map_err(|e| self.io(e))?;
        }
        socket.connect(self.server).await.map_err(|e| self.io(e))
    }

    fn local_ip(&self) -> IpAddr {
        self.source.unwrap_or(match self.server {
            SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        })
    }

    /// A single-message response: TSIG-checked when the request was signed, and NOERROR.
    fn check_single(
        &self,
        raw: &[u8],
        message: Message,
        signer: Option<RequestSigner>,
    ) -> Result<Message, FetchError> {
        let message = match signer {
            Some(mut signer) => {
                let checked = signer.verify(raw, now_unix()).map_err(|e| self.tsig(e))?;
                signer.finish().map_err(|e| self.tsig(e))?;
                checked
            }
            None => message,
        };
        self.expect_noerror(&message)?;
        Ok(message)
    }

    /// ID, QR, opcode and question as RFC 5452 §3 lists them. Later messages of a transfer
    /// may have no question (RFC 5936 §2.2.2); so may an error response (RFC 1035 §4.1.1
    /// does not require it), which then reports its RCODE rather than a mismatch.
    fn matches(&self, message: &Message, first: bool) -> bool {
        let header = &message.metadata;
        if header.id != self.id
            || header.message_type != MessageType::Response
            || header.op_code != self.request.op_code()
        {
            return false;
        }
        match message.queries.as_slice() {
            [] => !first || header.response_code != ResponseCode::NoError,
            [q] => {
                q.name() == self.zone
                    && q.query_type() == self.request.qtype()
                    && q.query_class() == self.question().query_class()
            }
            _ => false,
        }
    }

    fn expect_match(&self, message: &Message, first: bool) -> Result<(), FetchError> {
        if self.matches(message, first) {
            return Ok(());
        }
        Err(self.malformed(format!(
            "ID {} {:?} {:?} {:?} does not answer request ID {}",
            message.metadata.id,
            message.metadata.message_type,
            message.metadata.op_code,
            message.queries.first().map(|q| q.to_string()),
            self.id
        )))
    }

    fn expect_noerror(&self, message: &Message) -> Result<(), FetchError> {
        match message.metadata.response_code {
            ResponseCode::NoError => Ok(()),
            rcode => Err(FetchError::Rcode {
                server: self.server,
                zone: Box::new(self.zone.clone()),
                request: self.request,
                rcode,
            }),
        }
    }

    fn io(&self, error: io::Error) -> FetchError {
        FetchError::Io {
            server: self.server,
            zone: Box::new(self.zone.clone()),
            request: self.request,
            error,
        }
    }

    fn tsig(&self, error: TsigClientError) -> FetchError {
        match error {
            TsigClientError::Malformed(reason) => self.malformed(reason),
            error => FetchError::Tsig {
                server: self.server,
                zone: Box::new(self.zone.clone()),
                request: self.request,
                error,
            },
        }
    }

    fn malformed(&self, reason: impl Display) -> FetchError {
        FetchError::Malformed {
            server: self.server,
            zone: Box::new(self.zone.clone()),
            request: self.request,
            reason: reason.to_string(),
        }
    }

    fn incomplete(&self, messages: usize) -> FetchError {
        FetchError::Incomplete {
            server: self.server,
            zone: Box::new(self.zone.clone()),
            request: self.request,
            messages,
        }
    }
}

#[cfg(test)]
mod tests;

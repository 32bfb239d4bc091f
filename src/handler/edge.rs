//! The request edge: every transport (UDP, TCP; next TLS and HTTPS) hands its bytes here. They
//! are decoded once — the header, the whole message, then the TSIG verdict (RFC 8945 §5.2, one
//! check for every opcode) — into a [`Decoded`] request, dispatched by opcode to its service
//! (query, UPDATE, NOTIFY, zone transfer), and what the service answers becomes bytes in one
//! place (`response::finish`: size limit, TSIG signing). Only TCP can take a stream of
//! messages (AXFR/IXFR); its writer drains it.

use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::Duration;

use hickory_proto::op::{Message, OpCode, Query, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::time::Instant;
use tracing::{Instrument, debug, debug_span};

use super::cookie::{self, Judged, Verdict};
use super::observe::{self, Seen};
use super::request::{EdnsInfo, Malformed, Request, Transport};
use super::response::{self, Echo};
use super::{Handler, Transfers, Updates, notify};
use crate::metrics::Metrics;
use crate::tsig::{self, Keyring, Verified};

/// The keys of a server that has none: every signature is BADKEY (RFC 8945 §5.2.1).
static NO_KEYS: LazyLock<Keyring> = LazyLock::new(Keyring::default);

/// What a request over TCP gets: one message, or the messages of a transfer, produced (encoded
/// and signed) as the connection's writer drains them.
pub(crate) enum Reply {
    One(Vec<u8>),
    Stream(Box<dyn Iterator<Item = Vec<u8>> + Send>),
}

/// Who answers a request, chosen by opcode (and for a zone transfer by QTYPE, over TCP only).
pub(super) enum Service<'h> {
    /// A standard query, narrowed to one question (`Request`).
    Query(Request),
    Update(&'h Updates),
    Notify(&'h Transfers),
    Transfer(&'h Transfers),
}

/// A request decoded once: every section, the EDNS summary, and the verdict on its TSIG, whose
/// MAC was checked over the bytes as they arrived (RFC 8945 §4.3).
pub(super) struct Decoded<'h> {
    pub(super) service: Service<'h>,
    pub(super) message: Message,
    pub(super) src: SocketAddr,
    pub(super) transport: Transport,
    pub(super) edns: Option<EdnsInfo>,
    pub(super) tsig: Verified,
    /// Its COOKIE option, judged (RFC 7873 §5.2): every response carries our cookie back.
    pub(super) cookie: Option<Judged>,
    /// The wall clock in seconds for TSIG (RFC 8945 §5.2.3) and cookies (RFC 9018 §4.3), read
    /// once here; 0 for a request with neither, which nothing downstream signs or checks.
    pub(super) now_unix: u64,
    /// When the bytes arrived: the one reading of the monotonic clock for this request.
    pub(super) now: Instant,
    /// Whether the reply may be a stream of messages (a zone transfer over TCP or TLS).
    pub(super) may_stream: bool,
}

impl Decoded<'_> {
    /// The one question (the zone section of UPDATE), when there is exactly one.
    pub(super) fn question(&self) -> Option<&Query> {
        match self.message.queries.as_slice() {
            [q] => Some(q),
            _ => None,
        }
    }

    /// What a response to this request echoes. RD and CD only for QUERY: UPDATE reuses those
    /// bits (RFC 2136 §2.2), and NOTIFY answers have them clear (RFC 1996 §3.7).
    pub(super) fn echo(&self) -> Echo<'_> {
        let meta = &self.message.metadata;
        let query = meta.op_code == OpCode::Query;
        Echo {
            id: meta.id,
            op_code: meta.op_code,
            recursion_desired: query && meta.recursion_desired,
            checking_disabled: query && meta.checking_disabled,
            query: self.question(),
            edns: self.edns,
        }
    }

    /// How many bytes a response may take (`response::size_limit`).
    pub(super) fn size_limit(&self, our_payload: u16) -> usize {
        response::size_limit_for(self.transport, self.edns, our_payload)
    }
}

/// What a service answers.
// Returned once per request and consumed at once: boxing the message would cost an
// allocation per answer.
#[allow(clippy::large_enum_variant)]
pub(super) enum Outcome {
    /// One response, to be encoded within the size limit and signed as the TSIG verdict says;
    /// `seen` is what the query log wants of it.
    One {
        message: Message,
        optional_authority: bool,
        seen: Option<Seen>,
        /// The message's wire form without OPT, when the message tier made it to keep the
        /// answer: the reply is made from it (`response::finish`).
        kept: Option<Vec<u8>>,
    },
    /// Bytes a rate limit already decided (a REFUSED, or nothing: dropped).
    Decided(Option<Vec<u8>>),
    /// The messages of a zone transfer, encoded and signed as the writer drains them.
    Stream(Box<dyn Iterator<Item = Vec<u8>> + Send>),
}

impl From<Message> for Outcome {
    fn from(message: Message) -> Outcome {
        Outcome::One {
            message,
            optional_authority: false,
            seen: None,
            kept: None,
        }
    }
}

impl Handler {
    /// A request from any transport: decoded, answered by its service, counted and logged
    /// (`observe`). `stream_idle`: the idle timeout of a stream connection (TCP, TLS), which
    /// can send a zone transfer's many messages and tells its timeout (RFC 7828); `None` for a
    /// transport of one message per request.
    pub(super) async fn answer(
        &self,
        bytes: &[u8],
        src: SocketAddr,
        transport: Transport,
        stream_idle: Option<Duration>,
    ) -> Option<Reply> {
        let may_stream = stream_idle.is_some();
        // Edge: the request's time, read once where its bytes arrive and passed down (the
        // latency of the answer is measured from it too).
        let now = Instant::now();
        let start = now.into_std();
        observe::arrived(&self.metrics, transport, bytes);
        let decoded = match self.decode(bytes, src, transport, may_stream, now) {
            Ok(decoded) => decoded,
            Err((bad, cookie)) => {
                let reply = self.malformed(&bad, (src, transport), cookie, now);
                observe::answered(self, transport, src, start, reply.as_deref(), None);
                return reply.map(Reply::One);
            }
        };
        let (reply, seen) = match self.dispatch(&decoded).await {
            Outcome::One {
                mut message,
                optional_authority,
                seen,
                kept,
            } => {
                if let Some(cookie) = &decoded.cookie {
                    response::add_cookie(&mut message, &cookie.reply);
                }
                let asked = decoded.edns.unwrap_or_default();
                if let Some(idle) = stream_idle
                    && asked.keepalive
                    && transport.keeps_alive()
                {
                    response::add_keepalive(&mut message, idle);
                }
                let limit = decoded.size_limit(self.config.edns_payload);
                let shape = response::Shape {
                    limit,
                    optional_authority,
                    pad: asked.padding && transport.is_encrypted(),
                };
                let bytes = response::finish(message, kept, shape, &decoded.tsig, decoded.now_unix);
                (bytes, seen)
            }
            Outcome::Decided(bytes) => (bytes, None),
            // A transfer is counted as it arrives only: its messages are made as they are sent.
            Outcome::Stream(messages) => return Some(Reply::Stream(messages)),
        };
        observe::answered(self, transport, src, start, reply.as_deref(), seen);
        reply.map(Reply::One)
    }

    /// Decodes `bytes` once: header, message, cookie verdict, service, TSIG verdict. A request
    /// that cannot be answered normally keeps its cookie verdict, for the reply's COOKIE.
    // Returned once per request and consumed at once, as `Outcome`: boxing the rejection
    // would cost an allocation for every packet of garbage.
    #[allow(clippy::result_large_err)]
    fn decode(
        &self,
        bytes: &[u8],
        src: SocketAddr,
        transport: Transport,
        may_stream: bool,
        now: Instant,
    ) -> Result<Decoded<'_>, (Malformed, Option<Judged>)> {
        let header = Request::header(bytes).map_err(|bad| (bad, None))?;
        let implemented = match header.metadata.op_code {
            OpCode::Update => self.updates.as_ref().map(Service::Update),
            OpCode::Notify => self.transfers.as_ref().map(Service::Notify),
            _ => None,
        };
        let message = match Request::message(bytes) {
            Some(message) => message,
            None if implemented.is_some() => {
                return Err((Malformed::header_only(&header), None));
            }
            None => return Err((Malformed::unparsed(&header), None)),
        };
        let received = match message.edns.as_ref().and_then(Request::cookie_of) {
            Some(Ok(received)) => Some(received),
            Some(Err(bad)) => {
                debug!(client = %src, %bad, "malformed COOKIE option");
                self.metrics.count_cookie(cookie::MALFORMED_SLOT);
                return Err((Malformed::bad_cookie(&header, &message), None));
            }
            None => None,
        };
        let now_unix = match (message.signature(), received) {
            (None, None) => 0,
            _ => tsig::now_unix(),
        };
        let cookie = received.map(|r| self.config.cookies.judge(&r, src.ip(), now_unix));
        if let Some(judged) = &cookie {
            self.metrics.count_cookie(judged.verdict.slot());
        }
        let service = match (implemented, self.transfers.as_ref()) {
            (Some(service), _) => service,
            (None, Some(transfers)) if is_transfer(&message, may_stream) => {
                Service::Transfer(transfers)
            }
            _ => match Request::from_message(&header, &message, src, transport) {
                Ok(req) => Service::Query(Request { cookie, ..req }),
                Err(mut bad) => {
                    // A server cookie asked for (RFC 7873 §5.4) with one we did not make, over
                    // UDP: BADCOOKIE, as a question would get (`dispatch`).
                    if let Malformed::Reply { rcode, .. } = &mut bad
                        && *rcode == ResponseCode::NoError
                        && transport == Transport::Udp
                        && cookie.is_some_and(|c| c.verdict == Verdict::Invalid)
                    {
                        *rcode = ResponseCode::BADCOOKIE;
                    }
                    return Err((bad, cookie));
                }
            },
        };
        let tsig = tsig::verify(bytes, &message, self.keyring_for(&service), now_unix);
        Ok(Decoded {
            service,
            edns: message.edns.as_ref().map(EdnsInfo::of),
            message,
            src,
            transport,
            tsig,
            cookie,
            now_unix,
            now,
            may_stream,
        })
    }

    /// The keys a request's TSIG is checked against: the service's own, else any we know.
    fn keyring_for<'k>(&'k self, service: &Service<'k>) -> &'k Keyring {
        match service {
            Service::Update(updates) => updates.keyring(),
            Service::Transfer(transfers) => transfers.keyring(),
            Service::Notify(transfers) => self.keyring().unwrap_or(transfers.keyring()),
            Service::Query(_) => self.keyring().unwrap_or(&NO_KEYS),
        }
    }

    /// One dispatch by opcode. A bad TSIG is answered here for every service, before the
    /// service looks at anything else (RFC 8945 §5.2); a query's rate limit comes first, so a
    /// client over its rate is not answered NOTAUTH or BADCOOKIE at any rate instead.
    async fn dispatch(&self, d: &Decoded<'_>) -> Outcome {
        if let Service::Query(req) = &d.service
            && let Some(limited) = self.limit_query(req, d.tsig.key().is_some(), d.now)
        {
            return Outcome::Decided(limited);
        }
        if let Some(rcode) = d.tsig.rcode() {
            return self.bad_tsig(d, rcode);
        }
        // RFC 7873 §5.2.3: a server cookie we did not make, over UDP, where a spoofed source
        // could be behind it: BADCOOKIE with a fresh cookie (added with every reply's), so a
        // real client retries with it. Over TCP the handshake proved the address: answered.
        if d.transport == Transport::Udp && d.cookie.is_some_and(|c| c.verdict == Verdict::Invalid)
        {
            debug!(client = %d.src, "BADCOOKIE");
            let mut m =
                response::shell(&d.echo(), ResponseCode::BADCOOKIE, self.config.edns_payload);
            m.metadata.recursion_available = self.recursion_shown(m.metadata.op_code, d.src);
            return self.edge_reply(d, m);
        }
        match &d.service {
            Service::Query(req) => {
                // At debug: at the default level a span would format its fields per query.
                let span = debug_span!("query", id = req.id, qname = %req.query.name(), qtype = %req.query.query_type(), client = %d.src);
                self.query(req, d.now).instrument(span).await
            }
            Service::Update(updates) => {
                let span = debug_span!("update", client = %d.src);
                let catalog = self.catalog();
                let payload = self.config.edns_payload;
                updates
                    .serve(d, &catalog, &self.metrics, payload)
                    .instrument(span)
                    .await
            }
            Service::Notify(transfers) => notify::serve(
                transfers.receiver(),
                d,
                &self.metrics,
                self.config.edns_payload,
            ),
            Service::Transfer(transfers) => {
                let span = debug_span!("transfer", client = %d.src);
                let _entered = span.enter();
                transfers.serve(d, &self.catalog(), &self.metrics, self.config.edns_payload)
            }
        }
    }

    /// The answer to a request whose TSIG failed: NOTAUTH with the TSIG error, or FORMERR
    /// without a TSIG (`Verified::rcode`), counted as the service counts its refusals.
    fn bad_tsig(&self, d: &Decoded<'_>, rcode: ResponseCode) -> Outcome {
        let m = &self.metrics;
        match d.service {
            Service::Query(_) => {}
            Service::Update(_) => Metrics::inc(&m.updates_refused),
            Service::Notify(_) => Metrics::inc(&m.notifies_received),
            Service::Transfer(_) => Metrics::inc(&m.transfers_refused),
        }
        debug!(client = %d.src, verified = ?d.tsig, %rcode, "request with a bad TSIG");
        let mut m = response::shell(&d.echo(), rcode, self.config.edns_payload);
        m.metadata.recursion_available = self.recursion_shown(m.metadata.op_code, d.src);
        self.edge_reply(d, m)
    }

    /// A reply the edge words for `d` (BADCOOKIE, NOTAUTH), held to RRL (`limit_edge`).
    fn edge_reply(&self, d: &Decoded<'_>, m: Message) -> Outcome {
        let proven = d.cookie.as_ref().is_some_and(Judged::proves_address);
        match self.limit_edge(m, (d.src, d.transport), proven, d.now) {
            Some(m) => m.into(),
            None => Outcome::Decided(None),
        }
    }

    /// RA in a reply no service made (a rejection at the edge): whether this client may
    /// recurse (RFC 1035 §4.1.1), as every answer to it says; only in a query's header, which
    /// alone has the bit (RFC 2136 §2.2).
    fn recursion_shown(&self, op_code: OpCode, src: SocketAddr) -> bool {
        op_code == OpCode::Query && self.recursion_for(src.ip()).is_some()
    }

    /// The reply to a packet that is not a request we can answer, counted and held to RRL
    /// (`limit_edge`); with our COOKIE when the request's `cookie` was judged. `at`: the
    /// client and the transport; `now`: when the packet arrived.
    fn malformed(
        &self,
        bad: &Malformed,
        at: (SocketAddr, Transport),
        cookie: Option<Judged>,
        now: Instant,
    ) -> Option<Vec<u8>> {
        let src = at.0;
        match bad {
            Malformed::Drop => Metrics::inc(&self.metrics.dropped),
            Malformed::Reply { rcode, .. } => {
                if *rcode == ResponseCode::FormErr {
                    Metrics::inc(&self.metrics.formerr);
                }
            }
        }
        debug!(client = %src, ?bad, "malformed request");
        let proven = cookie.as_ref().is_some_and(Judged::proves_address);
        let ra = match bad {
            Malformed::Reply { op_code, .. } => self.recursion_shown(*op_code, src),
            Malformed::Drop => false,
        };
        let reply = cookie.as_ref().map(|c| &c.reply);
        let m = response::malformed_reply(bad, self.config.edns_payload, reply, ra)?;
        self.limit_edge(m, at, proven, now)?.to_vec().ok()
    }
}

/// A request for the transfer service: opcode QUERY (the caller's header said QR=0), one
/// question, AXFR where the reply may be a stream, IXFR anywhere (RFC 1995 §2: IXFR may come
/// over UDP, and is answered in one message there). AXFR over UDP is left to the query path
/// (NOTIMP).
fn is_transfer(message: &Message, may_stream: bool) -> bool {
    message.metadata.op_code == OpCode::Query
        && matches!(
            message.queries.as_slice(),
            [q] if q.query_type() == RecordType::IXFR
                || (may_stream && q.query_type() == RecordType::AXFR)
        )
}

#[cfg(test)]
mod prefetch_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod ttl_review;
#[cfg(test)]
mod yxdomain_review;

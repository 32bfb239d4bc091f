//! Request in, response out; never fails. Every transport calls one edge:
//!
//! ```text
//! bytes ─► edge: header, message, TSIG verdict (once) ─┬─► query     (query.rs: route → local
//!   (udp | tcp)         │ malformed: FORMERR/NOTIMP    │              zones, cache, resolver)
//!                       │ bad TSIG: NOTAUTH            ├─► update    (update.rs: RFC 2136)
//!                       ▼                              ├─► notify    (notify.rs: RFC 1996)
//!                  response::shell                     └─► transfer  (transfer.rs: AXFR/IXFR,
//!                                                                     a stream, TCP only)
//! bytes ◄─ response::finish (size limit, TSIG signing) ◄─ one message; a stream is drained by
//!                                                         the TCP writer
//! ```
//! The hit path (`answer_fast` over UDP, `answer_stream_fast` inline in a TCP or TLS
//! connection) answers a question it has answered before without entering the edge. Each outcome type maps to its RCODE in one place (`Verified::rcode`,
//! `Malformed`, the services' refusal types, `ResolveError::rcode`).

mod chaos;
pub(crate) mod cookie;
mod cuts;
mod ede_option;
mod edge;
#[cfg(test)]
mod flags_hit_review;
#[cfg(test)]
mod flags_review;
#[cfg(test)]
mod hit_review;
mod limit;
pub(crate) mod notify;
mod observe;
mod query;
mod refusal;
pub(crate) mod request;
pub(crate) mod response;
#[cfg(test)]
mod test_query;
#[cfg(test)]
mod test_tsig;
pub(crate) mod transfer;
#[cfg(test)]
mod transfer_review;
pub(crate) mod transferred;
pub(crate) mod update;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

pub use chaos::Identity;
pub use cookie::ServerCookies;
pub(crate) use edge::Reply;
pub(crate) use notify::NotifyReceiver;
pub(crate) use request::{Request, Transport};
pub(crate) use response::{Response, Reuse};
pub(crate) use transfer::Transfers;
pub(crate) use update::Updates;

pub(crate) use crate::acl::Acl;

use crate::authority::Catalog;
use crate::limits::EDNS_UDP_PAYLOAD;
use crate::metrics::{LogThrottle, Metrics};
use crate::querylog::QueryLog;
use crate::resolver::Resolver;
use crate::wire::padding;

/// Handler settings that are fixed for its lifetime.
#[derive(Debug, Clone)]
pub struct HandlerConfig {
    /// Our EDNS UDP payload size, advertised and used as the cap on UDP responses.
    pub edns_payload: u16,
    /// What `CH TXT id.server` and `version.bind` say (RFC 4892).
    pub identity: Identity,
    /// The secrets of our server cookies (RFC 7873 §5.2, RFC 9018).
    pub cookies: ServerCookies,
    /// Positive recursive answers carry only the answer (Unbound's `minimal-responses: yes`,
    /// its default); false adds the zone's NS set and its servers' addresses, as the cache
    /// holds them (see `sections`).
    pub minimal_responses: bool,
}

impl Default for HandlerConfig {
    fn default() -> Self {
        HandlerConfig {
            edns_payload: EDNS_UDP_PAYLOAD.default,
            identity: Identity::default(),
            cookies: ServerCookies::default(),
            minimal_responses: true,
        }
    }
}

/// Recursion and who may use it. The assembly (`NameServer::recursion`) takes it with a
/// resolver not yet shared, `Recursion<Resolver>`, and completes that resolver with the served
/// zones' delegations before sharing it; the handler keeps it shared, `Recursion`.
pub struct Recursion<R = Arc<Resolver>> {
    pub resolver: R,
    pub acl: Acl,
    /// Clients whose non-recursive (RD=0) questions are answered from the cache, as Unbound's
    /// `access-control: ... allow_snoop`. Nobody by default: answering RD=0 from the cache
    /// tells one client what others asked.
    pub snoop: Acl,
}

/// A handler's served zones, as the zones' writer sees them (see [`Handler::served_zones`]).
#[derive(Clone)]
pub(crate) struct ServedZones {
    catalog: Arc<cuts::CatalogCell>,
    cache: Arc<crate::cache::Cache>,
}

impl ServedZones {
    /// Replaces the served zones atomically.
    pub(crate) fn publish(&self, catalog: Catalog) {
        self.catalog.replace(Arc::new(catalog));
        // A name the new zones answer must not be answered from what the resolver said.
        self.cache.messages().clear();
    }

    /// The catalog in force now.
    pub(crate) fn current(&self) -> Arc<Catalog> {
        self.catalog.current()
    }
}

/// The Padding option's code (RFC 7830 §3), as the hit path reads and writes it.
const PADDING: [u8; 2] = [0, 12];

/// QTYPEs of zone transfers (RFC 5936, RFC 1995).
const AXFR: u16 = 252;
const IXFR: u16 = 251;

/// Whether `query`'s OPT holds a Padding option (RFC 7830). `question` is its parse, so the
/// options after its OPT are whole.
fn padded(query: &[u8], question: &crate::wire::Question<'_>) -> bool {
    if question.payload.is_none() {
        return false;
    }
    let Some(mut options) = query.get(question.end() + crate::wire::OPT_LEN..) else {
        return false;
    };
    while let [a, b, c, d, rest @ ..] = options {
        if [*a, *b] == PADDING {
            return true;
        }
        let Some(next) = rest.get(usize::from(u16::from_be_bytes([*c, *d]))..) else {
            return false;
        };
        options = next;
    }
    false
}

/// At most one WARN line per this long for failed resolutions; the rest go to `debug` and
/// the `servfails` counter.
const FAILURE_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Answers requests from the local zones (and, with recursion, the cache and resolver).
pub struct Handler {
    /// The served zones; shared with the resolver, which starts walks at their delegations.
    catalog: Arc<cuts::CatalogCell>,
    config: HandlerConfig,
    metrics: Arc<Metrics>,
    recursion: Option<Recursion>,
    /// The cache whose message tier the hit path reads: the resolver's once recursion is on
    /// (so its flush reaches the answers kept here), else one of the handler's own.
    cache: Arc<crate::cache::Cache>,
    /// Zones a resolver serves itself unless configured otherwise (`authority::builtin`).
    builtin: Option<Catalog>,
    /// UPDATE (RFC 2136) and zone transfers/NOTIFY; `None`: NOTIMP.
    updates: Option<Updates>,
    transfers: Option<Transfers>,
    failure_log: LogThrottle,
    query_log: Option<QueryLog>,
    /// Query rate limits and RRL (`limit`); off by default.
    limits: crate::ratelimit::Limits,
}

impl Handler {
    pub fn new(catalog: Catalog, config: HandlerConfig, metrics: Arc<Metrics>) -> Handler {
        Handler {
            catalog: Arc::new(cuts::CatalogCell::new(catalog)),
            config,
            metrics,
            recursion: None,
            cache: Arc::new(crate::cache::Cache::messages_only()),
            builtin: None,
            updates: None,
            transfers: None,
            failure_log: LogThrottle::new(FAILURE_LOG_INTERVAL),
            query_log: None,
            limits: Default::default(),
        }
    }

    /// Enables recursion for clients the ACL allows. Its walks start at this handler's
    /// delegations only if the resolver was built with them ([`Handler::local_cuts`]), as the
    /// assembly builds it.
    pub fn with_recursion(mut self, recursion: Recursion) -> Handler {
        self.cache = Arc::clone(recursion.resolver.cache());
        self.recursion = Some(recursion);
        self
    }

    /// Logs every answered query to `log` (`[log] queries`).
    pub(crate) fn with_query_log(mut self, log: QueryLog) -> Handler {
        self.query_log = Some(log);
        self
    }

    /// Answers the names of `builtin` (see `authority::builtin`) when no configured zone does,
    /// authoritatively and without asking upstream.
    pub(crate) fn with_builtin_zones(mut self, builtin: Catalog) -> Handler {
        self.builtin = Some(builtin);
        self
    }

    /// The hit path: the answer to a plain recursive query over UDP when the resolver gave the
    /// same question's answer before and it is still alive, written into `out`, without
    /// parsing the query beyond its question (and COOKIE) or spawning anything. `false`: take
    /// the full path (`handle_bytes`); `true`: send `out`, or nothing when a rate limit left it
    /// empty.
    pub fn answer_fast(&self, bytes: &[u8], src: SocketAddr, out: &mut Vec<u8>) -> bool {
        self.hit(bytes, (src, Transport::Udp), out)
    }

    /// The hit path of a stream (TCP, TLS: `transport`), which a connection tries inline
    /// before it spawns the full path (`handle_stream`) for a query: [`Handler::answer_fast`]
    /// under the rules the full path has for streams. Within 65,535 bytes, never truncated;
    /// no BADCOOKIE (a query whose server cookie is not ours goes to the full path, which
    /// answers it: the handshake proved the address); the query limit refuses and never drops,
    /// and RRL does not apply (`police`); over TLS a padded query gets a padded answer (RFC
    /// 8467), as the full path pads it. A query with an edns-tcp-keepalive option (or any but
    /// COOKIE and PADDING) and a zone transfer are the full path's. Counted and logged under
    /// `transport`.
    pub(crate) fn answer_stream_fast(
        &self,
        bytes: &[u8],
        src: SocketAddr,
        transport: Transport,
        out: &mut Vec<u8>,
    ) -> bool {
        transport != Transport::Udp && self.hit(bytes, (src, transport), out)
    }

    /// The hit path over `at`'s transport (see [`Handler::answer_fast`] and
    /// [`Handler::answer_stream_fast`]).
    #[inline(always)]
    fn hit(&self, bytes: &[u8], at: (SocketAddr, Transport), out: &mut Vec<u8>) -> bool {
        let (src, transport) = at;
        let Some(question) = crate::wire::parse(bytes) else {
            return false;
        };
        let stream = transport != Transport::Udp;
        // Over a stream AXFR and IXFR are the transfer service's (`edge::decode`).
        if stream && matches!(question.qtype(), AXFR | IXFR) {
            return false;
        }
        // With recursion, only what the full path would answer from the resolver: RD=1 from a
        // client the ACL allows.
        if self.recursion.is_some()
            && !(question.recursion_desired && self.recursion_for(src.ip()).is_some())
        {
            return false;
        }
        // Edge: the hit path's one reading, where its bytes arrived (the full path reads at
        // `edge::answer`). The log's latency takes a second one only when the log is on.
        let start = self.query_log.is_some().then(std::time::Instant::now);
        let now = Instant::now();
        let judged;
        let cookie = match question.cookie {
            None => None,
            Some(data) => {
                let Some(valid) = self.judge_fast(data, src) else {
                    return false;
                };
                judged = valid;
                Some(&judged)
            }
        };
        let cookie_option = cookie.map_or(&[][..], |c| c.reply.wire());
        // Padded as the full path pads (`padding`): an empty Padding option last, grown below.
        let mut padded_options = [0; 64];
        let pad = transport.is_encrypted() && padded(bytes, &question);
        let options = if pad {
            let len = cookie_option.len();
            padded_options[..len].copy_from_slice(cookie_option);
            padded_options[len..len + 2].copy_from_slice(&PADDING);
            &padded_options[..len + 4]
        } else {
            cookie_option
        };
        let payload = self.config.edns_payload;
        let limit = if stream {
            usize::from(u16::MAX)
        } else {
            crate::cache::message::udp_limit(&question, payload)
        };
        let messages = self.cache.messages();
        let Some(hit) = messages.answer_into(bytes, &question, limit, payload, options, now, out)
        else {
            return false;
        };
        if pad {
            padding::grow(out, options.len(), limit, padding::RESPONSE_BLOCK);
        }
        if hit.prefetch {
            self.prefetch_fast(&question, now);
        }
        if let Some(judged) = cookie {
            self.metrics.hit_path.count_cookie(judged.verdict.slot());
        }
        // Refused or dropped by a limit: not a hit (RRL's slip, sent truncated, is one).
        if self.limited_fast(bytes, &question, at, hit, cookie, options, now, out) {
            if pad {
                // A REFUSED, worded with `options`: padded as the answer was.
                padding::grow(out, options.len(), limit, padding::RESPONSE_BLOCK);
            }
            observe::limited(self, &question, at, out, start);
            return true;
        }
        observe::hit(self, &question, at, out, hit.local, start);
        true
    }

    /// The first hit in a kept answer's prefetch window: one refresh of its question by the
    /// resolver (`resolver::prefetch`), after which the answer is kept again from newer data.
    /// Out of line: the hit path pays one comparison for it.
    #[cold]
    #[inline(never)]
    fn prefetch_fast(&self, question: &crate::wire::Question<'_>, now: Instant) {
        use hickory_proto::serialize::binary::BinDecodable;
        let Some(recursion) = &self.recursion else {
            return;
        };
        let name = question.wire.get(..question.wire.len().saturating_sub(4));
        let Some(qname) = name.and_then(|n| hickory_proto::rr::Name::from_bytes(n).ok()) else {
            return;
        };
        let qtype = hickory_proto::rr::RecordType::from(question.qtype());
        let answer = crate::cache::Messages::<crate::cache::Tag>::key_of(question);
        recursion.resolver.prefetch(&qname, qtype, now, answer);
    }

    /// A COOKIE option's `data` on the hit path, judged: one SipHash, and the wall clock read
    /// only for it (out of line: a query without a cookie pays nothing for them). `None`: a
    /// server cookie we did not make, BADCOOKIE, which the full path words.
    #[inline(never)]
    fn judge_fast(&self, data: &[u8], src: SocketAddr) -> Option<cookie::Judged> {
        let received = cookie::Received::parse(data).ok()?;
        let judged = self
            .config
            .cookies
            .judge(&received, src.ip(), cookie::now_unix());
        (judged.verdict != cookie::Verdict::Invalid).then_some(judged)
    }

    /// Accepts RFC 2136 UPDATEs as `updates` allows. Without this, UPDATE is NOTIMP.
    pub fn with_updates(mut self, updates: Updates) -> Handler {
        self.updates = Some(updates);
        self
    }

    /// Serves zone transfers and takes NOTIFYs as `transfers` allows. Without this, AXFR and
    /// IXFR are NOTIMP and NOTIFY too.
    pub(crate) fn with_transfers(mut self, transfers: Transfers) -> Handler {
        self.transfers = Some(transfers);
        self
    }

    /// Where the zones' writer publishes: the catalog this handler answers from, and the
    /// answers it keeps that a new catalog makes stale. Taken before the handler is complete,
    /// so the writer (which updates and transfers need) can exist before it.
    pub(crate) fn served_zones(&self) -> ServedZones {
        ServedZones {
            catalog: Arc::clone(&self.catalog),
            cache: Arc::clone(&self.cache),
        }
    }

    /// The delegations of the zones this handler serves, as a resolver reads them: the zones
    /// in service at the moment of each walk, whatever the writer publishes later.
    pub(crate) fn local_cuts(&self) -> Arc<dyn crate::resolver::LocalCuts> {
        Arc::new(cuts::ServedCuts::new(Arc::clone(&self.catalog)))
    }

    /// The TSIG keys we know (the same `[[tsig_key]]` files feed updates and transfers).
    fn keyring(&self) -> Option<&crate::tsig::Keyring> {
        self.updates
            .as_ref()
            .map(Updates::keyring)
            .or_else(|| self.transfers.as_ref().map(Transfers::keyring))
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Removes cached data (`tern ctl flush…`) so the next query is fetched afresh; returns the
    /// resolver's cache entries removed. One call: the hit path's answers are a tier of that
    /// cache (the resolver also forgets its recent failures).
    pub(crate) fn flush(&self, what: crate::cache::admin::Flush<'_>) -> usize {
        match &self.recursion {
            Some(r) => r.resolver.flush(what),
            None => self.cache.flush(what),
        }
    }

    /// Each zone's clients' last transfers; `None` when transfers are off.
    pub(crate) fn transferred(&self) -> Option<&transferred::Transferred> {
        self.transfers.as_ref().map(Transfers::transferred)
    }

    /// The resolver, with recursion on (`tern ctl nta` changes its negative trust anchors).
    pub(crate) fn resolver(&self) -> Option<&Arc<Resolver>> {
        self.recursion.as_ref().map(|r| &r.resolver)
    }

    /// The catalog in force now; a reload swaps it without disturbing in-flight queries.
    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        self.catalog.current()
    }

    /// Replaces the served zones atomically.
    pub fn set_catalog(&self, catalog: Catalog) {
        self.served_zones().publish(catalog);
    }

    /// A request over a stream (TCP, or TCP inside TLS): a zone transfer is a stream of
    /// messages, anything else one. `idle_timeout`: the connection's, told to a client that
    /// asks with edns-tcp-keepalive (RFC 7828).
    pub(crate) async fn handle_stream(
        &self,
        bytes: &[u8],
        src: SocketAddr,
        transport: Transport,
        idle_timeout: std::time::Duration,
    ) -> Option<Reply> {
        self.answer(bytes, src, transport, Some(idle_timeout)).await
    }

    /// Bytes in, bytes out: parses, answers and encodes within the transport's size limit.
    /// `None` means send nothing. Counted and logged (`observe`). One message only: a zone
    /// transfer is answered through [`Handler::handle_stream`].
    pub async fn handle_bytes(
        &self,
        bytes: &[u8],
        src: SocketAddr,
        transport: Transport,
    ) -> Option<Vec<u8>> {
        match self.answer(bytes, src, transport, None).await? {
            Reply::One(bytes) => Some(bytes),
            Reply::Stream(_) => None,
        }
    }
}

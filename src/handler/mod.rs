//! Request in, response out; never fails. Decides where an answer comes from — local
//! authority, then cache and resolver — and maps every failure to an RCODE in one place.

mod chaos;
mod cuts;
mod ede_option;
mod fast;
mod limit;
pub mod notify;
mod observe;
mod refusal;
pub mod request;
pub mod response;
mod signed;
pub mod transfer;
pub mod update;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hickory_proto::op::{Header, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use tokio::time::Instant;
use tracing::{Instrument, debug, debug_span, warn};

pub use chaos::Identity;
pub use notify::NotifyReceiver;
pub use request::{EdnsInfo, Malformed, Request, Transport};
pub use response::{Response, Reuse};
pub use transfer::{Reply, Transfers};
pub use update::Updates;

pub use crate::acl::{Acl, Cidr};
use ede_option::add_ede;

use crate::authority::{Catalog, CatalogError, LocalAnswer, ZoneSource, load_catalog};
use crate::ede;
use crate::limits::EDNS_UDP_PAYLOAD;
use crate::metrics::{LogThrottle, Metrics};
use crate::querylog::QueryLog;
use crate::resolver::{Resolution, Resolver};
use refusal::{Refusal, Route};
use response::add_resolution;

/// Handler settings that are fixed for its lifetime.
#[derive(Debug, Clone)]
pub struct HandlerConfig {
    /// Our EDNS UDP payload size, advertised and used as the cap on UDP responses.
    pub edns_payload: u16,
    /// What `CH TXT id.server` and `version.bind` say (RFC 4892).
    pub identity: Identity,
}

impl Default for HandlerConfig {
    fn default() -> Self {
        HandlerConfig {
            edns_payload: EDNS_UDP_PAYLOAD.default,
            identity: Identity::default(),
        }
    }
}

/// Recursion and who may use it.
pub struct Recursion {
    pub resolver: Arc<Resolver>,
    pub acl: Acl,
    /// Clients whose non-recursive (RD=0) questions are answered from the cache, as Unbound's
    /// `access-control: ... allow_snoop`. Nobody by default: answering RD=0 from the cache
    /// tells one client what others asked.
    pub snoop: Acl,
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
    /// Answers given before, in wire form, for the hit path.
    fast: Option<fast::FastAnswers>,
    /// Zones a resolver serves itself unless configured otherwise (`authority::builtin`).
    builtin: Option<Catalog>,
    /// Set once, after the zones' writer exists (it is built around this handler's catalog).
    updates: OnceLock<Updates>,
    transfers: OnceLock<Transfers>,
    failure_log: LogThrottle,
    query_log: Option<QueryLog>,
    /// Query rate limits and RRL (`limit`); off by default.
    limits: crate::ratelimit::Limits,
}

/// An UPDATE request (not a response to one), judged by its header alone.
fn is_update(bytes: &[u8]) -> bool {
    Header::read(&mut BinDecoder::new(bytes)).is_ok_and(|h| {
        h.metadata.op_code == OpCode::Update && h.metadata.message_type == MessageType::Query
    })
}

impl Handler {
    pub fn new(catalog: Catalog, config: HandlerConfig, metrics: Arc<Metrics>) -> Handler {
        Handler {
            catalog: Arc::new(cuts::CatalogCell::new(catalog)),
            config,
            metrics,
            recursion: None,
            fast: Some(fast::FastAnswers::default()),
            builtin: None,
            updates: OnceLock::new(),
            transfers: OnceLock::new(),
            failure_log: LogThrottle::new(FAILURE_LOG_INTERVAL),
            query_log: None,
            limits: Default::default(),
        }
    }

    /// Enables recursion for clients the ACL allows.
    pub fn with_recursion(mut self, recursion: Recursion) -> Handler {
        let cuts = cuts::ServedCuts::new(Arc::clone(&self.catalog));
        if !recursion.resolver.set_local_cuts(Arc::new(cuts)) {
            warn!("resolver already serves another handler's delegations; this one's are not used");
        }
        self.recursion = Some(recursion);
        self
    }

    /// Logs every answered query to `log` (`[log] queries`).
    pub fn with_query_log(mut self, log: QueryLog) -> Handler {
        self.query_log = Some(log);
        self
    }

    /// Answers the names of `builtin` (see `authority::builtin`) when no configured zone does,
    /// authoritatively and without asking upstream.
    pub fn with_builtin_zones(mut self, builtin: Catalog) -> Handler {
        self.builtin = Some(builtin);
        self
    }

    /// The hit path: the answer to a plain recursive query over UDP when the resolver gave the
    /// same question's answer before and it is still alive, written into `out`, without
    /// parsing the query beyond its question or spawning anything. `false`: take the full path
    /// (`handle_bytes`); `true`: send `out`, or nothing when a rate limit left it empty.
    pub fn answer_fast(&self, bytes: &[u8], src: SocketAddr, out: &mut Vec<u8>) -> bool {
        let Some(answers) = self.fast.as_ref() else {
            return false;
        };
        let Some(question) = fast::parse(bytes) else {
            return false;
        };
        // With recursion, only what the full path would answer from the resolver: RD=1 from a
        // client the ACL allows.
        if let Some(recursion) = &self.recursion
            && !(question.recursion_desired && recursion.acl.allows(src.ip()))
        {
            return false;
        }
        // The clock is read for the log's latency only: off, the hit path reads it once.
        let start = self.query_log.is_some().then(std::time::Instant::now);
        let now = Instant::now();
        let Some(hit) = answers.answer_into(bytes, &question, self.config.edns_payload, now, out)
        else {
            return false;
        };
        // Refused or dropped by a limit: not a hit (RRL's slip, sent truncated, is one).
        if self.limited_fast(bytes, &question, src, hit, now, out) {
            observe::limited(self, &question, src, out, start);
            return true;
        }
        observe::hit(self, &question, src, out, hit.local, start);
        true
    }

    /// Accepts RFC 2136 UPDATEs as `updates` allows. Without this, UPDATE is NOTIMP. Once only:
    /// a second call gets its argument back.
    pub fn enable_updates(&self, updates: Updates) -> Result<(), Updates> {
        self.updates.set(updates)
    }

    /// Serves zone transfers and takes NOTIFYs as `transfers` allows. Without this, AXFR and
    /// IXFR are NOTIMP and NOTIFY too. Once only.
    pub fn enable_transfers(&self, transfers: Transfers) -> Result<(), Transfers> {
        self.transfers.set(transfers)
    }

    /// The TSIG keys we know (the same `[[tsig_key]]` files feed updates and transfers).
    fn keyring(&self) -> Option<&crate::tsig::Keyring> {
        self.updates
            .get()
            .map(Updates::keyring)
            .or_else(|| self.transfers.get().map(Transfers::keyring))
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Removes cached data (`tern ctl flush…`) so the next query is fetched afresh; returns the
    /// resolver entries removed. The hit path forgets every answer: one may hold the name
    /// inside a CNAME chain, and it refills from the cache at one full-path answer each.
    pub fn flush(&self, what: crate::cache::admin::Flush<'_>) -> usize {
        let removed = self
            .recursion
            .as_ref()
            .map_or(0, |r| r.resolver.flush(what));
        if let Some(fast) = &self.fast {
            fast.clear();
        }
        removed
    }

    /// The catalog in force now; a reload swaps it without disturbing in-flight queries.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.current()
    }

    /// Reloads every zone from its file. All or nothing: on any error the zones in service stay
    /// exactly as they were, and the error names each `file:line`.
    pub fn reload(&self, sources: &[ZoneSource]) -> Result<(), CatalogError> {
        let catalog = load_catalog(sources)?;
        self.set_catalog(catalog);
        Ok(())
    }

    /// Replaces the served zones atomically.
    pub fn set_catalog(&self, catalog: Catalog) {
        let new = Arc::new(catalog);
        self.catalog.replace(new);
        // A name the new zones answer must not be answered from what the resolver said.
        if let Some(fast) = &self.fast {
            fast.clear();
        }
    }

    /// A request over TCP: a zone transfer is a stream of messages, anything else one.
    pub async fn handle_tcp(&self, bytes: &[u8], src: SocketAddr) -> Option<Reply> {
        if let Some(transfers) = self.transfers.get()
            && transfer::is_transfer(bytes)
        {
            Metrics::inc(&self.metrics.queries);
            self.metrics.count_query(true, observe::wire_qtype(bytes));
            let span = debug_span!("transfer", client = %src);
            let _entered = span.enter();
            let catalog = self.catalog();
            return transfer::handle(
                transfers,
                &catalog,
                &self.metrics,
                bytes,
                src,
                crate::tsig::now_unix(),
            );
        }
        self.handle_bytes(bytes, src, Transport::Tcp)
            .await
            .map(Reply::One)
    }

    /// Bytes in, bytes out: parses, answers and encodes within the transport's size limit.
    /// `None` means send nothing. Counted and logged (`observe`).
    pub async fn handle_bytes(
        &self,
        bytes: &[u8],
        src: SocketAddr,
        transport: Transport,
    ) -> Option<Vec<u8>> {
        let (start, tcp) = (std::time::Instant::now(), transport == Transport::Tcp);
        observe::arrived(&self.metrics, tcp, bytes);
        let mut seen = None;
        let reply = self.answer_bytes(bytes, src, transport, &mut seen).await;
        observe::answered(self, tcp, src, start, reply.as_deref(), seen);
        reply
    }

    async fn answer_bytes(
        &self,
        bytes: &[u8],
        src: SocketAddr,
        transport: Transport,
        seen: &mut Option<observe::Seen>,
    ) -> Option<Vec<u8>> {
        if let Some(transfers) = self.transfers.get()
            && Header::read(&mut BinDecoder::new(bytes)).is_ok_and(|h| notify::is_notify(&h))
        {
            let keyring = self.keyring().unwrap_or(transfers.keyring());
            return notify::handle(
                transfers.receiver(),
                keyring,
                &self.metrics,
                bytes,
                src,
                crate::tsig::now_unix(),
                self.config.edns_payload,
            );
        }
        if let Some(updates) = self.updates.get()
            && is_update(bytes)
        {
            let span = debug_span!("update", client = %src);
            let catalog = self.catalog();
            return update::handle(
                updates,
                &catalog,
                &self.metrics,
                bytes,
                src,
                self.config.edns_payload,
            )
            .instrument(span)
            .await;
        }
        match Request::parse(bytes, src, transport) {
            Ok(req) => {
                if let Some(limited) = self.limit_query(&req) {
                    return limited;
                }
                // At debug: at the default level a span would format its fields per query.
                let span = debug_span!("query", id = req.id, qname = %req.query.name(), qtype = %req.query.query_type(), client = %src);
                if req.signed {
                    return self.handle_signed(bytes, &req).instrument(span).await;
                }
                let limit = response::size_limit(&req, self.config.edns_payload);
                // Before the zones are read: a reload while this is answered forbids keeping it.
                let generation = self.fast.as_ref().map_or(0, fast::FastAnswers::generation);
                let mut res = self.handle(&req).instrument(span).await;
                *seen = self
                    .query_log
                    .as_ref()
                    .map(|_| observe::Seen::of(&req, &res));
                let rrl = self.rrl_account(&req, &res);
                if res.reuse != Reuse::No
                    && let Some(fast) = &self.fast
                {
                    let local = res.reuse == Reuse::Local;
                    fast.keep(&mut res.message, Instant::now(), local, rrl, generation);
                }
                let message = self.limit_response(&req, rrl, res.message)?;
                Some(response::encode(message, limit, res.optional_authority))
            }
            Err(bad) => {
                match &bad {
                    Malformed::Drop => Metrics::inc(&self.metrics.dropped),
                    Malformed::Reply { rcode, .. } => {
                        if *rcode == ResponseCode::FormErr {
                            Metrics::inc(&self.metrics.formerr);
                        }
                    }
                }
                debug!(client = %src, ?bad, "malformed request");
                response::malformed_reply(&bad, self.config.edns_payload)
            }
        }
    }

    /// Answers one request. Always produces a response.
    pub async fn handle(&self, req: &Request) -> Response {
        let payload = self.config.edns_payload;
        if let Some(info) = req.edns
            && info.version > 0
        {
            // RFC 6891 §6.1.3: we speak version 0 only.
            return response::with_rcode(req, payload, ResponseCode::BADVERS).into();
        }
        let recursion = self
            .recursion
            .as_ref()
            .filter(|r| r.acl.allows(req.src.ip()));
        let served = self.catalog();
        match self.route(req, &served, recursion) {
            Route::Chaos => chaos::answer(req, &self.config.identity, payload)
                .unwrap_or_else(|| self.refuse(req, Refusal::Chaos, false)),
            Route::Refuse(why) => self.refuse(req, why, recursion.is_some()),
            Route::Local(catalog, local) => self.local_answer(req, catalog, local, recursion).await,
            Route::Recurse(rec) => {
                match rec
                    .resolver
                    .resolve(req.query.name(), req.query.query_type())
                    .await
                {
                    Ok(res) => Response {
                        upstream_queries: Some(res.upstream_queries),
                        reuse: if res.stale {
                            Reuse::No
                        } else {
                            Reuse::Resolved
                        },
                        message: self.recursive_answer(req, res),
                        optional_authority: false,
                    },
                    Err(e) => self.servfail(req, &e).into(),
                }
            }
            Route::Snoop(rec) => self
                .non_recursive(req, rec, recursion.is_some())
                .await
                .into(),
        }
    }

    /// Who answers `req`: the one place that decides, refusals included. `recursion` is set
    /// when the client may recurse.
    fn route<'a>(
        &'a self,
        req: &Request,
        served: &'a Catalog,
        recursion: Option<&'a Recursion>,
    ) -> Route<'a> {
        if req.query.query_class() == hickory_proto::rr::DNSClass::CH {
            return Route::Chaos;
        }
        if !req.is_class_in() {
            return Route::Refuse(Refusal::Class);
        }
        let (qname, qtype) = (req.query.name(), req.query.query_type());
        // The configured zones first; then the names every resolver answers itself
        // (`localhost.`, `invalid.`, private reverse zones), which never go upstream.
        if let Some(answer) = served.answer(qname, qtype) {
            return Route::Local(served, answer);
        }
        if let Some(builtin) = &self.builtin
            && let Some(answer) = builtin.answer(qname, qtype)
        {
            return Route::Local(builtin, answer);
        }
        match (recursion, &self.recursion) {
            (Some(rec), _) if req.recursion_desired => Route::Recurse(rec),
            // RD=0 for a name we do not serve: from the cache alone, for clients allowed to
            // snoop.
            (_, Some(rec)) if !req.recursion_desired && rec.snoop.allows(req.src.ip()) => {
                Route::Snoop(rec)
            }
            (None, Some(_)) => Route::Refuse(Refusal::RecursionNotAllowed),
            // Not ours, and no recursion for this request (none configured, or RD=0), as NSD
            // and Unbound answer names they will not serve.
            _ => Route::Refuse(Refusal::NotServed),
        }
    }

    /// An answer from a local zone; for RD=1 clients that may recurse, an alias out of our
    /// zones or a cut below them is finished by the resolver (starting at the child's servers
    /// for a cut: they may be reachable only through us).
    async fn local_answer(
        &self,
        req: &Request,
        catalog: &Catalog,
        mut local: LocalAnswer,
        recursion: Option<&Recursion>,
    ) -> Response {
        Metrics::inc(&self.metrics.authoritative_answers);
        // Kept for the hit path only where every client gets the same bytes: no recursion
        // (RA and continuations differ by client), no reordering of these RRsets.
        let reuse = if self.recursion.is_none()
            && local.answers.iter().all(|r| {
                catalog
                    .find(&r.name)
                    .is_none_or(|z| z.balance().for_name(&r.name).is_none())
            }) {
            Reuse::Local
        } else {
            Reuse::No
        };
        catalog.balance(&mut local, req.src.ip());
        let mut m = response::reply_to(req, self.config.edns_payload);
        m.metadata.recursion_available = recursion.is_some();
        m.metadata.authoritative = local.authoritative;
        m.metadata.response_code = local.rcode;
        m.answers = local.answers;
        m.authorities = local.authorities;
        m.additionals = local.additionals;
        let mut optional_authority = local.optional_authority;
        let continue_at = local.unresolved_target.or(local.delegated);
        let mut upstream_queries = None;
        if let (Some(target), Some(rec)) = (continue_at, recursion)
            && req.recursion_desired
        {
            match rec.resolver.resolve(&target, req.query.query_type()).await {
                Ok(res) => {
                    upstream_queries = Some(res.upstream_queries);
                    add_resolution(&mut m, res);
                    optional_authority = false;
                }
                Err(e) => return self.servfail(req, &e).into(),
            }
        }
        debug!(rcode = %m.metadata.response_code, answers = m.answers.len(), "local answer");
        Response {
            message: m,
            optional_authority,
            reuse,
            upstream_queries,
        }
    }

    fn recursive_answer(&self, req: &Request, res: Resolution) -> Message {
        let mut m = response::reply_to(req, self.config.edns_payload);
        m.metadata.recursion_available = true;
        debug!(rcode = %res.rcode, answers = res.answers.len(), upstream = res.upstream_queries, stale = res.stale, "recursive answer");
        add_resolution(&mut m, res);
        m
    }

    /// A non-recursive question answered without asking anyone (RFC 1034 §4.3.1): the cached
    /// answer, else a referral to the closest cached delegation, as Unbound answers clients
    /// allowed to snoop.
    async fn non_recursive(&self, req: &Request, rec: &Recursion, ra: bool) -> Message {
        let payload = self.config.edns_payload;
        let qname = req.query.name();
        let mut m = response::reply_to(req, payload);
        m.metadata.recursion_available = ra;
        if let Some(res) = rec
            .resolver
            .answer_from_cache(qname, req.query.query_type())
            .await
        {
            Metrics::inc(&self.metrics.cache_hits);
            debug!(rcode = %res.rcode, answers = res.answers.len(), "non-recursive answer from the cache");
            add_resolution(&mut m, res);
            return m;
        }
        if let Some((ns, glue)) = rec.resolver.cached_referral(qname) {
            debug!(cut = %ns[0].name, "non-recursive referral from the cache");
            m.authorities = ns;
            m.additionals = glue;
            return m;
        }
        // Not even the root's servers are cached yet.
        Metrics::inc(&self.metrics.servfails);
        self.metrics.servfail_reasons.inc(Some(ede::NOT_READY));
        let mut m = response::with_rcode(req, payload, ResponseCode::ServFail);
        m.metadata.recursion_available = ra;
        add_ede(
            &mut m,
            ede::NOT_READY,
            "nothing cached yet for a non-recursive query",
        );
        m
    }

    /// The one place a resolution failure becomes a response.
    fn servfail(&self, req: &Request, err: &crate::resolver::ResolveError) -> Message {
        Metrics::inc(&self.metrics.servfails);
        // Per query at debug; at the default level one line per interval, so a flood of
        // failures does not become a flood of log lines.
        debug!(error = %err, "resolution failed");
        if let Some(held) = self.failure_log.admit(Instant::now()) {
            warn!(error = %err, qname = %req.query.name(), qtype = %req.query.query_type(), more_since_last = held, "resolution failed (one line per 10 s; the servfails counter has them all)");
        }
        let mut m = response::with_rcode(req, self.config.edns_payload, err.rcode());
        m.metadata.recursion_available = true;
        let (code, text) = err.ede();
        self.metrics.servfail_reasons.inc(Some(code));
        add_ede(&mut m, code, &text);
        m
    }
}

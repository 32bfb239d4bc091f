//! The recursive resolver: answers a question by walking root → TLD → authoritative servers,
//! through the cache. The only outbound I/O goes through [`Upstream`]. Identical concurrent
//! questions share one resolution; failures are cached briefly (RFC 9520); when every
//! upstream fails, expired data may be served (RFC 8767).
//!
//! Inside: `iterate` walks one link of a chain, asking each zone's servers through `exchange`
//! (retransmission, server choice by `infra`); `classify` is the only reader of upstream
//! replies and `store` the only writer of what they teach; `delegation` and `hints` find the
//! servers to start at. The one alias-chasing loop is [`Resolver::chase`].

mod admission;
pub(crate) mod answer_ns;
pub(crate) mod budget;
mod cached;
pub(crate) mod classify;
pub(crate) mod delegation;
pub(crate) mod exchange;
mod forward;
pub(crate) mod hints;
pub(crate) mod infra;
pub(crate) mod iterate;
mod link;
mod loopguard;
mod prefetch;
pub(crate) mod proof;
mod reading;
mod shared;
pub(crate) mod store;
pub(crate) mod trace;
pub(crate) mod upstream;
pub(crate) mod validate;
pub(crate) mod window;

#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
pub(crate) mod tests;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{LowerName, Name, Record, RecordType};
use tokio::sync::OnceCell;
use tokio::time::Instant;
use tracing::Instrument;

pub(crate) use admission::Shed;
pub(crate) use budget::{Budget, Limits, ResolveError};
pub(crate) use delegation::{LocalCut, LocalCuts, ServerSet};
pub use forward::Forward;
pub(crate) use link::Link;
use link::{Answers, finish};
use reading::{Missed, Reading, Seen};
pub(crate) use trace::{TraceSink, TraceStep};
pub(crate) use upstream::{NetUpstream, Upstream};

use crate::cache::{Cache, CachePolicy, Data, Key, Trust};
use crate::limits::{FAILURE_CACHE_ENTRIES, FAILURE_TTL, STALE_ANSWER_TIMEOUT_MS};
use crate::metrics::Metrics;

/// One link of an answer chain.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    Answer(Vec<Record>),
    Cname(Vec<Record>, Name),
    NoData(Option<Record>),
    NxDomain(Option<Record>),
    /// RFC 6672 §2.2: the DNAME whose substitution makes the name too long; the chain ends
    /// in YXDOMAIN. Never read from the RRset cache (the message tier keeps the answer).
    YxDomain(Vec<Record>),
}

/// A finished answer: the chain of records and, for negative answers, the SOA.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    pub rcode: ResponseCode,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    /// The RRSIGs over the answer's RRsets, link by link: for clients that set DO (RFC 4035
    /// §3.2.1), never for the others.
    pub(crate) answer_sigs: Vec<Record>,
    /// A negative answer's denial proof (NSEC/NSEC3 with RRSIGs, the SOA's RRSIGs), or a
    /// wildcard answer's: the authority section for DO clients.
    pub(crate) proof: Vec<Record>,
    /// The weakest verdict over the links (`Unchecked` when validation is off).
    pub(crate) security: Trust,
    /// Served from expired data because every upstream failed (RFC 8767).
    pub stale: bool,
    /// Upstream queries this resolution sent (0 for a cache hit).
    pub upstream_queries: usize,
    /// When its TTLs were current: the request's time for a cache hit, the time the last
    /// reply was read for a walk.
    pub at: Instant,
}

/// Resolver settings.
#[derive(Clone)]
pub struct ResolverConfig {
    pub limits: Limits,
    pub qname_minimisation: bool,
    pub failure_ttl: u32,
    /// Send upstream queries to this port instead of 53 (lab setups without root).
    pub upstream_port: Option<u16>,
    /// RFC 8767 §5 client response timer: how long a client waits before expired data is
    /// served while the walk goes on.
    pub stale_answer_timeout: Duration,
    pub trace: Option<TraceSink>,
    /// Zones asked of fixed servers instead of through the hierarchy (Unbound's stub-zone).
    pub stubs: Vec<Stub>,
    /// Zones asked of recursive resolvers with RD=1 (Unbound's forward-zone).
    pub forwards: Vec<Forward>,
    /// Walks in flight from which a prefetch is dropped (`PREFETCH_BUSY_WALKS`).
    pub prefetch_busy_walks: usize,
    /// Client questions walked at once (0: no limit), and the jostle timeout: [`admission`].
    pub max_client_queries: usize,
    pub jostle_timeout: Duration,
}

/// A stub zone: names in it are asked of these servers, as if delegated to them (RD=0),
/// whatever the hierarchy says; a discovery zone reachable only here, say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stub {
    pub zone: Name,
    pub servers: Vec<std::net::SocketAddr>,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        ResolverConfig {
            limits: Limits::default(),
            qname_minimisation: true,
            failure_ttl: FAILURE_TTL.default,
            upstream_port: None,
            stale_answer_timeout: Duration::from_millis(STALE_ANSWER_TIMEOUT_MS.default),
            trace: None,
            stubs: Vec::new(),
            forwards: Vec::new(),
            prefetch_busy_walks: crate::limits::PREFETCH_BUSY_WALKS.default,
            max_client_queries: crate::limits::MAX_CLIENT_QUERIES.default,
            jostle_timeout: Duration::from_millis(crate::limits::JOSTLE_TIMEOUT_MS.default),
        }
    }
}

type Shared = Arc<OnceCell<Result<Resolution, ResolveError>>>;

/// The iterative resolver and its caches.
pub struct Resolver {
    upstream: Arc<dyn Upstream>,
    cache: Arc<Cache>,
    failures: Cache,
    infra: infra::Infra,
    /// How many queries each server may have outstanding.
    windows: window::Windows,
    hints: ServerSet,
    limits: Limits,
    qname_minimisation: bool,
    failure_ttl: u32,
    upstream_port: Option<u16>,
    stale_answer_timeout: Duration,
    trace: Option<TraceSink>,
    stubs: Vec<Stub>,
    forwards: Vec<Forward>,
    /// The served zones' delegations (see [`Resolver::with_local_cuts`]); none: walks start
    /// from the cache and the root alone.
    local_cuts: Option<Arc<dyn LocalCuts>>,
    metrics: Arc<Metrics>,
    /// Our own listeners: never asked (forwarding loops).
    own: loopguard::OwnListeners,
    /// DNSSEC validation (RFC 4033–4035), when a trust anchor is configured.
    validator: Option<validate::Validator>,
    /// Walks in flight, by question, and when each started.
    inflight: Mutex<HashMap<Key, shared::InFlight, lru::DefaultHasher>>,
    prefetch_busy_walks: usize,
    admission: admission::Admission,
}

impl Resolver {
    pub fn new(
        upstream: Arc<dyn Upstream>,
        hints: ServerSet,
        cache: Arc<Cache>,
        config: ResolverConfig,
        metrics: Arc<Metrics>,
    ) -> Resolver {
        let admission = admission::Admission::new(&config, Arc::clone(&metrics));
        let prefetch_percent = cache.policy().prefetch_percent;
        Resolver {
            upstream,
            cache,
            failures: Cache::rrsets_only(CachePolicy {
                max_entries: FAILURE_CACHE_ENTRIES,
                prefetch_percent,
                ..CachePolicy::default()
            }),
            infra: infra::Infra::default(),
            windows: window::Windows::default(),
            hints,
            limits: config.limits,
            qname_minimisation: config.qname_minimisation,
            failure_ttl: config.failure_ttl,
            upstream_port: config.upstream_port,
            stale_answer_timeout: config.stale_answer_timeout,
            trace: config.trace,
            stubs: config.stubs,
            forwards: config.forwards,
            local_cuts: None,
            own: loopguard::OwnListeners::default(),
            validator: None,
            inflight: Mutex::new(HashMap::default()),
            prefetch_busy_walks: config.prefetch_busy_walks,
            admission,
            metrics,
        }
    }

    /// Lets walks start at the delegations of the zones served beside this resolver (see
    /// [`LocalCuts`]): given before the resolver is shared, by the assembly that builds the
    /// handler serving those zones (`nameserver`).
    pub(crate) fn with_local_cuts(mut self, cuts: Arc<dyn LocalCuts>) -> Resolver {
        self.local_cuts = Some(cuts);
        self
    }

    /// Validates every answer from the trust anchors of `validator` (see [`validate`]).
    pub(crate) fn with_validator(mut self, validator: validate::Validator) -> Resolver {
        self.validator = Some(validator);
        self
    }

    /// Tells the resolver where this process listens, so that it never asks itself: a server
    /// on one of `listen` (a wildcard meaning every local address on its port) is skipped like
    /// a lame one, and a zone with no other server fails with a forwarding-loop error.
    pub(crate) fn with_listeners(mut self, listen: &[std::net::SocketAddr]) -> Resolver {
        self.own = loopguard::OwnListeners::new(listen);
        self
    }

    /// Removes cached data and recent failures (`tern ctl flush…`); returns the cache entries
    /// removed (the failures are not cache entries the operator sees in `dump-cache`).
    pub(crate) fn flush(&self, what: crate::cache::admin::Flush<'_>) -> usize {
        self.forget_proofs(what);
        self.failures.flush(what);
        self.cache.flush(what)
    }

    pub fn cache(&self) -> &Arc<Cache> {
        &self.cache
    }

    fn trace(&self, step: TraceStep) {
        tracing::debug!(server = %step.server, qname = %step.qname, qtype = %step.qtype, outcome = %step.outcome, "upstream");
        if let Some(sink) = &self.trace {
            sink(&step);
        }
    }

    /// Resolves (`qname`, `qtype`). A fully cached answer returns at once (read in its
    /// prefetch window, it starts a refresh behind it: [`Resolver::prefetch`]); otherwise a
    /// walk, shared by identical questions in flight. If it has not finished within the
    /// stale-answer timeout and expired data is at hand, that data is returned (RFC 8767 §5)
    /// while the walk goes on in a task of its own to refresh the cache; with a zero timeout,
    /// at once ([`Resolver::serve_expired`]).
    ///
    /// `now` is when the request arrived: the cache is read as of then, the time budget and
    /// the client timer run from then, and a walk's time moves on only by what its exchanges
    /// read (a query sent, a timer fired, a reply read; see [`Budget`]), so what a reply
    /// teaches is cached as of when it was read.
    pub async fn resolve(
        self: &Arc<Self>,
        qname: &Name,
        qtype: RecordType,
        now: Instant,
    ) -> Result<Resolution, ResolveError> {
        let mut seen = Seen::default();
        let fresh = Reading::CACHED;
        if let Ok(Some(hit)) = self
            .read_chain(qname, qtype, fresh, &mut None, now, &mut seen)
            .await
        {
            Metrics::inc(&self.metrics.cache_hits);
            if let Some(link) = seen.due {
                self.prefetch(&link, qtype, now, None);
            }
            return Ok(hit);
        }
        if let Some(synthesised) = self.aggressive_answer(qname, qtype, now) {
            Metrics::inc(&self.metrics.cache_hits);
            Metrics::inc(&self.metrics.aggressive_answers);
            return Ok(synthesised);
        }
        let key = Key::new(qname, qtype);
        if let Some(c) = self.failures.get(&key, now)
            && let Data::Failure { reason } = c.data
        {
            if c.signed.is_some_and(|s| s.prefetch) {
                self.prefetch_failure(qname, qtype, now);
            }
            return self
                .stale_or(qname, qtype, ResolveError::CachedFailure(reason), now)
                .await;
        }
        if self.stale_answer_timeout.is_zero()
            && let Some(answer) = self.serve_expired(qname, qtype, now).await
        {
            return answer;
        }
        // The full path: a slot, or no answer at all (see `admission`).
        let mut ticket = self.admission.admit(&key, now)?;
        // A client joining a walk that has already run a while waits only for the rest of the
        // client timers: every client asking during an outage gets the stale answer (or its
        // SERVFAIL) once the timer has run out for the first.
        let elapsed = self.walk_started(&key).map_or(Duration::ZERO, |started| {
            now.saturating_duration_since(started)
        });
        let stale_at = now + self.stale_answer_timeout.saturating_sub(elapsed);
        let give_up_at = now + self.limits.client_timeout.saturating_sub(elapsed);
        // The walk runs in this task; only when a client timer answers the client does it move
        // to a task of its own, to finish for the cache.
        let missed = if seen.first_missed {
            Missed::First
        } else {
            Missed::Nothing
        };
        let this = Arc::clone(self);
        let owned = qname.clone();
        let mut walk: Pin<Box<dyn Future<Output = Result<Resolution, ResolveError>> + Send>> =
            Box::pin(
                async move { this.resolve_shared(&owned, qtype, key, now, missed).await }
                    .instrument(tracing::Span::current()),
            );
        if self.cache.policy().serve_stale_secs > 0 && stale_at < give_up_at {
            tokio::select! {
                r = &mut walk => return self.finished(qname, qtype, r, now).await,
                shed = ticket.jostled() => return Err(self.abandon(walk, shed)),
                _ = tokio::time::sleep_until(stale_at) => {
                    if let Some(stale) = self.stale_chain(qname, qtype, stale_at).await {
                        tokio::spawn(walk);
                        return Ok(stale);
                    }
                }
            }
        }
        tokio::select! {
            r = &mut walk => self.finished(qname, qtype, r, now).await,
            shed = ticket.jostled() => Err(self.abandon(walk, shed)),
            _ = tokio::time::sleep_until(give_up_at) => {
                tokio::spawn(walk);
                Err(ResolveError::ClientTimeout(self.limits.client_timeout))
            }
        }
    }

    /// The one alias-chasing loop: follows the chain from `qname` one link at a time, each
    /// from the cache or, given a `budget`, by walking the hierarchy. Without a budget it
    /// answers from the cache alone, as of `now`: `Ok(None)` when a link is missing. A walk
    /// keeps its own time on the budget.
    pub(crate) async fn chase(
        &self,
        qname: &Name,
        qtype: RecordType,
        mut budget: Option<&mut Budget>,
        now: Instant,
    ) -> Result<Option<Resolution>, ResolveError> {
        self.chain(qname, qtype, false, &mut budget, now, true)
            .await
    }

    /// [`Resolver::read_chain`] as most callers read: `stale` takes expired links (RFC 8767),
    /// `validate` checks each link.
    async fn chain(
        &self,
        qname: &Name,
        qtype: RecordType,
        stale: bool,
        budget: &mut Option<&mut Budget>,
        now: Instant,
        validate: bool,
    ) -> Result<Option<Resolution>, ResolveError> {
        let reading = Reading {
            stale,
            missed: Missed::Nothing,
            validate,
        };
        self.read_chain(qname, qtype, reading, budget, now, &mut Seen::default())
            .await
    }

    /// The loop of [`Resolver::chase`], reading the cache as `reading` says. Links are read
    /// from the cache as of `now`, or with a budget as of the walk's time. With
    /// `reading.validate` (and a validator), each link not yet validated is, before it is
    /// used: from the cache alone that is a miss, as the keys may have to be fetched. `seen`:
    /// what a read from the cache alone met besides its answer.
    async fn read_chain(
        &self,
        qname: &Name,
        qtype: RecordType,
        reading: Reading,
        budget: &mut Option<&mut Budget>,
        now: Instant,
        seen: &mut Seen,
    ) -> Result<Option<Resolution>, ResolveError> {
        let Reading {
            stale,
            missed,
            validate,
        } = reading;
        let max = self.limits.max_cname_chain;
        let validator = self.validator.as_ref().filter(|_| validate);
        let mut answers = Answers::default();
        let mut name = qname.clone();
        // The names met so far, to see a loop; filled only once the chain has a CNAME.
        let mut visited: Vec<LowerName> = Vec::new();
        for index in 0..=max {
            let read_at = budget.as_deref().map_or(now, |b| b.now);
            let cached = if missed == Missed::Every || (missed == Missed::First && index == 0) {
                None
            } else {
                self.cached_step(&name, qtype, read_at, stale)
            };
            // A walked link comes with the server that answered it (see `retry_bogus`).
            let (mut link, walked) = match (cached, budget.as_deref_mut()) {
                (Some(mut link), _) => {
                    match &self.validator {
                        // No verdict is made here, so one in the cache came from a file a
                        // validating run wrote (`[cache] persist`): it is not this resolver's
                        // to pass on (AD, or SERVFAIL for bogus) on data it did not check.
                        None => link.signed.trust = Trust::Unchecked,
                        // RFC 7646: at or below a negative trust anchor the verdict is the
                        // anchor's, made here on every read and never kept (`validate_link`):
                        // a stored one is from before the anchor (a file written earlier, a
                        // walk that validated as `nta add` flushed), and none outlives it.
                        Some(v) => {
                            if let Some(trust) = v.negative_verdict(&name) {
                                link.signed.trust = trust;
                            }
                        }
                    }
                    if link.signed.prefetch && seen.due.is_none() {
                        seen.due = Some(name.clone());
                    }
                    (link, None)
                }
                (None, Some(budget)) => {
                    let link = self.forward_or_iterate(&name, qtype, budget).await?;
                    (link, Some(budget.answered_by))
                }
                (None, None) => {
                    seen.first_missed = index == 0;
                    return Ok(None);
                }
            };
            if let Some(validator) = validator
                && link.signed.trust == Trust::Unchecked
            {
                let Some(budget) = budget.as_deref_mut() else {
                    // Only a walk validates: as the walk did before, it asks again for a
                    // first link its answer came without (say, a NODATA proof kept from a
                    // referral, which has no SOA).
                    seen.first_missed = index == 0;
                    return Ok(None);
                };
                link.signed.trust = self
                    .validate_link(validator, &name, qtype, &link, budget)
                    .await;
                if let Some(from) = walked {
                    link = self
                        .retry_bogus(validator, &name, qtype, (link, from), budget)
                        .await;
                }
            }
            let at = budget.as_deref().map_or(now, |b| b.now);
            self.ttls_as_of(&mut link, (&name, qtype), walked.is_some(), read_at, at);
            match finish(link, &mut answers, at) {
                Ok(mut resolution) => {
                    resolution.stale = stale;
                    return Ok(Some(resolution));
                }
                Err(target) => {
                    if visited.is_empty() {
                        visited.push(LowerName::new(qname));
                    }
                    let next = LowerName::new(&target);
                    // A loop never ends; report it as the chain limit it would hit.
                    if visited.contains(&next) {
                        break;
                    }
                    visited.push(next);
                    name = target;
                }
            }
        }
        Err(ResolveError::CnameChainTooLong(max))
    }
}

//! The query service: who answers a standard query (local zones, the resolver, the cache
//! alone, or a refusal), decided in one place (`route`), and what the answer is kept for (the
//! hit path, RRL). Every resolution failure becomes a response in one place (`servfail`).

use hickory_proto::op::{Message, ResponseCode};
use tokio::time::Instant;
use tracing::{debug, warn};

use super::ede_option::add_ede;
use super::edge::Outcome;
use super::observe::Seen;
use super::refusal::{Refusal, Route};
use super::response::{self, Response, Reuse, add_resolution};
use super::{Handler, Recursion, Request, chaos};
use crate::authority::{Catalog, LocalAnswer};
use crate::cache::Trust;
use crate::ede;
use crate::metrics::Metrics;
use crate::resolver::{Resolution, ResolveError, Shed};

impl Handler {
    /// A standard query, after the edge applied its query rate limit (`limit_query`) and
    /// checked its TSIG: the answer, then RRL and the hit path's copy. A signed query (RFC 8945 §5.2, as BIND and Knot
    /// answer them; `nsupdate -k` signs the SOA query that finds the zone) is answered the
    /// same way but neither limited nor kept: its answer is signed for one client. `now` is
    /// when the request arrived.
    pub(super) async fn query(&self, req: &Request, now: Instant) -> Outcome {
        if req.signed {
            let Ok(mut res) = self.handle_unmasked(req, now).await else {
                return Outcome::Decided(None);
            };
            mask_ad(req, &mut res.message);
            return Outcome::One {
                message: res.message,
                optional_authority: res.optional_authority,
                seen: None,
                kept: None,
            };
        }
        // Before the zones are read: a reload while this is answered forbids keeping it.
        let generation = self.cache.messages().generation();
        // Shed under load (`[limits] max_client_queries`): no answer, as Unbound.
        let Ok(mut res) = self.handle_unmasked(req, now).await else {
            return Outcome::Decided(None);
        };
        let seen = self.query_log.as_ref().map(|_| Seen::of(req, &res));
        let rrl = self.rrl_account(req, &res);
        let mut kept = None;
        if res.reuse != Reuse::No {
            let local = res.reuse == Reuse::Local;
            let as_of = res.as_of.unwrap_or(now);
            let messages = self.cache.messages();
            kept = messages.insert(&mut res.message, as_of, local, rrl, generation);
        }
        // Kept with AD as the data deserves; sent with it only as the client asked.
        mask_ad(req, &mut res.message);
        match self.limit_response(req, rrl, res.message, now) {
            Some(message) => Outcome::One {
                message,
                optional_authority: res.optional_authority,
                seen,
                kept,
            },
            None => Outcome::Decided(None),
        }
    }

    /// Answers one request that arrived at `now`. Always produces a response: a query shed
    /// under load, which a client gets no answer to, gets SERVFAIL here.
    pub async fn handle(&self, req: &Request, now: Instant) -> Response {
        let mut res = match self.handle_unmasked(req, now).await {
            Ok(res) => res,
            Err(shed) => self.servfail(req, &shed.into(), now).into(),
        };
        mask_ad(req, &mut res.message);
        res
    }

    /// [`Handler::handle`], with AD set on every secure answer whatever the query's DO and
    /// AD (the hit path keeps it so, and clears it per client: its key has DO, not AD).
    /// `Err`: shed under load, to be left unanswered.
    async fn handle_unmasked(&self, req: &Request, now: Instant) -> Result<Response, Shed> {
        let payload = self.config.edns_payload;
        // RA on every answer says whether this client may recurse (RFC 1035 §4.1.1), whoever
        // answers: the BADVERS and CHAOS answers too.
        let recursion = self.recursion_for(req.src.ip());
        if let Some(info) = req.edns
            && info.version > 0
        {
            // RFC 6891 §6.1.3: we speak version 0 only.
            let mut m = response::with_rcode(req, payload, ResponseCode::BADVERS);
            m.metadata.recursion_available = recursion.is_some();
            return Ok(m.into());
        }
        let served = self.catalog();
        Ok(match self.route(req, &served, recursion) {
            Route::Chaos => {
                let ra = recursion.is_some();
                let mut res = chaos::answer(req, &self.config.identity, payload)
                    .unwrap_or_else(|| self.refuse(req, Refusal::Chaos, ra));
                res.message.metadata.recursion_available = ra;
                res
            }
            Route::Refuse(why) => self.refuse(req, why, recursion.is_some()),
            Route::Local(catalog, local) => {
                self.local_answer(req, catalog, local, recursion, now)
                    .await?
            }
            Route::Recurse(rec) => {
                match rec
                    .resolver
                    .resolve(req.query.name(), req.query.query_type(), now)
                    .await
                {
                    Ok(res) => {
                        let (at, stale, upstream) = (res.at, res.stale, res.upstream_queries);
                        let keep =
                            !stale && rec.resolver.keeps_answer(req.query.name(), &res.answers);
                        let mut message = self.recursive_answer(req, res);
                        let optional_authority = self.add_zone_ns(&mut message, &rec.resolver, at);
                        Response {
                            upstream_queries: Some(upstream),
                            as_of: Some(at),
                            reuse: if keep { Reuse::Resolved } else { Reuse::No },
                            message,
                            optional_authority,
                        }
                    }
                    Err(ResolveError::Shed(shed)) => return Err(shed),
                    Err(e) => self.servfail(req, &e, now).into(),
                }
            }
            Route::Snoop(rec) => {
                let mut message = self.non_recursive(req, rec, recursion.is_some(), now).await;
                // A referral has no answer: only a cached answer gains the zone's NS set.
                let optional_authority = self.add_zone_ns(&mut message, &rec.resolver, now);
                Response {
                    optional_authority,
                    ..message.into()
                }
            }
        })
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
        // (`localhost.`, `invalid.`, private reverse zones), which never go upstream. A
        // signed zone adds RRSIGs and proofs for DO=1 (RFC 4035 §3.1).
        let dnssec_ok = req.edns.is_some_and(|e| e.dnssec_ok);
        if let Some(answer) = served.answer_to(qname, qtype, dnssec_ok) {
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
        now: Instant,
    ) -> Result<Response, Shed> {
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
            match rec
                .resolver
                .resolve(&target, req.query.query_type(), now)
                .await
            {
                Ok(res) => {
                    // The local part is not validated, so the whole never carries AD.
                    if let Some(refused) = self.bogus(req, &res.security, true) {
                        return Ok(refused.into());
                    }
                    upstream_queries = Some(res.upstream_queries);
                    add_resolution(&mut m, res);
                    optional_authority = false;
                }
                Err(ResolveError::Shed(shed)) => return Err(shed),
                Err(e) => return Ok(self.servfail(req, &e, now).into()),
            }
        }
        debug!(rcode = %m.metadata.response_code, answers = m.answers.len(), "local answer");
        Ok(Response {
            message: m,
            optional_authority,
            reuse,
            upstream_queries,
            as_of: None,
        })
    }

    /// A resolver's answer. Its DNSSEC verdict decides (RFC 4035 §3.2.2–3): bogus is
    /// SERVFAIL with its EDE unless the client set CD; AD only on a secure answer to a client
    /// that did not set CD (and, by `mask_ad`, set DO or AD).
    fn recursive_answer(&self, req: &Request, res: Resolution) -> Message {
        let mut m = response::reply_to(req, self.config.edns_payload);
        m.metadata.recursion_available = true;
        if let Some(refused) = self.bogus(req, &res.security, true) {
            return refused;
        }
        m.metadata.authentic_data = res.security == Trust::Secure && !req.checking_disabled;
        debug!(rcode = %res.rcode, answers = res.answers.len(), upstream = res.upstream_queries, stale = res.stale, "recursive answer");
        add_resolution(&mut m, res);
        m
    }

    /// Every answer that carries the resolver's data passes here: counted by its verdict,
    /// and when bogus and the client did not set CD, the SERVFAIL (with its EDE) to send
    /// instead — whether it came from a walk, the cache of a snooping client, or the end of
    /// an alias out of a local zone.
    fn bogus(&self, req: &Request, security: &Trust, ra: bool) -> Option<Message> {
        count_dnssec(&self.metrics, security);
        let Trust::Bogus { ede: code, why } = security else {
            return None;
        };
        if req.checking_disabled {
            return None;
        }
        Metrics::inc(&self.metrics.servfails);
        self.metrics.servfail_reasons.inc(Some(*code));
        debug!(reason = %why, "bogus answer");
        let mut m = response::with_rcode(req, self.config.edns_payload, ResponseCode::ServFail);
        m.metadata.recursion_available = ra;
        add_ede(&mut m, *code, &format!("DNSSEC validation failed: {why}"));
        Some(m)
    }

    /// A non-recursive question answered without asking anyone (RFC 1034 §4.3.1): the cached
    /// answer, else a referral to the closest cached delegation, as Unbound answers clients
    /// allowed to snoop.
    async fn non_recursive(
        &self,
        req: &Request,
        rec: &Recursion,
        ra: bool,
        now: Instant,
    ) -> Message {
        let payload = self.config.edns_payload;
        let qname = req.query.name();
        let mut m = response::reply_to(req, payload);
        m.metadata.recursion_available = ra;
        if let Some(res) = rec
            .resolver
            .answer_from_cache(qname, req.query.query_type(), now)
            .await
        {
            Metrics::inc(&self.metrics.cache_hits);
            if let Some(refused) = self.bogus(req, &res.security, ra) {
                return refused;
            }
            m.metadata.authentic_data = res.security == Trust::Secure && !req.checking_disabled;
            debug!(rcode = %res.rcode, answers = res.answers.len(), "non-recursive answer from the cache");
            add_resolution(&mut m, res);
            return m;
        }
        if let Some((ns, glue)) = rec.resolver.cached_referral(qname, now) {
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
    fn servfail(
        &self,
        req: &Request,
        err: &crate::resolver::ResolveError,
        now: Instant,
    ) -> Message {
        Metrics::inc(&self.metrics.servfails);
        // Per query at debug; at the default level one line per interval, so a flood of
        // failures does not become a flood of log lines.
        debug!(error = %err, "resolution failed");
        if let Some(held) = self.failure_log.admit(now) {
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

/// RFC 6840 §5.7: AD only for a client that set DO or AD.
fn mask_ad(req: &Request, m: &mut Message) {
    if !(req.authentic_data || req.edns.is_some_and(|e| e.dnssec_ok)) {
        m.metadata.authentic_data = false;
    }
}

/// Counts a validated answer by its state (nothing when validation is off).
fn count_dnssec(metrics: &Metrics, trust: &Trust) {
    let (state, ede) = match trust {
        Trust::Unchecked => return,
        Trust::Secure => (0, None),
        Trust::Insecure => (1, None),
        Trust::Bogus { ede, .. } => (2, Some(*ede)),
        Trust::Indeterminate => (3, None),
    };
    metrics.count_dnssec(state, ede);
}

mod sections;

#[cfg(test)]
mod dnssec_tests;
#[cfg(test)]
mod tests;

//! The rate limits on the request path (`crate::ratelimit`): where each applies, and what a
//! limited query or response becomes.
//!
//! - `[rate_limit]` counts every query that asks for recursion (RD=1, from a client the
//!   recursion ACL allows), over UDP and TCP alike: recursion costs the same whichever way
//!   the question came. A limited query gets REFUSED, or with `action = "drop"` nothing;
//!   over TCP always REFUSED, as a dropped query would only hold the connection open.
//!   Signed (TSIG) queries are not limited: they come from holders of our keys.
//! - `[rrl]` accounts the UDP answers that come from the local zones: every UDP response of
//!   a server without recursion (REFUSED for names not ours included, as NSD does), and the
//!   authoritative (AA) ones of a resolver. TCP answers are never limited: the three-way
//!   handshake proves the source address, and truncated answers send real clients there.
//!
//! Both are consulted on the hit path as on the full path, with the same accounts.

use std::net::SocketAddr;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{LowerName, Name};
use tokio::time::Instant;

use super::{Handler, Request, Response, Reuse, Transport, response};
use crate::authority::Catalog;
use crate::cache::Hit;
use crate::metrics::Metrics;
use crate::ratelimit::{Action, Limits, Token, Verdict};
use crate::wire::{self, Question};

impl Handler {
    /// Applies `limits` (both off by default).
    pub fn with_rate_limits(mut self, limits: Limits) -> Handler {
        self.limits = limits;
        self
    }

    /// The query limit on the full path, before anything is looked up: `None` when `req` may
    /// be answered, else what to send (`None`: nothing).
    pub(super) fn limit_query(&self, req: &Request) -> Option<Option<Vec<u8>>> {
        let limiter = self.limits.queries.as_ref()?;
        let recursion = self.recursion.as_ref()?;
        if req.signed || !req.recursion_desired || !recursion.acl.allows(req.src.ip()) {
            return None;
        }
        let action = limiter.check(req.src.ip(), Instant::now())?;
        Metrics::inc(&self.metrics.rate_limited);
        if action == Action::Drop && req.transport == Transport::Udp {
            Metrics::inc(&self.metrics.dropped);
            return Some(None);
        }
        Metrics::inc(&self.metrics.refused);
        let payload = self.config.edns_payload;
        let mut m = response::with_rcode(req, payload, ResponseCode::Refused);
        m.metadata.recursion_available = true;
        let limit = response::size_limit(req, payload);
        Some(Some(response::encode(m, limit, false)))
    }

    /// The RRL account of `res`, when RRL applies to it now (over UDP) or may later (an answer
    /// the hit path keeps, given again over UDP).
    pub(super) fn rrl_account(&self, req: &Request, res: &Response) -> Option<Token> {
        let rrl = self.limits.rrl.as_ref()?;
        if req.transport != Transport::Udp && res.reuse != Reuse::Local {
            return None;
        }
        if self.recursion.is_some() && !res.message.metadata.authoritative {
            return None;
        }
        Some(rrl.classify(&res.message, |qname| {
            wildcard_source(&self.catalog(), qname)
        }))
    }

    /// RRL on a response about to be encoded: as it is, truncated (the slip: TC=1, the
    /// question and OPT only), or nothing.
    pub(super) fn limit_response(
        &self,
        req: &Request,
        token: Option<Token>,
        mut message: Message,
    ) -> Option<Message> {
        let (Some(rrl), Some(token), Transport::Udp) = (&self.limits.rrl, token, req.transport)
        else {
            return Some(message);
        };
        let verdict = rrl.check(req.src.ip(), token, Instant::now());
        if verdict != Verdict::Send {
            Metrics::inc(&self.metrics.rate_limited);
        }
        match verdict {
            Verdict::Send => Some(message),
            Verdict::Slip => {
                message.metadata.truncation = true;
                message.answers.clear();
                message.authorities.clear();
                message.additionals.clear();
                Some(message)
            }
            Verdict::Drop => {
                Metrics::inc(&self.metrics.dropped);
                None
            }
        }
    }

    /// `limit_fast`, behind one test when both limits are off: `true` when the query was
    /// refused or dropped (by the query limit, or dropped by RRL), so it is not a hit.
    #[inline]
    pub(super) fn limited_fast(
        &self,
        query: &[u8],
        question: &Question<'_>,
        src: SocketAddr,
        hit: Hit<Option<Token>>,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> bool {
        self.limits.any()
            && (self.limit_fast(query, question, src, hit, now, out) || out.is_empty())
    }

    /// Both limits on the hit path, `out` holding the answer `hit` found for `query`: leaves
    /// it, truncates it (RRL's slip), makes it REFUSED, or empties it (nothing to send).
    /// `true` when the query limit refused or dropped it (it was not answered).
    fn limit_fast(
        &self,
        query: &[u8],
        question: &Question<'_>,
        src: SocketAddr,
        hit: Hit<Option<Token>>,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> bool {
        if !hit.local
            && let Some(limiter) = &self.limits.queries
            && let Some(action) = limiter.check(src.ip(), now)
        {
            Metrics::inc(&self.metrics.rate_limited);
            match action {
                Action::Refuse
                    if wire::refused_into(query, question, self.config.edns_payload, out)
                        .is_some() =>
                {
                    Metrics::inc(&self.metrics.refused);
                }
                _ => {
                    Metrics::inc(&self.metrics.dropped);
                    out.clear();
                }
            }
            return true;
        }
        if hit.local
            && let (Some(rrl), Some(token)) = (&self.limits.rrl, hit.tag)
        {
            match rrl.check(src.ip(), token, now) {
                Verdict::Send => {}
                Verdict::Slip
                    if wire::truncate_to_question(out, question).is_some()
                        && wire::push_opt(question, self.config.edns_payload, out).is_some() =>
                {
                    Metrics::inc(&self.metrics.rate_limited)
                }
                Verdict::Slip | Verdict::Drop => {
                    Metrics::inc(&self.metrics.rate_limited);
                    Metrics::inc(&self.metrics.dropped);
                    out.clear();
                }
            }
        }
        false
    }
}

/// The wildcard that answers `qname` in `catalog` (RFC 4592 §4.1: `*.` the closest encloser),
/// or `None` when the name itself exists.
fn wildcard_source(catalog: &Catalog, qname: &Name) -> Option<Name> {
    let zone = catalog.find(qname)?;
    let apex = zone.origin().num_labels();
    let mut name = qname.clone();
    if zone.node(&LowerName::new(&name)).is_some() {
        return None;
    }
    while name.num_labels() > apex {
        name = name.base_name();
        if zone.node(&LowerName::new(&name)).is_some() {
            let source = name.prepend_label("*").ok()?;
            return zone.node(&LowerName::new(&source)).map(|_| source);
        }
    }
    None
}

#[cfg(test)]
mod tests;

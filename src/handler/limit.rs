//! The policy step, one for the hit path and the full path: who may recurse (the recursion
//! ACL), the query limit on recursion and RRL on authoritative answers (`crate::ratelimit`),
//! and the metrics of what they decide. Each path only words the decision in its own form
//! (a `Message` on the full path, bytes on the hit path).
//!
//! - `[rate_limit]` counts every query that asks for recursion (RD=1, from a client the
//!   recursion ACL allows), over UDP and TCP alike: recursion costs the same whichever way
//!   the question came. A limited query gets REFUSED, or with `action = "drop"` nothing;
//!   over TCP always REFUSED, as a dropped query would only hold the connection open.
//!   Signed (TSIG) queries are not limited when the signature verifies: they come from
//!   holders of our keys. A query answered BADCOOKIE, or NOTAUTH for a TSIG that failed, is
//!   counted as any other (`limit_query` comes before the edge words those).
//! - `[rrl]` accounts the UDP answers that come from the local zones: every UDP response of
//!   a server without recursion (REFUSED for names not ours included, as NSD does, and the
//!   errors the edge words itself, FORMERR, NOTIMP, BADCOOKIE, NOTAUTH: `limit_edge`), and
//!   the authoritative (AA) ones of a resolver. A packet with no header to answer is dropped
//!   before any of this. TCP answers are never limited: the three-way
//!   handshake proves the source address, and truncated answers send real clients there.
//! - A UDP query with a valid server cookie (RFC 7873 §5.2.4) is under neither limit, as BIND
//!   exempts such clients from RRL: the cookie proves the source address as a handshake does,
//!   so the client is no spoofed victim and gets its answers in full. Over TCP the query limit
//!   stays what it was, cookie or not.

use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{LowerName, Name};
use tokio::time::Instant;

use super::cookie::Judged;
use super::{Handler, Recursion, Request, Response, Reuse, Transport, response};
use crate::authority::Catalog;
use crate::cache::Hit;
use crate::metrics::Metrics;
use crate::ratelimit::{Action, Limits, Token, Verdict};
use crate::wire::{self, Question, padding};

impl Handler {
    /// Applies `limits` (both off by default).
    pub fn with_rate_limits(mut self, limits: Limits) -> Handler {
        self.limits = limits;
        self
    }

    /// The recursion `client` may use: `None` without recursion or when the ACL does not
    /// allow it.
    #[inline]
    pub(super) fn recursion_for(&self, client: IpAddr) -> Option<&Recursion> {
        self.recursion.as_ref().filter(|r| r.acl.allows(client))
    }

    /// The policy step: what to do with a query from `client` over `transport` at `now`, at
    /// `stage`, counted in the metrics (`rate_limited`, and `refused` or `dropped`). `proven`:
    /// the query's server cookie was valid, which exempts it over UDP.
    pub(super) fn police(
        &self,
        client: IpAddr,
        transport: Transport,
        proven: bool,
        stage: Stage,
        now: Instant,
    ) -> Decision {
        if proven && transport == Transport::Udp {
            return Decision::Send;
        }
        let decision = match stage {
            Stage::Recursion => match self
                .limits
                .queries
                .as_ref()
                .and_then(|l| l.check(client, now))
            {
                None => return Decision::Send,
                // Over TCP a dropped query would only hold the connection open.
                Some(Action::Drop) if transport == Transport::Udp => Decision::Drop,
                Some(_) => Decision::Refuse,
            },
            Stage::Response(token) => {
                let (Some(rrl), Some(token), Transport::Udp) = (&self.limits.rrl, token, transport)
                else {
                    return Decision::Send;
                };
                match rrl.check(client, token, now) {
                    Verdict::Send => return Decision::Send,
                    Verdict::Slip => Decision::Slip,
                    Verdict::Drop => Decision::Drop,
                }
            }
        };
        Metrics::inc(&self.metrics.rate_limited);
        match decision {
            Decision::Refuse => Metrics::inc(&self.metrics.refused),
            Decision::Drop => Metrics::inc(&self.metrics.dropped),
            Decision::Send | Decision::Slip => {}
        }
        decision
    }

    /// The policy step on the full path before anything is looked up, before the edge words
    /// a BADCOOKIE or a bad TSIG's NOTAUTH too (each is a query that a client over its rate
    /// would otherwise have answered at any rate): `None` when `req` may be answered, else
    /// what to send (`None`: nothing). `keyed`: its TSIG verified with one of our keys, which
    /// exempts it; a TSIG that failed does not. `now`: when the request arrived.
    pub(super) fn limit_query(
        &self,
        req: &Request,
        keyed: bool,
        now: Instant,
    ) -> Option<Option<Vec<u8>>> {
        self.limits.queries.as_ref()?;
        if keyed || !req.recursion_desired || self.recursion_for(req.src.ip()).is_none() {
            return None;
        }
        match self.police(
            req.src.ip(),
            req.transport,
            proven(req),
            Stage::Recursion,
            now,
        ) {
            Decision::Send | Decision::Slip => None,
            Decision::Drop => Some(None),
            Decision::Refuse => {
                let payload = self.config.edns_payload;
                let mut m = response::with_rcode(req, payload, ResponseCode::Refused);
                m.metadata.recursion_available = true;
                // Encoded here, past the edge that adds every other reply's cookie.
                if let Some(cookie) = &req.cookie {
                    response::add_cookie(&mut m, &cookie.reply);
                }
                let limit = response::size_limit(req, payload);
                // Padded as any reply to a padded query over TLS or HTTPS (RFC 7830 §4): its
                // size would otherwise tell the name asked.
                let pad = req.edns.is_some_and(|e| e.padding) && req.transport.is_encrypted();
                let reserved = pad.then(|| padding::reserve(&mut m)).flatten();
                let mut bytes = response::encode(m, limit, false);
                if let Some(rdata_len) = reserved {
                    padding::grow(&mut bytes, rdata_len, limit, padding::RESPONSE_BLOCK);
                }
                Some(Some(bytes))
            }
        }
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

    /// The policy step on a full-path response about to be encoded: as it is, truncated (the
    /// slip: TC=1, the question and OPT only), or nothing.
    pub(super) fn limit_response(
        &self,
        req: &Request,
        token: Option<Token>,
        message: Message,
        now: Instant,
    ) -> Option<Message> {
        let stage = Stage::Response(token);
        let decision = self.police(req.src.ip(), req.transport, proven(req), stage, now);
        word_full(decision, message)
    }

    /// RRL on a reply the edge words itself, before any service (FORMERR, NOTIMP, BADCOOKIE,
    /// a bad TSIG's NOTAUTH): BIND's "errors" class, NSD's every processed query. Accounted as
    /// `rrl_account` accounts an answer: over UDP, every reply of a server without recursion
    /// (a resolver's edge replies are not AA, so not the local zones' to account), under its
    /// kind (`Rrl::classify`: errors share one account per client prefix, whatever the
    /// name). Sent as it is, truncated (the slip), or nothing. `proven`: the request's server
    /// cookie was valid. Off the hit path: these never come there.
    pub(super) fn limit_edge(
        &self,
        message: Message,
        (src, transport): (SocketAddr, Transport),
        proven: bool,
        now: Instant,
    ) -> Option<Message> {
        let Some(rrl) = &self.limits.rrl else {
            return Some(message);
        };
        if transport != Transport::Udp
            || (self.recursion.is_some() && !message.metadata.authoritative)
        {
            return Some(message);
        }
        let token = rrl.classify(&message, |_| None);
        let decision = self.police(
            src.ip(),
            transport,
            proven,
            Stage::Response(Some(token)),
            now,
        );
        word_full(decision, message)
    }

    /// The policy step on the hit path, behind one test when both limits are off, `out`
    /// holding the answer `hit` found for `query`: the resolver's answers are queries that
    /// use recursion, the local ones are accounted by RRL. `true` when the query was refused
    /// or dropped, so it is not a hit (RRL's slip, sent truncated, is one). `cookie`: the
    /// query's, judged; a valid one exempts it over UDP. `options`: what the reply's OPT
    /// carries (the COOKIE, and an empty Padding option the caller grows, RFC 8467).
    /// `at`: the client and the transport, whose rules `police` applies as on the full path
    /// (over a stream: the query limit refuses, never drops; RRL does not apply).
    #[inline]
    #[allow(clippy::too_many_arguments)] // the hit path's facts, passed without a struct
    pub(super) fn limited_fast(
        &self,
        query: &[u8],
        question: &Question<'_>,
        (src, transport): (SocketAddr, Transport),
        hit: Hit<Option<Token>>,
        cookie: Option<&Judged>,
        options: &[u8],
        now: Instant,
        out: &mut Vec<u8>,
    ) -> bool {
        if !self.limits.any() {
            return false;
        }
        let proven = cookie.is_some_and(Judged::proves_address);
        let stage = if hit.local {
            Stage::Response(hit.tag)
        } else {
            Stage::Recursion
        };
        match self.police(src.ip(), transport, proven, stage, now) {
            Decision::Send => false,
            decision => {
                let payload = self.config.edns_payload;
                word_fast(decision, query, question, payload, options, out)
            }
        }
    }
}

/// Words a decision of RRL on the full path: `message` as it is, truncated (the slip: TC=1,
/// the question and OPT only), or nothing.
fn word_full(decision: Decision, mut message: Message) -> Option<Message> {
    match decision {
        Decision::Send | Decision::Refuse => Some(message),
        Decision::Slip => {
            message.metadata.truncation = true;
            message.answers.clear();
            message.authorities.clear();
            message.additionals.clear();
            Some(message)
        }
        Decision::Drop => None,
    }
}

/// Words a decision other than `Send` on the hit path: truncates `out` (RRL's slip), makes it
/// REFUSED, or empties it (nothing to send), our OPT carrying `options` (the COOKIE).
/// `true` when the query was refused or dropped.
fn word_fast(
    decision: Decision,
    query: &[u8],
    question: &Question<'_>,
    our_payload: u16,
    options: &[u8],
    out: &mut Vec<u8>,
) -> bool {
    let written = match decision {
        Decision::Slip => wire::truncate_to_question(out, question)
            .and_then(|()| wire::push_opt(question, our_payload, options, out)),
        Decision::Refuse => wire::refused_into(query, question, our_payload, options, out),
        Decision::Send => Some(()),
        Decision::Drop => None,
    };
    // Nothing half-written goes out (the query was parsed, so its question is there to
    // write: in practice only a drop comes here).
    if written.is_none() {
        out.clear();
    }
    matches!(decision, Decision::Refuse | Decision::Drop) || out.is_empty()
}

/// Whether `req` proved its source address with a valid server cookie.
fn proven(req: &Request) -> bool {
    req.cookie.as_ref().is_some_and(Judged::proves_address)
}

/// Where the policy step is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// Before a query that uses recursion (RD=1, from a client the ACL allows) is answered:
    /// the query limit.
    Recursion,
    /// On a response, with its RRL account when it has one: RRL, over UDP.
    Response(Option<Token>),
}

/// What the policy step says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    Send,
    /// REFUSED instead of an answer (the query limit).
    Refuse,
    /// TC=1 with the question and OPT only (RRL's slip): a real client retries over TCP.
    Slip,
    /// Nothing.
    Drop,
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

#[cfg(test)]
mod rrl_errors_review;

//! `[server] minimal_responses = false`: what Unbound's `minimal-responses: no` adds to a
//! positive answer (util/data/msgencode.c encodes the reply's authority and additional
//! sections unless the answer is positive and the option is on) — the NS set of the zone the
//! answer came from and its servers' addresses. Unbound copies them from the upstream reply
//! it kept; tern takes them from its cache (the resolver keeps a reply's NS set and glue, see
//! `resolver::answer_ns`), never asking upstream for them. Negative answers are unchanged:
//! their SOA (and proof) is all tern keeps of their authority section.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::time::Instant;

use crate::handler::Handler;
use crate::resolver::Resolver;

impl Handler {
    /// Adds to the positive answer `m`, unless responses are minimal, the cached NS set of the
    /// closest zone cut at or above the name the answer ends at, and its servers' cached
    /// addresses, with TTLs as of `at` (when the answer's own TTLs were current, so the hit
    /// path counts both down alike). For an NS question the NS set is the answer: only the
    /// addresses are added. True when an NS set was added: it is optional, dropped before the
    /// answer is truncated (`encode`).
    pub(in crate::handler) fn add_zone_ns(
        &self,
        m: &mut Message,
        resolver: &Resolver,
        at: Instant,
    ) -> bool {
        if self.config.minimal_responses || m.metadata.response_code != ResponseCode::NoError {
            return false;
        }
        let Some(qtype) = m.queries.first().map(|q| q.query_type()) else {
            return false;
        };
        let Some(end) = m
            .answers
            .iter()
            .rev()
            .find(|r| r.record_type() == qtype || qtype == RecordType::ANY)
            .map(|r| r.name.clone())
        else {
            return false;
        };
        let Some((ns, glue)) = resolver.cached_referral(&end, at) else {
            return false;
        };
        m.additionals.extend(glue);
        if qtype == RecordType::NS && ns.first().is_some_and(|r| r.name == end) {
            return false;
        }
        m.authorities.extend(ns);
        true
    }
}

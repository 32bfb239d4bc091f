//! Forward zones (Unbound's `forward-zone`): names in them are asked, with RD=1, of recursive
//! resolvers the operator names, instead of walking the hierarchy. The forwarders' answers
//! come without AA and with RA=1; they are classified as answers (not lameness), cached as
//! usual (unless the zone says `no_cache`), and the servers are chosen, retried and failed
//! over like any zone's servers. An alias leading out of the zone is followed by the chase, so
//! the target's own zone decides whether it is forwarded or walked.

use std::net::SocketAddr;

use hickory_proto::rr::{Name, RData, Record, RecordType};
use tracing::debug;

use super::budget::{Budget, ResolveError};
use super::classify::Outcome;
use super::delegation::{NameServer, ServerSet};
use super::upstream::Encrypted;
use super::{Link, Resolver, Step};
use crate::cache::Signed;
use crate::rr;

/// A forward zone: names in it go to these recursive servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub zone: Name,
    pub servers: Vec<SocketAddr>,
    /// When every server fails, walk the hierarchy instead (Unbound's `forward-first`).
    pub first: bool,
    /// Ask the servers over DNS over TLS or over HTTPS, authenticated as this says, and never
    /// otherwise (`tls_name` or `url`, and `ca`; Unbound's `forward-tls-upstream` with
    /// `name#tls-name`).
    pub tls: Option<Encrypted>,
    /// Nothing learnt of names in the zone is cached, nor answered from the cache: every
    /// question goes to the servers (Unbound's `forward-no-cache`), for data that must show
    /// changes at once.
    pub no_cache: bool,
}

impl Forward {
    /// The forwarders as a server set; each server's name is the zone's, for the trace.
    fn server_set(&self) -> ServerSet {
        ServerSet {
            zone: self.zone.clone(),
            servers: self
                .servers
                .iter()
                .map(|s| NameServer {
                    name: self.zone.clone(),
                    addrs: vec![s.ip()],
                    port: Some(s.port()),
                })
                .collect(),
        }
    }
}

impl Resolver {
    /// The forward zone that decides `name`: the longest forward zone containing it, unless a
    /// stub zone or a served zone's delegation lies deeper (longest match wins; as for stub
    /// zones, a served delegation of the zone's own apex does not beat what was configured).
    pub(super) fn forward_for(&self, name: &Name) -> Option<&Forward> {
        let fwd = self
            .forwards
            .iter()
            .filter(|f| f.zone.zone_of(name))
            .max_by_key(|f| rr::label_count(&f.zone))?;
        let depth = rr::label_count(&fwd.zone);
        let deeper = |zone: &Name| zone.zone_of(name) && rr::label_count(zone) > depth;
        if self.stubs.iter().any(|s| deeper(&s.zone)) {
            return None;
        }
        if let Some(cuts) = &self.local_cuts
            && let Some(cut) = cuts.cut(name)
            && deeper(&cut.zone)
        {
            return None;
        }
        Some(fwd)
    }

    /// Whether what is learnt of `name` may be cached and answered from the cache: not when a
    /// `no_cache` forward zone decides it. As Unbound's `forward-no-cache` sets both
    /// `no_cache_lookup` and `no_cache_store` for such a question, neither the cache's
    /// records nor its kept messages serve it, and its replies and failures are not kept.
    pub(crate) fn caches(&self, name: &Name) -> bool {
        // The common case, every forward zone cached (or none configured), costs no lookup.
        !self.forwards.iter().any(|f| f.no_cache)
            || !self.forward_for(name).is_some_and(|f| f.no_cache)
    }

    /// Whether the answer to `qname` may be kept whole (the hit path's message tier): every
    /// name of its chain must be cached, so an alias into a `no_cache` zone is not kept
    /// either (Unbound stores no message once its question chased into such a zone).
    pub(crate) fn keeps_answer(&self, qname: &Name, answers: &[Record]) -> bool {
        if !self.forwards.iter().any(|f| f.no_cache) {
            return true;
        }
        let targets = answers.iter().filter_map(|r| match &r.data {
            RData::CNAME(c) => Some(&c.0),
            _ => None,
        });
        std::iter::once(qname)
            .chain(answers.iter().map(|r| &r.name))
            .chain(targets)
            .all(|n| self.caches(n))
    }

    /// One link of a chain: from the forwarders when a forward zone holds the name, else (or
    /// when they all fail and the zone is `forward_first`) by walking the hierarchy.
    pub(super) async fn forward_or_iterate(
        &self,
        name: &Name,
        qtype: RecordType,
        budget: &mut Budget,
    ) -> Result<Link, ResolveError> {
        // RFC 4035 §3.1.4.1: a DS set belongs to the parent's zone, so the parent's name
        // decides where it is asked.
        // Nothing of the question is kept from here on: its failure neither (`shared`).
        if !self.caches(name) {
            budget.reached_no_cache = true;
        }
        let decides = if qtype == RecordType::DS && !name.is_root() {
            name.base_name()
        } else {
            name.clone()
        };
        if let Some(fwd) = self.forward_for(&decides) {
            // With a walk to fall back on, the forwarders get half the client's patience: a
            // silent one would spend the whole budget in retransmissions, and the walk would
            // never start for the question that found it silent.
            let deadline = budget.deadline;
            if fwd.first {
                let share = budget.now + budget.limits.client_timeout / 2;
                budget.deadline = deadline.min(share);
            }
            let result = self.forward(fwd, name, qtype, budget).await;
            budget.deadline = deadline;
            match result {
                Err(
                    e @ (ResolveError::NoReachableAuthority(_)
                    | ResolveError::ForwardingLoop { .. }
                    | ResolveError::Timeout(_)),
                ) if fwd.first => {
                    debug!(zone = %fwd.zone, error = %e, "every forwarder failed: iterating");
                }
                result => return result,
            }
        }
        self.iterate(name, qtype, budget).await
    }

    /// Asks the forwarders of `fwd` for (`name`, `qtype`) with RD=1.
    async fn forward(
        &self,
        fwd: &Forward,
        name: &Name,
        qtype: RecordType,
        budget: &mut Budget,
    ) -> Result<Link, ResolveError> {
        let reply = self
            .ask_servers(&fwd.server_set(), name, qtype, Some(fwd), budget)
            .await?;
        // Unbound's forward-no-cache: nothing of the reply is kept (`no_cache_store`).
        if !fwd.no_cache {
            self.store(reply.learned, budget.now);
        }
        let step = match reply.outcome {
            Outcome::Answer(records) => Step::Answer(records),
            Outcome::Cname { records, target } => Step::Cname(records, target),
            Outcome::NoData { soa } => Step::NoData(soa),
            Outcome::NxDomain { soa } => Step::NxDomain(soa),
            Outcome::YxDomain { records } => Step::YxDomain(records),
            // ask_servers returns only usable replies, and a forwarder's referral is lame.
            _ => return Err(ResolveError::NoReachableAuthority(fwd.zone.clone())),
        };
        Ok(Link {
            step,
            signed: Signed::unchecked(reply.signed),
        })
    }
}

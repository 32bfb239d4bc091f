//! A zone cut as the resolver sees it: the zone and the servers (names, and the addresses we
//! know for them) to ask about names inside it.

use std::net::IpAddr;

use hickory_proto::rr::{Name, Record, RecordType};
use tokio::time::Instant;

use super::Resolver;
use super::budget::{Budget, ResolveError};
use super::classify::{Reply, in_bailiwick};
use super::hints::ADDRESS_TYPES;
use super::iterate::min_ttl;
use crate::cache::{Data, Key, Rank};
use crate::rr;

/// One name server of a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameServer {
    pub name: Name,
    /// Known addresses; empty for a glueless server not yet looked up.
    pub addrs: Vec<IpAddr>,
}

/// The servers for one zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSet {
    pub zone: Name,
    pub servers: Vec<NameServer>,
}

/// Finding the servers to ask: cached delegations, their addresses, and the primed root.
impl Resolver {
    pub(super) fn cache_addresses(&self, records: &[Record], rank: Rank, now: Instant) {
        for t in ADDRESS_TYPES {
            let mut owners: Vec<&Name> = records
                .iter()
                .filter(|r| r.record_type() == t)
                .map(|r| &r.name)
                .collect();
            // Glue may interleave owners; sort so each RRset is stored once, whole.
            owners.sort();
            owners.dedup();
            for owner in owners {
                let set: Vec<Record> = records
                    .iter()
                    .filter(|r| r.record_type() == t && r.name == *owner)
                    .cloned()
                    .collect();
                self.cache.insert(
                    Key::new(owner, t),
                    Data::Positive(set.clone()),
                    min_ttl(&set),
                    rank,
                    now,
                );
            }
        }
    }

    /// Servers for `zone` from its NS records, with every address the cache knows.
    pub(super) fn server_set(&self, zone: &Name, ns: &[Record], now: Instant) -> ServerSet {
        let servers = rr::ns_targets(ns)
            .into_iter()
            .map(|name| {
                let addrs = self.cached_addresses(&name, now);
                NameServer { name, addrs }
            })
            .collect();
        ServerSet {
            zone: zone.clone(),
            servers,
        }
    }

    pub(super) fn cached_addresses(&self, name: &Name, now: Instant) -> Vec<IpAddr> {
        let mut out = Vec::new();
        for t in ADDRESS_TYPES {
            if let Some(c) = self.cache.get(&Key::new(name, t), now)
                && let Data::Positive(records) = c.data
            {
                out.extend(records.iter().filter_map(rr::address));
            }
        }
        out
    }

    /// The deepest zone cut we know servers for (RFC 1034 §5.3.3 step 2); the root otherwise.
    pub(super) async fn closest_servers(
        &self,
        name: &Name,
        budget: &mut Budget,
    ) -> Result<ServerSet, ResolveError> {
        let now = Instant::now();
        for labels in (1..=rr::label_count(name)).rev() {
            let ancestor = name.trim_to(labels);
            if let Some(c) = self.cache.get(&Key::new(&ancestor, RecordType::NS), now)
                && let Data::Positive(ns) = c.data
            {
                let set = self.server_set(&ancestor, &ns, now);
                // Usable if some server has an address or can be looked up from elsewhere.
                if set
                    .servers
                    .iter()
                    .any(|s| !s.addrs.is_empty() || !in_bailiwick(&s.name, &ancestor))
                {
                    return Ok(set);
                }
            }
        }
        self.root_servers(budget).await
    }

    /// The root NS set: from the cache, or primed from the hints (RFC 8109).
    pub(super) async fn root_servers(
        &self,
        budget: &mut Budget,
    ) -> Result<ServerSet, ResolveError> {
        let now = Instant::now();
        let root = Name::root();
        if let Some(c) = self.cache.get(&Key::new(&root, RecordType::NS), now)
            && let Data::Positive(ns) = c.data
        {
            let set = self.server_set(&root, &ns, now);
            if set.servers.iter().any(|s| !s.addrs.is_empty()) {
                return Ok(set);
            }
        }
        match self
            .ask_zone(&self.hints, &root, RecordType::NS, budget)
            .await
        {
            Ok((Reply::Answer(ns), msg)) => {
                let now = Instant::now();
                self.cache.insert(
                    Key::new(&root, RecordType::NS),
                    Data::Positive(ns.clone()),
                    min_ttl(&ns),
                    Rank::Authoritative,
                    now,
                );
                let targets = rr::ns_targets(&ns);
                let glue: Vec<Record> = msg
                    .additionals
                    .iter()
                    .filter(|r| rr::address(r).is_some() && targets.contains(&r.name))
                    .cloned()
                    .collect();
                self.cache_addresses(&glue, Rank::Glue, now);
                let set = self.server_set(&root, &ns, now);
                if set.servers.iter().any(|s| !s.addrs.is_empty()) {
                    return Ok(set);
                }
                Ok(self.hints.clone())
            }
            Ok(_) => Ok(self.hints.clone()),
            Err(e @ (ResolveError::TooManyUpstream(_) | ResolveError::Timeout(_))) => Err(e),
            Err(_) => Ok(self.hints.clone()),
        }
    }
}

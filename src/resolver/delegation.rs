//! A zone cut as the resolver sees it: the zone and the servers (names, and the addresses we
//! know for them) to ask about names inside it; finding the deepest cut the cache knows, and
//! looking up the addresses of glueless servers.

use std::net::IpAddr;

use hickory_proto::rr::{Name, Record, RecordType};
use tokio::time::Instant;
use tracing::debug;

use super::Resolver;
use super::budget::{Budget, ResolveError};
use super::classify::in_bailiwick;
use crate::cache::Key;
use crate::rr::{self, ADDRESS_TYPES};
use crate::wire::same_name;

/// One name server of a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameServer {
    pub name: Name,
    /// Known addresses; empty for a glueless server not yet looked up.
    pub addrs: Vec<IpAddr>,
    /// The port it listens on, when not the usual one (a stub zone's servers).
    pub port: Option<u16>,
}

/// The servers for one zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSet {
    pub zone: Name,
    pub servers: Vec<NameServer>,
}

impl ServerSet {
    /// Whether some server can be reached: it has an address, or its name lies outside the
    /// zone and can be looked up from elsewhere.
    fn reachable(&self) -> bool {
        self.servers
            .iter()
            .any(|s| !s.addrs.is_empty() || !in_bailiwick(&s.name, &self.zone))
    }

    /// Adds the addresses among `glue` to the servers they name, beside those already known.
    pub(super) fn add_glue(&mut self, glue: &[Record]) {
        for server in &mut self.servers {
            for ip in glue
                .iter()
                .filter(|r| same_name(&r.name, &server.name))
                .filter_map(rr::address)
            {
                if !server.addrs.contains(&ip) {
                    server.addrs.push(ip);
                }
            }
        }
    }
}

/// A zone cut the resolver did not learn by walking: a served zone's delegation to a child
/// that may not be reachable from the root at all.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LocalCut {
    pub zone: Name,
    pub ns: Vec<Record>,
    /// Addresses of the NS targets the parent zone holds (glue).
    pub glue: Vec<Record>,
}

/// Where the resolver finds [`LocalCut`]s: the served zones, read afresh on every walk so a
/// reload or an UPDATE is seen at once, and never copied into the cache.
pub(crate) trait LocalCuts: Send + Sync {
    /// The cut at or above `name` inside a served zone, if `name` lies below one.
    fn cut(&self, name: &Name) -> Option<LocalCut>;
}

impl Resolver {
    /// Servers for `zone` from its NS records, with every address the cache knows.
    pub(super) fn server_set(&self, zone: &Name, ns: &[Record], now: Instant) -> ServerSet {
        let targets = rr::ns_targets(ns).into_iter().map(|name| {
            let key = Key::new(&name, RecordType::A);
            (name, key)
        });
        self.servers_named(zone.clone(), targets, now)
    }

    /// Servers for `zone` named `targets` (each with the key of its A records), with every
    /// address the cache knows.
    fn servers_named(
        &self,
        zone: Name,
        targets: impl Iterator<Item = (Name, Key)>,
        now: Instant,
    ) -> ServerSet {
        let servers = targets
            .map(|(name, key)| {
                let addrs = self.cached_addresses_at(key, now);
                NameServer {
                    name,
                    addrs,
                    port: None,
                }
            })
            .collect();
        ServerSet { zone, servers }
    }

    pub(super) fn cached_addresses(&self, name: &Name, now: Instant) -> Vec<IpAddr> {
        self.cached_addresses_at(Key::new(name, RecordType::A), now)
    }

    /// [`Resolver::cached_addresses`] of the name of `key`.
    fn cached_addresses_at(&self, mut key: Key, now: Instant) -> Vec<IpAddr> {
        let mut out = Vec::new();
        for t in ADDRESS_TYPES {
            key.rtype = Some(t);
            self.cache.inspect(&key, now, |stored, _| {
                out.extend(stored.addresses());
            });
        }
        out
    }

    /// The deepest zone cut below the root that the cache knows usable servers for (RFC 1034
    /// §5.3.3 step 2). The NS targets are read from the cached set in place: its records,
    /// owner names and all, were decoded for nothing but them.
    pub(super) fn cached_cut(&self, name: &Name, now: Instant) -> Option<ServerSet> {
        for key in Key::ancestors(name, RecordType::NS) {
            if let Some(Some(targets)) = self.cache.inspect(&key, now, |s, _| s.ns_targets())
                && !targets.is_empty()
            {
                let set = self.servers_named(key.name(), targets.into_iter(), now);
                if set.reachable() {
                    return Some(set);
                }
            }
        }
        None
    }

    /// The servers to start a walk for `name` at: the deepest cut the cache knows, else the
    /// root's. A stub zone containing `name` takes the place of the hierarchy above it: only
    /// cuts below the stub's apex (its servers' own referrals) are deeper.
    pub(super) async fn closest_servers(
        &self,
        name: &Name,
        budget: &mut Budget,
    ) -> Result<ServerSet, ResolveError> {
        let now = budget.now;
        let cut = self.cached_cut(name, now);
        // A served zone's delegation is known better than anything cached for the same cut;
        // only the child's own referrals (deeper cuts) come before it.
        let local = self
            .local_cuts
            .as_ref()
            .and_then(|l| l.cut(name))
            .map(|c| self.local_server_set(&c, now));
        let cut = match (cut, local) {
            (Some(set), Some(local))
                if rr::label_count(&set.zone) <= rr::label_count(&local.zone) =>
            {
                Some(local)
            }
            (Some(set), _) => Some(set),
            (None, local) => local,
        };
        let stub = self
            .stubs
            .iter()
            .filter(|s| s.zone.zone_of(name))
            .max_by_key(|s| rr::label_count(&s.zone));
        match (cut, stub) {
            (Some(set), Some(stub)) if stub.zone.zone_of(&set.zone) && set.zone != stub.zone => {
                Ok(set)
            }
            (_, Some(stub)) => Ok(ServerSet {
                zone: stub.zone.clone(),
                servers: stub
                    .servers
                    .iter()
                    .map(|s| NameServer {
                        name: stub.zone.clone(),
                        addrs: vec![s.ip()],
                        port: Some(s.port()),
                    })
                    .collect(),
            }),
            (Some(set), None) => Ok(set),
            (None, None) => self.root_servers(budget).await,
        }
    }

    /// A local cut's servers: the glue its parent zone holds, and what the cache knows.
    fn local_server_set(&self, cut: &LocalCut, now: Instant) -> ServerSet {
        let mut set = self.server_set(&cut.zone, &cut.ns, now);
        set.add_glue(&cut.glue);
        set
    }

    /// Addresses of a glueless name server, resolved as a separate lookup (NXNS-bounded): its
    /// A records, and when the name exists without any (an IPv6-only server), its AAAA
    /// records, as Unbound looks up both of a glueless server's address types. A name that
    /// does not exist is not asked about twice.
    pub(super) async fn ns_addresses(
        &self,
        ns: &Name,
        budget: &mut Budget,
    ) -> Result<Vec<IpAddr>, ResolveError> {
        let cached = self.cached_addresses(ns, budget.now);
        if !cached.is_empty() {
            return Ok(cached);
        }
        if budget.in_progress.contains(ns) {
            return Ok(Vec::new());
        }
        budget.in_progress.push(ns.clone());
        let mut found = self.ns_lookup(ns, RecordType::A, budget).await;
        if let Ok((addrs, true)) = &found
            && addrs.is_empty()
        {
            found = self.ns_lookup(ns, RecordType::AAAA, budget).await;
        }
        budget.in_progress.retain(|n| n != ns);
        match found {
            Ok((addrs, _)) => Ok(addrs),
            Err(
                e @ (ResolveError::TooManyGlueless(_)
                | ResolveError::TooManyUpstream(_)
                | ResolveError::Timeout(_)),
            ) => Err(e),
            Err(e) => {
                debug!(ns = %ns, error = %e, "glueless name server address lookup failed");
                Ok(Vec::new())
            }
        }
    }

    /// One address type of a glueless server: its addresses, and whether the name exists
    /// (an answer or NODATA, not NXDOMAIN).
    async fn ns_lookup(
        &self,
        ns: &Name,
        rtype: RecordType,
        budget: &mut Budget,
    ) -> Result<(Vec<IpAddr>, bool), ResolveError> {
        budget.spend_glueless()?;
        let now = budget.now;
        let res = Box::pin(self.chase(ns, rtype, Some(&mut *budget), now)).await?;
        let exists = res
            .as_ref()
            .is_some_and(|r| r.rcode == hickory_proto::op::ResponseCode::NoError);
        let addrs = res
            .map(|r| r.answers)
            .unwrap_or_default()
            .iter()
            .filter(|r| r.record_type() == rtype)
            .filter_map(rr::address)
            .collect();
        Ok((addrs, exists))
    }
}

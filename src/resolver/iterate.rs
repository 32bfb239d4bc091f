//! The iterative walk (RFC 1034 §5.3.3): start at the deepest zone cut we know, ask its
//! servers, follow referrals down, resolve glueless NS names on the side, and chase aliases.
//! QNAME minimisation (RFC 9156) reveals one label per step below each cut.

use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};
use tokio::time::Instant;
use tracing::debug;

use super::budget::{Budget, ResolveError};
use super::classify::{Reply, classify, in_bailiwick};
use super::delegation::{NameServer, ServerSet};
use super::hints::ADDRESS_TYPES;
use super::trace::TraceStep;
use super::upstream::{UpstreamError, UpstreamQuery};
use super::{Resolver, Step};
use crate::cache::{Data, Key, Rank};
use crate::limits::MAX_MINIMISE_COUNT;
use crate::metrics::Metrics;

/// DNS servers listen on port 53; root hints and glue carry no port.
const DNS_PORT: u16 = 53;

fn min_ttl(records: &[Record]) -> u32 {
    records.iter().map(|r| r.ttl).min().unwrap_or(0)
}

/// RFC 2308 §5: negative answers live for min(SOA TTL, SOA MINIMUM).
fn negative_ttl(soa: &Option<Record>) -> u32 {
    match soa {
        Some(r) => match &r.data {
            RData::SOA(s) => r.ttl.min(s.minimum),
            _ => 0,
        },
        // Without an SOA there is no TTL to cache by (RFC 2308 §5).
        None => 0,
    }
}

impl Resolver {
    /// A step answered from the cache, if it can be. `stale` allows expired data (RFC 8767).
    pub(super) fn cached_step(
        &self,
        name: &Name,
        qtype: RecordType,
        now: Instant,
        stale: bool,
    ) -> Option<Step> {
        let get = |key: &Key| {
            if stale {
                self.cache.get_stale(key, now)
            } else {
                self.cache.get(key, now)
            }
        };
        if let Some(c) = get(&Key::name_only(name))
            && let Data::NxDomain { soa } = c.data
        {
            return Some(Step::NxDomain(soa));
        }
        if let Some(c) = get(&Key::new(name, qtype)) {
            match c.data {
                // RFC 2181 §5.4.1: NS sets from referrals and glue only steer the walk; an
                // answer about them comes from the zone's own servers.
                Data::Positive(_) if c.rank < Rank::NonAuthoritative => {}
                Data::Positive(records) => return Some(Step::Answer(records)),
                Data::NoData { soa } => return Some(Step::NoData(soa)),
                _ => {}
            }
        }
        if qtype != RecordType::CNAME
            && let Some(c) = get(&Key::new(name, RecordType::CNAME))
            && let Data::Positive(records) = c.data
            && let Some(RData::CNAME(CNAME(target))) = records.first().map(|r| &r.data)
        {
            let target = target.clone();
            return Some(Step::Cname(records, target));
        }
        None
    }

    /// One link of the chain: from the cache, else by walking the hierarchy.
    pub(super) async fn lookup(
        &self,
        name: &Name,
        qtype: RecordType,
        budget: &mut Budget,
    ) -> Result<Step, ResolveError> {
        if let Some(step) = self.cached_step(name, qtype, Instant::now(), false) {
            return Ok(step);
        }
        self.iterate(name, qtype, budget).await
    }

    async fn iterate(
        &self,
        name: &Name,
        qtype: RecordType,
        budget: &mut Budget,
    ) -> Result<Step, ResolveError> {
        let mut set = self.closest_servers(name, budget).await?;
        let mut referrals = 0;
        let mut minimise = self.qname_minimisation;
        let mut minimised_steps = 0;
        let mut ask_labels = set.zone.num_labels() + 1;
        loop {
            let full = !minimise || ask_labels >= name.num_labels();
            // RFC 9156 §2.1: ask type A for the intermediate names; some servers mishandle NS.
            let (ask, ask_type) = if full {
                (name.clone(), qtype)
            } else {
                (name.trim_to(usize::from(ask_labels)), RecordType::A)
            };
            let (reply, msg) = self.ask_zone(&set, &ask, ask_type, budget).await?;
            match reply {
                Reply::Referral { cut, ns, glue } => {
                    referrals += 1;
                    if referrals > budget.limits.max_delegation_depth {
                        return Err(ResolveError::DelegationTooDeep(
                            budget.limits.max_delegation_depth,
                        ));
                    }
                    let now = Instant::now();
                    self.cache.insert(
                        Key::new(&cut, RecordType::NS),
                        Data::Positive(ns.clone()),
                        min_ttl(&ns),
                        Rank::Referral,
                        now,
                    );
                    self.cache_addresses(&glue, Rank::Glue, now);
                    set = self.server_set(&cut, &ns, now);
                    ask_labels = cut.num_labels() + 1;
                }
                _ if !full => {
                    minimised_steps += 1;
                    if matches!(reply, Reply::NxDomain { .. })
                        || minimised_steps >= MAX_MINIMISE_COUNT
                    {
                        // RFC 9156 §2.3 relaxed mode: some servers answer NXDOMAIN for empty
                        // non-terminals, so ask the full name instead of trusting it.
                        minimise = false;
                    } else {
                        ask_labels += 1;
                    }
                }
                Reply::Answer(records) => {
                    self.cache.insert(
                        Key::new(name, qtype),
                        Data::Positive(records.clone()),
                        min_ttl(&records),
                        Rank::Authoritative,
                        Instant::now(),
                    );
                    return Ok(Step::Answer(records));
                }
                Reply::Cname { records, target } => {
                    let cname: Vec<Record> = records
                        .iter()
                        .filter(|r| r.record_type() == RecordType::CNAME)
                        .cloned()
                        .collect();
                    let now = Instant::now();
                    self.cache.insert(
                        Key::new(name, RecordType::CNAME),
                        Data::Positive(cname.clone()),
                        min_ttl(&cname),
                        Rank::Authoritative,
                        now,
                    );
                    self.cache_rest_of_chain(&msg, &set.zone, &target, qtype, now);
                    return Ok(Step::Cname(records, target));
                }
                Reply::NoData { soa } => {
                    let ttl = negative_ttl(&soa);
                    self.cache.insert(
                        Key::new(name, qtype),
                        Data::NoData { soa: soa.clone() },
                        ttl,
                        Rank::Authoritative,
                        Instant::now(),
                    );
                    return Ok(Step::NoData(soa));
                }
                Reply::NxDomain { soa } => {
                    let ttl = negative_ttl(&soa);
                    self.cache.insert(
                        Key::name_only(name),
                        Data::NxDomain { soa: soa.clone() },
                        ttl,
                        Rank::Authoritative,
                        Instant::now(),
                    );
                    return Ok(Step::NxDomain(soa));
                }
                Reply::Truncated | Reply::Lame(_) => {
                    // ask_zone only returns usable replies.
                    return Err(ResolveError::NoReachableAuthority(set.zone.clone()));
                }
            }
        }
    }

    /// An authoritative server that answers with an alias usually follows the chain through
    /// its own data (RFC 1034 §4.3.2 step 3a). Links inside the server's zone are as
    /// trustworthy as the first one, so, as Unbound does, cache each of them and the final
    /// RRset: the chase then takes them from the cache instead of asking again. Anything
    /// outside the zone is left for its own servers (RFC 5452 §6).
    fn cache_rest_of_chain(
        &self,
        msg: &Message,
        zone: &Name,
        first_target: &Name,
        qtype: RecordType,
        now: Instant,
    ) {
        let mut target = first_target.clone();
        let mut seen = vec![LowerName::new(&target)];
        while in_bailiwick(&target, zone) {
            let rrset: Vec<Record> = msg
                .answers
                .iter()
                .filter(|r| r.name == target && r.record_type() == qtype)
                .cloned()
                .collect();
            if !rrset.is_empty() {
                self.cache.insert(
                    Key::new(&target, qtype),
                    Data::Positive(rrset.clone()),
                    min_ttl(&rrset),
                    Rank::Authoritative,
                    now,
                );
                return;
            }
            let Some(cname) = msg
                .answers
                .iter()
                .find(|r| r.name == target && r.record_type() == RecordType::CNAME)
            else {
                return;
            };
            let RData::CNAME(CNAME(next)) = &cname.data else {
                return;
            };
            self.cache.insert(
                Key::new(&target, RecordType::CNAME),
                Data::Positive(vec![cname.clone()]),
                cname.ttl,
                Rank::Authoritative,
                now,
            );
            // A loop is the chase's to report; stop caching at its second lap.
            if seen.contains(&LowerName::new(next)) {
                return;
            }
            seen.push(LowerName::new(next));
            target = next.clone();
        }
    }

    fn cache_addresses(&self, records: &[Record], rank: Rank, now: Instant) {
        for t in ADDRESS_TYPES {
            let mut owners: Vec<&Name> = records
                .iter()
                .filter(|r| r.record_type() == t)
                .map(|r| &r.name)
                .collect();
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
    fn server_set(&self, zone: &Name, ns: &[Record], now: Instant) -> ServerSet {
        let servers = ns
            .iter()
            .filter_map(|r| match &r.data {
                RData::NS(n) => Some(n.0.clone()),
                _ => None,
            })
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

    fn cached_addresses(&self, name: &Name, now: Instant) -> Vec<IpAddr> {
        let mut out = Vec::new();
        for t in ADDRESS_TYPES {
            if let Some(c) = self.cache.get(&Key::new(name, t), now)
                && let Data::Positive(records) = c.data
            {
                for r in records {
                    match r.data {
                        RData::A(a) => out.push(IpAddr::V4(a.0)),
                        RData::AAAA(a) => out.push(IpAddr::V6(a.0)),
                        _ => {}
                    }
                }
            }
        }
        out
    }

    /// The deepest zone cut we know servers for (RFC 1034 §5.3.3 step 2); the root otherwise.
    async fn closest_servers(
        &self,
        name: &Name,
        budget: &mut Budget,
    ) -> Result<ServerSet, ResolveError> {
        let now = Instant::now();
        for labels in (1..=name.num_labels()).rev() {
            let ancestor = name.trim_to(usize::from(labels));
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
    async fn root_servers(&self, budget: &mut Budget) -> Result<ServerSet, ResolveError> {
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
                let targets: Vec<Name> = ns
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::NS(n) => Some(n.0.clone()),
                        _ => None,
                    })
                    .collect();
                let glue: Vec<Record> = msg
                    .additionals
                    .iter()
                    .filter(|r| targets.contains(&r.name))
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

    /// Asks the servers of `set` in turn until one gives a usable reply. Lame and silent
    /// servers cost one try each, not the whole budget. Glueless servers are looked up only
    /// when no server with a known address worked.
    async fn ask_zone(
        &self,
        set: &ServerSet,
        qname: &Name,
        qtype: RecordType,
        budget: &mut Budget,
    ) -> Result<(Reply, Message), ResolveError> {
        let zone = LowerName::new(&set.zone);
        let mut addrs: Vec<IpAddr> = set
            .servers
            .iter()
            .flat_map(|s| s.addrs.iter().copied())
            .collect();
        addrs.sort();
        addrs.dedup();
        self.infra.order(&mut addrs, &zone, Instant::now());
        let mut tried: Vec<IpAddr> = Vec::new();
        for addr in addrs {
            tried.push(addr);
            if let Some(r) = self
                .ask_server(addr, &set.zone, qname, qtype, budget)
                .await?
            {
                return Ok(r);
            }
        }
        for server in set.servers.iter().filter(|s| s.addrs.is_empty()) {
            let addrs = self.ns_addresses(&server.name, budget).await?;
            for addr in addrs {
                if tried.contains(&addr) {
                    continue;
                }
                tried.push(addr);
                if let Some(r) = self
                    .ask_server(addr, &set.zone, qname, qtype, budget)
                    .await?
                {
                    return Ok(r);
                }
            }
        }
        Err(ResolveError::NoReachableAuthority(set.zone.clone()))
    }

    /// Addresses of a glueless name server, resolved as a separate lookup (NXNS-bounded).
    async fn ns_addresses(
        &self,
        ns: &Name,
        budget: &mut Budget,
    ) -> Result<Vec<IpAddr>, ResolveError> {
        let cached = self.cached_addresses(ns, Instant::now());
        if !cached.is_empty() {
            return Ok(cached);
        }
        if budget.in_progress.contains(ns) {
            return Ok(Vec::new());
        }
        budget.spend_glueless()?;
        budget.in_progress.push(ns.clone());
        let result = Box::pin(self.chase(ns, RecordType::A, budget)).await;
        budget.in_progress.retain(|n| n != ns);
        match result {
            Ok(res) => Ok(res
                .answers
                .iter()
                .filter_map(|r| match &r.data {
                    RData::A(a) => Some(IpAddr::V4(a.0)),
                    _ => None,
                })
                .collect()),
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

    /// One server: UDP, then TCP if truncated. `None` means try the next server.
    async fn ask_server(
        &self,
        addr: IpAddr,
        zone: &Name,
        qname: &Name,
        qtype: RecordType,
        budget: &mut Budget,
    ) -> Result<Option<(Reply, Message)>, ResolveError> {
        let server = SocketAddr::new(addr, self.upstream_port.unwrap_or(DNS_PORT));
        let mut tcp = false;
        loop {
            let remaining = budget.remaining()?;
            budget.spend_upstream()?;
            Metrics::inc(&self.metrics.upstream_queries);
            let timeout = if tcp {
                self.infra.timeout(addr) * 2
            } else {
                self.infra.timeout(addr)
            }
            .min(remaining);
            let q = UpstreamQuery {
                server,
                qname: qname.clone(),
                qtype,
                tcp,
                timeout,
            };
            let started = Instant::now();
            let result = self.upstream.query(&q).await;
            let rtt = started.elapsed();
            let (outcome, reply) = match result {
                Err(UpstreamError::Timeout) => {
                    Metrics::inc(&self.metrics.upstream_timeouts);
                    self.infra.record_timeout(addr, rtt);
                    ("timeout".to_string(), None)
                }
                Err(e) => {
                    self.infra.record_timeout(addr, rtt.max(timeout / 2));
                    (e.to_string(), None)
                }
                Ok(msg) => {
                    self.infra.record_rtt(addr, rtt);
                    let reply = classify(&msg, zone, qname, qtype);
                    (describe(&reply), Some((reply, msg)))
                }
            };
            self.trace(TraceStep {
                server,
                zone: zone.clone(),
                qname: qname.clone(),
                qtype,
                tcp,
                outcome,
                rtt,
            });
            match reply {
                Some((Reply::Truncated, _)) if !tcp => tcp = true,
                Some((Reply::Truncated, _)) => return Ok(None),
                Some((Reply::Lame(_), _)) => {
                    self.infra
                        .mark_lame(addr, LowerName::new(zone), Instant::now());
                    return Ok(None);
                }
                Some(r) => return Ok(Some(r)),
                None => return Ok(None),
            }
        }
    }
}

fn describe(reply: &Reply) -> String {
    match reply {
        Reply::Answer(r) => format!("answer ({} records)", r.len()),
        Reply::Cname { target, .. } => format!("CNAME to {}", target.to_ascii()),
        Reply::Referral { cut, ns, glue } => format!(
            "referral to {} ({} NS, {} glue)",
            cut.to_ascii(),
            ns.len(),
            glue.len()
        ),
        Reply::NoData { .. } => "NODATA".to_string(),
        Reply::NxDomain { .. } => "NXDOMAIN".to_string(),
        Reply::Truncated => "truncated (TC=1), retrying over TCP".to_string(),
        Reply::Lame(why) => format!("lame: {why}"),
    }
}

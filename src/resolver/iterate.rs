//! The iterative walk (RFC 1034 §5.3.3): start at the deepest zone cut we know, ask its
//! servers, follow referrals down, resolve glueless NS names on the side, and chase aliases.
//! QNAME minimisation (RFC 9156) reveals one label per step below each cut.

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};
use tokio::time::Instant;

use super::budget::{Budget, ResolveError};
use super::classify::{Reply, in_bailiwick};
use super::{Resolver, Step};
use crate::cache::{Data, Key, Rank};
use crate::limits::MAX_MINIMISE_COUNT;
use crate::rr;

pub(super) fn min_ttl(records: &[Record]) -> u32 {
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
        // The exact RRset first: it is what a cache hit almost always is.
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
        if let Some(c) = get(&Key::name_only(name))
            && let Data::NxDomain { soa } = c.data
        {
            return Some(Step::NxDomain(soa));
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
        // RFC 4035 §3.1.4.1: DS lives on the parent side of a cut, so start above it; the
        // child's own servers would answer NODATA.
        let start = if qtype == RecordType::DS && !name.is_root() {
            name.base_name()
        } else {
            name.clone()
        };
        let mut set = self.closest_servers(&start, budget).await?;
        let mut referrals = 0;
        let mut minimise = self.qname_minimisation;
        let mut minimised_steps = 0;
        let mut ask_labels = rr::label_count(&set.zone) + 1;
        loop {
            let full = !minimise || ask_labels >= rr::label_count(name);
            // RFC 9156 §2.1: ask type A for the intermediate names; some servers mishandle NS.
            let (ask, ask_type) = if full {
                (name.clone(), qtype)
            } else {
                (name.trim_to(ask_labels), RecordType::A)
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
                    ask_labels = rr::label_count(&cut) + 1;
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
                    let now = Instant::now();
                    let key = Key::new(name, qtype);
                    let mut ttl = min_ttl(&records);
                    if qtype == RecordType::NS
                        && let Some(delegation) = self.cache.get(&key, now)
                    {
                        // The child's NS set may refine the delegation but never outlive it:
                        // otherwise a zone its parent removed lives on ("ghost domain",
                        // CVE-2012-1033), renewed by the child itself.
                        ttl = ttl.min(delegation.ttl);
                    }
                    self.cache.insert(
                        key,
                        Data::Positive(records.clone()),
                        ttl,
                        Rank::Authoritative,
                        now,
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
}

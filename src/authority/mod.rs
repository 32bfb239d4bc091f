//! Local authoritative data: the zones tern serves, and RFC 1034 §4.3.2 answers from them.
//!
//! Pure data, no I/O on the query path: a [`Catalog`] holds immutable [`Zone`]s; reloading or
//! updating builds a new catalog and swaps it in, so in-flight queries keep a consistent view.

pub(crate) mod balance;
pub(crate) mod builtin;
pub(crate) mod journal;
pub(crate) mod lookup;
pub(crate) mod reload;
pub(crate) mod rules;
pub(crate) mod signed;
pub(crate) mod store;
pub(crate) mod transfer;
pub(crate) mod update;
pub(crate) mod zone;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};

pub(crate) use crate::zonefile::ZoneErrors;
pub(crate) use lookup::Answer;
use signed::extend_unique;
pub use zone::Zone;

use crate::limits::LOCAL_CNAME_CHAIN;

/// The set of zones served, keyed by origin.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    zones: HashMap<LowerName, Arc<Zone>>,
    /// Zones we are authoritative for but cannot answer from: a secondary with no copy yet,
    /// or whose copy expired (RFC 1035 §3.3.13 SOA EXPIRE). Their names get SERVFAIL, never
    /// an answer from a parent zone or the resolver.
    unavailable: HashSet<LowerName>,
    /// The zones' top-level labels, lowercase; `None` when one zone is the root, which holds
    /// every name. A name under none of them is in no zone of ours, known without the
    /// lowercased copy and the lookup per label of [`Catalog::find`]'s walk (a resolver's
    /// built-in zones, or an authority's, are asked about every miss).
    tops: Option<Vec<Box<[u8]>>>,
}

/// Two zones with one origin cannot both be served.
#[derive(Debug, thiserror::Error)]
#[error("zone {0} is configured twice")]
pub struct DuplicateZone(pub(crate) Name);

/// A complete local answer, section by section.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalAnswer {
    pub rcode: ResponseCode,
    pub authoritative: bool,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
    /// An alias chain that left every local zone stops here; a resolver may continue from it.
    pub unresolved_target: Option<Name>,
    /// The name (qname, or an alias target) that reached a zone cut: the authority section
    /// is a referral, and a resolver may continue from that name at the child's servers.
    pub delegated: Option<Name>,
    /// The authority section's NS RRset is only the zone's, added to a positive answer: when
    /// the response is too big it may be dropped (with its RRSIGs) without setting TC, as NSD
    /// does (it is not part of the answer, RFC 2181 §9). A wildcard answer's NSEC/NSEC3 proof
    /// beside it stays; a referral's NS RRset is never optional.
    pub optional_authority: bool,
}

impl LocalAnswer {
    fn new() -> Self {
        LocalAnswer {
            rcode: ResponseCode::NoError,
            authoritative: true,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            unresolved_target: None,
            delegated: None,
            optional_authority: false,
        }
    }
}

impl Catalog {
    pub fn new(zones: impl IntoIterator<Item = Zone>) -> Result<Catalog, DuplicateZone> {
        Catalog::from_shared(zones.into_iter().map(Arc::new))
    }

    /// A catalog of snapshots that other catalogs (or the zone store) hold too.
    pub(crate) fn from_shared(
        zones: impl IntoIterator<Item = Arc<Zone>>,
    ) -> Result<Catalog, DuplicateZone> {
        let mut map = HashMap::new();
        for zone in zones {
            let key = LowerName::new(zone.origin());
            if map.contains_key(&key) {
                return Err(DuplicateZone(zone.origin().clone()));
            }
            map.insert(key, zone);
        }
        let mut tops = Some(Vec::new());
        for zone in map.values() {
            match (zone.origin().iter().next_back(), &mut tops) {
                (None, _) => tops = None,
                (Some(top), Some(list)) => {
                    let top: Box<[u8]> = top.to_ascii_lowercase().into();
                    if !list.contains(&top) {
                        list.push(top);
                    }
                }
                (Some(_), None) => {}
            }
        }
        Ok(Catalog {
            zones: map,
            unavailable: HashSet::new(),
            tops,
        })
    }

    /// Marks zones served here that have no usable data (see `unavailable`). A zone both
    /// served and unavailable is served.
    pub(crate) fn with_unavailable(mut self, origins: impl IntoIterator<Item = Name>) -> Catalog {
        self.unavailable.extend(
            origins
                .into_iter()
                .map(|o| LowerName::new(&o))
                .filter(|o| !self.zones.contains_key(o)),
        );
        self
    }

    /// True when the deepest zone of ours containing `name` is unavailable.
    pub(crate) fn is_unavailable(&self, name: &Name) -> bool {
        if self.unavailable.is_empty() {
            return false;
        }
        let mut cur = LowerName::new(name);
        loop {
            if self.zones.contains_key(&cur) {
                return false;
            }
            if self.unavailable.contains(&cur) {
                return true;
            }
            if cur.is_root() {
                return false;
            }
            cur = cur.base_name();
        }
    }

    /// True when `qtype` at `name` is for a zone we cannot answer from. The DS RRset at an
    /// unavailable zone's apex is not that zone's but its parent's (RFC 4035 §3.1.4.1): when
    /// we serve the parent, and can answer from it, it answers, as in BIND.
    fn cannot_answer(&self, name: &Name, qtype: RecordType) -> bool {
        if !self.is_unavailable(name) {
            return false;
        }
        let parent_side = qtype == RecordType::DS
            && !name.is_root()
            && self.unavailable.contains(&LowerName::new(name))
            && !self.is_unavailable(&name.base_name())
            && self.find(&name.base_name()).is_some();
        !parent_side
    }

    pub fn zones(&self) -> impl Iterator<Item = &Arc<Zone>> {
        self.zones.values()
    }

    /// The deepest zone containing `name` (a child zone wins over its parent, as in NSD).
    pub fn find(&self, name: &Name) -> Option<&Arc<Zone>> {
        // A pure resolver serves no zones (no top labels at all), and most names lie under
        // none of ours: skip the per-label walk.
        if let Some(tops) = &self.tops {
            let top = name.iter().next_back()?;
            if !tops.iter().any(|t| t.eq_ignore_ascii_case(top)) {
                return None;
            }
        }
        let mut cur = LowerName::new(name);
        loop {
            if let Some(z) = self.zones.get(&cur) {
                return Some(z);
            }
            if cur.is_root() {
                return None;
            }
            cur = cur.base_name();
        }
    }

    /// The zone that answers `qtype` at `name`: DS at a child's apex belongs to the parent
    /// (RFC 4035 §3.1.4.1) when we serve it.
    fn zone_for(&self, name: &Name, qtype: RecordType) -> Option<&Arc<Zone>> {
        let zone = self.find(name)?;
        if qtype == RecordType::DS && zone.origin() == name && !name.is_root() {
            return self.find(&name.base_name()).or(Some(zone));
        }
        Some(zone)
    }

    /// Orders each RRset of `answer`'s answer section by its zone's rules, for `client`. The
    /// records are the answer's own copies: the zone's, shared by every query in flight, stay
    /// as they are.
    pub(crate) fn balance(&self, answer: &mut LocalAnswer, client: IpAddr) {
        let records = &mut answer.answers;
        let mut start = 0;
        while start < records.len() {
            let (name, rtype) = (records[start].name.clone(), records[start].record_type());
            let len = records[start..]
                .iter()
                .take_while(|r| r.record_type() == rtype && r.name == name)
                .count();
            let end = start + len;
            if len > 1
                && let Some(zone) = self.find(&name)
                && let Some((policy, members)) = zone.balance().for_name(&name)
            {
                let turn = zone.turns().next(&name, rtype);
                let member =
                    |r: &Record| members.map_or_else(balance::Member::default, |m| m.member(r));
                balance::order(
                    policy,
                    &mut records[start..end],
                    turn,
                    client,
                    &member,
                    &mut rand::rng(),
                );
            }
            start = end;
        }
    }

    /// Answers from local zones, following aliases between them. `None` when no served zone
    /// contains `qname`.
    pub fn answer(&self, qname: &Name, qtype: RecordType) -> Option<LocalAnswer> {
        self.answer_to(qname, qtype, false)
    }

    /// [`Catalog::answer`] for a query whose DO bit is `dnssec_ok`: from a signed zone, a DO=1
    /// answer carries the RRSIGs of its RRsets and the NSEC/NSEC3 proofs of what does not
    /// exist (RFC 4035 §3.1); without DO, or from an unsigned zone, nothing is added.
    pub fn answer_to(
        &self,
        qname: &Name,
        qtype: RecordType,
        dnssec_ok: bool,
    ) -> Option<LocalAnswer> {
        if self.cannot_answer(qname, qtype) {
            let mut out = LocalAnswer::new();
            out.rcode = ResponseCode::ServFail;
            out.authoritative = false;
            return Some(out);
        }
        let mut zone = self.zone_for(qname, qtype)?;
        let mut out = LocalAnswer::new();
        let mut name = qname.clone();
        let mut seen = HashSet::new();
        // Proofs of earlier steps (a CNAME synthesised from a wildcard) for the final answer.
        let mut proofs: Vec<Record> = Vec::new();
        for _ in 0..=LOCAL_CNAME_CHAIN {
            seen.insert(LowerName::new(&name));
            let signed = if dnssec_ok { zone.signed() } else { None };
            // The RRSIGs of this step's answer RRsets (signed zones, DO=1 only).
            let mut signatures = Vec::new();
            let answer = match signed {
                None => zone.lookup(&name, qtype),
                Some(dnssec) => {
                    let (answer, source) = zone.find(&name, qtype);
                    let evidence = zone.evidence(dnssec, &name, &answer, &source);
                    extend_unique(&mut proofs, &evidence.authority);
                    signatures = evidence.answer;
                    answer
                }
            };
            match answer {
                Answer::Records(records) => {
                    out.answers.extend(records);
                    out.answers.append(&mut signatures);
                    self.add_authority_and_additional(zone, qtype, signed.is_some(), &mut out);
                    out.authorities.extend(proofs);
                    return Some(out);
                }
                Answer::Cname { records, target } => {
                    out.answers.extend(records);
                    out.answers.append(&mut signatures);
                    if qtype == RecordType::CNAME || seen.contains(&LowerName::new(&target)) {
                        return Some(out);
                    }
                    // An alias into a zone we cannot answer from gets what the name would get
                    // asked directly (SERVFAIL), not the parent zone's or a resolver's answer.
                    if self.cannot_answer(&target, qtype) {
                        out.rcode = ResponseCode::ServFail;
                        out.authoritative = false;
                        return Some(out);
                    }
                    match self.zone_for(&target, qtype) {
                        Some(z) => zone = z,
                        None => {
                            out.unresolved_target = Some(target);
                            return Some(out);
                        }
                    }
                    name = target;
                }
                Answer::Referral(delegation) => {
                    // AA covers the answer section; a bare referral has none (RFC 1034 §4.3.2).
                    out.authoritative = !out.answers.is_empty();
                    out.authorities = delegation.ns;
                    out.authorities.extend(proofs);
                    out.additionals = delegation.glue;
                    out.delegated = Some(name);
                    return Some(out);
                }
                Answer::NoData { soa } => {
                    out.authorities.push(soa);
                    out.authorities.extend(proofs);
                    return Some(out);
                }
                Answer::NxDomain { soa } => {
                    // RFC 6604 §2.1: the RCODE describes the last name in the chain.
                    out.rcode = ResponseCode::NXDomain;
                    out.authorities.push(soa);
                    out.authorities.extend(proofs);
                    return Some(out);
                }
                Answer::YxDomain { records } => {
                    out.rcode = ResponseCode::YXDomain;
                    out.answers.extend(records);
                    out.answers.append(&mut signatures);
                    return Some(out);
                }
            }
        }
        // The chain is longer than we follow: hand back what we have, as NSD does.
        Some(out)
    }

    /// The optional parts of a positive answer from `zone`, as NSD (and BIND) send them:
    ///
    /// * authority: the zone's apex NS RRset (RFC 1034 §4.3.2 step 6 and RFC 2181 §6.1 allow
    ///   it; it tells the client who else is authoritative), except for DS and DNSKEY, whose
    ///   answers are large already, for ANY (RFC 8482 keeps those minimal), and when the NS
    ///   RRset already is the answer;
    /// * additional: addresses of the NS, MX and SRV targets in the answer and of the NS
    ///   targets in the authority section (RFC 1035 §3.3.9, §3.3.11; RFC 2782), from the
    ///   same zone, never repeating an RRset already in the message.
    ///
    /// A and AAAA RRsets are ordered A first, so that when the response must shrink the
    /// AAAA records go first, as with NSD.
    ///
    /// From a `signed` zone for a DO=1 query, each RRset added carries its RRSIGs (glue has
    /// none; RFC 4035 §3.1.1).
    fn add_authority_and_additional(
        &self,
        zone: &Zone,
        qtype: RecordType,
        signed: bool,
        out: &mut LocalAnswer,
    ) {
        let apex_ns = zone
            .node(&LowerName::new(zone.origin()))
            .and_then(|node| node.get(RecordType::NS))
            .unwrap_or_default();
        let ns_in_answer = out
            .answers
            .iter()
            .any(|r| r.record_type() == RecordType::NS && r.name == *zone.origin());
        let with_apex_ns = !matches!(qtype, RecordType::DS | RecordType::DNSKEY | RecordType::ANY)
            && !ns_in_answer;
        if with_apex_ns {
            out.authorities.extend_from_slice(apex_ns);
            out.optional_authority = !apex_ns.is_empty();
            if signed && !apex_ns.is_empty() {
                out.authorities
                    .extend(zone.signatures_of(zone.origin(), RecordType::NS));
            }
        }

        let mut addresses: Vec<Record> = Vec::new();
        let mut add = |a: &Record, answers: &[Record]| {
            if !answers.contains(a) && !addresses.contains(a) {
                addresses.push(a.clone());
            }
        };
        for r in &out.answers {
            let (target, allow_glue) = match &r.data {
                RData::NS(ns) => (&ns.0, true),
                RData::MX(mx) => (&mx.exchange, false),
                RData::SRV(srv) => (&srv.target, false),
                _ => continue,
            };
            for a in zone.additional_addresses(target, allow_glue) {
                add(&a, &out.answers);
            }
        }
        // The apex NS RRset's addresses are the zone's, worked out when the zone was loaded.
        if with_apex_ns {
            for a in zone.apex_ns_addresses() {
                add(a, &out.answers);
            }
        }
        addresses.sort_by_key(|r| r.record_type() != RecordType::A);
        if signed {
            addresses = signed::with_signatures(zone, addresses);
        }
        out.additionals = addresses;
    }
}

#[cfg(test)]
mod cname_referral_review;
#[cfg(test)]
mod parent_side_review;
#[cfg(test)]
mod review_tests;
#[cfg(test)]
mod tests;

//! The validator stage (DESIGN.md: validation is a stage, not a flag): between the store
//! stage and the answer, each link of a chain not yet validated is checked with the pure
//! validator of [`crate::dnssec`], and its verdict written into the cache with the data (the
//! entry's lifetime capped by its signatures, a bogus one by `BOGUS_TTL`), so the next client
//! costs no crypto. Unbound's validator module between iterator and cache is the model.
//!
//! For a link: the closest trust anchor; the zone that signed it (the RRSIG's signer, a
//! negative answer's SOA owner, else the closest cached zone cut); that zone's keys, by
//! walking down from the anchor (DS from the parent, verified with the parent's keys, then
//! the child's DNSKEY RRset), each zone's [`KeyState`] cached with its TTL; then the RRset,
//! or the NSEC/NSEC3 proof of a negative or wildcard answer. DS and DNSKEY RRsets are fetched
//! through the resolver's own chain (cache, then a walk), unvalidated: the chain step
//! authenticates them.

mod aggressive;
mod any;
mod clock;
mod ds;
mod keys;
mod nta;
mod retry;

use std::sync::Arc;

use hickory_proto::rr::{Name, Record, RecordType};
use tokio::time::Instant;

use super::budget::Budget;
use super::reading::{Missed, Reading, Seen};
use super::{Link, Resolution, Resolver, Step, proof};
use crate::cache::{Key, Trust};
use crate::dnssec::anchor::Anchors;
use crate::dnssec::chain::KeyState;
use crate::dnssec::verify::rrsig;
use crate::dnssec::{BOGUS_TTL, Ede, Security, SignedRrset, TrustAnchor, Validation};

pub(crate) use clock::UnixClock;
pub(crate) use keys::KeyCache;
#[cfg(test)]
pub(crate) use nta::Source as NtaSource;
pub(crate) use nta::{Added as NtaAdded, Lifetime, NtaChange, NtaError};

/// Where the validator's trace lines go (`tern resolve --trace`).
pub(crate) type ValidatorTrace = Arc<dyn Fn(&str) + Send + Sync>;

/// Nothing is cached longer than this by a verdict: RFC 8767's upper bound for any data.
const MAX_VERDICT_TTL: u32 = 7 * 86_400;

/// The validator's configuration and its key cache.
pub(crate) struct Validator {
    anchors: Anchors,
    /// RFC 7646 negative trust anchors: names at or below these are insecure.
    negative: nta::NegativeAnchors,
    keys: KeyCache,
    /// Secure NXDOMAIN proofs kept per zone (RFC 8198).
    aggressive: aggressive::Aggressive,
    /// A walk's `now` in UNIX seconds, for RRSIG validity (RFC 4034 §3.1.5).
    clock: UnixClock,
    trace: Option<ValidatorTrace>,
}

impl Validator {
    pub(crate) fn new(anchors: Anchors, negative: Vec<Name>) -> Validator {
        Validator {
            anchors,
            negative: nta::NegativeAnchors::new(negative),
            keys: KeyCache::default(),
            aggressive: aggressive::Aggressive::default(),
            clock: UnixClock::wall(),
            trace: None,
        }
    }

    /// Sends a line per check to `trace` (`tern resolve --trace`).
    pub(crate) fn with_trace(mut self, trace: ValidatorTrace) -> Validator {
        self.trace = Some(trace);
        self
    }

    /// One validation as of the walk's time `now`.
    fn run(&self, now: Instant) -> Validation {
        let now = self.clock.unix(now);
        if self.trace.is_some() {
            Validation::traced(now)
        } else {
            Validation::new(now)
        }
    }

    fn emit(&self, v: &Validation) {
        if let Some(sink) = &self.trace {
            for line in v.trace.lines() {
                sink(&line.to_string());
            }
        }
    }

    pub(crate) fn under_negative_anchor(&self, name: &Name) -> bool {
        self.negative.covers(name)
    }

    /// The verdict on data at `name` if a negative trust anchor covers it, as
    /// [`Resolver::check_link`] makes it: insecure (RFC 7646 §1.1), or indeterminate where no
    /// trust anchor covers the name either. `None` elsewhere.
    pub(crate) fn negative_verdict(&self, name: &Name) -> Option<Trust> {
        if !self.negative.covers(name) {
            return None;
        }
        Some(match self.anchors.closest(name) {
            Some(_) => Trust::Insecure,
            None => Trust::Indeterminate,
        })
    }
}

/// The cache's words for a verdict.
pub(crate) fn trust_of(security: &Security) -> Trust {
    match security {
        Security::Secure => Trust::Secure,
        Security::Insecure => Trust::Insecure,
        Security::Indeterminate => Trust::Indeterminate,
        Security::Bogus(r) => Trust::Bogus {
            ede: security.ede().unwrap_or(Ede::Bogus).code(),
            why: r.to_string(),
        },
    }
}

/// The cache entry a link was read from or stored in; none for a YXDOMAIN, which is not kept
/// as an RRset (its verdict goes with the answer, to the message tier).
pub(super) fn link_key(name: &Name, qtype: RecordType, step: &Step) -> Option<Key> {
    match step {
        Step::Answer(_) | Step::NoData(_) => Some(Key::new(name, qtype)),
        Step::Cname(..) => Some(Key::new(name, RecordType::CNAME)),
        Step::NxDomain(_) => Some(Key::name_only(name)),
        Step::YxDomain(_) => None,
    }
}

/// The signer named by the first RRSIG among `records`.
fn signer(records: &[Record]) -> Option<Name> {
    records
        .iter()
        .find_map(rrsig)
        .map(|s| s.input().signer_name.clone())
}

/// The RRset (`name`, `rtype`) of a resolution's answer, with its RRSIGs.
fn rrset_of(res: &Resolution, name: &Name, rtype: RecordType) -> SignedRrset {
    SignedRrset {
        name: name.clone(),
        rtype,
        records: res
            .answers
            .iter()
            .filter(|r| r.name == *name && r.record_type() == rtype)
            .cloned()
            .collect(),
        rrsigs: proof::sigs(&res.answer_sigs, name, rtype).collect(),
    }
}

/// The RRset (`name`, `rtype`) among `records`, with its RRSIGs from `signed`.
fn rrset_in(records: &[Record], signed: &[Record], name: &Name, rtype: RecordType) -> SignedRrset {
    SignedRrset {
        name: name.clone(),
        rtype,
        records: records
            .iter()
            .filter(|r| r.name == *name && r.record_type() == rtype)
            .cloned()
            .collect(),
        rrsigs: proof::sigs(signed, name, rtype).collect(),
    }
}

/// A negative answer's records as RRsets for `Validation::denial`: the NSEC/NSEC3 proof and
/// the SOA, each with its RRSIGs.
fn denial_sets(soa: Option<&Record>, proof: &[Record]) -> Vec<SignedRrset> {
    let mut all: Vec<Record> = proof.to_vec();
    all.extend(soa.cloned());
    SignedRrset::group(&all)
}

impl Resolver {
    /// Validates one link of a chain and records the verdict in the cache with the data.
    pub(super) async fn validate_link(
        &self,
        val: &Validator,
        name: &Name,
        qtype: RecordType,
        link: &Link,
        budget: &mut Budget,
    ) -> Trust {
        let mut v = val.run(budget.now);
        let (zone, security, ttl) = self
            .check_link(val, &mut v, name, qtype, link, budget)
            .await;
        v.trace.verdict(&zone, name, qtype, &security);
        val.emit(&v);
        let ttl = match security {
            Security::Bogus(_) => ttl.min(BOGUS_TTL),
            _ => ttl.min(MAX_VERDICT_TTL),
        };
        let trust = trust_of(&security);
        // A negative trust anchor's verdict is not kept with the data (`read_chain` makes it
        // on each read): kept, it would outlive the anchor in a cache file, which a restart
        // without the anchor would load as a verdict on the signatures. A YXDOMAIN has no
        // entry to keep one with (`link_key`).
        if !val.under_negative_anchor(name)
            && let Some(key) = link_key(name, qtype, &link.step)
        {
            self.cache.set_trust(&key, trust.clone(), ttl, budget.now);
        }
        trust
    }

    /// The verdict on a link, the zone it was judged in, and how long it may be kept.
    async fn check_link(
        &self,
        val: &Validator,
        v: &mut Validation,
        name: &Name,
        qtype: RecordType,
        link: &Link,
        budget: &mut Budget,
    ) -> (Name, Security, u32) {
        let Some(anchor) = val.anchors.closest(name).cloned() else {
            return (Name::root(), Security::Indeterminate, u32::MAX);
        };
        if val.under_negative_anchor(name) {
            return (anchor.zone, Security::Insecure, u32::MAX);
        }
        let signed = &link.signed.records;
        match &link.step {
            Step::Answer(records) if qtype == RecordType::ANY => {
                self.check_any(val, v, name, records, signed, &anchor, budget)
                    .await
            }
            Step::Answer(records) | Step::Cname(records, _) | Step::YxDomain(records) => {
                let rtype = match link.step {
                    Step::Cname(..) => RecordType::CNAME,
                    Step::YxDomain(_) => RecordType::DNAME,
                    _ => qtype,
                };
                // A YXDOMAIN's data is the DNAME above the name (RFC 6672 §2.2).
                let owner = match &link.step {
                    Step::YxDomain(records) => records.first().map_or(name, |d| &d.name),
                    _ => name,
                };
                let mut set = rrset_in(records, signed, owner, rtype);
                if let Step::Cname(_, target) = &link.step
                    && set.rrsigs.is_empty()
                    && let Some(dname) = proof::dname_source(records, name, target)
                {
                    // RFC 6672 §5.3.1: a synthesized CNAME is as secure as its DNAME.
                    set = rrset_in(records, signed, &dname.name, RecordType::DNAME);
                }
                let zone = match set.signer() {
                    Some(z) if z.zone_of(name) && anchor.zone.zone_of(z) => z.clone(),
                    _ => self.cut_above(name, rtype == RecordType::DS, &anchor, budget),
                };
                let keys = match self.zone_keys(val, v, &anchor, &zone, budget).await {
                    KeyState::Secure(keys) => keys,
                    state => return (zone, state.security(), state.ttl()),
                };
                let checked = v.verify(&set, &keys);
                let Some(closest) = checked.wildcard.filter(|_| checked.security.is_secure())
                else {
                    return (zone, checked.security, checked.ttl);
                };
                // RFC 4035 §5.3.4: a wildcard expansion needs proof that `name` is absent.
                let sets = SignedRrset::group(signed);
                match v.denial(&keys, &sets) {
                    Ok(denial) => {
                        let security = checked
                            .security
                            .and(v.wildcard_answer(&denial, name, &closest));
                        let ttl = checked.ttl.min(denial.ttl());
                        // (Nothing is kept of a `no_cache` forward zone: its proofs neither.)
                        if security.is_secure()
                            && matches!(link.step, Step::Answer(_))
                            && self.caches(name)
                        {
                            // RFC 8198 §5.2: other names this proof denies get the same data.
                            let proof = signed
                                .iter()
                                .filter(|r| !set.rrsigs.contains(r))
                                .cloned()
                                .collect();
                            // Answers made from it live no longer than the cache keeps
                            // this expansion (`max_ttl`).
                            let proof = aggressive::Proof {
                                denial,
                                records: proof,
                                ttl: ttl.min(self.cache.policy().max_ttl),
                            };
                            let answered = (set.records.clone(), set.rrsigs.clone());
                            val.aggressive
                                .remember_wildcard(&zone, &closest, answered, proof, budget.now);
                        }
                        (zone, security, ttl)
                    }
                    Err(reason) => (zone, Security::Bogus(reason), BOGUS_TTL),
                }
            }
            Step::NoData(soa) | Step::NxDomain(soa) => {
                let zone = match (soa, signer(signed)) {
                    (Some(soa), _) if soa.name.zone_of(name) && anchor.zone.zone_of(&soa.name) => {
                        soa.name.clone()
                    }
                    (_, Some(z)) if z.zone_of(name) && anchor.zone.zone_of(&z) => z,
                    _ => self.cut_above(name, qtype == RecordType::DS, &anchor, budget),
                };
                let keys = match self.zone_keys(val, v, &anchor, &zone, budget).await {
                    KeyState::Secure(keys) => keys,
                    state => return (zone, state.security(), state.ttl()),
                };
                let sets = denial_sets(soa.as_ref(), signed);
                let mut ttl = u32::MAX;
                if let Some(soa_set) = sets.iter().find(|s| s.rtype == RecordType::SOA) {
                    let checked = v.verify(soa_set, &keys);
                    if !checked.security.is_secure() {
                        return (zone, checked.security, BOGUS_TTL);
                    }
                    ttl = checked.ttl;
                }
                let denial = match v.denial(&keys, &sets) {
                    Ok(denial) => denial,
                    Err(reason) => return (zone, Security::Bogus(reason), BOGUS_TTL),
                };
                let security = match link.step {
                    Step::NxDomain(_) => v.nxdomain(&denial, name),
                    _ => v.nodata(&denial, name, qtype),
                };
                let ttl = ttl.min(denial.ttl());
                if matches!(link.step, Step::NxDomain(_))
                    && security.is_secure()
                    && self.caches(name)
                {
                    let records = soa.iter().chain(signed).cloned().collect();
                    // Its NXDOMAINs live no longer than this one is cached: RFC 9077's
                    // min(SOA TTL, MINIMUM), and `negative_max_ttl`.
                    let negative = super::store::negative_ttl(soa.as_ref());
                    let proof = aggressive::Proof {
                        denial,
                        records,
                        ttl: ttl.min(negative).min(self.cache.policy().negative_max_ttl),
                    };
                    val.aggressive.remember(&zone, proof, budget.now);
                }
                (zone, security, ttl)
            }
        }
    }

    /// The closest zone cut at or above `name` (strictly above with `strictly`, for DS) that
    /// the cache knows, never above the anchor's zone: the zone whose keys must sign data that
    /// came without an RRSIG saying so.
    fn cut_above(
        &self,
        name: &Name,
        strictly: bool,
        anchor: &TrustAnchor,
        budget: &Budget,
    ) -> Name {
        let start = if strictly && !name.is_root() {
            name.base_name()
        } else {
            name.clone()
        };
        Key::ancestors(&start, RecordType::NS)
            .find(|k| self.cache.inspect(k, budget.now, |_, _| ()).is_some())
            .map(|k| k.name())
            .filter(|cut| anchor.zone.zone_of(cut))
            .unwrap_or_else(|| anchor.zone.clone())
    }

    /// A DS or DNSKEY RRset (or its absence) through the resolver's own chain: the cache,
    /// else a walk on `budget`; not validated (the chain step authenticates it).
    fn fetch<'a>(
        &'a self,
        name: &'a Name,
        rtype: RecordType,
        budget: &'a mut Budget,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Resolution, super::ResolveError>> + Send + 'a>>
    {
        self.fetch_reading(name, rtype, Missed::Nothing, budget)
    }

    /// [`Resolver::fetch`] past the cache, from a server other than those `budget` avoids.
    fn refetch<'a>(
        &'a self,
        name: &'a Name,
        rtype: RecordType,
        budget: &'a mut Budget,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Resolution, super::ResolveError>> + Send + 'a>>
    {
        self.fetch_reading(name, rtype, Missed::First, budget)
    }

    /// [`Resolver::fetch`] and [`Resolver::refetch`]: `missed`, what of the cache is passed by.
    fn fetch_reading<'a>(
        &'a self,
        name: &'a Name,
        rtype: RecordType,
        missed: Missed,
        budget: &'a mut Budget,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Resolution, super::ResolveError>> + Send + 'a>>
    {
        Box::pin(async move {
            let now = budget.now;
            let reading = Reading {
                stale: false,
                missed,
                validate: false,
            };
            let mut budget = Some(budget);
            self.read_chain(name, rtype, reading, &mut budget, now, &mut Seen::default())
                .await
                .and_then(|r| r.ok_or(super::ResolveError::Internal))
        })
    }

    /// The keys that sign `zone`'s data: from the key cache, or by the chain of trust from
    /// `anchor` down to `zone` (RFC 4035 §5.2), cached with its TTL.
    fn zone_keys<'a>(
        &'a self,
        val: &'a Validator,
        v: &'a mut Validation,
        anchor: &'a TrustAnchor,
        zone: &'a Name,
        budget: &'a mut Budget,
    ) -> std::pin::Pin<Box<dyn Future<Output = KeyState> + Send + 'a>> {
        Box::pin(async move {
            if let Some(state) = val.keys.get(zone, budget.now) {
                return state;
            }
            let state = self.chain_of_trust(val, v, anchor, zone, budget).await;
            val.keys.put(zone, &state, budget.now);
            state
        })
    }

    async fn chain_of_trust(
        &self,
        val: &Validator,
        v: &mut Validation,
        anchor: &TrustAnchor,
        zone: &Name,
        budget: &mut Budget,
    ) -> KeyState {
        let bogus = |ede, step: String| KeyState::Bogus {
            reason: crate::dnssec::Reason::new(zone, ede, step),
            ttl: BOGUS_TTL,
        };
        if *zone == anchor.zone {
            return self
                .judged_dnskeys(zone, budget, |dnskeys| v.anchored_keys(anchor, dnskeys))
                .await;
        }
        if !anchor.zone.zone_of(zone) {
            return bogus(Ede::Bogus, format!("{zone} is not below {}", anchor.zone));
        }
        let (ds, ttl) = match self.judged_ds(val, v, anchor, zone, budget).await {
            Ok(ds) => ds,
            Err(state) => return state,
        };
        self.judged_dnskeys(zone, budget, |dnskeys| {
            v.keys_from_ds(zone, &ds, ttl, dnskeys)
        })
        .await
    }
}

fn insecure_below(zone: &Name, parent: &Name, ttl: u32) -> KeyState {
    KeyState::Insecure {
        zone: zone.clone(),
        ttl,
        why: format!("below the insecure {parent}"),
        ede: None,
    }
}

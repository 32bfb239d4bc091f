//! RFC 8198: a validated proof of absence says more than the name it was fetched for. The
//! NSEC (or NSEC3) records of a secure NXDOMAIN are kept per zone for as long as the proof
//! may be cached, and a later question for another name they cover — the covering record and
//! the wildcard's denial both hold — is answered NXDOMAIN from them without asking (§5.1);
//! a secure wildcard expansion is kept with the proof that its name did not exist, and
//! another name the same proof denies below the same closest encloser gets the wildcard's
//! data (§5.2). Unbound does both with `aggressive-nsec: yes` (its default since 1.17). The
//! decisions are the validator core's ([`Validation::proves_nonexistent`],
//! [`Validation::wildcard_answer`]): only a complete, secure proof counts.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{LowerName, Name, Record, RecordType};
use tokio::time::Instant;

use crate::cache::Trust;
use crate::dnssec::Validation;
use crate::dnssec::denial::Denial;
use crate::resolver::{Resolution, Resolver};

/// Proofs kept per zone: the most recent ones. A zone's NSEC chain is walked by the questions
/// that miss, so a few proofs cover what is being asked; more would cost a scan per miss.
const PER_ZONE: usize = 16;
/// Zones kept at most; when full, a new zone is kept only after expired ones are dropped.
const ZONES: usize = 4096;

/// A proof as the validator checked it, the records that carry it (the SOA of an NXDOMAIN,
/// the NSEC/NSEC3 records, their RRSIGs), and for how many seconds it may be kept.
pub(crate) struct Proof {
    pub(crate) denial: Denial,
    pub(crate) records: Vec<Record>,
    pub(crate) ttl: u32,
}

/// A kept proof, until `expires`.
#[derive(Clone)]
struct Kept {
    denial: Denial,
    records: Vec<Record>,
    expires: Instant,
}

impl Kept {
    fn new(proof: Proof, expires: Instant) -> Kept {
        Kept {
            denial: proof.denial,
            records: proof.records,
            expires,
        }
    }
}

/// Appends `item`, dropping the oldest past [`PER_ZONE`].
fn bounded<T>(queue: &mut VecDeque<T>, item: T) {
    if queue.len() >= PER_ZONE {
        queue.pop_front();
    }
    queue.push_back(item);
}

/// One secure wildcard expansion: the wildcard's closest encloser and type, the RRset and its
/// RRSIGs as they came for the name first asked, and the proof that name did not exist.
#[derive(Clone)]
struct Wildcard {
    closest: Name,
    rtype: RecordType,
    rrset: Vec<Record>,
    rrsigs: Vec<Record>,
    kept: Kept,
}

/// What is kept of one zone.
#[derive(Default)]
struct Zone {
    nxdomain: VecDeque<Kept>,
    wildcards: VecDeque<Wildcard>,
}

impl Zone {
    fn expire(&mut self, now: Instant) {
        self.nxdomain.retain(|k| k.expires > now);
        self.wildcards.retain(|w| w.kept.expires > now);
    }

    fn is_empty(&self) -> bool {
        self.nxdomain.is_empty() && self.wildcards.is_empty()
    }
}

/// A wildcard answer synthesised for another name: the RRset and its RRSIGs under that name,
/// and the proof records (TTLs as time left).
pub(crate) struct Expansion {
    pub(crate) rrset: Vec<Record>,
    pub(crate) rrsigs: Vec<Record>,
    pub(crate) proof: Vec<Record>,
}

/// The kept proofs, by zone.
#[derive(Default)]
pub(crate) struct Aggressive {
    zones: Mutex<HashMap<LowerName, Zone>>,
}

impl Aggressive {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<LowerName, Zone>> {
        // Entries are whole when inserted; a panic elsewhere cannot leave half of one.
        self.zones.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The kept data of `zone`, made room for (expired entries dropped); `None` when the
    /// zone is new and the table is full.
    fn room<'a>(
        zones: &'a mut HashMap<LowerName, Zone>,
        zone: &Name,
        now: Instant,
    ) -> Option<&'a mut Zone> {
        let key = LowerName::new(zone);
        if !zones.contains_key(&key) && zones.len() >= ZONES {
            zones.retain(|_, kept| {
                kept.expire(now);
                !kept.is_empty()
            });
            if zones.len() >= ZONES {
                return None;
            }
        }
        let kept = zones.entry(key).or_default();
        kept.expire(now);
        Some(kept)
    }

    /// Runs `put` on `zone`'s kept data with the expiry of something kept `ttl` seconds.
    fn keep(&self, zone: &Name, ttl: u32, now: Instant, put: impl FnOnce(&mut Zone, Instant)) {
        if ttl == 0 {
            return;
        }
        let mut zones = self.lock();
        if let Some(kept) = Self::room(&mut zones, zone, now) {
            put(kept, now + Duration::from_secs(u64::from(ttl)));
        }
    }

    /// Keeps the proof of a secure NXDOMAIN in `zone`.
    pub(crate) fn remember(&self, zone: &Name, proof: Proof, now: Instant) {
        self.keep(zone, proof.ttl, now, |kept, expires| {
            bounded(&mut kept.nxdomain, Kept::new(proof, expires));
        });
    }

    /// Keeps a secure expansion of `*.closest` in `zone`: the RRset and its RRSIGs as
    /// answered, and the proof that the name asked did not exist.
    pub(crate) fn remember_wildcard(
        &self,
        zone: &Name,
        closest: &Name,
        (rrset, rrsigs): (Vec<Record>, Vec<Record>),
        proof: Proof,
        now: Instant,
    ) {
        let Some(rtype) = rrset.first().map(Record::record_type) else {
            return;
        };
        self.keep(zone, proof.ttl, now, |kept, expires| {
            let wildcard = Wildcard {
                closest: closest.clone(),
                rtype,
                rrset,
                rrsigs,
                kept: Kept::new(proof, expires),
            };
            bounded(&mut kept.wildcards, wildcard);
        });
    }

    /// What `pick` takes from the kept data of the closest zone above `qname` that has any.
    /// It runs under the lock, so only what it picks is copied out (a miss checks the proofs
    /// in place, not copies of them).
    fn in_closest_zone<T>(&self, qname: &Name, pick: impl FnOnce(&Zone) -> Option<T>) -> Option<T> {
        let zones = self.lock();
        let mut zone = qname.clone();
        loop {
            if let Some(kept) = zones.get(&LowerName::new(&zone)) {
                return pick(kept);
            }
            if zone.is_root() {
                return None;
            }
            zone = zone.base_name();
        }
    }

    /// The records of an NXDOMAIN for `qname` (the SOA, the proof, their RRSIGs; TTLs as the
    /// time left) from a kept proof of the closest zone above it that has any, or `None`.
    pub(crate) fn answer(
        &self,
        v: &mut Validation,
        qname: &Name,
        now: Instant,
    ) -> Option<Vec<Record>> {
        // Newest first: the most recent proofs are the likeliest to cover what is asked next.
        let kept = self.in_closest_zone(qname, |z| {
            z.nxdomain
                .iter()
                .rev()
                .filter(|k| k.expires > now)
                .find(|k| v.proves_nonexistent(&k.denial, qname))
                .cloned()
        })?;
        let ttl = left(kept.expires, now);
        Some(with_ttl(kept.records, ttl))
    }

    /// The expansion of a kept wildcard for (`qname`, `qtype`): one whose proof shows that
    /// `qname` does not exist below the wildcard's closest encloser, or `None`.
    pub(crate) fn expand(
        &self,
        v: &mut Validation,
        qname: &Name,
        qtype: RecordType,
        now: Instant,
    ) -> Option<Expansion> {
        let w = self.in_closest_zone(qname, |z| {
            z.wildcards
                .iter()
                .rev()
                .filter(|w| w.kept.expires > now && w.rtype == qtype)
                .find(|w| {
                    w.closest.zone_of(qname)
                        && w.closest != *qname
                        && v.wildcard_answer(&w.kept.denial, qname, &w.closest)
                            .is_secure()
                })
                .cloned()
        })?;
        let ttl = left(w.kept.expires, now);
        let renamed = |records: Vec<Record>| -> Vec<Record> {
            with_ttl(records, ttl)
                .into_iter()
                .map(|mut r| {
                    r.name = qname.clone();
                    r
                })
                .collect()
        };
        Some(Expansion {
            rrset: renamed(w.rrset),
            rrsigs: renamed(w.rrsigs),
            proof: with_ttl(w.kept.records, ttl),
        })
    }

    /// Forgets every proof that could speak for `name` or the names below it: those of the
    /// zones above it (their chains may deny it) and of the zones below it (a flush, a new
    /// negative trust anchor; a name just created must not stay denied). `None`: all of them.
    pub(crate) fn forget(&self, name: Option<&Name>) {
        let mut zones = self.lock();
        match name {
            None => zones.clear(),
            Some(name) => {
                let name = LowerName::new(name);
                zones.retain(|zone, _| !name.zone_of(zone) && !zone.zone_of(&name));
            }
        }
    }
}

/// Seconds from `now` to `expires`, at least 1 (an answer is never sent with TTL 0 from here).
fn left(expires: Instant, now: Instant) -> u32 {
    let secs = expires.saturating_duration_since(now).as_secs();
    u32::try_from(secs).unwrap_or(u32::MAX).max(1)
}

/// `records` with no TTL above `ttl`.
fn with_ttl(records: Vec<Record>, ttl: u32) -> Vec<Record> {
    records
        .into_iter()
        .map(|mut r| {
            r.ttl = r.ttl.min(ttl);
            r
        })
        .collect()
}

impl Resolver {
    /// RFC 8198: an NXDOMAIN for `qname`, or a wildcard's data for (`qname`, `qtype`), from a
    /// secure proof kept for another name of its zone, without asking; `None` when validation
    /// is off, the name is under a negative trust anchor, or no kept proof covers it.
    pub(in crate::resolver) fn aggressive_answer(
        &self,
        qname: &Name,
        qtype: RecordType,
        now: Instant,
    ) -> Option<Resolution> {
        let val = self.validator.as_ref()?;
        // A `no_cache` forward zone's names are asked every time, whatever a proof kept from
        // elsewhere says.
        if val.under_negative_anchor(qname) || !self.caches(qname) {
            return None;
        }
        let mut v = val.run(now);
        if let Some(expansion) = val.aggressive.expand(&mut v, qname, qtype, now) {
            return Some(Resolution {
                rcode: ResponseCode::NoError,
                answers: expansion.rrset,
                authorities: Vec::new(),
                answer_sigs: expansion.rrsigs,
                proof: expansion.proof,
                security: Trust::Secure,
                stale: false,
                upstream_queries: 0,
                at: now,
            });
        }
        let records = val.aggressive.answer(&mut v, qname, now)?;
        let (authorities, proof) = records
            .into_iter()
            .partition(|r| r.record_type() == RecordType::SOA);
        Some(Resolution {
            rcode: ResponseCode::NXDomain,
            answers: Vec::new(),
            authorities,
            answer_sigs: Vec::new(),
            proof,
            security: Trust::Secure,
            stale: false,
            upstream_queries: 0,
            at: now,
        })
    }

    /// Forgets the kept NXDOMAIN proofs that could speak for what `what` flushes.
    pub(in crate::resolver) fn forget_proofs(&self, what: crate::cache::admin::Flush<'_>) {
        use crate::cache::admin::Flush;
        if let Some(val) = &self.validator {
            val.aggressive.forget(match what {
                Flush::Name(name) | Flush::Zone(name) => Some(name),
                Flush::All => None,
            });
        }
    }
}

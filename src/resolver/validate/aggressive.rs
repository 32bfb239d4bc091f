//! RFC 8198: a validated NXDOMAIN proof denies more than the name it was fetched for. The
//! NSEC (or NSEC3) records of a secure NXDOMAIN are kept per zone for as long as the proof
//! may be cached, and a later question for another name they cover — the covering record and
//! the wildcard's denial both hold — is answered NXDOMAIN from them without asking, as Unbound
//! does with `aggressive-nsec: yes` (its default since 1.17). The decision is the validator
//! core's ([`Validation::proves_nonexistent`]): only a complete, secure proof counts.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use hickory_proto::rr::{LowerName, Name, Record};
use tokio::time::Instant;

use crate::dnssec::Validation;
use crate::dnssec::denial::Denial;

/// Proofs kept per zone: the most recent ones. A zone's NSEC chain is walked by the questions
/// that miss, so a few proofs cover what is being asked; more would cost a scan per miss.
const PER_ZONE: usize = 16;
/// Zones kept at most; when full, a new zone is kept only after expired ones are dropped.
const ZONES: usize = 4096;

/// One secure NXDOMAIN: its proof as the validator checked it, and the records to answer
/// with (the SOA, the NSEC/NSEC3 records and every RRSIG), until `expires`.
#[derive(Clone)]
struct Kept {
    denial: Denial,
    records: Vec<Record>,
    expires: Instant,
}

/// The kept proofs, by zone.
#[derive(Default)]
pub(crate) struct Aggressive {
    zones: Mutex<HashMap<LowerName, VecDeque<Kept>>>,
}

impl Aggressive {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<LowerName, VecDeque<Kept>>> {
        // Entries are whole when inserted; a panic elsewhere cannot leave half of one.
        self.zones.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps the proof of a secure NXDOMAIN in `zone` for `ttl` seconds from `now`.
    pub(crate) fn remember(
        &self,
        zone: &Name,
        denial: Denial,
        records: Vec<Record>,
        ttl: u32,
        now: Instant,
    ) {
        if ttl == 0 {
            return;
        }
        let mut zones = self.lock();
        let key = LowerName::new(zone);
        if !zones.contains_key(&key) && zones.len() >= ZONES {
            zones.retain(|_, kept| {
                kept.retain(|k| k.expires > now);
                !kept.is_empty()
            });
            if zones.len() >= ZONES {
                return;
            }
        }
        let kept = zones.entry(key).or_default();
        kept.retain(|k| k.expires > now);
        if kept.len() >= PER_ZONE {
            kept.pop_front();
        }
        kept.push_back(Kept {
            denial,
            records,
            expires: now + Duration::from_secs(u64::from(ttl)),
        });
    }

    /// The records of an NXDOMAIN for `qname` (the SOA, the proof, their RRSIGs; TTLs as the
    /// time left) from a kept proof of the closest zone above it that has any, or `None`.
    pub(crate) fn answer(
        &self,
        v: &mut Validation,
        qname: &Name,
        now: Instant,
    ) -> Option<Vec<Record>> {
        let candidates: Vec<Kept> = {
            let zones = self.lock();
            let mut zone = qname.clone();
            loop {
                if let Some(kept) = zones.get(&LowerName::new(&zone)) {
                    break kept.iter().filter(|k| k.expires > now).cloned().collect();
                }
                if zone.is_root() {
                    return None;
                }
                zone = zone.base_name();
            }
        };
        // Newest first: the most recent proofs are the likeliest to cover what is asked next.
        let kept = candidates
            .into_iter()
            .rev()
            .find(|k| v.proves_nonexistent(&k.denial, qname))?;
        let left = kept.expires.saturating_duration_since(now).as_secs();
        let ttl = u32::try_from(left).unwrap_or(u32::MAX).max(1);
        let records = kept
            .records
            .into_iter()
            .map(|mut r| {
                r.ttl = r.ttl.min(ttl);
                r
            })
            .collect();
        Some(records)
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

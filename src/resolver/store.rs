//! The one writer of what upstream replies teach: every cache insert of the resolver goes
//! through [`Resolver::store`], which sets each entry's TTL by the rules in one place
//! (RFC 2308 §5 for negative answers, the ghost-domain bound for NS sets).

use hickory_proto::rr::{RData, Record, RecordType};
use tokio::time::Instant;

use super::Resolver;
use super::classify::Learn;
use crate::cache::{Data, Rank, Signed};

/// The smallest TTL of an RRset: the whole set lives as long as its shortest member.
pub(crate) fn min_ttl(records: &[Record]) -> u32 {
    records.iter().map(|r| r.ttl).min().unwrap_or(0)
}

/// RFC 2308 §5: negative answers live for min(SOA TTL, SOA MINIMUM); without an SOA there is
/// no TTL to cache them by.
pub(super) fn negative_ttl(soa: Option<&Record>) -> u32 {
    match soa.map(|r| (r.ttl, &r.data)) {
        Some((ttl, RData::SOA(s))) => ttl.min(s.minimum),
        _ => 0,
    }
}

impl Resolver {
    /// Caches what a reply taught. A lower rank never replaces fresh data of a higher one
    /// (the cache's rule), so a non-authoritative answer never beats an authoritative one.
    pub(super) fn store(&self, learned: Vec<Learn>, now: Instant) {
        for Learn {
            key,
            data,
            rank,
            signed,
        } in learned
        {
            let mut ttl = match &data {
                Data::Positive(records) => min_ttl(records),
                // A referral's proof that the child has no DS (RFC 4035 §3.1.4) comes without
                // an SOA: it lives as long as its NSEC/NSEC3 records (RFC 8198 §5.4).
                Data::NoData { soa: None } if !signed.is_empty() => min_ttl(&signed),
                Data::NxDomain { soa } | Data::NoData { soa } => negative_ttl(soa.as_deref()),
                Data::Failure { .. } => 0,
            };
            if key.rtype == Some(RecordType::NS)
                && (rank >= Rank::NonAuthoritative || rank == Rank::Glue)
                && let Some(left) = self.cache.fresh_ttl(&key, now)
            {
                // The child's NS set (an answer, or the one beside an answer, kept as glue)
                // may refine the delegation but never outlive it: otherwise a zone its parent
                // removed lives on ("ghost domain", CVE-2012-1033), renewed by the child itself.
                ttl = ttl.min(left);
            }
            // An answer's RRset says its owner exists: not glue or a referral's NS set.
            let owner = (matches!(data, Data::Positive(_)) && rank >= Rank::NonAuthoritative)
                .then(|| key.clone());
            let signed = (!signed.is_empty()).then(|| Signed::unchecked(signed));
            if self.cache.insert_signed(key, data, signed, ttl, rank, now)
                && let Some(owner) = owner
            {
                self.cache.end_nxdomain(&owner, rank);
            }
        }
    }
}

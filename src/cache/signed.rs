//! What an entry keeps for DNSSEC beside its data (DESIGN.md: RRSIGs travel with their RRset):
//! the RRSIGs over a positive RRset, or for a negative entry the SOA's RRSIGs and the NSEC or
//! NSEC3 records (with theirs) that prove it, and the validator's verdict on the whole. Kept
//! apart from [`Data`](super::Data), so the readers that expect one type of record there (NS
//! targets, addresses, the alias chase) never meet an RRSIG; and boxed, so an entry of unsigned
//! data costs one pointer more.

use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinDecoder, BinEncodable, BinEncoder};

/// The validator's verdict on an entry (RFC 4033 §5), in the cache's own words: the cache
/// imports nothing of the validator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Trust {
    /// Not validated (yet): validation is off, or the entry came with another answer.
    #[default]
    Unchecked,
    /// No trust anchor covers it.
    Indeterminate,
    /// Provably unsigned.
    Insecure,
    /// A chain of signatures from a trust anchor covers it.
    Secure,
    /// It should be signed and is not: served only to CD=1 clients. `ede` is the RFC 8914
    /// info code, `why` names the zone and the failed step.
    Bogus { ede: u16, why: String },
}

impl Trust {
    /// An answer is only as strong as its weakest part: bogus, then unchecked or
    /// indeterminate, then insecure, then secure. The first bogus reason is kept.
    pub(crate) fn and(self, other: Trust) -> Trust {
        fn rank(t: &Trust) -> u8 {
            match t {
                Trust::Bogus { .. } => 0,
                Trust::Unchecked | Trust::Indeterminate => 1,
                Trust::Insecure => 2,
                Trust::Secure => 3,
            }
        }
        if rank(&other) < rank(&self) {
            other
        } else {
            self
        }
    }
}

/// DNSSEC records and verdict of one entry, decoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Signed {
    /// RRSIGs over the RRset; for a negative entry the SOA's RRSIGs and the NSEC/NSEC3 proof.
    pub(crate) records: Vec<Record>,
    pub(crate) trust: Trust,
    /// Read in its prefetch window, its refresh not yet claimed (see `Cache::get`). Carried
    /// here, beside the data, because a cache read reaches the resolver's chain as the data
    /// and this side only; never stored.
    pub(crate) prefetch: bool,
}

impl Signed {
    /// Records without a verdict yet.
    pub(crate) fn unchecked(records: Vec<Record>) -> Signed {
        Signed {
            records,
            trust: Trust::Unchecked,
            prefetch: false,
        }
    }
}

/// The same in stored form: the records as a run of RFC 1035 §4.1.3 records (owners vary:
/// NSEC3 owners are hashes), names compressed within the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredSigned {
    wire: Box<[u8]>,
    trust: Trust,
}

impl StoredSigned {
    /// `None` when the records do not encode (the caller then keeps the data without them).
    pub(super) fn new(signed: Signed) -> Option<StoredSigned> {
        let mut buf = Vec::with_capacity(128 * signed.records.len());
        let mut encoder = BinEncoder::new(&mut buf);
        for r in &signed.records {
            r.emit(&mut encoder).ok()?;
        }
        Some(StoredSigned {
            wire: buf.into_boxed_slice(),
            trust: signed.trust,
        })
    }

    /// The records back, each with `ttl` (the entry's time left).
    pub(super) fn decode(&self, ttl: u32) -> Option<Signed> {
        let mut decoder = BinDecoder::new(&self.wire);
        let mut records = Vec::new();
        while !decoder.is_empty() {
            let mut r = crate::rr::read::read_record(&mut decoder).ok()?;
            r.ttl = ttl;
            records.push(r);
        }
        Some(Signed {
            records,
            trust: self.trust.clone(),
            prefetch: false,
        })
    }

    pub(super) fn trust(&self) -> &Trust {
        &self.trust
    }

    pub(super) fn set_trust(&mut self, trust: Trust) {
        self.trust = trust;
    }

    /// Bytes on the heap beyond the box itself.
    pub(super) fn heap_len(&self) -> usize {
        self.wire.len()
            + match &self.trust {
                Trust::Bogus { why, .. } => why.len(),
                _ => 0,
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_records_of_many_owners_round_trip_with_the_ttl_given() {
        use crate::dnssec::testing::{TestZone, owners};
        let zone = TestZone::new("example.", hickory_proto::dnssec::Algorithm::ED25519);
        let mut records = zone.sign("a.example. 300 IN A 192.0.2.1").rrsigs;
        for set in zone.nsec_chain(&owners(&[("a.example.", "A"), ("B.example.", "TXT")])) {
            records.extend(set.records);
        }
        let stored = StoredSigned::new(Signed {
            records: records.clone(),
            trust: Trust::Bogus {
                ede: 6,
                why: "x".into(),
            },
            prefetch: false,
        })
        .expect("encodes");
        let back = stored.decode(42).expect("decodes");
        assert_eq!(back.records.len(), records.len());
        for (b, r) in back.records.iter().zip(&records) {
            assert_eq!((&b.name, &b.data, b.ttl), (&r.name, &r.data, 42));
        }
        assert!(
            back.records
                .iter()
                .any(|r| r.name.to_string() == "B.example.")
        );
        assert_eq!(
            back.trust,
            Trust::Bogus {
                ede: 6,
                why: "x".into()
            }
        );
    }
}

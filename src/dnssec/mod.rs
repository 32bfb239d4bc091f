//! DNSSEC validation (RFC 4033–4035, 5155, 6840, 9276, 9157), as a pure module: it is handed
//! RRsets with their RRSIGs, DNSKEY and DS RRsets, NSEC/NSEC3 records and trust anchors, and
//! says whether each is secure, insecure, bogus or indeterminate. It does no I/O and never reads
//! the clock (`now`, UNIX seconds, is an argument), so the resolver decides what to fetch and
//! what to cache, and the tests need no network.
//!
//! The walk, as the resolver drives it (Unbound's validator module is the model):
//! ```text
//! anchor (DS|DNSKEY) ─► root DNSKEY ─► DS of the child (verified with the parent's keys)
//!                          │            ─► child DNSKEY (a key matching a DS signs the set)
//!                          │            ─► … per zone cut …
//!                          └─► the answer's RRsets, verified with their zone's keys
//!                              negative answers: NSEC/NSEC3 verified, then the proof checked
//! ```
//! In calls (one [`Validation`] per client answer; each step's result is cached by its TTL):
//! ```text
//! Anchors::builtin() | Anchors::from_file(path)      anchors.closest(qname) → None: indeterminate
//! v.anchored_keys(anchor, &dnskey_set)               → KeyState (Secure(ZoneKeys) | Insecure | Bogus)
//! v.child_keys(&parent_keys, &ds_set, &dnskey_set)   → KeyState, per zone cut
//! v.denial(&parent_keys, &nsec_sets) + v.no_ds(..)   → the cut is provably unsigned (Insecure)
//! v.verify(&rrset, &zone_keys)                       → Checked { security, ttl, wildcard }
//! v.denial(&zone_keys, &authority) + v.nxdomain / v.nodata / v.wildcard_answer → Security
//! v.proves_nonexistent(&cached_denial, name)          RFC 8198, for the cache
//! ```
//! hickory-proto supplies the wire types, the canonical signed data (`TBS`), the signature
//! primitives, DS digests and NSEC3 hashing; everything that decides is written here.
//! Each step counts its expensive work against a [`Budget`] (KeyTrap, CVE-2023-50387; NSEC3
//! hash floods, CVE-2023-50868) and may log a line to a [`Trace`] for `tern resolve --trace`.

pub(crate) mod anchor;
pub(crate) mod base32;
pub(crate) mod budget;
pub(crate) mod chain;
pub(crate) mod denial;
mod nsec;
mod nsec3;
// The lab signs its simulated internet with part of it at start (ECDSA, NSEC); the rest
// (NSEC3 chains, RSA keys from PKCS#8, ZSKs) only the tests' fixtures use.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod sign;
pub(crate) mod trace;
pub(crate) mod verify;

#[cfg(test)]
pub(crate) mod testing;

use std::fmt;

use hickory_proto::rr::{Name, Record, RecordType};

// The types the steps share; the rest of the API is reached by its module's path
// (`dnssec::anchor::Anchors`, `dnssec::chain::KeyState`, `dnssec::denial::Denial`, …).
pub(crate) use anchor::TrustAnchor;
pub(crate) use budget::Budget;
pub(crate) use chain::ZoneKeys;
pub(crate) use trace::{Check, Trace};
pub(crate) use verify::Key;

/// How long a bogus result may be cached: Unbound's `val-bogus-ttl` default. Long enough that
/// a broken zone is not revalidated for every query, short enough that a fixed one recovers
/// quickly (RFC 9520 §3.2 asks for at least 1 s and at most 5 min of failure caching).
pub(crate) const BOGUS_TTL: u32 = 60;

/// The RFC 8914 Extended DNS Error info codes a validation outcome maps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Ede {
    /// 1: only unsupported DNSKEY algorithms; the zone is treated as insecure.
    UnsupportedDnskeyAlgorithm = 1,
    /// 2: only unsupported DS digest types; the zone is treated as insecure.
    UnsupportedDsDigest = 2,
    /// 6: the generic failure.
    Bogus = 6,
    /// 7
    SignatureExpired = 7,
    /// 8
    SignatureNotYetValid = 8,
    /// 9: no DNSKEY matches a DS or an RRSIG.
    DnskeyMissing = 9,
    /// 10: the RRset carries no RRSIG at all.
    RrsigsMissing = 10,
    /// 12: a negative answer without the NSEC/NSEC3 that proves it.
    NsecMissing = 12,
    /// 27: NSEC3 iterations above the RFC 9276 limit; the answer is treated as insecure.
    UnsupportedNsec3Iterations = 27,
}

impl Ede {
    /// The info code as sent in the EDNS option.
    pub(crate) fn code(self) -> u16 {
        self as u16
    }
}

/// Why something is bogus: the zone whose data failed, the step that failed (as text, for
/// the EDE's extra text and the trace) and the EDE code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Reason {
    pub(crate) zone: Name,
    pub(crate) step: String,
    pub(crate) ede: Ede,
}

impl Reason {
    pub(crate) fn new(zone: &Name, ede: Ede, step: impl Into<String>) -> Reason {
        Reason {
            zone: zone.clone(),
            step: step.into(),
            ede,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.zone, self.step)
    }
}

/// The security state of an answer or of one of its parts (RFC 4033 §5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Security {
    /// A chain of signatures from a trust anchor covers it: AD may be set.
    Secure,
    /// Provably unsigned (a delegation without DS, NSEC3 opt-out, an unsupported algorithm or
    /// digest, too many NSEC3 iterations): served, without AD.
    Insecure,
    /// It should have been secure and is not: SERVFAIL with the EDE.
    Bogus(Reason),
    /// No trust anchor covers it, so nothing can be said.
    Indeterminate,
}

impl Security {
    pub(crate) fn bogus(zone: &Name, ede: Ede, step: impl Into<String>) -> Security {
        Security::Bogus(Reason::new(zone, ede, step))
    }

    pub(crate) fn is_secure(&self) -> bool {
        matches!(self, Security::Secure)
    }

    /// The EDE code to send with a SERVFAIL, for bogus results only.
    pub(crate) fn ede(&self) -> Option<Ede> {
        match self {
            Security::Bogus(r) => Some(r.ede),
            _ => None,
        }
    }

    /// An answer is only as strong as its weakest part: bogus, then indeterminate, then
    /// insecure, then secure. The first bogus reason is kept.
    pub(crate) fn and(self, other: Security) -> Security {
        fn rank(s: &Security) -> u8 {
            match s {
                Security::Bogus(_) => 0,
                Security::Indeterminate => 1,
                Security::Insecure => 2,
                Security::Secure => 3,
            }
        }
        if rank(&other) < rank(&self) {
            other
        } else {
            self
        }
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Security::Secure => f.write_str("secure"),
            Security::Insecure => f.write_str("insecure"),
            Security::Bogus(r) => write!(f, "bogus ({r}; EDE {})", r.ede.code()),
            Security::Indeterminate => f.write_str("indeterminate"),
        }
    }
}

/// One RRset as received, with the RRSIGs that cover it: the unit everything here verifies,
/// and what the cache keeps side by side (DESIGN.md: RRSIGs travel with their RRset).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SignedRrset {
    pub(crate) name: Name,
    pub(crate) rtype: RecordType,
    pub(crate) records: Vec<Record>,
    /// RRSIG records at `name`; those covering other types are ignored.
    pub(crate) rrsigs: Vec<Record>,
}

impl SignedRrset {
    /// Groups a message section into RRsets by owner and type, each with the RRSIGs at its
    /// owner that cover its type, in the order the RRsets first appear. RRSIGs covering no
    /// RRset present are dropped: there is nothing for them to prove.
    pub(crate) fn group(section: &[Record]) -> Vec<SignedRrset> {
        let mut sets: Vec<SignedRrset> = Vec::new();
        for r in section
            .iter()
            .filter(|r| r.record_type() != RecordType::RRSIG)
        {
            match sets
                .iter_mut()
                .find(|s| s.rtype == r.record_type() && s.name == r.name)
            {
                Some(set) => set.records.push(r.clone()),
                None => sets.push(SignedRrset {
                    name: r.name.clone(),
                    rtype: r.record_type(),
                    records: vec![r.clone()],
                    rrsigs: Vec::new(),
                }),
            }
        }
        for sig in section
            .iter()
            .filter(|r| r.record_type() == RecordType::RRSIG)
        {
            let covered = verify::rrsig(sig).map(|s| s.input().type_covered);
            if let Some(set) = sets
                .iter_mut()
                .find(|s| Some(s.rtype) == covered && s.name == sig.name)
            {
                set.rrsigs.push(sig.clone());
            }
        }
        sets
    }

    /// The zone that signed the RRset, by its first covering RRSIG: whose keys the resolver
    /// must have to verify it (for a DS RRset, the parent; across a CNAME chain, each link's).
    pub(crate) fn signer(&self) -> Option<&Name> {
        self.rrsigs
            .iter()
            .filter_map(verify::rrsig)
            .find(|s| s.input().type_covered == self.rtype)
            .map(|s| &s.input().signer_name)
    }

    /// The smallest TTL among the records, as received.
    pub(crate) fn ttl(&self) -> u32 {
        self.records.iter().map(|r| r.ttl).min().unwrap_or(0)
    }
}

/// The state of one validation run (one client answer): the time, the work budget and the
/// trace. Its methods are the validator's API; they live beside the step they implement
/// (`verify.rs`, `chain.rs`, `denial.rs`).
#[derive(Debug)]
pub(crate) struct Validation {
    /// UNIX seconds; RRSIG validity is compared in RFC 1982 serial arithmetic modulo 2^32.
    pub(crate) now: u64,
    pub(crate) budget: Budget,
    pub(crate) trace: Trace,
}

impl Validation {
    /// A run with the default budget and no trace (the serving path).
    pub(crate) fn new(now: u64) -> Validation {
        Validation {
            now,
            budget: Budget::default(),
            trace: Trace::off(),
        }
    }

    /// A run that records a line per check, for `tern resolve --trace`.
    pub(crate) fn traced(now: u64) -> Validation {
        Validation {
            now,
            budget: Budget::default(),
            trace: Trace::on(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::dnssec::Algorithm;

    use crate::dnssec::testing::{TestZone, records};

    #[test]
    fn and_keeps_the_weakest_state() {
        let zone = Name::root();
        let bogus = Security::bogus(&zone, Ede::Bogus, "x");
        assert_eq!(Security::Secure.and(Security::Insecure), Security::Insecure);
        assert_eq!(Security::Insecure.and(Security::Secure), Security::Insecure);
        assert_eq!(
            Security::Insecure.and(Security::Indeterminate),
            Security::Indeterminate
        );
        assert_eq!(Security::Secure.and(bogus.clone()), bogus);
        assert_eq!(bogus.clone().and(Security::Secure), bogus);
        assert_eq!(bogus.ede(), Some(Ede::Bogus));
        assert_eq!(Ede::NsecMissing.code(), 12);
    }

    #[test]
    fn group_pairs_rrsets_with_their_rrsigs() {
        let zone = TestZone::new("example.", Algorithm::ED25519);
        let a = zone.sign("a.example. 300 IN A 192.0.2.1\na.example. 300 IN A 192.0.2.2");
        let aaaa = zone.sign("a.example. 300 IN AAAA 2001:db8::1");
        let mut section = a.records.clone();
        section.extend(a.rrsigs.clone());
        // the AAAA RRSIG covers nothing present and is dropped
        section.extend(aaaa.rrsigs.clone());
        section.extend(records("b.example. 300 IN TXT \"x\""));
        let sets = SignedRrset::group(&section);
        assert_eq!(sets.len(), 2);
        assert_eq!(sets[0], a);
        assert_eq!(sets[1].rtype, RecordType::TXT);
        assert!(sets[1].rrsigs.is_empty());
        assert_eq!(sets[0].ttl(), 300);
        assert_eq!(sets[0].signer(), Some(&zone.name));
        assert_eq!(sets[1].signer(), None);
    }
}

//! The work one validation may do, so a hostile zone gets a SERVFAIL rather than a CPU.
//!
//! KeyTrap (CVE-2023-50387): RFC 4035 §5.3.1 lets a validator try every DNSKEY whose key tag
//! and algorithm match an RRSIG, and every RRSIG of an RRset, until one verifies. Key tags are
//! 16-bit checksums, so a zone can publish many keys sharing a tag and many signatures, and
//! make one answer cost keys × signatures verifications (seconds to hours of CPU). The
//! NSEC3 variant (CVE-2023-50868) makes a closest-encloser proof hash every ancestor of a long
//! query name, each hash iterated up to 65535 times.
//!
//! The fixes bound the work: Unbound 1.19.1 allows 8 RRSIG verifications per RRset
//! (`MAX_VALIDATE_RRSIGS`) and 8 per run before suspending (`MAX_VALIDATE_AT_ONCE`),
//! and 8 NSEC3 hashes per run (`MAX_NSEC3_CALCULATIONS`); PowerDNS Recursor 4.8.6 allows
//! 30 signature verifications and 600 NSEC3 hashes per query, 8 DS per zone; BIND 9.18.24
//! stops after the first failed verification per fetch. tern validates an answer in one go
//! (no suspension), so it takes per-run totals close to PowerDNS's and per-RRset limits equal
//! to Unbound's; going past any of them makes the answer bogus with its own reason.

use thiserror::Error;

/// Keys sharing an RRSIG's tag and algorithm that are tried for it. Honest tag collisions
/// within one zone are rare (two keys collide with probability about 1/65536); 4 leaves room
/// for one during a rollover while an attacker's hundred colliding keys cost 4 verifications.
pub(crate) const KEYS_PER_RRSIG: usize = 4;

/// Verifications for one RRset, over all its RRSIGs (Unbound's `MAX_VALIDATE_RRSIGS`). A
/// zone in a double-signature or algorithm rollover needs 2–3.
pub(crate) const VERIFICATIONS_PER_RRSET: u32 = 8;

/// DS records considered per zone (PowerDNS's `max-ds-per-zone`): each may cost digests of
/// up to [`KEYS_PER_RRSIG`] keys.
pub(crate) const DS_PER_ZONE: usize = 8;

/// Verifications in one run. A cold walk of a three-level name costs 2 per zone (DS, DNSKEY)
/// plus the answer, about 7; a CNAME chain across zones or a negative answer with three NSEC3
/// RRsets adds a few each. 32 covers that four times over, and bounds a hostile answer at 32
/// verifications (RSA-2048 ~50 µs, P-256 ~100 µs each: a few milliseconds).
pub(crate) const VERIFICATIONS: u32 = 32;

/// NSEC3 hashes of distinct names in one run. A closest-encloser proof hashes the query name
/// and each ancestor down to the closest encloser, then the wildcard: 64 covers a name 60
/// labels below its zone. Iterations above 150 are never hashed (RFC 9276, answered
/// insecure), so the run costs at most 64 × 151 SHA-1 rounds (~2 ms).
pub(crate) const NSEC3_HASHES: u32 = 64;

/// A run went past one of its limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub(crate) enum Exhausted {
    #[error("more than {0} signature verifications in one validation")]
    Verifications(u32),
    #[error("more than {0} signature verifications for one RRset")]
    RrsetVerifications(u32),
    #[error("more than {0} NSEC3 hashes in one validation")]
    Hashes(u32),
}

/// Counters for one validation run (or, if the caller shares it, one client query).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Budget {
    verifications: u32,
    hashes: u32,
    max_verifications: u32,
    max_hashes: u32,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget::with_limits(VERIFICATIONS, NSEC3_HASHES)
    }
}

impl Budget {
    pub(crate) fn with_limits(max_verifications: u32, max_hashes: u32) -> Budget {
        Budget {
            verifications: 0,
            hashes: 0,
            max_verifications,
            max_hashes,
        }
    }

    /// Takes one signature verification, before it is done.
    pub(crate) fn verification(&mut self) -> Result<(), Exhausted> {
        if self.verifications >= self.max_verifications {
            return Err(Exhausted::Verifications(self.max_verifications));
        }
        self.verifications += 1;
        Ok(())
    }

    /// Takes one NSEC3 name hash, before it is computed.
    pub(crate) fn hash(&mut self) -> Result<(), Exhausted> {
        if self.hashes >= self.max_hashes {
            return Err(Exhausted::Hashes(self.max_hashes));
        }
        self.hashes += 1;
        Ok(())
    }

    /// Verifications done so far.
    // Read by the tests (and by metrics, once budgets are counted).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn verifications(&self) -> u32 {
        self.verifications
    }

    /// NSEC3 hashes computed so far.
    // Read by the tests (and by metrics, once budgets are counted).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn hashes(&self) -> u32 {
        self.hashes
    }
}

#[cfg(test)]
mod tests {
    use hickory_proto::dnssec::Algorithm;
    use hickory_proto::rr::RecordType;

    use super::*;
    use crate::dnssec::testing::{NOW, TestZone, colliding_keys};
    use crate::dnssec::{Ede, Security, Validation, ZoneKeys};

    #[test]
    fn counters_stop_at_their_limits() {
        let mut b = Budget::with_limits(2, 1);
        assert!(b.verification().is_ok());
        assert!(b.verification().is_ok());
        assert_eq!(b.verification(), Err(Exhausted::Verifications(2)));
        assert_eq!(b.verifications(), 2);
        assert!(b.hash().is_ok());
        assert_eq!(b.hash(), Err(Exhausted::Hashes(1)));
        assert_eq!(b.hashes(), 1);
    }

    /// KeyTrap: a DNSKEY set of 100 keys sharing the signing key's tag, and an RRset with
    /// 20 RRSIGs by that tag none of which verifies. Unbounded, that is 2,000 verifications.
    #[test]
    fn colliding_key_tags_cost_at_most_the_rrset_cap() {
        let zone = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
        let decoys = colliding_keys(zone.zsk.dnskey(), 100);
        assert!(decoys.len() >= 100);
        let keys = ZoneKeys::trusted(&zone.name, decoys.clone(), 3600);
        assert!(keys.keys().iter().all(|k| k.tag == zone.zsk.tag()));

        let mut set = zone.sign("www.example. 300 IN A 192.0.2.1");
        let sig = set.rrsigs[0].clone();
        set.rrsigs = vec![sig; 20];
        let mut v = Validation::new(NOW);
        let checked = v.verify(&set, &keys);
        match &checked.security {
            Security::Bogus(r) => {
                assert_eq!(r.ede, Ede::Bogus);
                assert!(r.step.contains("more than 8"), "{}", r.step);
            }
            other => panic!("expected bogus, got {other:?}"),
        }
        assert_eq!(v.budget.verifications(), VERIFICATIONS_PER_RRSET);
    }

    /// The per-run cap holds across RRsets: once spent, every further RRset is bogus
    /// without a single verification more.
    #[test]
    fn a_run_stops_verifying_at_its_total() {
        let zone = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
        let keys = zone.keys();
        let mut v = Validation::new(NOW);
        v.budget = Budget::with_limits(3, NSEC3_HASHES);
        for i in 0..3 {
            let set = zone.sign(&format!("h{i}.example. 300 IN A 192.0.2.1"));
            assert_eq!(v.verify(&set, &keys).security, Security::Secure);
        }
        let set = zone.sign("h9.example. 300 IN A 192.0.2.1");
        let checked = v.verify(&set, &keys);
        assert!(
            matches!(&checked.security, Security::Bogus(r) if r.step.contains("more than 3")),
            "{:?}",
            checked.security
        );
        assert_eq!(v.budget.verifications(), 3);
    }

    /// An honest collision: the right key is among the first [`KEYS_PER_RRSIG`] candidates.
    #[test]
    fn an_honest_collision_still_verifies() {
        let zone = TestZone::new("example.", Algorithm::ECDSAP256SHA256);
        let mut keys = colliding_keys(zone.zsk.dnskey(), 1);
        keys.push(zone.zsk.dnskey().clone());
        let keys = ZoneKeys::trusted(&zone.name, keys, 3600);
        let set = zone.sign("www.example. 300 IN A 192.0.2.1");
        let mut v = Validation::new(NOW);
        assert_eq!(v.verify(&set, &keys).security, Security::Secure);
        assert!(v.budget.verifications() <= 2);
        assert_eq!(set.rtype, RecordType::A);
    }
}

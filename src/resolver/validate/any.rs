//! An ANY answer is several RRsets at the query name, each signed on its own (RFC 4035 §5.3):
//! the link is as secure as the weakest of them. Matching them against the type ANY found
//! none, and every signed ANY answer was bogus ("empty RRset"). One expanded from a wildcard
//! is secure with the NSEC/NSEC3 proof that the query name does not exist (§5.3.4), which
//! `classify` keeps beside it as for any other type.

use hickory_proto::rr::{Name, Record};

use super::super::Resolver;
use super::super::budget::Budget;
use super::Validator;
use crate::dnssec::chain::KeyState;
use crate::dnssec::{Ede, Security, SignedRrset, TrustAnchor, Validation};

impl Resolver {
    /// The verdict on an ANY answer: `records` (with the RRSIGs among them, or in `signed`)
    /// grouped into RRsets, each verified with the keys of the zone that signed them; an
    /// RRset expanded from a wildcard, with the proof among `signed` that `name` is absent.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn check_any(
        &self,
        val: &Validator,
        v: &mut Validation,
        name: &Name,
        records: &[Record],
        signed: &[Record],
        anchor: &TrustAnchor,
        budget: &mut Budget,
    ) -> (Name, Security, u32) {
        let all: Vec<Record> = records.iter().chain(signed).cloned().collect();
        let sets: Vec<SignedRrset> = SignedRrset::group(&all)
            .into_iter()
            .filter(|s| s.name == *name)
            .collect();
        let zone = match sets.iter().find_map(|s| s.signer()) {
            Some(z) if z.zone_of(name) && anchor.zone.zone_of(z) => z.clone(),
            _ => self.cut_above(name, false, anchor, budget),
        };
        let keys = match self.zone_keys(val, v, anchor, &zone, budget).await {
            KeyState::Secure(keys) => keys,
            state => return (zone, state.security(), state.ttl()),
        };
        if sets.is_empty() {
            let why = format!("{name}/ANY: no RRset");
            return (zone.clone(), Security::bogus(&zone, Ede::Bogus, why), 0);
        }
        let mut security = Security::Secure;
        let mut ttl = u32::MAX;
        // The proof's verdict, read once, when an RRset needs it.
        let mut denial = None;
        for set in &sets {
            let checked = v.verify(set, &keys);
            ttl = ttl.min(checked.ttl);
            let Some(closest) = checked.wildcard.filter(|_| checked.security.is_secure()) else {
                security = security.and(checked.security);
                continue;
            };
            // RFC 4035 §5.3.4: an expansion is due only where `name` provably does not exist.
            let denial = match denial {
                Some(ref denial) => denial,
                None => denial.insert(v.denial(&keys, &SignedRrset::group(signed))),
            };
            let expanded = match denial {
                Ok(denial) => {
                    ttl = ttl.min(denial.ttl());
                    v.wildcard_answer(denial, name, &closest)
                }
                Err(reason) => Security::Bogus(reason.clone()),
            };
            security = security.and(checked.security).and(expanded);
        }
        (zone, security, ttl)
    }
}

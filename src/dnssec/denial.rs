//! Denial of existence (RFC 4035 §5.4, RFC 5155 §8, RFC 6840 §4, RFC 8198): the NSEC or NSEC3
//! RRsets of a negative answer (or of the cache) verified into a [`Denial`], and the questions
//! a resolver asks of it — NXDOMAIN, NODATA, a wildcard expansion, no DS at a delegation, and
//! for aggressive negative caching whether a name is proven absent.

use hickory_proto::dnssec::rdata::{NSEC, NSEC3};
use hickory_proto::rr::{Name, RData, RecordData, RecordType};

use super::budget::Exhausted;
use super::nsec::{self, NsecRr};
use super::nsec3::{MAX_ITERATIONS, Nsec3Rr, Prover};
use super::{Check, Ede, Reason, Security, SignedRrset, Validation, ZoneKeys, base32};

/// What a proof came to, before it is mapped to a [`Security`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Proof {
    /// Proven: secure.
    Proven,
    /// Proven only up to an unsigned part (opt-out, a delegation without DS): insecure.
    Insecure(String),
    /// NSEC3 iterations above [`MAX_ITERATIONS`]: insecure (RFC 9276 §3.2).
    Iterations(u16),
    /// The records needed are not there: bogus, EDE 12.
    Missing(String),
    /// The records contradict the answer: bogus, EDE 6.
    Bogus(String),
    /// The budget ran out: bogus, EDE 6.
    Exhausted(Exhausted),
}

impl From<Exhausted> for Proof {
    fn from(e: Exhausted) -> Proof {
        Proof::Exhausted(e)
    }
}

/// The verified NSEC and NSEC3 records of one zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Denial {
    zone: Name,
    nsec: Vec<NsecRr>,
    nsec3: Vec<Nsec3Rr>,
    /// NSEC3 records with a hash algorithm other than SHA-1 were present (and ignored).
    unknown_hash: bool,
    ttl: u32,
}

impl Denial {
    /// How long the proof may be cached: the smallest capped TTL of its RRsets (the caller
    /// also caps it by the SOA minimum, RFC 2308 §5 and RFC 8198 §5.4).
    pub(crate) fn ttl(&self) -> u32 {
        self.ttl
    }

    // Read by the tests; RFC 8198 aggressive NSEC (issue 18 item 4) next.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn is_empty(&self) -> bool {
        self.nsec.is_empty() && self.nsec3.is_empty()
    }
}

/// RFC 5155 §8.1: NSEC3 records with an unknown hash algorithm are ignored. hickory refuses to
/// decode them, so they can only arrive as opaque RDATA; the first octet is the algorithm.
fn unknown_hash(data: &RData) -> bool {
    matches!(data, RData::Unknown { code, rdata } if *code == RecordType::NSEC3
        && rdata.anything.first().is_some_and(|alg| *alg != 1))
}

/// An NSEC3 record's owner hash, if the owner is a base32hex SHA-1 hash under the zone.
fn nsec3_rr(set: &SignedRrset, nsec3: &NSEC3, zone: &Name) -> Option<Nsec3Rr> {
    let hash = base32::decode(set.name.iter().next()?)?;
    let parent = set.name.base_name();
    let sha1 = 20;
    (hash.len() == sha1 && nsec3.next_hashed_owner_name().len() == sha1 && parent == *zone).then(
        || Nsec3Rr {
            owner: set.name.clone(),
            zone: parent,
            hash,
            nsec3: nsec3.clone(),
        },
    )
}

impl Validation {
    /// Verifies the NSEC and NSEC3 RRsets among `sets` (others are skipped) with the keys of
    /// the zone that sent them. Any of them failing makes the denial bogus.
    pub(crate) fn denial(
        &mut self,
        keys: &ZoneKeys,
        sets: &[SignedRrset],
    ) -> Result<Denial, Reason> {
        let zone = keys.zone();
        let mut denial = Denial {
            zone: zone.clone(),
            nsec: Vec::new(),
            nsec3: Vec::new(),
            unknown_hash: false,
            ttl: u32::MAX,
        };
        for set in sets
            .iter()
            .filter(|s| matches!(s.rtype, RecordType::NSEC | RecordType::NSEC3))
        {
            let check = if set.rtype == RecordType::NSEC {
                Check::Nsec
            } else {
                Check::Nsec3
            };
            let checked = self.verify_with(set, zone, keys.keys(), check);
            if let Security::Bogus(reason) = checked.security {
                return Err(reason);
            }
            if checked.wildcard.is_some() {
                // an NSEC(3) is never synthesized from a wildcard; one claiming it is forged
                return Err(Reason::new(
                    zone,
                    Ede::Bogus,
                    format!("{}/{} signed as a wildcard expansion", set.name, set.rtype),
                ));
            }
            denial.ttl = denial.ttl.min(checked.ttl);
            for r in &set.records {
                if let Some(n) = NSEC::try_borrow(&r.data) {
                    denial.nsec.push(NsecRr {
                        owner: set.name.clone(),
                        nsec: n.clone(),
                    });
                } else if let Some(n) = NSEC3::try_borrow(&r.data) {
                    denial.nsec3.extend(nsec3_rr(set, n, zone));
                } else if unknown_hash(&r.data) {
                    denial.unknown_hash = true;
                }
            }
        }
        if denial.ttl == u32::MAX {
            denial.ttl = 0;
        }
        Ok(denial)
    }

    /// NXDOMAIN for `qname`: it and the wildcard that could have matched it do not exist.
    pub(crate) fn nxdomain(&mut self, denial: &Denial, qname: &Name) -> Security {
        self.prove(
            denial,
            qname,
            format_args!("{qname} does not exist"),
            nsec::nxdomain,
            |p, q| p.nxdomain(q),
        )
    }

    /// NOERROR without data for `qname`/`qtype` (including DS NODATA and wildcard NODATA).
    pub(crate) fn nodata(&mut self, denial: &Denial, qname: &Name, qtype: RecordType) -> Security {
        self.prove(
            denial,
            qname,
            format_args!("{qname} has no {qtype}"),
            |rrs, q| nsec::nodata(rrs, q, qtype),
            |p, q| p.nodata(q, qtype),
        )
    }

    /// A positive answer whose RRSIG showed it was expanded from `*.closest`
    /// (`Checked::wildcard`): `qname` itself must not exist.
    pub(crate) fn wildcard_answer(
        &mut self,
        denial: &Denial,
        qname: &Name,
        closest: &Name,
    ) -> Security {
        self.prove(
            denial,
            qname,
            format_args!("{qname} expanded from *.{closest}"),
            |rrs, q| nsec::wildcard_answer(rrs, q, closest),
            |p, q| p.wildcard_answer(q, closest),
        )
    }

    /// No DS at `child`, as a referral or a DS query proves it. `Insecure`: `child` is (or is
    /// below) a delegation without DS, or an opt-out span covers it — the child zone is
    /// unsigned. `Secure`: there is provably no DS and no zone cut at `child`. `Bogus`: not
    /// proven.
    pub(crate) fn no_ds(&mut self, denial: &Denial, child: &Name) -> Security {
        self.prove(
            denial,
            child,
            format_args!("no DS at {child}"),
            nsec::no_ds,
            |p, q| p.no_ds(q),
        )
    }

    /// RFC 8198 §5.1: does this (cached, validated) denial prove that `name` does not exist,
    /// so an NXDOMAIN can be answered without asking? Only a complete, secure proof counts:
    /// not opt-out, not too many iterations, not past the budget.
    pub(crate) fn proves_nonexistent(&mut self, denial: &Denial, name: &Name) -> bool {
        let trace = std::mem::replace(&mut self.trace, super::Trace::off());
        let secure = self.nxdomain(denial, name).is_secure();
        self.trace = trace;
        secure
    }

    fn prove(
        &mut self,
        denial: &Denial,
        qname: &Name,
        what: std::fmt::Arguments<'_>,
        with_nsec: impl FnOnce(&[NsecRr], &Name) -> Proof,
        with_nsec3: impl FnOnce(&mut Prover<'_, '_>, &Name) -> Result<Proof, Proof>,
    ) -> Security {
        let zone = &denial.zone;
        let (check, proof) = if !zone.zone_of(qname) {
            (
                Check::Nsec,
                Proof::Bogus(format!("{qname} is not in {zone}")),
            )
        } else if !denial.nsec.is_empty() {
            (Check::Nsec, with_nsec(&denial.nsec, qname))
        } else if !denial.nsec3.is_empty() {
            let proof = match Prover::new(&denial.nsec3, qname, &mut self.budget) {
                Ok(mut prover) => with_nsec3(&mut prover, qname).unwrap_or_else(|e| e),
                Err(e) => e,
            };
            (Check::Nsec3, proof)
        } else if denial.unknown_hash {
            (
                Check::Nsec3,
                Proof::Insecure("only NSEC3 with unknown hash algorithms".into()),
            )
        } else {
            (
                Check::Nsec,
                Proof::Missing("no NSEC or NSEC3 records".into()),
            )
        };
        let (security, outcome) = match proof {
            Proof::Proven => (Security::Secure, "proven".to_string()),
            Proof::Insecure(why) => (Security::Insecure, format!("insecure: {why}")),
            Proof::Iterations(n) => (
                Security::Insecure,
                format!(
                    "insecure: {n} NSEC3 iterations > {MAX_ITERATIONS} (EDE {})",
                    Ede::UnsupportedNsec3Iterations.code()
                ),
            ),
            Proof::Missing(why) => (Security::bogus(zone, Ede::NsecMissing, why.clone()), why),
            Proof::Bogus(why) => (Security::bogus(zone, Ede::Bogus, why.clone()), why),
            Proof::Exhausted(e) => (
                Security::bogus(zone, Ede::Bogus, e.to_string()),
                e.to_string(),
            ),
        };
        self.trace.note(check, zone, what, outcome);
        security
    }
}

#[cfg(test)]
mod tests;

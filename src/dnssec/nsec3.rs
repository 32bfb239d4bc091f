//! NSEC3 proofs (RFC 5155 §8, RFC 9276): the same questions as `nsec.rs`, asked in hash
//! space. Every name hash is counted against the budget and memoized for the run, and
//! iteration counts are checked before anything is hashed (CVE-2023-50868).
//!
//! The closest-encloser proof (§8.3) is the core: walking up from the query name, the first
//! ancestor whose hash matches an NSEC3 is the closest encloser, and the name one label below
//! it on the way to the query name (the "next closer") must be covered. An opt-out NSEC3
//! covering the next closer may hide an unsigned delegation, so what it proves is insecure.

use hickory_proto::dnssec::Nsec3HashAlgorithm;
use hickory_proto::dnssec::rdata::NSEC3;
use hickory_proto::rr::{Name, RecordType};

use super::Budget;
use super::denial::Proof;
use super::nsec::wildcard_of;

/// RFC 9276 §3.2: validators may treat NSEC3 records with more iterations as insecure; 150 is
/// what BIND, Unbound and Knot used for years (Unbound: `val-nsec3-keysize-iterations` for
/// 1024-bit keys). Above it, nothing is hashed.
pub(crate) const MAX_ITERATIONS: u16 = 150;

/// One verified NSEC3 record, its owner's hash decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Nsec3Rr {
    pub(crate) owner: Name,
    /// The zone the record belongs to: its owner without the hash label.
    pub(crate) zone: Name,
    pub(crate) hash: Vec<u8>,
    pub(crate) nsec3: NSEC3,
}

impl Nsec3Rr {
    fn has(&self, rtype: RecordType) -> bool {
        self.nsec3.type_set().contains(rtype)
    }

    fn delegation(&self) -> bool {
        self.has(RecordType::NS) && !self.has(RecordType::SOA)
    }

    /// RFC 5155 §3.1.7: does this record's span (owner, next) contain `hash`?
    fn covers(&self, hash: &[u8]) -> bool {
        let (own, next) = (self.hash.as_slice(), self.nsec3.next_hashed_owner_name());
        if own == next {
            hash != own // the zone's only NSEC3 covers everything else
        } else if own < next {
            own < hash && hash < next
        } else {
            hash > own || hash < next // the last one wraps around
        }
    }
}

/// The name one label below `ce` on the way down to `qname`.
fn next_closer(qname: &Name, ce: &Name) -> Name {
    qname.trim_to(ce.iter().count() + 1)
}

struct Ce<'a> {
    ce: Name,
    /// The NSEC3 covering the next closer name; `None` when the query name itself matched.
    nc: Option<&'a Nsec3Rr>,
}

/// The records of one zone, and the hashes computed so far.
pub(crate) struct Prover<'a, 'b> {
    rrs: Vec<&'a Nsec3Rr>,
    budget: &'b mut Budget,
    memo: Vec<(Name, &'a [u8], u16, Vec<u8>)>,
}

impl<'a, 'b> Prover<'a, 'b> {
    /// Picks the records of the zone closest to `qname` (RFC 5155 §8.3 asks for the NSEC3s of
    /// one zone) and refuses to hash when their iterations are too high.
    pub(crate) fn new(
        all: &'a [Nsec3Rr],
        qname: &Name,
        budget: &'b mut Budget,
    ) -> Result<Self, Proof> {
        let zone = all
            .iter()
            .map(|r| &r.zone)
            .filter(|z| z.zone_of(qname))
            .max_by_key(|z| z.num_labels())
            .ok_or_else(|| Proof::Missing(format!("no NSEC3 of a zone above {qname}")))?;
        let rrs: Vec<&Nsec3Rr> = all.iter().filter(|r| r.zone == *zone).collect();
        if let Some(high) = rrs
            .iter()
            .map(|r| r.nsec3.iterations())
            .find(|i| *i > MAX_ITERATIONS)
        {
            return Err(Proof::Iterations(high));
        }
        Ok(Prover {
            rrs,
            budget,
            memo: Vec::new(),
        })
    }

    fn hash(&mut self, name: &Name, rr: &'a Nsec3Rr) -> Result<Vec<u8>, Proof> {
        let (salt, iterations) = (rr.nsec3.salt(), rr.nsec3.iterations());
        if let Some((.., h)) = self
            .memo
            .iter()
            .find(|(n, s, i, _)| n == name && *s == salt && *i == iterations)
        {
            return Ok(h.clone());
        }
        self.budget.hash()?;
        // Hashing an encodable name cannot fail; if it did, an empty hash matches nothing.
        let h = Nsec3HashAlgorithm::SHA1
            .hash(salt, name, iterations)
            .map(|d| d.as_ref().to_vec())
            .unwrap_or_default();
        self.memo.push((name.clone(), salt, iterations, h.clone()));
        Ok(h)
    }

    fn matching(&mut self, name: &Name) -> Result<Option<&'a Nsec3Rr>, Proof> {
        for i in 0..self.rrs.len() {
            let rr = self.rrs[i];
            if self.hash(name, rr)? == rr.hash {
                return Ok(Some(rr));
            }
        }
        Ok(None)
    }

    fn covering(&mut self, name: &Name) -> Result<Option<&'a Nsec3Rr>, Proof> {
        for i in 0..self.rrs.len() {
            let rr = self.rrs[i];
            let h = self.hash(name, rr)?;
            if rr.covers(&h) {
                return Ok(Some(rr));
            }
        }
        Ok(None)
    }

    /// RFC 5155 §8.3.
    fn closest_encloser(&mut self, qname: &Name) -> Result<Ce<'a>, Proof> {
        let zone = self
            .rrs
            .first()
            .map(|r| r.zone.clone())
            .unwrap_or_else(Name::root);
        let mut candidate = qname.clone();
        let ce_rr = loop {
            if let Some(rr) = self.matching(&candidate)? {
                break rr;
            }
            if candidate == zone || candidate.is_root() {
                return Err(Proof::Missing(format!(
                    "no NSEC3 matches an ancestor of {qname}"
                )));
            }
            candidate = candidate.base_name();
        };
        if candidate == *qname {
            return Ok(Ce {
                ce: candidate,
                nc: None,
            });
        }
        if ce_rr.delegation() {
            return Err(if ce_rr.has(RecordType::DS) {
                Proof::Bogus(format!("closest encloser {candidate} is a delegation"))
            } else {
                Proof::Insecure(format!(
                    "{candidate} above {qname} is a delegation without DS"
                ))
            });
        }
        if ce_rr.has(RecordType::DNAME) {
            return Err(Proof::Bogus(format!(
                "closest encloser {candidate} is a DNAME"
            )));
        }
        let nc = next_closer(qname, &candidate);
        match self.covering(&nc)? {
            Some(rr) => Ok(Ce {
                ce: candidate,
                nc: Some(rr),
            }),
            None => Err(Proof::Missing(format!(
                "no NSEC3 covers the next closer {nc}"
            ))),
        }
    }

    fn wildcard(ce: &Name) -> Result<Name, Proof> {
        wildcard_of(ce).ok_or_else(|| Proof::Bogus(format!("no wildcard name under {ce}")))
    }

    /// RFC 5155 §8.4.
    pub(crate) fn nxdomain(&mut self, qname: &Name) -> Result<Proof, Proof> {
        let ce = self.closest_encloser(qname)?;
        let Some(nc) = ce.nc else {
            return Err(Proof::Bogus(format!("NSEC3 shows {qname} exists")));
        };
        let wc = Self::wildcard(&ce.ce)?;
        if self.covering(&wc)?.is_none() {
            return Err(Proof::Missing(format!("no NSEC3 covers {wc}")));
        }
        Ok(opt_out(nc, qname))
    }

    /// RFC 5155 §8.5–8.7 (and §8.6 for DS, which `no_ds` refines).
    pub(crate) fn nodata(&mut self, qname: &Name, qtype: RecordType) -> Result<Proof, Proof> {
        if let Some(rr) = self.matching(qname)? {
            return Ok(types_absent(rr, qname, qtype));
        }
        let ce = self.closest_encloser(qname)?;
        let Some(nc) = ce.nc else {
            return Err(Proof::Bogus(format!("NSEC3 for {qname} vanished")));
        };
        let wc = Self::wildcard(&ce.ce)?;
        if let Some(rr) = self.matching(&wc)? {
            return Ok(match types_absent(rr, &wc, qtype) {
                Proof::Proven => opt_out(nc, qname),
                other => other,
            });
        }
        // Case 5 (§8.6): no match, but an opt-out span over the next closer may hide an
        // unsigned delegation; what it says is insecure.
        if nc.nsec3.opt_out() {
            return Ok(opt_out(nc, qname));
        }
        Err(Proof::Missing(format!("no NSEC3 matches {qname} or {wc}")))
    }

    /// RFC 5155 §8.8: the next closer name of a wildcard expansion does not exist.
    pub(crate) fn wildcard_answer(&mut self, qname: &Name, closest: &Name) -> Result<Proof, Proof> {
        if !closest.zone_of(qname) || closest == qname {
            return Err(Proof::Bogus(format!("{closest} cannot expand to {qname}")));
        }
        let nc = next_closer(qname, closest);
        match self.covering(&nc)? {
            Some(rr) => Ok(opt_out(rr, qname)),
            None => Err(Proof::Missing(format!(
                "no NSEC3 covers the next closer {nc}"
            ))),
        }
    }

    /// No DS at `child` (RFC 5155 §8.6), with the meaning of `nsec::no_ds`.
    pub(crate) fn no_ds(&mut self, child: &Name) -> Result<Proof, Proof> {
        if let Some(rr) = self.matching(child)? {
            return Ok(match types_absent(rr, child, RecordType::DS) {
                Proof::Proven if rr.has(RecordType::NS) => {
                    Proof::Insecure(format!("{child} is a delegation without DS"))
                }
                other => other,
            });
        }
        let ce = self.closest_encloser(child)?;
        match ce.nc {
            Some(nc) if nc.nsec3.opt_out() => Ok(opt_out(nc, child)),
            _ => Err(Proof::Missing(format!(
                "no NSEC3 matches {child} and no opt-out span covers it"
            ))),
        }
    }
}

fn opt_out(nc: &Nsec3Rr, qname: &Name) -> Proof {
    if nc.nsec3.opt_out() {
        Proof::Insecure(format!("opt-out NSEC3 {} covers {qname}", nc.owner))
    } else {
        Proof::Proven
    }
}

fn types_absent(rr: &Nsec3Rr, owner: &Name, qtype: RecordType) -> Proof {
    if rr.has(qtype) {
        return Proof::Bogus(format!("NSEC3 for {owner} lists {qtype}"));
    }
    if rr.has(RecordType::CNAME) {
        return Proof::Bogus(format!("NSEC3 for {owner} lists CNAME"));
    }
    if qtype == RecordType::DS {
        if rr.has(RecordType::SOA) && !owner.is_root() {
            return Proof::Bogus(format!("NSEC3 of the apex {owner} used to deny its DS"));
        }
    } else if rr.delegation() {
        return if rr.has(RecordType::DS) {
            Proof::Bogus(format!(
                "NSEC3 for the delegation {owner}: expected a referral"
            ))
        } else {
            Proof::Insecure(format!("{owner} is a delegation without DS"))
        };
    }
    Proof::Proven
}

#[cfg(test)]
mod flags_review;
#[cfg(test)]
mod tests;

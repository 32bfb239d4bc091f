//! A zone's NSEC3 chain (RFC 5155), looked up by hashing: the records live here, keyed by the
//! hash their owner label encodes, and not among the zone's names, so that `<hash>.zone` is
//! no name a query can reach (RFC 5155 §7.2.8 asks for NXDOMAIN there, as NSD answers).

use hickory_proto::dnssec::Nsec3HashAlgorithm;
use hickory_proto::dnssec::rdata::{DNSSECRData, NSEC3PARAM};
use hickory_proto::rr::{LowerName, Name, RData, Record};

use super::covers;
use crate::dnssec::base32;
use crate::rr::label_count;
use crate::zonefile::{Located, ZoneError};

/// The hash function, iterations and salt of the chain answers are proved from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Params {
    algorithm: Nsec3HashAlgorithm,
    iterations: u16,
    salt: Vec<u8>,
}

/// One hashed owner name: its NSEC3 record and the RRSIGs over it.
#[derive(Debug, Clone)]
struct Entry {
    hash: Vec<u8>,
    next: Vec<u8>,
    /// The NSEC3 RRset first, then its RRSIGs.
    records: Vec<Record>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Nsec3Chain {
    params: Option<Params>,
    /// In hash order, which is the order of the owner names (RFC 5155 §3.1.7).
    entries: Vec<Entry>,
    /// NSEC3 records (and their RRSIGs) of another parameter set, as during a change of salt:
    /// transferred with the zone, never used in proofs.
    others: Vec<Record>,
}

impl Nsec3Chain {
    /// Builds the chain from the zone's NSEC3 records and the RRSIGs over them. The
    /// parameters are the apex NSEC3PARAM's (RFC 5155 §4), else the first NSEC3's.
    pub(crate) fn build(
        apex: &Name,
        located: Vec<Located>,
        param: Option<&NSEC3PARAM>,
        errors: &mut Vec<ZoneError>,
    ) -> Nsec3Chain {
        let mut params = param.map(|p| Params {
            algorithm: p.hash_algorithm(),
            iterations: p.iterations(),
            salt: p.salt().to_vec(),
        });
        let mut chain = Nsec3Chain::default();
        let mut sigs: Vec<(Vec<u8>, Record)> = Vec::new();
        for loc in located {
            let record = loc.record;
            // RFC 5155 §3: the owner is the base32hex hash, one label directly below the apex.
            let hash = (label_count(&record.name) == label_count(apex) + 1
                && LowerName::new(apex).zone_of(&LowerName::new(&record.name)))
            .then(|| record.name.iter().next())
            .flatten()
            .and_then(base32::decode);
            let Some(hash) = hash else {
                errors.push(ZoneError {
                    at: loc.at,
                    reason: format!(
                        "NSEC3 owner {} is no base32hex hash directly below {apex}",
                        record.name
                    ),
                });
                continue;
            };
            let RData::DNSSEC(DNSSECRData::NSEC3(nsec3)) = &record.data else {
                sigs.push((hash, record));
                continue;
            };
            let own = Params {
                algorithm: nsec3.hash_algorithm(),
                iterations: nsec3.iterations(),
                salt: nsec3.salt().to_vec(),
            };
            let params = params.get_or_insert_with(|| own.clone());
            if *params != own {
                chain.others.push(record);
                continue;
            }
            match chain.entries.iter_mut().find(|e| e.hash == hash) {
                // RFC 2181 §5: a repeated record is the same record.
                Some(e) if e.records.contains(&record) => {}
                Some(e) => e.records.insert(0, record),
                None => chain.entries.push(Entry {
                    next: nsec3.next_hashed_owner_name().to_vec(),
                    hash,
                    records: vec![record],
                }),
            }
        }
        chain.entries.sort_by(|a, b| a.hash.cmp(&b.hash));
        for (hash, sig) in sigs {
            match chain.entries.binary_search_by(|e| e.hash.cmp(&hash)) {
                Ok(i) if !chain.entries[i].records.contains(&sig) => {
                    chain.entries[i].records.push(sig);
                }
                Ok(_) => {}
                Err(_) => chain.others.push(sig),
            }
        }
        chain.params = params;
        chain
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.others.is_empty()
    }

    /// Every record of the chain, for transfers and `Zone::records`.
    pub(crate) fn records(&self) -> impl Iterator<Item = &Record> {
        self.entries
            .iter()
            .flat_map(|e| e.records.iter())
            .chain(&self.others)
    }

    /// Whether the chain holds a record identical to `record` but for its TTL.
    pub(crate) fn holds(&self, record: &Record) -> Option<&Record> {
        self.records().find(|r| *r == record)
    }

    /// The RFC 5155 §5 hash of `name` with the chain's parameters.
    fn hash(&self, name: &Name) -> Option<Vec<u8>> {
        let p = self.params.as_ref()?;
        let digest = p.algorithm.hash(&p.salt, name, p.iterations).ok()?;
        Some(digest.as_ref().to_vec())
    }

    /// The NSEC3 RRset (with its RRSIGs) whose owner is the hash of `name`.
    pub(crate) fn matching(&self, name: &Name) -> Option<&[Record]> {
        let hash = self.hash(name)?;
        let i = self.entries.binary_search_by(|e| e.hash.cmp(&hash)).ok()?;
        Some(&self.entries[i].records)
    }

    /// The NSEC3 RRset whose span covers the hash of `name` (RFC 5155 §3.1.7: the hash lies
    /// strictly between owner and next, the last one wrapping to the first). `None` when the
    /// hash matches an owner (a hash collision) or the chain does not cover it.
    pub(crate) fn covering(&self, name: &Name) -> Option<&[Record]> {
        let hash = self.hash(name)?;
        let i = match self.entries.binary_search_by(|e| e.hash.cmp(&hash)) {
            Ok(_) => return None,
            Err(0) => self.entries.len().checked_sub(1)?,
            Err(i) => i - 1,
        };
        let e = &self.entries[i];
        covers(&e.hash, &e.next, &hash).then_some(e.records.as_slice())
    }

    /// RFC 5155 §7.2.1: the closest provable encloser of `name`, looked for from `start` (an
    /// ancestor of `name`, or `name` itself) upwards, and the proof: the NSEC3 matching it and
    /// the one covering the next closer name. The encloser is returned for a wildcard proof.
    pub(crate) fn closest_encloser_proof<'a>(
        &'a self,
        name: &Name,
        start: &Name,
        apex: &Name,
    ) -> Option<(Name, [&'a [Record]; 2])> {
        let mut candidate = start.clone();
        loop {
            if let Some(matching) = self.matching(&candidate) {
                let next_closer = name.trim_to(label_count(&candidate) + 1);
                let covering = self.covering(&next_closer)?;
                return Some((candidate, [matching, covering]));
            }
            if label_count(&candidate) <= label_count(apex) {
                return None;
            }
            candidate = candidate.base_name();
        }
    }
}

//! Zones signed offline (`dnssec-signzone`, `ldns-signzone`) served as signed: RFC 4035 §3.1.
//!
//! The zone file carries every DNSKEY, RRSIG, NSEC, NSEC3 and DS; nothing is signed here. What
//! a zone holds for DNSSEC beyond its nodes (the NSEC owners in canonical order, the NSEC3
//! chain) is worked out once when the zone is built, and only a DO=1 query to a signed zone
//! reads it: an unsigned zone, or a query without DO, takes exactly the path it took before.
//! `proof.rs` chooses the RRSIGs and denial-of-existence records each answer carries.

mod nsec3;
mod proof;

use hickory_proto::dnssec::rdata::{DNSSECRData, NSEC3PARAM};
use hickory_proto::rr::{Name, RData, Record, RecordType};

pub(crate) use self::nsec3::Nsec3Chain;
pub(crate) use self::proof::extend_unique;
use super::zone::{Node, Zone};
use crate::zonefile::{Located, ZoneError};

/// A zone's DNSSEC data beyond its nodes, decided when the zone is built.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dnssec {
    /// The apex SOA is signed: DO=1 answers carry RRSIGs and denial proofs.
    signed: bool,
    /// The owners of the zone's NSEC records (RFC 4034 §4) in canonical order (§6.1).
    nsec: Vec<Name>,
    /// The NSEC3 chain (RFC 5155), when the zone has one; proofs then use it, not NSEC.
    nsec3: Nsec3Chain,
}

impl Dnssec {
    /// What `nodes` (`apex_node` among them) and the NSEC3 records taken out of them
    /// (`nsec3`) hold for DNSSEC; `None` for a zone without any of it, which then stays
    /// exactly as unsigned zones were.
    pub(crate) fn build<'a>(
        apex: &Name,
        apex_node: Option<&Node>,
        nodes: impl Iterator<Item = &'a Node>,
        nsec3: Vec<Located>,
        errors: &mut Vec<ZoneError>,
    ) -> Option<Dnssec> {
        let signed = apex_node.is_some_and(|n| signatures(n, RecordType::SOA).next().is_some());
        let param: Option<&NSEC3PARAM> = apex_node
            .and_then(|n| n.get(RecordType::NSEC3PARAM))
            .into_iter()
            .flatten()
            .find_map(|r| match &r.data {
                // RFC 5155 §4.1.2: a server uses the NSEC3PARAM whose flags are zero.
                RData::DNSSEC(DNSSECRData::NSEC3PARAM(p)) if p.flags() == 0 => Some(p),
                _ => None,
            });
        let nsec3 = Nsec3Chain::build(apex, nsec3, param, errors);
        let mut nsec: Vec<Name> = nodes
            .filter_map(|node| node.get(RecordType::NSEC))
            .map(|set| set[0].name.clone())
            .collect();
        nsec.sort();
        if !signed && nsec3.is_empty() && nsec.is_empty() {
            return None;
        }
        Some(Dnssec {
            signed,
            nsec,
            nsec3,
        })
    }

    pub(crate) fn is_signed(&self) -> bool {
        self.signed
    }

    pub(crate) fn nsec3(&self) -> &Nsec3Chain {
        &self.nsec3
    }

    /// The owner of the NSEC record that matches or covers `name`: the last owner at or
    /// before it in canonical order (RFC 4034 §6.1). The chain is a ring, but every name of
    /// the zone sorts after its apex, the first owner, so no wrap-around is needed.
    fn nsec_owner_at_or_before(&self, name: &Name) -> Option<&Name> {
        let i = self.nsec.partition_point(|owner| owner <= name);
        i.checked_sub(1).map(|i| &self.nsec[i])
    }

    fn uses_nsec3(&self) -> bool {
        !self.nsec3.is_empty()
    }
}

/// `records` (whole RRsets, each in one run) with each RRset's RRSIGs after it.
pub(crate) fn with_signatures(zone: &Zone, records: Vec<Record>) -> Vec<Record> {
    let mut out = Vec::with_capacity(records.len() * 2);
    for (i, r) in records.iter().enumerate() {
        out.push(r.clone());
        let last_of_set = records
            .get(i + 1)
            .is_none_or(|n| n.name != r.name || n.record_type() != r.record_type());
        if last_of_set {
            out.extend(zone.signatures_of(&r.name, r.record_type()));
        }
    }
    out
}

/// The RRSIGs at `node` covering `rtype` (RFC 4035 §2.2).
pub(crate) fn signatures(node: &Node, rtype: RecordType) -> impl Iterator<Item = &Record> {
    node.get(RecordType::RRSIG)
        .into_iter()
        .flatten()
        .filter(move |r| covered(r) == Some(rtype))
}

/// The type an RRSIG record covers.
pub(crate) fn covered(record: &Record) -> Option<RecordType> {
    match &record.data {
        RData::DNSSEC(DNSSECRData::RRSIG(sig)) => Some(sig.input().type_covered),
        _ => None,
    }
}

/// Whether `hash` lies strictly inside the span from `owner` to `next` of an NSEC3 record,
/// the last span wrapping around past the end of the hash space (RFC 5155 §3.1.7).
fn covers(owner: &[u8], next: &[u8], hash: &[u8]) -> bool {
    if owner < next {
        owner < hash && hash < next
    } else {
        hash > owner || hash < next
    }
}

#[cfg(test)]
mod tests;

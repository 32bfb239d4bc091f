//! What each kind of answer from a signed zone carries for a DO=1 query, chosen from the
//! outcome of one lookup step: the RRSIGs of the answer's RRsets (RFC 4035 §3.1.1), the
//! NSEC or NSEC3 records proving a name or type absent (RFC 4035 §3.1.3, RFC 5155 §7.2), and
//! a referral's DS or the proof that there is none (RFC 4035 §3.1.4, RFC 5155 §7.2.7).

use hickory_proto::rr::{LowerName, Name, Record, RecordType};

use super::{Dnssec, signatures};
use crate::authority::lookup::{Answer, Source};
use crate::authority::zone::Zone;
use crate::rr::label_count;

/// The DNSSEC records one lookup step adds to a response.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Evidence {
    /// RRSIGs of the answer's RRsets, to follow them in the answer section.
    pub(crate) answer: Vec<Record>,
    /// For the authority section: the negative SOA's RRSIG, NSEC or NSEC3 records with their
    /// RRSIGs, or a referral's DS RRset with its RRSIGs.
    pub(crate) authority: Vec<Record>,
}

/// Appends `set` to `out` unless its first record is there already: one NSEC may both cover
/// the name and deny the wildcard, and it is sent once.
pub(crate) fn extend_unique<'a>(out: &mut Vec<Record>, set: impl IntoIterator<Item = &'a Record>) {
    let mut set = set.into_iter().peekable();
    if set.peek().is_some_and(|first| !out.contains(first)) {
        out.extend(set.cloned());
    }
}

/// The name one label below `encloser` on the way to `name` (RFC 5155 §1.3 "next closer").
fn next_closer(name: &Name, encloser: &Name) -> Name {
    name.trim_to(label_count(encloser) + 1)
}

fn wildcard_at(encloser: &Name) -> Option<Name> {
    encloser.clone().prepend_label("*").ok()
}

impl Zone {
    /// The DNSSEC records for `answer`, the outcome of looking `qname` up in this signed zone
    /// (`dnssec` is its data) by way of `source`.
    pub(crate) fn evidence(
        &self,
        dnssec: &Dnssec,
        qname: &Name,
        answer: &Answer,
        source: &Source,
    ) -> Evidence {
        let mut ev = Evidence::default();
        match answer {
            Answer::Records(records)
            | Answer::Cname { records, .. }
            | Answer::YxDomain { records } => {
                self.sign(records, source, &mut ev.answer);
                // RFC 4035 §3.1.3.3, RFC 5155 §7.2.6: a wildcard answer proves that the
                // next closer name does not exist.
                if let Source::Wildcard(encloser) = source {
                    self.deny_next_closer(dnssec, qname, encloser, &mut ev.authority);
                }
            }
            Answer::NoData { soa } => {
                self.sign_negative_soa(soa, &mut ev.authority);
                self.deny_type(dnssec, qname, source, &mut ev.authority);
            }
            Answer::NxDomain { soa } => {
                self.sign_negative_soa(soa, &mut ev.authority);
                if let Source::Missing(encloser) = source {
                    self.deny_name(dnssec, qname, encloser, &mut ev.authority);
                }
            }
            Answer::Referral(delegation) => {
                self.delegation_proof(dnssec, &delegation.cut, &mut ev.authority);
            }
        }
        ev
    }

    /// The RRSIGs of the RRsets in `records`, as the zone holds them: for a wildcard answer
    /// those of the wildcard's RRsets, with the owner rewritten as the records' were and the
    /// labels field left as signed (RFC 4035 §3.1.3.3). A CNAME synthesised from a DNAME has
    /// none (RFC 6672 §5.3.1).
    fn sign(&self, records: &[Record], source: &Source, out: &mut Vec<Record>) {
        let wildcard = match source {
            Source::Wildcard(encloser) => wildcard_at(encloser),
            _ => None,
        };
        let mut done: Vec<(LowerName, RecordType)> = Vec::new();
        for r in records {
            let key = (LowerName::new(&r.name), r.record_type());
            if done.contains(&key) {
                continue;
            }
            let node = match &wildcard {
                Some(w) => self.node(&LowerName::new(w)),
                None => self.node(&key.0),
            };
            done.push(key);
            let Some(node) = node else { continue };
            out.extend(signatures(node, r.record_type()).map(|sig| {
                let mut sig = sig.clone();
                sig.name = r.name.clone();
                sig
            }));
        }
    }

    /// The SOA's RRSIGs, with the negative answer's SOA TTL (RFC 2308 §3), as NSD sends them.
    fn sign_negative_soa(&self, soa: &Record, out: &mut Vec<Record>) {
        if let Some(apex) = self.node(&LowerName::new(self.origin())) {
            out.extend(signatures(apex, RecordType::SOA).map(|sig| {
                let mut sig = sig.clone();
                sig.ttl = soa.ttl;
                sig
            }));
        }
    }

    /// The NSEC RRset at `name` and its RRSIGs, if the zone has one there.
    fn nsec_at(&self, name: &Name, out: &mut Vec<Record>) -> bool {
        let Some(node) = self.node(&LowerName::new(name)) else {
            return false;
        };
        let Some(nsec) = node.get(RecordType::NSEC) else {
            return false;
        };
        extend_unique(out, nsec.iter().chain(signatures(node, RecordType::NSEC)));
        true
    }

    /// The NSEC that covers `name` (or matches it), with its RRSIGs.
    fn nsec_covering(&self, dnssec: &Dnssec, name: &Name, out: &mut Vec<Record>) {
        if let Some(owner) = dnssec.nsec_owner_at_or_before(name) {
            self.nsec_at(owner, out);
        }
    }

    /// RFC 4035 §3.1.3.3 and RFC 5155 §7.2.6: `qname` was synthesised from the wildcard at
    /// `encloser`; no name nearer to it exists.
    fn deny_next_closer(&self, d: &Dnssec, qname: &Name, encloser: &Name, out: &mut Vec<Record>) {
        if d.uses_nsec3() {
            extend_unique(
                out,
                d.nsec3
                    .covering(&next_closer(qname, encloser))
                    .into_iter()
                    .flatten(),
            );
        } else {
            self.nsec_covering(d, qname, out);
        }
    }

    /// RFC 4035 §3.1.3.1/§3.1.3.4, RFC 5155 §7.2.3–7.2.5: `qname` exists (or a wildcard
    /// answered for it) but not with the type asked for.
    fn deny_type(&self, d: &Dnssec, qname: &Name, source: &Source, out: &mut Vec<Record>) {
        let nsec3 = &d.nsec3;
        match source {
            Source::Wildcard(encloser) => {
                let wildcard = wildcard_at(encloser);
                if d.uses_nsec3() {
                    let proof = [
                        nsec3.matching(encloser),
                        nsec3.covering(&next_closer(qname, encloser)),
                        wildcard.as_ref().and_then(|w| nsec3.matching(w)),
                    ];
                    for set in proof.into_iter().flatten() {
                        extend_unique(out, set);
                    }
                } else {
                    self.nsec_covering(d, qname, out);
                    if let Some(w) = wildcard {
                        self.nsec_at(&w, out);
                    }
                }
            }
            _ if d.uses_nsec3() => match nsec3.matching(qname) {
                Some(set) => extend_unique(out, set),
                // RFC 5155 §7.2.4: DS at a delegation left out of the chain by opt-out (or an
                // empty non-terminal only above such delegations): the closest provable
                // encloser, and the opt-out span covering the next closer name.
                None => {
                    self.closest_encloser_proof(d, qname, &qname.base_name(), out);
                }
            },
            _ => {
                // An empty non-terminal has no NSEC of its own: the one before it proves that
                // nothing but names below it exist (RFC 4035 §3.1.3.2 note, RFC 8020).
                if !self.nsec_at(qname, out) {
                    self.nsec_covering(d, qname, out);
                }
            }
        }
    }

    /// RFC 4035 §3.1.3.2, RFC 5155 §7.2.2: `qname` does not exist and no wildcard answers
    /// for it; `encloser` is its closest encloser.
    fn deny_name(&self, d: &Dnssec, qname: &Name, encloser: &Name, out: &mut Vec<Record>) {
        if d.uses_nsec3() {
            let provable = self.closest_encloser_proof(d, qname, encloser, out);
            if let Some(w) = provable.as_ref().and_then(wildcard_at) {
                extend_unique(out, d.nsec3.covering(&w).into_iter().flatten());
            }
        } else {
            self.nsec_covering(d, qname, out);
            if let Some(w) = wildcard_at(encloser) {
                self.nsec_covering(d, &w, out);
            }
        }
    }

    /// RFC 4035 §3.1.4: a referral carries the child's DS RRset and its RRSIGs, or proves
    /// there is none: the NSEC at the cut, or the NSEC3 matching it, or for an opt-out
    /// delegation without one the closest provable encloser proof (RFC 5155 §7.2.7).
    fn delegation_proof(&self, d: &Dnssec, cut: &Name, out: &mut Vec<Record>) {
        if let Some(node) = self.node(&LowerName::new(cut))
            && let Some(ds) = node.get(RecordType::DS)
        {
            extend_unique(out, ds.iter().chain(signatures(node, RecordType::DS)));
            return;
        }
        if !d.uses_nsec3() {
            self.nsec_at(cut, out);
            return;
        }
        match d.nsec3.matching(cut) {
            Some(set) => extend_unique(out, set),
            None => {
                self.closest_encloser_proof(d, cut, &cut.base_name(), out);
            }
        }
    }

    /// Adds RFC 5155 §7.2.1's closest provable encloser proof of `name`, searched from
    /// `start` upwards, and returns that encloser.
    fn closest_encloser_proof(
        &self,
        d: &Dnssec,
        name: &Name,
        start: &Name,
        out: &mut Vec<Record>,
    ) -> Option<Name> {
        let (encloser, proof) = d.nsec3.closest_encloser_proof(name, start, self.origin())?;
        for set in proof {
            extend_unique(out, set);
        }
        Some(encloser)
    }

    /// The RRSIGs of the RRset `rtype` at `name` (a wildcard's, renamed, where `name` was
    /// synthesised from one): for the additional section.
    pub(crate) fn signatures_of(&self, name: &Name, rtype: RecordType) -> Vec<Record> {
        let (answer, source) = self.find(name, rtype);
        let mut out = Vec::new();
        if let Answer::Records(records) = answer {
            self.sign(&records, &source, &mut out);
        }
        out
    }
}

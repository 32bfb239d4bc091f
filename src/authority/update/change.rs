//! RFC 2136 §3.4: the update section, prescanned as a whole, then applied RR by RR to the
//! names it touches; the net change against the snapshot is the [`Diff`].

use std::collections::HashMap;

use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType, SerialNumber};

use super::{Diff, Ignored, UpdateError, Why, in_zone, is_empty, is_meta};
use crate::authority::Zone;

/// RFC 2136 §3.4.1: every update RR is checked before any is applied.
pub(super) fn prescan(origin: &Name, updates: &[Record]) -> Result<(), UpdateError> {
    for rr in updates {
        in_zone(origin, &rr.name)?;
        let rtype = rr.record_type();
        match rr.dns_class {
            DNSClass::IN => {
                if is_meta(rtype) {
                    return Err(UpdateError::FormErr(
                        "ANY and meta types cannot be added (RFC 2136 §3.4.1.2)",
                    ));
                }
                if is_empty(rr) {
                    return Err(UpdateError::FormErr("a record to add has no RDATA"));
                }
            }
            DNSClass::ANY => {
                if rr.ttl != 0 || !is_empty(rr) || (is_meta(rtype) && rtype != RecordType::ANY) {
                    return Err(UpdateError::FormErr(
                        "a CLASS ANY update needs TTL 0, no RDATA and a data type or ANY \
                         (RFC 2136 §3.4.1.2)",
                    ));
                }
            }
            DNSClass::NONE => {
                if rr.ttl != 0 || is_meta(rtype) {
                    return Err(UpdateError::FormErr(
                        "a CLASS NONE update needs TTL 0 and a data type (RFC 2136 §3.4.1.2)",
                    ));
                }
            }
            _ => {
                return Err(UpdateError::FormErr(
                    "an update's CLASS must be the zone's, ANY or NONE (RFC 2136 §3.4.1.2)",
                ));
            }
        }
        if matches!(
            rtype,
            RecordType::RRSIG | RecordType::NSEC | RecordType::NSEC3 | RecordType::NSEC3PARAM
        ) {
            return Err(UpdateError::TypeRefused(rtype));
        }
    }
    Ok(())
}

/// The names an update touches, with their records as the update goes: §3.4.2 applies the
/// RRs one after another, each seeing what the ones before it did.
pub(super) struct Working<'z> {
    zone: &'z Zone,
    apex: LowerName,
    /// In the order first touched, so the diff comes out in a stable order.
    names: Vec<(LowerName, Vec<Record>)>,
    index: HashMap<LowerName, usize>,
    /// The RRs §3.4.2 says to ignore, for the log: the client is told NOERROR either way.
    ignored: Vec<Ignored>,
}

fn node_records(zone: &Zone, name: &LowerName) -> Vec<Record> {
    zone.node(name)
        .map(|node| node.rrsets().flatten().cloned().collect())
        .unwrap_or_default()
}

/// Same record and same TTL: what the journal must see as unchanged.
pub(super) fn identical(a: &Record, b: &Record) -> bool {
    a == b && a.ttl == b.ttl
}

impl<'z> Working<'z> {
    pub(super) fn new(zone: &'z Zone) -> Self {
        Working {
            zone,
            apex: LowerName::new(zone.origin()),
            names: Vec::new(),
            index: HashMap::new(),
            ignored: Vec::new(),
        }
    }

    fn records(&mut self, name: &LowerName) -> &mut Vec<Record> {
        let i = match self.index.get(name) {
            Some(&i) => i,
            None => {
                let current = node_records(self.zone, name);
                self.names.push((name.clone(), current));
                self.index.insert(name.clone(), self.names.len() - 1);
                self.names.len() - 1
            }
        };
        &mut self.names[i].1
    }

    /// One update RR, already prescanned (§3.4.2).
    pub(super) fn update(&mut self, rr: &Record) {
        if let Err(why) = self.apply(rr) {
            self.ignored.push(Ignored {
                name: rr.name.clone(),
                rtype: rr.record_type(),
                why,
            });
        }
    }

    /// Applies one RR, or says why §3.4.2 ignores it.
    fn apply(&mut self, rr: &Record) -> Result<(), Why> {
        let name = LowerName::new(&rr.name);
        let at_apex = name == self.apex;
        let rtype = rr.record_type();
        let set = self.records(&name);
        match rr.dns_class {
            // §3.4.2.3: delete an RRset, or every RRset at a name; never the apex SOA or NS.
            DNSClass::ANY => {
                let keep_apex =
                    |t: RecordType| at_apex && matches!(t, RecordType::SOA | RecordType::NS);
                if rtype == RecordType::ANY {
                    set.retain(|r| keep_apex(r.record_type()));
                } else if keep_apex(rtype) {
                    return Err(Why::ApexKept);
                } else {
                    set.retain(|r| r.record_type() != rtype);
                }
            }
            // §3.4.2.4: delete one RR; never the SOA, nor the last NS at the apex.
            DNSClass::NONE => {
                if rtype == RecordType::SOA {
                    return Err(Why::ApexKept);
                }
                let is_it = |r: &Record| r.record_type() == rtype && r.data == rr.data;
                let last_apex_ns = at_apex
                    && rtype == RecordType::NS
                    && set
                        .iter()
                        .all(|r| r.record_type() != RecordType::NS || is_it(r));
                if last_apex_ns {
                    return Err(Why::ApexKept);
                }
                set.retain(|r| !is_it(r));
            }
            // §3.4.2.2: add, with its exceptions. Prescan let only the zone's class through.
            _ => {
                // RFC 1034 §3.6.2, RFC 2136 §3.4.2.2: a CNAME stands alone; either way round
                // the newcomer is ignored.
                let has_cname = set.iter().any(|r| r.record_type() == RecordType::CNAME);
                let has_other = set.iter().any(|r| r.record_type() != RecordType::CNAME);
                if rtype == RecordType::CNAME && has_other {
                    return Err(Why::CnameBesideData);
                }
                if rtype != RecordType::CNAME && has_cname {
                    return Err(Why::DataBesideCname);
                }
                if rtype == RecordType::SOA {
                    // Only the apex has an SOA; a new one must have a higher serial (RFC 1982).
                    let current = set.iter().find_map(|r| match &r.data {
                        RData::SOA(soa) => Some(soa.serial),
                        _ => None,
                    });
                    let new = match &rr.data {
                        RData::SOA(soa) => soa.serial,
                        _ => return Err(Why::SoaNotNewer),
                    };
                    match current {
                        Some(cur) if SerialNumber::new(new) > SerialNumber::new(cur) => {}
                        _ => return Err(Why::SoaNotNewer),
                    }
                }
                // An RR with the same RDATA (for SOA and CNAME: the one there is) is replaced;
                // so a repeated RR is not added twice, and takes the update's TTL.
                let singleton = matches!(rtype, RecordType::SOA | RecordType::CNAME);
                match set
                    .iter_mut()
                    .find(|z| z.record_type() == rtype && (singleton || z.data == rr.data))
                {
                    Some(z) => *z = rr.clone(),
                    None => set.push(rr.clone()),
                }
                // RFC 2181 §5.2: one TTL per RRset. As BIND (update.c, add_rr_prepare_action),
                // the added RR's TTL becomes the whole RRset's; the diff then shows each other
                // member removed with its old TTL and added with the new one (RFC 1995).
                for z in set.iter_mut().filter(|z| z.record_type() == rtype) {
                    z.ttl = rr.ttl;
                }
            }
        }
        Ok(())
    }

    /// The net change, name by name: removed in the zone's order, added in the update's.
    pub(super) fn diff(self) -> (Diff, Vec<Ignored>) {
        let mut diff = Diff::default();
        for (name, now) in &self.names {
            let before = node_records(self.zone, name);
            diff.removed.extend(
                before
                    .iter()
                    .filter(|b| !now.iter().any(|n| identical(b, n)))
                    .cloned(),
            );
            diff.added.extend(
                now.iter()
                    .filter(|n| !before.iter().any(|b| identical(b, n)))
                    .cloned(),
            );
        }
        (diff, self.ignored)
    }
}

//! RFC 2136 §3.2: the prerequisite section, "satisfied by the current state of the zone",
//! that is the snapshot as it is before any update RR applies.

use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};

use super::{UpdateError, in_zone, is_empty};
use crate::authority::Zone;

fn rrset<'z>(zone: &'z Zone, name: &LowerName, rtype: RecordType) -> Option<&'z [Record]> {
    zone.node(name).and_then(|node| node.get(rtype))
}

/// §2.4.4: a name is in use when it owns a record; an empty non-terminal does not count.
fn name_in_use(zone: &Zone, name: &LowerName) -> bool {
    zone.node(name).is_some_and(|node| !node.is_empty())
}

/// RFC 2136 §3.2.5, in its order: each RR on its own, then the value-dependent RRsets together.
pub(super) fn check_prerequisites(
    zone: &Zone,
    prerequisites: &[Record],
) -> Result<(), UpdateError> {
    // §3.2.3: the zone-class RRs, gathered into RRsets by owner and type.
    let mut expected: Vec<(LowerName, &Name, RecordType, Vec<&RData>)> = Vec::new();
    for rr in prerequisites {
        if rr.ttl != 0 {
            return Err(UpdateError::FormErr(
                "a prerequisite's TTL must be 0 (RFC 2136 §3.2.5)",
            ));
        }
        in_zone(zone.origin(), &rr.name)?;
        let name = LowerName::new(&rr.name);
        let rtype = rr.record_type();
        match rr.dns_class {
            DNSClass::ANY | DNSClass::NONE if !is_empty(rr) => {
                return Err(UpdateError::FormErr(
                    "a CLASS ANY or NONE prerequisite must have no RDATA (RFC 2136 §3.2.1, §3.2.2)",
                ));
            }
            // §3.2.1 and §3.2.2: CLASS ANY asks that the name (TYPE ANY) or the RRset exist,
            // CLASS NONE that it not; each of the four failures has its own RCODE.
            DNSClass::ANY | DNSClass::NONE => {
                let must_exist = rr.dns_class == DNSClass::ANY;
                let whole_name = rtype == RecordType::ANY;
                let exists = if whole_name {
                    name_in_use(zone, &name)
                } else {
                    rrset(zone, &name, rtype).is_some()
                };
                if exists != must_exist {
                    let name = Box::new(rr.name.clone());
                    return Err(match (must_exist, whole_name) {
                        (true, true) => UpdateError::NameNotInUse(name),
                        (false, true) => UpdateError::NameInUse(name),
                        (true, false) => UpdateError::RrsetMissing { name, rtype },
                        (false, false) => UpdateError::RrsetExists { name, rtype },
                    });
                }
            }
            DNSClass::IN => {
                match expected
                    .iter_mut()
                    .find(|(n, _, t, _)| *n == name && *t == rtype)
                {
                    Some((_, _, _, set)) => set.push(&rr.data),
                    None => expected.push((name, &rr.name, rtype, vec![&rr.data])),
                }
            }
            _ => {
                return Err(UpdateError::FormErr(
                    "a prerequisite's CLASS must be the zone's, ANY or NONE (RFC 2136 §3.2.3)",
                ));
            }
        }
    }
    // §2.4.2: "identical in their extent", order and TTL aside; a repeated RR is the same RR.
    for (name, owner, rtype, want) in expected {
        let have = rrset(zone, &name, rtype).unwrap_or_default();
        let same = have.iter().all(|r| want.contains(&&r.data))
            && want.iter().all(|d| have.iter().any(|r| r.data == **d));
        if have.is_empty() || !same {
            return Err(UpdateError::RrsetDiffers {
                name: Box::new(owner.clone()),
                rtype,
            });
        }
    }
    Ok(())
}

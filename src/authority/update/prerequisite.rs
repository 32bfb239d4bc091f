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
        let owner = || Box::new(rr.name.clone());
        match rr.dns_class {
            DNSClass::ANY | DNSClass::NONE if !is_empty(rr) => {
                return Err(UpdateError::FormErr(
                    "a CLASS ANY or NONE prerequisite must have no RDATA (RFC 2136 §3.2.1, §3.2.2)",
                ));
            }
            DNSClass::ANY if rtype == RecordType::ANY => {
                if !name_in_use(zone, &name) {
                    return Err(UpdateError::NameNotInUse(owner()));
                }
            }
            DNSClass::ANY => {
                if rrset(zone, &name, rtype).is_none() {
                    return Err(UpdateError::RrsetMissing {
                        name: owner(),
                        rtype,
                    });
                }
            }
            DNSClass::NONE if rtype == RecordType::ANY => {
                if name_in_use(zone, &name) {
                    return Err(UpdateError::NameInUse(owner()));
                }
            }
            DNSClass::NONE => {
                if rrset(zone, &name, rtype).is_some() {
                    return Err(UpdateError::RrsetExists {
                        name: owner(),
                        rtype,
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

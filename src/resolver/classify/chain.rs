//! The links of an alias chain an authoritative server answered beside the first, learned
//! with it (see [`rest_of_chain`]).

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};

use super::{Learn, in_bailiwick};
use crate::cache::{Data, Key, Rank};
use crate::resolver::proof;
use crate::wire::same_name;

/// An authoritative server that answers with an alias usually follows the chain through its
/// own data (RFC 1034 §4.3.2 step 3a). Links inside the server's zone are as trustworthy as
/// the first one, so, as Unbound does, they and the final RRset are learned too: the chase
/// then takes them from the cache instead of asking again. Anything outside the zone is left
/// for its own servers (RFC 5452 §6).
pub(super) fn rest_of_chain(
    reply: &Message,
    zone: &Name,
    first_target: &Name,
    qtype: RecordType,
    rank: Rank,
) -> Vec<Learn> {
    // A signed link of the chain may be a wildcard expansion: like the first link, it keeps
    // the NSEC/NSEC3 proof that its owner does not exist (RFC 4035 §5.3.4), else the next
    // read of it from the cache is bogus for want of that proof.
    let signed = |owner: &Name, rtype: RecordType| {
        let mut sigs: Vec<Record> = proof::sigs(&reply.answers, owner, rtype).collect();
        if !sigs.is_empty() {
            sigs.extend(proof::nsec_only(&reply.authorities, zone));
        }
        sigs
    };
    let mut learned = Vec::new();
    let mut target = first_target.clone();
    let mut seen = vec![LowerName::new(&target)];
    while in_bailiwick(&target, zone) {
        let rrset: Vec<Record> = reply
            .answers
            .iter()
            .filter(|r| same_name(&r.name, &target) && r.record_type() == qtype)
            .cloned()
            .collect();
        if !rrset.is_empty() {
            learned.push(Learn {
                key: Key::new(&target, qtype),
                data: Data::Positive(rrset),
                rank,
                signed: signed(&target, qtype),
            });
            break;
        }
        let Some(cname) = reply
            .answers
            .iter()
            .find(|r| same_name(&r.name, &target) && r.record_type() == RecordType::CNAME)
        else {
            break;
        };
        let RData::CNAME(CNAME(next)) = &cname.data else {
            break;
        };
        learned.push(Learn {
            key: Key::new(&target, RecordType::CNAME),
            data: Data::Positive(vec![cname.clone()]),
            rank,
            signed: signed(&target, RecordType::CNAME),
        });
        // A loop is the chase's to report; stop learning at its second lap.
        if seen.contains(&LowerName::new(next)) {
            break;
        }
        seen.push(LowerName::new(next));
        target = next.clone();
    }
    learned
}

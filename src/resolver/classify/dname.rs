//! The alias a reply gives the name asked: its CNAME, or the CNAME a DNAME above the name
//! synthesises (RFC 6672 §2.2), checked against the DNAME and made here when the server left
//! it out, as Unbound's scrubber (`scrub_normalize`) does; or the YXDOMAIN that a DNAME whose
//! substitution would be too long a name calls for.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::{Classified, Outcome, in_bailiwick};
use crate::resolver::proof;
use crate::rr::dname::{self, NameTooLong};
use crate::rr::label_count;
use crate::wire::{same_name, within};

/// The DNAME inside `zone` that redirects `qname` (strictly above it), and its target.
fn redirect<'r>(reply: &'r Message, zone: &Name, qname: &Name) -> Option<(&'r Record, Name)> {
    // The deepest DNAME above qname: a DNAME's own subtree cannot hold another one that
    // applies (its names are all redirected), so two would be a broken zone's; the nearer one
    // is what the server's lookup met.
    reply
        .answers
        .iter()
        .filter(|r| r.record_type() == RecordType::DNAME && in_bailiwick(&r.name, zone))
        .filter(|r| within(qname, &r.name) && !same_name(&r.name, qname))
        .filter_map(|r| dname::target(r).map(|to| (r, to)))
        .max_by_key(|(r, _)| label_count(&r.name))
}

/// The CNAME record for `qname` in `reply` from a server for `zone`, if it is an alias. A
/// DNAME inside the zone above `qname` decides the target: the server's CNAME stands only
/// when it points where the DNAME redirects (a DNAME-unaware server may send none, a broken
/// one another), otherwise one is synthesised with the DNAME's TTL (RFC 6672 §3.1).
/// `Err` when the substitution would exceed 255 octets: see [`yxdomain`].
pub(super) fn alias(
    reply: &Message,
    zone: &Name,
    qname: &Name,
) -> Result<Option<Record>, NameTooLong> {
    let cname = reply
        .answers
        .iter()
        .find(|r| r.record_type() == RecordType::CNAME && same_name(&r.name, qname));
    let Some((dname, to)) = redirect(reply, zone, qname) else {
        return Ok(cname.cloned());
    };
    let synthesised = dname::substitute(qname, &dname.name, &to)?;
    if let Some(cname) = cname
        && let RData::CNAME(CNAME(target)) = &cname.data
        && same_name(target, &synthesised)
    {
        return Ok(Some(cname.clone()));
    }
    Ok(Some(Record::from_rdata(
        qname.clone(),
        dname.ttl,
        RData::CNAME(CNAME(synthesised)),
    )))
}

/// RFC 6672 §2.2: the reply read as YXDOMAIN, the DNAME that redirects `qname` its answer,
/// when that DNAME's substitution would exceed 255 octets (`overflows`), whatever RCODE the
/// server sent: the substitution is the resolver's then, as BIND's answer from its cached
/// DNAME is; or when the server said YXDOMAIN beside such a DNAME, as Unbound
/// (`processQueryResponse`) takes it. `None` for neither, or without a DNAME above `qname`
/// in the zone.
///
/// Nothing is learned for the cache: the YXDOMAIN is the question's, not an RRset's (the
/// message tier keeps the answer, as Unbound's message cache does), and the DNAME travels in
/// the answer with its RRSIGs, which vouch for it (RFC 6672 §5.3.1).
pub(super) fn yxdomain(
    reply: &Message,
    zone: &Name,
    qname: &Name,
    overflows: bool,
) -> Option<Classified> {
    if !overflows && reply.metadata.response_code != ResponseCode::YXDomain {
        return None;
    }
    let (dname, _) = redirect(reply, zone, qname)?;
    Some(Classified {
        outcome: Outcome::YxDomain {
            records: vec![dname.clone()],
        },
        authoritative: reply.metadata.authoritative,
        learned: Vec::new(),
        signed: proof::sigs(&reply.answers, &dname.name, RecordType::DNAME).collect(),
    })
}

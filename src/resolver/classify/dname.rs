//! The alias a reply gives the name asked: its CNAME, or the CNAME a DNAME above the name
//! synthesises (RFC 6672 §2.2), checked against the DNAME and made here when the server left
//! it out, as Unbound's scrubber (`scrub_normalize`) does.

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::in_bailiwick;
use crate::rr::dname::{self, NameTooLong};
use crate::rr::label_count;
use crate::wire::{same_name, within};

/// The CNAME record for `qname` in `reply` from a server for `zone`, if it is an alias. A
/// DNAME inside the zone above `qname` decides the target: the server's CNAME stands only
/// when it points where the DNAME redirects (a DNAME-unaware server may send none, a broken
/// one another), otherwise one is synthesised with the DNAME's TTL (RFC 6672 §3.1).
/// `Err` when the substitution would exceed 255 octets: the server should have said
/// YXDOMAIN (RFC 6672 §2.2), and its reply is no use.
pub(super) fn alias(
    reply: &Message,
    zone: &Name,
    qname: &Name,
) -> Result<Option<Record>, NameTooLong> {
    let cname = reply
        .answers
        .iter()
        .find(|r| r.record_type() == RecordType::CNAME && same_name(&r.name, qname));
    // The deepest DNAME above qname: a DNAME's own subtree cannot hold another one that
    // applies (its names are all redirected), so two would be a broken zone's; the nearer one
    // is what the server's lookup met.
    let redirect = reply
        .answers
        .iter()
        .filter(|r| r.record_type() == RecordType::DNAME && in_bailiwick(&r.name, zone))
        .filter(|r| within(qname, &r.name) && !same_name(&r.name, qname))
        .filter_map(|r| dname::target(r).map(|to| (r, to)))
        .max_by_key(|(r, _)| label_count(&r.name));
    let Some((dname, to)) = redirect else {
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

//! Which DNSSEC records of a reply go with which piece of data (RFC 4035 §3.1): the RRSIGs
//! over an RRset, the NSEC/NSEC3 records (and their RRSIGs) and the SOA's RRSIGs of a negative
//! answer, the DS set or its proof of absence in a referral. `classify` picks them with these,
//! so the store stage keeps them beside the data they prove.

use hickory_proto::rr::{Name, Record, RecordType};

use crate::dnssec::verify::rrsig;
use crate::rr::dname;

/// The type an RRSIG record covers, if it is one.
pub(crate) fn covered(record: &Record) -> Option<RecordType> {
    rrsig(record).map(|s| s.input().type_covered)
}

/// The RRSIGs in `section` at `owner` covering `rtype`.
pub(crate) fn sigs<'a>(
    section: &'a [Record],
    owner: &'a Name,
    rtype: RecordType,
) -> impl Iterator<Item = Record> + 'a {
    section
        .iter()
        .filter(move |r| covered(r) == Some(rtype) && crate::wire::same_name(&r.name, owner))
        .cloned()
}

/// The denial records of an authority section inside `zone`: NSEC and NSEC3 records, the
/// RRSIGs over them and over the SOA. Empty for an unsigned zone.
pub(crate) fn denial(authorities: &[Record], zone: &Name) -> Vec<Record> {
    authorities
        .iter()
        .filter(|r| {
            matches!(r.record_type(), RecordType::NSEC | RecordType::NSEC3)
                || matches!(
                    covered(r),
                    Some(RecordType::NSEC | RecordType::NSEC3 | RecordType::SOA)
                )
        })
        .filter(|r| crate::wire::within(&r.name, zone))
        .cloned()
        .collect()
}

/// Only the NSEC/NSEC3 records and their RRSIGs (a wildcard answer's proof, a referral's
/// proof of no DS).
pub(crate) fn nsec_only(authorities: &[Record], zone: &Name) -> Vec<Record> {
    let mut out = denial(authorities, zone);
    out.retain(|r| covered(r) != Some(RecordType::SOA));
    out
}

/// RFC 6672 §5.3.1: the DNAME among `records` that a CNAME at `owner` pointing to `target`
/// was synthesized from, if it was: the CNAME is then valid as far as the DNAME is.
pub(crate) fn dname_source<'a>(
    records: &'a [Record],
    owner: &Name,
    target: &Name,
) -> Option<&'a Record> {
    records.iter().find(|r| {
        r.record_type() == RecordType::DNAME
            && r.name != *owner
            && r.name.zone_of(owner)
            && dname::target(r)
                .and_then(|to| dname::substitute(owner, &r.name, &to).ok())
                .is_some_and(|synthesized| synthesized == *target)
    })
}

/// The DNAME records among a cached CNAME link's DNSSEC records (`dname_source`'s
/// candidates, kept there by `classify`), to go back before the CNAME in the answer.
pub(crate) fn dnames(signed: &[Record]) -> impl Iterator<Item = Record> + '_ {
    signed
        .iter()
        .filter(|r| r.record_type() == RecordType::DNAME)
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::name;

    #[test]
    fn a_cname_is_vouched_for_only_by_the_dname_that_synthesizes_it() {
        let dname = Record::from_rdata(name("dn.example."), 300, dname::rdata(&name("to.test.")));
        let records = vec![dname.clone()];
        let source =
            |owner: &str, target: &str| dname_source(&records, &name(owner), &name(target));
        assert_eq!(source("www.dn.example.", "www.to.test."), Some(&dname));
        assert_eq!(source("a.b.dn.example.", "a.b.to.test."), Some(&dname));
        // a CNAME pointing elsewhere, or at the DNAME's own owner, is not its synthesis
        assert_eq!(source("www.dn.example.", "www.evil.test."), None);
        assert_eq!(source("www.dn.example.", "to.test."), None);
        assert_eq!(source("dn.example.", "to.test."), None);
        assert_eq!(source("www.other.example.", "www.to.test."), None);
    }
}

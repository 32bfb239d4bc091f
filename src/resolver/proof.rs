//! Which DNSSEC records of a reply go with which piece of data (RFC 4035 §3.1): the RRSIGs
//! over an RRset, the NSEC/NSEC3 records (and their RRSIGs) and the SOA's RRSIGs of a negative
//! answer, the DS set or its proof of absence in a referral. `classify` picks them with these,
//! so the store stage keeps them beside the data they prove.

use hickory_proto::rr::{Name, Record, RecordType};

use crate::dnssec::verify::rrsig;

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
        .filter(move |r| r.name == *owner && covered(r) == Some(rtype))
        .cloned()
}

/// The denial records of an authority section inside `zone`: NSEC and NSEC3 records, the
/// RRSIGs over them and over the SOA. Empty for an unsigned zone.
pub(crate) fn denial(authorities: &[Record], zone: &Name) -> Vec<Record> {
    authorities
        .iter()
        .filter(|r| zone.zone_of(&r.name))
        .filter(|r| {
            matches!(r.record_type(), RecordType::NSEC | RecordType::NSEC3)
                || matches!(
                    covered(r),
                    Some(RecordType::NSEC | RecordType::NSEC3 | RecordType::SOA)
                )
        })
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

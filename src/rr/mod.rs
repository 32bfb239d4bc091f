//! Record-level helpers shared by the authority and the resolver: label counts, NS targets,
//! addresses, DNAME RDATA, and records read from the wire as hickory reads them but for the
//! NSEC3s RFC 5155 ignores ([`read`]). Pure functions over hickory-proto types; imports
//! nothing else of the crate.

pub(crate) mod dname;
pub(crate) mod read;

use std::net::IpAddr;

use hickory_proto::rr::{Name, RData, Record, RecordType};

/// The record types that carry addresses for name servers.
pub(crate) const ADDRESS_TYPES: [RecordType; 2] = [RecordType::A, RecordType::AAAA];

/// The number of labels in `name`, a leading `*` included (hickory's `num_labels` leaves the
/// wildcard label out, which is right for RRSIG labels but not for walking a tree).
pub(crate) fn label_count(name: &Name) -> usize {
    name.iter().len()
}

/// The NS targets named by the NS records among `records`.
pub(crate) fn ns_targets(records: &[Record]) -> Vec<Name> {
    records
        .iter()
        .filter_map(|r| match &r.data {
            RData::NS(ns) => Some(ns.0.clone()),
            _ => None,
        })
        .collect()
}

/// The address an A or AAAA record holds.
pub(crate) fn address(record: &Record) -> Option<IpAddr> {
    match &record.data {
        RData::A(a) => Some(IpAddr::V4(a.0)),
        RData::AAAA(a) => Some(IpAddr::V6(a.0)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_count_includes_a_leading_wildcard() {
        let n = Name::from_ascii("*.a.test.").expect("name");
        assert_eq!(label_count(&n), 3);
        assert_eq!(n.num_labels(), 2, "hickory's count, for contrast");
    }
}

//! RFC 2181 §5.2: the records of one RRset have one TTL. A zone file may still give them
//! several (a record added by hand with its own TTL); BIND loads it with "TTL set to prior
//! TTL", the first record's, and so does tern, with a warning at the record's line. Done on
//! the file's records only: an UPDATE that adds to an RRset sets the whole RRset's TTL to the
//! new one instead (as BIND), in the authority's own code.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::rr::{DNSClass, LowerName, RData, RecordType};
use tracing::warn;

use super::Located;

/// What makes records one RRset: owner, class, type, and for RRSIG the type covered (each
/// RRset's signatures take that RRset's TTL, RFC 4034 §3).
type RrsetKey = (LowerName, DNSClass, RecordType, Option<RecordType>);

/// Gives every record the TTL of the first record of its RRset in file order.
pub(super) fn one_ttl_per_rrset(records: &mut [Located]) {
    let mut first: HashMap<RrsetKey, u32> = HashMap::new();
    for located in records.iter_mut() {
        let record = &mut located.record;
        let covered = match &record.data {
            RData::DNSSEC(DNSSECRData::RRSIG(sig)) => Some(sig.input().type_covered),
            _ => None,
        };
        let key = (
            LowerName::new(&record.name),
            record.dns_class,
            record.record_type(),
            covered,
        );
        match first.entry(key) {
            Entry::Vacant(e) => {
                e.insert(record.ttl);
            }
            Entry::Occupied(e) => {
                let ttl = *e.get();
                if record.ttl != ttl {
                    warn!(
                        at = %located.at,
                        name = %record.name,
                        rtype = %record.record_type(),
                        "TTL {} differs from its RRset's {ttl} (RFC 2181 §5.2); set to {ttl}",
                        record.ttl
                    );
                    record.ttl = ttl;
                }
            }
        }
    }
}

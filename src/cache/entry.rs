//! What the cache holds for one key: an RRset, a negative answer, or a recent failure, with
//! the trust rank of its source (RFC 2181 §5.4.1) and when it expires.

use hickory_proto::rr::{Name, Record, RecordType};
use tokio::time::Instant;

/// RFC 2181 §5.4.1 trustworthiness, lowest first: data of a lower rank never replaces fresh
/// data of a higher one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rank {
    /// Addresses from an additional section (glue).
    Glue,
    /// NS records from the authority section of a referral.
    Referral,
    /// Answer data from a server that did not set AA.
    NonAuthoritative,
    /// Answer or negative data from an authoritative answer.
    Authoritative,
}

/// The cached data for a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// One RRset.
    Positive(Vec<Record>),
    /// RFC 2308 §5: the name does not exist (cached per name, for every type).
    NxDomain { soa: Option<Record> },
    /// RFC 2308 §5: the name exists but has no data of this type.
    NoData { soa: Option<Record> },
    /// RFC 9520: resolution failed recently; answer SERVFAIL without trying again.
    Failure { reason: String },
}

impl Data {
    /// Copies the records with `ttl` as their TTL (records carry the remaining lifetime).
    pub(crate) fn with_ttl(&self, ttl: u32) -> Data {
        let one = |r: &Record| -> Record {
            let mut r = r.clone();
            r.ttl = ttl;
            r
        };
        match self {
            Data::Positive(records) => Data::Positive(records.iter().map(one).collect()),
            Data::NxDomain { soa } => Data::NxDomain {
                soa: soa.as_ref().map(one),
            },
            Data::NoData { soa } => Data::NoData {
                soa: soa.as_ref().map(one),
            },
            Data::Failure { reason } => Data::Failure {
                reason: reason.clone(),
            },
        }
    }
}

/// A stored entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub data: Data,
    pub rank: Rank,
    pub expires: Instant,
}

/// What `Cache::get` returns: data whose TTLs are the time left.
#[derive(Debug, Clone, PartialEq)]
pub struct Cached {
    pub data: Data,
    pub rank: Rank,
    /// Seconds left before expiry (0 for stale data).
    pub ttl: u32,
    /// True when this is expired data served under RFC 8767.
    pub stale: bool,
}

/// Cache keys: one name and type, or the whole name (NXDOMAIN applies to every type).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub name: hickory_proto::rr::LowerName,
    pub rtype: Option<RecordType>,
}

impl Key {
    pub fn new(name: &Name, rtype: RecordType) -> Key {
        Key {
            name: hickory_proto::rr::LowerName::new(name),
            rtype: Some(rtype),
        }
    }

    pub fn name_only(name: &Name) -> Key {
        Key {
            name: hickory_proto::rr::LowerName::new(name),
            rtype: None,
        }
    }
}

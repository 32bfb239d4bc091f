//! What the cache holds for one key: an RRset, a negative answer, or a recent failure, with
//! the trust rank of its source (RFC 2181 §5.4.1) and when it expires.

use std::net::IpAddr;

use hickory_proto::rr::{Name, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use tokio::time::Instant;

use super::signed::{Signed, StoredSigned};
use super::wire::WireSet;

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
    /// RFC 2308 §5: the name does not exist (cached per name, for every type). The SOA is
    /// boxed: a `Record` inline would make every `Data`, positive ones too, 250 bytes larger.
    NxDomain { soa: Option<Box<Record>> },
    /// RFC 2308 §5: the name exists but has no data of this type.
    NoData { soa: Option<Box<Record>> },
    /// RFC 9520: resolution failed recently; answer SERVFAIL without trying again.
    Failure { reason: String },
}

/// What an entry holds: [`Data`] in the cache's own form, records in wire form
/// ([`WireSet`]), so an entry costs little more than the answer on the wire.
#[derive(Debug, Clone)]
pub(crate) enum Stored {
    Positive(WireSet),
    NxDomain { soa: Option<WireSet> },
    NoData { soa: Option<WireSet> },
    Failure { reason: Box<str> },
}

impl Stored {
    /// `data` in stored form; `None` when its records cannot be kept (mixed owners in one
    /// set, RDATA that does not encode), which the caller treats as not cacheable.
    pub(super) fn new(data: Data, key: &Key) -> Option<Stored> {
        let soa = |soa: Option<Box<Record>>| match soa {
            Some(r) => WireSet::encode(std::slice::from_ref(&*r), &key.wire).map(Some),
            None => Some(None),
        };
        Some(match data {
            Data::Positive(records) => Stored::Positive(WireSet::encode(&records, &key.wire)?),
            Data::NxDomain { soa: s } => Stored::NxDomain { soa: soa(s)? },
            Data::NoData { soa: s } => Stored::NoData { soa: soa(s)? },
            Data::Failure { reason } => Stored::Failure {
                reason: reason.into_boxed_str(),
            },
        })
    }

    /// The data back, every record with `ttl` (records carry the remaining lifetime).
    pub(super) fn data(&self, key: &Key, ttl: u32) -> Option<Data> {
        let soa = |soa: &Option<WireSet>| -> Option<Option<Box<Record>>> {
            match soa {
                Some(set) => Some(
                    set.decode(|| key.name(), ttl)?
                        .into_iter()
                        .next()
                        .map(Box::new),
                ),
                None => Some(None),
            }
        };
        Some(match self {
            Stored::Positive(set) => Data::Positive(set.decode(|| key.name(), ttl)?),
            Stored::NxDomain { soa: s } => Data::NxDomain { soa: soa(s)? },
            Stored::NoData { soa: s } => Data::NoData { soa: soa(s)? },
            Stored::Failure { reason } => Data::Failure {
                reason: reason.to_string(),
            },
        })
    }

    /// The NS targets of a positive entry (`None` for the others), read in place, each with
    /// the key of its A records.
    pub(crate) fn ns_targets(&self) -> Option<Vec<(Name, Key)>> {
        let Stored::Positive(set) = self else {
            return None;
        };
        let targets = set.ns_targets()?.into_iter();
        Some(
            targets
                .map(|(name, wire)| {
                    let key = Key {
                        wire,
                        rtype: Some(RecordType::A),
                    };
                    (name, key)
                })
                .collect(),
        )
    }

    /// The A and AAAA addresses of a positive entry (none for the others), read in place.
    pub(crate) fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        match self {
            Stored::Positive(set) => Some(set.addresses()),
            _ => None,
        }
        .into_iter()
        .flatten()
    }

    pub(crate) fn is_positive(&self) -> bool {
        matches!(self, Stored::Positive(_))
    }

    pub(crate) fn is_nodata(&self) -> bool {
        matches!(self, Stored::NoData { .. })
    }

    pub(super) fn is_failure(&self) -> bool {
        matches!(self, Stored::Failure { .. })
    }
}

/// A stored entry.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub stored: Stored,
    pub(crate) rank: Rank,
    /// A refresh was started for it (or dropped under load): one per entry (see `Cache::get`).
    pub(crate) prefetched: bool,
    /// Seconds before `expires` from which a read asks for a refresh; 0: never.
    pub(crate) prefetch_window: u32,
    pub expires: Instant,
    /// RRSIGs or the denial proof, and the validator's verdict; `None` for data that came
    /// without them and was never validated (the common, unsigned case: one pointer).
    pub(crate) signed: Option<Box<StoredSigned>>,
}

impl Entry {
    /// Fresh at `now`: through the instant its TTL ends, read then at TTL 0 (Unbound's
    /// `now > expiry`, in whole seconds there), gone after.
    pub(crate) fn fresh(&self, now: Instant) -> bool {
        self.expires >= now
    }
}

/// What `Cache::get` returns: data whose TTLs are the time left.
#[derive(Debug, Clone, PartialEq)]
pub struct Cached {
    pub data: Data,
    pub(crate) rank: Rank,
    /// Seconds left before expiry (0 for stale data).
    pub ttl: u32,
    /// True when this is expired data served under RFC 8767.
    pub stale: bool,
    /// The DNSSEC records kept beside the data, and the verdict on it.
    pub(crate) signed: Option<Box<Signed>>,
}

/// Cache keys: one name and type, or the whole name (NXDOMAIN applies to every type).
///
/// The name is kept in lowercase wire form (RFC 1035 §3.1: length-prefixed labels), so that
/// hashing and comparing a key is one pass over a few bytes; a `LowerName` hashes label by
/// label, and a cache miss on the resolver's path makes a dozen lookups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    wire: Box<[u8]>,
    pub(crate) rtype: Option<RecordType>,
}

/// Two writes to the hasher: the derived hash wrote the slice's length, then the bytes, then
/// the option's and the type's discriminants, then a code for unknown types, one call each;
/// a miss hashes a key some 25 times.
impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write(&self.wire);
        state.write_u32(self.rtype.map_or(u32::MAX, |t| u32::from(u16::from(t))));
    }
}

impl Key {
    pub fn new(name: &Name, rtype: RecordType) -> Key {
        Key {
            wire: lowercase_wire(name),
            rtype: Some(rtype),
        }
    }

    /// The key of a name already in lowercase wire form (as `wire::lowercase_into` reads one).
    pub(crate) fn from_lowercase_wire(wire: Box<[u8]>, rtype: RecordType) -> Key {
        Key {
            wire,
            rtype: Some(rtype),
        }
    }

    pub fn name_only(name: &Name) -> Key {
        Key {
            wire: lowercase_wire(name),
            rtype: None,
        }
    }

    /// The keys of (`name`, `rtype`) and of every ancestor of `name` down to, but not
    /// including, the root, nearest first: each an owner's wire form cut from the name's.
    pub(crate) fn ancestors(name: &Name, rtype: RecordType) -> impl Iterator<Item = Key> {
        let wire = lowercase_wire(name);
        let mut at = 0;
        std::iter::from_fn(move || {
            let len = usize::from(*wire.get(at)?);
            if len == 0 {
                return None;
            }
            let key = Key {
                wire: wire[at..].into(),
                rtype: Some(rtype),
            };
            at += 1 + len;
            Some(key)
        })
    }

    /// The key of (`name` cut to its last `labels` labels, `rtype`), cut from the name's wire
    /// form without making the shorter name (hickory's `trim_to` copies it label by label).
    pub(crate) fn trimmed(name: &Name, labels: usize, rtype: RecordType) -> Key {
        let wire = lowercase_wire(name);
        let mut at = 0;
        for _ in labels..name.iter().len() {
            match wire.get(at) {
                Some(&len) if len > 0 => at += 1 + usize::from(len),
                _ => break,
            }
        }
        Key {
            wire: wire.get(at..).unwrap_or(&[0]).into(),
            rtype: Some(rtype),
        }
    }

    /// The owner name, lowercased.
    pub fn name(&self) -> Name {
        // Read as a message's name is: `from_labels` checks and copies each label through
        // its own type, some 1,300 instructions for a four-label name.
        let mut decoder = BinDecoder::new(&self.wire);
        if let Ok(name) = Name::read(&mut decoder) {
            return name;
        }
        let mut labels = Vec::new();
        let mut rest = &self.wire[..];
        while let Some((&len, tail)) = rest.split_first() {
            let Some((label, after)) = tail.split_at_checked(usize::from(len)) else {
                break;
            };
            if len > 0 {
                labels.push(label);
            }
            rest = after;
        }
        // Made from a valid name, so it makes a valid name again.
        Name::from_labels(labels).unwrap_or_default()
    }

    /// The owner in lowercase wire form, for matching without building a `Name`.
    pub(super) fn wire(&self) -> &[u8] {
        &self.wire
    }

    /// Bytes of the name on the heap.
    pub(crate) fn heap_len(&self) -> usize {
        self.wire.len()
    }
}

fn lowercase_wire(name: &Name) -> Box<[u8]> {
    let labels = name.iter();
    // Exactly the wire form's length (hickory's `len` counts a dot per label), so that
    // `into_boxed_slice` keeps the allocation rather than shrinking it.
    let wire_len = if labels.len() == 0 { 1 } else { name.len() + 1 };
    let mut wire = Vec::with_capacity(wire_len);
    for label in labels {
        // Labels are at most 63 bytes (RFC 1035 §2.3.4); hickory enforces it.
        wire.push(u8::try_from(label.len()).unwrap_or(u8::MAX));
        wire.extend_from_slice(label);
    }
    wire.push(0);
    // Over the whole name at once, length octets too: they are below 64, which no ASCII
    // uppercase letter is, so lowercasing leaves them as they are. Per byte through an
    // iterator it cost a capacity check each.
    wire.make_ascii_lowercase();
    wire.into_boxed_slice()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_case_and_give_the_name_back() {
        let a = Key::new(
            &Name::from_ascii("WWW.Alpha.test.").expect("name"),
            RecordType::A,
        );
        let b = Key::new(
            &Name::from_ascii("www.alpha.TEST").expect("name"),
            RecordType::A,
        );
        assert_eq!(a, b);
        assert_eq!(a.name(), Name::from_ascii("www.alpha.test.").expect("name"));
        assert_ne!(a, Key::name_only(&a.name()));
        assert_eq!(Key::new(&Name::root(), RecordType::NS).name(), Name::root());
    }

    #[test]
    fn ancestors_are_cut_from_the_name() {
        let name = Name::from_ascii("A.b.Test.").expect("name");
        let keys: Vec<Key> = Key::ancestors(&name, RecordType::NS).collect();
        let want: Vec<Key> = ["a.b.test.", "b.test.", "test."]
            .iter()
            .map(|n| Key::new(&Name::from_ascii(n).expect("name"), RecordType::NS))
            .collect();
        assert_eq!(keys, want);
        assert_eq!(Key::ancestors(&Name::root(), RecordType::NS).count(), 0);
        for labels in 0..=4 {
            let cut = Key::trimmed(&name, labels, RecordType::A);
            assert_eq!(
                cut,
                Key::new(&name.trim_to(labels), RecordType::A),
                "{labels}"
            );
        }
    }
}

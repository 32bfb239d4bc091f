//! Zone transfers on the wire, the pure part: AXFR (RFC 5936) and IXFR (RFC 1995) for both
//! ends, with no sockets and no clocks.
//!
//! * The primary's side (`outgoing.rs`): which records a transfer carries ([`axfr_records`],
//!   [`ixfr_answer`]) and how they are cut into response messages ([`pack`]).
//! * The secondary's side (`incoming.rs`): [`Incoming`] reads the messages of one response
//!   stream and says when it is complete and what it brought ([`Transfer`]); here,
//!   [`apply_deltas`] plays IXFR increments onto a zone's records.
//!
//! The history IXFR answers from is a list of [`Delta`]s, the serial-to-serial differences the
//! zone store keeps in its journal; [`delta`] computes one from two snapshots (for changes that
//! did not come with a diff of their own, such as a reloaded file).
//!
//! Serials compare in RFC 1982 arithmetic throughout: serials wrap, so "later" is not `>`.

use std::collections::HashMap;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType, SerialNumber};

use super::Zone;

mod incoming;
mod outgoing;
#[cfg(test)]
mod tests;

pub use incoming::{Incoming, Progress, Transfer};
pub(crate) use outgoing::{IxfrAnswer, axfr_records, ixfr_answer, pack};

/// One step of a zone's history: the zone at `from` (its SOA record) became the zone at `to`
/// by removing `removed` and adding `added` (neither list contains the SOA). This is the unit
/// of an IXFR response (RFC 1995 §4: "SOA(from) deleted RRs, SOA(to) added RRs").
#[derive(Debug, Clone, PartialEq)]
pub struct Delta {
    pub from: Record,
    pub to: Record,
    pub(crate) removed: Vec<Record>,
    pub added: Vec<Record>,
}

/// Why a transfer response (or applying its increments) failed. Each says what was wrong so
/// that a log line is enough to see the fault; the caller's remedy is retrying, or falling
/// back from IXFR to AXFR.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("the primary answered {0}")]
    Rcode(ResponseCode),
    /// A header that does not belong to a transfer response (RFC 5936 §2.2.1).
    #[error("malformed transfer response: {0}")]
    Malformed(&'static str),
    /// RFC 5936 §2.2.1: every message of a response carries the request's id.
    #[error("a message with id {found} in a transfer whose id is {expected}")]
    IdChanged { expected: u16, found: u16 },
    #[error("the response is about {found}, not the zone {zone}")]
    WrongQuestion { zone: Box<Name>, found: Box<Name> },
    #[error("the first response message of the transfer of {0} holds no records")]
    Empty(Box<Name>),
    /// RFC 5936 §2.2 and RFC 1995 §4: a transfer begins with the zone's SOA.
    #[error("the transfer of {zone} begins with {found}, not the zone's SOA")]
    NoOpeningSoa { zone: Box<Name>, found: Box<Record> },
    #[error("{record} is outside the zone {zone}")]
    OutsideZone {
        zone: Box<Name>,
        record: Box<Record>,
    },
    /// A meta type (RFC 6895 §3.1), another class than the SOA's, empty RDATA, or an SOA
    /// below the apex.
    #[error("{0} is not zone data")]
    NotZoneData(Box<Record>),
    /// An SOA whose serial is not the one the sequence needs at that point: an AXFR's closing
    /// SOA differing from its opening one (the zone changed during the transfer, RFC 5936
    /// §2.2), an IXFR starting elsewhere than our serial, or a gap between increments.
    #[error("an SOA with serial {found} where the transfer needs serial {expected}")]
    UnexpectedSoa { expected: u32, found: u32 },
    /// An AXFR's closing SOA with the opening serial but other contents.
    #[error("the closing SOA {found} differs from the opening one")]
    SoaChanged { found: Box<Record> },
    #[error("an IXFR increment from serial {from} to {to} does not move forward (RFC 1982)")]
    Backwards { from: u32, to: u32 },
    #[error("{0} follows the end of the transfer")]
    AfterEnd(Box<Record>),
    #[error("a message after the transfer ended or failed")]
    Finished,
    /// RFC 1995 §4: a single SOA later than ours means "query again with AXFR" over TCP (over
    /// UDP, §2: "query again over TCP").
    #[error(
        "the primary is at serial {theirs}, later than our {ours}, and sent no increments: \
         query again with AXFR (RFC 1995 §4)"
    )]
    NeedAxfr { ours: u32, theirs: u32 },
    #[error("the zone's records hold no SOA")]
    NoSoa,
    #[error("the zone's records hold more than one SOA")]
    TwoSoas,
    #[error("{0} is not an SOA record")]
    NotSoa(Box<Record>),
    #[error("an increment starts at serial {found}, but the zone is at serial {expected}")]
    DeltaStart { expected: u32, found: u32 },
    #[error(
        "the increment from serial {from} to {to} removes {record}, which the zone does not hold"
    )]
    MissingRecord {
        from: u32,
        to: u32,
        record: Box<Record>,
    },
}

/// The difference between two snapshots of one zone (None when `old` and `new` hold the same
/// records, SOA aside). Records compare by name (case-insensitive), type, class, TTL and rdata;
/// a TTL change is a removal plus an addition, because an IXFR client can only learn a new TTL
/// from an added record (RFC 1995 has no "modify").
///
/// Both lists are in canonical order (RFC 4034 §6.1): a snapshot's records come out of a hash
/// map, and the same change should always read (and journal) the same way.
pub(crate) fn delta(old: &Zone, new: &Zone) -> Option<Delta> {
    let mut removed = missing_from(old, new);
    let mut added = missing_from(new, old);
    if removed.is_empty() && added.is_empty() {
        return None;
    }
    removed.sort();
    added.sort();
    Some(Delta {
        from: old.soa().clone(),
        to: new.soa().clone(),
        removed,
        added,
    })
}

/// The records of `a` (SOA aside) that `b` does not hold identically. One node lookup per
/// record, so a delta of two large zones costs linear time, not a product of their sizes.
fn missing_from(a: &Zone, b: &Zone) -> Vec<Record> {
    a.records()
        .filter(|r| r.record_type() != RecordType::SOA)
        .filter(|r| !b.held(r).is_some_and(|s| identical(s, r)))
        .cloned()
        .collect()
}

/// Equal including the TTL: hickory's `Record` equality is RFC 2136 §1.1.1's, which leaves the
/// TTL out, but a transfer must carry TTL changes.
fn identical(a: &Record, b: &Record) -> bool {
    a == b && a.ttl == b.ttl
}

/// Applies increments to a zone's current records (SOA included), checking each delta starts
/// at the serial the records are at and that every removed record is present; either failure
/// means our copy is not the version the primary thinks, and the caller falls back to AXFR.
/// Returns the new record set, the SOA (first) replaced by the last delta's.
///
/// A removal matches by owner, class, type and RDATA, not TTL (RFC 2136 §1.1.1 equality, as
/// BIND applies IXFR); an added record equal to one present replaces it, taking its TTL.
/// SOA records inside `removed` or `added` are ignored: a delta's SOA is its `from` and `to`.
pub fn apply_deltas(records: Vec<Record>, deltas: &[Delta]) -> Result<Vec<Record>, TransferError> {
    let mut soa = None;
    let mut set = Rrsets::default();
    for record in records {
        if record.record_type() != RecordType::SOA {
            set.add(record);
        } else if soa.replace(record).is_some() {
            return Err(TransferError::TwoSoas);
        }
    }
    let mut soa = soa.ok_or(TransferError::NoSoa)?;
    let mut serial = soa_serial(&soa).ok_or(TransferError::NoSoa)?;
    for d in deltas {
        let from =
            soa_serial(&d.from).ok_or_else(|| TransferError::NotSoa(Box::new(d.from.clone())))?;
        let to = soa_serial(&d.to).ok_or_else(|| TransferError::NotSoa(Box::new(d.to.clone())))?;
        if from != serial {
            return Err(TransferError::DeltaStart {
                expected: serial,
                found: from,
            });
        }
        for r in d
            .removed
            .iter()
            .filter(|r| r.record_type() != RecordType::SOA)
        {
            if !set.remove(r) {
                return Err(TransferError::MissingRecord {
                    from,
                    to,
                    record: Box::new(r.clone()),
                });
            }
        }
        for r in d
            .added
            .iter()
            .filter(|r| r.record_type() != RecordType::SOA)
        {
            set.add(r.clone());
        }
        soa = d.to.clone();
        serial = to;
    }
    let mut out = Vec::with_capacity(set.len + 1);
    out.push(soa);
    out.extend(set.into_records());
    Ok(out)
}

/// Records grouped by owner, type and class, in first-seen order: removing one is a map lookup
/// and a scan of its RRset, not a scan of the zone.
#[derive(Default)]
struct Rrsets {
    sets: HashMap<(LowerName, RecordType, DNSClass), Vec<Record>>,
    order: Vec<(LowerName, RecordType, DNSClass)>,
    len: usize,
}

impl Rrsets {
    fn key(r: &Record) -> (LowerName, RecordType, DNSClass) {
        (LowerName::new(&r.name), r.record_type(), r.dns_class)
    }

    fn add(&mut self, record: Record) {
        let set = self
            .sets
            .entry(Rrsets::key(&record))
            .or_insert_with_key(|key| {
                self.order.push(key.clone());
                Vec::new()
            });
        match set.iter_mut().find(|r| **r == record) {
            Some(same) => *same = record,
            None => {
                set.push(record);
                self.len += 1;
            }
        }
    }

    fn remove(&mut self, record: &Record) -> bool {
        let Some(set) = self.sets.get_mut(&Rrsets::key(record)) else {
            return false;
        };
        let Some(at) = set.iter().position(|r| r == record) else {
            return false;
        };
        set.remove(at);
        self.len -= 1;
        true
    }

    fn into_records(mut self) -> impl Iterator<Item = Record> {
        self.order
            .into_iter()
            .flat_map(move |key| self.sets.remove(&key).unwrap_or_default())
    }
}

/// The serial of an SOA record; `None` for any other record.
fn soa_serial(record: &Record) -> Option<u32> {
    match &record.data {
        RData::SOA(soa) => Some(soa.serial),
        _ => None,
    }
}

/// RFC 1982 §3.2: `a` is later than `b`. Two serials exactly 2^31 apart are undefined and so
/// not later, which keeps a client from jumping to either.
fn later(a: u32, b: u32) -> bool {
    SerialNumber::new(a) > SerialNumber::new(b)
}

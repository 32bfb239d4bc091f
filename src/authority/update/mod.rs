//! RFC 2136 dynamic UPDATE, the pure part: checks an UPDATE message against one immutable
//! [`Zone`] snapshot and computes the [`Diff`] it makes. No I/O and no locking: the zone store
//! (the one writer per zone) calls [`apply`], journals the diff, bumps the serial and publishes
//! the next snapshot built with [`patched`].
//!
//! An UPDATE reuses the sections of a query (RFC 2136 §2): in hickory-proto terms `queries` is
//! the zone section, `answers` the prerequisites, `authorities` the updates, `additionals` the
//! additional data (ignored: §2.6 keeps it for related records such as out-of-zone glue, which
//! tern never needs).
//! hickory decodes every RR with RDLENGTH 0 as `RData::Update0(type)`: that is how the CLASS
//! ANY and NONE forms of §2.4 and §2.5 arrive.
//!
//! Where the RFC leaves room, tern does this:
//! * TTLs: adding a record whose RDATA is already present replaces that record (RFC 2136
//!   §3.4.2.2), and an added record's TTL becomes its whole RRset's, as BIND does ("TTL of the
//!   RRset is changed to the new TTL"): RFC 2181 §5.2 wants one TTL per RRset, and reading
//!   §3.4.2.2 literally would leave mixed TTLs that clients are told to treat as an error. The
//!   other members' TTL change is in the [`Diff`] like any change (removed with the old TTL,
//!   added with the new), so the journal and IXFR carry it (RFC 1995 has no "modify").
//! * The SOA serial: §3.6 wants it raised after a change. That is the store's job (it raises it
//!   on every change, whatever the source); [`apply`] replaces the SOA only when the update
//!   itself carries one with a higher serial (RFC 1982).
//! * The RRs §3.4.2 ignores (a CNAME beside other data, an SOA without a higher serial, a
//!   delete of the apex SOA or last NS) are ignored, as the RFC says, but not silently: they
//!   come back in [`Applied::ignored`], for the log and the counters (an update that changed
//!   nothing is not counted as applied).
//! * RRSIG, NSEC, NSEC3 and NSEC3PARAM are REFUSED: tern signs nothing, and such records would
//!   only be served stale.
//! * An update whose result tern would not load from a zone file (data below a zone cut or a
//!   DNAME, other data at a zone cut, …) is REFUSED as a whole: RFC 2136 has no word for it, and
//!   a zone the store cannot build could not be published anyway.

use std::path::{Path, PathBuf};

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use self::change::{Working, prescan};
use self::prerequisite::check_prerequisites;
use super::Zone;
use crate::zonefile::{Located, Location};

mod change;
mod prerequisite;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod ttl_review;

/// What an accepted UPDATE changes: RRs removed and added, in order, ready for the journal.
///
/// The net change against the snapshot the update was checked on: a record added and deleted
/// again within one update appears in neither list; a record whose TTL changed is removed with
/// its old TTL and added with the new one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Diff {
    pub removed: Vec<Record>,
    pub added: Vec<Record>,
}

impl Diff {
    /// True when the update changed nothing (RFC 2136 §3.4.2.5: ignored RRs still get NOERROR).
    pub(crate) fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.added.is_empty()
    }
}

/// An accepted UPDATE: the change it makes, and the update RRs RFC 2136 §3.4.2 ignored. The
/// RFC ignores them silently (the answer is NOERROR); tern says so in its log and counters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Applied {
    pub diff: Diff,
    pub ignored: Vec<Ignored>,
}

/// One update RR that §3.4.2 ignores, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Ignored {
    pub name: Name,
    pub rtype: RecordType,
    pub why: Why,
}

/// The reasons §3.4.2 gives for ignoring an update RR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Why {
    /// §3.4.2.2: a CNAME added where other data is (RFC 1034 §3.6.2: a CNAME stands alone).
    #[error("a CNAME cannot be added beside other data (RFC 2136 §3.4.2.2)")]
    CnameBesideData,
    /// §3.4.2.2: other data added where a CNAME is.
    #[error("no data can be added beside a CNAME (RFC 2136 §3.4.2.2)")]
    DataBesideCname,
    /// §3.4.2.2: an SOA away from the apex, or without a higher serial.
    #[error("an SOA replaces the apex SOA only with a higher serial (RFC 2136 §3.4.2.2)")]
    SoaNotNewer,
    /// §3.4.2.3, §3.4.2.4: the apex SOA and the apex's last NS are never deleted.
    #[error("the apex SOA and the last apex NS are never deleted (RFC 2136 §3.4.2.3-4)")]
    ApexKept,
}

impl std::fmt::Display for Ignored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.name, self.rtype, self.why)
    }
}

/// Why an UPDATE is refused: maps to an RCODE (RFC 2136 §2.2 / §3): FORMERR, NOTZONE,
/// NXDOMAIN, YXDOMAIN, NXRRSET, YXRRSET, REFUSED, NOTAUTH. Nothing of a refused update applies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    /// §3.1.1, §3.2, §3.4.1: a section breaks the rules of its form.
    #[error("malformed UPDATE: {0}")]
    FormErr(&'static str),
    /// §3.1.1: the zone section names a zone (name and class) this snapshot is not.
    #[error("not authoritative for zone {0}")]
    NotAuth(Box<Name>),
    /// §3.2, §3.4.1: a prerequisite or update RR's owner is outside the zone.
    #[error("{name} is outside the zone {zone}")]
    NotZone { name: Box<Name>, zone: Box<Name> },
    /// §2.4.4 "Name Is In Use" failed (an empty non-terminal is not in use).
    #[error("prerequisite failed: {0} has no records")]
    NameNotInUse(Box<Name>),
    /// §2.4.5 "Name Is Not In Use" failed.
    #[error("prerequisite failed: {0} has records")]
    NameInUse(Box<Name>),
    /// §2.4.1 "RRset Exists (Value Independent)" failed.
    #[error("prerequisite failed: no {name} {rtype} RRset")]
    RrsetMissing { name: Box<Name>, rtype: RecordType },
    /// §2.4.2 "RRset Exists (Value Dependent)" failed: absent, or not the same set of RDATA.
    #[error("prerequisite failed: the {name} {rtype} RRset is not the one given")]
    RrsetDiffers { name: Box<Name>, rtype: RecordType },
    /// §2.4.3 "RRset Does Not Exist" failed.
    #[error("prerequisite failed: the {name} {rtype} RRset exists")]
    RrsetExists { name: Box<Name>, rtype: RecordType },
    /// A type tern does not let clients change (the DNSSEC types it would have to maintain).
    #[error("{0} records cannot be updated here")]
    TypeRefused(RecordType),
    /// The result would be a zone tern refuses to load (its reasons, without file:line).
    #[error("the update would leave an invalid zone: {0}")]
    InvalidResult(String),
}

impl UpdateError {
    /// The RCODE of the response (RFC 2136 §2.2).
    pub(crate) fn rcode(&self) -> ResponseCode {
        match self {
            UpdateError::FormErr(_) => ResponseCode::FormErr,
            UpdateError::NotAuth(_) => ResponseCode::NotAuth,
            UpdateError::NotZone { .. } => ResponseCode::NotZone,
            UpdateError::NameNotInUse(_) => ResponseCode::NXDomain,
            UpdateError::NameInUse(_) => ResponseCode::YXDomain,
            UpdateError::RrsetMissing { .. } | UpdateError::RrsetDiffers { .. } => {
                ResponseCode::NXRRSet
            }
            UpdateError::RrsetExists { .. } => ResponseCode::YXRRSet,
            UpdateError::TypeRefused(_) | UpdateError::InvalidResult(_) => ResponseCode::Refused,
        }
    }
}

/// Checks the zone section (§3.1), the prerequisites (§3.2) and the update section (§3.4.1)
/// of `update` against `zone`, then computes the change the update section makes (§3.4.2).
/// All or nothing, as RFC 2136 (abstract, §3.7) wants: any failure refuses the whole update.
pub fn apply(zone: &Zone, update: &Message) -> Result<Applied, UpdateError> {
    if update.metadata.op_code != OpCode::Update {
        return Err(UpdateError::FormErr("the opcode is not UPDATE"));
    }
    check_zone_section(zone, update)?;
    check_prerequisites(zone, &update.answers)?;
    prescan(zone.origin(), &update.authorities)?;
    let mut work = Working::new(zone);
    for rr in &update.authorities {
        work.update(rr);
    }
    let (diff, ignored) = work.diff();
    check_result(zone, &diff)?;
    Ok(Applied { diff, ignored })
}

/// The zone's records with a diff applied (for building the next snapshot and for tests).
/// Removal matches by owner, class, type and RDATA, ignoring TTL (RFC 2136 §1.1.1); the added
/// records follow the kept ones, in the diff's order, each replacing an equal record still there.
pub fn patched(records: impl IntoIterator<Item = Record>, diff: &Diff) -> Vec<Record> {
    let mut out: Vec<Record> = records
        .into_iter()
        .filter(|r| !diff.removed.contains(r))
        .collect();
    for add in &diff.added {
        match out.iter_mut().find(|r| *r == add) {
            Some(same) => *same = add.clone(),
            None => out.push(add.clone()),
        }
    }
    out
}

/// RFC 2136 §3.1.1: exactly one zone, of type SOA (else FORMERR), and it must be this zone, in
/// class IN (else NOTAUTH).
fn check_zone_section(zone: &Zone, update: &Message) -> Result<(), UpdateError> {
    let [zsec] = update.queries.as_slice() else {
        return Err(UpdateError::FormErr(
            "the zone section must hold exactly one zone (RFC 2136 §3.1.1)",
        ));
    };
    if zsec.query_type() != RecordType::SOA {
        return Err(UpdateError::FormErr(
            "the zone section's type must be SOA (RFC 2136 §3.1.1)",
        ));
    }
    if zsec.query_class() != DNSClass::IN || zsec.name() != zone.origin() {
        return Err(UpdateError::NotAuth(Box::new(zsec.name().clone())));
    }
    Ok(())
}

/// RFC 2136 §3.2 and §3.4.1: every owner must be at or below the zone's apex (else NOTZONE).
fn in_zone(origin: &Name, name: &Name) -> Result<(), UpdateError> {
    if origin.zone_of(name) {
        Ok(())
    } else {
        Err(UpdateError::NotZone {
            name: Box::new(name.clone()),
            zone: Box::new(origin.clone()),
        })
    }
}

/// RFC 6895 §3.1: types 128–255 are meta and query types (TKEY, TSIG, IXFR, AXFR, MAILB,
/// MAILA, ANY); OPT (41) is meta too. None of them is zone data.
fn is_meta(rtype: RecordType) -> bool {
    let code = u16::from(rtype);
    (128..=255).contains(&code) || rtype == RecordType::OPT
}

/// The RDLENGTH 0 form of §2.4 and §2.5 (hickory's `Update0`).
fn is_empty(rr: &Record) -> bool {
    matches!(rr.data, RData::Update0(_))
}

/// Builds the zone the diff would make, with every check a zone file gets.
fn check_result(zone: &Zone, diff: &Diff) -> Result<(), UpdateError> {
    if diff.is_empty() {
        return Ok(());
    }
    let source = Path::new("UPDATE");
    let at = Location {
        file: PathBuf::from(source),
        line: 0,
    };
    let records = patched(zone.records().cloned(), diff)
        .into_iter()
        .map(|record| Located {
            record,
            at: at.clone(),
        })
        .collect();
    match Zone::from_records(Some(zone.origin()), records, source) {
        Ok(_) => Ok(()),
        Err(errors) => {
            let reasons: Vec<String> = errors.0.into_iter().map(|e| e.reason).collect();
            Err(UpdateError::InvalidResult(reasons.join("; ")))
        }
    }
}

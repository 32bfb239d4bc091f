//! One store for everything a served zone is made of: the records of its file, records other
//! sources own (a service's names), and dynamic updates (RFC 2136). Every change goes through
//! the store, which builds a new immutable [`Catalog`] for the handler to swap in; so a SIGHUP
//! reload never erases service records or updates, and a service change never loses a reload.
//!
//! A source owns whole names: its records replace whatever the file has at those names.
//! Updates apply on top of both, in the order they were accepted. An accepted update is in
//! the zone's journal, synced to disk, before the store takes it, so a restart or a crash
//! replays it; the journal is replayed on top of the file at start and at every reload.
//!
//! The store keeps each zone's serial: every change of its content raises it by one (RFC 1982
//! arithmetic, wrapping), unless the change brings a later serial of its own (an edited file,
//! or an update that replaces the SOA). Each change is also kept as a step of the zone's
//! history (serial to serial, bounded), which the zone's snapshots carry for IXFR.
//!
//! A secondary zone's data comes whole from transfers (its file is the copy kept across
//! restarts); until it has a copy, or after the copy expired, the zone is served as
//! unavailable (SERVFAIL).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{LowerName, Name, RData, Record, SerialNumber};

use super::journal::{Entry, Journal, JournalError};
use super::reload::CatalogError;
use super::rules::BalanceRules;
use super::transfer::{Delta, delta};
use super::update::{self, Diff, UpdateError};
use super::{Catalog, Zone};
use crate::zonefile::{Located, Location, ZoneErrors, parse_zone_file};

/// A zone served from a file, with an optional journal of dynamic updates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneFile {
    pub origin: Name,
    pub file: PathBuf,
    /// Where accepted updates are kept (BIND's `FILE.jnl`); `None`: updates are refused.
    pub journal: Option<PathBuf>,
    /// The zone is a secondary: `file` is the copy of its last transfer (it may not exist yet).
    pub secondary: bool,
}

impl ZoneFile {
    /// A zone file without a journal.
    pub fn new(origin: Name, file: impl Into<PathBuf>) -> ZoneFile {
        ZoneFile {
            origin,
            file: file.into(),
            journal: None,
            secondary: false,
        }
    }

    /// A secondary zone whose copy is kept in `file`.
    pub fn secondary(origin: Name, file: impl Into<PathBuf>) -> ZoneFile {
        ZoneFile {
            secondary: true,
            ..ZoneFile::new(origin, file)
        }
    }
}

/// How many steps of a zone's history are kept for IXFR: older clients get the whole zone
/// (RFC 1995 §4 allows it), which costs them one AXFR, never a wrong answer.
const HISTORY_STEPS: usize = 128;

/// Records a source owns in one zone: every name in `names` is the source's, with exactly the
/// records in `records` (none: the name does not exist).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Owned {
    pub names: Vec<Name>,
    pub records: Vec<Record>,
}

/// Why the store refused a change.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("zone {0} is not served here")]
    NoSuchZone(Name),
    #[error("{name} is outside the zone {zone}")]
    OutsideZone { name: Box<Name>, zone: Box<Name> },
    #[error("{0}")]
    Catalog(#[from] CatalogError),
    #[error("{0}")]
    Update(#[from] UpdateError),
    #[error("{name} belongs to {owner}; change it there, not by UPDATE")]
    OwnedName { name: Box<Name>, owner: String },
    #[error("zone {0} takes no dynamic updates (no journal)")]
    NoJournal(Name),
    #[error("zone {0} is not a secondary zone here")]
    NotSecondary(Name),
    #[error("{0}")]
    Journal(#[from] JournalError),
}

impl StoreError {
    /// The RCODE an UPDATE refused for this reason gets (RFC 2136 §3, §3.4.2.1: a change that
    /// cannot be made durable is SERVFAIL).
    pub fn rcode(&self) -> ResponseCode {
        match self {
            StoreError::Update(e) => e.rcode(),
            StoreError::NoSuchZone(_) => ResponseCode::NotAuth,
            StoreError::NoJournal(_)
            | StoreError::OwnedName { .. }
            | StoreError::NotSecondary(_) => ResponseCode::Refused,
            StoreError::OutsideZone { .. } => ResponseCode::NotZone,
            StoreError::Catalog(_) | StoreError::Journal(_) => ResponseCode::ServFail,
        }
    }
}

/// Applies RFC 2136 updates to the zones in service. The one writer of the zones implements
/// it; the handler, which must not know who that is, calls it.
pub trait Updater: Send + Sync {
    /// Checks `update` against `zone` as served now and applies it, durably; returns the zone's
    /// serial afterwards (unchanged when the update changed nothing).
    fn update(&self, zone: &Name, update: &Message) -> Result<u32, StoreError>;
}

/// Feeds the zones we are secondary for. The one writer of the zones implements it; the
/// replication side (transfers in, expiry timers) calls it.
pub trait Secondaries: Send + Sync {
    /// See [`ZoneStore::transfer_in`]; the new data is served on return.
    fn transfer_in(&self, zone: &Name, records: Vec<Record>) -> Result<u32, StoreError>;
    /// See [`ZoneStore::set_available`].
    fn set_available(&self, zone: &Name, available: bool) -> Result<(), StoreError>;
    /// See [`ZoneStore::records`].
    fn records(&self, zone: &Name) -> Option<Vec<Record>>;
}

#[derive(Debug, Clone)]
struct StoredZone {
    source: ZoneFile,
    file_records: Vec<Located>,
    /// By source ("service web.cluster.test."), in a stable order.
    owned: BTreeMap<String, Owned>,
    /// Every accepted update, oldest first (replayed from the journal at start).
    updates: Vec<Diff>,
    /// The serial served.
    serial: u32,
    balance: BalanceRules,
    /// The steps that led to `serial`, oldest first; shared with the snapshots built from it.
    history: Arc<Vec<Delta>>,
    /// False for a secondary without a copy yet, or whose copy expired: served as SERVFAIL.
    available: bool,
}

/// Every served zone and the sources of its data. One writer at a time (callers hold it behind
/// a mutex); readers get immutable catalogs. Clones share the open journals.
#[derive(Debug, Clone, Default)]
pub struct ZoneStore {
    zones: Vec<StoredZone>,
    journals: HashMap<LowerName, Arc<Mutex<Journal>>>,
}

fn read_file(source: &ZoneFile) -> Result<Vec<Located>, ZoneErrors> {
    parse_zone_file(&source.file, Some(&source.origin))
}

fn file_serial(records: &[Located]) -> u32 {
    records
        .iter()
        .find_map(|l| match &l.record.data {
            RData::SOA(soa) => Some(soa.serial),
            _ => None,
        })
        .unwrap_or(0)
}

/// RFC 1982: `a` is later than `b`.
fn later(a: u32, b: u32) -> bool {
    SerialNumber::new(a) > SerialNumber::new(b)
}

impl ZoneStore {
    /// Reads every zone file and replays every journal; all or nothing, with every broken
    /// file's `file:line` errors.
    pub fn load(sources: &[ZoneFile]) -> Result<ZoneStore, StoreError> {
        let mut store = ZoneStore::default();
        let mut errors = Vec::new();
        for source in sources {
            let (file_records, available) = match read_file(source) {
                Ok(records) => (records, true),
                // A secondary without a usable copy starts empty and waits for a transfer.
                Err(e) if source.secondary => {
                    if source.file.exists() {
                        tracing::warn!(zone = %source.origin, error = %e, "the copy of a secondary zone is unusable; waiting for a transfer");
                    }
                    (Vec::new(), false)
                }
                Err(e) => {
                    errors.extend(e.0);
                    continue;
                }
            };
            let mut zone = StoredZone {
                serial: file_serial(&file_records),
                source: source.clone(),
                file_records,
                owned: BTreeMap::new(),
                updates: Vec::new(),
                balance: BalanceRules::default(),
                history: Arc::default(),
                available,
            };
            if let Some(path) = &source.journal {
                let (journal, entries) = Journal::open(path, &source.origin)?;
                for entry in entries {
                    zone.serial = if later(entry.to_serial, zone.serial) {
                        entry.to_serial
                    } else {
                        zone.serial.wrapping_add(1)
                    };
                    zone.updates.push(entry.diff);
                }
                store.journals.insert(
                    LowerName::new(&source.origin),
                    Arc::new(Mutex::new(journal)),
                );
            }
            store.zones.push(zone);
        }
        if !errors.is_empty() {
            return Err(CatalogError::Zones(ZoneErrors(errors)).into());
        }
        // Reject what would not build (a bad record combination, a duplicate origin) now.
        store.catalog()?;
        Ok(store)
    }

    /// Re-reads every zone file, keeping what other sources own and every update. All or
    /// nothing: on any error the store is unchanged and the error names each `file:line`.
    pub fn reload(&mut self) -> Result<(), CatalogError> {
        let mut next = self.clone();
        let mut errors = Vec::new();
        // A secondary's file is its own copy of the primary's data, not something to re-read.
        for zone in next.zones.iter_mut().filter(|z| !z.source.secondary) {
            match read_file(&zone.source) {
                Ok(records) => {
                    if records_differ(&records, &zone.file_records) {
                        let before = zone.build().map_err(CatalogError::Zones)?;
                        let edited = file_serial(&records);
                        zone.serial = if later(edited, zone.serial) {
                            edited
                        } else {
                            zone.serial.wrapping_add(1)
                        };
                        zone.file_records = records;
                        if let Err(e) = zone.remember(&before) {
                            errors.extend(e.0);
                        }
                    }
                }
                Err(e) => errors.extend(e.0),
            }
        }
        if !errors.is_empty() {
            return Err(CatalogError::Zones(ZoneErrors(errors)));
        }
        next.catalog()?;
        *self = next;
        Ok(())
    }

    fn zone_mut(&mut self, zone: &Name) -> Result<&mut StoredZone, StoreError> {
        self.zones
            .iter_mut()
            .find(|z| z.source.origin == *zone)
            .ok_or_else(|| StoreError::NoSuchZone(zone.clone()))
    }

    /// Replaces what `source` owns in `zone`. Refused, with the store unchanged, when the zone is
    /// not served, a name lies outside it, or the result would not be a valid zone.
    pub fn set_owned(&mut self, zone: &Name, source: &str, owned: Owned) -> Result<(), StoreError> {
        let mut next = self.clone();
        let stored = next.zone_mut(zone)?;
        for name in owned
            .names
            .iter()
            .chain(owned.records.iter().map(|r| &r.name))
        {
            if !zone.zone_of(name) {
                return Err(StoreError::OutsideZone {
                    name: Box::new(name.clone()),
                    zone: Box::new(zone.clone()),
                });
            }
        }
        if stored.owned.get(source) == Some(&owned) {
            return Ok(());
        }
        let before = stored.build().map_err(CatalogError::Zones)?;
        stored.owned.insert(source.to_string(), owned);
        stored.serial = stored.serial.wrapping_add(1);
        stored.remember(&before).map_err(CatalogError::Zones)?;
        next.catalog()?;
        *self = next;
        Ok(())
    }

    /// Checks an RFC 2136 update against `zone` as served now and, when it changes anything,
    /// writes it to the zone's journal (synced) before taking it. Returns the serial after.
    pub fn update(&mut self, zone: &Name, msg: &Message) -> Result<u32, StoreError> {
        let key = LowerName::new(zone);
        let journal = self.journals.get(&key).cloned();
        let stored = self.zone_mut(zone)?;
        let Some(journal) = journal else {
            return Err(StoreError::NoJournal(zone.clone()));
        };
        let snapshot = stored.build().map_err(CatalogError::Zones)?;
        let diff = update::apply(&snapshot, msg)?;
        if diff.is_empty() {
            return Ok(stored.serial);
        }
        // A service's names are rewritten from the registry on every health change: an update
        // there would be undone (or fight it), so the registry stays their only writer.
        for rr in diff.removed.iter().chain(&diff.added) {
            if let Some((source, _)) = stored
                .owned
                .iter()
                .find(|(_, o)| o.names.iter().any(|n| n == &rr.name))
            {
                return Err(StoreError::OwnedName {
                    name: Box::new(rr.name.clone()),
                    owner: source.clone(),
                });
            }
        }
        let from = stored.serial;
        // An update that replaces the SOA with a later serial sets it (RFC 2136 §3.6).
        let given = diff.added.iter().find_map(|r| match &r.data {
            RData::SOA(soa) => Some(soa.serial),
            _ => None,
        });
        let to = match given {
            Some(s) if later(s, from) => s,
            _ => from.wrapping_add(1),
        };
        let mut next = stored.clone();
        next.updates.push(diff.clone());
        next.serial = to;
        // What would not build is refused before it reaches the journal: a journal entry is
        // replayed at every start, so it must always apply.
        next.remember(&snapshot).map_err(CatalogError::Zones)?;
        let entry = Entry {
            from_serial: from,
            to_serial: to,
            diff,
        };
        journal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .append(&entry)?;
        *stored = next;
        Ok(to)
    }

    /// Replaces a secondary zone's data with a transfer's `records` (SOA included): the zone is
    /// served at the SOA's serial from now on. All or nothing: records that would not build a
    /// zone leave it as it was. Returns the serial.
    pub fn transfer_in(&mut self, zone: &Name, records: Vec<Record>) -> Result<u32, StoreError> {
        let stored = self.zone_mut(zone)?;
        if !stored.source.secondary {
            return Err(StoreError::NotSecondary(zone.clone()));
        }
        let before = if stored.available && !stored.file_records.is_empty() {
            Some(stored.build().map_err(CatalogError::Zones)?)
        } else {
            None
        };
        let at = Location {
            file: stored.source.file.clone(),
            line: 0,
        };
        let mut next = stored.clone();
        next.file_records = records
            .into_iter()
            .map(|record| Located {
                record,
                at: at.clone(),
            })
            .collect();
        next.serial = file_serial(&next.file_records);
        next.available = true;
        match &before {
            Some(before) => next.remember(before),
            None => next.build().map(drop),
        }
        .map_err(CatalogError::Zones)?;
        let serial = next.serial;
        *stored = next;
        Ok(serial)
    }

    /// A secondary zone's copy expired (or came back): unavailable zones answer SERVFAIL.
    pub fn set_available(&mut self, zone: &Name, available: bool) -> Result<(), StoreError> {
        let stored = self.zone_mut(zone)?;
        if !stored.source.secondary {
            return Err(StoreError::NotSecondary(zone.clone()));
        }
        stored.available = available && !stored.file_records.is_empty();
        Ok(())
    }

    /// A zone's records as served now (SOA with the served serial), or `None` when the zone is
    /// not here or has no data: what a secondary applies IXFR steps to.
    pub fn records(&self, zone: &Name) -> Option<Vec<Record>> {
        let stored = self.zones.iter().find(|z| z.source.origin == *zone)?;
        if stored.file_records.is_empty() {
            return None;
        }
        let built = stored.build().ok()?;
        Some(built.records().cloned().collect())
    }

    /// Sets how `zone`'s answers are ordered (no effect on its content or serial).
    pub fn set_balance(&mut self, zone: &Name, rules: BalanceRules) -> Result<(), StoreError> {
        self.zone_mut(zone)?.balance = rules;
        Ok(())
    }

    /// The origins and files served.
    pub fn files(&self) -> impl Iterator<Item = &ZoneFile> {
        self.zones.iter().map(|z| &z.source)
    }

    /// Builds every zone from its sources.
    pub fn catalog(&self) -> Result<Catalog, CatalogError> {
        let mut built = Vec::with_capacity(self.zones.len());
        let mut errors = Vec::new();
        let mut unavailable = Vec::new();
        for zone in &self.zones {
            if !zone.available {
                unavailable.push(zone.source.origin.clone());
                continue;
            }
            match zone.build() {
                Ok(z) => built.push(z),
                Err(e) => errors.extend(e.0),
            }
        }
        if !errors.is_empty() {
            return Err(CatalogError::Zones(ZoneErrors(errors)));
        }
        Ok(Catalog::new(built)?.with_unavailable(unavailable))
    }
}

impl StoredZone {
    fn build(&self) -> Result<Zone, ZoneErrors> {
        let owned_names: Vec<LowerName> = self
            .owned
            .values()
            .flat_map(|o| o.names.iter().map(LowerName::new))
            .collect();
        let mut records: Vec<Located> = self
            .file_records
            .iter()
            .filter(|l| !owned_names.contains(&LowerName::new(&l.record.name)))
            .cloned()
            .collect();
        for (source, owned) in &self.owned {
            let at = Location {
                file: PathBuf::from(source),
                line: 0,
            };
            records.extend(owned.records.iter().map(|r| Located {
                record: r.clone(),
                at: at.clone(),
            }));
        }
        let journal = Location {
            file: self
                .source
                .journal
                .clone()
                .unwrap_or_else(|| PathBuf::from("update")),
            line: 0,
        };
        for diff in &self.updates {
            // Record equality is RFC 2136 §1.1.1's: owner, class, type and RDATA, not TTL.
            records.retain(|l| !diff.removed.contains(&l.record));
            for add in &diff.added {
                match records.iter_mut().find(|l| l.record == *add) {
                    Some(same) => same.record = add.clone(),
                    None => records.push(Located {
                        record: add.clone(),
                        at: journal.clone(),
                    }),
                }
            }
        }
        for l in records.iter_mut() {
            if let RData::SOA(soa) = &mut l.record.data {
                soa.serial = self.serial;
            }
        }
        Ok(
            Zone::from_records(Some(&self.source.origin), records, &self.source.file)?
                .with_balance(self.balance.clone())
                .with_history(Arc::clone(&self.history)),
        )
    }

    /// Adds the step from `before` to what the zone is now to its history (the oldest steps
    /// go past `HISTORY_STEPS`). Also the check that the zone builds at all.
    fn remember(&mut self, before: &Zone) -> Result<(), ZoneErrors> {
        let after = self.build()?;
        let step = match delta(before, &after) {
            Some(step) => step,
            // A serial step without a change of records (a reload that only raised the serial)
            // is still a step an IXFR client must be able to take.
            None if before.serial() != after.serial() => Delta {
                from: before.soa().clone(),
                to: after.soa().clone(),
                removed: Vec::new(),
                added: Vec::new(),
            },
            None => return Ok(()),
        };
        let mut history = Vec::with_capacity(self.history.len() + 1);
        let skip = (self.history.len() + 1).saturating_sub(HISTORY_STEPS);
        history.extend(self.history.iter().skip(skip).cloned());
        history.push(step);
        self.history = Arc::new(history);
        Ok(())
    }
}

fn records_differ(a: &[Located], b: &[Located]) -> bool {
    a.len() != b.len() || a.iter().zip(b).any(|(x, y)| x.record != y.record)
}

#[cfg(test)]
mod tests;

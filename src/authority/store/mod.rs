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
//! or an update that replaces the SOA). Every serial served is in the zone's journal with a
//! digest of the content served at it, so a restart goes on from the last serial served: the
//! same content keeps it, other content gets the next one (`zone.rs`). Each change is also
//! kept as a step of the zone's history (serial to serial, bounded), which the zone's
//! snapshots carry for IXFR.
//!
//! Zones change one at a time: a change builds only its zone, and the catalog is put together
//! from the snapshots, so one instance's health flap costs work in its zone alone.
//!
//! A secondary zone's data comes whole from transfers (its file is the copy kept across
//! restarts); until it has a copy, or after the copy expired, the zone is served as
//! unavailable (SERVFAIL).

mod error;
mod owner;
mod zone;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use hickory_proto::op::Message;
use hickory_proto::rr::{LowerName, Name, RData, Record};

pub use self::error::StoreError;
pub(crate) use self::owner::ZoneOwner;
use self::zone::{StoredZone, file_serial, located};
use super::journal::{EntryKind, Journal};
use super::reload::CatalogError;
use super::rules::BalanceRules;
pub(crate) use super::update::Ignored;
use super::update::{self, Diff};
use super::{Catalog, DuplicateZone, Zone};
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
    pub(crate) fn secondary(origin: Name, file: impl Into<PathBuf>) -> ZoneFile {
        ZoneFile {
            secondary: true,
            ..ZoneFile::new(origin, file)
        }
    }
}

/// Records a source owns in one zone: every name in `names` is the source's, with exactly the
/// records in `records` (none: the name does not exist).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Owned {
    pub names: Vec<Name>,
    pub records: Vec<Record>,
}

/// What an accepted update did to its zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Updated {
    /// The zone's serial afterwards (the old one when nothing changed).
    pub serial: u32,
    /// Whether the zone changed (journaled, served at a new serial). An update can be accepted
    /// and change nothing: everything already so, or every RR one §3.4.2 ignores.
    pub changed: bool,
    /// The update RRs RFC 2136 §3.4.2 ignored (a CNAME beside other data, …).
    pub ignored: Vec<Ignored>,
}

/// Applies RFC 2136 updates to the zones in service. The one writer of the zones implements
/// it; the handler, which must not know who that is, calls it.
pub trait Updater: Send + Sync {
    /// Checks `update` against `zone` as served now and applies it, durably.
    fn update(&self, zone: &Name, update: &Message) -> Result<Updated, StoreError>;
}

/// Feeds the zones we are secondary for. The one writer of the zones implements it; the
/// replication side (transfers in, expiry timers) calls it.
pub(crate) trait Secondaries: Send + Sync {
    /// See [`ZoneStore::transfer_in`]; the new data is served on return.
    fn transfer_in(&self, zone: &Name, records: Vec<Record>) -> Result<u32, StoreError>;
    /// See [`ZoneStore::set_available`].
    fn set_available(&self, zone: &Name, available: bool) -> Result<(), StoreError>;
    /// See [`ZoneStore::records`].
    fn records(&self, zone: &Name) -> Option<Vec<Record>>;
}

/// Every served zone and the sources of its data. One writer at a time (callers hold it behind
/// a mutex); readers get immutable catalogs.
#[derive(Debug, Default)]
pub struct ZoneStore {
    zones: BTreeMap<LowerName, StoredZone>,
    journals: HashMap<LowerName, Journal>,
    /// Goes up whenever what is served changes: the owner publishes only then.
    version: u64,
}

fn read_file(source: &ZoneFile) -> Result<Vec<Located>, ZoneErrors> {
    parse_zone_file(&source.file, Some(&source.origin))
}

impl ZoneStore {
    /// Reads every zone file and replays every journal, and serves the result: [`open`] and
    /// [`commit_pending`] in one, for a store whose other sources add nothing at start.
    ///
    /// [`open`]: ZoneStore::open
    /// [`commit_pending`]: ZoneStore::commit_pending
    pub fn load(sources: &[ZoneFile]) -> Result<ZoneStore, StoreError> {
        let mut store = ZoneStore::open(sources)?;
        store.commit_pending()?;
        Ok(store)
    }

    /// Reads every zone file and replays every journal; all or nothing, with every broken
    /// file's `file:line` errors. Nothing is served yet: changes made before
    /// [`ZoneStore::commit_pending`] (the services of a start) count as one with the load, so
    /// a start whose content is what was served before keeps its serial.
    pub fn open(sources: &[ZoneFile]) -> Result<ZoneStore, StoreError> {
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
            let key = LowerName::new(&source.origin);
            if store.zones.contains_key(&key) {
                return Err(DuplicateZone(source.origin.clone()).into());
            }
            let mut zone = StoredZone::new(source.clone(), file_records, available);
            if let Some(path) = &source.journal {
                let (journal, entries) = Journal::open(path, &source.origin)?;
                zone.replay(entries);
                store.journals.insert(key.clone(), journal);
            }
            store.zones.insert(key, zone);
        }
        if !errors.is_empty() {
            return Err(ZoneErrors(errors).into());
        }
        // Reject what would not build (a bad record combination) now.
        for zone in store.zones.values().filter(|z| z.available) {
            zone.build(0)?;
        }
        Ok(store)
    }

    /// Serves every zone opened and not served yet, each at the serial its content calls for
    /// (see `zone.rs`), writing the step to its journal.
    pub(crate) fn commit_pending(&mut self) -> Result<(), StoreError> {
        let pending: Vec<LowerName> = self
            .zones
            .iter()
            .filter(|(_, z)| z.pending && z.available)
            .map(|(k, _)| k.clone())
            .collect();
        for key in pending {
            let Some(zone) = self.zones.get(&key) else {
                continue;
            };
            let given = file_serial(&zone.file_records);
            let mut next = zone.clone();
            if let Some(prepared) = next.prepare(Some(given), EntryKind::Step, Diff::default())? {
                let serial = next.commit(prepared, self.journals.get_mut(&key))?;
                tracing::info!(zone = %next.source.origin, serial, "zone loaded");
            }
            self.put(key, next);
        }
        Ok(())
    }

    /// Re-reads every zone file, keeping what other sources own and every update. All or
    /// nothing: on any error in a file the store is unchanged and the error names each
    /// `file:line`. (A journal that cannot be written leaves that zone as it was.)
    pub(crate) fn reload(&mut self) -> Result<(), CatalogError> {
        let mut changed = Vec::new();
        let mut errors = Vec::new();
        // A secondary's file is its own copy of the primary's data, not something to re-read.
        for (key, zone) in self.zones.iter().filter(|(_, z)| !z.source.secondary) {
            match read_file(&zone.source) {
                Ok(records) if records_differ(&records, &zone.file_records) => {
                    let given = file_serial(&records);
                    let mut next = zone.clone();
                    next.set_file_records(records);
                    match next.prepare(Some(given), EntryKind::Step, Diff::default()) {
                        Ok(prepared) => changed.push((key.clone(), next, prepared)),
                        Err(e) => errors.extend(e.0),
                    }
                }
                Ok(_) => {}
                Err(e) => errors.extend(e.0),
            }
        }
        if !errors.is_empty() {
            return Err(CatalogError::Zones(ZoneErrors(errors)));
        }
        let mut failed = Vec::new();
        for (key, mut next, prepared) in changed {
            if let Some(prepared) = prepared.filter(|_| !next.pending)
                && let Err(e) = next.commit(prepared, self.journals.get_mut(&key))
            {
                failed.push(e.to_string());
                continue;
            }
            self.put(key, next);
        }
        if !failed.is_empty() {
            let at = Location {
                file: PathBuf::from("journal"),
                line: 0,
            };
            return Err(CatalogError::Zones(ZoneErrors(
                failed
                    .into_iter()
                    .map(|reason| crate::zonefile::ZoneError {
                        at: at.clone(),
                        reason,
                    })
                    .collect(),
            )));
        }
        Ok(())
    }

    /// Applies `edit` to a copy of `zone` and serves the result, journaled as a step; the zone
    /// is unchanged when either fails. Returns the serial served afterwards.
    fn change(
        &mut self,
        zone: &Name,
        edit: impl FnOnce(&mut StoredZone) -> Result<(), StoreError>,
    ) -> Result<u32, StoreError> {
        let (key, mut next) = self.copy(zone)?;
        edit(&mut next)?;
        if !next.pending
            && next.available
            && let Some(prepared) = next.prepare(None, EntryKind::Step, Diff::default())?
        {
            next.commit(prepared, self.journals.get_mut(&key))?;
        }
        let serial = next.last.map_or(0, |(s, _)| s);
        self.put(key, next);
        Ok(serial)
    }

    /// A copy of `zone`'s state to change and [`Self::put`] back, and its key: the state held
    /// stays as it was until then, so a change that fails half-way leaves no trace.
    fn copy(&self, zone: &Name) -> Result<(LowerName, StoredZone), StoreError> {
        let key = LowerName::new(zone);
        match self.zones.get(&key) {
            Some(stored) => Ok((key, stored.clone())),
            None => Err(StoreError::NoSuchZone(zone.clone())),
        }
    }

    /// Puts `next` in place of the zone at `key`. The version goes up when what the catalog
    /// holds for the zone changes: another snapshot, or the zone served again or no longer (a
    /// secondary's copy expired, or confirmed by a transfer of the same data after it had).
    /// Every change of a zone ends here, so none can change the catalog unpublished.
    fn put(&mut self, key: LowerName, next: StoredZone) {
        let in_catalog = |z: &StoredZone| (z.available, z.served.as_ref().map(Arc::as_ptr));
        if self.zones.get(&key).map(in_catalog) != Some(in_catalog(&next)) {
            self.version += 1;
        }
        self.zones.insert(key, next);
    }

    /// Replaces what `source` owns in `zone`. Refused, with the store unchanged, when the zone
    /// is not served, a name lies outside it, or the result would not be a valid zone.
    pub fn set_owned(&mut self, zone: &Name, source: &str, owned: Owned) -> Result<(), StoreError> {
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
        let unchanged = self
            .zones
            .get(&LowerName::new(zone))
            .is_some_and(|z| z.owned.get(source) == Some(&owned));
        if unchanged {
            return Ok(());
        }
        self.change(zone, |z| {
            z.owned.insert(source.to_string(), owned);
            Ok(())
        })
        .map(drop)
    }

    /// Checks an RFC 2136 update against `zone` as served now and, when it changes anything,
    /// writes it to the zone's journal (synced) before taking it.
    pub fn update(&mut self, zone: &Name, msg: &Message) -> Result<Updated, StoreError> {
        let key = LowerName::new(zone);
        let stored = self
            .zones
            .get(&key)
            .ok_or_else(|| StoreError::NoSuchZone(zone.clone()))?;
        let Some(journal) = self.journals.get_mut(&key) else {
            return Err(StoreError::NoJournal(zone.clone()));
        };
        let (Some(snapshot), Some((serial, _))) = (&stored.served, stored.last) else {
            return Err(StoreError::NoSuchZone(zone.clone()));
        };
        let update::Applied { diff, ignored } = update::apply(snapshot, msg)?;
        let unchanged = |ignored| Updated {
            serial,
            changed: false,
            ignored,
        };
        if diff.is_empty() {
            return Ok(unchanged(ignored));
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
        // An update that replaces the SOA with a later serial sets it (RFC 2136 §3.6).
        let given = diff.added.iter().find_map(|r| match &r.data {
            RData::SOA(soa) => Some(soa.serial),
            _ => None,
        });
        let mut next = stored.clone();
        next.add_update(diff.clone());
        // What would not build is refused before it reaches the journal: a journal entry is
        // replayed at every start, so it must always apply.
        let Some(prepared) = next.prepare(given, EntryKind::Update, diff)? else {
            return Ok(unchanged(ignored));
        };
        let serial = next.commit(prepared, Some(journal))?;
        self.put(key, next);
        Ok(Updated {
            serial,
            changed: true,
            ignored,
        })
    }

    /// Replaces a secondary zone's data with a transfer's `records` (SOA included): the zone is
    /// served at the SOA's serial from now on. All or nothing: records that would not build a
    /// zone leave it as it was. Returns the serial.
    pub(crate) fn transfer_in(
        &mut self,
        zone: &Name,
        records: Vec<Record>,
    ) -> Result<u32, StoreError> {
        let secondary = self
            .zones
            .get(&LowerName::new(zone))
            .is_some_and(|z| z.source.secondary);
        if !secondary {
            return match self.zones.contains_key(&LowerName::new(zone)) {
                true => Err(StoreError::NotSecondary(zone.clone())),
                false => Err(StoreError::NoSuchZone(zone.clone())),
            };
        }
        self.change(zone, |z| {
            let at = Location {
                file: z.source.file.clone(),
                line: 0,
            };
            z.set_file_records(located(records, &at));
            z.available = true;
            z.pending = false;
            Ok(())
        })
    }

    /// A secondary zone's copy expired (or came back): unavailable zones answer SERVFAIL.
    pub(crate) fn set_available(&mut self, zone: &Name, available: bool) -> Result<(), StoreError> {
        let (key, mut next) = self.copy(zone)?;
        if !next.source.secondary {
            return Err(StoreError::NotSecondary(zone.clone()));
        }
        next.available = available && next.served.is_some();
        self.put(key, next);
        Ok(())
    }

    /// A zone's records as served now (SOA with the served serial), or `None` when the zone is
    /// not here or has no data: what a secondary applies IXFR steps to.
    pub(crate) fn records(&self, zone: &Name) -> Option<Vec<Record>> {
        let served = self.zones.get(&LowerName::new(zone))?.served.as_ref()?;
        Some(served.records().cloned().collect())
    }

    /// Sets how `zone`'s answers are ordered (no effect on its content or serial).
    pub(crate) fn set_balance(
        &mut self,
        zone: &Name,
        rules: BalanceRules,
    ) -> Result<(), StoreError> {
        let (key, mut next) = self.copy(zone)?;
        if let Some(served) = &next.served {
            next.served = Some(Arc::new(Zone::clone(served).with_balance(rules.clone())));
        }
        next.balance = rules;
        self.put(key, next);
        Ok(())
    }

    /// A number that goes up whenever what [`ZoneStore::catalog`] would give changes.
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    /// The origins and files served.
    pub(crate) fn files(&self) -> impl Iterator<Item = &ZoneFile> {
        self.zones.values().map(|z| &z.source)
    }

    /// The zones served now, as one catalog (each zone's snapshot shared, not rebuilt).
    pub fn catalog(&self) -> Result<Catalog, CatalogError> {
        let mut served = Vec::with_capacity(self.zones.len());
        let mut unavailable = Vec::new();
        for zone in self.zones.values() {
            match (&zone.served, zone.available) {
                (Some(snapshot), true) => served.push(Arc::clone(snapshot)),
                _ => unavailable.push(zone.source.origin.clone()),
            }
        }
        Ok(Catalog::from_shared(served)?.with_unavailable(unavailable))
    }
}

fn records_differ(a: &[Located], b: &[Located]) -> bool {
    // `Record`'s equality leaves the TTL out (RFC 2136 §1.1.1); an edited TTL is a change.
    a.len() != b.len()
        || a.iter()
            .zip(b)
            .any(|(x, y)| x.record != y.record || x.record.ttl != y.record.ttl)
}

#[cfg(test)]
mod review_tests;
#[cfg(test)]
mod signed_tests;
#[cfg(test)]
mod tests;

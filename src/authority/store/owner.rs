//! The one writer of the served zones. Every source of change — a reloaded file, an UPDATE, a
//! transfer in, a secondary's expiry, the records a service emits — goes through
//! [`ZoneOwner::change`], one at a time; what is served changes only when a zone's snapshot
//! did, and then the new catalog goes to `publish` (the handler swaps it in, replication
//! announces the new serials). Nobody else holds the store, so nobody else can change a zone.

use std::sync::{Mutex, MutexGuard};

use hickory_proto::op::Message;
use hickory_proto::rr::{Name, Record};

use super::{Secondaries, StoreError, Updated, Updater, ZoneStore};
use crate::authority::Catalog;

type Publish = Box<dyn Fn(Catalog) + Send + Sync>;

/// The zones served, and who hears of each new catalog.
pub(crate) struct ZoneOwner {
    held: Mutex<Held>,
    publish: Publish,
}

struct Held {
    store: ZoneStore,
    /// The store's version last published; `None` before the first publish, which always
    /// happens (zones that are only unavailable still need their SERVFAIL served).
    published: Option<u64>,
}

impl std::fmt::Debug for ZoneOwner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZoneOwner").finish_non_exhaustive()
    }
}

impl ZoneOwner {
    /// The owner of `store` (opened: see [`ZoneStore::open`]; nothing is served until the
    /// first change commits it), handing every new catalog to `publish`.
    pub(crate) fn new(
        store: ZoneStore,
        publish: impl Fn(Catalog) + Send + Sync + 'static,
    ) -> ZoneOwner {
        ZoneOwner {
            held: Mutex::new(Held {
                store,
                published: None,
            }),
            publish: Box::new(publish),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Held> {
        // A panic mid-change leaves the store as it was: every change works on a copy of its
        // zone and swaps it in last.
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `edit` to the store and, when it changed what is served, publishes the new
    /// catalog. Each store operation is all or nothing; an edit of several (the records of
    /// every service) that fails part way keeps the ones before the failure, and those are
    /// published too: what is served is always what the store holds.
    pub(crate) fn change<T>(
        &self,
        edit: impl FnOnce(&mut ZoneStore) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut held = self.lock();
        let out = edit(&mut held.store);
        let version = held.store.version();
        if held.published != Some(version) {
            (self.publish)(held.store.catalog()?);
            held.published = Some(version);
        }
        out
    }

    /// Re-reads every zone file (SIGHUP), keeping every other source's records.
    pub(crate) fn reload(&self) -> Result<(), StoreError> {
        self.change(|store| Ok(store.reload()?))
    }
}

impl Updater for ZoneOwner {
    fn update(&self, zone: &Name, update: &Message) -> Result<Updated, StoreError> {
        self.change(|store| store.update(zone, update))
    }
}

impl Secondaries for ZoneOwner {
    fn transfer_in(&self, zone: &Name, records: Vec<Record>) -> Result<u32, StoreError> {
        self.change(|store| store.transfer_in(zone, records))
    }

    fn set_available(&self, zone: &Name, available: bool) -> Result<(), StoreError> {
        self.change(|store| store.set_available(zone, available))
    }

    fn records(&self, zone: &Name) -> Option<Vec<Record>> {
        self.lock().store.records(zone)
    }
}

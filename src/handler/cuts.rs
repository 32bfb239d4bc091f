//! The served zones, in the one cell the handler and the resolver share, and their
//! delegations as the resolver asks for them: a walk for a name below a cut in one of our
//! zones starts at the child's servers (which may be reachable only through us), read from
//! the zone in service at that moment rather than copied into the cache.

use std::sync::{Arc, RwLock};

use hickory_proto::rr::{Name, RecordType};

use crate::authority::Catalog;
use crate::authority::lookup::Answer;
use crate::resolver::{LocalCut, LocalCuts};

/// The served zones, replaced whole on every change; the handler answers from it and the
/// resolver reads its delegations.
pub(super) struct CatalogCell(RwLock<Arc<Catalog>>);

impl CatalogCell {
    pub(super) fn new(catalog: Catalog) -> CatalogCell {
        CatalogCell(RwLock::new(Arc::new(catalog)))
    }

    /// The zones in service now.
    pub(super) fn current(&self) -> Arc<Catalog> {
        // A panic while holding the lock leaves a whole catalog behind; keep using it.
        match self.0.read() {
            Ok(c) => Arc::clone(&c),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    pub(super) fn replace(&self, catalog: Arc<Catalog>) {
        match self.0.write() {
            Ok(mut c) => *c = catalog,
            Err(poisoned) => *poisoned.into_inner() = catalog,
        }
    }
}

/// The handler's catalog cell, seen by the resolver.
pub(super) struct ServedCuts {
    catalog: Arc<CatalogCell>,
}

impl ServedCuts {
    pub(super) fn new(catalog: Arc<CatalogCell>) -> ServedCuts {
        ServedCuts { catalog }
    }
}

impl LocalCuts for ServedCuts {
    fn cut(&self, name: &Name) -> Option<LocalCut> {
        let catalog = self.catalog.current();
        let zone = catalog.find(name)?;
        // An NS lookup stops at the first cut on the way down (at the name itself too).
        match zone.lookup(name, RecordType::NS) {
            Answer::Referral(d) => Some(LocalCut {
                zone: d.cut,
                ns: d.ns,
                glue: d.glue,
            }),
            _ => None,
        }
    }
}

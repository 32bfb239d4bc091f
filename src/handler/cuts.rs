//! The served zones' delegations, as the resolver asks for them: a walk for a name below a
//! cut in one of our zones starts at the child's servers (which may be reachable only through
//! us), read from the zone in service at that moment rather than copied into the cache.

use std::sync::{Arc, RwLock};

use hickory_proto::rr::{Name, RecordType};

use crate::authority::Catalog;
use crate::authority::lookup::Answer;
use crate::resolver::{LocalCut, LocalCuts};

/// The handler's catalog cell, seen by the resolver.
pub(super) struct ServedCuts {
    catalog: Arc<RwLock<Arc<Catalog>>>,
}

impl ServedCuts {
    pub(super) fn new(catalog: Arc<RwLock<Arc<Catalog>>>) -> ServedCuts {
        ServedCuts { catalog }
    }
}

impl LocalCuts for ServedCuts {
    fn cut(&self, name: &Name) -> Option<LocalCut> {
        let catalog = match self.catalog.read() {
            Ok(c) => Arc::clone(&c),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        };
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

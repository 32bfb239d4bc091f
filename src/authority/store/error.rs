//! Why the store refused a change, and the RCODE an UPDATE refused for that reason gets.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Name;

use crate::authority::DuplicateZone;
use crate::authority::journal::JournalError;
use crate::authority::reload::CatalogError;
use crate::authority::update::UpdateError;
use crate::zonefile::ZoneErrors;

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

impl From<ZoneErrors> for StoreError {
    fn from(e: ZoneErrors) -> Self {
        StoreError::Catalog(CatalogError::Zones(e))
    }
}

impl From<DuplicateZone> for StoreError {
    fn from(e: DuplicateZone) -> Self {
        StoreError::Catalog(CatalogError::Duplicate(e))
    }
}

impl StoreError {
    /// The RCODE an UPDATE refused for this reason gets (RFC 2136 §3, §3.4.2.1: a change that
    /// cannot be made durable is SERVFAIL).
    pub(crate) fn rcode(&self) -> ResponseCode {
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

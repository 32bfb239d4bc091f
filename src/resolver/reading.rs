//! How a walk reads a chain (CNAME links) from the cache: which links it may take from it,
//! and what a read from the cache alone tells the walk that follows it.

use hickory_proto::rr::Name;

/// How a chain reads the cache.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reading {
    /// Expired links too (RFC 8767).
    pub(super) stale: bool,
    /// Links not to be read from the cache.
    pub(super) missed: Missed,
    /// Validate each link not yet validated (with a validator).
    pub(super) validate: bool,
}

impl Reading {
    /// A client's question from the cache alone: fresh links, validated.
    pub(super) const CACHED: Reading = Reading {
        stale: false,
        missed: Missed::Nothing,
        validate: true,
    };
}

/// What a read of a chain from the cache alone met besides its answer.
#[derive(Debug, Default)]
pub(super) struct Seen {
    /// The first link read from an entry in its prefetch window, its refresh unclaimed.
    pub(super) due: Option<Name>,
    /// The read stopped at the first link (not in the cache, or not yet validated): the walk
    /// asks for it at once.
    pub(super) first_missed: bool,
}

/// Which links of a chain a walk takes past the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Missed {
    Nothing,
    /// The first: its caller has just missed it (the later ones, found then, may have gone
    /// since, or been the miss: read again).
    First,
    /// Every one: a refresh (prefetch) of the whole chain.
    Every,
}

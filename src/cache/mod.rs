//! The cache, in two tiers as Unbound's: RRsets and negative entries here, and whole answers in
//! wire form in [`message`] (the UDP hit path's copy of bytes), both held by one [`Cache`], so
//! one flush (`admin`) reaches both and the message tier's generation moves with it. Both are
//! TTL-aware and sharded so workers do not contend. The RRset tier is bounded
//! both in entries and in bytes (`cache.max_bytes`, like Unbound's msg-cache-size and
//! rrset-cache-size), least recently used entries going first. Time is an argument (`now`),
//! so expiry is tested with a paused clock. Negative answers and recent failures are
//! first-class entries, not errors.

pub(crate) mod admin;
pub(crate) mod entry;
pub(crate) mod message;
pub(crate) mod persist;
mod signed;
mod size;
mod wire;

use std::hash::BuildHasher;
use std::mem::size_of;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};
use lru::LruCache;
use tokio::time::Instant;

pub(crate) use entry::{Cached, Entry, Stored};
pub use entry::{Data, Key, Rank};
pub(crate) use message::{Hit, Messages};
use signed::StoredSigned;
pub(crate) use signed::{Signed, Trust};

/// What the message tier keeps beside each answer: the RRL account of an authoritative answer,
/// worked out once when it is kept rather than on every hit.
pub(crate) type Tag = Option<crate::ratelimit::Token>;

use crate::limits::{
    CACHE_MAX_BYTES, CACHE_MAX_ENTRIES, CACHE_MAX_TTL, CACHE_MIN_TTL, CACHE_NEGATIVE_MAX_TTL,
    PREFETCH_WINDOW_PERCENT, SERVE_STALE_SECS, STALE_ANSWER_TTL,
};

const SHARDS: usize = 16;

/// Cache policy after bounds checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    pub max_entries: usize,
    /// Estimated memory the cache may take, hash tables included; see [`Cache::bytes`].
    pub max_bytes: usize,
    pub min_ttl: u32,
    pub max_ttl: u32,
    pub negative_max_ttl: u32,
    /// How long past expiry data may still be served when resolution fails (0: never).
    pub serve_stale_secs: u32,
    /// Prefetch: the last part of an entry's TTL, in percent, in which a hit refreshes it
    /// (0: never).
    pub prefetch_percent: u32,
}

impl CachePolicy {
    /// The longest a positive RRset is kept (and said to live in an answer): `max_ttl`, never
    /// below `min_ttl`.
    pub(crate) fn max_positive_ttl(&self) -> u32 {
        self.max_ttl.max(self.min_ttl)
    }
}

impl Default for CachePolicy {
    fn default() -> Self {
        CachePolicy {
            max_entries: CACHE_MAX_ENTRIES.default,
            max_bytes: CACHE_MAX_BYTES.default,
            min_ttl: CACHE_MIN_TTL.default,
            max_ttl: CACHE_MAX_TTL.default,
            negative_max_ttl: CACHE_NEGATIVE_MAX_TTL.default,
            serve_stale_secs: SERVE_STALE_SECS.default,
            prefetch_percent: PREFETCH_WINDOW_PERCENT.default,
        }
    }
}

/// One shard: its LRU and the estimated footprint of the entries in it.
struct Shard {
    lru: LruCache<Key, Entry>,
    /// Sum of [`size::entry_bytes`] over the entries held.
    bytes: usize,
}

impl Shard {
    /// Removes the entry at `key`, if any, out of the byte count too.
    fn take(&mut self, key: &Key) -> Option<Entry> {
        let old = self.lru.pop(key)?;
        // Saturating only keeps a future mistake in the estimate from wrapping into a shard
        // that evicts everything.
        self.bytes = self.bytes.saturating_sub(size::entry_bytes(key, &old));
        Some(old)
    }
}

/// A sharded LRU of RRsets and negative entries, and the message tier beside it.
pub struct Cache {
    shards: Vec<Mutex<Shard>>,
    /// Whole answers for the hit path: here, so the resolver's flush reaches them too.
    messages: Messages<Tag>,
    /// Picks the shard. The LRUs' own hasher (foldhash, seeded per process): a shard pick per
    /// lookup with SipHash cost more than the lookup itself.
    hasher: lru::DefaultHasher,
    policy: CachePolicy,
    /// Entries one shard may hold.
    shard_entries: usize,
    /// Bytes one shard's entries may take: its share of `max_bytes` less its fixed cost.
    shard_entry_bytes: usize,
    /// What a shard costs empty: the struct, the hash table `lru` allocates up front, and its
    /// two sentinel nodes.
    shard_fixed_bytes: usize,
}

impl Cache {
    pub fn new(policy: CachePolicy) -> Cache {
        Cache::with_messages(policy, Messages::default())
    }

    /// A cache whose message tier never answers a client (the resolver's recent failures):
    /// one entry a shard, rather than a table of tens of thousands allocated up front.
    pub(crate) fn rrsets_only(policy: CachePolicy) -> Cache {
        Cache::with_messages(policy, Messages::with_capacity(1))
    }

    /// The message tier alone, for a server without recursion: its answers are the zones',
    /// and nothing writes RRsets, so their tier is one entry a shard.
    pub(crate) fn messages_only() -> Cache {
        Cache::new(CachePolicy {
            max_entries: 0,
            ..CachePolicy::default()
        })
    }

    fn with_messages(policy: CachePolicy, messages: Messages<Tag>) -> Cache {
        let messages = messages.with_prefetch(policy.prefetch_percent);
        let shard_bytes = policy.max_bytes / SHARDS;
        // Every entry costs at least its node, a name and one record, so no shard can hold more
        // than `by_bytes` whatever `max_entries` says; capping there keeps a large
        // `max_entries` with a small `max_bytes` from preallocating a hash table bigger than
        // the budget. When bytes bind, the count is rounded down to what fills a hash table:
        // a table just past a power of two is half empty, and its buckets cost 15 % of a small
        // entry.
        let by_bytes = shard_bytes / (size::alloc(size::NODE) + size::SMALLEST_HEAP);
        let by_count = policy.max_entries / SHARDS;
        let shard_entries = if by_count <= by_bytes {
            by_count
        } else {
            size::full_table_entries(by_bytes)
        }
        .max(1);
        let shard_fixed_bytes = size_of::<Mutex<Shard>>()
            + size::table_bytes(shard_entries)
            + 2 * size::alloc(size::NODE);
        let cap = NonZeroUsize::new(shard_entries).unwrap_or(NonZeroUsize::MIN);
        Cache {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        lru: LruCache::new(cap),
                        bytes: 0,
                    })
                })
                .collect(),
            messages,
            hasher: Default::default(),
            policy,
            shard_entries,
            shard_entry_bytes: shard_bytes.saturating_sub(shard_fixed_bytes),
            shard_fixed_bytes,
        }
    }

    pub(crate) fn policy(&self) -> &CachePolicy {
        &self.policy
    }

    /// The message tier: whole answers, read by the hit path and fed with finished answers.
    pub(crate) fn messages(&self) -> &Messages<Tag> {
        &self.messages
    }

    fn shard(&self, key: &Key) -> std::sync::MutexGuard<'_, Shard> {
        let shard = &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS];
        // A panic while holding a shard lock leaves plain data behind; keep using it.
        shard.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fresh data for `key`, TTLs counted down to the time left. A read in the entry's
    /// prefetch window before its refresh was claimed says so (`Signed::prefetch`): a reader
    /// answering a client then claims it ([`Cache::claim_prefetch`]) and refreshes it. An
    /// entry is fresh through the instant its TTL ends, read then with TTL 0, and gone after
    /// (Unbound's `now > expiry`, counted in whole seconds there: a TTL of 5 still answers
    /// 5 seconds on, and a 5 s failure is refreshed in that last moment).
    pub fn get(&self, key: &Key, now: Instant) -> Option<Cached> {
        let mut shard = self.shard(key);
        let entry = shard.lru.get(key)?;
        if !entry.fresh(now) {
            return None;
        }
        let ttl = ttl_left(entry.expires, now);
        let mut signed = decode_signed(entry, ttl)?;
        if in_window(entry, ttl) {
            signed.get_or_insert_default().prefetch = true;
        }
        Some(Cached {
            data: entry.stored.data(key, ttl)?,
            rank: entry.rank,
            ttl,
            stale: false,
            signed,
        })
    }

    /// Reads fresh data for `key` in place, with its rank, without decoding it: for callers
    /// that need a fact about the data (its addresses, whether it exists), not the records.
    pub(crate) fn inspect<R>(
        &self,
        key: &Key,
        now: Instant,
        f: impl FnOnce(&Stored, Rank) -> R,
    ) -> Option<R> {
        let mut shard = self.shard(key);
        let entry = shard.lru.get(key)?;
        if !entry.fresh(now) {
            return None;
        }
        Some(f(&entry.stored, entry.rank))
    }

    /// The seconds left of a fresh entry at `key`, without decoding it (`get` would).
    pub(crate) fn fresh_ttl(&self, key: &Key, now: Instant) -> Option<u32> {
        let shard = self.shard(key);
        let entry = shard.lru.peek(key)?;
        entry.fresh(now).then(|| ttl_left(entry.expires, now))
    }

    /// RFC 8767: expired data still inside the serve-stale window, with TTL 30.
    pub(crate) fn get_stale(&self, key: &Key, now: Instant) -> Option<Cached> {
        let window = Duration::from_secs(u64::from(self.policy.serve_stale_secs));
        let mut shard = self.shard(key);
        let entry = shard.lru.get(key)?;
        if entry.stored.is_failure() || entry.expires + window <= now {
            return None;
        }
        Some(Cached {
            data: entry.stored.data(key, STALE_ANSWER_TTL)?,
            rank: entry.rank,
            ttl: STALE_ANSWER_TTL,
            stale: true,
            signed: decode_signed(entry, STALE_ANSWER_TTL)?,
        })
    }

    /// Stores `data` for `ttl` seconds (clamped by policy), unless fresh data of a higher rank
    /// is already there (RFC 2181 §5.4.1) or it alone would take more than its shard's share of
    /// `max_bytes`. Least recently used entries of the shard make room. Returns whether it was
    /// stored.
    pub fn insert(&self, key: Key, data: Data, ttl: u32, rank: Rank, now: Instant) -> bool {
        self.insert_signed(key, data, None, ttl, rank, now)
    }

    /// [`Cache::insert`] with the DNSSEC records that came with the data and the verdict on
    /// them (see [`Signed`]).
    pub(crate) fn insert_signed(
        &self,
        key: Key,
        data: Data,
        signed: Option<Signed>,
        ttl: u32,
        rank: Rank,
        now: Instant,
    ) -> bool {
        // RFC 8767 §4 (updating RFC 2181 §8, which made it zero): a TTL with the most
        // significant bit set is a positive value, capped below like any other.
        let ttl = match &data {
            Data::Positive(_) => ttl.clamp(self.policy.min_ttl, self.policy.max_positive_ttl()),
            Data::NxDomain { .. } | Data::NoData { .. } => ttl.min(self.policy.negative_max_ttl),
            Data::Failure { .. } => ttl,
        };
        if ttl == 0 {
            return false;
        }
        let Some(stored) = Stored::new(data, &key) else {
            tracing::debug!(key = ?key.name(), "records not cacheable in wire form");
            return false;
        };
        // A remembered failure too is refreshed in its last part (as Unbound prefetches its
        // SERVFAIL entries), so an answer that came back replaces it before its clients
        // would walk again.
        let window = prefetch_window(ttl, self.policy.prefetch_percent);
        let entry = Entry {
            stored,
            rank,
            // Prefetch off: as if refreshed already, or the instant the TTL ends (a window of
            // 0 holds it) would still ask for one.
            prefetched: self.policy.prefetch_percent == 0,
            prefetch_window: window,
            expires: now + Duration::from_secs(u64::from(ttl)),
            signed: signed.and_then(StoredSigned::new).map(Box::new),
        };
        // Estimated before taking the lock: it walks the records.
        let cost = size::entry_bytes(&key, &entry);
        if cost > self.shard_entry_bytes {
            // Storing it would flush the whole shard for one RRset.
            return false;
        }
        let mut guard = self.shard(&key);
        let shard = &mut *guard;
        if let Some(old) = shard.lru.peek(&key)
            && old.expires > now
            && old.rank > rank
        {
            return false;
        }
        // The estimate is a function of the entry alone, so taking it again on the way out
        // (`Shard::take`) subtracts exactly what was added.
        shard.take(&key);
        while shard.bytes + cost > self.shard_entry_bytes || shard.lru.len() >= self.shard_entries {
            let Some((k, v)) = shard.lru.pop_lru() else {
                break;
            };
            shard.bytes = shard.bytes.saturating_sub(size::entry_bytes(&k, &v));
        }
        // Room was made above, so the LRU's own capacity never evicts anything here.
        shard.lru.put(key, entry);
        shard.bytes += cost;
        true
    }

    /// Removes the NXDOMAIN of the owner of `key` (RFC 2308 §5: it denies every type) when
    /// it ranks no higher than `rank`: data at the name just learned says the name exists
    /// (RFC 2181 §5.4.1: newer data of at least the same rank replaces the old).
    pub(crate) fn end_nxdomain(&self, key: &Key, rank: Rank) {
        let mut name = key.clone();
        name.rtype = None;
        let mut guard = self.shard(&name);
        let shard = &mut *guard;
        let denied = shard
            .lru
            .peek(&name)
            .is_some_and(|e| matches!(e.stored, Stored::NxDomain { .. }) && e.rank <= rank);
        if denied {
            shard.take(&name);
        }
    }

    /// Removes the entry at `key`, if any (a remembered failure that a refresh answered).
    pub(crate) fn remove(&self, key: &Key) {
        self.shard(key).take(key);
    }

    /// Claims the refresh of the answer to (`name`, `qtype`): true for the first claim of an
    /// entry in its prefetch window (its RRset, the name's NXDOMAIN, or its CNAME, as a chain's
    /// link reads them), false when there is none or it was claimed. One refresh per entry.
    pub(crate) fn claim_prefetch(&self, name: &Name, qtype: RecordType, now: Instant) -> bool {
        // One key, its type changed for each: the name's wire form is made once.
        let mut key = Key::new(name, qtype);
        [Some(qtype), None, Some(RecordType::CNAME)]
            .into_iter()
            .any(|rtype| {
                key.rtype = rtype;
                let mut shard = self.shard(&key);
                let Some(entry) = shard.lru.peek_mut(&key) else {
                    return false;
                };
                let claimed = entry.fresh(now) && in_window(entry, ttl_left(entry.expires, now));
                entry.prefetched |= claimed;
                claimed
            })
    }

    /// Records the validator's verdict on the fresh entry at `key`, its lifetime cut to `ttl`
    /// seconds from `now` if that is shorter (RFC 4035 §5.3.3: no longer than its signatures;
    /// bogus data only briefly). The records stay as they are. False when there is no entry,
    /// or when the entry was already judged: then it is not the data the verdict is about (a
    /// walk's reply that ranked too low to replace it, e.g. a retry at another server after a
    /// bogus answer), and that entry keeps its own verdict.
    pub(crate) fn set_trust(&self, key: &Key, trust: Trust, ttl: u32, now: Instant) -> bool {
        let mut shard = self.shard(key);
        let Some(entry) = shard.lru.peek_mut(key) else {
            return false;
        };
        if !entry.fresh(now)
            || entry
                .signed
                .as_ref()
                .is_some_and(|s| s.trust() != &Trust::Unchecked)
        {
            return false;
        }
        entry.expires = entry
            .expires
            .min(now + Duration::from_secs(u64::from(ttl.max(1))));
        // The window is the last part of the lifetime it now has; bogus data is kept only
        // so that it is not asked again at once, and is not refreshed ahead.
        entry.prefetch_window = match trust {
            Trust::Bogus { .. } => {
                entry.prefetched = true;
                0
            }
            _ => entry.prefetch_window.min(prefetch_window(
                ttl_left(entry.expires, now),
                self.policy.prefetch_percent,
            )),
        };
        match entry.signed.as_mut() {
            Some(signed) => signed.set_trust(trust),
            None => {
                let Some(stored) = StoredSigned::new(Signed {
                    trust,
                    ..Signed::default()
                }) else {
                    return false;
                };
                // A few bytes more than the shard's account says: not worth a second pass.
                entry.signed = Some(Box::new(stored));
            }
        }
        true
    }

    /// Number of entries held (fresh or not yet evicted).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|s| s.lru.len()).unwrap_or(0))
            .sum()
    }

    /// Estimated memory held: every entry's footprint plus each shard's fixed cost (its hash
    /// table is allocated whole up front). Never more than `max_bytes`.
    pub fn bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let held = s.lock().unwrap_or_else(|p| p.into_inner()).bytes;
                self.shard_fixed_bytes + held
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An entry's DNSSEC side decoded with `ttl`: `Some(None)` when it has none, `None` when it
/// does not decode (it always does: it was encoded here).
fn decode_signed(entry: &Entry, ttl: u32) -> Option<Option<Box<Signed>>> {
    match &entry.signed {
        Some(s) => Some(Some(Box::new(s.decode(ttl)?))),
        None => Some(None),
    }
}

/// Whether a read of `entry` with `ttl` left falls in its prefetch window before its refresh
/// was claimed (`ttl` is rounded up: in the window when at most the window).
fn in_window(entry: &Entry, ttl: u32) -> bool {
    ttl <= entry.prefetch_window && !entry.prefetched
}

/// The last `percent` of `ttl`, in whole seconds (Unbound's: none for a TTL under 10 s at
/// 10 %, whose window would be a fraction of the second the TTL is counted in).
pub(crate) fn prefetch_window(ttl: u32, percent: u32) -> u32 {
    u32::try_from(u64::from(ttl) * u64::from(percent) / 100).unwrap_or(0)
}

/// Seconds left before `expires`, rounded up: data cached a moment ago still shows its full
/// TTL, as from the authority, and the last fraction of a second shows 1; only the instant
/// it ends shows 0.
fn ttl_left(expires: Instant, now: Instant) -> u32 {
    let left = expires.saturating_duration_since(now);
    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    u32::try_from(secs).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod ignored_nsec3_review;
#[cfg(test)]
mod prefetch_tests;
#[cfg(test)]
mod tests;

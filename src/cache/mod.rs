//! The resolver's cache: TTL-aware, bounded, sharded so workers do not contend. Time is an
//! argument (`now`), so expiry is tested with a paused clock. Negative answers and recent
//! failures are first-class entries, not errors.

pub mod entry;

use std::hash::BuildHasher;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::Duration;

use lru::LruCache;
use tokio::time::Instant;

pub use entry::{Cached, Data, Entry, Key, Rank};

use crate::limits::{
    CACHE_MAX_ENTRIES, CACHE_MAX_TTL, CACHE_MIN_TTL, CACHE_NEGATIVE_MAX_TTL, SERVE_STALE_SECS,
    STALE_ANSWER_TTL,
};

const SHARDS: usize = 16;

/// Cache policy after bounds checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    pub max_entries: usize,
    pub min_ttl: u32,
    pub max_ttl: u32,
    pub negative_max_ttl: u32,
    /// How long past expiry data may still be served when resolution fails (0: never).
    pub serve_stale_secs: u32,
}

impl Default for CachePolicy {
    fn default() -> Self {
        CachePolicy {
            max_entries: CACHE_MAX_ENTRIES.default,
            min_ttl: CACHE_MIN_TTL.default,
            max_ttl: CACHE_MAX_TTL.default,
            negative_max_ttl: CACHE_NEGATIVE_MAX_TTL.default,
            serve_stale_secs: SERVE_STALE_SECS.default,
        }
    }
}

/// A sharded LRU of RRsets and negative entries.
pub struct Cache {
    shards: Vec<Mutex<LruCache<Key, Entry>>>,
    hasher: std::collections::hash_map::RandomState,
    policy: CachePolicy,
}

impl Cache {
    pub fn new(policy: CachePolicy) -> Cache {
        let per_shard =
            NonZeroUsize::new((policy.max_entries / SHARDS).max(1)).unwrap_or(NonZeroUsize::MIN);
        Cache {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(LruCache::new(per_shard)))
                .collect(),
            hasher: Default::default(),
            policy,
        }
    }

    pub fn policy(&self) -> &CachePolicy {
        &self.policy
    }

    fn shard(&self, key: &Key) -> std::sync::MutexGuard<'_, LruCache<Key, Entry>> {
        let shard = &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS];
        // A panic while holding a shard lock leaves plain data behind; keep using it.
        shard.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fresh data for `key`, TTLs counted down to the time left.
    pub fn get(&self, key: &Key, now: Instant) -> Option<Cached> {
        let mut shard = self.shard(key);
        let entry = shard.get(key)?;
        if entry.expires <= now {
            return None;
        }
        // Round up: data cached a moment ago still shows its full TTL, as from the authority,
        // and the last fraction of a second shows 1, never 0.
        let left = entry.expires - now;
        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        let ttl = u32::try_from(secs).unwrap_or(u32::MAX);
        Some(Cached {
            data: entry.data.with_ttl(ttl),
            rank: entry.rank,
            ttl,
            stale: false,
        })
    }

    /// RFC 8767: expired data still inside the serve-stale window, with TTL 30.
    pub fn get_stale(&self, key: &Key, now: Instant) -> Option<Cached> {
        let window = Duration::from_secs(u64::from(self.policy.serve_stale_secs));
        let mut shard = self.shard(key);
        let entry = shard.get(key)?;
        if matches!(entry.data, Data::Failure { .. }) || entry.expires + window <= now {
            return None;
        }
        Some(Cached {
            data: entry.data.with_ttl(STALE_ANSWER_TTL),
            rank: entry.rank,
            ttl: STALE_ANSWER_TTL,
            stale: true,
        })
    }

    /// Stores `data` for `ttl` seconds (clamped by policy), unless fresh data of a higher rank
    /// is already there (RFC 2181 §5.4.1). Returns whether it was stored.
    pub fn insert(&self, key: Key, data: Data, ttl: u32, rank: Rank, now: Instant) -> bool {
        // RFC 2181 §8: a TTL with the most significant bit set is treated as zero.
        let ttl = if ttl > i32::MAX as u32 { 0 } else { ttl };
        let ttl = match &data {
            Data::Positive(_) => ttl.clamp(
                self.policy.min_ttl,
                self.policy.max_ttl.max(self.policy.min_ttl),
            ),
            Data::NxDomain { .. } | Data::NoData { .. } => ttl.min(self.policy.negative_max_ttl),
            Data::Failure { .. } => ttl,
        };
        if ttl == 0 {
            return false;
        }
        let mut shard = self.shard(&key);
        if let Some(old) = shard.peek(&key)
            && old.expires > now
            && old.rank > rank
        {
            return false;
        }
        shard.put(
            key,
            Entry {
                data,
                rank,
                expires: now + Duration::from_secs(u64::from(ttl)),
            },
        );
        true
    }

    /// Number of entries held (fresh or not yet evicted).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|s| s.len()).unwrap_or(0))
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::{Name, RData, Record, RecordType};

    use super::*;

    fn a(ttl: u32) -> Vec<Record> {
        vec![Record::from_rdata(
            Name::from_ascii("www.test.").expect("name"),
            ttl,
            RData::A(A::new(192, 0, 2, 1)),
        )]
    }

    fn key() -> Key {
        Key::new(&Name::from_ascii("WWW.test.").expect("name"), RecordType::A)
    }

    #[tokio::test(start_paused = true)]
    async fn ttl_counts_down_and_expires() {
        let cache = Cache::new(CachePolicy::default());
        let t0 = Instant::now();
        assert!(cache.insert(key(), Data::Positive(a(300)), 300, Rank::Authoritative, t0));
        tokio::time::advance(Duration::from_secs(100)).await;
        let hit = cache.get(&key(), Instant::now()).expect("fresh");
        assert_eq!(hit.ttl, 200);
        assert!(matches!(hit.data, Data::Positive(r) if r[0].ttl == 200));
        tokio::time::advance(Duration::from_secs(200)).await;
        assert!(cache.get(&key(), Instant::now()).is_none());
        let stale = cache
            .get_stale(&key(), Instant::now())
            .expect("within stale window");
        assert_eq!(stale.ttl, 30);
    }

    #[tokio::test(start_paused = true)]
    async fn fresh_data_shows_its_full_ttl_and_never_zero() {
        let cache = Cache::new(CachePolicy::default());
        cache.insert(
            key(),
            Data::Positive(a(300)),
            300,
            Rank::Authoritative,
            Instant::now(),
        );
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(cache.get(&key(), Instant::now()).expect("fresh").ttl, 300);
        tokio::time::advance(Duration::from_millis(299_500)).await;
        assert_eq!(cache.get(&key(), Instant::now()).expect("fresh").ttl, 1);
        tokio::time::advance(Duration::from_millis(499)).await;
        assert!(cache.get(&key(), Instant::now()).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn lower_rank_does_not_replace_fresh_higher_rank() {
        let cache = Cache::new(CachePolicy::default());
        let now = Instant::now();
        cache.insert(key(), Data::Positive(a(300)), 300, Rank::Authoritative, now);
        assert!(!cache.insert(key(), Data::Positive(a(5)), 5, Rank::Glue, now));
        assert_eq!(
            cache.get(&key(), now).expect("hit").rank,
            Rank::Authoritative
        );
    }

    #[tokio::test(start_paused = true)]
    async fn ttls_are_clamped_and_bounded_in_size() {
        let policy = CachePolicy {
            max_entries: 16,
            min_ttl: 60,
            max_ttl: 120,
            ..CachePolicy::default()
        };
        let cache = Cache::new(policy);
        let now = Instant::now();
        cache.insert(key(), Data::Positive(a(5)), 5, Rank::Authoritative, now);
        assert_eq!(cache.get(&key(), now).expect("hit").ttl, 60);
        for i in 0..1000 {
            let k = Key::new(
                &Name::from_ascii(format!("n{i}.test.")).expect("name"),
                RecordType::A,
            );
            cache.insert(k, Data::Positive(a(300)), 300, Rank::Authoritative, now);
        }
        assert!(cache.len() <= 16);
    }
}

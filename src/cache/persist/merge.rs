//! The one cross-entry rule of a merge: data at a name says the name exists (RFC 2308 §5: an
//! NXDOMAIN denies every type at it), so a file's NXDOMAIN does not come back for a name that
//! has fresh answer data after the load, in the running cache or in the file itself. It is
//! the rule of `Cache::end_nxdomain`, which the resolver applies whenever it stores an answer:
//! answer data (not glue or a referral's NS set) of at least the NXDOMAIN's rank ends it.
//!
//! In the running cache, that data is newer than the file (`tern ctl load-cache`). In the
//! file, both can stand side by side because each shard is copied under its own lock while
//! the resolver goes on storing: an answer learnt between two shards' copies, and the
//! NXDOMAIN it ended, copied before it was. Either way the NXDOMAIN would make every other
//! type at the name read as nonexistent (the resolver reads the exact RRset first, then the
//! name's NXDOMAIN).

use std::collections::HashMap;

use tokio::time::Instant;

use super::format::Persisted;
use crate::cache::{Cache, Data, Key, Rank, Stored};

/// The file's NXDOMAINs and what stands against them, by name (name-only keys).
#[derive(Default)]
pub(super) struct Denials {
    /// Each name the file holds an NXDOMAIN for: its rank.
    nx: HashMap<Key, Rank>,
    /// Each name with answer data fresh after the load: its highest rank.
    exists: HashMap<Key, Rank>,
}

/// Whether data of this kind and rank says its owner exists (as `Resolver::store` ends an
/// NXDOMAIN for it).
fn says_it_exists(positive: bool, rank: Rank) -> bool {
    positive && rank >= Rank::NonAuthoritative
}

fn owner(key: &Key) -> Key {
    let mut name = key.clone();
    name.rtype = None;
    name
}

impl Denials {
    /// Takes note of one of the file's entries, read `age` seconds after the write.
    pub(super) fn note(&mut self, p: &Persisted, age: u64) {
        match &p.data {
            Data::NxDomain { .. } => {
                self.nx.insert(p.key.clone(), p.rank);
            }
            // Only data that comes back fresh: stale data is served only when resolution
            // fails, and says nothing of the name now.
            Data::Positive(_)
                if says_it_exists(true, p.rank) && super::left_after(p.left, age) > 0 =>
            {
                let rank = self.exists.entry(owner(&p.key)).or_insert(p.rank);
                *rank = (*rank).max(p.rank);
            }
            _ => {}
        }
    }

    /// Adds the running cache's fresh answer data at the file's NXDOMAIN names. One pass over
    /// the cache, and none when the file denies no name.
    pub(super) fn settle(&mut self, cache: &Cache, now: Instant) {
        self.exists.retain(|name, _| self.nx.contains_key(name));
        if self.nx.is_empty() {
            return;
        }
        for shard in &cache.shards {
            let shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            for (key, entry) in shard.lru.iter() {
                let positive = matches!(entry.stored, Stored::Positive(_));
                if !entry.fresh(now) || !says_it_exists(positive, entry.rank) {
                    continue;
                }
                let name = owner(key);
                if self.nx.contains_key(&name) {
                    let rank = self.exists.entry(name).or_insert(entry.rank);
                    *rank = (*rank).max(entry.rank);
                }
            }
        }
    }

    /// Whether `p`, an NXDOMAIN, is overruled by data at its name.
    pub(super) fn overruled(&self, p: &Persisted) -> bool {
        matches!(p.data, Data::NxDomain { .. })
            && self.exists.get(&p.key).is_some_and(|&rank| rank >= p.rank)
    }
}

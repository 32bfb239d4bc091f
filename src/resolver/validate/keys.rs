//! The validated keys of each zone (RFC 4035 §5.2: the outcome of the chain step), cached with
//! their TTLs, so a second answer from a zone costs no DS or DNSKEY verification.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};
use tokio::time::Instant;

use crate::cache::Key;
use crate::dnssec::chain::KeyState;

/// Zones whose key state is kept; past it, expired states go, then all (a new walk refills).
const ENTRIES: usize = 4096;

/// Key states by zone, each until it expires.
#[derive(Default)]
pub(crate) struct KeyCache {
    map: Mutex<HashMap<Key, (Arc<KeyState>, Instant), lru::DefaultHasher>>,
}

impl KeyCache {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<Key, (Arc<KeyState>, Instant), lru::DefaultHasher>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state of `zone`'s keys, if kept and fresh at `now`.
    pub(crate) fn get(&self, zone: &Name, now: Instant) -> Option<KeyState> {
        let map = self.lock();
        let (state, expires) = map.get(&Key::new(zone, RecordType::DNSKEY))?;
        (*expires > now).then(|| KeyState::clone(state))
    }

    /// Forgets the states of `name` and the zones below it (`tern ctl nta`).
    pub(crate) fn forget_at_or_below(&self, name: &Name) {
        self.lock().retain(|key, _| !name.zone_of(&key.name()));
    }

    /// Keeps `state` for its TTL from `now`.
    pub(crate) fn put(&self, zone: &Name, state: &KeyState, now: Instant) {
        let ttl = state.ttl().min(super::MAX_VERDICT_TTL);
        if ttl == 0 {
            return;
        }
        let expires = now + Duration::from_secs(u64::from(ttl));
        let mut map = self.lock();
        if map.len() >= ENTRIES {
            map.retain(|_, (_, e)| *e > now);
            if map.len() >= ENTRIES {
                map.clear();
            }
        }
        map.insert(
            Key::new(zone, RecordType::DNSKEY),
            (Arc::new(state.clone()), expires),
        );
    }
}

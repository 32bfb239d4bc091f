//! One walk per question in flight: identical questions share it, a client's and a
//! prefetch's alike (`prefetch`), and each walk's outcome is counted and its failure
//! remembered once.

use std::ops::Deref;
use std::sync::Arc;

use hickory_proto::rr::{Name, RecordType};
use tokio::time::Instant;

use super::window::Priority;
use super::{Budget, Missed, Reading, Resolution, ResolveError, Resolver, Seen, Shared};
use crate::cache::{Data, Key, Rank};
use crate::metrics::Metrics;

/// A walk in flight.
pub(super) struct InFlight {
    pub(super) shared: Shared,
    pub(super) started: Instant,
    /// The walk's place in its servers' lines. Background: started by a prefetch, and no
    /// client waits for it (none joined yet, or all that did went away); the first to join
    /// waits for upstream, a miss, which the prefetch did not count.
    pub(super) priority: Priority,
    /// The [`Hold`]s on it (its clients, the task running a refresh), counted under the map's
    /// lock: when the last goes before the walk ends, nobody runs it any more.
    pub(super) holders: usize,
    /// The clients among them: when the last goes, a refresh they joined goes back to the
    /// background (and the next client to join it is a miss again).
    pub(super) clients: usize,
}

/// A client's or a refresh task's hold on the walk in flight `cell`, entered under `key`
/// (and counted in its [`InFlight::holders`]). Dropped, when done or when its future is
/// dropped first (a client went away: a stream closed, a DoH request cancelled; a refresh's
/// runtime shut down, even before its task ran), it takes the walk out of the map once the
/// walk finished or nobody else holds it: left there, the next client of the question would
/// join a walk nobody runs, its timers counted from when that one started (an instant
/// client timeout). A holder left waiting takes the walk over (the cell runs its
/// initialiser again).
pub(super) struct Hold<R: Deref<Target = Resolver>> {
    pub(super) resolver: R,
    pub(super) key: Key,
    pub(super) cell: Shared,
    /// A client's (counted in [`InFlight::clients`] too), not a refresh task's.
    pub(super) client: bool,
}

impl<R: Deref<Target = Resolver>> Drop for Hold<R> {
    fn drop(&mut self) {
        let mut map = self
            .resolver
            .inflight
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let Some(walk) = map
            .get_mut(&self.key)
            .filter(|walk| Arc::ptr_eq(&walk.shared, &self.cell))
        else {
            // Finished and taken out already (another may have started since).
            return;
        };
        walk.holders = walk.holders.saturating_sub(1);
        if walk.holders == 0 || self.cell.initialized() {
            map.remove(&self.key);
            return;
        }
        if self.client {
            walk.clients = walk.clients.saturating_sub(1);
            // Left to its refresh task: no client waits for it now.
            if walk.clients == 0 {
                walk.priority.demote();
            }
        }
    }
}

impl Resolver {
    /// When the walk in flight for `key` started, if there is one.
    pub(super) fn walk_started(&self, key: &Key) -> Option<Instant> {
        let map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key).map(|walk| walk.started)
    }

    /// One walk per question in flight; `now` is when the client that starts it asked.
    /// `key`: the question's; `missed`: what its read of the cache missed.
    pub(super) async fn resolve_shared(
        &self,
        qname: &Name,
        qtype: RecordType,
        key: Key,
        now: Instant,
        missed: Missed,
    ) -> Result<Resolution, ResolveError> {
        let (cell, joined_refresh) = {
            let mut map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            let walk = map.entry(key.clone()).or_insert_with(|| InFlight {
                shared: Shared::default(),
                started: now,
                priority: Priority::default(),
                holders: 0,
                clients: 0,
            });
            let joined_refresh = walk.priority.is_background();
            // A client waits for it now: its tries no longer yield to other clients'.
            walk.priority.promote();
            walk.holders += 1;
            walk.clients += 1;
            (Arc::clone(&walk.shared), joined_refresh)
        };
        if joined_refresh {
            Metrics::inc(&self.metrics.cache_misses);
        }
        let hold = Hold {
            resolver: self,
            key,
            cell,
            client: true,
        };
        hold.cell
            .get_or_init(|| self.resolve_fresh(qname, qtype, now, missed))
            .await
            .clone()
    }

    /// A client's walk for (`qname`, `qtype`): `missed`, the links its caller has just missed
    /// in the cache, are walked for at once.
    pub(super) async fn resolve_fresh(
        &self,
        qname: &Name,
        qtype: RecordType,
        now: Instant,
        missed: Missed,
    ) -> Result<Resolution, ResolveError> {
        let (result, budget) = self
            .walk(qname, qtype, missed, now, Priority::default())
            .await;
        if budget.upstream_queries() == 0 {
            Metrics::inc(&self.metrics.cache_hits);
        } else {
            Metrics::inc(&self.metrics.cache_misses);
        }
        match result {
            Ok(r) => Ok(r),
            Err(e) => {
                // RFC 9520: remember the failure briefly, once per walk (not when the walk
                // reached a `no_cache` forward zone, whose every question goes to its servers:
                // an alias into one included).
                if !self.caches(qname) || budget.reached_no_cache {
                    return Err(e);
                }
                self.failures.insert(
                    Key::new(qname, qtype),
                    Data::Failure {
                        reason: e.to_string(),
                    },
                    self.failure_ttl,
                    Rank::Authoritative,
                    budget.now,
                );
                Err(e)
            }
        }
    }

    /// A walk for (`qname`, `qtype`) from `now`, `missed` links taken past the cache, at
    /// `priority`: the answer, with the upstream queries it cost, and the budget it spent.
    pub(super) async fn walk(
        &self,
        qname: &Name,
        qtype: RecordType,
        missed: Missed,
        now: Instant,
        priority: Priority,
    ) -> (Result<Resolution, ResolveError>, Budget) {
        let mut budget = Budget::new(self.limits, now);
        budget.priority = priority;
        let reading = Reading {
            stale: false,
            missed,
            validate: true,
        };
        let result = self
            .read_chain(
                qname,
                qtype,
                reading,
                &mut Some(&mut budget),
                now,
                &mut Seen::default(),
            )
            .await
            .and_then(|r| r.ok_or(ResolveError::Internal))
            .map(|mut r| {
                r.upstream_queries = budget.upstream_queries();
                r
            });
        (result, budget)
    }
}

//! One walk per question in flight: identical questions share it, a client's and a
//! prefetch's alike (`prefetch`), and each walk's outcome is counted and its failure
//! remembered once.

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
    /// Started by a prefetch, and no client has joined it yet: the first to join waits for
    /// upstream, a miss, which the prefetch did not count.
    pub(super) refresh: bool,
    /// The walk's place in its servers' lines: background until a client joins it.
    pub(super) priority: Priority,
}

/// A client's hold on a walk in flight: see [`Resolver::resolve_shared`].
struct Leave<'a> {
    resolver: &'a Resolver,
    key: &'a Key,
    cell: &'a Shared,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.resolver.leave_walk(self.key, self.cell, false);
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
                refresh: false,
                priority: Priority::default(),
            });
            // A client waits for it now: its tries no longer yield to other clients'.
            walk.priority.promote();
            (Arc::clone(&walk.shared), std::mem::take(&mut walk.refresh))
        };
        if joined_refresh {
            Metrics::inc(&self.metrics.cache_misses);
        }
        // Out of the map when done, or when this future is dropped first (its client went
        // away: a stream closed, a DoH request cancelled) and nobody else waits for the walk;
        // left there, the next client of the question would join a walk nobody runs, with
        // timers counted from when that one started.
        let _leave = Leave {
            resolver: self,
            key: &key,
            cell: &cell,
        };
        cell.get_or_init(|| self.resolve_fresh(qname, qtype, now, missed))
            .await
            .clone()
    }

    /// Takes a finished walk out of the map: the next question for `key` starts another.
    pub(super) fn walk_done(&self, key: &Key, cell: &Shared) {
        self.leave_walk(key, cell, true);
    }

    /// Takes the walk `cell` out of the map, if it is still `key`'s there and it finished,
    /// or (`finished` false) nobody but the map and the caller holds it: a joiner left
    /// waiting takes the walk over (the cell runs its initialiser again) and leaves it when
    /// done.
    fn leave_walk(&self, key: &Key, cell: &Shared, finished: bool) {
        let mut map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        let ours = map
            .get(key)
            .is_some_and(|walk| Arc::ptr_eq(&walk.shared, cell));
        if ours && (finished || cell.initialized() || Arc::strong_count(cell) <= 2) {
            map.remove(key);
        }
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

//! Prefetch (Unbound's `prefetch: yes`, Knot Resolver's predict): the first hit on an answer
//! in the last part of its TTL (`[cache] prefetch_window_percent`) starts one refresh of the
//! question in the background, so a name asked steadily never expires for its clients. The
//! client is answered from the cache as before; the refresh is a walk like a client's, in the
//! same map of walks in flight, so a client whose entry runs out meanwhile joins it, and a
//! refresh already in flight (or a client's walk) is joined rather than doubled.
//!
//! Low priority: a refresh nobody waits for is dropped, never queued, when the resolver is
//! busy. The signal is the resolver's own count of walks in flight (its outstanding misses,
//! refreshes among them) against `[cache] prefetch_busy_walks`: it is read under the lock the
//! coalescing takes anyway, it rises with every kind of overload (a flood of new names, slow
//! or silent servers holding walks open), and it needs no guess at which servers a refresh
//! would ask. A server's congestion window would say more about one server, but which servers
//! a walk asks is known only once it runs. A refresh that started waits at a full server in a
//! line of its own (`window::Priority`), served only when no client's try waits there, so it
//! never takes a slot ahead of a client's miss; a client that joins it promotes it.
//!
//! Not counted as a hit or a miss: `tern_cache_misses_total` counts the questions a client
//! waited for (a refresh a client joins is one); `tern_prefetches_total` the refreshes
//! started, and
//! `tern_prefetches_skipped_total` those dropped because the resolver was busy.

use std::sync::Arc;

use hickory_proto::rr::{Name, RecordType};
use tokio::time::Instant;
use tracing::Instrument;

use super::shared::{Hold, InFlight};
use super::window::Priority;
use super::{Missed, Resolution, ResolveError, Resolver, Shared};
use crate::cache::Key;
use crate::metrics::Metrics;

/// What a request for a refresh did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prefetch {
    Started,
    /// A walk for the question was in flight (it refreshes the entry), or the entry's
    /// refresh was claimed before.
    Joined,
    /// Dropped: the resolver is busy (or there is no runtime to run it on).
    Busy,
}

impl InFlight {
    /// A new walk for `key`, started at `now`, entered in `map` with one holder (the task
    /// that will run it: see [`Resolver::run_behind`]); `refresh`: a prefetch's, a background
    /// walk ([`InFlight::priority`]; the [`Priority`] returned, for its budget).
    fn enter<S: std::hash::BuildHasher>(
        map: &mut std::collections::HashMap<Key, InFlight, S>,
        key: &Key,
        now: Instant,
        refresh: bool,
    ) -> (Shared, Priority) {
        let cell = Shared::default();
        let priority = if refresh {
            Priority::background()
        } else {
            Priority::default()
        };
        let walk = InFlight {
            shared: Arc::clone(&cell),
            started: now,
            priority: priority.clone(),
            holders: 1,
            clients: 0,
        };
        map.insert(key.clone(), walk);
        (cell, priority)
    }
}

/// Which refresh runs behind an answer already given.
enum Behind {
    /// A hit in its prefetch window; the message tier's key of the answer hit, if any, and
    /// the walk's place in line.
    Prefetch(Option<Box<[u8]>>, Priority),
    /// Expired data answered at once (serve-expired): a client's walk, failure remembered.
    Expired,
}

impl Resolver {
    /// Starts one refresh of (`qname`, `qtype`), asked at `now` by a hit in its window,
    /// unless a walk for it is in flight or the resolver is busy. `answer`: the message
    /// tier's key of the answer that was hit (whose refresh the tier claimed), forgotten once
    /// the refresh has stored newer data (the next client's answer is made from that and kept
    /// again); `None`: a hit on the RRsets, whose entry's refresh is claimed here. A busy
    /// resolver claims nothing, and gives the message tier's claim back, so a later hit may
    /// try again.
    pub(crate) fn prefetch(
        self: &Arc<Self>,
        qname: &Name,
        qtype: RecordType,
        now: Instant,
        answer: Option<Box<[u8]>>,
    ) -> Prefetch {
        let tier_claimed = answer.is_some();
        let claim = || tier_claimed || self.cache.claim_prefetch(qname, qtype, now);
        self.start_refresh(qname, qtype, now, claim, answer)
    }

    /// [`Resolver::prefetch`] for a remembered failure (RFC 9520) hit in its window, its
    /// refresh claimed in the failures' cache. An answer that comes back replaces the
    /// failure, even one with TTL 0 that is not kept: the next client walks rather than
    /// getting the old SERVFAIL (Unbound's `fwd_0ttlservfail`).
    pub(super) fn prefetch_failure(
        self: &Arc<Self>,
        qname: &Name,
        qtype: RecordType,
        now: Instant,
    ) -> Prefetch {
        let claim = || self.failures.claim_prefetch(qname, qtype, now);
        self.start_refresh(qname, qtype, now, claim, None)
    }

    /// The refresh of [`Resolver::prefetch`], `claim` taking the hit entry's refresh (false:
    /// it was claimed before).
    fn start_refresh(
        self: &Arc<Self>,
        qname: &Name,
        qtype: RecordType,
        now: Instant,
        claim: impl FnOnce() -> bool,
        answer: Option<Box<[u8]>>,
    ) -> Prefetch {
        // Spawned onto the runtime the hit was answered on; none (a caller outside one) is
        // no place to run it.
        let unclaim = |answer: &Option<Box<[u8]>>| {
            if let Some(answer) = answer {
                self.cache.messages().unclaim_prefetch(answer);
            }
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            unclaim(&answer);
            return Prefetch::Busy;
        };
        let key = Key::new(qname, qtype);
        let (cell, priority) = {
            let mut map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            if map.contains_key(&key) {
                return Prefetch::Joined;
            }
            if map.len() >= self.prefetch_busy_walks {
                drop(map);
                unclaim(&answer);
                Metrics::inc(&self.metrics.prefetches_skipped);
                tracing::debug!(%qname, %qtype, "prefetch dropped: resolver busy");
                return Prefetch::Busy;
            }
            if !claim() {
                return Prefetch::Joined;
            }
            InFlight::enter(&mut map, &key, now, true)
        };
        Metrics::inc(&self.metrics.prefetches);
        let span = tracing::debug_span!("prefetch", %qname, %qtype);
        self.run_behind(
            runtime,
            key,
            cell,
            span,
            qname,
            qtype,
            now,
            Behind::Prefetch(answer, priority),
        );
        Prefetch::Started
    }

    /// Unbound's serve-expired with a zero client timeout: the client has been answered from
    /// expired data (or an expired failure), and one walk for (`qname`, `qtype`) refreshes it
    /// behind, remembering a failure as a client's walk does. A walk in flight for the question
    /// is that refresh already.
    pub(super) fn refresh_behind(self: &Arc<Self>, qname: &Name, qtype: RecordType, now: Instant) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let key = Key::new(qname, qtype);
        let cell = {
            let mut map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            if map.contains_key(&key) {
                return;
            }
            InFlight::enter(&mut map, &key, now, false).0
        };
        let span = tracing::debug_span!("serve-expired refresh", %qname, %qtype);
        self.run_behind(runtime, key, cell, span, qname, qtype, now, Behind::Expired);
    }

    /// Runs the walk in flight `cell` (entered in the map under `key`) in a task of its own,
    /// which holds it: out of the map when done, or when the task is dropped first, run or
    /// not (its runtime shut down, as a UDP listener's does).
    #[allow(clippy::too_many_arguments)]
    fn run_behind(
        self: &Arc<Self>,
        runtime: tokio::runtime::Handle,
        key: Key,
        cell: Shared,
        span: tracing::Span,
        qname: &Name,
        qtype: RecordType,
        now: Instant,
        behind: Behind,
    ) {
        let this = Arc::clone(self);
        let qname = qname.clone();
        let hold = Hold {
            resolver: Arc::clone(self),
            key,
            cell,
            client: false,
        };
        runtime.spawn(
            async move {
                let refreshed = hold
                    .cell
                    .get_or_init(|| async {
                        match &behind {
                            Behind::Prefetch(_, priority) => {
                                this.refresh(&qname, qtype, now, priority.clone()).await
                            }
                            Behind::Expired => {
                                // Any link may be the one that expired.
                                this.resolve_fresh(&qname, qtype, now, Missed::Nothing)
                                    .await
                            }
                        }
                    })
                    .await
                    .is_ok();
                let key = hold.key.clone();
                drop(hold);
                if refreshed && let Behind::Prefetch(answer, _) = behind {
                    if let Some(answer) = answer {
                        this.cache.messages().forget_key(&answer);
                    }
                    this.failures.remove(&key);
                }
            }
            .instrument(span),
        );
    }

    /// The refresh: a walk for every link of the chain (each may be near its end), written
    /// to the cache as a client's walk is. Neither a hit nor a miss, and a failure is not
    /// remembered: the entries it was to refresh are still fresh, and a client who asks after
    /// they run out walks again. Its tries wait behind clients' at a full server (`priority`).
    async fn refresh(
        &self,
        qname: &Name,
        qtype: RecordType,
        now: Instant,
        priority: Priority,
    ) -> Result<Resolution, ResolveError> {
        self.walk(qname, qtype, Missed::Every, now, priority)
            .await
            .0
    }
}

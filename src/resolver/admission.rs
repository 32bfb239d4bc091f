//! How many client questions the resolver works on at once (`[limits] max_client_queries`,
//! Unbound's `num-queries-per-thread`), and what happens past that: a new question may push
//! out ("jostle") the oldest one that has run longer than `jostle_timeout_ms`, else it is
//! dropped unanswered. Either way the client hears nothing and asks again later, while the
//! questions already admitted keep the resolver's attention.
//!
//! Only questions that need the full path are counted: the resolver asks for a ticket after
//! the cache had no answer. Clients asking a question already being resolved share its slot
//! (as they share its walk); their number is bounded apart, at 16 per slot, as Unbound bounds
//! the reply addresses it keeps. Half of the slots (rounded up) go to questions that run to
//! completion whatever the load, in the order they came; the rest to questions that may be
//! jostled out, oldest first. Unbound keeps these lists per thread; tern has one resolver for
//! every thread, so the count is for the whole process.
//!
//! A slot is freed when its last client is answered (or gives up): the walk may go on for
//! the cache (after a client timeout), but that no longer holds a slot, as Unbound counts
//! only the states that still owe a client a reply.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::{ResolveError, Resolver, ResolverConfig};
use crate::cache::Key;
use crate::metrics::Metrics;

/// Clients that may share one slot (Unbound's bound on reply addresses).
const CLIENTS_PER_SLOT: usize = 16;

/// Why a client query gets no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Shed {
    /// Every slot was taken by a query that could not be jostled.
    #[error("too many client queries being resolved; dropped")]
    OverLimit,
    /// A newer query took this one's slot.
    #[error("pushed out by a newer query past the client query limit")]
    Jostled,
}

/// The slots, shared by every thread's queries.
pub(crate) struct Admission {
    /// Questions resolved at once; 0: no limit (no ticket is tracked).
    cap: usize,
    jostle_timeout: Duration,
    state: Mutex<State>,
    metrics: Arc<Metrics>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    slots: HashMap<Key, Slot, lru::DefaultHasher>,
    /// Slots that run to completion.
    forever: usize,
    /// Slots that may be jostled out, by admission order (oldest first).
    jostle: BTreeMap<u64, Key>,
    /// Tickets out, over every slot.
    clients: usize,
}

struct Slot {
    id: u64,
    /// When its first client's query arrived: the age a jostle goes by.
    since: Instant,
    clients: usize,
    forever: bool,
    jostled: watch::Sender<bool>,
}

impl Admission {
    pub(crate) fn new(config: &ResolverConfig, metrics: Arc<Metrics>) -> Admission {
        Admission {
            cap: config.max_client_queries,
            jostle_timeout: config.jostle_timeout,
            state: Mutex::new(State::default()),
            metrics,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot for a client's question `key` that arrived at `now`, shared with the clients
    /// already asking it; or, when every slot is taken and the oldest that may be jostled is
    /// not older than the jostle timeout, [`Shed::OverLimit`] (counted).
    pub(crate) fn admit(&self, key: &Key, now: Instant) -> Result<Ticket<'_>, Shed> {
        if self.cap == 0 {
            return Ok(Ticket {
                admission: self,
                held: None,
            });
        }
        let mut state = self.state();
        if state.clients >= self.cap.saturating_mul(CLIENTS_PER_SLOT) {
            return Err(self.over_limit());
        }
        if !state.slots.contains_key(key)
            && state.slots.len() >= self.cap
            && !self.jostle(&mut state, now)
        {
            return Err(self.over_limit());
        }
        state.clients += 1;
        let id = state.next_id;
        let forever = state.forever < self.cap.div_ceil(2);
        let slot = state.slots.entry(key.clone()).or_insert_with(|| Slot {
            id,
            since: now,
            clients: 0,
            forever,
            jostled: watch::Sender::new(false),
        });
        slot.clients += 1;
        let (id, receiver) = (slot.id, slot.jostled.subscribe());
        if slot.clients == 1 {
            state.next_id += 1;
            if forever {
                state.forever += 1;
            } else {
                state.jostle.insert(id, key.clone());
            }
        }
        Ok(Ticket {
            admission: self,
            held: Some(Held {
                key: key.clone(),
                id,
                jostled: receiver,
            }),
        })
    }

    fn over_limit(&self) -> Shed {
        Metrics::inc(&self.metrics.over_limit_queries);
        Metrics::inc(&self.metrics.dropped);
        Shed::OverLimit
    }

    /// Frees the oldest slot that may be jostled, if it is older than the jostle timeout
    /// (its clients are told); whether one was freed.
    fn jostle(&self, state: &mut State, now: Instant) -> bool {
        let Some((_, key)) = state.jostle.first_key_value() else {
            return false;
        };
        let old_enough = state
            .slots
            .get(key)
            .is_some_and(|s| now.saturating_duration_since(s.since) > self.jostle_timeout);
        if !old_enough {
            return false;
        }
        let Some((_, key)) = state.jostle.pop_first() else {
            return false;
        };
        if let Some(slot) = state.slots.remove(&key) {
            state.clients -= slot.clients;
            slot.jostled.send_replace(true);
        }
        true
    }

    /// A ticket's client is done with its slot.
    fn release(&self, held: &Held) {
        let mut state = self.state();
        let Some(slot) = state.slots.get_mut(&held.key).filter(|s| s.id == held.id) else {
            // Jostled out: its clients were taken off the count then.
            return;
        };
        slot.clients -= 1;
        let (empty, forever) = (slot.clients == 0, slot.forever);
        state.clients -= 1;
        if empty {
            state.slots.remove(&held.key);
            if forever {
                state.forever -= 1;
            } else {
                state.jostle.remove(&held.id);
            }
        }
    }
}

/// One client's share of a slot, given back when dropped.
pub(crate) struct Ticket<'a> {
    admission: &'a Admission,
    /// None without a limit.
    held: Option<Held>,
}

struct Held {
    key: Key,
    id: u64,
    jostled: watch::Receiver<bool>,
}

impl Ticket<'_> {
    /// Finishes when a newer query has taken this one's slot (counted), else never.
    pub(crate) async fn jostled(&mut self) -> Shed {
        if let Some(held) = &mut self.held
            && held.jostled.wait_for(|j| *j).await.is_ok()
        {
            let metrics = &self.admission.metrics;
            Metrics::inc(&metrics.jostled_queries);
            Metrics::inc(&metrics.dropped);
            return Shed::Jostled;
        }
        std::future::pending().await
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if let Some(held) = &self.held {
            self.admission.release(held);
        }
    }
}

impl Resolver {
    /// A jostled client's work stops: its `walk` is dropped, and with it the walk itself
    /// when no other client or refresh waits for it, which then leaves no trace in the walks
    /// in flight (`resolve_shared` takes it out: the next client to ask starts afresh, its
    /// timers from its own arrival).
    pub(super) fn abandon<W>(&self, walk: W, shed: Shed) -> ResolveError {
        drop(walk);
        shed.into()
    }
}

#[cfg(test)]
mod tests;

//! RFC 7646 negative trust anchors: names at or below one are insecure whatever their
//! signatures say (a zone known to be broken by its operator). Some come from the config
//! (`[dnssec] negative_trust_anchors`, and every `[[stub]]` zone) and live as long as the
//! process; others are added and removed at runtime (`tern ctl nta`, as Unbound's
//! `insecure_add` / `insecure_remove` / `list_insecure`), and live for a lifetime given
//! with them (RFC 7646 §7, BIND's `rndc nta -lifetime`: 1 hour unless told, a week at most),
//! or until removed, or until restart.
//!
//! A change takes effect from the next query on: the verdicts cached at or below the name
//! (the RRset tier, the hit path's answers, recent failures, the validated keys) are dropped,
//! so what was bogus is fetched and judged anew, as insecure — and after a removal or an
//! expiry, judged again on its signatures. Expiry is a task of its own sleeping until the
//! anchor's end: cache hits never reach the validator, so waiting for a query to notice would
//! keep serving the insecure answers cached under the name. The RRset tier keeps no verdict
//! made by an anchor: each read under one makes it (`read_chain`), whatever is stored, so a
//! cache file neither brings an older verdict in under an anchor nor carries one past it.

mod anchors;
mod lifetime;

use std::sync::Arc;

use hickory_proto::rr::Name;
use tokio::time::Instant;

use super::super::Resolver;
use crate::cache::admin::Flush;
pub(crate) use anchors::{Added, NegativeAnchors, NtaError, Source};
pub(crate) use lifetime::Lifetime;

/// What `tern ctl nta add|remove` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NtaChange {
    /// For an add: new, refreshed, or configured already; `None` for a removal.
    pub(crate) added: Option<Added>,
    /// The cache entries dropped at or below the name.
    pub(crate) flushed: usize,
}

impl Resolver {
    fn negative_anchors(&self) -> Result<&NegativeAnchors, NtaError> {
        self.validator
            .as_ref()
            .map(|v| &v.negative)
            .ok_or(NtaError::NotValidating)
    }

    /// Makes `name` and below insecure from the next query on, for `lifetime` from `now`
    /// (`tern ctl nta add`); a runtime one already gets the new lifetime. Must run inside
    /// the tokio runtime: the expiry is a task. The task holds the resolver weakly, so a
    /// pending one keeps nothing alive.
    pub(crate) fn nta_add(
        self: &Arc<Self>,
        name: &Name,
        lifetime: Lifetime,
        now: Instant,
    ) -> Result<NtaChange, NtaError> {
        let name = name.to_lowercase();
        let expires = now + lifetime.duration();
        let added = self.negative_anchors()?.add(&name, expires, |generation| {
            let resolver = Arc::downgrade(self);
            let name = name.clone();
            let task = tokio::spawn(async move {
                tokio::time::sleep_until(expires).await;
                if let Some(resolver) = resolver.upgrade() {
                    resolver.nta_expire(&name, generation);
                }
            });
            anchors::Timer::new(task.abort_handle())
        });
        Ok(NtaChange {
            added: Some(added),
            flushed: self.forget_verdicts(&name),
        })
    }

    /// Removes a runtime negative trust anchor (`tern ctl nta remove`): `name` is validated
    /// again from the next query on.
    pub(crate) fn nta_remove(&self, name: &Name) -> Result<NtaChange, NtaError> {
        self.negative_anchors()?.remove(name)?;
        Ok(NtaChange {
            added: None,
            flushed: self.forget_verdicts(name),
        })
    }

    /// Ends the runtime anchor `name` armed as `generation`, as a removal would, unless it
    /// was removed or re-added since.
    fn nta_expire(&self, name: &Name, generation: u64) {
        let Ok(negative) = self.negative_anchors() else {
            return;
        };
        if negative.expire(name, generation) {
            let flushed = self.forget_verdicts(name);
            tracing::info!(%name, flushed, "negative trust anchor expired");
        }
    }

    /// The negative trust anchors in force as of `now` (`tern ctl nta list`).
    pub(crate) fn nta_list(&self, now: Instant) -> Result<Vec<(Name, Source)>, NtaError> {
        Ok(self.negative_anchors()?.list(now))
    }

    /// Drops every verdict at or below `name`: the validated keys and the cached data (both
    /// tiers, with recent failures). Returns the cache entries removed.
    fn forget_verdicts(&self, name: &Name) -> usize {
        if let Some(v) = &self.validator {
            v.keys.forget_at_or_below(name);
        }
        self.flush(Flush::Zone(name))
    }
}

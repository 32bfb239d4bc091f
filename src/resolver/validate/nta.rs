//! RFC 7646 negative trust anchors: names at or below one are insecure whatever their
//! signatures say (a zone known to be broken by its operator). Some come from the config
//! (`[dnssec] negative_trust_anchors`, and every `[[stub]]` zone) and live as long as the
//! process; others are added and removed at runtime (`tern ctl nta`, as Unbound's
//! `insecure_add` / `insecure_remove` / `list_insecure`), and are gone at restart.
//!
//! A change takes effect from the next query on: the verdicts cached at or below the name
//! (the RRset tier, the hit path's answers, recent failures, the validated keys) are dropped,
//! so what was bogus is fetched and judged anew, as insecure — and after a removal, judged
//! again on its signatures.

use std::sync::RwLock;

use hickory_proto::rr::Name;

use super::super::Resolver;
use crate::cache::admin::Flush;

/// Where a negative trust anchor comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The config: removed only by editing it and restarting.
    Configured,
    /// `tern ctl nta add`: until removed, or until restart.
    Runtime,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Configured => "configured",
            Source::Runtime => "runtime",
        })
    }
}

/// Why a negative trust anchor could not be changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NtaError {
    #[error(
        "{0} is a configured negative trust anchor ([dnssec] negative_trust_anchors or a \
         [[stub]] zone): remove it from the config and restart, or it comes back at the next start"
    )]
    Configured(Name),
    #[error("{0} is not a negative trust anchor")]
    Unknown(Name),
    #[error("DNSSEC validation is off: there are no trust anchors to make exceptions to")]
    NotValidating,
}

/// The configured negative trust anchors and those added at runtime.
#[derive(Debug, Default)]
pub(crate) struct NegativeAnchors {
    configured: Vec<Name>,
    runtime: RwLock<Vec<Name>>,
}

impl NegativeAnchors {
    pub(crate) fn new(configured: Vec<Name>) -> NegativeAnchors {
        NegativeAnchors {
            configured: configured.iter().map(Name::to_lowercase).collect(),
            runtime: RwLock::default(),
        }
    }

    fn runtime(&self) -> std::sync::RwLockReadGuard<'_, Vec<Name>> {
        // Only whole names are ever pushed or removed: a panic elsewhere leaves it whole.
        self.runtime.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `name` is at or below one of them.
    pub(crate) fn covers(&self, name: &Name) -> bool {
        self.configured.iter().any(|n| n.zone_of(name))
            || self.runtime().iter().any(|n| n.zone_of(name))
    }

    /// Adds `name` at runtime; false when it is one already (configured or runtime).
    pub(crate) fn add(&self, name: &Name) -> bool {
        let name = name.to_lowercase();
        if self.configured.contains(&name) {
            return false;
        }
        let mut runtime = self.runtime.write().unwrap_or_else(|p| p.into_inner());
        if runtime.contains(&name) {
            return false;
        }
        runtime.push(name);
        true
    }

    /// Removes a runtime one; a configured one is refused.
    pub(crate) fn remove(&self, name: &Name) -> Result<(), NtaError> {
        let name = name.to_lowercase();
        let mut runtime = self.runtime.write().unwrap_or_else(|p| p.into_inner());
        if let Some(at) = runtime.iter().position(|n| *n == name) {
            runtime.remove(at);
            return Ok(());
        }
        if self.configured.contains(&name) {
            return Err(NtaError::Configured(name));
        }
        Err(NtaError::Unknown(name))
    }

    /// Every one, configured first, each in the order given.
    pub(crate) fn list(&self) -> Vec<(Name, Source)> {
        let configured = self
            .configured
            .iter()
            .map(|n| (n.clone(), Source::Configured));
        let runtime = self.runtime().clone();
        configured
            .chain(runtime.into_iter().map(|n| (n, Source::Runtime)))
            .collect()
    }
}

/// What `tern ctl nta add|remove` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NtaChange {
    /// False when there was nothing to add (it was one already).
    pub(crate) changed: bool,
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

    /// Makes `name` and below insecure from the next query on (`tern ctl nta add`).
    pub(crate) fn nta_add(&self, name: &Name) -> Result<NtaChange, NtaError> {
        let changed = self.negative_anchors()?.add(name);
        Ok(NtaChange {
            changed,
            flushed: self.forget_verdicts(name),
        })
    }

    /// Removes a runtime negative trust anchor (`tern ctl nta remove`): `name` is validated
    /// again from the next query on.
    pub(crate) fn nta_remove(&self, name: &Name) -> Result<NtaChange, NtaError> {
        self.negative_anchors()?.remove(name)?;
        Ok(NtaChange {
            changed: true,
            flushed: self.forget_verdicts(name),
        })
    }

    /// The negative trust anchors in force (`tern ctl nta list`).
    pub(crate) fn nta_list(&self) -> Result<Vec<(Name, Source)>, NtaError> {
        Ok(self.negative_anchors()?.list())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::name;

    #[test]
    fn configured_and_runtime_anchors_cover_their_subtrees() {
        let ntas = NegativeAnchors::new(vec![name("Broken.Test.")]);
        assert!(ntas.covers(&name("www.broken.test.")));
        assert!(ntas.covers(&name("broken.test.")));
        assert!(!ntas.covers(&name("xbroken.test.")));
        assert!(!ntas.covers(&name("other.test.")));
        assert!(ntas.add(&name("Other.TEST.")));
        assert!(ntas.covers(&name("a.b.other.test.")));
        assert!(!ntas.covers(&name("test.")));
        assert_eq!(
            ntas.list(),
            [
                (name("broken.test."), Source::Configured),
                (name("other.test."), Source::Runtime)
            ]
        );
    }

    #[test]
    fn adding_twice_or_a_configured_one_changes_nothing() {
        let ntas = NegativeAnchors::new(vec![name("broken.test.")]);
        assert!(!ntas.add(&name("BROKEN.test.")), "configured already");
        assert!(ntas.add(&name("other.test.")));
        assert!(!ntas.add(&name("other.test.")), "runtime already");
        assert_eq!(ntas.list().len(), 2);
    }

    #[test]
    fn only_runtime_anchors_are_removed() {
        let ntas = NegativeAnchors::new(vec![name("broken.test.")]);
        ntas.add(&name("other.test."));
        assert_eq!(ntas.remove(&name("Other.test.")), Ok(()));
        assert!(!ntas.covers(&name("www.other.test.")));
        let refused = ntas.remove(&name("broken.test.")).expect_err("configured");
        assert_eq!(refused, NtaError::Configured(name("broken.test.")));
        assert!(
            refused.to_string().contains("remove it from the config"),
            "{refused}"
        );
        assert!(ntas.covers(&name("www.broken.test.")), "still in force");
        assert_eq!(
            ntas.remove(&name("other.test.")),
            Err(NtaError::Unknown(name("other.test.")))
        );
    }
}

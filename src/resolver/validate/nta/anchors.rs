//! The negative trust anchors in force: the configured ones, which live as long as the process
//! (the operator wrote them down; a restart brings them back, so expiring them would only make
//! the exception come and go), and the runtime ones, each with its expiry and the timer that
//! ends it. A generation number tells a runtime anchor's timer whether the anchor it was armed
//! for is still the one in force: a removal, or a re-add that refreshes the lifetime, makes an
//! earlier timer harmless even if it already woke up.

use std::sync::RwLock;
use std::time::Duration;

use hickory_proto::rr::Name;
use tokio::task::AbortHandle;
use tokio::time::Instant;

/// Where a negative trust anchor comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The config: removed only by editing it and restarting; never expires.
    Configured,
    /// `tern ctl nta add`: until removed, expired, or restart.
    Runtime {
        /// The time left before it expires.
        left: Duration,
    },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Configured => f.write_str("configured"),
            // Rounded up: a fresh `1h` one shows 3600s, and 0s only once it is gone.
            Source::Runtime { left } => {
                let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                write!(f, "runtime {secs}s left")
            }
        }
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

/// The task that expires one runtime anchor; dropping it (the anchor removed or refreshed)
/// cancels the task.
#[derive(Debug)]
pub(crate) struct Timer(Option<AbortHandle>);

impl Timer {
    pub(crate) fn new(task: AbortHandle) -> Timer {
        Timer(Some(task))
    }

    /// No task (tests of the set alone).
    #[cfg(test)]
    pub(crate) fn none() -> Timer {
        Timer(None)
    }

    /// Drops it without cancelling: the task is the caller, ending the anchor itself.
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

#[derive(Debug)]
struct Runtime {
    name: Name,
    expires: Instant,
    generation: u64,
    timer: Timer,
}

#[derive(Debug, Default)]
struct RuntimeSet {
    anchors: Vec<Runtime>,
    /// The last generation given out.
    generation: u64,
}

/// What an add did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Added {
    New,
    /// A runtime one already: its lifetime starts again.
    Refreshed,
    /// A configured one already: it has no lifetime to change.
    Configured,
}

/// The configured negative trust anchors and those added at runtime.
#[derive(Debug, Default)]
pub(crate) struct NegativeAnchors {
    configured: Vec<Name>,
    runtime: RwLock<RuntimeSet>,
}

impl NegativeAnchors {
    pub(crate) fn new(configured: Vec<Name>) -> NegativeAnchors {
        NegativeAnchors {
            configured: configured.iter().map(Name::to_lowercase).collect(),
            runtime: RwLock::default(),
        }
    }

    // Only whole entries are ever pushed, changed or removed: a panic elsewhere leaves the
    // set whole, so a poisoned lock is still good to use.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, RuntimeSet> {
        self.runtime.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, RuntimeSet> {
        self.runtime.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `name` is at or below one of them.
    pub(crate) fn covers(&self, name: &Name) -> bool {
        self.configured.iter().any(|n| n.zone_of(name))
            || self.read().anchors.iter().any(|a| a.name.zone_of(name))
    }

    /// Adds `name` at runtime until `expires`, or moves an existing runtime one's expiry
    /// there; `arm` starts the timer for the generation given (under the lock, so that no
    /// other add or remove comes between).
    pub(crate) fn add(
        &self,
        name: &Name,
        expires: Instant,
        arm: impl FnOnce(u64) -> Timer,
    ) -> Added {
        let name = name.to_lowercase();
        if self.configured.contains(&name) {
            return Added::Configured;
        }
        let mut set = self.write();
        set.generation += 1;
        let generation = set.generation;
        let timer = arm(generation);
        if let Some(a) = set.anchors.iter_mut().find(|a| a.name == name) {
            // The old timer is dropped here, which cancels it.
            a.expires = expires;
            a.generation = generation;
            a.timer = timer;
            return Added::Refreshed;
        }
        set.anchors.push(Runtime {
            name,
            expires,
            generation,
            timer,
        });
        Added::New
    }

    /// Removes a runtime one (its timer cancelled); a configured one is refused.
    pub(crate) fn remove(&self, name: &Name) -> Result<(), NtaError> {
        let name = name.to_lowercase();
        let mut set = self.write();
        if let Some(at) = set.anchors.iter().position(|a| a.name == name) {
            set.anchors.remove(at);
            return Ok(());
        }
        if self.configured.contains(&name) {
            return Err(NtaError::Configured(name));
        }
        Err(NtaError::Unknown(name))
    }

    /// Ends the runtime one `name` if it is still the one of `generation` (its timer calls
    /// this); false when it was removed or re-added since.
    pub(crate) fn expire(&self, name: &Name, generation: u64) -> bool {
        let mut set = self.write();
        let Some(at) = set
            .anchors
            .iter()
            .position(|a| a.name == *name && a.generation == generation)
        else {
            return false;
        };
        set.anchors.remove(at).timer.disarm();
        true
    }

    /// Every one as of `now`, configured first, each in the order added.
    pub(crate) fn list(&self, now: Instant) -> Vec<(Name, Source)> {
        let configured = self
            .configured
            .iter()
            .map(|n| (n.clone(), Source::Configured));
        let set = self.read();
        let runtime = set.anchors.iter().map(|a| {
            let left = a.expires.saturating_duration_since(now);
            (a.name.clone(), Source::Runtime { left })
        });
        configured.chain(runtime).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::name;

    const HOUR: Duration = Duration::from_secs(3600);

    fn runtime(secs: u64) -> Source {
        Source::Runtime {
            left: Duration::from_secs(secs),
        }
    }

    /// Adds without a timer; the generation it was given.
    fn add(ntas: &NegativeAnchors, n: &str, expires: Instant) -> (Added, u64) {
        let mut given = 0;
        let added = ntas.add(&name(n), expires, |g| {
            given = g;
            Timer::none()
        });
        (added, given)
    }

    #[test]
    fn configured_and_runtime_anchors_cover_their_subtrees() {
        let now = Instant::now();
        let ntas = NegativeAnchors::new(vec![name("Broken.Test.")]);
        assert!(ntas.covers(&name("www.broken.test.")));
        assert!(ntas.covers(&name("broken.test.")));
        assert!(!ntas.covers(&name("xbroken.test.")));
        assert!(!ntas.covers(&name("other.test.")));
        assert_eq!(add(&ntas, "Other.TEST.", now + HOUR).0, Added::New);
        assert!(ntas.covers(&name("a.b.other.test.")));
        assert!(!ntas.covers(&name("test.")));
        assert_eq!(
            ntas.list(now),
            [
                (name("broken.test."), Source::Configured),
                (name("other.test."), runtime(3600))
            ]
        );
    }

    #[test]
    fn adding_twice_refreshes_and_a_configured_one_has_no_lifetime() {
        let now = Instant::now();
        let ntas = NegativeAnchors::new(vec![name("broken.test.")]);
        let (added, _) = add(&ntas, "BROKEN.test.", now + HOUR);
        assert_eq!(added, Added::Configured);
        let (added, first) = add(&ntas, "other.test.", now + HOUR);
        assert_eq!(added, Added::New);
        let (added, second) = add(&ntas, "other.test.", now + 2 * HOUR);
        assert_eq!(added, Added::Refreshed);
        assert!(second > first);
        assert_eq!(
            ntas.list(now + HOUR / 2),
            [
                (name("broken.test."), Source::Configured),
                (name("other.test."), runtime(5400))
            ]
        );
        // The first timer wakes: the anchor is no longer the one it was armed for.
        assert!(!ntas.expire(&name("other.test."), first));
        assert!(ntas.covers(&name("www.other.test.")));
        assert!(ntas.expire(&name("other.test."), second));
        assert!(!ntas.covers(&name("www.other.test.")));
        assert_eq!(ntas.list(now).len(), 1);
    }

    #[test]
    fn a_timer_armed_before_a_removal_is_harmless() {
        let now = Instant::now();
        let ntas = NegativeAnchors::new(Vec::new());
        let (_, before) = add(&ntas, "other.test.", now + HOUR);
        assert_eq!(ntas.remove(&name("other.test.")), Ok(()));
        assert!(!ntas.expire(&name("other.test."), before), "already gone");
        let (added, after) = add(&ntas, "other.test.", now + HOUR);
        assert_eq!(added, Added::New);
        assert!(
            !ntas.expire(&name("other.test."), before),
            "added again since"
        );
        assert!(ntas.covers(&name("other.test.")));
        assert!(ntas.expire(&name("other.test."), after));
    }

    #[test]
    fn only_runtime_anchors_are_removed() {
        let ntas = NegativeAnchors::new(vec![name("broken.test.")]);
        add(&ntas, "other.test.", Instant::now() + HOUR);
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

    #[test]
    fn time_left_is_shown_in_whole_seconds_rounded_up() {
        assert_eq!(Source::Configured.to_string(), "configured");
        assert_eq!(runtime(3600).to_string(), "runtime 3600s left");
        let left = Duration::from_millis(2_001);
        assert_eq!(Source::Runtime { left }.to_string(), "runtime 3s left");
    }

    #[tokio::test(start_paused = true)]
    async fn removing_or_refreshing_cancels_the_timer() {
        let ntas = NegativeAnchors::new(Vec::new());
        let spawn = |_| Timer::new(tokio::spawn(std::future::pending::<()>()).abort_handle());
        let mut tasks = Vec::new();
        ntas.add(&name("a.test."), Instant::now() + HOUR, |g| {
            let t = spawn(g);
            tasks.push(t.0.clone().expect("armed"));
            t
        });
        ntas.add(&name("a.test."), Instant::now() + HOUR, |g| {
            let t = spawn(g);
            tasks.push(t.0.clone().expect("armed"));
            t
        });
        tokio::task::yield_now().await;
        assert!(tasks[0].is_finished(), "the refreshed one's old timer");
        assert!(!tasks[1].is_finished());
        ntas.remove(&name("a.test.")).expect("runtime");
        tokio::task::yield_now().await;
        assert!(tasks[1].is_finished(), "the removed one's timer");
    }
}

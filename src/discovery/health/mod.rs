//! Health checks of service instances. This module owns every instance's health: the shared
//! [`HealthTable`] (keyed by an id the caller chooses), the probes (TCP connect, HTTP status
//! line) and [`run_checks`], the loop that turns probe results into healthy or unhealthy with
//! rise/fall hysteresis. It knows nothing of zones: a publisher reads the table and rebuilds its
//! records when [`HealthTable::subscribe`] says membership changed.
//!
//! A probe ends within `timeout ≤ interval`, so an instance that starts failing leaves the
//! answers within `interval × fall` of its first failed probe, and it comes back after `rise`
//! consecutive passes.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::limits::Limit;

mod probe;

pub use probe::{Check, HttpCheck};
pub(crate) use probe::{ProbeError, Prober};

/// Time between two probes of one instance, in ms. With the default fall of 2 a dead instance
/// leaves the answers within 2 s. HAProxy's `inter` is 2 s, Kubernetes' `periodSeconds` 10 s,
/// Consul has no default (10 s in its examples); a test cluster on loopback affords one
/// connection per instance per second. Faster probes cost more than they tell; past an hour it
/// is no longer a health check.
pub(crate) const HEALTH_INTERVAL_MS: Limit<u64> =
    Limit::new("health_interval_ms", 1000, 100..=3_600_000);

/// How long one probe may take, in ms; longer is a failure. It may not exceed the interval, so
/// probes never overlap and the `interval × fall` bound holds (HAProxy's `timeout check`
/// defaults to `inter`; Kubernetes' `timeoutSeconds` is 1 s). A lost SYN is sent again only
/// after 1 s (RFC 6298 §2.1's initial RTO), so one lost packet fails one probe, which the
/// default fall absorbs.
pub(crate) const HEALTH_TIMEOUT_MS: Limit<u64> = Limit::new("health_timeout_ms", 500, 10..=60_000);

/// Consecutive passes that bring an unhealthy instance back (HAProxy `rise` 2; Kubernetes'
/// `successThreshold` 1): one lucky pass does not return a flapping instance to the answers.
pub(crate) const HEALTH_RISE: Limit<u32> = Limit::new("health_rise", 2, 1..=10);

/// Consecutive failures that take a healthy instance out (HAProxy `fall` 3, Kubernetes'
/// `failureThreshold` 3, Consul 1). Two tolerate one lost packet and still detect a dead
/// instance in 2 s at the default interval. Past 10, lengthen the interval instead.
pub(crate) const HEALTH_FALL: Limit<u32> = Limit::new("health_fall", 2, 1..=10);

/// RFC 6298 §2.3: each RTT sample moves the smoothed RTT 1/8 of the way (alpha = 1/8).
const SRTT_GAIN_DIVISOR: u32 = 8;

/// How and how often one instance is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSpec<P = Check> {
    /// What to probe: a [`Check`], or any other [`Prober`] (the tests use a scripted one).
    pub check: P,
    pub interval: Duration,
    pub timeout: Duration,
    pub rise: u32,
    pub fall: u32,
}

/// Why a [`CheckSpec`] cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SpecError {
    #[error("{0}")]
    OutOfRange(String),
    #[error("health check timeout {timeout:?} exceeds its interval {interval:?}")]
    TimeoutExceedsInterval {
        timeout: Duration,
        interval: Duration,
    },
}

impl<P> CheckSpec<P> {
    /// `check` with every other knob at its default.
    pub(crate) fn new(check: P) -> Self {
        CheckSpec {
            check,
            interval: Duration::from_millis(HEALTH_INTERVAL_MS.default),
            timeout: Duration::from_millis(HEALTH_TIMEOUT_MS.default),
            rise: HEALTH_RISE.default,
            fall: HEALTH_FALL.default,
        }
    }

    /// Every knob within its bounds, and the timeout no longer than the interval.
    pub(crate) fn validate(&self) -> Result<(), SpecError> {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        HEALTH_INTERVAL_MS
            .check(Some(ms(self.interval)))
            .and(HEALTH_TIMEOUT_MS.check(Some(ms(self.timeout))))
            .and(HEALTH_RISE.check(Some(self.rise)))
            .and(HEALTH_FALL.check(Some(self.fall)))
            .map_err(SpecError::OutOfRange)?;
        if self.timeout > self.interval {
            return Err(SpecError::TimeoutExceedsInterval {
                timeout: self.timeout,
                interval: self.interval,
            });
        }
        Ok(())
    }
}

/// The state of one instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Health {
    /// In the answers or not. New instances start healthy, so a freshly started cluster
    /// answers at once; a dead instance leaves after `fall` failed probes.
    pub healthy: bool,
    /// Smoothed round trip of the passing probes (RFC 6298 SRTT, gain 1/8); failures leave it
    /// as it was. `None` until a probe passes.
    pub(crate) rtt: Option<Duration>,
    /// The latest failure's reason, kept after recovery to tell why the instance last failed.
    pub last_error: Option<String>,
    /// Healthy↔unhealthy transitions since the instance entered the table.
    pub changes: u64,
}

#[derive(Debug)]
struct Entry {
    health: Health,
    /// Consecutive passes and failures: each resets the other.
    passes: u32,
    failures: u32,
}

impl Entry {
    fn new() -> Self {
        Entry {
            health: Health {
                healthy: true,
                rtt: None,
                last_error: None,
                changes: 0,
            },
            passes: 0,
            failures: 0,
        }
    }

    fn flip(&mut self, healthy: bool) -> Health {
        self.health.healthy = healthy;
        self.health.changes += 1;
        self.health.clone()
    }
}

/// Every instance's health, keyed by an id chosen by the caller (e.g.
/// `"web.cluster.test./web-1"`). Shared by the checkers, which write, and the publisher and
/// the embedded API, which read.
#[derive(Debug)]
pub(crate) struct HealthTable {
    entries: Mutex<HashMap<String, Entry>>,
    /// Membership generation: bumped on every healthy↔unhealthy change, never on RTT updates,
    /// so the publisher rebuilds DNS data only when answers would change.
    generation: watch::Sender<u64>,
}

impl HealthTable {
    pub(crate) fn new() -> Arc<HealthTable> {
        Arc::new(HealthTable {
            entries: Mutex::new(HashMap::new()),
            generation: watch::Sender::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // A panic elsewhere leaves the map consistent: every update is a few field writes.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn get(&self, id: &str) -> Option<Health> {
        self.lock().get(id).map(|e| e.health.clone())
    }

    /// Whether `id` belongs in the answers. An id not in the table does: instances without a
    /// check are always in, and new ones start healthy.
    pub(crate) fn is_healthy(&self, id: &str) -> bool {
        self.lock().get(id).is_none_or(|e| e.health.healthy)
    }

    /// Marks an instance as an operator would (HAProxy's `set server … health up|down`),
    /// adding it if unknown. Its checks go on from there: a forced-down instance that passes
    /// comes back after `rise` passes, a forced-up one that fails leaves after `fall` failures.
    pub(crate) fn set_healthy(&self, id: &str, healthy: bool) {
        let changed = {
            let mut entries = self.lock();
            let e = entries.entry(id.to_owned()).or_insert_with(Entry::new);
            e.passes = 0;
            e.failures = 0;
            (e.health.healthy != healthy).then(|| e.flip(healthy))
        };
        if let Some(health) = changed {
            self.announce(id, &health, "operator");
        }
    }

    /// A receiver of the membership generation, which changes on every healthy↔unhealthy
    /// change (and only then).
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Forgets an instance. Its checker, if still running, no longer writes it back. Removing
    /// an unhealthy instance bumps the generation: unknown ids count as healthy.
    pub(crate) fn remove(&self, id: &str) {
        let removed = self.lock().remove(id);
        if removed.is_some_and(|e| !e.health.healthy) {
            self.bump();
        }
    }

    /// Adds `id` healthy unless present: a restarted checker (say, after a reload) keeps the
    /// state it finds instead of flapping the instance.
    fn register(&self, id: &str) {
        self.lock().entry(id.to_owned()).or_insert_with(Entry::new);
    }

    /// Applies one probe result: `fall` consecutive failures take a healthy instance out,
    /// `rise` consecutive passes bring an unhealthy one back.
    fn record(&self, id: &str, result: Result<Duration, ProbeError>, rise: u32, fall: u32) {
        let changed = {
            let mut entries = self.lock();
            let Some(e) = entries.get_mut(id) else {
                return; // removed: its checker is on its way out
            };
            match result {
                Ok(rtt) => {
                    e.failures = 0;
                    e.passes = e.passes.saturating_add(1);
                    e.health.rtt = Some(e.health.rtt.map_or(rtt, |srtt| smooth(srtt, rtt)));
                    (!e.health.healthy && e.passes >= rise).then(|| e.flip(true))
                }
                Err(err) => {
                    e.passes = 0;
                    e.failures = e.failures.saturating_add(1);
                    e.health.last_error = Some(err.to_string());
                    (e.health.healthy && e.failures >= fall).then(|| e.flip(false))
                }
            }
        };
        if let Some(health) = changed {
            self.announce(id, &health, "checks");
        }
    }

    fn bump(&self) {
        // send_modify, not send: it updates the value even while nobody is subscribed.
        self.generation.send_modify(|g| *g = g.wrapping_add(1));
    }

    fn announce(&self, id: &str, health: &Health, by: &'static str) {
        self.bump();
        let last_error = health.last_error.as_deref().unwrap_or("none");
        if health.healthy {
            tracing::info!(instance = id, by, last_error, rtt = ?health.rtt, "instance healthy");
        } else {
            tracing::warn!(instance = id, by, last_error, "instance unhealthy");
        }
    }
}

/// RFC 6298 §2.3: `SRTT ← (1 − 1/8)·SRTT + 1/8·R`, written so that it cannot overflow.
fn smooth(srtt: Duration, sample: Duration) -> Duration {
    srtt - srtt / SRTT_GAIN_DIVISOR + sample / SRTT_GAIN_DIVISOR
}

/// Checks one instance until `shutdown` resolves: a probe every `interval` (the first at once),
/// each given `timeout`, the results applied to `table` under `id`. The instance enters the
/// table healthy unless already there; it stays there after shutdown (the caller removes it),
/// so restarting the checks does not flap it. Fails only on a spec out of bounds, before
/// touching the table.
pub(crate) async fn run_checks<P: Prober>(
    table: Arc<HealthTable>,
    id: String,
    spec: CheckSpec<P>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), SpecError> {
    spec.validate()?;
    table.register(&id);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut ticks = tokio::time::interval(spec.interval);
    // A probe ends within its timeout, at most the interval, so ticks are missed only when the
    // runtime stalls; then keep the spacing rather than fire a burst of probes.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => return Ok(()),
            _ = ticks.tick() => {}
        }
        let attempt = tokio::time::timeout(spec.timeout, spec.check.probe(spec.timeout));
        let result = tokio::select! {
            biased;
            () = &mut shutdown => return Ok(()),
            r = attempt => r.unwrap_or(Err(ProbeError::Timeout(spec.timeout))),
        };
        table.record(&id, result, spec.rise, spec.fall);
    }
}

#[cfg(test)]
mod probe_tests;
#[cfg(test)]
mod tests;

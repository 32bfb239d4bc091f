//! Reconnecting after a failed connection (one not made, or ended by the server before it
//! answered anything): not before a wait that doubles with each failure in a row (1 s up to
//! 60 s), and reset by a connection that answers. Meanwhile the failure itself is the answer,
//! so the resolver fails over at once.

use std::time::Duration;

use tokio::time::Instant;

use super::conn::ConnError;

const FIRST: Duration = Duration::from_secs(1);
const MAX: Duration = Duration::from_secs(60);

/// One server's failures in a row and when it may be tried again.
#[derive(Debug, Default)]
pub(super) struct Backoff {
    failures: u32,
    /// Until when, and why: the last failure.
    until: Option<(Instant, ConnError)>,
}

impl Backoff {
    /// `Ok` when a connection may be tried now; else the failure that is still in force.
    pub(super) fn check(&self, now: Instant) -> Result<(), ConnError> {
        match &self.until {
            Some((until, why)) if now < *until => Err(why.clone()),
            _ => Ok(()),
        }
    }

    /// A connection attempt failed at `now`: how long until the next may be made.
    pub(super) fn failed(&mut self, why: ConnError, now: Instant) -> Duration {
        let wait = FIRST.saturating_mul(1 << self.failures.min(6)).min(MAX);
        self.failures = self.failures.saturating_add(1);
        self.until = Some((now + wait, why));
        wait
    }

    /// A connection answered: the next failure starts again from the first wait.
    pub(super) fn succeeded(&mut self) {
        self.failures = 0;
        self.until = None;
    }
}

//! What a secondary zone's refresh task last did, kept where the dashboard can read it: the
//! last check and its outcome, the last transfer, when the next check is due and when the copy
//! expires. The task writes it after each check (a lock held for a few field writes, never
//! across an await); readers take a copy.

use std::net::SocketAddr;
use std::sync::Mutex;

use tokio::time::Instant;

/// One secondary zone's refresh state. Instants are on the task's clock (tokio's), so a
/// reader turns them into ages against the same clock.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ZoneStatus {
    /// When the last check ended.
    pub checked: Option<Instant>,
    /// Why the last check failed; `None` when it succeeded (or none ran yet).
    pub error: Option<String>,
    /// The first of the failures in a row, up to now; `None` after a success.
    pub failing_since: Option<Instant>,
    /// When a primary last confirmed our copy (a check that found it current or transferred).
    pub confirmed: Option<Instant>,
    /// When the last transfer was applied, and its kind (`AXFR`, `IXFR`, …).
    pub transferred: Option<(Instant, &'static str)>,
    /// The serial we hold, as of the last successful check.
    pub serial: Option<u32>,
    /// The primary that answered the last successful check.
    pub primary: Option<SocketAddr>,
    /// When the next check is due (a NOTIFY can bring it forward).
    pub next: Option<Instant>,
    /// When the copy stops being served unless a primary confirms it first (RFC 1035 §3.3.13
    /// EXPIRE after the last confirmation).
    pub expires: Option<Instant>,
    /// EXPIRE passed: the zone answers SERVFAIL.
    pub expired: bool,
}

/// What one check found, as the status keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Our serial is the primary's (or later).
    Current { serial: u32 },
    /// A transfer moved us to `serial`.
    Transferred { serial: u32, kind: &'static str },
}

/// A zone's status behind its lock.
#[derive(Debug, Default)]
pub(crate) struct StatusCell(Mutex<ZoneStatus>);

impl StatusCell {
    pub(crate) fn get(&self) -> ZoneStatus {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ZoneStatus> {
        // A panic while holding it left plain data: still readable.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A check ended at `now`: `primary` answered with `outcome`.
    pub(crate) fn succeeded(&self, now: Instant, primary: SocketAddr, outcome: Outcome) {
        let mut s = self.lock();
        s.checked = Some(now);
        s.error = None;
        s.failing_since = None;
        s.confirmed = Some(now);
        s.primary = Some(primary);
        s.serial = Some(match outcome {
            Outcome::Current { serial } => serial,
            Outcome::Transferred { serial, kind } => {
                s.transferred = Some((now, kind));
                serial
            }
        });
    }

    /// A check ended at `now` with no primary answering usefully.
    pub(crate) fn failed(&self, now: Instant, error: String) {
        let mut s = self.lock();
        s.checked = Some(now);
        s.error = Some(error);
        s.failing_since.get_or_insert(now);
    }

    /// The task's timers after a check: the next check at `next`, the copy expiring at
    /// `expires` (`None`: no copy confirmed yet), `expired` once that has passed.
    pub(crate) fn scheduled(&self, next: Instant, expires: Option<Instant>, expired: bool) {
        let mut s = self.lock();
        s.next = Some(next);
        s.expires = expires;
        s.expired = expired;
    }

    /// EXPIRE passed while waiting for the next check.
    pub(crate) fn expired(&self) {
        self.lock().expired = true;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn primary() -> SocketAddr {
        "127.166.0.53:53".parse().expect("addr")
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_confirms_and_clears_the_failure() {
        let cell = StatusCell::default();
        let t0 = Instant::now();
        cell.failed(t0, "timed out".to_string());
        tokio::time::advance(Duration::from_secs(5)).await;
        cell.failed(Instant::now(), "refused".to_string());
        let s = cell.get();
        assert_eq!(s.error.as_deref(), Some("refused"));
        assert_eq!(
            s.failing_since,
            Some(t0),
            "since the first failure in a row"
        );
        assert_eq!(s.confirmed, None);

        tokio::time::advance(Duration::from_secs(5)).await;
        let t1 = Instant::now();
        let done = Outcome::Transferred {
            serial: 8,
            kind: "AXFR",
        };
        cell.succeeded(t1, primary(), done);
        let s = cell.get();
        assert_eq!((s.error, s.failing_since), (None, None));
        assert_eq!(s.confirmed, Some(t1));
        assert_eq!(s.transferred, Some((t1, "AXFR")));
        assert_eq!((s.serial, s.primary), (Some(8), Some(primary())));

        // A later check that finds the copy current confirms it but keeps the last transfer.
        tokio::time::advance(Duration::from_secs(60)).await;
        let t2 = Instant::now();
        cell.succeeded(t2, primary(), Outcome::Current { serial: 8 });
        let s = cell.get();
        assert_eq!(s.confirmed, Some(t2));
        assert_eq!(s.transferred, Some((t1, "AXFR")));
    }

    #[tokio::test(start_paused = true)]
    async fn the_expiry_counts_from_the_last_confirmation() {
        let cell = StatusCell::default();
        let t0 = Instant::now();
        cell.succeeded(t0, primary(), Outcome::Current { serial: 1 });
        let expire = Duration::from_secs(86_400);
        cell.scheduled(t0 + Duration::from_secs(3600), Some(t0 + expire), false);
        tokio::time::advance(Duration::from_secs(3600)).await;
        cell.failed(Instant::now(), "timed out".to_string());
        // A failure moves the next check, not the expiry.
        cell.scheduled(
            Instant::now() + Duration::from_secs(600),
            Some(t0 + expire),
            false,
        );
        let s = cell.get();
        assert_eq!(s.expires, Some(t0 + expire));
        assert_eq!(
            s.expires.map(|e| e.duration_since(Instant::now())),
            Some(expire - Duration::from_secs(3600))
        );
        assert!(!s.expired);
        cell.expired();
        assert!(cell.get().expired);
    }
}

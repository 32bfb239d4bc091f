//! The validator's calendar: RRSIG validity (RFC 4034 §3.1.5) is in UNIX seconds, while a walk
//! keeps its time as a monotonic [`Instant`] (`Budget::now`, moved on by its replies). A
//! [`UnixClock`] is a pair (an `Instant`, the UNIX seconds at it) read together at one edge; a
//! walk's `now` becomes UNIX seconds by the time elapsed since that pair, so signature time
//! moves with the walk's time — in tests, with tokio's paused clock and `advance`.
//!
//! In production the pair is read again once it is [`RESYNC`] old (on the walk's time): a
//! stepped wall clock (NTP setting a clock that started at 1970 on a board without RTC) or a
//! suspend (the monotonic clock stands still across it) is followed within a minute, as reading
//! the wall clock for every check would, never carried for the life of the process.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::Validator;

/// How old a production pair may get before it is read again.
pub(crate) const RESYNC: Duration = Duration::from_secs(60);

/// UNIX seconds for a walk's `now`.
#[derive(Debug)]
pub(crate) struct UnixClock {
    /// (`Instant`, UNIX seconds at it).
    pair: Mutex<(Instant, u64)>,
    /// Read again from the clocks when old (production), or fixed (tests).
    follows_wall: bool,
}

impl UnixClock {
    /// The clocks read now, and again whenever the pair is [`RESYNC`] old.
    pub(crate) fn wall() -> UnixClock {
        UnixClock {
            pair: Mutex::new(read_both()),
            follows_wall: true,
        }
    }

    /// A fixed pair: at `at` it is `unix`, and time moves only with the `Instant`s given
    /// (tests on the paused clock).
    #[cfg(test)]
    pub(crate) fn pinned(at: Instant, unix: u64) -> UnixClock {
        UnixClock {
            pair: Mutex::new((at, unix)),
            follows_wall: false,
        }
    }

    /// UNIX seconds at `now`.
    pub(crate) fn unix(&self, now: Instant) -> u64 {
        let mut pair = self.pair.lock().unwrap_or_else(|p| p.into_inner());
        if self.follows_wall && now.saturating_duration_since(pair.0) >= RESYNC {
            *pair = read_both();
        }
        let (at, unix) = *pair;
        // A walk that started before the pair was read is a little behind it.
        match now.checked_duration_since(at) {
            Some(ahead) => unix.saturating_add(ahead.as_secs()),
            None => unix.saturating_sub(at.saturating_duration_since(now).as_secs()),
        }
    }
}

fn read_both() -> (Instant, u64) {
    // Edge: the one place the validator reads the clocks, both at once; walks convert their
    // own `now` from this pair.
    let at = Instant::now();
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    (at, unix)
}

impl Validator {
    /// Dates signatures by `clock` instead of the wall clock (tests on the paused clock).
    #[cfg(test)]
    pub(crate) fn with_clock(mut self, clock: UnixClock) -> Validator {
        self.clock = clock;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_pinned_clock_moves_with_the_instants_given() {
        let t0 = Instant::now();
        let clock = UnixClock::pinned(t0, 1_800_000_000);
        assert_eq!(clock.unix(t0), 1_800_000_000);
        assert_eq!(clock.unix(t0 + Duration::from_secs(90)), 1_800_000_090);
        let later = t0 + Duration::from_secs(40 * 86_400);
        assert_eq!(
            clock.unix(later),
            1_800_000_000 + 40 * 86_400,
            "never resynced"
        );
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(clock.unix(t0), 1_800_000_000, "the argument, not the clock");
    }

    #[tokio::test(start_paused = true)]
    async fn a_walk_older_than_the_pair_is_behind_it() {
        let t0 = Instant::now();
        tokio::time::advance(Duration::from_secs(10)).await;
        let clock = UnixClock::pinned(Instant::now(), 1_000);
        assert_eq!(clock.unix(t0), 990);
    }

    /// A validation runs as of the walk's time, converted by the validator's clock.
    #[tokio::test(start_paused = true)]
    async fn a_validation_is_dated_by_the_walks_now() {
        let t0 = Instant::now();
        let anchors = crate::dnssec::anchor::Anchors::builtin();
        let v = Validator::new(anchors, Vec::new()).with_clock(UnixClock::pinned(t0, 5_000));
        assert_eq!(v.run(t0).now, 5_000);
        assert_eq!(v.run(t0 + Duration::from_secs(3_600)).now, 8_600);
    }

    fn wall_secs() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
    }

    /// Production dates by the wall clock: within the resync interval by the pair, after it
    /// by a fresh reading (so a stepped or suspended clock is followed, not carried).
    #[tokio::test(start_paused = true)]
    async fn the_wall_clock_is_followed_and_read_again_when_the_pair_is_old() {
        let clock = UnixClock::wall();
        let start = Instant::now();
        assert!(clock.unix(start).abs_diff(wall_secs()) <= 1);
        // Half a minute on the paused clock: the pair still holds, the wall barely moved.
        let soon = start + Duration::from_secs(30);
        let by_pair = clock.unix(soon);
        assert!(by_pair.abs_diff(wall_secs() + 30) <= 1, "{by_pair}");
        // Two days on the paused clock, none on the wall: read again, the wall's time.
        tokio::time::advance(Duration::from_secs(2 * 86_400)).await;
        let resynced = clock.unix(Instant::now());
        assert!(resynced.abs_diff(wall_secs()) <= 1, "{resynced}");
    }
}

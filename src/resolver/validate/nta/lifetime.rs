//! How long a runtime negative trust anchor lives (RFC 7646 §7: an NTA should expire, so that
//! one forgotten after its zone was mended does not switch validation off for good), read from
//! `tern ctl nta add NAME [LIFETIME]` as BIND's `rndc nta -lifetime` reads it.

use std::time::Duration;

/// BIND's default `nta-lifetime`: long enough to ride out a broken re-signing, short enough
/// that a forgotten one ends the same day.
const DEFAULT_SECS: u64 = 3600;
/// BIND's upper limit for `nta-lifetime`: a zone broken for longer than a week is the
/// config's business (`[dnssec] negative_trust_anchors`), where it is written down.
const MAX_SECS: u64 = 7 * 86_400;

/// A runtime negative trust anchor's lifetime: 1 second to 1 week.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lifetime(Duration);

/// Why a lifetime was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LifetimeError {
    #[error(
        "bad lifetime {0:?}: seconds, or a number with a unit s, m, h, d or w (30s, 15m, 1h, 2d)"
    )]
    Syntax(String),
    #[error("lifetime {0:?} is 0: use nta remove to end a negative trust anchor")]
    Zero(String),
    #[error(
        "lifetime {0:?} is longer than a week (604800 s, BIND's nta-lifetime limit); \
         an exception meant to last put in [dnssec] negative_trust_anchors"
    )]
    TooLong(String),
}

impl Default for Lifetime {
    fn default() -> Lifetime {
        Lifetime(Duration::from_secs(DEFAULT_SECS))
    }
}

impl Lifetime {
    /// Reads `3600`, `30s`, `15m`, `1h`, `2d` or `1w` (units in either case).
    pub(crate) fn parse(text: &str) -> Result<Lifetime, LifetimeError> {
        let syntax = || LifetimeError::Syntax(text.to_string());
        let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let unit: u64 = match text[digits.len()..].to_ascii_lowercase().as_str() {
            "" | "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            _ => return Err(syntax()),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(syntax());
        }
        // Too many digits for u64 is too long, not a syntax error.
        let secs = digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(unit))
            .unwrap_or(u64::MAX);
        match secs {
            0 => Err(LifetimeError::Zero(text.to_string())),
            s if s > MAX_SECS => Err(LifetimeError::TooLong(text.to_string())),
            s => Ok(Lifetime(Duration::from_secs(s))),
        }
    }

    pub(crate) fn duration(self) -> Duration {
        self.0
    }

    #[cfg(test)]
    pub(crate) fn secs(secs: u64) -> Lifetime {
        Lifetime(Duration::from_secs(secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> Result<u64, LifetimeError> {
        Lifetime::parse(text).map(|l| l.duration().as_secs())
    }

    #[test]
    fn seconds_or_a_unit() {
        assert_eq!(secs("90"), Ok(90));
        assert_eq!(secs("30s"), Ok(30));
        assert_eq!(secs("15m"), Ok(900));
        assert_eq!(secs("1H"), Ok(3600));
        assert_eq!(secs("2d"), Ok(172_800));
        assert_eq!(secs("1w"), Ok(604_800));
        assert_eq!(secs("604800"), Ok(604_800));
        assert_eq!(Lifetime::default().duration().as_secs(), 3600);
    }

    #[test]
    fn more_than_a_week_is_refused() {
        for text in [
            "604801",
            "8d",
            "169h",
            "2w",
            "99999999999999999999999",
            "9999999999999999d",
        ] {
            let e = Lifetime::parse(text).expect_err(text);
            assert_eq!(e, LifetimeError::TooLong(text.to_string()));
            assert!(e.to_string().contains("longer than a week"), "{e}");
        }
    }

    #[test]
    fn nonsense_and_zero_are_refused() {
        for text in [
            "", "h", "1y", "1hour", "1h30m", "-5", "+5", "1.5h", " 5", "5 ", "0x10",
        ] {
            assert_eq!(
                Lifetime::parse(text),
                Err(LifetimeError::Syntax(text.to_string())),
                "{text:?}"
            );
        }
        assert_eq!(secs("0"), Err(LifetimeError::Zero("0".into())));
        assert_eq!(secs("0d"), Err(LifetimeError::Zero("0d".into())));
    }
}

//! The server secret and the keyed hash of RFC 9018 §4.4: SipHash-2-4 keyed with 16 bytes.
//!
//! Two ways to hold secrets (RFC 9018 §5 asks that a secret be replaced now and then, and that
//! cookies made with the one before keep working for a while):
//! - **configured** (`[server] cookie_secret`, and `cookie_secret_previous` while a fleet rolls
//!   over): used as they are, so every server of an anycast set, tern or BIND or Knot with the
//!   same secret, makes and accepts the same cookies. Cookies are made with the current secret
//!   and accepted under either; the operator rolls them (RFC 9018 §5's steps).
//! - **random** (the default, one server): a master secret drawn at start, from which the key
//!   of each UTC day is derived. A cookie names its day by its timestamp, so it is checked
//!   under that day's key: yesterday's cookies stay valid for the hour RFC 9018 §4.3 allows
//!   after midnight, and no state changes at the rotation (no lock, no timer, nothing shared
//!   to update). A restart draws a new master: every client learns a new cookie once.

use std::cell::Cell;
use std::fmt;
use std::hash::Hasher;
use std::str::FromStr;

/// How long one derived key is used to make cookies (the random secret's rotation).
pub(super) const ROTATION_SECS: u32 = 86_400;

/// A SipHash key: the 16 secret bytes as two little-endian words, as the SipHash reference
/// loads them (RFC 9018 §4.4 names the secret as bytes; this is how they key the hash).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct SipKey(u64, u64);

impl SipKey {
    fn of(bytes: &[u8; 16]) -> SipKey {
        let mut k0 = [0; 8];
        let mut k1 = [0; 8];
        k0.copy_from_slice(&bytes[..8]);
        k1.copy_from_slice(&bytes[8..]);
        SipKey(u64::from_le_bytes(k0), u64::from_le_bytes(k1))
    }

    /// SipHash-2-4 of `input`, as the 8 bytes RFC 9018 §4.4 puts in the cookie (the reference
    /// implementation's output, little-endian).
    pub(super) fn hash(&self, input: &[u8]) -> [u8; 8] {
        // std's `SipHasher` is SipHash-2-4 and takes its input as a byte stream through
        // `write` (only `Hash` impls add length prefixes). It is deprecated for hash tables,
        // not as a PRF; using it saves a dependency, and the RFC 9018 vectors pin it. One
        // `write` of the whole input: each one costs its own tail handling.
        #[allow(deprecated)]
        let mut h = std::hash::SipHasher::new_with_keys(self.0, self.1);
        h.write(input);
        h.finish().to_le_bytes()
    }
}

/// A 16-byte server secret, written as 32 hex digits (as BIND's `cookie-secret`). Its `Debug`
/// never shows it.
#[derive(Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct CookieSecret([u8; 16]);

impl CookieSecret {
    pub(super) fn key(&self) -> SipKey {
        SipKey::of(&self.0)
    }

    /// A secret from the operating system's random source (through `rand`'s CSPRNG).
    pub(super) fn random() -> CookieSecret {
        let mut bytes = [0; 16];
        rand::fill(&mut bytes);
        CookieSecret(bytes)
    }
}

impl fmt::Debug for CookieSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CookieSecret(..)")
    }
}

/// Why a configured secret is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a cookie secret is 32 hex digits (16 bytes, RFC 9018 §4.4); got {0} characters")]
pub(crate) struct SecretError(usize);

impl FromStr for CookieSecret {
    type Err = SecretError;

    fn from_str(s: &str) -> Result<CookieSecret, SecretError> {
        let bad = || SecretError(s.chars().count());
        let digits = s.as_bytes();
        if digits.len() != 32 {
            return Err(bad());
        }
        let mut bytes = [0; 16];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            let nibble = |c: u8| char::from(c).to_digit(16).ok_or_else(bad);
            *byte = u8::try_from(nibble(pair[0])? << 4 | nibble(pair[1])?).map_err(|_| bad())?;
        }
        Ok(CookieSecret(bytes))
    }
}

impl TryFrom<String> for CookieSecret {
    type Error = SecretError;

    fn try_from(s: String) -> Result<CookieSecret, SecretError> {
        s.parse()
    }
}

/// The secrets a server makes and checks cookies with.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum Secrets {
    /// Configured: make with `current`, accept under `current` or `previous`.
    Fixed {
        current: SipKey,
        previous: Option<SipKey>,
    },
    /// Drawn at start: each day's key derived from `master`.
    Rotating { master: SipKey },
}

thread_local! {
    /// The last day key this thread derived, with its master and day: a query pays for the
    /// derivation once a day per thread, not on every cookie.
    static DERIVED: Cell<Option<(SipKey, u32, SipKey)>> = const { Cell::new(None) };
}

impl Secrets {
    /// The key new cookies stamped `now` are made with.
    pub(super) fn making(&self, now: u32) -> SipKey {
        match self {
            Secrets::Fixed { current, .. } => *current,
            Secrets::Rotating { master } => day_key(master, now),
        }
    }
}

/// The key of the day `timestamp` falls in, derived from `master`.
pub(super) fn day_key(master: &SipKey, timestamp: u32) -> SipKey {
    let day = timestamp / ROTATION_SECS;
    if let Some((m, d, key)) = DERIVED.get()
        && m == *master
        && d == day
    {
        return key;
    }
    // Two PRF outputs of the master, one per half of the key, told apart by a prefix.
    let [a, b, c, d] = day.to_be_bytes();
    let key = SipKey(
        u64::from_le_bytes(master.hash(&[0, a, b, c, d])),
        u64::from_le_bytes(master.hash(&[1, a, b, c, d])),
    );
    DERIVED.set(Some((*master, day, key)));
    key
}

/// Whether `a` and `b` fall in the same day of the random secret's rotation.
pub(super) fn same_day(a: u32, b: u32) -> bool {
    a / ROTATION_SECS == b / ROTATION_SECS
}

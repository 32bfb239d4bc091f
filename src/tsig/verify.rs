//! Server processing of a signed request, RFC 8945 §5.2: key, then MAC, then time, then
//! truncation, each failure with its own TSIG error.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::Name;
use hickory_proto::rr::rdata::tsig::{TSIG, TsigAlgorithm, TsigError, signed_bitmessage_to_buf};

use super::{Key, Keyring};

/// Byte offsets of the DNS header's flag octets (RFC 1035 §4.1.1).
const HEADER_FLAGS: std::ops::Range<usize> = 2..4;

/// What a response to this request needs from it: the parts of the request's TSIG that go into
/// the response's TSIG and MAC (RFC 8945 §5.3).
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub(super) key_name: Name,
    pub(super) algorithm: TsigAlgorithm,
    /// `None` for BADKEY: there is no key to sign with.
    pub(super) key: Option<Key>,
    /// The request MAC exactly as sent (truncated if it was): §5.3 prefixes it to the response.
    pub(super) request_mac: Vec<u8>,
    pub(super) original_id: u16,
    pub(super) request_time: u64,
}

impl Context {
    fn new(record_name: &Name, tsig: &TSIG, key: Option<Key>) -> Context {
        Context {
            key_name: record_name.clone(),
            algorithm: tsig.algorithm.clone(),
            key,
            request_mac: tsig.mac.clone(),
            original_id: tsig.oid,
            request_time: tsig.time,
        }
    }
}

/// The outcome of checking a request's TSIG (RFC 8945 §5.2).
#[derive(Clone)]
pub(crate) enum Verified {
    /// No TSIG record: nothing to check, and the response carries none.
    Unsigned,
    /// Signed with `key`, a key we know; the MAC is right and the time within the fudge.
    /// The response must be signed with the same key (§5.3): see `sign_response`.
    Signed { key: Name, context: Context },
    /// A check failed: answer NOTAUTH (§5.2) with this TSIG error. BADKEY (unknown key or
    /// algorithm, §5.2.1), BADSIG (wrong MAC, §5.2.2), BADTIME (outside the fudge, §5.2.3),
    /// BADTRUNC (a truncated MAC, which our policy does not accept, §5.2.4).
    Failed { error: TsigError, context: Context },
    /// The TSIG cannot be interpreted, or its MAC size is not allowed (§5.2, §5.2.2.1):
    /// FORMERR, without a TSIG.
    Malformed { reason: &'static str },
}

// Written out, as `derive` would: the debug log of a refused request (`handler::edge`) is the
// one reader of `reason`, and the compiler does not count a derived `Debug` as a read.
impl std::fmt::Debug for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verified::Unsigned => f.write_str("Unsigned"),
            Verified::Signed { key, context } => f
                .debug_struct("Signed")
                .field("key", key)
                .field("context", context)
                .finish(),
            Verified::Failed { error, context } => f
                .debug_struct("Failed")
                .field("error", error)
                .field("context", context)
                .finish(),
            Verified::Malformed { reason } => {
                f.debug_struct("Malformed").field("reason", reason).finish()
            }
        }
    }
}

impl Verified {
    /// The RCODE a TSIG failure imposes on the response (RFC 8945 §5.2: NOTAUTH for every TSIG
    /// error, FORMERR for a TSIG that cannot be read); `None` when the request may be served.
    pub(crate) fn rcode(&self) -> Option<ResponseCode> {
        match self {
            Verified::Unsigned | Verified::Signed { .. } => None,
            Verified::Failed { .. } => Some(ResponseCode::NotAuth),
            Verified::Malformed { .. } => Some(ResponseCode::FormErr),
        }
    }

    /// The key that validly signed the request, if one did.
    pub(crate) fn key(&self) -> Option<&Name> {
        match self {
            Verified::Signed { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// Checks the TSIG of a request, RFC 8945 §5.2, in the order the RFC gives.
///
/// `request` must be hickory's parse of `request_bytes`: with TSIG support on, hickory keeps a
/// TSIG record (which it only accepts as the last additional record, §5.1) in
/// `Message::signature`. The MAC covers the bytes as they were sent, so they are read again
/// from `request_bytes`. `now_unix` is the server's clock, seconds since the epoch.
pub(crate) fn verify(
    request_bytes: &[u8],
    request: &Message,
    keyring: &Keyring,
    now_unix: u64,
) -> Verified {
    if request.signature().is_none() {
        return Verified::Unsigned;
    }
    // hickory rebuilds the to-be-verified bytes: header with the Original ID and ARCOUNT less
    // one, every record before the TSIG as sent, then the TSIG variables (§4.3.1–4.3.3).
    let Ok((mut tbv, record)) = signed_bitmessage_to_buf(request_bytes, None, true) else {
        return Verified::Malformed {
            reason: "TSIG record cannot be read",
        };
    };
    let tsig = &record.data;

    // §5.2.1: an unknown key, or a known key used with another algorithm, is BADKEY.
    let Some(key) = keyring
        .get(&record.name)
        .filter(|key| *key.algorithm() == tsig.algorithm)
    else {
        return Verified::Failed {
            error: TsigError::BadKey,
            context: Context::new(&record.name, tsig, None),
        };
    };
    let context = Context::new(&record.name, tsig, Some(key.clone()));

    // §5.2.2.1: a MAC longer than the HMAC, or shorter than both 10 octets and half the HMAC,
    // is a format error, not a signature failure.
    let full = key.mac_len();
    let received = tsig.mac.len();
    if received > full || received < full.div_ceil(2).max(10) {
        return Verified::Malformed {
            reason: "TSIG MAC size out of range",
        };
    }

    // hickory re-encodes the header from its parsed flags, which drops the reserved Z bit;
    // the MAC covers the flags as sent, so put them back (only the ID and ARCOUNT differ).
    if let (Some(sent), Some(rebuilt)) =
        (request_bytes.get(HEADER_FLAGS), tbv.get_mut(HEADER_FLAGS))
    {
        rebuilt.copy_from_slice(sent);
    }

    // §5.2.2: the MAC, compared in constant time.
    if !mac_matches(key, &tbv, &tsig.mac) {
        return Verified::Failed {
            error: TsigError::BadSig,
            context,
        };
    }

    // §5.2.3: the server's time must lie within Time Signed ± Fudge of the request.
    if now_unix.abs_diff(tsig.time) > u64::from(tsig.fudge) {
        return Verified::Failed {
            error: TsigError::BadTime,
            context,
        };
    }

    // §5.2.4: our local policy is the full MAC (hickory neither makes nor checks truncated
    // ones), so a valid but truncated MAC is BADTRUNC.
    if received < full {
        return Verified::Failed {
            error: TsigError::BadTrunc,
            context,
        };
    }

    Verified::Signed {
        key: key.name().clone(),
        context,
    }
}

/// §5.2.2.1: "the locally calculated MAC is similarly truncated and only the truncated values
/// are compared". A full-length MAC goes to hickory (ring's constant-time check); a truncated
/// one is compared here without an early exit, so timing does not leak the matching prefix.
fn mac_matches(key: &Key, tbv: &[u8], mac: &[u8]) -> bool {
    if mac.len() == key.mac_len() {
        return key.signer().verify(tbv, mac).is_ok();
    }
    let Ok(expected) = key.signer().sign(tbv) else {
        return false;
    };
    let Some(expected) = expected.get(..mac.len()) else {
        return false;
    };
    let difference = expected
        .iter()
        .zip(mac)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(difference) == 0
}

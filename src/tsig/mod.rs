//! TSIG, RFC 8945: the shared-secret keys a server knows, checking a request's signature, and
//! signing the response to it. UPDATE (RFC 2136 §3.3) is the first user: a signed request
//! proves which key sent it, and the response proves it came from us. Zone transfers answer
//! with many messages, each chained to the one before (§5.3.1): `ResponseStream` signs them,
//! and `RequestSigner` is the client side, signing a request and checking its responses.
//!
//! The cryptography and the wire details are hickory-proto's (`TSigner`,
//! `signed_bitmessage_to_buf`, `encode_response_tbs`); this module owns the policy around them:
//! the order of the checks and the error each one yields (§5.2), which error responses are
//! signed (§5.3.2), and reading BIND key files (`keyfile`). It imports nothing of the crate.
//! Time is always an argument (`now_unix`), so every outcome is reproducible in a test.

mod keyfile;
pub(crate) mod keytool;
mod lex;
mod sign;
mod stream;
mod verify;

use std::collections::HashMap;
use std::fmt;

pub use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::{Name, TSigner};

pub use self::keyfile::parse_keys;
pub(crate) use self::keyfile::read_key_file;
pub(crate) use self::sign::{SignError, sign_response};
pub use self::stream::TsigClientError;
pub(crate) use self::stream::{RequestSigner, ResponseStream};
pub(crate) use self::verify::{Verified, verify};

/// RFC 8945 §10: "a fudge value of 300 seconds is recommended", and BIND signs with it. We put
/// it in our responses; requests are checked against the fudge *they* carry (§5.2.3).
pub(crate) const FUDGE: u16 = 300;

/// A key whose algorithm hickory-proto has no MAC for (it implements HMAC-SHA256/384/512).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TSIG algorithm {0} is not supported (use hmac-sha256, hmac-sha384 or hmac-sha512)")]
pub struct UnsupportedAlgorithm(pub(crate) TsigAlgorithm);

/// One TSIG key: its name (RFC 8945 §4.2 NAME), algorithm and shared secret.
#[derive(Clone)]
pub struct Key {
    // The signer holds all three parts; keeping only it means the secret lives in one place.
    signer: TSigner,
}

impl Key {
    /// A key usable for signing and verifying. The name is made absolute: on the wire it
    /// always is.
    pub fn new(
        name: Name,
        algorithm: TsigAlgorithm,
        secret: Vec<u8>,
    ) -> Result<Key, UnsupportedAlgorithm> {
        if !algorithm.supported() {
            return Err(UnsupportedAlgorithm(algorithm));
        }
        let signer = TSigner::new(secret, algorithm.clone(), name, FUDGE)
            .map_err(|_| UnsupportedAlgorithm(algorithm))?;
        Ok(Key { signer })
    }

    /// The key's name, absolute.
    pub(crate) fn name(&self) -> &Name {
        self.signer.signer_name()
    }

    pub(crate) fn algorithm(&self) -> &TsigAlgorithm {
        self.signer.algorithm()
    }

    /// hickory's signer for this key, for clients (tests, tools) that sign requests.
    pub(crate) fn signer(&self) -> &TSigner {
        &self.signer
    }

    /// RFC 8945 §5.2.2.1: the full MAC length of the key's algorithm (the HMAC output).
    fn mac_len(&self) -> usize {
        mac_len(self.algorithm()).unwrap_or(0)
    }
}

// The secret never reaches a log line.
impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("name", self.name())
            .field("algorithm", self.algorithm())
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The HMAC output length of the algorithms hickory implements (RFC 8945 §6, Table 3).
pub(super) fn mac_len(algorithm: &TsigAlgorithm) -> Option<usize> {
    match algorithm {
        TsigAlgorithm::HmacSha256 => Some(32),
        TsigAlgorithm::HmacSha384 => Some(48),
        TsigAlgorithm::HmacSha512 => Some(64),
        _ => None,
    }
}

/// The wall clock in seconds since the epoch, as TSIG needs it (RFC 8945 §4.2 Time Signed):
/// TSIG times are absolute and the peer checks them against its own clock, so this is the
/// system's time, not the runtime's.
pub(crate) fn now_unix() -> u64 {
    // Edge: read once per signed message: at the request edge, and by the outbound client.
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The keys a server knows, by name (RFC 8945 §5.2.1 looks the key up by the TSIG owner name).
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: HashMap<Name, Key>,
}

impl Keyring {
    /// A later key with the same name replaces an earlier one (names compare without case).
    pub fn new(keys: impl IntoIterator<Item = Key>) -> Keyring {
        let keys = keys
            .into_iter()
            .map(|key| (key.name().clone(), key))
            .collect();
        Keyring { keys }
    }

    /// The key called `name`, relative or absolute, in any case.
    pub(crate) fn get(&self, name: &Name) -> Option<&Key> {
        if name.is_fqdn() {
            self.keys.get(name)
        } else {
            let mut absolute = name.clone();
            absolute.set_fqdn(true);
            self.keys.get(&absolute)
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

#[cfg(test)]
mod interop;
#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;

//! DNS Cookies, the client's side (RFC 7873 §5.1, §5.3; RFC 9018): the client cookie we
//! send, the COOKIE option that carries it, and what a reply's COOKIE option says. The
//! server cookies learned are kept in a [`CookieJar`].
//!
//! A cookie is a lightweight proof of the return path: an off-path forger who guesses the ID
//! and the port still cannot echo a client cookie it never saw, and a server that holds our
//! cookie can tell our queries from forged ones sent in our name.

mod jar;

use std::fmt;
use std::net::IpAddr;
use std::sync::OnceLock;

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};

pub(crate) use self::jar::CookieJar;

/// RFC 7873 §4: a client cookie is exactly 8 octets.
const CLIENT_COOKIE_LEN: usize = 8;
/// RFC 7873 §4: a server cookie is 8 to 32 octets.
const SERVER_COOKIE_LEN: std::ops::RangeInclusive<usize> = 8..=32;

/// The client secret (RFC 7873 §4.1): a 128-bit SipHash key. Never printed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Secret([u8; 16]);

impl Secret {
    #[cfg(test)]
    pub(crate) fn new(key: [u8; 16]) -> Secret {
        Secret(key)
    }

    /// One random secret for the whole process, made on first use: every resolver in the
    /// process is the same client to a server, so they share its cookies' worth.
    pub(crate) fn process() -> Secret {
        static SECRET: OnceLock<Secret> = OnceLock::new();
        *SECRET.get_or_init(|| Secret(rand::random()))
    }

    fn keys(&self) -> (u64, u64) {
        let mut k0 = [0; 8];
        let mut k1 = [0; 8];
        k0.copy_from_slice(&self.0[..8]);
        k1.copy_from_slice(&self.0[8..]);
        (u64::from_le_bytes(k0), u64::from_le_bytes(k1))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// SipHash-2-4 of `parts`, one after the other, under `secret` (the key, little-endian
/// halves, as the SipHash paper reads it).
#[allow(deprecated)]
fn siphash24(secret: &Secret, parts: &[&[u8]]) -> u64 {
    use std::hash::Hasher;
    // std's SipHasher is SipHash-2-4 exactly when fed with `write` (no length prefixes);
    // deprecated only because HashMap should not promise its algorithm, which is not our
    // use. Only we ever check our client cookie, so any keyed PRF would do (RFC 7873 §4.1);
    // this one costs no dependency.
    let (k0, k1) = secret.keys();
    let mut h = std::hash::SipHasher::new_with_keys(k0, k1);
    for part in parts {
        h.write(part);
    }
    h.finish()
}

fn ip_octets(ip: IpAddr) -> ([u8; 16], usize) {
    let mut out = [0; 16];
    match ip {
        IpAddr::V4(v4) => {
            out[..4].copy_from_slice(&v4.octets());
            (out, 4)
        }
        IpAddr::V6(v6) => (v6.octets(), 16),
    }
}

/// Our 8-octet client cookie for one (client address, server address) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientCookie([u8; CLIENT_COOKIE_LEN]);

impl ClientCookie {
    /// RFC 7873 §4.1, RFC 9018 §3: a pseudorandom function of the client's address, the
    /// server's and the client secret, so a server cannot track us across addresses, and one
    /// server's cookie tells nothing of another's.
    pub(crate) fn compute(secret: &Secret, client: IpAddr, server: IpAddr) -> ClientCookie {
        let (c, clen) = ip_octets(client);
        let (s, slen) = ip_octets(server);
        ClientCookie(siphash24(secret, &[&c[..clen], &s[..slen]]).to_be_bytes())
    }

    /// Its octets, as the COOKIE option carries them first (RFC 7873 §4).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    #[cfg(test)]
    pub(crate) fn from_bytes(bytes: [u8; CLIENT_COOKIE_LEN]) -> ClientCookie {
        ClientCookie(bytes)
    }
}

/// A server cookie as the server gave it: 8 to 32 opaque octets, kept inline (no allocation
/// per server in the jar).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServerCookie {
    len: u8,
    bytes: [u8; 32],
}

impl ServerCookie {
    /// `None` unless 8 to 32 octets (RFC 7873 §4).
    pub(crate) fn new(octets: &[u8]) -> Option<ServerCookie> {
        if !SERVER_COOKIE_LEN.contains(&octets.len()) {
            return None;
        }
        let mut bytes = [0; 32];
        bytes[..octets.len()].copy_from_slice(octets);
        Some(ServerCookie {
            len: u8::try_from(octets.len()).ok()?,
            bytes,
        })
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for ServerCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerCookie(")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// The COOKIE option (RFC 7873 §4): our client cookie, then the server's, if we have one,
/// as a raw option (hickory has no typed one), for tests that read or answer it; queries
/// write it in place (`Ask::write`).
#[cfg(test)]
pub(crate) fn option(client: &ClientCookie, server: Option<&ServerCookie>) -> EdnsOption {
    let mut data = client.as_bytes().to_vec();
    if let Some(server) = server {
        data.extend_from_slice(server.as_bytes());
    }
    EdnsOption::Unknown(u16::from(EdnsCode::Cookie), data)
}

/// What a reply's COOKIE option says about it, against the client cookie we sent
/// (RFC 7873 §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Echo {
    /// No COOKIE option: a server that does not do cookies. Taken as it is.
    Absent,
    /// Our client cookie and the server's cookie, to keep for the next query.
    Ours(ServerCookie),
    /// A COOKIE option too short to hold a server cookie, too long, or repeated: discarded.
    Malformed,
    /// Someone else's client cookie: a forgery, discarded.
    Foreign,
}

impl Echo {
    /// What `reply`'s COOKIE option says, against `sent`.
    pub(crate) fn of(reply: &Message, sent: &ClientCookie) -> Echo {
        let Some(edns) = reply.edns.as_ref() else {
            return Echo::Absent;
        };
        let mut cookies = edns
            .options()
            .as_ref()
            .iter()
            .filter(|(code, _)| *code == EdnsCode::Cookie);
        let Some((_, option)) = cookies.next() else {
            return Echo::Absent;
        };
        if cookies.next().is_some() {
            return Echo::Malformed;
        }
        let EdnsOption::Unknown(_, data) = option else {
            return Echo::Malformed;
        };
        if data.len() < CLIENT_COOKIE_LEN {
            return Echo::Malformed;
        }
        let (client, server) = data.split_at(CLIENT_COOKIE_LEN);
        // The client cookie first: a forged reply is a forgery whatever its length.
        if client != sent.0 {
            return Echo::Foreign;
        }
        ServerCookie::new(server).map_or(Echo::Malformed, Echo::Ours)
    }
}

#[cfg(test)]
mod tests;

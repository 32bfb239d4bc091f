//! Server cookies (RFC 7873 §5.2), in the interoperable format of RFC 9018: what tern gives the
//! clients that send a COOKIE option, and how it judges the server cookie they bring back. The
//! upstream side (tern as a client of other servers) is `outbound`'s.
//!
//! A server cookie is Version (1) | Reserved (3, zero) | Timestamp (4, UNIX seconds) | Hash (8),
//! the hash SipHash-2-4 over client cookie | version | reserved | timestamp | client address,
//! keyed with the server secret (RFC 9018 §4; `secret` keeps the secrets and their rotation).
//! Only the client's address and a secret make it, so any server sharing the secret accepts
//! it: a fleet behind one address answers a client the same whichever server it reaches.
//!
//! A cookie is judged once per query, where its bytes arrive (the edge, or the hit path): a
//! [`Verdict`] and the COOKIE option the response carries (the client cookie echoed, and our
//! server cookie: the one sent back when still fresh, else a new one).

mod secret;

use std::fmt;
use std::net::IpAddr;

pub(crate) use secret::CookieSecret;
use secret::{Secrets, SipKey};

/// The COOKIE option's code (RFC 7873 §4).
pub(crate) const OPTION_CODE: u16 = 10;
/// A client cookie is 8 bytes; a server cookie 8 to 32 (RFC 7873 §4).
const CLIENT_LEN: usize = 8;
const SERVER_MIN: usize = 8;
const SERVER_MAX: usize = 32;
/// The server cookie of RFC 9018 §4: version 1, three reserved bytes, timestamp, hash.
const SERVER_LEN: usize = 16;
const VERSION: u8 = 1;
/// RFC 9018 §4.3: a cookie is accepted up to an hour after its timestamp and up to five minutes
/// before it (clock skew within a fleet), and replaced by a new one once half an hour old.
const MAX_AGE: i64 = 3600;
const MAX_AHEAD: i64 = 300;
const REFRESH_AGE: i64 = 1800;

/// The COOKIE option a client sent: its client cookie, and the server cookie it learned, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Received {
    client: [u8; CLIENT_LEN],
    server: [u8; SERVER_MAX],
    server_len: u8,
}

/// A COOKIE option whose length no cookie has (RFC 7873 §5.2.2: answered FORMERR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a COOKIE option of {0} bytes (RFC 7873 §4: 8, or 16 to 40)")]
pub(crate) struct Malformed(pub(crate) usize);

impl Received {
    /// The option's data: a client cookie alone (8 bytes) or followed by a server cookie (8 to
    /// 32 bytes).
    pub(crate) fn parse(data: &[u8]) -> Result<Received, Malformed> {
        let len = data.len();
        let server = data.get(CLIENT_LEN..).unwrap_or_default();
        if len < CLIENT_LEN
            || !(server.is_empty() || (SERVER_MIN..=SERVER_MAX).contains(&server.len()))
        {
            return Err(Malformed(len));
        }
        let mut received = Received {
            client: [0; CLIENT_LEN],
            server: [0; SERVER_MAX],
            server_len: u8::try_from(server.len()).map_err(|_| Malformed(len))?,
        };
        received.client.copy_from_slice(&data[..CLIENT_LEN]);
        received.server[..server.len()].copy_from_slice(server);
        Ok(received)
    }

    fn server(&self) -> &[u8] {
        &self.server[..usize::from(self.server_len)]
    }
}

/// What a query's server cookie says of it (RFC 7873 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A client cookie alone (§5.2.3): answered, with a server cookie to learn.
    ClientOnly,
    /// A server cookie we made for this client and address, in date (§5.2.4): the source
    /// address is not spoofed.
    Valid,
    /// A server cookie we did not make, made for another address or client cookie, or out of
    /// date (§5.2.3): BADCOOKIE over UDP, an answer over TCP.
    Invalid,
}

impl Verdict {
    /// Its slot among the counted results (`metrics::COOKIE_RESULTS`).
    pub(crate) fn slot(self) -> usize {
        match self {
            Verdict::ClientOnly => 0,
            Verdict::Valid => 1,
            Verdict::Invalid => 2,
        }
    }
}

/// The slot of a malformed COOKIE option among the counted results.
pub(crate) const MALFORMED_SLOT: usize = 3;

/// The data of our COOKIE option: the client cookie echoed, and our server cookie.
const REPLY_LEN: usize = CLIENT_LEN + SERVER_LEN;

/// Our COOKIE option for a response, in wire form: OPTION-CODE, OPTION-LENGTH, data.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReplyOption([u8; 4 + REPLY_LEN]);

impl ReplyOption {
    fn new(client: &[u8; CLIENT_LEN], server: &[u8; SERVER_LEN]) -> ReplyOption {
        let mut wire = [0; 4 + REPLY_LEN];
        wire[..2].copy_from_slice(&OPTION_CODE.to_be_bytes());
        wire[2..4].copy_from_slice(&(REPLY_LEN as u16).to_be_bytes());
        wire[4..4 + CLIENT_LEN].copy_from_slice(client);
        wire[4 + CLIENT_LEN..].copy_from_slice(server);
        ReplyOption(wire)
    }

    /// The whole option, as it goes into an OPT record's RDATA.
    pub(crate) fn wire(&self) -> &[u8] {
        &self.0
    }

    /// The option's data (client cookie, server cookie).
    pub(crate) fn data(&self) -> &[u8] {
        &self.0[4..]
    }

    /// Our server cookie.
    #[cfg(test)]
    pub(crate) fn server(&self) -> &[u8] {
        &self.0[4 + CLIENT_LEN..]
    }
}

impl fmt::Debug for ReplyOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplyOption(")?;
        self.data().iter().try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(f, ")")
    }
}

/// A query's cookie, judged: the verdict, and the option its response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Judged {
    pub(crate) verdict: Verdict,
    pub(crate) reply: ReplyOption,
}

impl Judged {
    /// The query came from the address it says (RFC 7873 §5.2.4): a rate limit need not fear
    /// a spoofed victim behind it.
    pub(crate) fn proves_address(&self) -> bool {
        self.verdict == Verdict::Valid
    }
}

/// The server side of DNS cookies: the secrets, and what a query's cookie is worth.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerCookies {
    secrets: Secrets,
}

impl Default for ServerCookies {
    /// A random secret, rotated daily (see `secret`).
    fn default() -> Self {
        ServerCookies::random()
    }
}

impl fmt::Debug for ServerCookies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.secrets {
            Secrets::Fixed { previous: None, .. } => "configured secret",
            Secrets::Fixed { .. } => "configured secret and the previous one",
            Secrets::Rotating { .. } => "random secret, rotated daily",
        };
        write!(f, "ServerCookies({kind})")
    }
}

impl ServerCookies {
    /// A secret drawn now, whose derived key changes every UTC day.
    pub fn random() -> ServerCookies {
        ServerCookies {
            secrets: Secrets::Rotating {
                master: CookieSecret::random().key(),
            },
        }
    }

    /// Configured secrets: cookies made with `current`, accepted under it or `previous`.
    pub(crate) fn fixed(current: CookieSecret, previous: Option<CookieSecret>) -> ServerCookies {
        ServerCookies {
            secrets: Secrets::Fixed {
                current: current.key(),
                previous: previous.map(|p| p.key()),
            },
        }
    }

    /// Judges `received`, from `client`, at `now_unix` (UNIX seconds): one SipHash for a client
    /// cookie alone or a fresh valid cookie, two when a new cookie must be made besides.
    pub(crate) fn judge(&self, received: &Received, client: IpAddr, now_unix: u64) -> Judged {
        // RFC 9018 §4.3: the timestamp is the UNIX time modulo 2^32, compared as a serial.
        let now = now_unix as u32;
        let ip = client.to_canonical();
        let verdict = match received.server() {
            [] => Verdict::ClientOnly,
            server => match self.check(&received.client, server, ip, now) {
                Some(Freshness::Fresh) => {
                    let mut ours = [0; SERVER_LEN];
                    ours.copy_from_slice(server);
                    return Judged {
                        verdict: Verdict::Valid,
                        reply: ReplyOption::new(&received.client, &ours),
                    };
                }
                Some(Freshness::Renew) => Verdict::Valid,
                None => Verdict::Invalid,
            },
        };
        Judged {
            verdict,
            reply: ReplyOption::new(&received.client, &self.make(&received.client, ip, now)),
        }
    }

    /// A new server cookie for `client` at `ip`, stamped `now` (RFC 9018 §4).
    fn make(&self, client: &[u8; CLIENT_LEN], ip: IpAddr, now: u32) -> [u8; SERVER_LEN] {
        let mut cookie = [0; SERVER_LEN];
        cookie[0] = VERSION;
        cookie[4..8].copy_from_slice(&now.to_be_bytes());
        let hash = hashed(&self.secrets.making(now), client, &cookie[..8], ip);
        cookie[8..].copy_from_slice(&hash);
        cookie
    }

    /// Whether `server` is a cookie we made for `client` at `ip`, still in date at `now`, and
    /// whether it may be sent back as it is; `None`: invalid.
    fn check(
        &self,
        client: &[u8; CLIENT_LEN],
        server: &[u8],
        ip: IpAddr,
        now: u32,
    ) -> Option<Freshness> {
        // Another length or version is not ours (another implementation's, or an old one).
        if server.len() != SERVER_LEN || server[0] != VERSION {
            return None;
        }
        let stamp = u32::from_be_bytes([server[4], server[5], server[6], server[7]]);
        let age = i64::from(now.wrapping_sub(stamp) as i32);
        if !(-MAX_AHEAD..=MAX_AGE).contains(&age) {
            return None;
        }
        // The reserved bytes are hashed as they came (RFC 9018 Appendix A.3).
        let (head, hash) = server.split_at(8);
        let matches = |key: &SipKey| same(&hashed(key, client, head, ip), hash);
        let renew = match &self.secrets {
            // Checked under the key of its own day; one of an earlier day moves to today's.
            Secrets::Rotating { master } if matches(&secret::day_key(master, stamp)) => {
                !secret::same_day(stamp, now)
            }
            Secrets::Fixed { current, .. } if matches(current) => false,
            // Made with the previous secret: accepted, and replaced by a current one.
            Secrets::Fixed {
                previous: Some(previous),
                ..
            } if matches(previous) => true,
            _ => return None,
        };
        let renew = renew || !(0..=REFRESH_AGE).contains(&age) || head[1..4] != [0, 0, 0];
        Some(if renew {
            Freshness::Renew
        } else {
            Freshness::Fresh
        })
    }
}

/// Whether a valid cookie goes back as it came or is replaced.
enum Freshness {
    Fresh,
    Renew,
}

/// The hash of RFC 9018 §4.4 over client cookie | version, reserved, timestamp | address.
fn hashed(key: &SipKey, client: &[u8; CLIENT_LEN], head: &[u8], ip: IpAddr) -> [u8; 8] {
    let mut input = [0; CLIENT_LEN + 8 + 16];
    input[..CLIENT_LEN].copy_from_slice(client);
    input[CLIENT_LEN..CLIENT_LEN + 8].copy_from_slice(head);
    let len = match ip {
        IpAddr::V4(v4) => {
            input[16..20].copy_from_slice(&v4.octets());
            20
        }
        IpAddr::V6(v6) => {
            input[16..].copy_from_slice(&v6.octets());
            32
        }
    };
    key.hash(&input[..len])
}

/// The wall clock in UNIX seconds for the hit path, as cheaply as Linux gives it: the coarse
/// real-time clock (a few milliseconds behind at most) skips the hardware counter read, and a
/// cookie's timestamp is in seconds anyway.
#[cfg(target_os = "linux")]
pub(crate) fn now_unix() -> u64 {
    use nix::time::{ClockId, clock_gettime};
    // Edge: read once per query with a cookie, where the hit path reads its bytes.
    match clock_gettime(ClockId::CLOCK_REALTIME_COARSE) {
        Ok(t) => u64::try_from(t.tv_sec()).unwrap_or(0),
        Err(_) => crate::tsig::now_unix(),
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn now_unix() -> u64 {
    crate::tsig::now_unix()
}

/// Compares two hashes in time that does not depend on where they differ: a client timing our
/// answers must not learn a valid hash byte by byte.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod handler_tests;
#[cfg(test)]
mod tests;

//! The server cookies learned, per server, bounded.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use lru::LruCache;

use super::{ClientCookie, Secret, ServerCookie};

/// Servers remembered. A resolver talks to a few thousand authorities in a day's work; one
/// forgotten costs a cookie-less first query (or one BADCOOKIE round trip) again. About
/// 100 octets each.
const SERVERS: usize = 4096;

/// Queries that may use a remembered source address before the socket is asked again. The
/// client cookie covers our address (RFC 7873 §4.1), which the kernel picks per destination
/// at connect; asking it (getsockname) for every query is one more system call per cache
/// miss. Routes change rarely: a changed source is noticed within this many queries, and until
/// then the server only sees a client cookie made for our old address, which it answers with
/// a fresh server cookie as for any new client cookie.
const SOURCE_RECHECK: u8 = 32;

/// What we know of one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    /// Its cookie, and the client cookie it was given for: only that one proves it (the
    /// server computed it over our client cookie and address, RFC 9018 §4).
    Cookie {
        client: ClientCookie,
        server: ServerCookie,
    },
    /// It answered FORMERR to a query with a COOKIE option: an old server that rejects
    /// options it does not know (RFC 6891 §6.1.2 says to ignore them). Asked without.
    Refuses,
}

/// Server cookies by server address (and port: two servers on one address are two
/// servers, each with its own secret), and the client secret.
pub(crate) struct CookieJar {
    secret: Secret,
    servers: Mutex<LruCache<SocketAddr, Known>>,
    /// The source address our queries to each server left from, and the queries that used it
    /// since it was read off a socket.
    sources: Mutex<LruCache<SocketAddr, (IpAddr, u8)>>,
    /// Replies discarded for a COOKIE option that was not ours or not well formed
    /// (RFC 7873 §5.3): forgeries, or a broken server.
    discarded: AtomicU64,
}

impl fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieJar")
            .field("discarded", &self.discarded())
            .finish_non_exhaustive()
    }
}

impl Default for CookieJar {
    fn default() -> CookieJar {
        CookieJar::new(Secret::process(), SERVERS)
    }
}

impl CookieJar {
    pub(crate) fn new(secret: Secret, servers: usize) -> CookieJar {
        CookieJar {
            secret,
            servers: Mutex::new(LruCache::new(
                NonZeroUsize::new(servers).unwrap_or(NonZeroUsize::MIN),
            )),
            sources: Mutex::new(LruCache::new(
                NonZeroUsize::new(servers).unwrap_or(NonZeroUsize::MIN),
            )),
            discarded: AtomicU64::new(0),
        }
    }

    fn servers(&self) -> std::sync::MutexGuard<'_, LruCache<SocketAddr, Known>> {
        // A panic elsewhere cannot leave the map half-written: every change is one call.
        self.servers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What to send from `client` to `server` (RFC 7873 §5.1): our client cookie, with the
    /// server's cookie when we hold one learned for this client cookie. `None`: the server
    /// refuses COOKIE options.
    pub(crate) fn to_send(
        &self,
        client: IpAddr,
        server: SocketAddr,
    ) -> Option<(ClientCookie, Option<ServerCookie>)> {
        let ours = ClientCookie::compute(&self.secret, client, server.ip());
        match self.servers().get(&server) {
            Some(Known::Refuses) => None,
            Some(Known::Cookie { client, server }) if *client == ours => {
                Some((ours, Some(*server)))
            }
            // Learned from another of our addresses: that cookie is no good from this one.
            _ => Some((ours, None)),
        }
    }

    /// The source address a query to `server` leaves from: the one remembered, or, every
    /// [`SOURCE_RECHECK`] queries and for a server not seen yet, `read()` (the socket's own).
    pub(crate) fn source(
        &self,
        server: SocketAddr,
        read: impl FnOnce() -> std::io::Result<IpAddr>,
    ) -> std::io::Result<IpAddr> {
        {
            let mut sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((ip, uses)) = sources.get_mut(&server)
                && *uses < SOURCE_RECHECK
            {
                *uses += 1;
                return Ok(*ip);
            }
        }
        // Read outside the lock: a system call.
        let ip = read()?;
        self.sources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .put(server, (ip, 0));
        Ok(ip)
    }

    /// `server` answered our client cookie `client` with its cookie `cookie` (RFC 7873
    /// §5.3: kept, replacing the one before).
    pub(crate) fn learn(&self, server: SocketAddr, client: ClientCookie, cookie: ServerCookie) {
        let known = Known::Cookie {
            client,
            server: cookie,
        };
        let mut servers = self.servers();
        // Already known (the usual case): no reordering worth a write.
        if servers.peek(&server) != Some(&known) {
            servers.put(server, known);
        }
    }

    /// `server` rejects COOKIE options: ask it without from now on.
    pub(crate) fn refused(&self, server: SocketAddr) {
        self.servers().put(server, Known::Refuses);
    }

    /// The server cookie held for `server`, whatever client cookie it was given for.
    pub(crate) fn server_cookie(&self, server: SocketAddr) -> Option<ServerCookie> {
        match self.servers().peek(&server) {
            Some(Known::Cookie { server, .. }) => Some(*server),
            _ => None,
        }
    }

    pub(crate) fn count_discarded(&self) {
        self.discarded.fetch_add(1, Ordering::Relaxed);
    }

    /// Replies discarded for their COOKIE option so far.
    pub(crate) fn discarded(&self) -> u64 {
        self.discarded.load(Ordering::Relaxed)
    }
}

//! The open stream connections of one listener (TCP, TLS, HTTPS), capped in total and per client
//! prefix. A newcomer past a cap is not refused while some connection sits idle: the one idle
//! longest is closed to make room, as Unbound and Knot do (RFC 7766 §6.2.3 lets a server close
//! idle connections when it needs the resources). Only when every connection that could make
//! room is busy answering is the newcomer refused.
//!
//! Handshakes count against both caps from the moment the TCP connection is accepted: a TLS
//! handshake costs memory and CPU before any query flows. A slow-handshake flood must not stop
//! new clients, and must not push out clients that are merely quiet, so eviction ranks:
//!
//! 1. handshakes older than [`HANDSHAKE_GRACE`] (oldest first): an honest client finishes in a
//!    few round trips, so these are stalled or hostile;
//! 2. established connections with no query in flight, idle longest first;
//! 3. handshakes still within their grace (oldest first): a newcomer is worth as much as
//!    another newcomer, and the older of the two has had longer to finish.
//!
//! Busy connections (a query in flight) are never chosen. The per-prefix cap makes a flood from
//! one network evict only its own connections; a TCP handshake cannot be spoofed, so the
//! prefix is the client's.
//!
//! The query path touches only the connection's own atomics; the registry's lock is taken on
//! accept and close. Choosing whom to evict scans the candidates (the prefix's, or every open
//! connection when the total is full): a few microseconds for the thousands a cap allows, paid
//! only by an accept at a full cap.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::tcp::TcpLimits;

/// How long a handshake may take before it is the first to go when room is needed. TLS takes
/// two round trips; 2 s covers a slow mobile link several times over.
pub(crate) const HANDSHAKE_GRACE: Duration = Duration::from_secs(2);

/// A client's network: the address with the bits past the configured prefix cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Prefix {
    V4(u32),
    V6(u128),
}

impl Prefix {
    fn of(ip: IpAddr, ipv4_bits: u8, ipv6_bits: u8) -> Prefix {
        // An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d; it is an IPv4 client.
        match ip.to_canonical() {
            IpAddr::V4(v4) => Prefix::V4(u32::from(v4) & mask32(ipv4_bits)),
            IpAddr::V6(v6) => Prefix::V6(u128::from(v6) & mask128(ipv6_bits)),
        }
    }
}

fn mask32(bits: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(bits.min(32)))
        .unwrap_or(0)
}

fn mask128(bits: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(bits.min(128)))
        .unwrap_or(0)
}

/// One open connection as the registry sees it.
#[derive(Debug)]
struct Slot {
    id: u64,
    prefix: Prefix,
    /// Milliseconds since the registry's epoch: when it was accepted, and its last activity
    /// (accepted, handshake done, a query read, an answer made).
    opened: u64,
    last: AtomicU64,
    /// Queries being answered.
    busy: AtomicU32,
    established: AtomicBool,
    /// Told when the registry closes this connection to make room.
    evict: Notify,
}

/// How eager the registry is to close a slot: lower goes first; `None` never (busy).
fn rank(slot: &Slot, now: u64) -> Option<(u8, u64)> {
    if slot.busy.load(Ordering::Acquire) > 0 {
        return None;
    }
    if slot.established.load(Ordering::Acquire) {
        return Some((1, slot.last.load(Ordering::Acquire)));
    }
    let grace = u64::try_from(HANDSHAKE_GRACE.as_millis()).unwrap_or(u64::MAX);
    let class = if now.saturating_sub(slot.opened) > grace {
        0
    } else {
        2
    };
    Some((class, slot.opened))
}

#[derive(Debug, Default)]
struct Table {
    next: u64,
    open: HashMap<u64, Arc<Slot>>,
    prefixes: HashMap<Prefix, Vec<Arc<Slot>>>,
}

impl Table {
    /// The best slot to close among `candidates`, if any is idle.
    fn victim<'a>(candidates: impl Iterator<Item = &'a Arc<Slot>>, now: u64) -> Option<u64> {
        candidates
            .filter_map(|s| rank(s, now).map(|r| (r, s.id)))
            .min()
            .map(|(_, id)| id)
    }

    fn remove(&mut self, id: u64) -> Option<Arc<Slot>> {
        let slot = self.open.remove(&id)?;
        if let Some(list) = self.prefixes.get_mut(&slot.prefix) {
            list.retain(|s| s.id != id);
            if list.is_empty() {
                self.prefixes.remove(&slot.prefix);
            }
        }
        Some(slot)
    }

    fn evict(&mut self, id: u64) {
        if let Some(slot) = self.remove(id) {
            slot.evict.notify_one();
        }
    }
}

/// The caps of a [`Registry`].
#[derive(Debug, Clone, Copy)]
struct Caps {
    total: usize,
    per_prefix: usize,
    ipv4_prefix: u8,
    ipv6_prefix: u8,
}

/// The open connections of one listener; shared by its accept loop and its connections.
#[derive(Debug)]
pub(crate) struct Registry {
    caps: Caps,
    epoch: Instant,
    table: Mutex<Table>,
}

impl Registry {
    /// An empty registry with the caps of `limits` (clamped to their bounds).
    pub(crate) fn new(limits: &TcpLimits) -> Arc<Registry> {
        let l = limits.clamped();
        Arc::new(Registry {
            caps: Caps {
                total: l.max_connections,
                per_prefix: l.max_per_prefix,
                ipv4_prefix: l.ipv4_prefix,
                ipv6_prefix: l.ipv6_prefix,
            },
            epoch: Instant::now(),
            table: Mutex::new(Table::default()),
        })
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic mid-update leaves counts a connection off at worst: keep serving.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Room for a connection from `client`, made by closing idle ones if a cap is reached;
    /// `None`: every connection that could make room is busy, so the newcomer is refused.
    pub(crate) fn admit(self: &Arc<Self>, client: IpAddr) -> Option<Guard> {
        let prefix = Prefix::of(client, self.caps.ipv4_prefix, self.caps.ipv6_prefix);
        let now = self.now();
        let mut table = self.lock();
        let mine = table.prefixes.get(&prefix).map_or(0, Vec::len);
        // Both victims are chosen before either is closed, so a refusal closes nothing.
        let for_prefix = if mine >= self.caps.per_prefix {
            let list = table.prefixes.get(&prefix).map(|l| l.iter());
            Some(Table::victim(list.into_iter().flatten(), now)?)
        } else {
            None
        };
        let open = table.open.len() - usize::from(for_prefix.is_some());
        let for_total = if open >= self.caps.total {
            let others = table.open.values().filter(|s| Some(s.id) != for_prefix);
            Some(Table::victim(others, now)?)
        } else {
            None
        };
        for id in [for_prefix, for_total].into_iter().flatten() {
            table.evict(id);
        }
        let id = table.next;
        table.next += 1;
        let slot = Arc::new(Slot {
            id,
            prefix,
            opened: now,
            last: AtomicU64::new(now),
            busy: AtomicU32::new(0),
            established: AtomicBool::new(false),
            evict: Notify::new(),
        });
        table.open.insert(id, Arc::clone(&slot));
        table
            .prefixes
            .entry(prefix)
            .or_default()
            .push(Arc::clone(&slot));
        Some(Guard {
            registry: Arc::clone(self),
            slot,
        })
    }

    /// Connections open now (handshakes included).
    #[cfg(test)]
    pub(crate) fn open(&self) -> usize {
        self.lock().open.len()
    }
}

/// A connection's place in its [`Registry`], held for the connection's life; dropping it
/// frees the place.
#[derive(Debug)]
pub(crate) struct Guard {
    registry: Arc<Registry>,
    slot: Arc<Slot>,
}

impl Guard {
    /// The handshake is done (TLS); plain TCP calls it at once. From now on the connection is
    /// ranked by how long it has been idle rather than by how long its handshake takes.
    pub(crate) fn established(&self) {
        self.slot.last.store(self.registry.now(), Ordering::Release);
        self.slot.established.store(true, Ordering::Release);
    }

    /// A query was answered at once (the hit path): the connection is active, not idle.
    pub(crate) fn touch(&self) {
        self.slot.last.store(self.registry.now(), Ordering::Release);
    }

    /// A query is being answered until the returned token is dropped: the connection is busy
    /// and cannot be closed to make room.
    pub(crate) fn busy(&self) -> Busy {
        self.slot.busy.fetch_add(1, Ordering::AcqRel);
        self.slot.last.store(self.registry.now(), Ordering::Release);
        Busy {
            registry: Arc::clone(&self.registry),
            slot: Arc::clone(&self.slot),
        }
    }

    /// Returns once no query has run on the connection for `idle` (counted from the end of the
    /// last one, or from `established`): for a transport whose queries do not pass through
    /// the stream loop's own timer (HTTP). A query running keeps it from returning.
    pub(crate) async fn idle_for(&self, idle: Duration) {
        loop {
            let last = Duration::from_millis(self.slot.last.load(Ordering::Acquire));
            let deadline = self.registry.epoch + last + idle;
            if self.slot.busy.load(Ordering::Acquire) > 0 {
                // Busy: looked at again an idle period later.
                tokio::time::sleep(idle).await;
            } else if Instant::now() < deadline {
                tokio::time::sleep_until(deadline).await;
            } else {
                return;
            }
        }
    }

    /// Resolves when the registry has closed this connection to make room for another: the
    /// connection should stop reading and close once its answers are written.
    pub(crate) async fn evicted(&self) {
        self.slot.evict.notified().await;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Already gone if it was evicted; its place then went to the newcomer.
        self.registry.lock().remove(self.slot.id);
    }
}

/// A query in flight on a connection ([`Guard::busy`]).
#[derive(Debug)]
pub(crate) struct Busy {
    registry: Arc<Registry>,
    slot: Arc<Slot>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.slot.last.store(self.registry.now(), Ordering::Release);
        self.slot.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
#[path = "conns/tests.rs"]
mod tests;

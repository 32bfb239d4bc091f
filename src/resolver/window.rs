//! How many queries one server may have outstanding: a congestion window per address, grown as
//! the server answers and cut when it starts to lose queries (TCP's AIMD, RFC 5681, applied
//! to datagrams as PowerDNS's per-server throttle and Unbound's infra limits bound the load on
//! one server). An overloaded server drops what overflows its queue; retransmitting into that
//! queue only adds to it (congestion collapse). With the window, a question whose server is
//! full waits in line here for a slot (first come, first served; its timer not running)
//! instead of adding load, and
//! the server sees about one query per question, as fast as it answers.
//!
//! Background walks (prefetch) wait in a line of their own, served only when no client's try is
//! waiting: a refresh never takes a slot a client could have had, and under a sustained
//! overload it waits until its deadline ends it (the entry it would refresh still answers).
//! A client that joins a refresh promotes it: its tries in line move to the clients' line.
//!
//! A slot is held from the moment a query leaves until its reply comes or its timer runs out
//! (a query given up for lost frees its slot even though its exchange still listens for a late
//! reply): slots held by lost queries would otherwise starve the retransmissions that need them.

use std::collections::BinaryHeap;
use std::future::Future;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, MutexGuard};

use lru::LruCache;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Where a new server's window starts, as TCP's initial window (RFC 6928: 10 segments): a
/// burst of questions to a server we know nothing about must not bury it before the first
/// losses can say how much it takes. It doubles with every round trip that fills it (slow
/// start), so a healthy server is soon not held back.
pub(crate) const INITIAL_WINDOW: f64 = 16.0;
/// The window never shrinks below this: a server that answers anything gets a few queries at
/// once (a question stuck behind a slow one would otherwise wait a whole RTT per query).
pub(crate) const MIN_WINDOW: f64 = 4.0;
/// What a congestion event leaves of the window: gentler than Reno's 0.5 (CUBIC uses 0.7, RFC
/// 9438 §4.6), since a server whose queue overflowed for a moment still answers at nearly the
/// rate that overflowed it. Measured with overload.sh (a leaf that drops past its rate): 0.5
/// got 4,700-4,800 answers/s at 1.11 queries per miss, 0.7 5,270 at 1.13, 0.8 5,550-5,650 at
/// 1.17 (Unbound 5,300-5,700 at 4 queries per miss); the unit test's 1.06 became 1.13.
pub(crate) const DECREASE: f64 = 0.8;
/// Nor grows beyond this.
pub(crate) const MAX_WINDOW: f64 = 4096.0;
/// Windows remembered (as many servers as the infrastructure cache keeps).
const MAX_SERVERS: NonZeroUsize = NonZeroUsize::new(10_000).expect("non-zero");

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain counters: a panic elsewhere leaves nothing half-written that matters.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug)]
struct State {
    outstanding: u32,
    window: f64,
    /// Slow start below this (the window grows by one per reply), congestion avoidance above
    /// (by one per window of replies).
    threshold: f64,
    /// When the window was last cut: a loss of a query sent before that is part of the same
    /// congestion event and does not cut it again (as TCP's recovery does).
    decreased: Option<Instant>,
    /// Tries waiting for room, the question closest to its deadline first (a retransmission
    /// after a loss goes before newer questions): a slot given back goes to the first of
    /// them, never to a newcomer, so no question starves behind later ones.
    queue: BinaryHeap<Waiter>,
    /// Background tries in line (see [`Priority`]), in the same order, served only when
    /// `queue` is empty.
    background: BinaryHeap<Waiter>,
    /// Breaks ties between equal deadlines: first come, first served.
    joined: u64,
}

/// One try in line.
#[derive(Debug)]
struct Waiter {
    deadline: Instant,
    joined: u64,
    tx: oneshot::Sender<Slot>,
    priority: Priority,
}

/// Whose walk a try belongs to: a client's (the default), or a background refresh nobody waits
/// for yet, until a client joins it ([`Priority::promote`]). Shared by the walk's budget and
/// its entry in the map of walks in flight.
#[derive(Debug, Clone, Default)]
pub(crate) struct Priority(Option<Arc<AtomicBool>>);

impl Priority {
    /// A background walk's.
    pub(crate) fn background() -> Priority {
        Priority(Some(Arc::new(AtomicBool::new(true))))
    }

    /// Whether the walk still has no client waiting for it.
    pub(crate) fn is_background(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|b| b.load(AtomicOrdering::Relaxed))
    }

    /// A client now waits for the walk: its next tries, and those in line, go as a client's.
    pub(crate) fn promote(&self) {
        if let Some(b) = &self.0 {
            b.store(false, AtomicOrdering::Relaxed);
        }
    }

    /// The clients that waited for a background walk have all gone away: its next tries, and
    /// those in line, wait behind clients' again. A client's walk stays one.
    pub(crate) fn demote(&self) {
        if let Some(b) = &self.0 {
            b.store(true, AtomicOrdering::Relaxed);
        }
    }
}

impl Waiter {
    fn key(&self) -> std::cmp::Reverse<(Instant, u64)> {
        std::cmp::Reverse((self.deadline, self.joined))
    }
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Waiter {}

impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Waiter {
    /// The heap's greatest is the earliest deadline.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// One server's window.
#[derive(Debug)]
pub(crate) struct Window {
    state: Mutex<State>,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            state: Mutex::new(State {
                outstanding: 0,
                window: INITIAL_WINDOW,
                threshold: MAX_WINDOW,
                decreased: None,
                queue: BinaryHeap::new(),
                background: BinaryHeap::new(),
                joined: 0,
            }),
        }
    }
}

/// A query's place in its server's window, given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    window: Option<Arc<Window>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(w) = self.window.take() {
            let mut s = lock(&w.state);
            s.outstanding = s.outstanding.saturating_sub(1);
            w.admit(&mut s);
        }
    }
}

/// Waits for a slot in line (see [`Window::wait`]).
pub(crate) type Wait = Pin<Box<dyn Future<Output = Slot> + Send>>;

impl Window {
    fn full(s: &State) -> bool {
        f64::from(s.outstanding) >= s.window.floor()
    }

    fn slot(self: &Arc<Self>) -> Slot {
        Slot {
            window: Some(Arc::clone(self)),
        }
    }

    /// Hands slots to the tries in line while the window has room: clients' first, background
    /// ones only when no client's try waits.
    fn admit(self: &Arc<Self>, s: &mut State) {
        if Self::full(s) {
            return;
        }
        if s.background.iter().any(|w| !w.priority.is_background()) {
            // Walks a client joined since their tries got in line.
            let (promoted, still): (Vec<Waiter>, Vec<Waiter>) = std::mem::take(&mut s.background)
                .into_iter()
                .partition(|w| !w.priority.is_background());
            s.queue.extend(promoted);
            s.background = still.into();
        }
        while !Self::full(s) {
            let waiter = match s.queue.pop() {
                // A refresh whose clients all went away since it was promoted: back in its
                // own line.
                Some(waiter) if waiter.priority.is_background() => {
                    s.background.push(waiter);
                    continue;
                }
                Some(waiter) => waiter,
                None => match s.background.pop() {
                    Some(waiter) => waiter,
                    None => return,
                },
            };
            s.outstanding += 1;
            if let Err(mut slot) = waiter.tx.send(self.slot()) {
                // That try is gone (its exchange ended): the slot was never used.
                slot.window = None;
                s.outstanding -= 1;
            }
        }
    }

    fn in_line(s: &State) -> bool {
        !s.queue.is_empty() || !s.background.is_empty()
    }

    /// A slot now, if the window has room and nobody is in line.
    pub(crate) fn try_take(self: &Arc<Self>) -> Option<Slot> {
        let mut s = lock(&self.state);
        if Self::full(&s) || Self::in_line(&s) {
            return None;
        }
        s.outstanding += 1;
        Some(self.slot())
    }

    /// A slot whatever the window says: for a query that follows at once on a reply from the
    /// same server (TCP after TC=1, no EDNS after FORMERR), whose own slot that reply freed.
    pub(crate) fn force(self: &Arc<Self>) -> Slot {
        lock(&self.state).outstanding += 1;
        self.slot()
    }

    /// Joins the line for a slot, for a question due by `deadline`: the clients' line, or the
    /// background one for a walk of that `priority`.
    pub(crate) fn wait(self: &Arc<Self>, deadline: Instant, priority: Priority) -> Wait {
        let (tx, rx) = oneshot::channel();
        {
            let mut s = lock(&self.state);
            s.joined += 1;
            let waiter = Waiter {
                deadline,
                joined: s.joined,
                tx,
                priority,
            };
            let line = if waiter.priority.is_background() {
                &mut s.background
            } else {
                &mut s.queue
            };
            // Tries whose exchanges ended while in line leave their places behind; sweep them
            // now and then so a line that does not move stays small.
            if line.len() >= 64 && line.len().is_power_of_two() {
                line.retain(|w| !w.tx.is_closed());
            }
            line.push(waiter);
            self.admit(&mut s);
        }
        let window = Arc::clone(self);
        Box::pin(async move {
            match rx.await {
                Ok(slot) => slot,
                // The line is the window's, which this future keeps alive: cannot happen.
                Err(_) => window.force(),
            }
        })
    }

    /// The server answered: more room, if the window is in use (RFC 7661: a window that is
    /// not filled says nothing about what the server could take, and one grown large while
    /// idle would bury the server at the next burst).
    pub(crate) fn on_reply(self: &Arc<Self>) {
        let mut s = lock(&self.state);
        let in_use = f64::from(s.outstanding) * 2.0 >= s.window || Self::in_line(&s);
        if in_use {
            let grow = if s.window < s.threshold {
                1.0
            } else {
                1.0 / s.window
            };
            s.window = (s.window + grow).min(MAX_WINDOW);
        }
        self.admit(&mut s);
    }

    /// A query sent at `sent` was lost: cut the window, once per congestion event.
    pub(crate) fn on_loss(&self, sent: Instant, now: Instant) {
        let mut s = lock(&self.state);
        if s.decreased.is_some_and(|d| sent <= d) {
            return;
        }
        s.threshold = (s.window * DECREASE).max(MIN_WINDOW);
        s.window = s.threshold;
        s.decreased = Some(now);
    }

    /// The window's size and the queries in it.
    #[cfg(test)]
    pub(crate) fn size(&self) -> (f64, u32) {
        let s = lock(&self.state);
        (s.window, s.outstanding)
    }
}

/// Every server's window.
#[derive(Debug)]
pub(crate) struct Windows {
    map: Mutex<LruCache<IpAddr, Arc<Window>>>,
}

impl Default for Windows {
    fn default() -> Self {
        Windows {
            map: Mutex::new(LruCache::new(MAX_SERVERS)),
        }
    }
}

impl Windows {
    pub(crate) fn of(&self, addr: IpAddr) -> Arc<Window> {
        let mut map = lock(&self.map);
        Arc::clone(map.get_or_insert(addr, || Arc::new(Window::default())))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_full_window_refuses_until_a_slot_is_given_back() {
        let w = Arc::new(Window::default());
        let slots: Vec<Slot> = (0..INITIAL_WINDOW as usize)
            .map(|_| w.try_take().expect("room"))
            .collect();
        assert!(w.try_take().is_none());
        drop(slots);
        assert!(w.try_take().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn one_congestion_event_shrinks_the_window_once() {
        let w = Arc::new(Window::default());
        let t0 = Instant::now();
        tokio::time::advance(Duration::from_millis(100)).await;
        let now = Instant::now();
        // Many queries sent before the first loss was seen: one decrease.
        for _ in 0..50 {
            w.on_loss(t0, now);
        }
        assert_eq!(w.size().0, INITIAL_WINDOW * DECREASE);
        // A loss of a query sent after that decrease is a new event.
        tokio::time::advance(Duration::from_millis(10)).await;
        w.on_loss(Instant::now(), Instant::now());
        assert_eq!(w.size().0, INITIAL_WINDOW * DECREASE * DECREASE);
        // Repeated events stop at the floor.
        for _ in 0..20 {
            tokio::time::advance(Duration::from_millis(10)).await;
            w.on_loss(Instant::now(), Instant::now());
        }
        assert_eq!(w.size().0, MIN_WINDOW);
        // Replies while it is not in use say nothing about what the server could take.
        w.on_reply();
        assert_eq!(w.size().0, MIN_WINDOW);
        // In use, it grows again: one per window's worth of replies above the threshold.
        let _held: Vec<Slot> = (0..4).map(|_| w.try_take().expect("room")).collect();
        for _ in 0..4 {
            w.on_reply();
        }
        assert!(
            (w.size().0 - (MIN_WINDOW + 1.0)).abs() < 0.2,
            "{:?}",
            w.size()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_gets_the_slot_given_back() {
        let w = Arc::new(Window::default());
        w.on_loss(Instant::now(), Instant::now());
        for _ in 0..8 {
            tokio::time::advance(Duration::from_millis(1)).await;
            w.on_loss(Instant::now(), Instant::now());
        }
        let (size, _) = w.size();
        let mut held: Vec<Slot> = (0..size as usize)
            .map(|_| w.try_take().expect("room"))
            .collect();
        let waiter = tokio::spawn(w.wait(Instant::now(), Priority::default()));
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "the window is full");
        drop(held.pop());
        let slot = tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("woken")
            .expect("task");
        assert_eq!(w.size().1, size as u32);
        drop(slot);
    }

    /// Fills `w` and returns the slots held.
    fn fill(w: &Arc<Window>) -> Vec<Slot> {
        std::iter::from_fn(|| w.try_take()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_background_try_waits_behind_every_clients_try() {
        let w = Arc::new(Window::default());
        let mut held = fill(&w);
        let soon = Instant::now();
        let later = soon + Duration::from_secs(3);
        // The refresh came first and is due first; the client came later, due later.
        let background = tokio::spawn(w.wait(soon, Priority::background()));
        let client = tokio::spawn(w.wait(later, Priority::default()));
        tokio::task::yield_now().await;
        drop(held.pop());
        tokio::task::yield_now().await;
        assert!(client.is_finished(), "the client's try got the slot");
        assert!(!background.is_finished(), "the refresh still waits");
        // No client in line: the refresh gets the next slot, and no newcomer jumps it.
        drop(held.pop());
        assert!(w.try_take().is_none());
        tokio::task::yield_now().await;
        assert!(background.is_finished());
    }

    #[tokio::test(start_paused = true)]
    async fn a_refresh_a_client_joins_goes_as_a_clients_try() {
        let w = Arc::new(Window::default());
        let mut held = fill(&w);
        let now = Instant::now();
        let priority = Priority::background();
        let refresh = tokio::spawn(w.wait(now, priority.clone()));
        let client = tokio::spawn(w.wait(now + Duration::from_secs(3), Priority::default()));
        tokio::task::yield_now().await;
        priority.promote();
        assert!(!priority.is_background());
        // Now due first among clients' tries: it goes first.
        drop(held.pop());
        tokio::task::yield_now().await;
        assert!(refresh.is_finished(), "promoted into the clients' line");
        assert!(!client.is_finished());
        drop(held.pop());
        tokio::task::yield_now().await;
        assert!(client.is_finished());
    }
}

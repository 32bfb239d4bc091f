//! Asking one zone's servers until one gives a usable reply, the way mature resolvers do it
//! (RFC 1035 §4.2.1, RFC 1536; Unbound's `outbound-msg-retry`): the best server first; when
//! its timeout passes, a retransmission to the next best (or to the same one when it is the
//! only one), each with exponential backoff, while every earlier try keeps listening for a
//! late reply; until a reply comes, every server has had its tries, or the query's time budget
//! is spent. A try that fails outright (a transport error) is over: the next goes out at once,
//! as in Unbound, not when its timer would have fired. Lame and failing servers are left at
//! once; glueless servers' addresses are looked up only when no known address worked.
//! Servers out of rotation (see
//! [`Infra`](super::infra::Infra)) are skipped, so a zone whose servers are all dead fails at
//! once instead of waiting out timeouts.

use std::future::{Future, poll_fn};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};
use tokio::time::Instant;

use self::candidates::{Candidate, pick};
use super::Resolver;
use super::budget::{Budget, ResolveError};
use super::classify::Classified;
use super::delegation::ServerSet;
use super::forward::Forward;
use super::infra::{MAX_RTO, Standing};
use super::trace::TraceStep;
use super::upstream::{Encrypted, UpstreamError, UpstreamFuture, UpstreamQuery, UpstreamReply};
use super::window::{Slot, Wait};
use crate::limits::MAX_MINIMISE_TIMEOUT_COUNT;
use crate::metrics::Metrics;

mod candidates;
mod reply;
#[cfg(test)]
mod tests;

/// DNS servers listen on port 53; root hints and glue carry no port.
const DNS_PORT: u16 = 53;
/// Tries per server and question, when time allows. Seven tries survive heavy random loss;
/// a dead server leaves rotation after fewer (see `Infra`: five losses in a row, so a server
/// that answers nothing gets Unbound's `outbound-msg-retry`, 5), so it does not get them all.
/// Of those, the tries that may fail outright (a transport error, after which no reply can
/// come) are bounded by `[recursion] outbound_msg_retry` (`Limits::outbound_msg_retry`): failing
/// at once, they cost no time, so only that count bounds them.
/// A try given up for lost still listens for its reply, and the later ones' timers, grown by
/// backoff, let a slow server's late reply come in.
const MAX_TRIES: u32 = 7;
/// An exchange that heard nothing at all from a server it tried this often takes the server
/// out of rotation, so the next questions for the zone fail (or go stale) at once.
const GIVE_UP_TRIES: u32 = 3;
/// A TCP try includes the handshake: give it at least this long.
const MIN_TCP_TIMEOUT: Duration = Duration::from_millis(500);

/// A query on the wire, still listening for its reply.
struct Attempt<'u> {
    cand: usize,
    sent: Instant,
    tcp: bool,
    edns: bool,
    reply: UpstreamFuture<'u>,
    /// The server's counters (`tern_upstream_*{server}`).
    server: Arc<crate::metrics::counts::Upstream>,
    /// Its place in the server's window, until its reply comes or it is given up for lost.
    slot: Option<Slot>,
}

// Made once per reply and consumed at once: boxing the reply would cost an allocation each.
#[allow(clippy::large_enum_variant)]
enum Event {
    Reply(usize, Result<UpstreamReply, UpstreamError>),
    /// The server a try waited for has room in its window now.
    Room(Slot),
    Wake,
}

/// A try waiting for room in its server's window: the candidate, and the wait.
type Waiting = (usize, Wait);

/// Waits for the first reply among the attempts, room for the waiting try, or until `until`.
async fn next_event(
    pending: &mut [Attempt<'_>],
    waiting: &mut Option<Waiting>,
    until: Instant,
) -> Event {
    let sleep = tokio::time::sleep_until(until);
    tokio::pin!(sleep);
    poll_fn(|cx| {
        for (i, a) in pending.iter_mut().enumerate() {
            if let Poll::Ready(r) = a.reply.as_mut().poll(cx) {
                return Poll::Ready(Event::Reply(i, r));
            }
        }
        if let Some((_, wait)) = waiting.as_mut()
            && let Poll::Ready(slot) = wait.as_mut().poll(cx)
        {
            return Poll::Ready(Event::Room(slot));
        }
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Event::Wake),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// The state of one question to one zone's servers.
struct Exchange<'u> {
    /// The zone asked about (the infrastructure cache keys its marks by its `LowerName`, made
    /// only when a server is marked or marks are read).
    zone_name: Name,
    qname: Name,
    qtype: RecordType,
    cands: Vec<Candidate>,
    pending: Vec<Attempt<'u>>,
    /// When the newest try is given up for lost and the next one goes out.
    retransmit_at: Instant,
    /// The try that `retransmit_at` belongs to: (candidate, sent).
    newest: Option<(usize, Instant)>,
    /// A server left out because it is our own listener (see `loopguard`).
    looped: Option<SocketAddr>,
    /// Whether any server address offered was not our own listener (usable or not): then a
    /// failure is that server's, not the loop's.
    others: bool,
    /// The try waiting for room in its server's window; no timer runs meanwhile.
    waiting: Option<Waiting>,
    /// The servers are recursive resolvers we forward to (RD=1; answers without AA are theirs
    /// to give).
    recursive: bool,
    /// They are asked over DNS over TLS or HTTPS, and only so (a forward zone's `tls_name` or
    /// `url`).
    tls: Option<Encrypted>,
    /// A minimised query (RFC 9156): after a few timeouts it is given up, for the full name.
    minimised: bool,
    /// Tries given up for lost so far.
    losses: u32,
}

impl Exchange<'_> {
    /// When the try the retransmission timer waits for has ended (answered or refused), the
    /// next one goes out at once.
    fn go_on_if_newest(&mut self, cand: usize, sent: Instant, now: Instant) {
        if self
            .newest
            .is_some_and(|(n, newest)| n == cand && newest <= sent)
        {
            self.newest = None;
            self.retransmit_at = now;
        }
    }
}

impl Resolver {
    /// Asks the servers of `set` until one gives a usable reply (an answer, alias, referral
    /// or negative answer).
    pub(super) async fn ask_zone(
        &self,
        set: &ServerSet,
        qname: &Name,
        qtype: RecordType,
        budget: &mut Budget,
    ) -> Result<Classified, ResolveError> {
        self.ask(set, qname, qtype, None, false, budget).await
    }

    /// [`Resolver::ask_zone`] for a minimised query (RFC 9156): after
    /// `MAX_MINIMISE_TIMEOUT_COUNT` timeouts it fails with
    /// [`ResolveError::MinimisedUnanswered`], leaving the servers in rotation, so that the walk
    /// asks the full name instead (Unbound's relaxed mode).
    pub(super) async fn ask_zone_minimised(
        &self,
        set: &ServerSet,
        qname: &Name,
        qtype: RecordType,
        budget: &mut Budget,
    ) -> Result<Classified, ResolveError> {
        self.ask(set, qname, qtype, None, true, budget).await
    }

    /// [`Resolver::ask_zone`], or, with `forward`, to that forward zone's recursive servers
    /// (RD=1), over TLS when it says so.
    pub(super) async fn ask_servers(
        &self,
        set: &ServerSet,
        qname: &Name,
        qtype: RecordType,
        forward: Option<&Forward>,
        budget: &mut Budget,
    ) -> Result<Classified, ResolveError> {
        self.ask(set, qname, qtype, forward, false, budget).await
    }

    async fn ask(
        &self,
        set: &ServerSet,
        qname: &Name,
        qtype: RecordType,
        forward: Option<&Forward>,
        minimised: bool,
        budget: &mut Budget,
    ) -> Result<Classified, ResolveError> {
        let default_port = self.upstream_port.unwrap_or(DNS_PORT);
        let mut known: Vec<(IpAddr, u16)> = set
            .servers
            .iter()
            .flat_map(|s| s.addrs.iter().map(|a| (*a, s.port.unwrap_or(default_port))))
            .collect();
        known.sort();
        known.dedup();
        known.retain(|(a, _)| !budget.avoid.contains(a));
        let mut ex = Exchange {
            zone_name: set.zone.clone(),
            qname: qname.clone(),
            qtype,
            cands: Vec::new(),
            pending: Vec::new(),
            retransmit_at: budget.now,
            newest: None,
            looped: None,
            others: false,
            waiting: None,
            recursive: forward.is_some(),
            tls: forward.and_then(|f| f.tls.clone()),
            minimised,
            losses: 0,
        };
        self.add_candidates(&mut ex, &known, budget.now);
        let mut glueless: Vec<Name> = set
            .servers
            .iter()
            .filter(|s| s.addrs.is_empty())
            .map(|s| s.name.clone())
            .collect();
        loop {
            let now = budget.now;
            // Time for the next try: nothing on the wire and no timer running, or the newest
            // try's time is up (or it failed outright, which ends its time at once).
            if ex.waiting.is_none()
                && ((ex.pending.is_empty() && ex.newest.is_none()) || now >= ex.retransmit_at)
            {
                if let Some((i, _)) = ex.newest.take() {
                    self.lost(&mut ex, i, now);
                    ex.losses += 1;
                    // Not the servers' death, perhaps only the minimised query's: they stay
                    // in rotation for the full one.
                    if ex.minimised && ex.losses >= MAX_MINIMISE_TIMEOUT_COUNT {
                        return Err(ResolveError::MinimisedUnanswered(qname.clone()));
                    }
                }
                let untried = ex.cands.iter().any(|c| !c.done && c.tries == 0);
                match pick(&ex.cands) {
                    Some(i) if untried || glueless.is_empty() => {
                        let c = &mut ex.cands[i];
                        let claimed = if c.probe {
                            // Another question may be probing this server right now.
                            self.infra.take_probe(c.addr, now)
                        } else {
                            // Losses seen by this or other questions took it out meanwhile.
                            c.tries == 0 || self.infra.standing(c.addr, now) != Standing::Down
                        };
                        if !claimed {
                            c.done = true;
                            continue;
                        }
                        match c.window.try_take() {
                            Some(slot) => self.send(&mut ex, i, slot, budget)?,
                            // Its server is full: wait in line, with no timer running, rather
                            // than add to the load (or go to a worse server meanwhile).
                            None => {
                                let line = c.window.wait(budget.deadline, budget.priority.clone());
                                ex.waiting = Some((i, line));
                            }
                        }
                    }
                    _ if !glueless.is_empty() => {
                        // Every known address has been tried: look up the glueless servers
                        // (NXNS-bounded). Earlier tries keep their sockets meanwhile.
                        for ns in std::mem::take(&mut glueless) {
                            let addrs = self.ns_addresses(&ns, budget).await?;
                            let new: Vec<(IpAddr, u16)> = addrs
                                .into_iter()
                                .filter(|a| !ex.cands.iter().any(|c| c.addr == *a))
                                .filter(|a| !budget.avoid.contains(a))
                                .map(|a| (a, default_port))
                                .collect();
                            self.add_candidates(&mut ex, &new, budget.now);
                        }
                        continue;
                    }
                    // Nothing left to send, and the last try's time is up.
                    _ if ex.pending.is_empty() || now >= ex.retransmit_at => {
                        self.give_up(&ex, now);
                        // Every server was ourselves: the loop is the whole story. With
                        // others that failed too, theirs is the usual error.
                        if let Some(server) = ex.looped
                            && !ex.others
                        {
                            return Err(ResolveError::ForwardingLoop {
                                zone: set.zone.clone(),
                                server,
                            });
                        }
                        return Err(ResolveError::NoReachableAuthority(set.zone.clone()));
                    }
                    _ => {}
                }
            }
            let deadline = budget.deadline;
            let until = if ex.waiting.is_some() {
                deadline
            } else {
                ex.retransmit_at.min(deadline)
            };
            match next_event(&mut ex.pending, &mut ex.waiting, until).await {
                Event::Wake => {
                    // Edge: a timer fired; the walk's time is now whatever the clock says.
                    budget.advance(Instant::now());
                    let now = budget.now;
                    if now >= deadline {
                        self.give_up(&ex, now);
                        return Err(ResolveError::Timeout(budget.limits.timeout));
                    }
                }
                Event::Room(slot) => {
                    if let Some((i, _)) = ex.waiting.take() {
                        self.send(&mut ex, i, slot, budget)?;
                    }
                }
                Event::Reply(p, result) => {
                    let attempt = ex.pending.swap_remove(p);
                    if let Some(done) = self.on_reply(&mut ex, attempt, result, budget)? {
                        return Ok(done);
                    }
                }
            }
        }
    }

    /// The exchange failed. Servers that never answered it despite several tries are taken
    /// out of rotation until their next probe: the zone is down, and the next questions for it
    /// should fail (or be answered stale) at once rather than wait out the same timeouts.
    fn give_up(&self, ex: &Exchange<'_>, now: Instant) {
        for c in &ex.cands {
            // A server that answered other questions meanwhile is overloaded, not dead: it
            // stays in rotation (its window has shrunk instead).
            let answering = c
                .first_sent
                .is_some_and(|t| self.infra.replied_since(c.addr, t, now));
            if !c.replied && c.tries >= GIVE_UP_TRIES && !answering {
                self.infra.take_out(c.addr, now);
            }
        }
    }

    /// Puts a query to candidate `i` on the wire and sets the retransmission timer.
    fn send<'u>(
        &'u self,
        ex: &mut Exchange<'u>,
        i: usize,
        slot: Slot,
        budget: &mut Budget,
    ) -> Result<(), ResolveError> {
        // Edge: the retransmission timer runs from the moment the query leaves.
        budget.advance(Instant::now());
        let now = budget.now;
        let remaining = budget.remaining()?;
        budget.spend_upstream()?;
        let cd = self.checking_disabled(ex, ex.cands[i].tries > 0, budget);
        let c = &mut ex.cands[i];
        // RFC 6298 §5.5: back off exponentially on each retransmission to the same server. A
        // try that failed outright never reached it: no sign of a slow path or a full queue.
        let backoffs = c.tries.saturating_sub(c.failed).min(4);
        let rto = self
            .infra
            .timeout(c.addr, now)
            .saturating_mul(1 << backoffs)
            .min(MAX_RTO);
        // Our own delay in reading replies is ours, not the server's: wait for it too.
        let timeout = self.infra.lag()
            + if c.tcp {
                (rto * 2).max(MIN_TCP_TIMEOUT)
            } else {
                rto
            };
        c.tries += 1;
        c.first_sent.get_or_insert(now);
        if c.tries >= MAX_TRIES || c.probe {
            c.done = true;
        }
        let query = UpstreamQuery {
            server: SocketAddr::new(c.addr, c.port),
            qname: ex.qname.clone(),
            qtype: ex.qtype,
            tcp: c.tcp,
            edns: c.edns,
            rd: ex.recursive,
            cd,
            tls: ex.tls.clone(),
        };
        let server = self.metrics.upstream.server(query.server);
        let reply = self.upstream.query(query);
        let metrics = &self.metrics;
        let counted = Arc::clone(&server);
        ex.pending.push(Attempt {
            cand: i,
            sent: now,
            tcp: c.tcp,
            edns: c.edns,
            // Counted when it goes out: a try whose exchange ended before it was first polled
            // never leaves.
            reply: Box::pin(async move {
                Metrics::inc(&metrics.upstream_queries);
                Metrics::inc(&counted.queries);
                reply.await
            }),
            server,
            slot: Some(slot),
        });
        ex.retransmit_at = now + timeout.min(remaining);
        ex.newest = Some((i, now));
        Ok(())
    }

    /// Whether a query to a forwarder goes with CD=1, as Unbound decides it: when we validate
    /// the name, a first try goes without, so that the forwarder's own validation and cache
    /// serve us; a retry to the same forwarder (after its SERVFAIL, which may be its
    /// validation failing, or a loss) and every query of a walk retrying a bogus answer go
    /// with CD=1, so that we get the data and judge it ourselves. Never to an authoritative
    /// server (RD=0): CD means nothing to it.
    fn checking_disabled(&self, ex: &Exchange<'_>, retry: bool, budget: &Budget) -> bool {
        let validating = self
            .validator
            .as_ref()
            .is_some_and(|v| !v.under_negative_anchor(&ex.qname));
        ex.recursive && validating && (retry || !budget.avoid.is_empty())
    }

    /// The newest try's timer ran out: a loss, for the trace and the infrastructure cache.
    fn lost(&self, ex: &mut Exchange<'_>, i: usize, now: Instant) {
        let newest = ex
            .pending
            .iter_mut()
            .filter(|a| a.cand == i)
            .max_by_key(|a| a.sent);
        let sent = newest.as_ref().map_or(now, |a| a.sent);
        Metrics::inc(&self.metrics.upstream_timeouts);
        if let Some(a) = newest {
            Metrics::inc(&a.server.timeouts);
            // Still listening for it, but no longer counted against the server's window.
            if let Some(slot) = a.slot.take() {
                drop(slot);
                ex.cands[i].window.on_loss(sent, now);
            }
        }
        let c = &ex.cands[i];
        self.infra.record_loss(c.addr, sent, now);
        self.trace_try(ex, i, c.tcp, now.saturating_duration_since(sent), || {
            "no reply yet: retransmitting (still listening)".to_string()
        });
    }

    /// One line for `tern resolve --trace` and the debug log, built only when someone reads it.
    fn trace_try(
        &self,
        ex: &Exchange<'_>,
        cand: usize,
        tcp: bool,
        rtt: Duration,
        outcome: impl FnOnce() -> String,
    ) {
        if self.trace.is_none() && !tracing::enabled!(tracing::Level::DEBUG) {
            return;
        }
        self.trace(TraceStep {
            server: SocketAddr::new(ex.cands[cand].addr, ex.cands[cand].port),
            zone: ex.zone_name.clone(),
            qname: ex.qname.clone(),
            qtype: ex.qtype,
            tcp,
            encrypted: ex.tls.as_ref().map(Encrypted::kind),
            outcome: outcome(),
            rtt,
        });
    }
}

//! The scenario's side of the wire: an [`Upstream`] whose queries are answered from the
//! scenario's RANGE entries (in the step window, for the range's addresses), or else held
//! pending for a later REPLY, ERROR or TIMEOUT step, as testbound's fake event loop does.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use tokio::sync::oneshot;

use super::rpl::Range;
use crate::outbound::Expected;
use crate::resolver::upstream::{
    Upstream, UpstreamError, UpstreamFuture, UpstreamQuery, UpstreamReply,
};

/// What a pending query's step makes of it.
#[derive(Debug)]
pub(super) enum Fate {
    Reply(Message),
    /// The transport failed (testbound's ERROR: a closed connection).
    Error,
    /// No reply ever comes; the resolver's own timer decides when it gives up.
    Timeout,
}

/// An upstream query no range answered.
pub(super) struct Pending {
    pub(super) query: Message,
    pub(super) tcp: bool,
    /// When the resolver stopped waiting, the receiver is gone and this is closed.
    answer: oneshot::Sender<Fate>,
    /// Alive while the resolver still holds the query's future, after a TIMEOUT too (tern
    /// keeps listening for a late reply until the exchange that sent it ends).
    held: Weak<()>,
}

impl Pending {
    /// Whether the resolver still waits for this.
    pub(super) fn live(&self) -> bool {
        !self.answer.is_closed()
    }

    /// Settles the query; the result says whether the resolver still holds it.
    pub(super) fn settle(self, fate: Fate) -> Weak<()> {
        // The resolver may have stopped waiting meanwhile: then nobody hears this.
        let _ = self.answer.send(fate);
        self.held
    }
}

#[derive(Default)]
struct State {
    step: u32,
    /// Newest first, as testbound's pending list.
    pending: Vec<Pending>,
    sent: usize,
}

pub(super) struct ScriptedNet {
    ranges: Vec<Range>,
    state: Mutex<State>,
}

impl ScriptedNet {
    pub(super) fn new(ranges: Vec<Range>) -> Arc<ScriptedNet> {
        Arc::new(ScriptedNet {
            ranges,
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The step now being run: ranges answer only within their window.
    pub(super) fn set_step(&self, step: u32) {
        self.state().step = step;
    }

    /// Queries sent so far (a cheap progress marker for the runner).
    pub(super) fn sent(&self) -> usize {
        self.state().sent
    }

    /// Takes the newest pending query the resolver still waits for.
    pub(super) fn take_newest(&self) -> Option<Pending> {
        let mut state = self.state();
        state.pending.retain(Pending::live);
        (!state.pending.is_empty()).then(|| state.pending.remove(0))
    }

    /// Takes the first live pending query `pick` accepts.
    pub(super) fn take_matching(&self, pick: impl Fn(&Pending) -> bool) -> Option<Pending> {
        let mut state = self.state();
        state.pending.retain(Pending::live);
        let at = state.pending.iter().position(pick)?;
        Some(state.pending.remove(at))
    }

    /// Whether a live pending query is one `pick` accepts.
    pub(super) fn any_pending(&self, pick: impl Fn(&Pending) -> bool) -> bool {
        let mut state = self.state();
        state.pending.retain(Pending::live);
        state.pending.iter().any(pick)
    }

    /// The questions of live pending queries (for the report at the end).
    pub(super) fn live_pending(&self) -> Vec<String> {
        let mut state = self.state();
        state.pending.retain(Pending::live);
        state
            .pending
            .iter()
            .map(|p| format!("{:?}", p.query.queries))
            .collect()
    }

    /// The reply of the first range entry that answers `query` sent to `q.server` now.
    fn range_reply(&self, q: &UpstreamQuery, query: &Message, step: u32) -> Option<Message> {
        self.ranges
            .iter()
            .filter(|r| r.start <= step && step <= r.end)
            .filter(|r| r.addresses.is_empty() || r.addresses.contains(&q.server.ip()))
            .flat_map(|r| &r.entries)
            .find(|e| e.check(query, q.tcp).is_ok())
            .map(|e| e.reply_to(query))
    }
}

/// The query as the resolver puts it on the wire.
fn wire_query(q: &UpstreamQuery, id: u16) -> Message {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(q.qname.clone(), q.qtype));
    m.metadata.recursion_desired = q.rd;
    if q.edns {
        let mut edns = Edns::new();
        edns.set_dnssec_ok(true);
        m.set_edns(edns);
    }
    m
}

impl Upstream for ScriptedNet {
    fn query(&self, q: UpstreamQuery) -> UpstreamFuture<'_> {
        Box::pin(async move {
            // Dropped with the future: when the resolver stops listening for this query.
            let held = Arc::new(());
            let id: u16 = rand::random();
            let query = wire_query(&q, id);
            let fate = {
                let mut state = self.state();
                state.sent += 1;
                match self.range_reply(&q, &query, state.step) {
                    Some(reply) => Ok(Fate::Reply(reply)),
                    None => {
                        let (tx, rx) = oneshot::channel();
                        state.pending.insert(
                            0,
                            Pending {
                                query,
                                tcp: q.tcp,
                                answer: tx,
                                held: Arc::downgrade(&held),
                            },
                        );
                        Err(rx)
                    }
                }
            };
            let fate = match fate {
                Ok(fate) => fate,
                // A dropped sender (the scenario ended) is a query never answered.
                Err(rx) => rx.await.unwrap_or(Fate::Timeout),
            };
            match fate {
                Fate::Error => Err(UpstreamError::Network("scenario: connection closed".into())),
                Fate::Timeout => std::future::pending().await,
                Fate::Reply(reply) => {
                    // Through the wire format, and through the outbound client's acceptance
                    // test: a reply without our ID or question is one it throws away.
                    let bytes = reply
                        .to_vec()
                        .map_err(|e| UpstreamError::Network(e.to_string()))?;
                    let reply = Message::from_vec(&bytes)
                        .map_err(|e| UpstreamError::Network(e.to_string()))?;
                    if !Expected::answer(id, &q.qname, q.qtype).matches(&reply, true) {
                        return std::future::pending().await;
                    }
                    Ok(UpstreamReply {
                        message: reply,
                        rest: None,
                        rtt: Duration::from_millis(1),
                        lag: Duration::ZERO,
                        at: tokio::time::Instant::now(),
                    })
                }
            }
        })
    }
}

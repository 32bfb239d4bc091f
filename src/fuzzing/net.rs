//! The fake internet of a fuzz run: every upstream query, whatever server it goes to, takes
//! the next [`Fate`] of the input, and every reply is patched to answer the query as the
//! outbound client would let it through: QR=1 and the query's question, unless the input says
//! otherwise (the ID is the outbound client's business; the resolver never sees it).
//!
//! It also keeps the ledger the bailiwick check reads: a reply read by the resolver is traced
//! at once (the trace step names the zone the resolver asked the server about), and each name
//! it carried — as an owner, or as the question asked — that lies inside that zone is
//! *licensed*: the cache may hold it. Nothing else may reach the cache.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, Query};
use hickory_proto::rr::{Name, RecordType};
use tokio::time::Instant;

use super::input::{Fate, Question};
use crate::cache::Key;
use crate::resolver::upstream::{
    Upstream, UpstreamError, UpstreamFuture, UpstreamQuery, UpstreamReply,
};
use crate::resolver::{TraceSink, TraceStep};

/// A reply (or error) the resolver has just read, until its trace step says which zone the
/// server was asked about.
#[derive(Debug)]
struct Delivered {
    server: SocketAddr,
    qname: Name,
    qtype: RecordType,
    tcp: bool,
    /// The names the reply carried; `None` for a transport error.
    names: Option<Vec<Name>>,
}

#[derive(Default)]
struct State {
    fates: VecDeque<Fate>,
    /// Every query sent, as `server qname qtype transport`.
    sent: Vec<String>,
    delivered: Option<Delivered>,
    /// Names a reply from a server of a zone containing them carried, as name-only keys (the
    /// cache's own lowercase form).
    licensed: HashSet<Key>,
}

/// The scripted upstream.
pub(super) struct ScriptedNet {
    state: Mutex<State>,
}

impl ScriptedNet {
    pub(super) fn new(fates: VecDeque<Fate>) -> Arc<ScriptedNet> {
        Arc::new(ScriptedNet {
            state: Mutex::new(State {
                fates,
                ..State::default()
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Upstream queries sent so far.
    pub(super) fn queries(&self) -> usize {
        self.state().sent.len()
    }

    /// Every query sent so far, as `server qname qtype transport`.
    pub(super) fn sent(&self) -> Vec<String> {
        self.state().sent.clone()
    }

    /// Whether some reply licensed `owner` (see the module doc).
    pub(super) fn licensed(&self, owner: &Name) -> bool {
        self.state().licensed.contains(&Key::name_only(owner))
    }

    /// The trace sink to give the resolver: it pairs each step with the reply just read.
    pub(super) fn trace_sink(self: &Arc<Self>) -> TraceSink {
        let net = Arc::clone(self);
        Arc::new(move |step: &TraceStep| net.traced(step))
    }

    /// A trace step follows each reply at once (the exchange classifies and traces it before
    /// it polls any other query), so the reply delivered last is the one this step is about;
    /// a step with none is a try given up for lost.
    fn traced(&self, step: &TraceStep) {
        let mut state = self.state();
        let Some(d) = state.delivered.take() else {
            return;
        };
        assert!(
            d.server == step.server
                && d.qname == step.qname
                && d.qtype == step.qtype
                && d.tcp == step.tcp,
            "fuzz harness: trace step {step} does not follow the reply just read ({d:?})"
        );
        let Some(names) = d.names else {
            return;
        };
        for name in names.iter().chain([&step.qname]) {
            if step.zone.zone_of(name) {
                state.licensed.insert(Key::name_only(name));
            }
        }
    }

    fn next_fate(&self, q: &UpstreamQuery) -> Fate {
        let mut state = self.state();
        let transport = if q.tcp { "TCP" } else { "UDP" };
        let sent = format!("{} {} {} {transport}", q.server, q.qname, q.qtype);
        state.sent.push(sent);
        state.fates.pop_front().unwrap_or(Fate::Silent)
    }

    fn deliver(&self, q: &UpstreamQuery, names: Option<Vec<Name>>) {
        self.state().delivered = Some(Delivered {
            server: q.server,
            qname: q.qname.clone(),
            qtype: q.qtype,
            tcp: q.tcp,
            names,
        });
    }
}

/// `message` made to answer `q` as the input says.
fn patched(mut message: Message, q: &UpstreamQuery, question: Question) -> Message {
    message.metadata.message_type = MessageType::Response;
    match question {
        Question::Query => message.queries = vec![Query::query(q.qname.clone(), q.qtype)],
        Question::AsIs => {}
        Question::Empty => message.queries.clear(),
        Question::Other => {
            let other = q
                .qname
                .prepend_label("other")
                .unwrap_or_else(|_| Name::root());
            message.queries = vec![Query::query(other, q.qtype)];
        }
    }
    message
}

/// Every owner name in the message's sections.
fn owners(message: &Message) -> Vec<Name> {
    message.all_sections().map(|r| r.name.clone()).collect()
}

impl Upstream for ScriptedNet {
    fn query(&self, q: UpstreamQuery) -> UpstreamFuture<'_> {
        // Taken when the query is sent, so the order of the script is the order of sends.
        let fate = self.next_fate(&q);
        Box::pin(async move {
            match fate {
                // The resolver stops waiting by dropping this future.
                Fate::Silent => std::future::pending().await,
                Fate::Error { refused, delay } => {
                    tokio::time::sleep(delay).await;
                    self.deliver(&q, None);
                    Err(if refused {
                        UpstreamError::Refused
                    } else {
                        UpstreamError::Network("fuzz: network error".into())
                    })
                }
                Fate::Reply {
                    message,
                    question,
                    delay,
                } => {
                    tokio::time::sleep(delay).await;
                    let message = patched(*message, &q, question);
                    self.deliver(&q, Some(owners(&message)));
                    Ok(UpstreamReply {
                        message,
                        rest: None,
                        rtt: delay,
                        lag: Duration::ZERO,
                        at: Instant::now(),
                    })
                }
            }
        })
    }
}

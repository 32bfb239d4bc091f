//! Runs a scenario's steps against a tern handler over a resolver over the scripted net, on
//! tokio's paused clock, in testbound's order: QUERY sends a client query; upstream queries
//! a RANGE entry matches are answered at once, the others wait for REPLY, ERROR or TIMEOUT
//! (which act on the newest waiting query; after ERROR the clock runs until the resolver sends
//! again or answers, after TIMEOUT until it sends again or stops listening for the query, as
//! its own retransmission timer decides); CHECK_ANSWER
//! takes any finished answer that matches, without moving the clock; TIME_PASSES moves it. At the end no answer may be left unchecked and no
//! upstream query left waiting.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::Name;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::config::{Setup, setup};
use super::entry::Sections;
use super::net::{Fate, Pending, ScriptedNet};
use super::rpl::{Entry, Scenario, StepKind};
use crate::acl::Acl;
use crate::authority::Catalog;
use crate::cache::{Cache, CachePolicy};
use crate::dnssec::anchor::Anchors;
use crate::handler::{Handler, HandlerConfig, Recursion, Transport};
use crate::metrics::Metrics;
use crate::resolver::Resolver;
use crate::resolver::delegation::{NameServer, ServerSet};
use crate::resolver::fake::FakeNet;
use crate::resolver::validate::{UnixClock, Validator};

/// How long the resolver's timers may run, in one wait for progress.
const PATIENCE: Duration = Duration::from_secs(120);
/// The clock moves in these steps while waiting for the resolver's timers.
const TICK: Duration = Duration::from_millis(50);

const CLIENT: &str = "127.0.0.1:40000";

type Answer = JoinHandle<Option<Vec<u8>>>;

struct Run {
    net: Arc<ScriptedNet>,
    handler: Arc<Handler>,
    /// Client queries not yet answered.
    running: Vec<Answer>,
    /// Answers not yet checked.
    answered: Vec<Message>,
    sections: Sections,
}

fn handler(setup: Setup, net: &Arc<ScriptedNet>) -> Result<Arc<Handler>, String> {
    let metrics = Arc::new(Metrics::default());
    let hints = if setup.root.is_empty() {
        FakeNet::lab_hints()
    } else {
        ServerSet {
            zone: Name::root(),
            servers: setup
                .root
                .iter()
                .map(|a| NameServer {
                    name: Name::root(),
                    addrs: vec![a.ip()],
                    port: Some(a.port()),
                })
                .collect(),
        }
    };
    let mut resolver = Resolver::new(
        Arc::clone(net) as Arc<dyn crate::resolver::Upstream>,
        hints,
        Arc::new(Cache::new(CachePolicy {
            prefetch_percent: if setup.prefetch {
                CachePolicy::default().prefetch_percent
            } else {
                0
            },
            ..CachePolicy::default()
        })),
        setup.resolver,
        Arc::clone(&metrics),
    );
    if !setup.anchors.is_empty() {
        let anchors = Anchors::parse(&setup.anchors.join("\n"), Path::new("trust-anchor"))
            .map_err(|e| e.to_string())?;
        let mut validator = Validator::new(anchors, Vec::new());
        if let Some(unix) = setup.validation_time {
            validator = validator.with_clock(UnixClock::pinned(Instant::now(), unix));
        }
        resolver = resolver.with_validator(validator);
    }
    let resolver = Arc::new(resolver);
    let config = HandlerConfig {
        minimal_responses: setup.minimal_responses,
        ..HandlerConfig::default()
    };
    let handler = Handler::new(Catalog::default(), config, metrics);
    Ok(Arc::new(handler.with_recursion(Recursion {
        resolver,
        acl: Acl::loopback(),
        snoop: setup.snoop,
    })))
}

/// Lets every task run until none can go on without the clock.
async fn settle() {
    for _ in 0..200 {
        tokio::task::yield_now().await;
    }
}

impl Run {
    /// Moves finished client queries' answers to `answered`.
    fn collect(&mut self) -> Result<(), String> {
        let (done, running): (Vec<Answer>, Vec<Answer>) =
            self.running.drain(..).partition(JoinHandle::is_finished);
        self.running = running;
        for handle in done {
            // No answer: the query was dropped (as testbound's, none ever arrives).
            let Some(bytes) = futures_now(handle)? else {
                continue;
            };
            let m = Message::from_vec(&bytes).map_err(|e| format!("answer does not parse: {e}"))?;
            self.answered.push(m);
        }
        Ok(())
    }

    /// Something the resolver did since `(sent, answered)`.
    fn marker(&self) -> (usize, usize) {
        let finished = self.running.iter().filter(|h| h.is_finished()).count();
        (self.net.sent(), self.answered.len() + finished)
    }

    /// After an upstream failure: runs the clock until the resolver sends another query or
    /// an answer, as testbound's event loop moves on at once. After a TIMEOUT (`timed_out`:
    /// the query's future), until it sends another or gives the query up: tern answers a
    /// client that waited too long (its client timeout) while the walk goes on, and that
    /// answer is not the walk's next step; testbound, whose TIMEOUT takes no time, never sees one.
    async fn progress(&mut self, timed_out: Option<Weak<()>>) {
        // Before the tasks run: the resolver may move on at once, without the clock.
        let before = self.marker();
        settle().await;
        let waiting = |run: &Run| match &timed_out {
            Some(held) => run.net.sent() == before.0 && held.strong_count() > 0,
            None => run.marker() == before && !run.running.is_empty(),
        };
        let mut waited = Duration::ZERO;
        while waiting(self) && waited < PATIENCE {
            tokio::time::advance(TICK).await;
            waited += TICK;
            settle().await;
        }
    }

    async fn query(&mut self, entry: &Entry) -> Result<(), String> {
        let q = entry.message(rand::random());
        let bytes = q.to_vec().map_err(|e| e.to_string())?;
        let handler = Arc::clone(&self.handler);
        let client: SocketAddr = CLIENT.parse().map_err(|_| "client address")?;
        self.running.push(tokio::spawn(async move {
            handler.handle_bytes(&bytes, client, Transport::Udp).await
        }));
        settle().await;
        Ok(())
    }

    /// Takes a finished answer matching `entry`. The clock does not move here (testbound's
    /// time moves only with TIME_PASSES): an answer that needs the resolver's timers to run
    /// out is not there yet.
    async fn check_answer(&mut self, entry: &Entry) -> Result<(), String> {
        settle().await;
        self.collect()?;
        let check = |m: &Message| entry.check_as(m, false, self.sections);
        if let Some(at) = self.answered.iter().position(|m| check(m).is_ok()) {
            self.answered.remove(at);
            return Ok(());
        }
        let why: Vec<String> = self
            .answered
            .iter()
            .map(|m| check(m).err().unwrap_or_default())
            .collect();
        Err(format!(
            "no answer matches the entry at line {} ({} answers: {why:?}; {} queries unanswered)",
            entry.line,
            self.answered.len(),
            self.running.len()
        ))
    }

    /// Settles the newest waiting query; the result lives while the resolver holds it.
    fn fate(&mut self, fate: impl FnOnce(&Message) -> Fate) -> Result<Weak<()>, String> {
        let Some(pending) = self.net.take_newest() else {
            return Err(format!(
                "no pending upstream query ({} sent so far, {} client queries unanswered)",
                self.net.sent(),
                self.running.iter().filter(|h| !h.is_finished()).count()
            ));
        };
        let fate = fate(&pending.query);
        Ok(pending.settle(fate))
    }
}

/// The result of a finished task, without waiting.
fn futures_now(handle: Answer) -> Result<Option<Vec<u8>>, String> {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let mut handle = std::pin::pin!(handle);
    match handle
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(Ok(answer)) => Ok(answer),
        Poll::Ready(Err(e)) => Err(format!("client query task failed: {e}")),
        Poll::Pending => Err("a finished task is not ready".into()),
    }
}

/// Runs `scenario`; the error names the step that failed and why.
pub(super) async fn run(scenario: Scenario, sections: Sections) -> Result<(), String> {
    let setup = setup(&scenario.config)?;
    let net = ScriptedNet::new(scenario.ranges);
    let mut run = Run {
        handler: handler(setup, &net)?,
        net,
        running: Vec::new(),
        answered: Vec::new(),
        sections,
    };
    for step in &scenario.steps {
        run.net.set_step(step.n);
        let at = |e: String| format!("STEP {} (line {}): {e}", step.n, step.line);
        match &step.kind {
            StepKind::Query(e) => run.query(e).await.map_err(at)?,
            StepKind::CheckAnswer(e) => run.check_answer(e).await.map_err(at)?,
            StepKind::CheckOutQuery(e) => {
                settle().await;
                let matches = |p: &Pending| e.check(&p.query, p.tcp).is_ok();
                let why = || at(format!("no upstream query matches line {}", e.line));
                // With copy_id the entry answers the query at once; else it stays waiting.
                if e.copy_id {
                    let found = run.net.take_matching(matches).ok_or_else(why)?;
                    let reply = e.reply_to(&found.query);
                    found.settle(Fate::Reply(reply));
                    settle().await;
                } else if !run.net.any_pending(matches) {
                    return Err(why());
                }
            }
            StepKind::Reply(e) => {
                settle().await;
                run.fate(|q| Fate::Reply(e.reply_to(q))).map_err(at)?;
                settle().await;
            }
            StepKind::Error => {
                settle().await;
                run.fate(|_| Fate::Error).map_err(at)?;
                run.progress(None).await;
            }
            StepKind::Timeout => {
                settle().await;
                let held = run.fate(|_| Fate::Timeout).map_err(at)?;
                run.progress(Some(held)).await;
            }
            StepKind::TimePasses(secs) => {
                tokio::time::advance(Duration::from_secs_f64(*secs)).await;
                settle().await;
            }
            StepKind::Nothing => settle().await,
        }
    }
    settle().await;
    run.collect()?;
    if !run.answered.is_empty() {
        return Err(format!("{} answers left unchecked", run.answered.len()));
    }
    let pending = run.net.live_pending();
    if !pending.is_empty() {
        return Err(format!("upstream queries left waiting: {pending:?}"));
    }
    Ok(())
}

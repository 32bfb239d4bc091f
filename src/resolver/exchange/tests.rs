//! How many tries a server gets and when they go, on the paused clock: a try that fails
//! outright is followed by the next at once, a lost one after its timer; a lone forwarder gets
//! Unbound's five tries either way (testbound's fwd_error and fwd_timeout), and a server that
//! only loses queries gets no more than it did before failed tries were told apart.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::rr::RecordType::A;
use tokio::time::Instant;

use super::{MAX_FAILED_TRIES, MAX_TRIES};
use crate::cache::{Cache, CachePolicy};
use crate::metrics::Metrics;
use crate::resolver::fake::{FakeNet, ip, name};
use crate::resolver::infra::UNKNOWN_RTO;
use crate::resolver::upstream::{Upstream, UpstreamError, UpstreamFuture, UpstreamQuery};
use crate::resolver::{Forward, Resolution, ResolveError, Resolver, ResolverConfig};

const FWD_1: &str = "127.9.0.1";
const FWD_2: &str = "127.9.0.2";

/// What becomes of one query.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// To the fake internet, which answers.
    Pass,
    /// No reply ever comes.
    Lost,
    /// The send fails at once (a firewall's EPERM, a connection closed unanswered).
    Fail,
    /// The transport fails after this long (a TCP connection closed late).
    FailAfter(Duration),
}

/// The fake internet behind a script per server: the nth query to a server meets the nth
/// step, and every query after the script's end meets `then`. Records when each query left.
struct Scripted {
    net: Arc<FakeNet>,
    scripts: Vec<(IpAddr, Vec<Step>, Step)>,
    sent: Mutex<Vec<(IpAddr, Instant)>>,
}

impl Scripted {
    fn new(net: Arc<FakeNet>, scripts: Vec<(&str, Vec<Step>, Step)>) -> Arc<Scripted> {
        Arc::new(Scripted {
            net,
            scripts: scripts
                .into_iter()
                .map(|(a, steps, then)| (ip(a), steps, then))
                .collect(),
            sent: Mutex::new(Vec::new()),
        })
    }

    /// When the queries to `addr` left, relative to `start`.
    fn sent_to(&self, addr: &str, start: Instant) -> Vec<Duration> {
        let sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        sent.iter()
            .filter(|(a, _)| *a == ip(addr))
            .map(|(_, t)| t.saturating_duration_since(start))
            .collect()
    }
}

impl Upstream for Scripted {
    fn query(&self, q: UpstreamQuery) -> UpstreamFuture<'_> {
        let server = q.server.ip();
        let step = {
            let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
            let nth = sent.iter().filter(|(a, _)| *a == server).count();
            sent.push((server, Instant::now()));
            self.scripts
                .iter()
                .find(|(a, _, _)| *a == server)
                .map_or(Step::Pass, |(_, steps, then)| {
                    steps.get(nth).copied().unwrap_or(*then)
                })
        };
        Box::pin(async move {
            match step {
                Step::Pass => self.net.query(q).await,
                Step::Lost => std::future::pending().await,
                Step::Fail => Err(UpstreamError::Network("scripted: send failed".into())),
                Step::FailAfter(after) => {
                    tokio::time::sleep(after).await;
                    Err(UpstreamError::Network("scripted: connection closed".into()))
                }
            }
        })
    }
}

/// A resolver forwarding alpha.test. to `servers`, recursive resolvers of the lab's zones.
fn forwarding(
    scripts: Vec<(&str, Vec<Step>, Step)>,
    servers: &[&str],
) -> (Arc<Resolver>, Arc<Scripted>) {
    let net = FakeNet::lab();
    for s in servers {
        net.add_recursive(ip(s));
    }
    let up = Scripted::new(net, scripts);
    let forward = Forward {
        zone: name("alpha.test."),
        servers: servers.iter().map(|s| SocketAddr::new(ip(s), 53)).collect(),
        first: false,
        tls: None,
    };
    let r = Resolver::new(
        Arc::clone(&up) as Arc<dyn Upstream>,
        FakeNet::lab_hints(),
        Arc::new(Cache::new(CachePolicy::default())),
        ResolverConfig {
            forwards: vec![forward],
            ..ResolverConfig::default()
        },
        Arc::new(Metrics::default()),
    );
    (Arc::new(r), up)
}

async fn ask(r: &Arc<Resolver>) -> Result<Resolution, ResolveError> {
    r.resolve(&name("www.alpha.test."), A, Instant::now()).await
}

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

#[tokio::test(start_paused = true)]
async fn a_failed_send_is_followed_by_the_next_try_at_once_a_lost_one_after_its_timer() {
    let (r, up) = forwarding(
        vec![(FWD_1, vec![Step::Fail, Step::Fail], Step::Pass)],
        &[FWD_1],
    );
    let start = Instant::now();
    let res = ask(&r).await.expect("the third try is answered");
    assert_eq!(res.answers.len(), 1);
    assert_eq!(up.sent_to(FWD_1, start), [ms(0), ms(0), ms(0)]);
    assert_eq!(start.elapsed(), ms(0), "no timer waited out");

    let (r, up) = forwarding(vec![(FWD_1, vec![Step::Lost], Step::Pass)], &[FWD_1]);
    let start = Instant::now();
    ask(&r).await.expect("the second try is answered");
    assert_eq!(up.sent_to(FWD_1, start), [ms(0), UNKNOWN_RTO]);

    // Failed tries never reached the server: the lost one after them waits the first timer,
    // not one backed off for them.
    let script = vec![Step::Fail, Step::Fail, Step::Lost];
    let (r, up) = forwarding(vec![(FWD_1, script, Step::Pass)], &[FWD_1]);
    let start = Instant::now();
    ask(&r).await.expect("the fourth try is answered");
    assert_eq!(up.sent_to(FWD_1, start), [ms(0), ms(0), ms(0), UNKNOWN_RTO]);
}

#[tokio::test(start_paused = true)]
async fn a_failed_send_fails_over_to_the_next_forwarder_at_once() {
    let (r, up) = forwarding(vec![(FWD_1, vec![], Step::Fail)], &[FWD_1, FWD_2]);
    let start = Instant::now();
    // Measured, the failing forwarder the faster: it is asked first.
    r.infra.record_reply(ip(FWD_1), Some(ms(1)), start);
    r.infra.record_reply(ip(FWD_2), Some(ms(50)), start);
    let res = ask(&r).await.expect("the other forwarder answers");
    assert_eq!(res.answers.len(), 1);
    assert_eq!(up.sent_to(FWD_1, start), [ms(0)]);
    assert_eq!(up.sent_to(FWD_2, start), [ms(0)], "not after FWD_1's timer");
    assert_eq!(start.elapsed(), ms(0));
}

#[tokio::test(start_paused = true)]
async fn a_lone_forwarder_that_fails_every_send_gets_five_tries_as_in_unbound() {
    assert_eq!(MAX_FAILED_TRIES, 5, "Unbound's outbound-msg-retry");
    let (r, up) = forwarding(vec![(FWD_1, vec![], Step::Fail)], &[FWD_1]);
    let start = Instant::now();
    let e = ask(&r).await.expect_err("nobody answers");
    assert!(matches!(e, ResolveError::NoReachableAuthority(_)), "{e}");
    assert_eq!(start.elapsed(), ms(0), "failed at once, not after timers");
    assert_eq!(up.sent_to(FWD_1, start), [ms(0); 5]);
}

#[tokio::test(start_paused = true)]
async fn a_lone_forwarder_that_never_answers_gets_five_tries_as_before() {
    let (r, up) = forwarding(vec![(FWD_1, vec![], Step::Lost)], &[FWD_1]);
    let start = Instant::now();
    let e = ask(&r).await.expect_err("nobody answers");
    assert!(matches!(e, ResolveError::ClientTimeout(_)), "{e}");
    // The walk goes on for the cache after the client's answer: let it end.
    tokio::time::sleep(Duration::from_secs(30)).await;
    // Each timer doubles from the unmeasured server's 400 ms (to at most 2 s); the fifth loss
    // in a row takes the server out of rotation, so it gets Unbound's five tries and not the
    // seven a server that answers other questions may get.
    assert_eq!(
        up.sent_to(FWD_1, start),
        [ms(0), ms(400), ms(1200), ms(2800), ms(4800)]
    );
}

#[tokio::test(start_paused = true)]
async fn lost_tries_do_not_count_as_failed_ones() {
    // Four tries lost (four losses: the server stays in rotation), then every send fails.
    // The lost tries still listen, so only the failures count towards the five: three of them
    // go before the server's tries end at MAX_TRIES, the bound lost tries always had.
    let script = vec![Step::Lost, Step::Lost, Step::Lost, Step::Lost];
    let (r, up) = forwarding(vec![(FWD_1, script, Step::Fail)], &[FWD_1]);
    let start = Instant::now();
    let e = ask(&r).await;
    assert!(e.is_err(), "{e:?}");
    tokio::time::sleep(Duration::from_secs(30)).await;
    let sent = up.sent_to(FWD_1, start);
    assert_eq!(sent.len(), 4 + 3, "{sent:?}");
    assert_eq!(sent.len(), MAX_TRIES as usize);
}

#[tokio::test(start_paused = true)]
async fn a_late_failure_of_an_earlier_try_sends_nothing_more() {
    // The first try's connection closes after 600 ms, when its timer (400 ms) has already
    // sent the second, whose own timer (800 ms) still runs: the failure is of a try nobody
    // waits for, so the third goes when that timer fires, not at 600 ms.
    let script = vec![Step::FailAfter(ms(600)), Step::Lost];
    let (r, up) = forwarding(vec![(FWD_1, script, Step::Pass)], &[FWD_1]);
    let start = Instant::now();
    ask(&r).await.expect("the third try is answered");
    assert_eq!(up.sent_to(FWD_1, start), [ms(0), ms(400), ms(1200)]);
}

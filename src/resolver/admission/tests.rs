use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};
use tokio::time::Instant;

use super::{Admission, Shed};
use crate::cache::Key;
use crate::metrics::Metrics;

const JOSTLE: Duration = Duration::from_millis(200);

fn key(name: &str) -> Key {
    Key::new(&Name::from_ascii(name).expect("a name"), RecordType::A)
}

fn admission(cap: usize) -> Admission {
    let config = crate::resolver::ResolverConfig {
        max_client_queries: cap,
        jostle_timeout: JOSTLE,
        ..Default::default()
    };
    Admission::new(&config, Arc::new(Metrics::default()))
}

/// A ticket for `name`'s question, asked now.
fn take<'a>(a: &'a Admission, name: &str) -> Result<super::Ticket<'a>, Shed> {
    a.admit(&key(name), Instant::now())
}

/// Whether the ticket's slot was taken, without waiting.
fn jostled(ticket: &mut super::Ticket<'_>) -> bool {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let waiting = std::pin::pin!(ticket.jostled());
    waiting.poll(&mut Context::from_waker(Waker::noop())) == Poll::Ready(Shed::Jostled)
}

#[tokio::test(start_paused = true)]
async fn past_the_cap_a_new_question_is_dropped_and_counted() {
    let a = admission(1);
    let mut first = take(&a, "a.example.").expect("a free slot");
    tokio::time::advance(Duration::from_secs(10)).await;
    // One slot: it runs to completion, however old.
    assert_eq!(take(&a, "b.example.").err(), Some(Shed::OverLimit));
    assert!(!jostled(&mut first));
    assert_eq!(Metrics::get(&a.metrics.over_limit_queries), 1);
    assert_eq!(Metrics::get(&a.metrics.dropped), 1);
    assert_eq!(Metrics::get(&a.metrics.jostled_queries), 0);
}

#[tokio::test(start_paused = true)]
async fn a_query_older_than_the_jostle_timeout_makes_way_for_a_new_one() {
    let a = admission(2);
    let mut forever = take(&a, "a.example.").expect("slot 1");
    let mut old = take(&a, "b.example.").expect("slot 2");
    // Exactly at the timeout it is not older than it yet.
    tokio::time::advance(JOSTLE).await;
    assert_eq!(take(&a, "c.example.").err(), Some(Shed::OverLimit));
    tokio::time::advance(Duration::from_millis(1)).await;
    let mut new = take(&a, "c.example.").expect("jostled in");
    assert!(jostled(&mut old));
    assert!(!jostled(&mut forever));
    assert!(!jostled(&mut new));
    assert_eq!(Metrics::get(&a.metrics.jostled_queries), 1);
    assert_eq!(Metrics::get(&a.metrics.dropped), 2);
    // The jostled ticket gives back nothing: the new one holds the slot.
    drop(old);
    assert_eq!(take(&a, "d.example.").err(), Some(Shed::OverLimit));
}

#[tokio::test(start_paused = true)]
async fn a_finished_query_frees_its_slot() {
    let a = admission(2);
    let first = take(&a, "a.example.").expect("slot 1");
    let second = take(&a, "b.example.").expect("slot 2");
    assert!(take(&a, "c.example.").is_err());
    drop(second);
    let mut third = take(&a, "c.example.").expect("slot 2 again");
    drop(first);
    // The forever slot is free again: the next question takes it, and the one that may be
    // jostled is still `third`.
    let mut fourth = take(&a, "d.example.").expect("slot 1 again");
    tokio::time::advance(Duration::from_secs(1)).await;
    let _fifth = take(&a, "e.example.").expect("jostles third");
    assert!(!jostled(&mut fourth));
    assert!(jostled(&mut third));
}

#[tokio::test(start_paused = true)]
async fn clients_of_one_question_share_its_slot_and_are_jostled_together() {
    let a = admission(2);
    let _forever = take(&a, "a.example.").expect("slot 1");
    let mut one = take(&a, "b.example.").expect("slot 2");
    let mut two = take(&a, "b.example.").expect("joins slot 2");
    drop(one);
    // Still held by `two`.
    assert!(take(&a, "c.example.").is_err());
    one = take(&a, "b.example.").expect("joins again");
    tokio::time::advance(Duration::from_secs(1)).await;
    let _new = take(&a, "c.example.").expect("jostles b");
    assert!(jostled(&mut one));
    assert!(jostled(&mut two));
    assert_eq!(Metrics::get(&a.metrics.jostled_queries), 2);
}

#[tokio::test(start_paused = true)]
async fn sharing_is_bounded_at_sixteen_clients_a_slot() {
    let a = admission(1);
    let tickets: Vec<_> = (0..16)
        .map(|_| take(&a, "a.example.").expect("shared"))
        .collect();
    assert!(take(&a, "a.example.").is_err());
    drop(tickets);
    assert!(take(&a, "b.example.").is_ok());
}

#[tokio::test(start_paused = true)]
async fn without_a_cap_every_question_is_admitted() {
    let a = admission(0);
    let tickets: Vec<_> = (0..10_000)
        .map(|i| take(&a, &format!("n{i}.example.")))
        .collect();
    assert!(tickets.iter().all(Result::is_ok));
    assert!(a.state().slots.is_empty());
}

/// Through the resolver: only questions that need a walk take a slot; a jostled client's
/// resolution ends with [`Shed::Jostled`], a dropped one's with [`Shed::OverLimit`], the
/// others run their course.
#[tokio::test(start_paused = true)]
async fn the_resolver_admits_walks_not_cache_hits() {
    use crate::cache::{Cache, CachePolicy};
    use crate::resolver::fake::{FakeNet, ip, name};
    use crate::resolver::{ResolveError, Resolver, ResolverConfig};

    let net = FakeNet::lab();
    let metrics = Arc::new(Metrics::default());
    let r = Arc::new(Resolver::new(
        Arc::clone(&net) as Arc<dyn crate::resolver::Upstream>,
        FakeNet::lab_hints(),
        Arc::new(Cache::new(CachePolicy::default())),
        ResolverConfig {
            max_client_queries: 2,
            // Shorter than the first retransmission timer (20 ms at the learned RTT): the
            // walks below are still waiting for their first replies when it is tested.
            jostle_timeout: Duration::from_millis(10),
            ..ResolverConfig::default()
        },
        Arc::clone(&metrics),
    ));
    let warm = name("warm.wild.alpha.test.");
    r.resolve(&warm, RecordType::A, Instant::now())
        .await
        .expect("the walk down is cached");
    for a in ["127.0.0.41", "127.0.0.42"] {
        net.set_latency(ip(a), Duration::from_millis(1000));
    }
    let ask = |label: &str| {
        let r = Arc::clone(&r);
        let qname = name(&format!("{label}.wild.alpha.test."));
        tokio::spawn(async move { r.resolve(&qname, RecordType::A, Instant::now()).await })
    };
    let forever = ask("one");
    let jostled = ask("two");
    tokio::task::yield_now().await;
    // Both slots taken by walks: a cache hit is still answered, a third walk is not.
    let hit = r.resolve(&warm, RecordType::A, Instant::now()).await;
    assert!(hit.is_ok(), "{hit:?}");
    let dropped = ask("three").await.expect("join");
    assert!(matches!(dropped, Err(ResolveError::Shed(Shed::OverLimit))));
    tokio::time::advance(Duration::from_millis(15)).await;
    let late = ask("four");
    let two = jostled.await.expect("join");
    assert!(
        matches!(two, Err(ResolveError::Shed(Shed::Jostled))),
        "{two:?}"
    );
    // Whether the slow servers answer in time is not the point: these were not shed.
    for walk in [forever, late] {
        let res = walk.await.expect("join");
        assert!(!matches!(res, Err(ResolveError::Shed(_))), "{res:?}");
    }
    assert_eq!(Metrics::get(&metrics.over_limit_queries), 1);
    assert_eq!(Metrics::get(&metrics.jostled_queries), 1);
    assert_eq!(Metrics::get(&metrics.dropped), 2);
    // Every slot is free again, and the jostled walk left nothing behind.
    assert!(r.admission.state().slots.is_empty());
    assert!(r.walk_started(&key("two.wild.alpha.test.")).is_none());
}

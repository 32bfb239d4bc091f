//! What a refresh leaves behind when it does not run to its end: a refresh task dropped
//! mid-walk (its runtime shut down) and a refresh the resolver was too busy to start must
//! leave the walks in flight and the message tier's claim as if it had never been asked for.

use std::time::Duration;

use hickory_proto::op::ResponseCode::NoError;
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::RecordType::A;
use hickory_proto::rr::rdata;
use hickory_proto::rr::{RData, Record};
use tokio::time::{Instant, advance};

use super::*;
use crate::cache::{Key, Messages};
use crate::resolver::fake::ip;
use crate::resolver::prefetch::Prefetch;

const WWW: &str = "www.alpha.test.";
/// www.alpha.test. A's TTL in the lab.
const TTL: u64 = 3600;

/// A paused runtime for the test's own steps.
fn paused() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime")
}

#[test]
fn a_refresh_whose_task_is_dropped_leaves_no_walk_behind() {
    refresh_dropped_after(50);
}

#[test]
fn a_refresh_whose_task_is_dropped_unpolled_leaves_no_walk_behind() {
    refresh_dropped_after(0);
}

/// A refresh started on a runtime that shuts down after `polls` turns, its servers slow: the
/// walk it left, and the next client's answer once the entry ran out.
fn refresh_dropped_after(polls: usize) {
    let main = paused();
    let (net, r) = main.block_on(async {
        let net = FakeNet::lab();
        let r = resolver(&net);
        expect(&r, WWW, A, NoError).await;
        // In the prefetch window; alpha.test.'s servers now take an hour to answer.
        advance(Duration::from_secs(TTL - 100)).await;
        for server in [ip("127.0.0.41"), ip("127.0.0.42")] {
            net.set_latency(server, Duration::from_secs(3600));
        }
        (net, r)
    });
    // The hit that asks for the refresh was answered on a runtime of its own (a UDP
    // listener's), which shuts down while the refresh waits upstream.
    let other = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let before = net.total();
    let at = main.block_on(async { Instant::now() });
    other.block_on(async {
        assert_eq!(r.prefetch(&name(WWW), A, at, None), Prefetch::Started);
        for _ in 0..polls {
            tokio::task::yield_now().await;
        }
    });
    assert_eq!(net.total() > before, polls > 0, "the refresh went upstream");
    drop(other);
    main.block_on(async {
        let key = Key::new(&name(WWW), A);
        assert!(
            r.walk_started(&key).is_none(),
            "the dropped refresh is not in flight any more"
        );
        // The entry runs out; the next client walks with its own timers, not those of a
        // refresh nobody runs (an instant client timeout).
        for server in [ip("127.0.0.41"), ip("127.0.0.42")] {
            net.set_latency(server, Duration::ZERO);
        }
        advance(Duration::from_secs(200)).await;
        let res = expect(&r, WWW, A, NoError).await;
        assert!(!res.stale);
        assert!(res.upstream_queries > 0);
    });
}

/// A resolver answer to `WWW` A for the message tier, living `ttl` seconds.
fn answer(ttl: u32) -> Message {
    let mut m = Message::new(1, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.recursion_available = true;
    m.add_query(Query::query(name(WWW), A));
    m.add_answer(Record::from_rdata(
        name(WWW),
        ttl,
        RData::A(rdata::A::new(127, 0, 0, 100)),
    ));
    m
}

#[tokio::test(start_paused = true)]
async fn a_busy_resolver_leaves_the_message_tiers_refresh_unclaimed() {
    // One walk in flight is busy: a client's, held open by slow servers.
    let busy = ResolverConfig {
        prefetch_busy_walks: 1,
        ..ResolverConfig::default()
    };
    let net = FakeNet::lab();
    let r = resolver_with(&net, busy);
    let tier = r.cache.messages();
    let t0 = Instant::now();
    tier.insert(&mut answer(100), t0, false, None, tier.generation());
    let q = crate::wire::tests::query(WWW, |_| {});
    let question = crate::wire::parse(&q).expect("parsed");
    let key = Messages::<crate::cache::Tag>::key_of(&question).expect("a key");
    // A hit in the window, as the hit path reads it: whether it asks for a refresh.
    let hit = |now| {
        tier.answer_into(&q, &question, 512, 1232, &[], now, &mut Vec::new())
            .map(|hit| hit.prefetch)
    };
    advance(Duration::from_secs(91)).await;
    for beta in [ip("127.0.0.51"), ip("127.0.0.52")] {
        net.set_latency(beta, Duration::from_secs(3));
    }
    let client = Arc::clone(&r);
    let walk = tokio::spawn(async move {
        let other = name("alias.beta.example.");
        client.resolve(&other, A, Instant::now()).await
    });
    tokio::task::yield_now().await;
    let now = Instant::now();
    assert_eq!(hit(now), Some(true), "the first hit in the window asks");
    assert_eq!(
        r.prefetch(&name(WWW), A, now, Some(key.clone())),
        Prefetch::Busy
    );
    walk.await
        .expect("joined")
        .expect("the other walk's answer");
    // The resolver is idle again: the next hit asks for the refresh the busy one dropped.
    assert_eq!(
        hit(Instant::now()),
        Some(true),
        "a dropped refresh leaves the answer unclaimed"
    );
}

/// A client's miss for u`i`.wild.alpha.test. A, on a task of its own.
fn miss(r: &Arc<Resolver>, i: usize) -> tokio::task::JoinHandle<Result<Resolution, ResolveError>> {
    let (r, qname) = (Arc::clone(r), name(&format!("u{i}.wild.alpha.test.")));
    tokio::spawn(async move { r.resolve(&qname, A, Instant::now()).await })
}

#[tokio::test(start_paused = true)]
async fn a_refresh_a_client_joined_and_left_waits_behind_clients_again() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    expect(&r, WWW, A, NoError).await;
    advance(Duration::from_secs(TTL - 100)).await;
    expect(&r, "warm.wild.alpha.test.", A, NoError).await;
    // One server for the zone in practice (the other known to be far slower), whose window
    // the misses fill: every question waits in the same line.
    net.set_latency(ip("127.0.0.41"), Duration::from_millis(100));
    for _ in 0..10 {
        let at = Instant::now();
        r.infra
            .record_reply(ip("127.0.0.41"), Some(Duration::from_millis(100)), at);
        r.infra
            .record_reply(ip("127.0.0.42"), Some(Duration::from_secs(3)), at);
    }
    let earlier = net.total();
    let mut walks: Vec<_> = (0..100).map(|i| miss(&r, i)).collect();
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(
        r.prefetch(&name(WWW), A, Instant::now(), None),
        Prefetch::Started
    );
    tokio::time::sleep(Duration::from_millis(1)).await;
    // A client joins the refresh (its entry ran out for it) and goes away again.
    let client = Arc::clone(&r);
    let joiner = tokio::spawn(async move {
        let key = Key::new(&name(WWW), A);
        let now = Instant::now();
        client
            .resolve_shared(&name(WWW), A, key, now, crate::resolver::Missed::First)
            .await
    });
    tokio::time::sleep(Duration::from_millis(1)).await;
    joiner.abort();
    assert!(joiner.await.expect_err("aborted").is_cancelled());
    // Nobody waits for the refresh any more: clients that came after it go before it again.
    walks.extend((100..120).map(|i| miss(&r, i)));
    for w in walks {
        w.await.expect("joined").expect("answered");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let order: Vec<String> = net
        .sent()
        .into_iter()
        .skip(earlier)
        .map(|s| s.qname.to_ascii())
        .filter(|q| q.ends_with("alpha.test."))
        .collect();
    let refresh = order
        .iter()
        .position(|q| q == WWW)
        .expect("the refresh was sent");
    let last_client = order
        .iter()
        .rposition(|q| q.ends_with(".wild.alpha.test."))
        .expect("the clients' queries");
    assert!(
        refresh > last_client,
        "the refresh went at {refresh}, before a client's query at {last_client}"
    );
}

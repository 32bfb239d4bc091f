//! Overload is not death: a zone whose servers answer only part of what they are sent gets
//! about one query per question (the congestion window holds the rest back instead of
//! retransmitting into a full queue), every question is answered, and the servers stay in
//! rotation.

use std::time::Duration;

use hickory_proto::op::ResponseCode::NoError;
use hickory_proto::rr::RecordType::A;
use tokio::time::Instant;

use super::*;
use crate::resolver::infra::Standing;

const ALPHA: [&str; 2] = ["127.0.0.41", "127.0.0.42"];

/// `n` unique names under the alpha.test. wildcard at once, each a miss needing one query to
/// the alpha.test. servers; the queries those servers received for them.
pub(super) async fn flood(r: &Arc<Resolver>, net: &FakeNet, n: usize) -> usize {
    let before: usize = ALPHA.iter().map(|a| net.count(ip(a))).sum();
    let walks: Vec<_> = (0..n)
        .map(|i| {
            let r = Arc::clone(r);
            tokio::spawn(async move {
                let qname = name(&format!("u{i}.wild.alpha.test."));
                r.resolve(&qname, A, Instant::now()).await
            })
        })
        .collect();
    for (i, w) in walks.into_iter().enumerate() {
        let res = w
            .await
            .expect("join")
            .unwrap_or_else(|e| panic!("u{i}: {e}"));
        assert_eq!(res.answers.len(), 1, "u{i}");
    }
    ALPHA.iter().map(|a| net.count(ip(a))).sum::<usize>() - before
}

#[tokio::test(start_paused = true)]
async fn an_overloaded_zone_gets_about_one_query_per_question() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    // The walk down to the wildcard, minimised probes included, is cached before the flood.
    expect(&r, "warm.wild.alpha.test.", A, NoError).await;
    // Each alpha.test. server answers 10 queries at a time, 30 ms each (333 q/s); what
    // arrives while 10 are in service is dropped, as a full queue drops it. Measured: 1.13
    // queries per question (the first round trips overshoot before the first losses are seen,
    // and each congestion event costs a few).
    for a in ALPHA {
        net.set_latency(ip(a), Duration::from_millis(30));
        net.set_capacity(ip(a), 10);
    }
    // Three times what the servers answer in the first second.
    let n = 2000;
    let sent = flood(&r, &net, n).await;
    let per_question = sent as f64 / n as f64;
    assert!(
        per_question <= 1.2,
        "{sent} queries for {n} questions ({per_question:.2} each)"
    );
    for a in ALPHA {
        assert_eq!(
            r.infra.standing(ip(a), Instant::now()),
            Standing::Up,
            "{a}: an overloaded server is not a dead one"
        );
    }
}

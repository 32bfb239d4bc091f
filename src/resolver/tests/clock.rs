//! Time is an argument: the cache is read as of the request's time, and what a reply teaches
//! is cached as of when the reply was read, not when the question was asked.

use std::time::Duration;

use hickory_proto::op::ResponseCode::NoError;
use hickory_proto::rr::RecordType::A;
use tokio::time::Instant;

use super::*;
use crate::cache::Key;
use crate::resolver::fake::ip;

#[tokio::test(start_paused = true)]
async fn the_cache_is_read_as_of_the_time_given_not_the_clock() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    let asked = Instant::now();
    let short_ttl = name("short-ttl.alpha.test.");
    let at = |secs: u64| r.resolve(&short_ttl, A, asked + Duration::from_secs(secs));
    let first = at(0).await;
    assert_eq!(
        lines(&first.expect("answer").answers),
        ["short-ttl.alpha.test. 5 A 127.0.0.104"]
    );
    // The clock stands still; only the argument moves.
    let sent = net.total();
    let later = at(2).await.expect("answer");
    assert_eq!(later.rcode, NoError);
    assert_eq!(later.upstream_queries, 0);
    assert_eq!(net.total(), sent);
    assert_eq!(
        lines(&later.answers),
        ["short-ttl.alpha.test. 3 A 127.0.0.104"]
    );
    let expired = at(6).await.expect("answer");
    assert_eq!(expired.upstream_queries, 1, "expired at the time given");
}

#[tokio::test(start_paused = true)]
async fn a_reply_is_cached_as_of_its_arrival() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    // alpha.test.'s servers answer after two seconds, and are known to be that slow, so
    // nothing is retransmitted: the answer is read two seconds after its query left.
    for server in [ip("127.0.0.41"), ip("127.0.0.42")] {
        net.set_latency(server, Duration::from_secs(2));
        r.infra
            .record_reply(server, Some(Duration::from_millis(1500)), Instant::now());
    }
    let asked = Instant::now();
    let res = expect(&r, "www.alpha.test.", A, NoError).await;
    assert_eq!(net.count(ip("127.0.0.41")) + net.count(ip("127.0.0.42")), 1);
    let answered = Instant::now();
    assert!(answered >= asked + Duration::from_secs(2));
    assert_eq!(lines(&res.answers), ["www.alpha.test. 3600 A 127.0.0.100"]);
    // Stamped when its query left (or when the client asked), it would have lost the two
    // seconds already.
    let cached = r
        .cache()
        .get(&Key::new(&name("www.alpha.test."), A), answered)
        .expect("cached");
    assert_eq!(cached.ttl, 3600);
}

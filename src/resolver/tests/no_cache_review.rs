//! `no_cache` forward zones (Unbound's forward-no-cache) beyond the plain case: what a walk
//! through or around such a zone may keep. Unbound marks the whole question (`no_cache_store`)
//! once it reaches a name of the zone, so neither its failure nor a walk standing in for the
//! forwarders leaves anything of the zone behind.

use hickory_proto::op::ResponseCode::{self, NoError};
use hickory_proto::rr::RecordType::A;

use super::forward::with_forwards;
use super::*;
use crate::cache::Key;
use crate::resolver::Forward;

/// A recursive resolver on the fake internet (outside the lab's addresses).
const FWD: &str = "127.9.0.2";

fn no_cache(zone: &str, first: bool) -> Forward {
    Forward {
        zone: name(zone),
        servers: vec![std::net::SocketAddr::new(ip(FWD), 53)],
        first,
        tls: None,
        no_cache: true,
    }
}

/// A walked name whose alias leads into a `no_cache` zone whose forwarder failed: the failure
/// is the zone's, so it is not remembered (Unbound's `error_response_cache` stores nothing
/// under `no_cache_store`), and once the forwarder is back the next question is answered.
#[tokio::test(start_paused = true)]
async fn a_failure_behind_an_alias_into_a_no_cache_zone_is_not_remembered() {
    let net = FakeNet::lab();
    net.add_recursive(ip(FWD));
    let r = with_forwards(&net, vec![no_cache("beta.example.", false)]);
    let servfail = Mode::Rcode(ResponseCode::ServFail);
    net.set_modes(ip(FWD), servfail, servfail);
    resolve(&r, "cname-cross.alpha.test.", A)
        .await
        .expect_err("the forwarder fails");

    net.set_modes(ip(FWD), Mode::Answer, Mode::Answer);
    let res = resolve(&r, "cname-cross.alpha.test.", A)
        .await
        .expect("asked again, not a remembered failure");
    assert_eq!(
        lines(&res.answers),
        [
            "cname-cross.alpha.test. 3600 CNAME www.beta.example.",
            "www.beta.example. 3600 A 127.0.0.110"
        ]
    );
}

/// `forward_first` with `no_cache`: when the forwarder fails the walk answers instead, and
/// what it learns of the zone's names is not kept either (Unbound's `no_cache_store` is the
/// question's, whoever answers it).
#[tokio::test(start_paused = true)]
async fn a_walk_standing_in_for_a_no_cache_forwarder_keeps_nothing_of_the_zone() {
    let net = FakeNet::lab();
    net.add_recursive(ip(FWD));
    net.set_modes(ip(FWD), Mode::Unreachable, Mode::Unreachable);
    let r = with_forwards(&net, vec![no_cache("beta.example.", true)]);
    expect(&r, "www.beta.example.", A, NoError).await;
    let key = Key::new(&name("www.beta.example."), A);
    assert!(
        r.cache().get(&key, Instant::now()).is_none(),
        "the walk's answer was stored"
    );
}

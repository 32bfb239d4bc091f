//! A bogus answer from one server of a zone is retried at the zone's other servers, and the
//! server that gave it is not asked again by the same walk.

use std::time::Duration;

use hickory_proto::op::ResponseCode::NoError;
use hickory_proto::rr::RecordType::A;
use tokio::time::Instant;

use super::validate::{bogus_ede, signed_net_with, validating};
use super::*;
use crate::cache::Trust;
use crate::dnssec::Ede;
use crate::lab::sign::Signing;

/// A second address for ns1.secure.test., where a copy of the zone with a broken signature
/// over www.secure.test. A is served.
const BAD: &str = "127.0.0.86";

fn second_address(file: &str, text: String) -> String {
    match file {
        "test.zone" => format!("{text}\nns1.secure 172800 IN A {BAD}\n"),
        "secure.test.zone" => format!("{text}\nns1 86400 IN A {BAD}\n"),
        _ => text,
    }
}

/// The www.secure.test. A queries sent, by server.
fn www_asked(net: &FakeNet, server: &str) -> usize {
    net.sent()
        .iter()
        .filter(|s| s.qname == name("www.secure.test.") && s.qtype == A && s.server == ip(server))
        .count()
}

#[tokio::test(start_paused = true)]
async fn a_bogus_answer_is_asked_again_of_the_zones_other_server() {
    let (net, anchors) = signed_net_with(second_address, &[("secure.test.", Signing::Bogus, BAD)]);
    let r = validating(&net, anchors);
    // The bad copy looks fastest, so it is asked first.
    r.infra
        .record_reply(ip(BAD), Some(Duration::from_millis(1)), Instant::now());
    r.infra.record_reply(
        ip("127.0.0.82"),
        Some(Duration::from_millis(50)),
        Instant::now(),
    );
    let res = expect(&r, "www.secure.test.", A, NoError).await;
    assert_eq!(res.security, Trust::Secure, "{res:?}");
    assert_eq!(lines(&res.answers), ["www.secure.test. 300 A 127.0.0.182"]);
    assert_eq!(
        (www_asked(&net, BAD), www_asked(&net, "127.0.0.82")),
        (1, 1)
    );
    // The good server's answer replaced the bogus one in the cache, with its verdict.
    let sent = net.total();
    let again = expect(&r, "www.secure.test.", A, NoError).await;
    assert_eq!((again.security, again.upstream_queries), (Trust::Secure, 0));
    assert_eq!(net.total(), sent);
}

#[tokio::test(start_paused = true)]
async fn bogus_everywhere_is_bogus_after_each_server_was_asked_once() {
    // The zone's own server serves a broken copy too (it replaces the good one there).
    let copies = [
        ("secure.test.", Signing::Bogus, BAD),
        ("secure.test.", Signing::Bogus, "127.0.0.82"),
    ];
    let (net, anchors) = signed_net_with(second_address, &copies);
    let r = validating(&net, anchors);
    let res = r
        .resolve(&name("www.secure.test."), A, Instant::now())
        .await;
    let res = res.expect("a bogus answer is still a resolution");
    assert_eq!(bogus_ede(&res.security), Some(Ede::Bogus.code()), "{res:?}");
    assert_eq!(
        (www_asked(&net, BAD), www_asked(&net, "127.0.0.82")),
        (1, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn a_zone_with_one_server_costs_no_retry() {
    let (net, anchors) = signed_net_with(|_, text| text, &[]);
    let r = validating(&net, anchors);
    let res = r
        .resolve(&name("www.bogus.test."), A, Instant::now())
        .await
        .expect("resolves");
    assert_eq!(bogus_ede(&res.security), Some(Ede::Bogus.code()), "{res:?}");
    let asked = net
        .sent()
        .iter()
        .filter(|s| s.qname == name("www.bogus.test.") && s.qtype == A)
        .count();
    assert_eq!(asked, 1);
}

//! The NS set beside a positive answer (`answer_ns`) is learned when the cache does not hold
//! it fresh, and left alone, with its servers' addresses, when it does: most replies repeat it.

use std::time::Duration;

use hickory_proto::op::ResponseCode::NoError;
use hickory_proto::rr::RData;
use hickory_proto::rr::RecordType::{A, NS};
use tokio::time::advance;

use super::*;
use crate::cache::{Data, Key};
use crate::resolver::Forward;

/// A resolver forwarding "." to a recursive server of the lab's zones.
fn forwarding_root(net: &Arc<FakeNet>) -> Arc<Resolver> {
    let forwarder = ip("127.144.0.1");
    net.add_recursive(forwarder);
    resolver_with(
        net,
        ResolverConfig {
            forwards: vec![Forward {
                zone: Name::root(),
                servers: vec![std::net::SocketAddr::new(forwarder, 53)],
                first: false,
                tls: None,
                no_cache: false,
            }],
            ..ResolverConfig::default()
        },
    )
}

/// The TTLs left of alpha.test.'s NS set and of its first server's address.
fn zone_ttls(r: &Resolver) -> (Option<u32>, Option<u32>) {
    let now = Instant::now();
    let ns_key = Key::new(&name("alpha.test."), NS);
    let target = r.cache.get(&ns_key, now).and_then(|c| match c.data {
        Data::Positive(records) => records.iter().find_map(|rec| match &rec.data {
            RData::NS(ns) => Some(ns.0.clone()),
            _ => None,
        }),
        _ => None,
    });
    let address = target.and_then(|t| r.cache.fresh_ttl(&Key::new(&t, A), now));
    (r.cache.fresh_ttl(&ns_key, now), address)
}

#[tokio::test(start_paused = true)]
async fn a_known_ns_set_beside_an_answer_is_not_learned_again() {
    let net = FakeNet::lab();
    let r = forwarding_root(&net);
    expect(&r, "www.alpha.test.", A, NoError).await;
    let (ns, address) = zone_ttls(&r);
    let (ns, address) = (
        ns.expect("the NS set beside the answer is kept"),
        address.expect("with its server's address"),
    );
    advance(Duration::from_secs(100)).await;
    // Another name of the zone: the forwarder's reply repeats the NS set and the address.
    expect(&r, "mail.alpha.test.", A, NoError).await;
    assert_eq!(
        zone_ttls(&r),
        (Some(ns - 100), Some(address - 100)),
        "neither stored again"
    );
}

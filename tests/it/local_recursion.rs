//! A recursive tern that also serves zones: names below a cut in a local zone are resolved at
//! the child's servers for RD=1 clients (the child may be reachable only through us), while
//! RD=0 clients still get the referral.

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use tern::Acl;
use tern::Metrics;

use crate::support::{self, addr, lines, query, udp, zone};

const SUBNET: u8 = 131;

#[tokio::test]
async fn names_below_a_local_cut_are_resolved_for_recursive_clients() {
    let child = support::start_authoritative(
        SocketAddr::new(addr(SUBNET, 2), 53),
        vec![zone(
            "sub.corp.test.",
            "$TTL 300\n@ SOA ns host 1 2 3 4 60\n@ NS ns\nns A 127.131.0.2\nwww A 192.0.2.80\n",
        )],
    )
    .await;
    // The root is unreachable: the child can only be found through the local zone's cut.
    let metrics = Arc::new(Metrics::default());
    let resolver =
        support::net_resolver(". 3600 NS a.root.\na.root. 3600 A 127.131.0.99\n", &metrics);
    let parent = zone(
        "corp.test.",
        "$TTL 300\n@ SOA ns host 1 2 3 4 60\n@ NS ns\nns A 192.0.2.1\n\
         sub NS ns.sub\nns.sub A 127.131.0.2\nalias CNAME www.sub\n",
    );
    let node = support::recursive(vec![parent], resolver, Acl::loopback(), &metrics);
    let server = support::start_fixed(SocketAddr::new(addr(SUBNET, 1), 0), node).await;

    let m = udp(
        server.addr,
        &query("www.sub.corp.test.", RecordType::A, true, Some(1232)),
    )
    .await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.recursion_available && !m.metadata.authoritative);
    assert_eq!(
        lines(&m.answers),
        ["www.sub.corp.test. 300 IN A 192.0.2.80"]
    );

    let m = udp(
        server.addr,
        &query("alias.corp.test.", RecordType::A, true, Some(1232)),
    )
    .await;
    assert_eq!(
        lines(&m.answers),
        [
            "alias.corp.test. 300 IN CNAME www.sub.corp.test.",
            "www.sub.corp.test. 300 IN A 192.0.2.80"
        ]
    );

    // RD=0: the referral, as an authoritative server gives it.
    let m = udp(
        server.addr,
        &query("www.sub.corp.test.", RecordType::A, false, Some(1232)),
    )
    .await;
    assert!(m.answers.is_empty() && !m.metadata.authoritative);
    assert_eq!(
        lines(&m.authorities),
        ["sub.corp.test. 300 IN NS ns.sub.corp.test."]
    );
    drop(child);
}

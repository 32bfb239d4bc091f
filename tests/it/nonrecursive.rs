//! Non-recursive (RD=0) questions to a recursive tern: answered from the cache alone, or with
//! a referral to the closest cached delegation, for clients allowed to snoop (Unbound's
//! `allow_snoop`); REFUSED for everyone else. None of them sends anything upstream.

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType::{self, A, NS};
use tern::Catalog;
use tern::Metrics;
use tern::NameServer;
use tern::{Acl, Cidr, Recursion};

use crate::support::{
    Lab, TestServer, addr, ede, lab_resolver, lines, query, start_fixed, start_lab, udp,
};

const SUBNET: u8 = 170;

async fn ask(server: &TestServer, qname: &str, qtype: RecordType, rd: bool) -> Message {
    udp(server.addr, &query(qname, qtype, rd, Some(1232))).await
}

fn names(records: &[hickory_proto::rr::Record]) -> Vec<String> {
    let mut v: Vec<String> = lines(records)
        .into_iter()
        .map(|l| l.replace(&format!("127.{SUBNET}.0."), "127.0.0."))
        .collect();
    v.sort();
    v
}

/// A recursive tern over its own lab on `subnet`, letting loopback recurse and `snoop` send
/// RD=0 questions.
async fn resolver(subnet: u8, snoop: Acl) -> (TestServer, Arc<Metrics>, Lab) {
    let lab = start_lab(subnet).await;
    let metrics = Arc::new(Metrics::default());
    let resolver = lab_resolver(&lab, &metrics);
    let node = NameServer::fixed(Catalog::default(), Arc::clone(&metrics)).recursion(Recursion {
        resolver,
        acl: Acl::loopback(),
        snoop,
    });
    let server = start_fixed(SocketAddr::new(addr(subnet, 1), 0), node).await;
    (server, metrics, lab)
}

#[tokio::test]
async fn rd0_is_answered_from_the_cache_or_with_the_closest_cached_delegation() {
    let (server, metrics, _lab) = resolver(SUBNET, Acl::loopback()).await;
    let upstream = || Metrics::get(&metrics.upstream_queries);

    // Nothing cached yet: no answer, no referral, and nothing sent upstream.
    let m = ask(&server, "www.alpha.test.", A, false).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(ede(&m).map(|e| e.0), Some(14), "EDE Not Ready");
    assert_eq!(upstream(), 0);

    let recursive = ask(&server, "www.alpha.test.", A, true).await;
    assert_eq!(recursive.answers.len(), 1);
    ask(&server, "nope.alpha.test.", A, true).await;
    let sent = upstream();
    assert!(sent > 0);

    // Cached: the same answer, not authoritative.
    let m = ask(&server, "www.alpha.test.", A, false).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(!m.metadata.authoritative && m.metadata.recursion_available);
    assert_eq!(names(&m.answers), ["www.alpha.test. 3600 IN A 127.0.0.100"]);
    let m = ask(&server, "nope.alpha.test.", A, false).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);

    // Not cached, below a cached cut: the referral, NS and glue.
    let m = ask(&server, "mail.alpha.test.", A, false).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty() && !m.metadata.authoritative);
    let ns = names(&m.authorities);
    assert_eq!(ns.len(), 2, "{ns:?}");
    assert!(
        ns.iter()
            .all(|l| l.starts_with("alpha.test. ") && l.contains(" NS "))
    );
    assert_eq!(
        names(&m.additionals),
        [
            "ns1.alpha.test. 86400 IN A 127.0.0.41",
            "ns2.alpha.test. 86400 IN A 127.0.0.42"
        ]
    );
    // A name under no cached cut but the root: the root's servers.
    let m = ask(&server, "www.beta.example.", A, false).await;
    assert!(m.answers.is_empty());
    assert!(
        m.authorities
            .iter()
            .all(|r| r.name.is_root() && r.record_type() == NS),
        "{:?}",
        names(&m.authorities)
    );
    assert!(
        !m.additionals.is_empty(),
        "with the root servers' addresses"
    );
    assert_eq!(upstream(), sent, "RD=0 never goes upstream");
}

#[tokio::test]
async fn rd0_from_a_client_not_allowed_to_snoop_is_refused() {
    let only: Cidr = "10.0.0.0/8".parse().expect("cidr");
    let (server, _metrics, _lab) = resolver(SUBNET + 1, Acl::new(vec![only])).await;
    ask(&server, "www.alpha.test.", A, true).await;
    let m = ask(&server, "www.alpha.test.", A, false).await;
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    assert!(m.answers.is_empty());
}

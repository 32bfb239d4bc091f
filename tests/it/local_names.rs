//! Names a resolver answers itself (RFC 6761 `localhost.` and `invalid.`, RFC 6303 private
//! reverse zones, RFC 8375 `home.arpa.`): answered authoritatively over real sockets, and not
//! one query goes upstream for them.

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::support::{self, query, udp};
use tern::Catalog;
use tern::Metrics;

const SUBNET: u8 = 226;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn localhost_invalid_and_private_reverse_names_never_leave_the_resolver() {
    let lab = support::start_lab(SUBNET).await;
    let metrics = Arc::new(Metrics::default());
    let resolver = support::lab_resolver(&lab, &metrics);
    let builtin = Catalog::new(tern::default_local_zones(|_| false).expect("built-in zones"))
        .expect("catalog");
    let node = support::recursive(Vec::new(), resolver, tern::Acl::loopback(), &metrics)
        .builtin_zones(builtin);
    let server = support::start_fixed(SocketAddr::new(support::addr(SUBNET, 100), 0), node).await;

    let cases = [
        (
            "localhost.",
            RecordType::A,
            ResponseCode::NoError,
            Some("127.0.0.1"),
        ),
        (
            "localhost.",
            RecordType::AAAA,
            ResponseCode::NoError,
            Some("::1"),
        ),
        (
            "1.0.0.127.in-addr.arpa.",
            RecordType::PTR,
            ResponseCode::NoError,
            Some("localhost."),
        ),
        ("x.invalid.", RecordType::A, ResponseCode::NXDomain, None),
        (
            "1.1.168.192.in-addr.arpa.",
            RecordType::PTR,
            ResponseCode::NXDomain,
            None,
        ),
        (
            "printer.home.arpa.",
            RecordType::A,
            ResponseCode::NXDomain,
            None,
        ),
    ];
    for (qname, qtype, rcode, data) in cases {
        let m = udp(server.addr, &query(qname, qtype, true, Some(1232))).await;
        assert_eq!(m.metadata.response_code, rcode, "{qname} {qtype}");
        assert!(m.metadata.authoritative, "{qname}: answered as ours");
        let got = m.answers.first().map(|r| r.data.to_string());
        assert_eq!(got.as_deref(), data, "{qname} {qtype}");
    }
    assert_eq!(
        Metrics::get(&metrics.upstream_queries),
        0,
        "nothing went upstream"
    );
    // Names of the lab are still resolved (and do go upstream).
    let www = udp(
        server.addr,
        &query("www.alpha.test.", RecordType::A, true, None),
    )
    .await;
    assert_eq!(www.metadata.response_code, ResponseCode::NoError);
    assert!(Metrics::get(&metrics.upstream_queries) > 0);
}

/// RFC 4892: `CH TXT id.server` and `hostname.bind` tell instances apart; `version.bind` is
/// REFUSED unless a version is configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_txt_names_the_instance_and_hides_the_version() {
    use hickory_proto::op::Query;
    use hickory_proto::rr::DNSClass;
    use tern::NameServer;
    use tern::{HandlerConfig, Identity};

    let ask = |server: SocketAddr, qname: &'static str, qtype: RecordType| async move {
        let mut q = query(qname, qtype, false, None);
        let mut question = Query::query(support::name(qname), qtype);
        question.set_query_class(DNSClass::CH);
        q.queries = vec![question];
        udp(server, &q).await
    };
    let start = |identity: Identity, host: u8| async move {
        let node = NameServer::fixed(Catalog::default(), Arc::new(Metrics::default())).config(
            HandlerConfig {
                identity,
                ..HandlerConfig::default()
            },
        );
        support::start_fixed(SocketAddr::new(support::addr(SUBNET, host), 0), node).await
    };
    let named = start(
        Identity {
            id: Some("tern-1".to_string()),
            version: None,
        },
        101,
    )
    .await;
    for qname in ["id.server.", "HOSTNAME.BIND."] {
        let m = ask(named.addr, qname, RecordType::TXT).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{qname}");
        assert!(m.metadata.authoritative);
        let txt: Vec<String> = m.answers.iter().map(|r| r.data.to_string()).collect();
        assert_eq!(txt, ["tern-1"], "{qname}");
        assert_eq!(m.answers[0].dns_class, DNSClass::CH);
    }
    let version = ask(named.addr, "version.bind.", RecordType::TXT).await;
    assert_eq!(version.metadata.response_code, ResponseCode::Refused);
    let other = ask(named.addr, "id.server.", RecordType::A).await;
    assert_eq!(other.metadata.response_code, ResponseCode::Refused);

    let versioned = start(
        Identity {
            id: None,
            version: Some("tern 0.1".to_string()),
        },
        102,
    )
    .await;
    let v = ask(versioned.addr, "version.server.", RecordType::TXT).await;
    assert_eq!(
        v.answers.first().map(|r| r.data.to_string()).as_deref(),
        Some("tern 0.1")
    );
    let hidden = ask(versioned.addr, "id.server.", RecordType::TXT).await;
    assert_eq!(hidden.metadata.response_code, ResponseCode::Refused);
}

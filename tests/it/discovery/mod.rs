//! Service discovery over real sockets: a tern serving `cluster.test.` with services whose
//! instances are small TCP and HTTP listeners on loopback, health-checked for real. A killed
//! node leaves the answers within the check interval and comes back when revived; each
//! balancing policy's order is checked over a thousand queries or more (`balance`).

mod balance;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::rr::{RData, RecordType};
use tern::Metrics;
use tern::NameServer;
use tern::Policy;
use tern::{Check, CheckSpec};
use tern::{Instance, Protocol, Service};
use tern::{Registration, Registry};
use tern::{ZoneFile, ZoneStore};
use tokio::net::TcpListener;

use balance::unchecked;

use crate::support::{
    TempDir, TestServer, addr, name, pass, query, start_fixed, start_stored, udp,
};

const ZONE: &str =
    "$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 127.0.0.1\n";

/// A tern serving `cluster.test.` on `127.N.0.1`, with `services` registered and checked.
struct Cluster {
    server: TestServer,
    registry: Arc<Registry>,
    metrics: Arc<Metrics>,
    _dir: TempDir,
}

async fn cluster(n: u8, services: Vec<Registration>) -> Cluster {
    let dir = TempDir::new(&format!("discovery-{n}"));
    let file = dir.0.join("cluster.test.zone");
    std::fs::write(&file, ZONE).expect("zone file");
    let store = ZoneStore::open(&[ZoneFile::new(name("cluster.test."), file)]).expect("zone loads");
    let metrics = Arc::new(Metrics::default());
    let node = NameServer::stored(store, services, Arc::clone(&metrics));
    let (server, registry) = start_stored(SocketAddr::new(addr(n, 1), 0), node).await;
    Cluster {
        server,
        registry,
        metrics,
        _dir: dir,
    }
}

fn instance(name: &str, address: IpAddr, port: u16, weight: u16, priority: u16) -> Instance {
    Instance {
        name: name.to_string(),
        address,
        port,
        weight,
        priority,
    }
}

fn service(name: &str, instances: Vec<Instance>) -> Service {
    Service {
        zone: crate::support::name("cluster.test."),
        name: name.to_string(),
        protocol: Protocol::Tcp,
        ttl: 5,
        instances,
    }
}

fn fast_check(check: Check) -> CheckSpec {
    CheckSpec {
        check,
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(100),
        rise: 2,
        fall: 2,
    }
}

/// The A records of `qname`, in answer order.
async fn addresses(server: SocketAddr, qname: &str) -> Vec<IpAddr> {
    let m = udp(server, &query(qname, RecordType::A, false, Some(1232))).await;
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            _ => None,
        })
        .collect()
}

/// The SRV answer for `_web._tcp.cluster.test.`: (priority, target) in answer order.
async fn srv_order(server: SocketAddr) -> Vec<(u16, String)> {
    let q = query(
        "_web._tcp.cluster.test.",
        RecordType::SRV,
        false,
        Some(1232),
    );
    udp(server, &q)
        .await
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(s) => Some((s.priority, s.target.to_ascii())),
            _ => None,
        })
        .collect()
}

/// Polls until `want` holds for the answer, or fails after `within`; returns how long it took.
async fn until<F: Fn(&[IpAddr]) -> bool>(
    server: SocketAddr,
    qname: &str,
    within: Duration,
    want: F,
) -> Duration {
    let started = Instant::now();
    loop {
        let got = addresses(server, qname).await;
        if want(&got) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{qname}: still {got:?} after {within:?}"
        );
        // Real time, not a moved clock: what is measured is how soon a node leaves or returns
        // on the wall clock, and a revived node's probe must connect within its timeout, which
        // moving the clock would cut short.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_killed_node_leaves_the_answers_within_the_check_interval_and_returns_when_revived() {
    let n = 210;
    let nodes: Vec<SocketAddr> = (11..=13)
        .map(|h| SocketAddr::new(addr(n, h), 8080))
        .collect();
    let mut listeners: Vec<Option<TcpListener>> = Vec::new();
    for node in &nodes {
        listeners.push(Some(TcpListener::bind(node).await.expect("node listens")));
    }
    let instances: Vec<Instance> = nodes
        .iter()
        .enumerate()
        .map(|(i, a)| instance(&format!("web-{}", i + 1), a.ip(), 8080, 1, 0))
        .collect();
    let checks = instances
        .iter()
        .zip(&nodes)
        .map(|(i, a)| (i.name.clone(), fast_check(Check::Tcp(*a))))
        .collect();
    let c = cluster(
        n,
        vec![Registration {
            service: service("web", instances),
            balance: None,
            checks,
        }],
    )
    .await;
    let all: Vec<IpAddr> = nodes.iter().map(|a| a.ip()).collect();
    let mut first = addresses(c.server.addr, "web.cluster.test.").await;
    first.sort();
    assert_eq!(first, all, "every node at first");

    // Kill web-2: it leaves A and SRV within interval × fall (200 ms), plus scheduling slack.
    listeners[1] = None;
    let took = until(
        c.server.addr,
        "web.cluster.test.",
        Duration::from_secs(3),
        |a| !a.contains(&nodes[1].ip()),
    )
    .await;
    assert!(took < Duration::from_millis(900), "left after {took:?}");
    let targets: Vec<String> = srv_order(c.server.addr)
        .await
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    assert_eq!(targets.len(), 2, "{targets:?}");
    assert!(
        !targets.iter().any(|t| t.starts_with("web-2.")),
        "{targets:?}"
    );
    // Its own name still resolves: an operator can reach the failing node.
    assert_eq!(
        addresses(c.server.addr, "web-2.web.cluster.test.").await,
        [nodes[1].ip()]
    );

    // Revive it: back after rise passes.
    listeners[1] = Some(
        TcpListener::bind(nodes[1])
            .await
            .expect("node listens again"),
    );
    let took = until(
        c.server.addr,
        "web.cluster.test.",
        Duration::from_secs(3),
        |a| a.contains(&nodes[1].ip()),
    )
    .await;
    assert!(took < Duration::from_millis(900), "returned after {took:?}");

    // Every node down: the service fails open, and says so in the counters. The checks' time
    // is moved, not waited for: each step makes every instance's next probe due, and that
    // probe fails, refused at once or timed out by the next step.
    for l in &mut listeners {
        *l = None;
    }
    let failed_open = || Metrics::get(&c.metrics.services_failed_open) > 0;
    for _ in 0..20 {
        if failed_open() {
            break;
        }
        pass(Duration::from_millis(100)).await;
        // Turns of the runtime, no time: the probes' connects, the registry's rewrite.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }
    assert!(
        failed_open(),
        "every instance down within 20 check intervals"
    );
    let mut open = addresses(c.server.addr, "web.cluster.test.").await;
    open.sort();
    assert_eq!(open, all, "fail open: every node rather than none");
    assert!(Metrics::get(&c.metrics.services_failed_open) > 0);
    let _ = &c.registry;
}

#[tokio::test]
async fn a_resolver_reaches_a_discovery_server_through_a_stub_zone() {
    let n = 216;
    let c = unchecked(n, Policy::RoundRobin, &[1, 1]).await;
    // A recursive tern whose only way to cluster.test. is the stub; its root hints lead nowhere.
    let hints = format!(". 3600000 NS a.root.\na.root. 3600000 A 127.{n}.0.250\n");
    let metrics = Arc::new(Metrics::default());
    let resolver = tern::Resolver::new(
        Arc::new(tern::NetUpstream::default()),
        tern::parse_root_hints(&hints, std::path::Path::new("hints")).expect("hints"),
        Arc::new(tern::Cache::new(tern::CachePolicy::default())),
        tern::ResolverConfig {
            stubs: vec![tern::Stub {
                zone: name("cluster.test."),
                servers: vec![c.server.addr],
            }],
            ..tern::ResolverConfig::default()
        },
        Arc::clone(&metrics),
    );
    let node = crate::support::recursive(Vec::new(), resolver, tern::Acl::loopback(), &metrics);
    let recursive = start_fixed(SocketAddr::new(addr(n, 2), 0), node).await;
    let q = query("_web._tcp.cluster.test.", RecordType::SRV, true, Some(1232));
    let m = udp(recursive.addr, &q).await;
    assert!(m.metadata.recursion_available && !m.metadata.authoritative);
    assert_eq!(m.answers.len(), 2, "{:?}", m.answers);
    assert!(
        m.answers.iter().all(|r| r.ttl <= 5),
        "the service's short TTL"
    );
    let sent = Metrics::get(&metrics.upstream_queries);
    assert!(sent > 0);
    assert!(
        !m.answers.is_empty() && sent < 5,
        "straight to the stub's server, not the root: {sent}"
    );
    let again = udp(recursive.addr, &q).await;
    assert_eq!(again.answers.len(), 2);
    assert_eq!(
        Metrics::get(&metrics.upstream_queries),
        sent,
        "from the cache"
    );
    let a = udp(
        recursive.addr,
        &query("web.cluster.test.", RecordType::A, true, Some(1232)),
    )
    .await;
    assert_eq!(a.answers.len(), 2, "{:?}", a.answers);
}

#[tokio::test]
async fn the_embedded_api_registers_checks_and_deregisters_at_run_time() {
    use tern::embed::{Builder, Instance, Registration, Service};
    let n = 217;
    let running = Builder::new()
        .listen(SocketAddr::new(addr(n, 1), 0))
        .zone_text("cluster.test.", ZONE)
        .service(Registration::new(
            Service::new("cluster.test.", "web").expect("valid"),
        ))
        .start()
        .await
        .expect("starts");
    let server = running.addr();
    assert!(addresses(server, "web.cluster.test.").await.is_empty());
    // An instance registered at run time is checked from then on.
    let node = SocketAddr::new(addr(n, 11), 8080);
    let listener = TcpListener::bind(node).await.expect("node listens");
    running
        .add_instance(
            "web.cluster.test.",
            Instance::new("web-1", node.ip(), 8080),
            Some(fast_check(Check::Tcp(node))),
        )
        .expect("registered");
    assert_eq!(addresses(server, "web.cluster.test.").await, [node.ip()]);
    running
        .add_instance(
            "web.cluster.test.",
            Instance::new("web-2", addr(n, 12), 8080),
            None,
        )
        .expect("registered");
    drop(listener);
    until(server, "web.cluster.test.", Duration::from_secs(3), |a| {
        a == [addr(n, 12)]
    })
    .await;
    let health = running.health("web.cluster.test.", "web-1").expect("known");
    assert!(!health.healthy, "{health:?}");
    running
        .remove_instance("web.cluster.test.", "web-2")
        .expect("removed");
    assert_eq!(
        addresses(server, "web.cluster.test.").await,
        [node.ip()],
        "web-1 alone, down: fail open"
    );
    running
        .deregister("web.cluster.test.")
        .expect("deregistered");
    assert!(addresses(server, "web.cluster.test.").await.is_empty());
    assert!(running.services().is_empty());
    running.shutdown().await;
}

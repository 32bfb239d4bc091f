//! Each balancing policy's order over real sockets, checked over a thousand queries or more:
//! round-robin, weighted (A and SRV), client hash, lowest latency.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::{RData, RecordType};
use tern::Policy;
use tern::Registration;
use tern::{Check, CheckSpec, HttpCheck};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

use super::{Cluster, addresses, cluster, instance, service, srv_order, until};
use crate::support::{addr, query};

/// A service of `weights.len()` instances on `127.N.0.(11+i)` without checks.
pub(super) async fn unchecked(n: u8, policy: Policy, weights: &[u16]) -> Cluster {
    let instances = weights
        .iter()
        .enumerate()
        .map(|(i, w)| {
            instance(
                &format!("web-{}", i + 1),
                addr(n, 11 + i as u8),
                8080,
                *w,
                0,
            )
        })
        .collect();
    cluster(
        n,
        vec![Registration {
            service: service("web", instances),
            balance: Some(policy),
            checks: HashMap::new(),
        }],
    )
    .await
}

/// How often each address came first over `rounds` queries.
async fn first_places(server: SocketAddr, rounds: usize) -> HashMap<IpAddr, usize> {
    let mut firsts = HashMap::new();
    for _ in 0..rounds {
        let a = addresses(server, "web.cluster.test.").await;
        *firsts.entry(a[0]).or_insert(0) += 1;
    }
    firsts
}

/// Pearson's χ² of `observed` against `expected` counts. The tests accept what chance gives
/// with probability 10⁻⁶ (at 0.001, three such tests failed about one CI run in 300 on luck
/// alone); any real bias they look for (a policy ignored, a weight misread) lands in the
/// hundreds.
fn chi_square(observed: &[usize], expected: &[f64]) -> f64 {
    observed
        .iter()
        .zip(expected)
        .map(|(o, e)| (*o as f64 - e).powi(2) / e)
        .sum()
}

#[tokio::test]
async fn round_robin_rotates_the_order_on_every_answer() {
    let n = 211;
    let c = unchecked(n, Policy::RoundRobin, &[1, 1, 1]).await;
    let mut previous = addresses(c.server.addr, "web.cluster.test.").await;
    for _ in 0..1200 {
        let next = addresses(c.server.addr, "web.cluster.test.").await;
        let mut rotated = previous.clone();
        rotated.rotate_left(1);
        assert_eq!(
            next, rotated,
            "each answer is the previous one rotated by one"
        );
        previous = next;
    }
}

#[tokio::test]
async fn weighted_puts_a_weight_3_instance_first_three_times_as_often() {
    let n = 212;
    let c = unchecked(n, Policy::Weighted, &[3, 1, 1]).await;
    let rounds = 2000;
    let firsts = first_places(c.server.addr, rounds).await;
    let observed: Vec<usize> = (11..=13)
        .map(|h| firsts.get(&addr(n, h)).copied().unwrap_or(0))
        .collect();
    let expected: Vec<f64> = [3.0, 1.0, 1.0]
        .iter()
        .map(|w| w / 5.0 * rounds as f64)
        .collect();
    // 2 degrees of freedom: χ² > 27.6 has probability 10⁻⁶.
    let chi = chi_square(&observed, &expected);
    assert!(chi < 27.6, "first places {observed:?}, χ² = {chi:.1}");
}

#[tokio::test]
async fn weighted_srv_follows_priority_then_rfc_2782_weights() {
    let n = 213;
    let instances = vec![
        instance("a", addr(n, 11), 8080, 30, 10),
        instance("b", addr(n, 12), 8080, 10, 10),
        instance("c", addr(n, 13), 8080, 50, 20),
    ];
    let c = cluster(
        n,
        vec![Registration {
            service: service("web", instances),
            balance: Some(Policy::Weighted),
            checks: HashMap::new(),
        }],
    )
    .await;
    let mut a_first = 0;
    let rounds = 1500;
    for _ in 0..rounds {
        let order = srv_order(c.server.addr).await;
        assert_eq!(order.len(), 3);
        assert!(
            order.windows(2).all(|w| w[0].0 <= w[1].0),
            "priority order: {order:?}"
        );
        if order[0].1.starts_with("a.") {
            a_first += 1;
        }
    }
    // Within priority 10, a (weight 30) leads b (weight 10) three times in four.
    let chi = chi_square(
        &[a_first, rounds - a_first],
        &[0.75 * rounds as f64, 0.25 * rounds as f64],
    );
    assert!(
        chi < 23.9,
        "a first {a_first} of {rounds}, χ² = {chi:.1} (1 d.o.f., p = 10⁻⁶)"
    );
}

/// Queries `web.cluster.test. A` from `client` (a loopback address of its own).
async fn first_from(server: SocketAddr, client: IpAddr) -> IpAddr {
    let sock = UdpSocket::bind(SocketAddr::new(client, 0))
        .await
        .expect("client bind");
    let q = query("web.cluster.test.", RecordType::A, false, Some(1232));
    sock.send_to(&q.to_vec().expect("encode"), server)
        .await
        .expect("send");
    let mut buf = vec![0u8; 4096];
    let (len, _) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf))
        .await
        .expect("reply in time")
        .expect("recv");
    let m = Message::from_vec(&buf[..len]).expect("parses");
    match &m.answers[0].data {
        RData::A(a) => IpAddr::V4(a.0),
        other => panic!("not an address: {other:?}"),
    }
}

#[tokio::test]
async fn client_hash_gives_a_client_the_same_first_answer_and_spreads_clients() {
    let n = 214;
    let c = unchecked(n, Policy::ClientHash, &[1, 1, 1, 1]).await;
    let clients: Vec<IpAddr> = (0..1000u32)
        .map(|i| IpAddr::from([127, n, 100 + (i / 250) as u8, (i % 250) as u8 + 1]))
        .collect();
    let mut counts: HashMap<IpAddr, usize> = HashMap::new();
    for client in &clients {
        let first = first_from(c.server.addr, *client).await;
        assert_eq!(
            first_from(c.server.addr, *client).await,
            first,
            "{client} asks again, gets the same"
        );
        *counts.entry(first).or_insert(0) += 1;
    }
    let observed: Vec<usize> = (11..=14)
        .map(|h| counts.get(&addr(n, h)).copied().unwrap_or(0))
        .collect();
    // 3 degrees of freedom: χ² > 30.7 has probability 10⁻⁶.
    let chi = chi_square(&observed, &[250.0; 4]);
    assert!(
        chi < 30.7,
        "clients per first answer {observed:?}, χ² = {chi:.1}"
    );
}

/// An HTTP health endpoint that answers 200 after `delay`.
async fn slow_http(at: SocketAddr, delay: Duration) -> tokio::task::JoinHandle<()> {
    let listener = TcpListener::bind(at).await.expect("http listens");
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 512];
                let _ = conn.read(&mut buf).await;
                // The latency the lowest-latency policy measures: a property of this fake
                // server, not a wait of the test's.
                tokio::time::sleep(delay).await;
                let _ = conn
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                    .await;
            });
        }
    })
}

#[tokio::test]
async fn lowest_latency_orders_by_the_checks_rtt() {
    let n = 215;
    let delays = [60u64, 5, 30];
    let mut servers = Vec::new();
    let mut instances = Vec::new();
    let mut checks = HashMap::new();
    for (i, d) in delays.iter().enumerate() {
        let at = SocketAddr::new(addr(n, 11 + i as u8), 8080);
        servers.push(slow_http(at, Duration::from_millis(*d)).await);
        let name = format!("web-{}", i + 1);
        instances.push(instance(&name, at.ip(), 8080, 1, 0));
        let url: HttpCheck = format!("http://{at}/health").parse().expect("url");
        checks.insert(
            name,
            CheckSpec {
                check: Check::Http(url),
                interval: Duration::from_millis(100),
                timeout: Duration::from_millis(100),
                rise: 2,
                fall: 2,
            },
        );
    }
    let c = cluster(
        n,
        vec![Registration {
            service: service("web", instances),
            balance: Some(Policy::LowestLatency),
            checks,
        }],
    )
    .await;
    let want = vec![addr(n, 12), addr(n, 13), addr(n, 11)];
    // The RTTs need a few checks to be measured and smoothed.
    until(
        c.server.addr,
        "web.cluster.test.",
        Duration::from_secs(5),
        |a| a == want.as_slice(),
    )
    .await;
    for _ in 0..1000 {
        assert_eq!(addresses(c.server.addr, "web.cluster.test.").await, want);
    }
    for s in servers {
        s.abort();
    }
}

use std::future::Future;
use std::net::Ipv6Addr;

use super::*;

fn registry(total: usize, per_prefix: usize) -> Arc<Registry> {
    Registry::new(&TcpLimits {
        max_connections: total,
        max_per_prefix: per_prefix,
        ..TcpLimits::default()
    })
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

/// Whether `guard` has been told to close, without waiting: a stored notification completes
/// the wait on its first poll.
fn told(guard: &Guard) -> bool {
    let notified = guard.slot.evict.notified();
    tokio::pin!(notified);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    notified.as_mut().poll(&mut cx).is_ready()
}

async fn later(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

#[test]
fn prefixes_group_ipv4_by_24_and_ipv6_by_56() {
    let p = |s| Prefix::of(ip(s), 24, 56);
    assert_eq!(p("192.0.2.1"), p("192.0.2.254"));
    assert_ne!(p("192.0.2.1"), p("192.0.3.1"));
    assert_eq!(p("2001:db8:0:ff::1"), p("2001:db8:0:00::2"));
    assert_ne!(p("2001:db8:0:100::1"), p("2001:db8:0:0::1"));
    let mapped = IpAddr::V6(Ipv6Addr::from(0xffff_c000_0201u128));
    assert_eq!(
        Prefix::of(mapped, 24, 56),
        p("192.0.2.9"),
        "v4-mapped is IPv4"
    );
    assert_eq!(Prefix::of(ip("10.1.2.3"), 32, 128), Prefix::V4(0x0a01_0203));
    assert_eq!(Prefix::of(ip("10.1.2.3"), 0, 0), Prefix::V4(0));
}

#[tokio::test(start_paused = true)]
async fn a_full_server_closes_the_connection_idle_longest() {
    let r = registry(3, 64);
    let a = r.admit(ip("192.0.2.1")).expect("a");
    a.established();
    later(10).await;
    let b = r.admit(ip("198.51.100.1")).expect("b");
    b.established();
    later(10).await;
    let c = r.admit(ip("203.0.113.1")).expect("c");
    c.established();
    later(10).await;
    // `a` is oldest but just answered a query: `b` has been idle longest.
    drop(a.busy());
    let d = r.admit(ip("203.0.113.2")).expect("room made");
    assert!(told(&b), "b, idle longest, closed");
    assert!(!told(&a) && !told(&c), "the others kept");
    assert_eq!(r.open(), 3, "the cap holds");
    drop(b);
    assert_eq!(r.open(), 3, "an evicted guard's drop frees nothing twice");
    drop(d);
    assert_eq!(r.open(), 2);
}

#[tokio::test(start_paused = true)]
async fn busy_connections_are_never_closed_and_a_full_busy_server_refuses() {
    let r = registry(2, 64);
    let a = r.admit(ip("192.0.2.1")).expect("a");
    let b = r.admit(ip("198.51.100.1")).expect("b");
    a.established();
    b.established();
    let (_qa, _qb) = (a.busy(), b.busy());
    later(1000).await;
    assert!(r.admit(ip("203.0.113.1")).is_none(), "refused");
    assert!(!told(&a) && !told(&b), "nobody closed for a refusal");
    drop(_qb);
    assert!(r.admit(ip("203.0.113.1")).is_some(), "b idle now: room");
    assert!(told(&b));
}

#[tokio::test(start_paused = true)]
async fn a_prefix_at_its_cap_evicts_its_own_not_others() {
    let r = registry(100, 2);
    let other = r.admit(ip("198.51.100.1")).expect("other");
    other.established();
    later(10).await;
    let a = r.admit(ip("192.0.2.1")).expect("a");
    a.established();
    later(10).await;
    let b = r.admit(ip("192.0.2.2")).expect("b");
    b.established();
    later(10).await;
    let c = r
        .admit(ip("192.0.2.3"))
        .expect("room made within the prefix");
    assert!(told(&a), "the prefix's own idle-longest closed");
    assert!(!told(&other), "another prefix's older connection kept");
    let _qb = b.busy();
    let _qc = c.busy();
    assert!(r.admit(ip("192.0.2.4")).is_none(), "the prefix's all busy");
    assert!(
        r.admit(ip("192.0.3.4")).is_some(),
        "the next /24 is another prefix"
    );
}

#[tokio::test(start_paused = true)]
async fn stalled_handshakes_go_before_idle_clients_and_young_ones_last() {
    let r = registry(3, 64);
    let idle = r.admit(ip("192.0.2.1")).expect("idle");
    idle.established();
    let stalled = r.admit(ip("198.51.100.1")).expect("stalled handshake");
    later(3000).await;
    let young = r.admit(ip("203.0.113.1")).expect("young handshake");
    // Full: the stalled handshake (past its grace) goes first, though `idle` is as old.
    let _n1 = r.admit(ip("203.0.113.2")).expect("n1");
    assert!(told(&stalled), "stalled handshake closed first");
    assert!(!told(&idle) && !told(&young));
    // Then the idle client, before a handshake still within its grace.
    let _n2 = r.admit(ip("203.0.113.3")).expect("n2");
    assert!(told(&idle), "idle client next");
    assert!(!told(&young), "young handshake kept");
}

#[tokio::test(start_paused = true)]
async fn a_handshake_flood_never_locks_out_a_newcomer() {
    let r = registry(16, 1_000);
    let mut flood = Vec::new();
    for i in 0..1000u32 {
        let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i * 256));
        flood.push(r.admit(ip).expect("every newcomer gets in"));
        later(5).await;
        assert!(r.open() <= 16);
    }
    let honest = r.admit(ip("192.0.2.1")).expect("admitted");
    honest.established();
    let _q = honest.busy();
    assert!(!told(&honest));
}

#[tokio::test(start_paused = true)]
async fn a_connection_is_idle_only_when_no_request_runs_for_the_timeout() {
    let idle = Duration::from_secs(10);
    let registry = registry(8, 8);
    let guard = registry.admit(ip("192.0.2.1")).expect("room");
    guard.established();
    let from = Instant::now();
    guard.idle_for(idle).await;
    assert_eq!(from.elapsed(), idle, "idle from the start");

    // A request that runs 25 s keeps it busy; idle counts from its end.
    let from = Instant::now();
    let busy = guard.busy();
    let request = tokio::spawn(async move {
        let _busy = busy;
        tokio::time::sleep(Duration::from_secs(25)).await;
    });
    tokio::task::yield_now().await;
    guard.idle_for(idle).await;
    request.await.expect("request ran");
    assert!(
        from.elapsed() >= Duration::from_secs(35),
        "idle 10 s after the request ended, not before: {:?}",
        from.elapsed()
    );
    assert!(
        from.elapsed() <= Duration::from_secs(46),
        "{:?}",
        from.elapsed()
    );
}

//! The TCP listener's limits and its connections' timeouts (paused clock), and the hit path
//! inline in a connection.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::*;
use crate::authority::Catalog;
use crate::handler::HandlerConfig;
use crate::metrics::Metrics;
use crate::server::shutdown::{self, ShutdownTrigger};

fn limits(idle_timeout: Duration, connections: usize, depth: usize) -> TcpLimits {
    TcpLimits {
        idle_timeout,
        max_connections: connections,
        pipeline_depth: depth,
        ..TcpLimits::default()
    }
}

fn parts(l: TcpLimits) -> (Duration, usize, usize) {
    (l.idle_timeout, l.max_connections, l.pipeline_depth)
}

#[test]
fn limits_are_clamped_into_their_bounds() {
    let lowest = limits(
        Duration::from_millis(TCP_IDLE_TIMEOUT_MS.min),
        TCP_MAX_CONNECTIONS.min,
        TCP_PIPELINE_DEPTH.min,
    );
    let highest = limits(
        Duration::from_millis(TCP_IDLE_TIMEOUT_MS.max),
        TCP_MAX_CONNECTIONS.max,
        TCP_PIPELINE_DEPTH.max,
    );
    let sane = TcpLimits::default();
    for (given, clamped) in [
        (limits(Duration::ZERO, 0, 0), lowest),
        (limits(Duration::MAX, usize::MAX, usize::MAX), highest),
        (sane, sane),
    ] {
        assert_eq!(parts(given.clamped()), parts(clamped), "{given:?}");
    }
}

#[test]
fn prefix_limits_are_clamped_into_their_bounds() {
    let wild = TcpLimits {
        max_per_prefix: 0,
        ipv4_prefix: 0,
        ipv6_prefix: 200,
        ..TcpLimits::default()
    }
    .clamped();
    assert_eq!(
        (wild.max_per_prefix, wild.ipv4_prefix, wild.ipv6_prefix),
        (1, TCP_IPV4_PREFIX.min, TCP_IPV6_PREFIX.max)
    );
}

/// A listener of an empty catalog with the given idle timeout, serving on the test's
/// runtime (whose clock the test pauses).
async fn listening(idle_timeout: Duration) -> (SocketAddr, ShutdownTrigger) {
    let listener = TcpListener::bind("127.46.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (trigger, signal) = shutdown::channel();
    let catalog = Catalog::new([]).expect("empty catalog");
    let metrics = Arc::new(Metrics::default());
    let handler = Handler::new(catalog, HandlerConfig::default(), metrics);
    let limits = limits(idle_timeout, 8, 4);
    tokio::spawn(serve(listener, Arc::new(handler), limits, signal));
    (addr, trigger)
}

/// Reads until the server closes the connection; how long after `from` that was.
async fn closed_after(stream: &mut (impl AsyncReadExt + Unpin), from: Instant) -> Duration {
    let mut buf = [0u8; 64];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return from.elapsed(),
            Ok(_) => {}
        }
    }
}

const IDLE: Duration = Duration::from_secs(10);

fn about_idle(after: Duration) -> bool {
    after >= IDLE && after < IDLE + Duration::from_secs(1)
}

#[tokio::test(start_paused = true)]
async fn half_a_length_prefix_is_closed_at_the_idle_timeout() {
    let (addr, _trigger) = listening(IDLE).await;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // A slow-loris: the first byte of a length prefix, then nothing.
    stream.write_all(&[0]).await.expect("one byte");
    let from = Instant::now();
    let after = tokio::time::timeout(IDLE * 3, closed_after(&mut stream, from))
        .await
        .expect("closed by the server");
    assert!(about_idle(after), "closed after {after:?}");
}

#[tokio::test(start_paused = true)]
async fn a_message_trickled_in_gets_one_idle_timeout_in_all() {
    let (addr, _trigger) = listening(IDLE).await;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = stream.split();
    // A prefix that claims 1000 bytes, then one byte every 2 s: never quiet for long, but
    // the message would take 2000 s. The timeout bounds the whole message, not each read.
    writer.write_all(&[0x03, 0xe8]).await.expect("prefix");
    let from = Instant::now();
    let trickle = async {
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            if writer.write_all(&[0]).await.is_err() {
                return;
            }
        }
    };
    let after = tokio::select! {
        after = closed_after(&mut reader, from) => after,
        () = trickle => closed_after(&mut reader, from).await,
    };
    assert!(about_idle(after), "closed after {after:?}");
}

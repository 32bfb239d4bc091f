//! The kept connection over an in-memory pipe with a paused clock (pipelining, ID matching,
//! the outstanding bound, idle and silent close), the reconnect backoff, and the start-up
//! errors of `tls_name`/`ca`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rustls::RootCertStore;
use tokio::net::TcpListener;

use tokio::io::{AsyncWriteExt, DuplexStream};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::backoff::Backoff;
use super::conn::{ConnError, Job, Limits, Response, run};
use super::pool::Health;
use super::{DotConfigError, DotUpstream};
use crate::frame::{read_frame, write_frame};

const LIMITS: Limits = Limits {
    outstanding: 3,
    idle: Duration::from_secs(20),
};

/// A connection task on one end of a pipe; the test plays the server on the other.
pub(super) fn connection(limits: Limits) -> (mpsc::Sender<Job>, DuplexStream) {
    let (client, server) = tokio::io::duplex(4096);
    let (jobs, queue) = mpsc::channel(16);
    tokio::spawn(run(client, queue, limits, Health::detached()));
    (jobs, server)
}

/// A fake query: ID, then a payload that tells the queries apart (DoH's tests' too).
pub(crate) async fn ask<E>(
    jobs: &mpsc::Sender<Job<E>>,
    id: u16,
    tag: u8,
) -> oneshot::Receiver<Result<Response, E>> {
    let (reply, response) = oneshot::channel();
    let mut bytes = id.to_be_bytes().to_vec();
    bytes.extend_from_slice(&[0; 10]);
    bytes.push(tag);
    jobs.send(Job { bytes, reply }).await.expect("queued");
    response
}

pub(super) async fn read(server: &mut DuplexStream) -> Vec<u8> {
    read_frame(server)
        .await
        .expect("reads")
        .expect("a query, not the end")
}

#[tokio::test(start_paused = true)]
async fn pipelined_queries_get_distinct_ids_and_out_of_order_responses_find_their_query() {
    let (jobs, mut server) = connection(LIMITS);
    // Three queries with the same ID: on the wire they must differ.
    let mut waiting = Vec::new();
    for tag in 1..=3 {
        waiting.push(ask(&jobs, 7, tag).await);
    }
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(read(&mut server).await);
    }
    let mut ids: Vec<&[u8]> = seen.iter().map(|q| &q[..2]).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "distinct IDs on one connection");
    // Answered last first, each response echoing the query's payload.
    for query in seen.iter().rev() {
        write_frame(&mut server, query).await.expect("answers");
    }
    for (tag, response) in (1..=3).zip(waiting) {
        let r = response.await.expect("answered").expect("a response");
        assert_eq!(
            &r.bytes[..2],
            &7u16.to_be_bytes(),
            "the query's own ID back"
        );
        assert_eq!(r.bytes.last(), Some(&tag), "its own response");
    }
}

#[tokio::test(start_paused = true)]
async fn no_more_than_the_bound_is_outstanding_and_the_rest_waits() {
    let (jobs, mut server) = connection(LIMITS);
    let mut waiting = Vec::new();
    for tag in 1..=4 {
        waiting.push(ask(&jobs, u16::from(tag), tag).await);
    }
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(read(&mut server).await);
    }
    let fourth = tokio::time::timeout(Duration::from_secs(1), read_frame(&mut server)).await;
    assert!(fourth.is_err(), "the fourth waits for room: {fourth:?}");
    write_frame(&mut server, &seen[0]).await.expect("answers");
    let fourth = read(&mut server).await;
    assert_eq!(fourth.last(), Some(&4));
}

#[tokio::test(start_paused = true)]
async fn an_idle_connection_is_closed_and_a_silent_one_fails_its_queries() {
    let (jobs, mut server) = connection(LIMITS);
    let response = ask(&jobs, 1, 1).await;
    let query = read(&mut server).await;
    write_frame(&mut server, &query).await.expect("answers");
    response.await.expect("answered").expect("a response");
    let started = Instant::now();
    assert!(read_frame(&mut server).await.expect("clean").is_none());
    assert_eq!(started.elapsed(), LIMITS.idle, "closed after the idle time");
    assert!(jobs.is_closed(), "the task ended");

    let (jobs, mut server) = connection(LIMITS);
    let response = ask(&jobs, 1, 1).await;
    read(&mut server).await;
    let started = Instant::now();
    let failed = response.await.expect("told");
    assert!(
        matches!(&failed, Err(ConnError::Lost(why)) if why.contains("no response")),
        "{failed:?}"
    );
    assert_eq!(started.elapsed(), LIMITS.idle);
    server.shutdown().await.expect("shut");
}

#[tokio::test(start_paused = true)]
async fn a_server_that_closes_fails_what_is_outstanding() {
    let (jobs, mut server) = connection(LIMITS);
    let response = ask(&jobs, 1, 1).await;
    read(&mut server).await;
    drop(server);
    let failed = response.await.expect("told");
    assert!(matches!(failed, Err(ConnError::Lost(_))), "{failed:?}");
}

#[tokio::test(start_paused = true)]
async fn reconnecting_waits_longer_after_each_failure_until_one_works() {
    let mut b = Backoff::default();
    let now = Instant::now();
    assert!(b.check(now).is_ok());
    let why = ConnError::Connect("TLS handshake: invalid peer certificate".into());
    let mut waits = Vec::new();
    for _ in 0..8 {
        waits.push(b.failed(why.clone(), now).as_secs());
    }
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
    assert_eq!(b.check(now + Duration::from_secs(59)), Err(why));
    assert!(b.check(now + Duration::from_secs(60)).is_ok());
    b.succeeded();
    assert!(b.check(now).is_ok());
    assert_eq!(b.failed(ConnError::Refused, now).as_secs(), 1);
}

#[test]
fn a_ca_that_cannot_be_read_or_a_bad_name_is_refused_naming_it() {
    let missing = Path::new("/nonexistent/tern-upstream-ca.pem");
    let e = DotUpstream::new("dns.example", Some(missing)).expect_err("no file");
    assert!(matches!(e, DotConfigError::Ca { .. }), "{e}");
    assert!(e.to_string().contains("tern-upstream-ca.pem"), "{e}");
    let dir = std::env::temp_dir().join(format!("tern-dot-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").expect("write");
    let e = DotUpstream::new("dns.example", Some(&empty)).expect_err("no certificate");
    assert!(e.to_string().contains("empty.pem"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
    let e =
        DotUpstream::with_roots("not a name!", None, RootCertStore::empty()).expect_err("bad name");
    assert!(matches!(e, DotConfigError::Name(_)), "{e}");
}

#[tokio::test]
async fn a_failed_handshake_fails_the_query_and_the_server_is_left_alone_in_backoff() {
    // A "server" that accepts and hangs up: no TLS session can be made.
    let listener = TcpListener::bind("127.71.0.1:0").await.expect("bind");
    let server = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&accepted);
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    let dot = DotUpstream::with_roots("dns.example", None, RootCertStore::empty()).expect("dot");
    let query = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    let first = dot.query(server, query.clone()).await.expect_err("fails");
    assert!(
        matches!(&first, ConnError::Connect(why) if why.starts_with("TLS handshake")),
        "{first:?}"
    );
    // In backoff: the same failure at once, without another connection.
    let again = dot.query(server, query.clone()).await.expect_err("fails");
    assert_eq!(again, first);
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    task.abort();
    // Nobody listening: refused, which the resolver treats as a dead server.
    let closed = {
        let l = TcpListener::bind("127.71.0.2:0").await.expect("bind");
        l.local_addr().expect("addr")
    };
    let refused = dot.query(closed, query).await.expect_err("refused");
    assert_eq!(refused, ConnError::Refused);
}

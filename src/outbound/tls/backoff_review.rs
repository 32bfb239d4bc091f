//! Review of the pool's backoff against a server that completes the handshake and then hangs
//! up before answering anything (an overloaded DoT server at its connection cap, a broken
//! middlebox): that connection failed as surely as a refused one, and must put the server in
//! backoff, or every query pays a handshake against a server already overloaded, and fails.
//! An idle connection the server closes with nothing outstanding is no failure (RFC 7766).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::DuplexStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::conn::{ConnError, Job, Limits, run};
use super::pool::{Health, Pool, Transport};
use crate::frame::{read_frame, write_frame};

const LIMITS: Limits = Limits {
    outstanding: 3,
    idle: Duration::from_secs(20),
};

/// What the next connection's server does.
const ANSWER: u8 = 0;
/// Reads the first query, then closes without answering it.
const CLOSE_AFTER_QUERY: u8 = 1;
/// Closes as soon as the connection is made.
const CLOSE_AT_ONCE: u8 = 2;

/// Every connection a pipe with a fake DoT server on its other end, behaving as `mode` says
/// when the connection is made; the `failed` log lines kept.
#[derive(Default)]
struct Pipes {
    connections: Arc<AtomicUsize>,
    mode: Arc<AtomicU8>,
    failures: Arc<Mutex<Vec<(SocketAddr, ConnError, Duration)>>>,
}

impl Transport for Pipes {
    type Error = ConnError;
    type Stream = DuplexStream;

    async fn connect(&self, _: SocketAddr) -> Result<DuplexStream, ConnError> {
        self.connections.fetch_add(1, Ordering::SeqCst);
        let (client, server) = tokio::io::duplex(4096);
        tokio::spawn(serve(server, self.mode.load(Ordering::SeqCst)));
        Ok(client)
    }

    fn serve(
        &self,
        stream: DuplexStream,
        jobs: mpsc::Receiver<Job>,
        health: Health,
    ) -> impl Future<Output = ()> + Send {
        run(stream, jobs, LIMITS, health)
    }

    fn failed(&self, server: SocketAddr, error: &ConnError, retry_in: Duration) {
        let mut log = self.failures.lock().expect("log");
        log.push((server, error.clone(), retry_in));
    }
}

async fn serve(mut server: DuplexStream, mode: u8) {
    match mode {
        ANSWER => {
            while let Ok(Some(query)) = read_frame(&mut server).await {
                if write_frame(&mut server, &query).await.is_err() {
                    return;
                }
            }
        }
        CLOSE_AFTER_QUERY => {
            let _ = read_frame(&mut server).await;
        }
        _ => {}
    }
}

fn query(tag: u8) -> Vec<u8> {
    let mut bytes = vec![0x12, 0x34];
    bytes.extend_from_slice(&[0; 10]);
    bytes.push(tag);
    bytes
}

const SERVER: &str = "127.115.0.1:853";

/// N sequential queries to a server that hangs up on each connection with the query
/// outstanding made N connections (N handshakes), each query failing. Now the first such
/// connection puts the server in backoff, said once in the log; a connection that answers
/// resets the backoff, and the server's idle close is no failure.
#[tokio::test(start_paused = true)]
async fn a_server_that_hangs_up_before_answering_anything_is_backed_off_from() {
    let pipes = Pipes::default();
    let (connections, mode, failures) = (
        Arc::clone(&pipes.connections),
        Arc::clone(&pipes.mode),
        Arc::clone(&pipes.failures),
    );
    let pool = Pool::new(pipes, LIMITS.outstanding);
    let server: SocketAddr = SERVER.parse().expect("addr");
    mode.store(CLOSE_AFTER_QUERY, Ordering::SeqCst);

    let first = pool.query(server, query(1)).await.expect_err("hung up");
    assert!(
        matches!(&first, ConnError::Lost(why) if why.contains("closed by the server")),
        "{first:?}"
    );
    let started = Instant::now();
    let second = pool.query(server, query(2)).await.expect_err("in backoff");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "no new handshake while in backoff"
    );
    assert_eq!(second, first, "the reason, at once");
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(
        *failures.lock().expect("log"),
        [(server, first.clone(), Duration::from_secs(1))],
        "one log line naming the server and the reason"
    );

    // After the backoff, tried again: the same, so twice as long.
    tokio::time::sleep(Duration::from_secs(1)).await;
    pool.query(server, query(3)).await.expect_err("hung up");
    assert_eq!(connections.load(Ordering::SeqCst), 2);
    assert_eq!(
        failures.lock().expect("log").last().map(|f| f.2),
        Some(Duration::from_secs(2))
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    pool.query(server, query(4)).await.expect_err("in backoff");
    assert_eq!(connections.load(Ordering::SeqCst), 2);

    // Back to health: answered, which resets the backoff.
    tokio::time::sleep(Duration::from_secs(1)).await;
    mode.store(ANSWER, Ordering::SeqCst);
    let answered = pool.query(server, query(5)).await;
    assert!(answered.is_ok(), "{answered:?}");
    assert_eq!(connections.load(Ordering::SeqCst), 3);
    // That connection closes idle (ours); the next hangs up again: the first backoff again.
    tokio::time::sleep(LIMITS.idle + Duration::from_secs(1)).await;
    mode.store(CLOSE_AFTER_QUERY, Ordering::SeqCst);
    pool.query(server, query(6)).await.expect_err("hung up");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        4,
        "idle close no failure"
    );
    assert_eq!(
        failures.lock().expect("log").last().map(|f| f.2),
        Some(Duration::from_secs(1)),
        "the answer reset the backoff"
    );
}

/// A server that closes a connection on which nothing is outstanding or queued (as servers
/// close idle connections) has not failed: the next query connects at once.
#[tokio::test(start_paused = true)]
async fn a_server_that_closes_with_nothing_outstanding_has_not_failed() {
    let pipes = Pipes::default();
    let (connections, mode, failures) = (
        Arc::clone(&pipes.connections),
        Arc::clone(&pipes.mode),
        Arc::clone(&pipes.failures),
    );
    let pool = Pool::new(pipes, LIMITS.outstanding);
    let server: SocketAddr = SERVER.parse().expect("addr");
    mode.store(CLOSE_AT_ONCE, Ordering::SeqCst);
    let jobs = pool.connection(server).expect("connects");
    tokio::time::timeout(Duration::from_secs(1), jobs.closed())
        .await
        .expect("closed by the server");
    mode.store(ANSWER, Ordering::SeqCst);
    let answered = pool.query(server, query(1)).await;
    assert!(answered.is_ok(), "{answered:?}");
    assert_eq!(connections.load(Ordering::SeqCst), 2);
    assert!(failures.lock().expect("log").is_empty());

    // Hanging up at once on a query that waits for the connection is a failure, though.
    tokio::time::sleep(LIMITS.idle + Duration::from_secs(1)).await;
    mode.store(CLOSE_AT_ONCE, Ordering::SeqCst);
    let lost = pool.query(server, query(2)).await.expect_err("hung up");
    assert_eq!(pool.connection(server).expect_err("in backoff"), lost);
    assert_eq!(connections.load(Ordering::SeqCst), 3);
}

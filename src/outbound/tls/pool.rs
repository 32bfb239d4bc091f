//! The kept connections of one forward zone's servers, for DNS over TLS and over HTTPS alike:
//! one connection per server, kept open and shared by every query to it. A query finds the
//! live connection, or starts one whose handshake the queries queued behind it share. A
//! connection that cannot be made (refused, handshake or certificate failure), or that the
//! server ends (closes, resets, GOAWAY, silence) while queries wait on it before it has
//! answered any, puts the server in backoff: until it ends, queries fail at once with the same
//! reason rather than each paying for a handshake against a server that is down or overloaded
//! (Unbound counts such a connection as a failure of its server too), and the log says why
//! once per attempt. Only a response resets the backoff: a handshake alone proves little.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::backoff::Backoff;
use super::conn::{ConnError, Job, Response};

/// How one transport makes a connection and serves queries over it.
pub(crate) trait Transport: Send + Sync + 'static {
    /// What a query's waiter gets when it fails: at least the connection's failures.
    type Error: From<ConnError> + Send + 'static;
    /// A connection made, handshakes done.
    type Stream: Send + 'static;
    /// Connects to `server` and completes the handshakes, certificate checked.
    fn connect(
        &self,
        server: SocketAddr,
    ) -> impl Future<Output = Result<Self::Stream, ConnError>> + Send;
    /// Serves `jobs` over the connection until it ends; what is left then fails. Tells
    /// `health` of its responses and of the server ending it before any.
    fn serve(
        &self,
        stream: Self::Stream,
        jobs: mpsc::Receiver<Job<Self::Error>>,
        health: Health,
    ) -> impl Future<Output = ()> + Send;
    /// Says in the log that connecting to `server` failed, or that the connection was lost
    /// before any answer, and when it is tried again.
    fn failed(&self, server: SocketAddr, error: &ConnError, retry_in: Duration);
}

/// The servers' connections over one transport.
pub(crate) struct Pool<T: Transport> {
    transport: Arc<T>,
    /// Queries waiting for a connection's room, per server.
    queue: usize,
    servers: Mutex<HashMap<SocketAddr, Server<T::Error>>>,
}

/// Connections are state, not configuration: every pool is like every other, so that an
/// upstream's configuration compares (for reloads) and prints without them.
impl<T: Transport> PartialEq for Pool<T> {
    fn eq(&self, _: &Pool<T>) -> bool {
        true
    }
}

impl<T: Transport> Eq for Pool<T> {}

impl<T: Transport> std::fmt::Debug for Pool<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}

/// One server's connection, if any, and its backoff.
struct Server<E> {
    jobs: Option<mpsc::Sender<Job<E>>>,
    backoff: Arc<Mutex<Backoff>>,
}

impl<E> Default for Server<E> {
    fn default() -> Server<E> {
        Server {
            jobs: None,
            backoff: Arc::default(),
        }
    }
}

impl<T: Transport> Pool<T> {
    pub(crate) fn new(transport: T, queue: usize) -> Pool<T> {
        Pool {
            transport: Arc::new(transport),
            queue,
            servers: Mutex::new(HashMap::new()),
        }
    }

    /// Sends `query` (wire form) to `server` over its kept connection and waits, without a
    /// time limit of its own, for the response, which comes back with the query's own ID.
    pub(crate) async fn query(
        &self,
        server: SocketAddr,
        query: Vec<u8>,
    ) -> Result<Response, T::Error> {
        let jobs = self.connection(server)?;
        let (reply, response) = oneshot::channel();
        let closed = || T::Error::from(ConnError::Lost("connection closed".into()));
        let job = Job {
            bytes: query,
            reply,
        };
        jobs.send(job).await.map_err(|_| closed())?;
        response.await.map_err(|_| closed())?
    }

    /// The server's live connection, or a new one (connecting in its own task, queries queued
    /// meanwhile); in backoff, the last failure.
    pub(crate) fn connection(
        &self,
        server: SocketAddr,
    ) -> Result<mpsc::Sender<Job<T::Error>>, ConnError> {
        // A poisoned lock only means a panic mid-update of a map of handles: still usable.
        let mut servers = self.servers.lock().unwrap_or_else(|e| e.into_inner());
        let entry = servers.entry(server).or_default();
        if let Some(jobs) = entry.jobs.as_ref().filter(|j| !j.is_closed()) {
            return Ok(jobs.clone());
        }
        let now = Instant::now();
        entry
            .backoff
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .check(now)?;
        let (jobs, queue) = mpsc::channel(self.queue);
        entry.jobs = Some(jobs.clone());
        let backoff = Arc::clone(&entry.backoff);
        let transport = Arc::clone(&self.transport);
        tokio::spawn(async move {
            match transport.connect(server).await {
                Ok(stream) => {
                    // Not yet a success: a server at its connection cap completes the
                    // handshake and hangs up. The connection's first response is.
                    let reporter = Arc::clone(&transport);
                    let health = Health {
                        backoff,
                        answered: false,
                        lost: false,
                        report: Box::new(move |e, wait| reporter.failed(server, e, wait)),
                    };
                    transport.serve(stream, queue, health).await;
                }
                Err(e) => {
                    let wait = backoff
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .failed(e.clone(), Instant::now());
                    transport.failed(server, &e, wait);
                    fail_queued(queue, &e);
                }
            }
        });
        Ok(jobs)
    }
}

/// What one connection tells its server's backoff: its first response resets it; the server
/// ending it (closed, reset, GOAWAY, silent) while queries wait, before any response, is a
/// failure of the server, as a refused connection is.
pub(crate) struct Health {
    backoff: Arc<Mutex<Backoff>>,
    answered: bool,
    /// Already counted as a failure (once per connection).
    lost: bool,
    /// The transport's `failed` log line, the server already named.
    report: Report,
}

/// Logs a connection's failure and the wait before the next try.
type Report = Box<dyn Fn(&ConnError, Duration) + Send + Sync>;

impl Health {
    /// The connection delivered a response: the server works, the next failure starts again
    /// from the first wait. Also after [`Health::lost`]: the streams a server took before its
    /// GOAWAY may still be answered.
    pub(crate) fn answered(&mut self) {
        if !self.answered {
            self.answered = true;
            self.backoff
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .succeeded();
        }
    }

    /// The server ended the connection (`why`) with queries waiting. Before any response that
    /// is a failure of the server, told before those queries are (so that none of them, nor
    /// a query racing them, makes a connection the backoff forbids); after one, the
    /// connection simply ended, and the next query makes a new one.
    pub(crate) fn lost(&mut self, why: &ConnError) {
        if self.answered || self.lost {
            return;
        }
        self.lost = true;
        let wait = self
            .backoff
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .failed(why.clone(), Instant::now());
        (self.report)(why, wait);
    }

    /// A connection whose health goes nowhere: for tests that drive a connection alone.
    #[cfg(test)]
    pub(crate) fn detached() -> Health {
        Health {
            backoff: Arc::default(),
            answered: false,
            lost: false,
            report: Box::new(|_, _| {}),
        }
    }
}

/// The queries that waited for a connection that could not be made, or is gone, get its
/// failure.
pub(crate) fn fail_queued<E: From<ConnError>>(mut queue: mpsc::Receiver<Job<E>>, e: &ConnError) {
    queue.close();
    while let Ok(job) = queue.try_recv() {
        let _ = job.reply.send(Err(E::from(e.clone())));
    }
}

//! DNS over TLS to forwarders (RFC 7858, ALPN "dot"; RFC 8310 strict privacy profile): the
//! server's certificate must name `tls_name` and chain to the configured CA, or to the
//! system's roots; a server that fails that is failed, never asked in the clear instead.
//!
//! One connection per server, kept open and shared by every query to it (see [`conn`]): a
//! query finds the live connection, or starts one whose handshake the queries queued behind it
//! share. A connection that cannot be made (refused, handshake or certificate failure) puts
//! the server in backoff: until it ends, queries fail at once with the same reason rather than
//! each paying for a handshake that will fail, and the log says why once per attempt.

mod backoff;
pub(crate) mod conn;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use self::backoff::Backoff;
use self::conn::{ConnError, Job, Limits, Response};

/// ALPN identifier of DNS over TLS (RFC 7858 §3.2).
const ALPN_DOT: &[u8] = b"dot";
/// Queries on the wire at once per connection; more wait here. A bound keeps one slow server
/// from holding an unbounded number of our queries, and 100 is well above what a cache-fronted
/// forwarder has outstanding at a few thousand misses per second (about one RTT's worth).
const OUTSTANDING: usize = 100;
/// Idle connections are closed after this. Servers close idle ones themselves (Unbound's
/// `tcp-idle-timeout` is 30 s); closing first spares a query racing the server's close.
const IDLE: Duration = Duration::from_secs(20);
/// A handshake that takes longer than this failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why `tls_name`/`ca` cannot be used; each names what is at fault.
#[derive(Debug, thiserror::Error)]
pub enum DotConfigError {
    #[error("tls_name {0:?} is not a host name or address")]
    Name(String),
    #[error("ca {path}: {source}")]
    Ca {
        path: PathBuf,
        source: rustls_pki_types::pem::Error,
    },
    #[error("ca {path}: no usable certificate in the file")]
    NoCa { path: PathBuf },
    #[error("no system root certificates found: set ca")]
    NoRoots,
    #[error("TLS client set-up: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The servers of one forward zone, over TLS: how to authenticate them, and their
/// connections.
pub struct DotUpstream {
    tls_name: String,
    ca: Option<PathBuf>,
    server_name: ServerName<'static>,
    connector: TlsConnector,
    limits: Limits,
    servers: Mutex<HashMap<SocketAddr, Server>>,
}

/// One server's connection, if any, and its backoff.
#[derive(Default)]
struct Server {
    jobs: Option<mpsc::Sender<Job>>,
    backoff: Arc<Mutex<Backoff>>,
}

impl std::fmt::Debug for DotUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DotUpstream")
            .field("tls_name", &self.tls_name)
            .field("ca", &self.ca)
            .finish_non_exhaustive()
    }
}

/// Two are the same configuration when they authenticate the same way (for config reloads).
impl PartialEq for DotUpstream {
    fn eq(&self, other: &DotUpstream) -> bool {
        self.tls_name == other.tls_name && self.ca == other.ca
    }
}

impl Eq for DotUpstream {}

impl DotUpstream {
    /// Servers that must present a certificate for `tls_name`, chaining to the certificates in
    /// `ca` (PEM), or to the system's roots without one. The file is read here: a start-up
    /// error, not a failure at the first query.
    pub fn new(tls_name: &str, ca: Option<&Path>) -> Result<DotUpstream, DotConfigError> {
        let roots = match ca {
            Some(path) => roots_from(path)?,
            None => system_roots()?,
        };
        DotUpstream::with_roots(tls_name, ca, roots)
    }

    /// [`DotUpstream::new`] with the roots already read (none in tests: every certificate
    /// fails).
    pub(crate) fn with_roots(
        tls_name: &str,
        ca: Option<&Path>,
        roots: RootCertStore,
    ) -> Result<DotUpstream, DotConfigError> {
        let server_name = ServerName::try_from(tls_name.to_string())
            .map_err(|_| DotConfigError::Name(tls_name.to_string()))?;
        let connector = connector(roots, ALPN_DOT)?;
        Ok(DotUpstream {
            tls_name: tls_name.to_string(),
            ca: ca.map(Path::to_path_buf),
            server_name,
            connector,
            limits: Limits {
                outstanding: OUTSTANDING,
                idle: IDLE,
            },
            servers: Mutex::new(HashMap::new()),
        })
    }

    /// The name the servers' certificates must carry.
    pub fn tls_name(&self) -> &str {
        &self.tls_name
    }

    /// Sends `query` (wire form) to `server` over its kept connection and waits, without a
    /// time limit of its own, for the response with the query's ID.
    pub(crate) async fn query(
        &self,
        server: SocketAddr,
        query: Vec<u8>,
    ) -> Result<Response, ConnError> {
        let jobs = self.connection(server)?;
        let (reply, response) = oneshot::channel();
        let job = Job {
            bytes: query,
            reply,
        };
        jobs.send(job)
            .await
            .map_err(|_| ConnError::Lost("connection closed".into()))?;
        response
            .await
            .map_err(|_| ConnError::Lost("connection closed".into()))?
    }

    /// The server's live connection, or a new one (connecting in its own task, queries queued
    /// meanwhile); in backoff, the last failure.
    fn connection(&self, server: SocketAddr) -> Result<mpsc::Sender<Job>, ConnError> {
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
        let (jobs, queue) = mpsc::channel(OUTSTANDING);
        entry.jobs = Some(jobs.clone());
        let backoff = Arc::clone(&entry.backoff);
        let connector = self.connector.clone();
        let name = self.server_name.clone();
        let limits = self.limits;
        let tls_name = self.tls_name.clone();
        tokio::spawn(async move {
            match connect(&connector, server, name).await {
                Ok(stream) => {
                    backoff
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .succeeded();
                    conn::run(stream, queue, limits).await;
                }
                Err(e) => {
                    let wait = backoff
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .failed(e.clone(), Instant::now());
                    tracing::warn!(%server, %tls_name, error = %e, retry_in = ?wait, "DNS over TLS to a forwarder failed");
                    fail_queued(queue, &e);
                }
            }
        });
        Ok(jobs)
    }
}

/// Connects and completes the TLS handshake, certificate checked against the name and roots.
async fn connect(
    connector: &TlsConnector,
    server: SocketAddr,
    name: ServerName<'static>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ConnError> {
    let work = async {
        let tcp = TcpStream::connect(server)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::ConnectionRefused => ConnError::Refused,
                _ => ConnError::Connect(format!("connect: {e}")),
            })?;
        // Queries are small and pipelined: waiting to fill a segment only adds latency.
        let _ = tcp.set_nodelay(true);
        connector
            .connect(name, tcp)
            .await
            .map_err(|e| ConnError::Connect(format!("TLS handshake: {e}")))
    };
    tokio::time::timeout(CONNECT_TIMEOUT, work)
        .await
        .unwrap_or_else(|_| {
            Err(ConnError::Connect(format!(
                "no TLS session within {CONNECT_TIMEOUT:?}"
            )))
        })
}

/// The queries that waited for a connection that could not be made get its failure.
fn fail_queued(mut queue: mpsc::Receiver<Job>, e: &ConnError) {
    queue.close();
    while let Ok(job) = queue.try_recv() {
        let _ = job.reply.send(Err(e.clone()));
    }
}

/// A TLS client trusting `roots` and offering `alpn` (TLS 1.2 and 1.3). ring, as for the DoT
/// listener (src/server/tls.rs): already built for DNSSEC.
pub(crate) fn connector(roots: RootCertStore, alpn: &[u8]) -> Result<TlsConnector, rustls::Error> {
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The certificates of a PEM file, as trust anchors; a file with none is an error.
pub(crate) fn roots_from(path: &Path) -> Result<RootCertStore, DotConfigError> {
    let read = |source| DotConfigError::Ca {
        path: path.to_path_buf(),
        source,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(read)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read)?;
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(DotConfigError::NoCa {
            path: path.to_path_buf(),
        });
    }
    Ok(roots)
}

/// The operating system's trust store (`rustls-native-certs`: /etc/ssl/certs and the like,
/// what the rest of the host trusts), as Unbound's `tls-system-cert` uses it.
fn system_roots() -> Result<RootCertStore, DotConfigError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        return Err(DotConfigError::NoRoots);
    }
    Ok(roots)
}

#[cfg(test)]
mod tests;

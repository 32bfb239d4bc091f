//! DNS over TLS to forwarders (RFC 7858, ALPN "dot"; RFC 8310 strict privacy profile): the
//! server's certificate must name `tls_name` and chain to the configured CA, or to the
//! system's roots; a server that fails that is failed, never asked in the clear instead.
//!
//! One connection per server, kept open and shared by every query to it, pipelined (see
//! [`conn`]); made, shared and backed off from as [`pool`] says, as DNS over HTTPS's.

mod backoff;
pub(crate) mod conn;
pub(crate) mod pool;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;

use self::conn::{ConnError, Job, Limits, Response};
use self::pool::{Health, Pool, Transport};

/// ALPN identifier of DNS over TLS (RFC 7858 §3.2).
const ALPN_DOT: &[u8] = b"dot";
/// Queries on the wire at once per connection; more wait here. A bound keeps one slow server
/// from holding an unbounded number of our queries, and 100 is well above what a cache-fronted
/// forwarder has outstanding at a few thousand misses per second (about one RTT's worth).
const OUTSTANDING: usize = 100;
/// Idle connections are closed after this. Servers close idle ones themselves (Unbound's
/// `tcp-idle-timeout` is 30 s); closing first spares a query racing the server's close.
const IDLE: Duration = Duration::from_secs(20);
/// How a kept connection is kept: DoH's too, for the same reasons.
pub(crate) const LIMITS: Limits = Limits {
    outstanding: OUTSTANDING,
    idle: IDLE,
};
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
/// connections. Two are equal when they authenticate the same way (for config reloads).
#[derive(Debug, PartialEq, Eq)]
pub struct DotUpstream {
    tls_name: String,
    ca: Option<PathBuf>,
    pool: Pool<Dot>,
}

/// DNS over TLS as a [`Transport`]: the handshake, and RFC 7858's pipelined connection.
struct Dot {
    tls_name: String,
    server_name: ServerName<'static>,
    connector: TlsConnector,
}

impl Transport for Dot {
    type Error = ConnError;
    type Stream = tokio_rustls::client::TlsStream<TcpStream>;

    fn connect(
        &self,
        server: SocketAddr,
    ) -> impl Future<Output = Result<Self::Stream, ConnError>> + Send {
        connect(&self.connector, server, self.server_name.clone())
    }

    fn serve(
        &self,
        stream: Self::Stream,
        jobs: mpsc::Receiver<Job>,
        health: Health,
    ) -> impl Future<Output = ()> + Send {
        conn::run(stream, jobs, LIMITS, health)
    }

    fn failed(&self, server: SocketAddr, error: &ConnError, retry_in: Duration) {
        let tls_name = &self.tls_name;
        tracing::warn!(%server, %tls_name, %error, ?retry_in, "DNS over TLS to a forwarder failed");
    }
}

impl DotUpstream {
    /// Servers that must present a certificate for `tls_name`, chaining to the certificates in
    /// `ca` (PEM), or to the system's roots without one. The file is read here: a start-up
    /// error, not a failure at the first query.
    pub fn new(tls_name: &str, ca: Option<&Path>) -> Result<DotUpstream, DotConfigError> {
        DotUpstream::with_roots(tls_name, ca, roots(ca)?)
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
        let dot = Dot {
            tls_name: tls_name.to_string(),
            server_name,
            connector: connector(roots, ALPN_DOT)?,
        };
        Ok(DotUpstream {
            tls_name: tls_name.to_string(),
            ca: ca.map(Path::to_path_buf),
            pool: Pool::new(dot, OUTSTANDING),
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
        self.pool.query(server, query).await
    }
}

/// Connects and completes the TLS handshake, certificate checked against the name and roots.
pub(crate) async fn connect(
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

/// The trust anchors of `ca` (PEM), or without one the system's.
pub(crate) fn roots(ca: Option<&Path>) -> Result<RootCertStore, DotConfigError> {
    match ca {
        Some(path) => roots_from(path),
        None => system_roots(),
    }
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
mod backoff_review;
#[cfg(test)]
mod review_tests;
#[cfg(test)]
pub(crate) mod tests;

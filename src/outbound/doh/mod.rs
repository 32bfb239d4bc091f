//! DNS over HTTPS to forwarders (RFC 8484): each query a POST of `application/dns-message` to
//! the zone's `url`, over HTTP/2 on TLS (ALPN "h2"). The server's certificate must name the
//! URL's host and chain to the configured CA, or to the system's roots; a server that fails
//! that is failed, never asked in the clear instead, exactly as DNS over TLS ([`super::tls`]).
//!
//! The addresses connected to are the zone's `servers`: the URL's host is only the name the
//! certificate must carry (and the `:authority` of the requests), never looked up, so a
//! forward zone cannot send a query through the system's resolver behind the operator's back.
//!
//! One HTTP/2 connection per server, kept open and shared by every query to it, each query
//! its own stream (see [`conn`]); made, shared and backed off from as DoT's (see
//! [`super::tls::pool`]).

pub(crate) mod conn;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::Full;
use hyper::Uri;
use hyper::body::Bytes;
use hyper::client::conn::http2::SendRequest;
use rustls::RootCertStore;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use self::conn::{DohError, Http2, Job};
use super::tls::conn::{ConnError, Response};
use super::tls::pool::{Health, Pool, Transport};
use super::tls::{DotConfigError, LIMITS, connect, connector, roots};

/// ALPN identifier of HTTP/2 over TLS (RFC 9113 §3.2); RFC 8484 §5.2 recommends HTTP/2.
const ALPN_H2: &[u8] = b"h2";

/// Why `url`/`ca` cannot be used; each names what is at fault.
#[derive(Debug, thiserror::Error)]
pub enum DohConfigError {
    #[error("url {url:?}: {why}")]
    Url { url: String, why: &'static str },
    #[error("url {0:?}: the host is not a host name or address")]
    Host(String),
    #[error(transparent)]
    Tls(#[from] DotConfigError),
}

/// The servers of one forward zone, over HTTPS: the URL asked, how to authenticate them, and
/// their connections. Two are equal when they ask the same URL, authenticated the same way.
#[derive(Debug, PartialEq, Eq)]
pub struct DohUpstream {
    url: String,
    ca: Option<PathBuf>,
    pool: Pool<Doh>,
}

/// DNS over HTTPS as a [`Transport`]: the TLS handshake agreeing on HTTP/2, then streams.
struct Doh {
    url: String,
    uri: Uri,
    server_name: ServerName<'static>,
    connector: TlsConnector,
}

impl Transport for Doh {
    type Error = DohError;
    type Stream = (SendRequest<Full<Bytes>>, Http2<TlsStream<TcpStream>>);

    fn connect(
        &self,
        server: SocketAddr,
    ) -> impl Future<Output = Result<Self::Stream, ConnError>> + Send {
        let name = self.server_name.clone();
        async move {
            let tls = connect(&self.connector, server, name).await?;
            if tls.get_ref().1.alpn_protocol() != Some(ALPN_H2) {
                return Err(ConnError::Connect(
                    "the server did not agree to HTTP/2 (ALPN h2)".into(),
                ));
            }
            conn::handshake(tls).await
        }
    }

    fn serve(
        &self,
        (send, connection): Self::Stream,
        jobs: mpsc::Receiver<Job>,
        health: Health,
    ) -> impl Future<Output = ()> + Send {
        // As DoT's: at most 100 streams at once (RFC 9113 §6.5.2 advises servers to allow
        // at least that many), closed after 20 s idle.
        conn::run(send, connection, self.uri.clone(), jobs, LIMITS, health)
    }

    fn failed(&self, server: SocketAddr, error: &ConnError, retry_in: Duration) {
        let url = &self.url;
        tracing::warn!(%server, %url, %error, ?retry_in, "DNS over HTTPS to a forwarder failed");
    }
}

impl DohUpstream {
    /// Servers asked at `url` (https, with a host), whose certificate must name the URL's host
    /// and chain to the certificates in `ca` (PEM), or to the system's roots without one. The
    /// file is read here: a start-up error, not a failure at the first query.
    pub fn new(url: &str, ca: Option<&Path>) -> Result<DohUpstream, DohConfigError> {
        // The URL first: its error is the one to show when both are wrong.
        parse_url(url)?;
        DohUpstream::with_roots(url, ca, roots(ca)?)
    }

    /// [`DohUpstream::new`] with the roots already read.
    pub(crate) fn with_roots(
        url: &str,
        ca: Option<&Path>,
        roots: RootCertStore,
    ) -> Result<DohUpstream, DohConfigError> {
        let (uri, server_name) = parse_url(url)?;
        let doh = Doh {
            url: url.to_string(),
            uri,
            server_name,
            connector: connector(roots, ALPN_H2).map_err(DotConfigError::from)?,
        };
        Ok(DohUpstream {
            url: url.to_string(),
            ca: ca.map(Path::to_path_buf),
            pool: Pool::new(doh, LIMITS.outstanding),
        })
    }

    /// The URL the queries are posted to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Posts `query` (wire form) to `server` over its kept connection and waits, without a
    /// time limit of its own, for the response, which comes back with the query's own ID.
    pub(crate) async fn query(
        &self,
        server: SocketAddr,
        query: Vec<u8>,
    ) -> Result<Response, DohError> {
        self.pool.query(server, query).await
    }
}

/// The URL as requests carry it, and the name the certificate must carry: its host. Only
/// `https` (never a plaintext fallback), with a host and no user information.
fn parse_url(url: &str) -> Result<(Uri, ServerName<'static>), DohConfigError> {
    let bad = |why| DohConfigError::Url {
        url: url.to_string(),
        why,
    };
    // RFC 8484 §3 publishes URI templates (`{?dns}`); POST wants the URL without it.
    if url.contains(['{', '}']) {
        return Err(bad("a URI template: give the URL without its {?dns}"));
    }
    let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
    if uri.scheme_str() != Some("https") {
        return Err(bad("not https"));
    }
    let Some(authority) = uri.authority() else {
        return Err(bad("no host"));
    };
    if authority.as_str().contains('@') {
        return Err(bad("user information is not allowed"));
    }
    // An IPv6 literal comes bracketed, as URLs write it; a certificate names it bare.
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let name = ServerName::try_from(host.to_string())
        .map_err(|_| DohConfigError::Host(url.to_string()))?;
    Ok((uri, name))
}

#[cfg(test)]
mod backoff_review;
#[cfg(test)]
mod review_tests;
#[cfg(test)]
mod tests;

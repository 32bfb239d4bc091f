//! The probes: what is checked (a TCP connect, or an HTTP/1.1 GET whose status line must say
//! 2xx), parsed and validated once, and one probe run against the network.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Bytes read looking for the end of the HTTP status line (RFC 9112 §4: `HTTP/1.1 200 OK`),
/// which is a few dozen bytes. The bound keeps a server that streams anything else from
/// growing our memory.
pub(crate) const HTTP_STATUS_LINE_MAX: usize = 1024;

/// What to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Healthy when a TCP connection is accepted; the RTT is the connect time.
    Tcp(SocketAddr),
    /// Healthy when an HTTP/1.1 GET answers 2xx; the RTT is the time to the status line.
    Http(HttpCheck),
}

/// An HTTP check, parsed from `http://IP:PORT/path` (the path defaults to `/`). Fields are
/// private so every value has passed the checks that keep the request well-formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCheck {
    addr: SocketAddr,
    host: String,
    path: String,
}

/// Why a string is not an HTTP check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpCheckError {
    #[error("{0:?}: only http:// URLs can be checked")]
    Scheme(String),
    #[error("{0:?}: the authority must be IP:PORT (e.g. 127.0.0.1:8080 or [::1]:8080)")]
    Authority(String),
    #[error("{0:?}: the path must start with / and be printable ASCII without a fragment")]
    Path(String),
    #[error("{0:?}: the Host header must be printable ASCII without spaces")]
    Host(String),
}

/// RFC 9110 §5.5 / RFC 3986: visible ASCII only, so a value cannot end the request line or
/// start a header of its own (CR LF) in the request we write.
fn visible_ascii(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic())
}

impl HttpCheck {
    /// A check of `path` at `addr` with `host` as the Host header (say, the service's name).
    pub(crate) fn new(addr: SocketAddr, host: &str, path: &str) -> Result<Self, HttpCheckError> {
        if !visible_ascii(host) {
            return Err(HttpCheckError::Host(host.to_owned()));
        }
        // A fragment is the client's business (RFC 3986 §3.5) and never sent to the server.
        if !path.starts_with('/') || !visible_ascii(path) || path.contains('#') {
            return Err(HttpCheckError::Path(path.to_owned()));
        }
        Ok(HttpCheck {
            addr,
            host: host.to_owned(),
            path: path.to_owned(),
        })
    }

    #[cfg(test)]
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    #[cfg(test)]
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    #[cfg(test)]
    pub(crate) fn path(&self) -> &str {
        &self.path
    }
}

impl FromStr for HttpCheck {
    type Err = HttpCheckError;

    /// `http://IP:PORT[/path]`. No names: resolving them would make the check depend on DNS,
    /// the very thing it feeds.
    fn from_str(url: &str) -> Result<Self, Self::Err> {
        // RFC 3986 §3.1: the scheme is case-insensitive.
        let rest = url
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case("http://"))
            .and_then(|_| url.get(7..))
            .ok_or_else(|| HttpCheckError::Scheme(url.to_owned()))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        let addr: SocketAddr = authority
            .parse()
            .map_err(|_| HttpCheckError::Authority(url.to_owned()))?;
        // The host, written by us, is valid: only the path can be refused.
        HttpCheck::new(addr, &addr.to_string(), path)
            .map_err(|_| HttpCheckError::Path(url.to_owned()))
    }
}

impl std::fmt::Display for HttpCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}{}", self.addr, self.path)
    }
}

/// Why one probe failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ProbeError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Nobody listens there (TCP reset to our SYN).
    #[error("connection refused")]
    Refused,
    #[error("network error: {0}")]
    Network(String),
    /// The server answered with a status other than 2xx.
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("malformed HTTP reply: {0}")]
    Malformed(&'static str),
}

impl From<io::Error> for ProbeError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::ConnectionRefused => ProbeError::Refused,
            _ => ProbeError::Network(e.to_string()),
        }
    }
}

/// Probes with the real network and returns the round trip: the TCP connect time, or for HTTP
/// the time from connecting to the status line. Everything, connect included, fits in
/// `timeout`.
pub(crate) async fn probe(check: &Check, timeout: Duration) -> Result<Duration, ProbeError> {
    // Edge: the probe's round trip is a measurement on the clock (read again at its end).
    let start = Instant::now();
    let attempt = async {
        match check {
            Check::Tcp(addr) => TcpStream::connect(addr).await.map(drop).map_err(Into::into),
            Check::Http(http) => match http_status(http).await? {
                200..=299 => Ok(()),
                code => Err(ProbeError::Status(code)),
            },
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(outcome) => outcome.map(|()| start.elapsed()),
        Err(_elapsed) => Err(ProbeError::Timeout(timeout)),
    }
}

/// Sends the GET and returns the status code. The socket is dropped after the status line:
/// headers and body say nothing more about health.
async fn http_status(check: &HttpCheck) -> Result<u16, ProbeError> {
    let mut stream = TcpStream::connect(check.addr).await?;
    // RFC 9112 §3.2: HTTP/1.1 requires Host. `Connection: close` (RFC 9112 §9.6) tells the
    // server not to keep the connection for a second request that never comes.
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: tern-health\r\nAccept: */*\r\n\
         Connection: close\r\n\r\n",
        check.path, check.host
    );
    stream.write_all(request.as_bytes()).await?;
    let mut buf = [0u8; HTTP_STATUS_LINE_MAX];
    let mut len = 0;
    while len < buf.len() {
        let n = stream.read(&mut buf[len..]).await?;
        if n == 0 {
            return Err(ProbeError::Malformed(
                "connection closed before the status line",
            ));
        }
        if let Some(i) = buf[len..len + n].iter().position(|&b| b == b'\n') {
            return parse_status_line(&buf[..len + i]);
        }
        len += n;
    }
    Err(ProbeError::Malformed("status line too long"))
}

/// RFC 9112 §4: `status-line = HTTP-version SP status-code SP [ reason-phrase ]`, of HTTP/1.x
/// (we sent 1.1; a 1.0 server answers 1.0). The line ends in CR LF; a bare LF is tolerated, as
/// §2.2 allows.
pub(super) fn parse_status_line(line: &[u8]) -> Result<u16, ProbeError> {
    const NOT_HTTP: ProbeError = ProbeError::Malformed("not an HTTP/1.x status line");
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Some(rest) = line.strip_prefix(b"HTTP/1.") else {
        return Err(NOT_HTTP);
    };
    match *rest {
        [minor, b' ', a, b, c, ref tail @ ..]
            if [minor, a, b, c].iter().all(u8::is_ascii_digit)
                && tail.first().is_none_or(|&sp| sp == b' ') =>
        {
            Ok([a, b, c]
                .iter()
                .fold(0, |n, d| n * 10 + u16::from(d - b'0')))
        }
        _ => Err(NOT_HTTP),
    }
}

/// A probe in flight.
pub(crate) type ProbeFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Duration, ProbeError>> + Send + 'a>>;

/// Runs one probe and returns its round trip. Two implementations: [`Check`] (the network,
/// through [`probe`]) and the tests' scripted prober, which drives [`run_checks`] on tokio's
/// paused clock.
pub(crate) trait Prober: Send + Sync {
    /// One probe with a budget of `timeout`; [`run_checks`] also enforces it, so a prober that
    /// overruns fails by timeout.
    fn probe(&self, timeout: Duration) -> ProbeFuture<'_>;
}

impl Prober for Check {
    fn probe(&self, timeout: Duration) -> ProbeFuture<'_> {
        Box::pin(probe(self, timeout))
    }
}

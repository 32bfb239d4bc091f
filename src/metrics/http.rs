//! The scrape endpoint: a GET-only HTTP/1.x responder for `/metrics` (and the dashboard's
//! page and JSON, `dashboard`) on tokio. An HTTP library would pull in a large tree for a few
//! paths; this reads one request head (bounded in size and time), answers it and closes the
//! connection (`Connection: close`), which every Prometheus scraper, browser and curl handle.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tracing::debug;

use super::dashboard::Dashboard;
use super::prometheus::{CONTENT_TYPE, encode};
use crate::acl::Acl;

/// What the listener serves, and to whom.
pub(crate) struct Endpoint {
    pub registry: Registry,
    /// `GET /` and `/api/*`; `None`: `/metrics` alone.
    pub dashboard: Option<Arc<Dashboard>>,
    /// `[metrics] allow`: others get 403. `None`: anyone who can connect.
    pub allow: Option<Acl>,
}

/// The longest request head read: a scraper's is a few hundred bytes.
const MAX_HEAD: usize = 8 * 1024;
/// How long a client has to send its request head (a scraper sends it at once: a short
/// timeout frees a slot held by an idle connection soon), and to take the answer.
const READ_TIMEOUT: Duration = Duration::from_secs(2);
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once. One past that is answered 503 and closed at once rather than
/// queued, so idle connections holding every slot delay a scrape by one retry, not forever.
const MAX_CONNECTIONS: usize = 16;
/// The whole answer to a connection past `MAX_CONNECTIONS`.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nRetry-After: 1\r\nConnection: close\r\n\r\nbusy\n";
/// Sent with every answer: no sniffing a JSON answer into HTML, nothing kept in caches (the
/// numbers change every second), and the page may run only its own script (`self`) and load
/// nothing from elsewhere: a name that slipped into markup still could not run.
const HEADERS: &str = "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nContent-Security-Policy: default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:\r\nReferrer-Policy: no-referrer\r\n";

/// What a request head asks for.
#[derive(Debug, PartialEq, Eq)]
enum Ask<'h> {
    Get {
        path: &'h str,
        query: &'h str,
        head_only: bool,
    },
    NotAllowed,
    Bad,
}

/// Reads the request line of `head` (everything before the blank line).
fn parse(head: &[u8]) -> Ask<'_> {
    let Ok(head) = std::str::from_utf8(head) else {
        return Ask::Bad;
    };
    let line = head.split("\r\n").next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ask::Bad;
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return Ask::Bad;
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return Ask::NotAllowed,
    };
    Ask::Get {
        path,
        query,
        head_only,
    }
}

/// Where the head ends (just past `\r\n\r\n`), if it has.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Reads a request head, however the bytes arrive; `None` when the client closes, stalls past
/// the timeout or sends more than `MAX_HEAD` without ending its head.
async fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>, &'static str> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let read = async {
        loop {
            let n = stream.read(&mut chunk).await.map_err(|_| "read error")?;
            if n == 0 {
                return Err("closed before the end of the request");
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = head_end(&buf) {
                buf.truncate(end);
                return Ok(());
            }
            if buf.len() > MAX_HEAD {
                return Err("request head too large");
            }
        }
    };
    match tokio::time::timeout(READ_TIMEOUT, read).await {
        Ok(Ok(())) => Ok(buf),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("timed out"),
    }
}

fn response(status: &str, content_type: &str, body: &str, head_only: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{HEADERS}Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

/// The answer to a GET of `path`.
fn get(endpoint: &Endpoint, path: &str, query: &str, head_only: bool) -> Vec<u8> {
    if path == "/metrics" {
        return response(
            "200 OK",
            CONTENT_TYPE,
            &encode(&endpoint.registry),
            head_only,
        );
    }
    match endpoint.dashboard.as_ref().and_then(|d| d.get(path, query)) {
        Some(reply) => response("200 OK", reply.content_type, &reply.body, head_only),
        None => response(
            "404 Not Found",
            "text/plain",
            "not found; try /metrics or /\n",
            head_only,
        ),
    }
}

async fn answer(mut stream: TcpStream, endpoint: &Endpoint) {
    let reply = match read_head(&mut stream).await {
        Ok(head) => match parse(&head) {
            Ask::Get {
                path,
                query,
                head_only,
            } => get(endpoint, path, query, head_only),
            Ask::NotAllowed => {
                response("405 Method Not Allowed", "text/plain", "GET only\n", false)
            }
            Ask::Bad => response("400 Bad Request", "text/plain", "bad request\n", false),
        },
        Err("request head too large") => response(
            "431 Request Header Fields Too Large",
            "text/plain",
            "request too large\n",
            false,
        ),
        Err(why) => {
            debug!(why, "metrics request not read");
            return;
        }
    };
    let write = async {
        stream.write_all(&reply).await?;
        stream.shutdown().await
    };
    if let Err(e) = tokio::time::timeout(WRITE_TIMEOUT, write)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
    {
        debug!(error = %e, "metrics response not sent");
    }
}

/// The whole answer to a client outside `[metrics] allow`.
const FORBIDDEN: &[u8] = b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nConnection: close\r\n\r\nforbidden\n";

/// Serves `endpoint` on `listener` until `stop` completes (a future, so this leaf module needs
/// nothing of the server's).
pub(crate) async fn serve(
    listener: TcpListener,
    endpoint: Arc<Endpoint>,
    stop: impl std::future::Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(stop);
    loop {
        // Only accepting waits, and it waits beside `stop`: a full house never delays shutdown.
        let accepted = tokio::select! {
            _ = &mut stop => return,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((stream, peer)) => {
                if endpoint
                    .allow
                    .as_ref()
                    .is_some_and(|a| !a.allows(peer.ip()))
                {
                    // Like BUSY: one non-blocking write, without reading the request.
                    let _ = stream.try_write(FORBIDDEN);
                    debug!(%peer, "metrics client outside [metrics] allow; answered 403");
                    continue;
                }
                stream
            }
            Err(e) => {
                // Out of descriptors and the like: pause rather than spin.
                debug!(error = %e, "metrics accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            // Every slot busy: say so in one non-blocking write (a fresh socket's buffer
            // takes it) and close; dropping the stream closes it.
            let _ = stream.try_write(BUSY);
            debug!("metrics connections all busy; answered 503");
            continue;
        };
        let endpoint = Arc::clone(&endpoint);
        tokio::spawn(async move {
            answer(stream, &endpoint).await;
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        let get = |path, query, head_only| Ask::Get {
            path,
            query,
            head_only,
        };
        assert_eq!(
            parse(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            get("/metrics", "", false)
        );
        assert_eq!(
            parse(b"GET /metrics?name[]=x HTTP/1.0\r\n\r\n"),
            get("/metrics", "name[]=x", false)
        );
        assert_eq!(
            parse(b"HEAD /metrics HTTP/1.1\r\n\r\n"),
            get("/metrics", "", true)
        );
        assert_eq!(parse(b"GET / HTTP/1.1\r\n\r\n"), get("/", "", false));
        assert_eq!(parse(b"POST /metrics HTTP/1.1\r\n\r\n"), Ask::NotAllowed);
        assert_eq!(parse(b"GET /metrics\r\n\r\n"), Ask::Bad);
        assert_eq!(parse(b"GET metrics HTTP/1.1\r\n\r\n"), Ask::Bad);
        assert_eq!(parse(b"\xff\xfe\r\n\r\n"), Ask::Bad);
        assert_eq!(parse(b"GET /metrics SPDY/3\r\n\r\n"), Ask::Bad);
    }

    async fn exchange(addr: std::net::SocketAddr, parts: &[&[u8]]) -> String {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        for p in parts {
            s.write_all(p).await.expect("write");
            tokio::task::yield_now().await;
        }
        let mut out = Vec::new();
        // A server that closes with bytes of ours unread resets the connection: what was
        // read before the reset is the answer.
        let _ = s.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The endpoint on a fresh port of `ip` over empty counters: its address, the trigger
    /// that stops it, and its task.
    async fn start_on(
        ip: &str,
        allow: Option<Acl>,
    ) -> (
        std::net::SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ) {
        let listener = TcpListener::bind((ip, 0)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let metrics = Arc::new(super::super::Metrics::default());
        let registry = super::super::prometheus::registry(metrics, Arc::new(Default::default));
        let (trigger, stop) = tokio::sync::oneshot::channel::<()>();
        let stop = async move {
            let _ = stop.await;
        };
        let endpoint = Endpoint {
            registry,
            dashboard: None,
            allow,
        };
        (
            addr,
            trigger,
            tokio::spawn(serve(listener, Arc::new(endpoint), stop)),
        )
    }

    async fn start() -> (
        std::net::SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ) {
        start_on("127.0.0.1", None).await
    }

    #[tokio::test]
    async fn a_client_outside_the_allow_list_gets_403() {
        let allow = Acl::new(vec!["127.158.0.2/32".parse().expect("cidr")]);
        let (addr, trigger, server) = start_on("127.158.0.1", Some(allow)).await;
        let from = |ip: &str| {
            let ip: std::net::IpAddr = ip.parse().expect("ip");
            async move {
                let socket = tokio::net::TcpSocket::new_v4().expect("socket");
                socket.bind((ip, 0).into()).expect("bind");
                let mut s = socket.connect(addr).await.expect("connect");
                s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n")
                    .await
                    .expect("write");
                let mut out = Vec::new();
                let _ = s.read_to_end(&mut out).await;
                String::from_utf8_lossy(&out).into_owned()
            }
        };
        let allowed = from("127.158.0.2").await;
        assert!(allowed.starts_with("HTTP/1.1 200 "), "{allowed}");
        let refused = from("127.158.0.3").await;
        assert!(
            refused.is_empty() || refused.starts_with("HTTP/1.1 403 "),
            "{refused}"
        );
        assert!(!refused.contains("tern_"), "{refused}");
        let _ = trigger.send(());
        server.await.expect("server stops");
    }

    #[tokio::test]
    async fn answers_scrapes_in_pieces_and_refuses_the_rest() {
        let (addr, trigger, server) = start().await;

        let ok = exchange(
            addr,
            &[b"GET /met", b"rics HTTP/1.1\r\nHost: a\r", b"\n\r\n"],
        )
        .await;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(
            ok.contains("Content-Type: text/plain; version=0.0.4"),
            "{ok}"
        );
        assert!(ok.contains("tern_cache_hits_total 0\n"), "{ok}");
        let missing = exchange(addr, &[b"GET /other HTTP/1.1\r\n\r\n"]).await;
        assert!(missing.starts_with("HTTP/1.1 404 "), "{missing}");
        // Without a dashboard, its paths are nobody's.
        let page = exchange(addr, &[b"GET / HTTP/1.1\r\n\r\n"]).await;
        assert!(page.starts_with("HTTP/1.1 404 "), "{page}");
        let bad = exchange(addr, &[b"NONSENSE\r\n\r\n"]).await;
        assert!(bad.starts_with("HTTP/1.1 400 "), "{bad}");
        let huge = vec![b'a'; MAX_HEAD + 10];
        let big = exchange(addr, &[b"GET /metrics HTTP/1.1\r\nX: ", &huge]).await;
        assert!(big.is_empty() || big.starts_with("HTTP/1.1 431 "), "{big}");

        let _ = trigger.send(());
        server.await.expect("server stops");
    }

    #[tokio::test]
    async fn with_every_slot_held_idle_a_new_connection_gets_503_at_once_and_stop_works() {
        let (addr, trigger, server) = start().await;
        let mut idle = Vec::new();
        for _ in 0..MAX_CONNECTIONS {
            idle.push(TcpStream::connect(addr).await.expect("connect"));
        }
        // Well inside READ_TIMEOUT: the idle ones still hold every slot.
        let busy = tokio::time::timeout(
            Duration::from_millis(1500),
            exchange(addr, &[b"GET /metrics HTTP/1.1\r\n\r\n"]),
        )
        .await
        .expect("answered at once, not queued");
        assert!(busy.starts_with("HTTP/1.1 503 "), "{busy}");
        let _ = trigger.send(());
        tokio::time::timeout(Duration::from_secs(1), server)
            .await
            .expect("stops with every slot busy")
            .expect("server task");
        drop(idle);
    }
}

#[cfg(test)]
mod review;

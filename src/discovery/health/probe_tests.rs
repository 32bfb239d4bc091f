//! The probes themselves: URL and status-line parsing, and real TCP and HTTP probes against
//! loopback listeners on the normal clock.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::probe::{HTTP_STATUS_LINE_MAX, HttpCheckError, parse_status_line, probe};
use super::tests::ID;
use super::*;

#[test]
fn http_check_urls() {
    let ok = [
        (
            "http://127.0.0.1:8080",
            "127.0.0.1:8080",
            "127.0.0.1:8080",
            "/",
        ),
        (
            "HTTP://127.0.0.1:80/healthz?full=1",
            "127.0.0.1:80",
            "127.0.0.1:80",
            "/healthz?full=1",
        ),
        ("http://[::1]:8080/h", "[::1]:8080", "[::1]:8080", "/h"),
    ];
    for (url, addr, host, path) in ok {
        let check: HttpCheck = url.parse().unwrap();
        assert_eq!(check.addr(), addr.parse::<SocketAddr>().unwrap(), "{url}");
        assert_eq!((check.host(), check.path()), (host, path), "{url}");
    }
    use HttpCheckError as E;
    type Variant = fn(String) -> E;
    let bad: [(&str, Variant); 10] = [
        ("https://127.0.0.1:443/", E::Scheme),
        ("127.0.0.1:80", E::Scheme),
        ("htt", E::Scheme),
        ("http://", E::Authority),
        ("http://localhost:80/", E::Authority),
        ("http://127.0.0.1/", E::Authority),
        ("http://user@127.0.0.1:80/", E::Authority),
        ("http://127.0.0.1:80/a b", E::Path),
        ("http://127.0.0.1:80/a#top", E::Path),
        ("http://127.0.0.1:80/a\r\nX-Injected: 1", E::Path),
    ];
    for (url, error) in bad {
        assert_eq!(url.parse::<HttpCheck>(), Err(error(url.into())), "{url}");
    }
    let addr = ([127, 0, 0, 1], 80).into();
    assert!(matches!(
        HttpCheck::new(addr, "a\r\nb", "/"),
        Err(E::Host(_))
    ));
    assert!(HttpCheck::new(addr, "web.cluster.test", "/").is_ok());
}

#[test]
fn http_status_lines() {
    let not_http = Err(ProbeError::Malformed("not an HTTP/1.x status line"));
    let cases = [
        ("HTTP/1.1 200 OK", Ok(200)),
        ("HTTP/1.0 204", Ok(204)),
        ("HTTP/1.1 503 Service Unavailable\r", Ok(503)),
        ("HTTP/2 200 OK", not_http.clone()),
        ("HTTP/1.1 20 OK", not_http.clone()),
        ("HTTP/1.1 2000 OK", not_http.clone()),
        ("HTTP/1.1  200 OK", not_http.clone()),
        ("SSH-2.0-OpenSSH_9.6", not_http.clone()),
        ("", not_http),
    ];
    for (line, expected) in cases {
        assert_eq!(parse_status_line(line.as_bytes()), expected, "{line:?}");
    }
}

// Real sockets from here on, on the normal clock: the paused clock would auto-advance
// while a task waits on I/O and fire the timeouts at once. Outcomes, not durations.
const REAL_TIMEOUT: Duration = Duration::from_secs(2);

async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Answers one connection with `reply` after reading the request head, which it returns.
async fn serve_once(reply: &'static [u8]) -> (SocketAddr, JoinHandle<String>) {
    let (listener, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 512];
        while !head.ends_with(b"\r\n\r\n") && head.len() < 4096 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let _ = stream.write_all(reply).await; // the prober may hang up first
        String::from_utf8_lossy(&head).into_owned()
    });
    (addr, server)
}

#[tokio::test]
async fn tcp_probe_passes_against_a_listener() {
    let (_listener, addr) = listener().await;
    assert!(probe(&Check::Tcp(addr), REAL_TIMEOUT).await.is_ok());
}

#[tokio::test]
async fn tcp_probe_to_a_closed_port_is_refused_not_timed_out() {
    let (listener, addr) = listener().await;
    drop(listener);
    assert_eq!(
        probe(&Check::Tcp(addr), REAL_TIMEOUT).await,
        Err(ProbeError::Refused)
    );
}

#[tokio::test]
async fn http_probe_outcomes() {
    const TOO_LONG: &[u8] = &[b'x'; 2 * HTTP_STATUS_LINE_MAX];
    let cases: [(&[u8], Result<(), ProbeError>); 6] = [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Ok(())),
        (b"HTTP/1.0 204 No Content\r\n\r\n", Ok(())),
        (
            b"HTTP/1.1 503 Service Unavailable\r\n\r\n",
            Err(ProbeError::Status(503)),
        ),
        (
            b"HTTP/1.1 301 Moved Permanently\r\n\r\n",
            Err(ProbeError::Status(301)),
        ),
        (
            b"",
            Err(ProbeError::Malformed(
                "connection closed before the status line",
            )),
        ),
        (TOO_LONG, Err(ProbeError::Malformed("status line too long"))),
    ];
    for (reply, expected) in cases {
        let (addr, server) = serve_once(reply).await;
        let check = format!("http://{addr}/healthz").parse().unwrap();
        let outcome = probe(&Check::Http(check), REAL_TIMEOUT).await;
        let shown = String::from_utf8_lossy(&reply[..reply.len().min(40)]);
        assert_eq!(outcome.map(drop), expected, "{shown:?}");
        let head = server.await.unwrap();
        assert!(head.starts_with("GET /healthz HTTP/1.1\r\n"), "{head}");
        for header in [
            &format!("Host: {addr}"),
            "User-Agent: tern-health",
            "Connection: close",
        ] {
            assert!(
                head.contains(&format!("\r\n{header}\r\n")),
                "{header} in {head}"
            );
        }
    }
}

#[tokio::test]
async fn http_probe_of_a_silent_server_times_out() {
    let (listener, addr) = listener().await;
    let _server = tokio::spawn(async move {
        let (_stream, _) = listener.accept().await.unwrap();
        std::future::pending::<()>().await;
    });
    let timeout = Duration::from_millis(300);
    let check = Check::Http(format!("http://{addr}/").parse().unwrap());
    assert_eq!(
        probe(&check, timeout).await,
        Err(ProbeError::Timeout(timeout))
    );
}

#[tokio::test]
async fn run_checks_on_the_network_takes_a_dead_instance_out() {
    let (listener, addr) = listener().await;
    drop(listener);
    let table = HealthTable::new();
    let mut rx = table.subscribe();
    let spec = CheckSpec {
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(100),
        ..CheckSpec::new(Check::Tcp(addr))
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(run_checks(table.clone(), ID.into(), spec, async move {
        let _ = stopped.await;
    }));
    tokio::time::timeout(REAL_TIMEOUT * 5, rx.changed())
        .await
        .unwrap()
        .unwrap();
    let health = table.get(ID).unwrap();
    assert!(!health.healthy);
    assert_eq!(health.last_error.as_deref(), Some("connection refused"));
    stop.send(()).unwrap();
    assert_eq!(task.await.unwrap(), Ok(()));
}

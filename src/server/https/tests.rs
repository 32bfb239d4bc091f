//! The listener over a real loopback socket (the lab's certificate) with a rustls client
//! speaking HTTP/1.1 by hand: answered with the DNS headers, refused with statuses; and the
//! idle clock on a paused timer.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;

use super::*;
use crate::authority::{Catalog, Zone};
use crate::handler::HandlerConfig;
use crate::lab::tls::{CertificateFiles, make_certificate};
use crate::server::shutdown;

/// A CA and a leaf for `localhost` (the lab's), in a fresh folder.
fn pair(test: &str) -> (PathBuf, CertificateFiles) {
    let dir = std::env::temp_dir().join(format!("tern-doh-{test}-{}", std::process::id()));
    let files = make_certificate(&dir, IpAddr::from([127, 52, 0, 1])).expect("certificate");
    (dir, files)
}

fn connector(ca: &Path) -> TlsConnector {
    let roots = crate::outbound::tls::roots_from(ca).expect("ca file");
    crate::outbound::tls::connector(roots, b"http/1.1").expect("client")
}

/// One HTTP/1.1 exchange on a new connection; the whole response as text (lossy) and bytes.
async fn exchange(addr: SocketAddr, ca: &Path, request: &[u8]) -> (String, Vec<u8>) {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("name");
    let mut tls = connector(ca).connect(name, tcp).await.expect("handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    tls.write_all(request).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut out)).await;
    (String::from_utf8_lossy(&out).into_owned(), out)
}

#[tokio::test]
async fn http1_get_and_post_are_answered_and_bad_requests_refused() {
    let (dir, files) = pair("listener");
    let certs = Certificates::open(&files.certificate, &files.key).expect("opens");
    let zone = Zone::from_text(
        "$TTL 300\n@ IN SOA ns1 h 1 7200 3600 1209600 60\n@ IN NS ns1\nns1 IN A 192.0.2.53\n\
         www 120 IN A 192.0.2.1\n",
        Path::new("doh.test.zone"),
        Some(&hickory_proto::rr::Name::from_ascii("doh.test.").expect("origin")),
    )
    .expect("zone");
    let catalog = Catalog::new(vec![zone]).expect("catalog");
    let handler = Handler::new(catalog, HandlerConfig::default(), Arc::default());
    let listener = TcpListener::bind("127.52.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (trigger, signal) = shutdown::channel();
    let serving = tokio::spawn(serve(
        listener,
        certs,
        Arc::new(handler),
        TcpLimits::default(),
        signal,
    ));

    // www.doh.test. A, ID 0.
    let query = b"\x00\x00\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x03doh\x04test\x00\x00\x01\x00\x01";
    let get = format!(
        "GET /dns-query?dns={} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        crate::base64::encode(query).trim_end_matches('=')
    );
    let (text, bytes) = exchange(addr, &files.ca, get.as_bytes()).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let lower = text.to_ascii_lowercase();
    assert!(
        lower.contains("content-type: application/dns-message"),
        "{text}"
    );
    assert!(lower.contains("cache-control: max-age=120"), "{text}");
    let body_at = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("head ends")
        + 4;
    let reply = &bytes[body_at..];
    assert_eq!(&reply[..2], &[0, 0], "ID 0 echoed");
    assert_eq!(reply[2] & 0x84, 0x84, "QR and AA");

    let mut post = format!(
        "POST /dns-query HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/dns-message\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        query.len()
    )
    .into_bytes();
    post.extend_from_slice(query);
    let (text, _) = exchange(addr, &files.ca, &post).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");

    for (request, status) in [
        (
            "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "404",
        ),
        (
            "PUT /dns-query HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            "405",
        ),
        (
            "GET /dns-query?dns=!! HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "400",
        ),
        (
            "POST /dns-query HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n",
            "415",
        ),
        (
            "POST /dns-query HTTP/1.1\r\nHost: x\r\nContent-Type: application/dns-message\r\n\
             Content-Length: 70000\r\nConnection: close\r\n\r\n",
            "413",
        ),
    ] {
        let (text, _) = exchange(addr, &files.ca, request.as_bytes()).await;
        assert!(
            text.starts_with(&format!("HTTP/1.1 {status}")),
            "{request}: {text}"
        );
    }

    // Shutdown: the listener stops, and an open connection with no request is closed.
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("name");
    let mut open = connector(&files.ca)
        .connect(name, tcp)
        .await
        .expect("handshake");
    trigger.fire();
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("the listener stops at shutdown")
        .expect("no panic");
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(DRAIN + Duration::from_secs(2), open.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0) | Err(_))),
        "the open connection is closed: {read:?}"
    );
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "nothing listens any more"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

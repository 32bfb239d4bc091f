//! Review of the DoH listener over real loopback sockets (127.181.0.0/16, the lab's
//! certificate): HTTP/2 answers larger than the flow-control windows, several at once, arrive
//! whole with their query's ID (RFC 8484 §4.1: the ID is the client's, 0 or not); HTTP/1.1
//! keep-alive serves several requests on one connection.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use http_body_util::BodyExt;
use hyper::client::conn::http2;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::authority::{Catalog, Zone};
use crate::handler::HandlerConfig;
use crate::lab::tls::{CertificateFiles, make_certificate};
use crate::server::shutdown::{self, ShutdownTrigger};

/// A TXT set of 240 strings of 250 bytes (about 61 KB on the wire): one answer nearly fills
/// HTTP/2's initial stream and connection windows (65,535 bytes, RFC 9113 §6.9.2).
fn zone_text() -> String {
    let mut text = String::from(
        "$TTL 300\n@ IN SOA ns1 h 1 7200 3600 1209600 60\n@ IN NS ns1\nns1 IN A 192.0.2.53\n\
         www 120 IN A 192.0.2.1\n",
    );
    for i in 0..240 {
        text.push_str(&format!("big IN TXT \"{i:03}{}\"\n", "x".repeat(247)));
    }
    text
}

struct Served {
    addr: SocketAddr,
    files: CertificateFiles,
    dir: PathBuf,
    _trigger: ShutdownTrigger,
}

async fn serving(test: &str, ip: [u8; 4]) -> Served {
    let dir = std::env::temp_dir().join(format!("tern-doh-rv-{test}-{}", std::process::id()));
    let files = make_certificate(&dir, IpAddr::from(ip)).expect("certificate");
    let certs = Certificates::open(&files.certificate, &files.key).expect("opens");
    let origin = hyper_name("rv.test.");
    let zone =
        Zone::from_text(&zone_text(), Path::new("rv.test.zone"), Some(&origin)).expect("zone");
    let catalog = Catalog::new(vec![zone]).expect("catalog");
    let handler = Handler::new(catalog, HandlerConfig::default(), Arc::default());
    let listener = TcpListener::bind(SocketAddr::from((ip, 0)))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (trigger, signal) = shutdown::channel();
    tokio::spawn(serve(
        listener,
        certs,
        Arc::new(handler),
        TcpLimits::default(),
        signal,
    ));
    Served {
        addr,
        files,
        dir,
        _trigger: trigger,
    }
}

fn hyper_name(text: &str) -> hickory_proto::rr::Name {
    hickory_proto::rr::Name::from_ascii(text).expect("name")
}

/// `name` `qtype` with `id`, RD=0, EDNS 1232 (as a browser's stub asks).
fn query(id: u16, name: &str, qtype: hickory_proto::rr::RecordType) -> Vec<u8> {
    use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(hyper_name(name), qtype));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    m.set_edns(e);
    m.to_vec().expect("encodes")
}

async fn tls_to(
    served: &Served,
    alpn: &[u8],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let roots = crate::outbound::tls::roots_from(&served.files.ca).expect("ca file");
    let connector = crate::outbound::tls::connector(roots, alpn).expect("client");
    let tcp = TcpStream::connect(served.addr).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("name");
    connector.connect(name, tcp).await.expect("handshake")
}

#[tokio::test]
async fn http2_answers_past_the_flow_control_windows_arrive_whole_with_their_ids() {
    let served = serving("h2big", [127, 181, 0, 1]).await;
    let tls = tls_to(&served, b"h2").await;
    let (send, conn) = http2::Builder::new(TokioExecutor::new())
        .handshake::<_, Full<Bytes>>(TokioIo::new(tls))
        .await
        .expect("h2 handshake");
    tokio::spawn(conn);
    // Eight at once, about 490 KB in all: far past the connection's initial window.
    let mut asks = Vec::new();
    for id in 1..=8u16 {
        let mut send = send.clone();
        asks.push(tokio::spawn(async move {
            let q = query(
                id * 1000,
                "big.rv.test.",
                hickory_proto::rr::RecordType::TXT,
            );
            let req = Request::post("https://localhost/dns-query")
                .header(CONTENT_TYPE, request::MEDIA_TYPE)
                .body(Full::new(Bytes::from(q)))
                .expect("request");
            let res = send.send_request(req).await.expect("response");
            let status = res.status().as_u16();
            let body = res.into_body().collect().await.expect("body").to_bytes();
            (id * 1000, status, body)
        }));
    }
    for ask in asks {
        let (id, status, body) = tokio::time::timeout(Duration::from_secs(20), ask)
            .await
            .expect("answered in time")
            .expect("no panic");
        assert_eq!(status, 200);
        let reply = hickory_proto::op::Message::from_vec(&body).expect("a whole DNS message");
        assert_eq!(reply.metadata.id, id, "the query's ID echoed");
        assert!(!reply.metadata.truncation, "never truncated over HTTPS");
        assert_eq!(reply.answers.len(), 240, "every string");
    }
    let _ = std::fs::remove_dir_all(&served.dir);
}

#[tokio::test]
async fn http1_keep_alive_answers_each_request_on_one_connection() {
    let served = serving("h1ka", [127, 181, 0, 2]).await;
    let mut tls = tls_to(&served, b"http/1.1").await;
    let get = |id: u16, close: bool| {
        let q = query(id, "www.rv.test.", hickory_proto::rr::RecordType::A);
        format!(
            "GET /dns-query?dns={} HTTP/1.1\r\nHost: localhost\r\n{}\r\n",
            crate::base64::encode(&q).trim_end_matches('='),
            if close { "Connection: close\r\n" } else { "" }
        )
    };
    // Two pipelined, then a third after the first two are answered (the hit path by then).
    let two = format!("{}{}", get(0, false), get(7, false));
    tls.write_all(two.as_bytes()).await.expect("write");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while seen.windows(12).filter(|w| w == b"HTTP/1.1 200").count() < 2 {
        let n = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf))
            .await
            .expect("answered in time")
            .expect("read");
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    tls.write_all(get(9, true).as_bytes()).await.expect("write");
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut rest)).await;
    let text = String::from_utf8_lossy(&rest);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let _ = std::fs::remove_dir_all(&served.dir);
}

//! DNS over TLS (RFC 7858) against `tern serve`: kdig and a rustls client are answered, queries
//! pipelined on one connection all come back, SIGHUP puts a renewed certificate in front of
//! new connections while an open one keeps working, a bad renewal keeps the old certificate,
//! and a key that does not match its certificate stops the start naming the file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::support::{self, Serve, TempDir};

const DOT: &str = "127.48.0.1:8853";
const PLAIN: &str = "127.48.0.1:8053";

const ZONE: &str = "$TTL 300\n\
    @ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n\
    @ IN NS ns1\n\
    ns1 IN A 192.0.2.53\n\
    www IN A 192.0.2.1\n\
    www IN A 192.0.2.2\n";

/// A self-signed P-256 certificate for `tern.test` and its key, written as `name.crt` and
/// `name.key` in `dir` by openssl.
pub(super) fn make_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (crt, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    let out = std::process::Command::new(support::system_binary("openssl", "test certificates"))
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-subj", "/CN=tern.test"])
        .args(["-addext", "subjectAltName=DNS:tern.test"])
        // A leaf, not a CA: rustls refuses a CA certificate as the server's own.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-days", "1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .expect("openssl runs");
    assert!(out.status.success(), "openssl: {out:?}");
    (crt, key)
}

fn write_config(dir: &Path, crt: &Path, key: &Path) -> PathBuf {
    std::fs::write(dir.join("dot.test.zone"), ZONE).expect("zone");
    let config = dir.join("tern.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"{PLAIN}\"]\nno_recursion = true\n\
             [[zone]]\norigin = \"dot.test.\"\nfile = \"dot.test.zone\"\n\
             [control]\nsocket = \"ctl.sock\"\n\
             [tls]\ncertificate = \"{}\"\nkey = \"{}\"\nlisten = [\"{DOT}\"]\n",
            crt.display(),
            key.display()
        ),
    )
    .expect("config");
    config
}

/// A client that trusts only the certificate in `ca` and offers ALPN "dot".
pub(super) fn connector(ca: &Path) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("ca file") {
        roots.add(cert.expect("ca parses")).expect("ca added");
    }
    #[allow(deprecated)] // tern's own choice of ring; see src/server/tls.rs
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"dot".to_vec()];
    TlsConnector::from(Arc::new(config))
}

async fn connect(ca: &Path) -> std::io::Result<TlsStream<TcpStream>> {
    let addr: SocketAddr = DOT.parse().expect("addr");
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("tern.test").expect("name");
    tokio::time::timeout(support::REPLY_TIMEOUT, connector(ca).connect(name, tcp))
        .await
        .map_err(|_| std::io::Error::other("handshake timed out"))?
}

/// Keeps connecting until the server is up (or `what` fails after 10 s).
async fn connect_eventually(ca: &Path, what: &str) -> TlsStream<TcpStream> {
    let mut last = None;
    for _ in 0..100 {
        match connect(ca).await {
            Ok(stream) => return stream,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: no TLS connection within 10 s: {last:?}");
}

pub(super) async fn send(stream: &mut TlsStream<TcpStream>, q: &Message) {
    let bytes = q.to_vec().expect("encode");
    let mut frame = u16::try_from(bytes.len())
        .expect("fits")
        .to_be_bytes()
        .to_vec();
    frame.extend_from_slice(&bytes);
    stream.write_all(&frame).await.expect("write");
}

pub(super) async fn recv(stream: &mut TlsStream<TcpStream>) -> Message {
    let read = async {
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await?;
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut body).await?;
        Ok::<_, std::io::Error>(body)
    };
    let body = tokio::time::timeout(support::REPLY_TIMEOUT, read)
        .await
        .expect("reply in time")
        .expect("reply read");
    Message::from_vec(&body).expect("reply parses")
}

/// One `www.dot.test. A` on `stream`: both addresses, authoritative.
async fn assert_answers(stream: &mut TlsStream<TcpStream>, what: &str) {
    let q = support::query("www.dot.test.", RecordType::A, false, None);
    send(stream, &q).await;
    let r = recv(stream).await;
    assert_eq!(r.metadata.id, q.metadata.id, "{what}: id");
    assert!(r.metadata.authoritative, "{what}: AA");
    assert_eq!(r.answers.len(), 2, "{what}: {:?}", r.answers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_serves_kdig_rustls_and_pipelines_and_reloads_its_certificate() {
    let dir = TempDir::new("dot");
    let (crt, key) = make_pair(&dir.0, "server");
    let first_ca = dir.0.join("first.crt");
    std::fs::copy(&crt, &first_ca).expect("keep the first certificate");
    let config = write_config(&dir.0, &crt, &key);
    let serve = Serve::start(&config, "info", &dir.0.join("tern.log"));

    let mut open = connect_eventually(&first_ca, "first certificate").await;
    assert_eq!(open.get_ref().1.alpn_protocol(), Some(&b"dot"[..]), "ALPN");
    assert_answers(&mut open, "rustls client").await;

    // kdig, verifying the certificate against the name it was made for.
    let out = tokio::process::Command::new(support::system_binary("kdig", "DoT interop"))
        .arg(format!("+tls-ca={}", first_ca.display()))
        .args([
            "+tls-hostname=tern.test",
            "+short",
            "+timeout=5",
            "@127.48.0.1",
        ])
        .args(["-p", "8853", "www.dot.test.", "A"])
        .output()
        .await
        .expect("kdig runs");
    let mut short: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    short.sort();
    assert_eq!(short, ["192.0.2.1", "192.0.2.2"], "kdig: {out:?}");

    // Pipelined: six queries in one write, before reading; every one answered once.
    let mut burst = Vec::new();
    let mut ids = std::collections::BTreeSet::new();
    for i in 0..6u16 {
        let qname = if i % 2 == 0 {
            "www.dot.test."
        } else {
            "ns1.dot.test."
        };
        let mut q = support::query(qname, RecordType::A, false, None);
        q.metadata.id = 4000 + i;
        let bytes = q.to_vec().expect("encode");
        burst.extend_from_slice(&u16::try_from(bytes.len()).expect("fits").to_be_bytes());
        burst.extend_from_slice(&bytes);
        ids.insert(q.metadata.id);
    }
    open.write_all(&burst).await.expect("burst");
    for _ in 0..6 {
        let r = recv(&mut open).await;
        assert!(
            ids.remove(&r.metadata.id),
            "unexpected id {}",
            r.metadata.id
        );
        assert!(!r.answers.is_empty(), "answered");
    }

    // Renewal: a new pair in place, SIGHUP. New connections see it; the open one goes on.
    make_pair(&dir.0, "server");
    let renewed_ca = dir.0.join("renewed.crt");
    std::fs::copy(&crt, &renewed_ca).expect("keep the renewed certificate");
    support::signal(&serve.0, "HUP");
    let mut renewed = connect_eventually(&renewed_ca, "renewed certificate").await;
    assert_answers(&mut renewed, "after reload").await;
    assert!(
        connect(&first_ca).await.is_err(),
        "a new connection no longer gets the old certificate"
    );
    assert_answers(&mut open, "connection opened before the reload").await;

    // A broken renewal is refused: the renewed certificate stays in service.
    std::fs::write(&crt, "not a certificate").expect("break it");
    support::signal(&serve.0, "HUP");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut after_bad = connect(&renewed_ca)
        .await
        .expect("old certificate kept after a bad reload");
    assert_answers(&mut after_bad, "after a refused reload").await;
    let log = std::fs::read_to_string(dir.0.join("tern.log")).expect("log");
    assert!(
        log.contains("tls certificate reload failed"),
        "the refusal is logged: {log}"
    );

    // `tern ctl reload` renews it too, and says so.
    make_pair(&dir.0, "server");
    let third_ca = dir.0.join("third.crt");
    std::fs::copy(&crt, &third_ca).expect("keep the third certificate");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tern"))
        .args(["ctl", "--socket"])
        .arg(dir.0.join("ctl.sock"))
        .arg("reload")
        .output()
        .await
        .expect("tern ctl runs");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(said.contains("tls certificate reloaded"), "{said}");
    let mut third = connect(&third_ca).await.expect("third certificate served");
    assert_answers(&mut third, "after tern ctl reload").await;
}

#[tokio::test]
async fn a_key_of_another_certificate_stops_the_start_naming_the_file() {
    let dir = TempDir::new("dot-mismatch");
    let (crt, _) = make_pair(&dir.0, "a");
    let (_, other) = make_pair(&dir.0, "b");
    std::fs::write(dir.0.join("dot.test.zone"), ZONE).expect("zone");
    let config = dir.0.join("tern.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"127.49.0.1:8053\"]\nno_recursion = true\n\
             [tls]\ncertificate = \"{}\"\nkey = \"{}\"\nlisten = [\"127.49.0.1:8853\"]\n",
            crt.display(),
            other.display()
        ),
    )
    .expect("config");
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_tern"))
            .args(["serve", "--config"])
            .arg(&config)
            .output(),
    )
    .await
    .expect("exits at once")
    .expect("runs");
    assert!(!out.status.success(), "refused to start");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("b.key"), "names the key file: {stderr}");
}

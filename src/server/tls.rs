//! DNS over TLS for clients (RFC 7858): a TLS handshake in front of the TCP connection loop.
//! The certificate can be replaced while serving: new connections get the new one, open ones
//! keep theirs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tracing::debug;

use super::conns::Guard;
use super::shutdown::Shutdown;
use super::tcp::{self, TcpLimits};
use crate::handler::{Handler, Transport};

/// How long a client may take over its handshake. Without a bound, a client that connects and
/// never finishes the handshake holds a connection slot; the idle timeout only starts once
/// messages can flow.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// ALPN identifier of DNS over TLS (RFC 7858 §3.2; IANA ALPN registry).
const ALPN_DOT: &[u8] = b"dot";

/// ALPN identifiers of DNS over HTTPS: HTTP/2 first, as RFC 8484 §5.2 recommends, then
/// HTTP/1.1 for clients without it (curl --http1.1).
pub(crate) const ALPN_HTTPS: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Why a certificate and key cannot be served; each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: rustls_pki_types::pem::Error,
    },
    #[error("{path}: no certificate in the file")]
    NoCertificate { path: PathBuf },
    #[error("{key}: key unusable with certificate {certificate}: {source}")]
    Unusable {
        certificate: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
}

/// Reads a PEM chain and key and builds the server side of TLS 1.2 and 1.3 with ring,
/// offering the protocols of `alpn` (`[ALPN_DOT]` for DoT, [`ALPN_HTTPS`] for DoH). A key that
/// does not belong to the certificate is refused here, not at the first handshake.
pub(crate) fn load(
    certificate: &Path,
    key: &Path,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, TlsError> {
    fn read(path: &Path) -> impl FnOnce(rustls_pki_types::pem::Error) -> TlsError + '_ {
        move |source| TlsError::Read {
            path: path.to_path_buf(),
            source,
        }
    }
    let chain = CertificateDer::pem_file_iter(certificate)
        .map_err(read(certificate))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read(certificate))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: certificate.to_path_buf(),
        });
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(read(key))?;
    let unusable = |source| TlsError::Unusable {
        certificate: certificate.to_path_buf(),
        key: key.to_path_buf(),
        source,
    };
    // ring, not aws-lc-rs: ring is already built for DNSSEC and needs no C toolchain beyond
    // cc. rustls 0.23.48 deprecates it for lacking post-quantum key exchange; classical
    // X25519/P-256 is what DoT clients negotiate today.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(unusable)?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(unusable)?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The same certificate offering other protocols: one read of the files serves DoT and DoH.
fn with_alpn(config: &ServerConfig, alpn: &[&[u8]]) -> Arc<ServerConfig> {
    let mut config = config.clone();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// One certificate as each listener serves it: DoT and DoH differ only in ALPN.
struct Served {
    dot: Arc<ServerConfig>,
    https: Arc<ServerConfig>,
}

impl Served {
    fn load(certificate: &Path, key: &Path) -> Result<Served, TlsError> {
        let dot = load(certificate, key, &[ALPN_DOT])?;
        let https = with_alpn(&dot, &ALPN_HTTPS);
        Ok(Served { dot, https })
    }
}

/// The certificate in service and where it came from, for reloads; the DoT and DoH listeners
/// share it, so one reload renews both.
pub(crate) struct Certificates {
    certificate: PathBuf,
    key: PathBuf,
    current: RwLock<Served>,
}

impl Certificates {
    /// Loads the pair; an error is a start-up error.
    pub(crate) fn open(certificate: &Path, key: &Path) -> Result<Arc<Certificates>, TlsError> {
        let served = Served::load(certificate, key)?;
        Ok(Arc::new(Certificates {
            certificate: certificate.to_path_buf(),
            key: key.to_path_buf(),
            current: RwLock::new(served),
        }))
    }

    /// Reads the files again (a renewed certificate); on error the one in service stays.
    pub(crate) fn reload(&self) -> Result<(), TlsError> {
        let served = Served::load(&self.certificate, &self.key)?;
        // A poisoned lock only means a writer panicked mid-swap of two Arcs: the value is whole.
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = served;
        Ok(())
    }

    /// For a new DoT connection: the certificate in service, ALPN "dot".
    fn acceptor(&self) -> TlsAcceptor {
        let served = self.current.read().unwrap_or_else(|e| e.into_inner());
        TlsAcceptor::from(Arc::clone(&served.dot))
    }

    /// For a new DoH connection: the certificate in service, ALPN "h2" and "http/1.1".
    pub(crate) fn https_acceptor(&self) -> TlsAcceptor {
        let served = self.current.read().unwrap_or_else(|e| e.into_inner());
        TlsAcceptor::from(Arc::clone(&served.https))
    }
}

/// Serves DNS over TLS on `listener` until shutdown, with the TCP listener's caps. A place in
/// the registry is taken before the handshake, so handshakes count against both caps; a
/// handshake is ranked for eviction by its age (see [`super::conns`]), and one that is closed
/// to make room or outlasts [`HANDSHAKE_TIMEOUT`] frees its place.
pub(crate) async fn serve(
    listener: TcpListener,
    certificates: Arc<Certificates>,
    handler: Arc<Handler>,
    limits: TcpLimits,
    shutdown: Shutdown,
) {
    let limits = limits.clamped();
    tcp::accept_each(
        listener,
        &limits,
        shutdown,
        |stream, peer, guard, mut shutdown| {
            let acceptor = certificates.acceptor();
            let handler = Arc::clone(&handler);
            async move {
                let Some(stream) = handshake(acceptor, stream, peer, &guard, &mut shutdown).await
                else {
                    return;
                };
                let on = tcp::Connection {
                    peer,
                    transport: Transport::Tls,
                    handler,
                    limits,
                    guard,
                };
                // Whole, not split: one task reads and writes it (`tcp::connection`).
                tcp::connection(stream, on, shutdown).await;
            }
        },
    )
    .await;
}

/// The TLS handshake of a connection in `guard`'s place, bounded by [`HANDSHAKE_TIMEOUT`];
/// `None` (logged) when it fails, times out, is closed to make room, or shutdown comes first.
/// On success the connection counts as established.
pub(super) async fn handshake(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    guard: &Guard,
    shutdown: &mut Shutdown,
) -> Option<TlsStream<TcpStream>> {
    let handshake = tokio::select! {
        _ = shutdown.recv() => return None,
        () = guard.evicted() => {
            debug!(client = %peer, "tls handshake closed to make room");
            return None;
        }
        r = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)) => r,
    };
    match handshake {
        Ok(Ok(stream)) => {
            guard.established();
            Some(stream)
        }
        Ok(Err(e)) => {
            debug!(client = %peer, error = %e, "tls handshake failed");
            None
        }
        Err(_) => {
            debug!(client = %peer, "tls handshake timed out");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::process::Command;

    use tokio::net::TcpStream;
    use tokio::time::Instant;

    use super::*;
    use crate::authority::Catalog;
    use crate::handler::HandlerConfig;
    use crate::server::shutdown::{self, ShutdownTrigger};

    /// A fresh folder with a self-signed P-256 pair `name.crt`/`name.key` made by openssl.
    fn pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let (crt, key) = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        );
        let status = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args([
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-subj",
                "/CN=tern.test",
            ])
            .args(["-days", "1", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&crt)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(status.success(), "openssl made a pair");
        (crt, key)
    }

    fn folder(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tern-tls-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        dir
    }

    #[test]
    fn a_matching_pair_loads_with_alpn_dot_and_the_same_pair_for_https() {
        let dir = folder("good");
        let (crt, key) = pair(&dir, "a");
        let config = load(&crt, &key, &[ALPN_DOT]).expect("loads");
        assert_eq!(config.alpn_protocols, vec![b"dot".to_vec()]);
        let served = Served::load(&crt, &key).expect("loads");
        assert_eq!(served.dot.alpn_protocols, vec![b"dot".to_vec()]);
        assert_eq!(
            served.https.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unreadable_empty_or_mismatched_files_are_errors_naming_the_file() {
        let dir = folder("bad");
        let (crt, key) = pair(&dir, "a");
        let (_, other_key) = pair(&dir, "b");
        let missing = dir.join("missing.pem");
        let err = load(&missing, &key, &[ALPN_DOT]).expect_err("no certificate file");
        assert!(err.to_string().contains("missing.pem"), "{err}");
        let err = load(&crt, &missing, &[ALPN_DOT]).expect_err("no key file");
        assert!(err.to_string().contains("missing.pem"), "{err}");
        // A key file where the chain should be: readable PEM, but no certificate in it.
        let err = load(&key, &key, &[ALPN_DOT]).expect_err("no certificate in it");
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");
        assert!(err.to_string().contains("a.key"), "{err}");
        let err = load(&crt, &other_key, &[ALPN_DOT]).expect_err("key of another certificate");
        assert!(matches!(err, TlsError::Unusable { .. }), "{err}");
        assert!(err.to_string().contains("b.key"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_bad_reload_keeps_the_certificate_in_service() {
        let dir = folder("reload");
        let (crt, key) = pair(&dir, "a");
        let certs = Certificates::open(&crt, &key).expect("opens");
        let both = |c: &Certificates| {
            let served = c.current.read().expect("lock");
            (Arc::clone(&served.dot), Arc::clone(&served.https))
        };
        let before = both(&certs);
        std::fs::write(&crt, "not pem").expect("overwrite");
        assert!(certs.reload().is_err(), "garbage refused");
        let after = both(&certs);
        assert!(Arc::ptr_eq(&before.0, &after.0), "old DoT config kept");
        assert!(Arc::ptr_eq(&before.1, &after.1), "old DoH config kept");
        pair(&dir, "a");
        certs.reload().expect("a renewed pair loads");
        let renewed = both(&certs);
        assert!(
            !Arc::ptr_eq(&before.0, &renewed.0),
            "new DoT config in service"
        );
        assert!(
            !Arc::ptr_eq(&before.1, &renewed.1),
            "new DoH config in service"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A TLS listener of an empty catalog on the test's runtime, with a 60 s idle timeout so
    /// that only the handshake timeout can close a silent client at 10 s.
    async fn listening(test: &str) -> (SocketAddr, ShutdownTrigger, PathBuf) {
        let dir = folder(test);
        let (crt, key) = pair(&dir, "a");
        let certs = Certificates::open(&crt, &key).expect("opens");
        let listener = TcpListener::bind("127.49.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (trigger, signal) = shutdown::channel();
        let catalog = Catalog::new([]).expect("empty catalog");
        let handler = Handler::new(catalog, HandlerConfig::default(), Arc::default());
        let limits = TcpLimits {
            idle_timeout: Duration::from_secs(60),
            max_connections: 1,
            pipeline_depth: 4,
            ..TcpLimits::default()
        };
        tokio::spawn(serve(listener, certs, Arc::new(handler), limits, signal));
        (addr, trigger, dir)
    }

    /// Lets the kernel and the server's tasks catch up without moving the paused clock: a real
    /// pause, then yields (each polls the I/O driver, which never advances the clock). On a
    /// loaded machine a loopback handshake's last step, or the FIN of a close, can wait for a
    /// softirq; a runtime that found nothing to do meanwhile would jump the paused clock to
    /// the next timer (the test's own timeout) before the event arrives.
    async fn settle() {
        std::thread::sleep(Duration::from_millis(10));
        for _ in 0..8 {
            tokio::task::yield_now().await;
        }
    }

    /// Whether the server closes `stream` within about 3 s of real time, the paused clock left
    /// where it is (see [`settle`]); at once when it does.
    async fn closed_soon(stream: &TcpStream) -> bool {
        closed_within(stream, 300).await
    }

    /// Whether `stream` is still open after about 0.2 s of real time (a close comes at once on
    /// an idle machine, well within it).
    async fn still_open(stream: &TcpStream) -> bool {
        !closed_within(stream, 20).await
    }

    async fn closed_within(stream: &TcpStream, settles: usize) -> bool {
        let mut buf = [0u8; 16];
        for _ in 0..settles {
            match stream.try_read(&mut buf) {
                Ok(0) => return true,
                Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => return true,
                // Before its handshake the server sends nothing: bytes would be a bug.
                Ok(n) => panic!("{n} bytes from a server still waiting for a ClientHello"),
                Err(_) => settle().await,
            }
        }
        false
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_never_finishes_its_handshake_is_closed_and_frees_its_slot() {
        let (addr, _trigger, dir) = listening("handshake").await;
        let silent = TcpStream::connect(addr).await.expect("connect");
        settle().await;
        // Open until just before the handshake timeout, closed just after it.
        tokio::time::sleep(HANDSHAKE_TIMEOUT - Duration::from_millis(100)).await;
        assert!(still_open(&silent).await, "closed before its timeout");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(closed_soon(&silent).await, "closed at its timeout");
        // The only slot is free again: the next client is kept open, not closed at once.
        let next = TcpStream::connect(addr).await.expect("connect");
        settle().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(still_open(&next).await, "second client held open");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_handshake_makes_room_for_a_newcomer_before_its_timeout() {
        let (addr, _trigger, dir) = listening("evict").await;
        let stalled = TcpStream::connect(addr).await.expect("connect");
        settle().await;
        let from = Instant::now();
        // Past the grace a handshake is given, but well inside its timeout.
        tokio::time::sleep(super::super::conns::HANDSHAKE_GRACE * 2).await;
        assert!(still_open(&stalled).await, "open until room is needed");
        let newcomer = TcpStream::connect(addr).await.expect("connect");
        assert!(
            closed_soon(&stalled).await,
            "the stalled handshake is closed for the newcomer"
        );
        assert!(
            from.elapsed() < HANDSHAKE_TIMEOUT,
            "closed before its timeout"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(still_open(&newcomer).await, "the newcomer is held open");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

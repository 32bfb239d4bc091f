//! DNS over TLS and DNS over HTTPS for `tern lab`: a CA and a leaf for `localhost` and the
//! resolver's address, made for the run with rcgen (nothing to install, nothing kept between
//! runs), the CA written to the lab's state folder for clients' `--cacert`/`+tls-ca`, and the
//! resolver's handler served on the DoT and DoH listeners as `tern serve` serves `[tls]`.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::LabError;
use crate::handler::Handler;
use crate::server::tls::Certificates;
use crate::server::{Shutdown, TcpLimits, https, tls};

/// The lab's DNS-over-TLS port: 853 in tens, as the resolver's 5300 is 53 in hundreds, so
/// neither needs root.
pub(crate) const DOT_PORT: u16 = 8530;
/// The lab's DNS-over-HTTPS port (HTTPS's 443, the usual unprivileged 8443).
pub(crate) const DOH_PORT: u16 = 8443;

/// Where the lab serves DoT and DoH, and the CA that vouches for them.
#[derive(Debug, Clone)]
pub struct LabTls {
    /// The CA certificate (PEM) clients verify the lab's certificate with.
    pub ca: PathBuf,
    pub dot: SocketAddr,
    pub doh: SocketAddr,
}

impl LabTls {
    /// The client commands `tern lab` prints: kdig over DoT and DoH, curl over DoH (a GET of
    /// `www.alpha.test. A`, ID 0 as RFC 8484 §4.1 asks, shown with xxd).
    pub fn tries(&self) -> Vec<String> {
        let ca = self.ca.display();
        let (ip, dot, doh) = (self.dot.ip(), self.dot.port(), self.doh.port());
        let tls = format!("+tls-ca={ca} +tls-hostname=localhost");
        vec![
            format!("kdig @{ip} -p {dot} {tls} www.alpha.test A"),
            format!(
                "kdig @{} -p {doh} +https {tls} www.alpha.test A",
                self.doh.ip()
            ),
            format!(
                "curl -s --cacert {ca} -H 'accept: application/dns-message' \
                 'https://localhost:{doh}/dns-query?dns={WWW_ALPHA_TEST}' | xxd"
            ),
        ]
    }
}

/// `www.alpha.test. A`, ID 0, RD=1, in base64url without padding (RFC 8484 §4.1's form).
const WWW_ALPHA_TEST: &str = "AAABAAABAAAAAAAAA3d3dwVhbHBoYQR0ZXN0AAABAAE";

/// The files of one run's certificate: the CA, the leaf and the leaf's key, written in `dir`.
#[derive(Debug, Clone)]
pub struct CertificateFiles {
    pub ca: PathBuf,
    pub certificate: PathBuf,
    pub key: PathBuf,
}

fn failed(what: &str) -> impl FnOnce(rcgen::Error) -> LabError + '_ {
    move |e| LabError::Tls(format!("{what}: {e}"))
}

/// Makes a CA and a leaf it signs for `localhost`, 127.0.0.1 and `ip` (P-256, ServerAuth)
/// and writes `ca.pem`, `server.pem` and `server.key` in `dir`; the tests' certificates too.
pub fn make_certificate(dir: &Path, ip: IpAddr) -> Result<CertificateFiles, LabError> {
    let ca_key = KeyPair::generate().map_err(failed("CA key"))?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(failed("CA"))?;
    ca.distinguished_name
        .push(DnType::CommonName, "tern lab CA (this run only)");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_pem = ca.self_signed(&ca_key).map_err(failed("CA"))?.pem();
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate().map_err(failed("server key"))?;
    let mut leaf =
        CertificateParams::new(vec!["localhost".to_string()]).map_err(failed("server"))?;
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    let localhost = IpAddr::from([127, 0, 0, 1]);
    leaf.subject_alt_names.push(SanType::IpAddress(localhost));
    if ip != localhost {
        leaf.subject_alt_names.push(SanType::IpAddress(ip));
    }
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_pem = leaf
        .signed_by(&key, &issuer)
        .map_err(failed("server"))?
        .pem();

    std::fs::create_dir_all(dir).map_err(|source| LabError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let files = CertificateFiles {
        ca: dir.join("ca.pem"),
        certificate: dir.join("server.pem"),
        key: dir.join("server.key"),
    };
    for (path, text) in [
        (&files.ca, ca_pem),
        (&files.certificate, leaf_pem),
        (&files.key, key.serialize_pem()),
    ] {
        std::fs::write(path, text).map_err(|source| LabError::Read {
            path: path.clone(),
            source,
        })?;
    }
    Ok(files)
}

/// Makes the run's certificate in `dir` and serves `handler` over DoT on `ip:`[`DOT_PORT`]
/// and DoH on `ip:`[`DOH_PORT`] into `tasks` until `shutdown`. Returns once both are bound.
pub async fn start(
    handler: &Arc<Handler>,
    ip: IpAddr,
    dir: &Path,
    shutdown: &Shutdown,
    tasks: &mut JoinSet<()>,
) -> Result<LabTls, LabError> {
    start_on(
        handler,
        (ip, DOT_PORT).into(),
        (ip, DOH_PORT).into(),
        dir,
        shutdown,
        tasks,
    )
    .await
}

/// [`start`] on the given addresses (port 0: any free port), as the tests use it.
pub async fn start_on(
    handler: &Arc<Handler>,
    dot: SocketAddr,
    doh: SocketAddr,
    dir: &Path,
    shutdown: &Shutdown,
    tasks: &mut JoinSet<()>,
) -> Result<LabTls, LabError> {
    let files = make_certificate(dir, dot.ip())?;
    let certificates = Certificates::open(&files.certificate, &files.key)
        .map_err(|e| LabError::Tls(e.to_string()))?;
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| LabError::Bind { addr, source })
    };
    let (dot, doh) = (bind(dot).await?, bind(doh).await?);
    let addr = |l: &TcpListener| l.local_addr().map_err(|e| LabError::Tls(e.to_string()));
    let served = LabTls {
        ca: files.ca,
        dot: addr(&dot)?,
        doh: addr(&doh)?,
    };
    let limits = TcpLimits::default();
    tasks.spawn(tls::serve(
        dot,
        Arc::clone(&certificates),
        Arc::clone(handler),
        limits,
        shutdown.clone(),
    ));
    tasks.spawn(https::serve(
        doh,
        certificates,
        Arc::clone(handler),
        limits,
        shutdown.clone(),
    ));
    Ok(served)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The leaf chains to the CA for `localhost` and 127.0.0.1, as clients will check it.
    #[test]
    fn the_leaf_verifies_against_the_ca_for_localhost_and_its_address() {
        let dir = std::env::temp_dir().join(format!("tern-lab-tls-{}", std::process::id()));
        let files = make_certificate(&dir, IpAddr::from([127, 0, 0, 1])).expect("made");
        Certificates::open(&files.certificate, &files.key).expect("the pair serves");
        for name in ["localhost", "127.0.0.1"] {
            let out = std::process::Command::new("openssl")
                .args(["verify", "-CAfile"])
                .arg(&files.ca)
                .args(if name.starts_with("127") {
                    ["-verify_ip", name]
                } else {
                    ["-verify_hostname", name]
                })
                .arg(&files.certificate)
                .output()
                .expect("openssl runs");
            assert!(out.status.success(), "{name}: {out:?}");
        }
        let out = std::process::Command::new("openssl")
            .args(["verify", "-CAfile"])
            .arg(&files.ca)
            .args(["-verify_hostname", "tern.test"])
            .arg(&files.certificate)
            .output()
            .expect("openssl runs");
        assert!(!out.status.success(), "another name is refused");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! `[tls]`: DNS over TLS (RFC 7858) and DNS over HTTPS (RFC 8484) for clients.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ConfigError;

/// `[tls] certificate = "fullchain.pem"`, `key = "key.pem"`, `listen = ["127.0.0.1:853"]`,
/// `https_listen = ["127.0.0.1:443"]`. Off unless `listen` or `https_listen` names an address;
/// then both files are required (one certificate serves both transports).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first.
    pub certificate: Option<PathBuf>,
    /// PEM private key (PKCS#8, RSA or SEC1 EC).
    pub key: Option<PathBuf>,
    /// DNS-over-TLS listen addresses.
    #[serde(default)]
    pub listen: Vec<SocketAddr>,
    /// DNS-over-HTTPS listen addresses (path `/dns-query`).
    #[serde(default)]
    pub https_listen: Vec<SocketAddr>,
}

impl TlsConfig {
    pub(super) fn resolve(&mut self, base: &Path) {
        for p in [&mut self.certificate, &mut self.key].into_iter().flatten() {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
    }

    /// The certificate and key files when TLS is on; `None` when nothing listens. Listening
    /// without both files is a configuration error rather than a listener that fails every
    /// handshake.
    pub(crate) fn files(&self) -> Result<Option<(&Path, &Path)>, ConfigError> {
        if self.listen.is_empty() && self.https_listen.is_empty() {
            return Ok(None);
        }
        match (&self.certificate, &self.key) {
            (Some(c), Some(k)) => Ok(Some((c, k))),
            _ => Err(ConfigError::Invalid(
                "[tls] listen and https_listen need both certificate and key".to_string(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn off_unless_listening_and_paths_relative_to_the_config_file() {
        assert_eq!(Config::default().tls.files().expect("off"), None);
        let dir = std::env::temp_dir().join(format!("tern-config-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("tern.toml");
        std::fs::write(
            &path,
            "[tls]\ncertificate = \"c.pem\"\nkey = \"/k.pem\"\nlisten = [\"127.0.0.1:853\"]\n",
        )
        .expect("write");
        let config = Config::from_file(&path).expect("parses");
        let files = config.tls.files().expect("on").expect("both files");
        assert_eq!(files.0, dir.join("c.pem"));
        assert_eq!(files.1, std::path::Path::new("/k.pem"));
        std::fs::write(&path, "[tls]\nlisten = [\"127.0.0.1:853\"]\n").expect("write");
        let config = Config::from_file(&path).expect("parses");
        assert!(config.tls.files().is_err(), "listening needs the files");
        std::fs::write(&path, "[tls]\nhttps_listen = [\"127.0.0.1:443\"]\n").expect("write");
        let config = Config::from_file(&path).expect("parses");
        assert_eq!(config.tls.https_listen.len(), 1);
        assert!(config.tls.files().is_err(), "DoH alone needs the files too");
        std::fs::write(
            &path,
            "[tls]\ncertificate = \"c.pem\"\nkey = \"k.pem\"\nhttps_listen = [\"127.0.0.1:443\"]\n",
        )
        .expect("write");
        let config = Config::from_file(&path).expect("parses");
        assert!(
            config.tls.files().expect("on").is_some(),
            "DoH alone turns TLS on"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

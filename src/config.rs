//! The TOML configuration. Every number is a [`Limit`](crate::limits::Limit) with a default and
//! bounds; relative paths resolve against the folder of the config file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::limits::{
    EDNS_UDP_PAYLOAD, TCP_IDLE_TIMEOUT_MS, TCP_MAX_CONNECTIONS, TCP_PIPELINE_DEPTH,
};

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    /// Zones served authoritatively.
    #[serde(default, rename = "zone")]
    pub zones: Vec<ZoneConfig>,
}

/// Listener settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Each address is served on both UDP and TCP.
    #[serde(default)]
    pub listen: Vec<SocketAddr>,
    pub edns_udp_payload: Option<u16>,
    pub tcp_idle_timeout_ms: Option<u64>,
    pub tcp_max_connections: Option<usize>,
    pub tcp_pipeline_depth: Option<usize>,
    /// Answer only from local zones; everything else gets REFUSED.
    #[serde(default)]
    pub no_recursion: bool,
}

/// One authoritative zone.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    pub origin: String,
    pub file: PathBuf,
}

/// Listener limits after bounds checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    pub edns_udp_payload: u16,
    pub tcp_idle_timeout_ms: u64,
    pub tcp_max_connections: usize,
    pub tcp_pipeline_depth: usize,
}

impl Config {
    /// Reads a config file; zone paths become relative to its folder.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = Config::from_toml(&text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for z in &mut config.zones {
            if z.file.is_relative() {
                z.file = base.join(&z.file);
            }
        }
        Ok(config)
    }

    pub fn from_toml(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    /// Bounds-checked listener limits.
    pub fn server_limits(&self) -> Result<ServerLimits, ConfigError> {
        let s = &self.server;
        Ok(ServerLimits {
            edns_udp_payload: EDNS_UDP_PAYLOAD
                .check(s.edns_udp_payload)
                .map_err(ConfigError::Invalid)?,
            tcp_idle_timeout_ms: TCP_IDLE_TIMEOUT_MS
                .check(s.tcp_idle_timeout_ms)
                .map_err(ConfigError::Invalid)?,
            tcp_max_connections: TCP_MAX_CONNECTIONS
                .check(s.tcp_max_connections)
                .map_err(ConfigError::Invalid)?,
            tcp_pipeline_depth: TCP_PIPELINE_DEPTH
                .check(s.tcp_pipeline_depth)
                .map_err(ConfigError::Invalid)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks_bounds() {
        let c = Config::from_toml(
            "[server]\nlisten = [\"127.0.0.1:5300\"]\nedns_udp_payload = 1400\n[[zone]]\norigin = \"a.test.\"\nfile = \"a.zone\"\n",
        )
        .expect("valid toml");
        assert_eq!(c.zones.len(), 1);
        assert_eq!(c.server_limits().expect("in range").edns_udp_payload, 1400);
        let bad = Config::from_toml("[server]\nedns_udp_payload = 100\n").expect("valid toml");
        assert!(bad.server_limits().is_err());
        assert!(Config::from_toml("[server]\nbogus = 1\n").is_err());
    }
}

//! `[metrics]` and `[log]`: how tern is watched while it runs.

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

use super::ConfigError;
use crate::acl::Acl;
use crate::querylog::Destination;

/// `[metrics]`: the Prometheus scrape endpoint and the dashboard, off unless `listen` is set.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where `GET /metrics` and the dashboard (`GET /`) are served, e.g. `"127.0.0.1:9153"`.
    pub listen: Option<SocketAddr>,
    /// Who may connect (CIDR blocks); others are answered 403. Unset: anyone who can reach
    /// `listen`, which is loopback in the examples.
    pub allow: Option<Vec<String>>,
}

impl MetricsConfig {
    /// The `allow` list, if set.
    pub(crate) fn acl(&self) -> Result<Option<Acl>, ConfigError> {
        let allow = self.allow.as_deref();
        allow
            .map(|list| super::cidrs("metrics.allow", list))
            .transpose()
    }
}

/// `[log]`: the query log, off unless `queries` is set.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `"stdout"`, or a file the JSON lines are appended to (relative to the config file).
    pub queries: Option<String>,
}

impl LogConfig {
    /// Makes a relative log path relative to `base` (the config file's folder).
    pub(super) fn resolve(&mut self, base: &Path) {
        if let Some(q) = &mut self.queries
            && let Destination::File(path) = Destination::parse(q)
            && path.is_relative()
        {
            *q = base.join(path).to_string_lossy().into_owned();
        }
    }

    /// Where query lines go, if anywhere.
    pub(crate) fn query_log(&self) -> Option<Destination> {
        self.queries.as_deref().map(Destination::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn metrics_and_query_log_sections() {
        let c = Config::from_toml(
            "[metrics]\nlisten = \"127.0.0.1:9153\"\n[log]\nqueries = \"stdout\"\n",
        )
        .expect("parses");
        assert_eq!(
            c.metrics.listen,
            Some("127.0.0.1:9153".parse().expect("addr"))
        );
        assert_eq!(c.log.query_log(), Some(Destination::Stdout));
        let off = Config::from_toml("").expect("parses");
        assert_eq!(off.metrics.listen, None);
        assert_eq!(off.log.query_log(), None);
        assert!(Config::from_toml("[metrics]\nport = 1\n").is_err());
        assert_eq!(off.metrics.acl().expect("no list"), None);
    }

    #[test]
    fn the_metrics_allow_list_is_cidrs() {
        let c = Config::from_toml("[metrics]\nallow = [\"10.0.0.0/8\", \"::1/128\"]\n")
            .expect("parses");
        let acl = c.metrics.acl().expect("valid").expect("set");
        assert!(acl.allows("10.1.2.3".parse().expect("ip")));
        assert!(acl.allows("::1".parse().expect("ip")));
        assert!(!acl.allows("127.0.0.1".parse().expect("ip")));
        let bad = Config::from_toml("[metrics]\nallow = [\"10.0.0.0/33\"]\n").expect("parses");
        assert!(bad.metrics.acl().is_err());
    }

    #[test]
    fn a_relative_log_file_is_next_to_the_config() {
        let mut log = LogConfig {
            queries: Some("queries.jsonl".to_string()),
        };
        log.resolve(Path::new("/etc/tern"));
        assert_eq!(
            log.query_log(),
            Some(Destination::File("/etc/tern/queries.jsonl".into()))
        );
    }
}

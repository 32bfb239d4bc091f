//! `[metrics]` and `[log]`: how tern is watched while it runs.

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

use crate::querylog::Destination;

/// `[metrics]`: the Prometheus scrape endpoint, off unless `listen` is set.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where `GET /metrics` is served, e.g. `"127.0.0.1:9153"`.
    pub listen: Option<SocketAddr>,
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

//! `[[forward]]` tables: zones the resolver forwards, with RD=1, to recursive resolvers.

use std::net::SocketAddr;

use hickory_proto::rr::LowerName;
use serde::Deserialize;

use super::{ConfigError, StubConfig, parse_name};
use crate::resolver::Forward;

/// A forward zone: `zone = "corp.example."` (`"."` forwards everything), `servers =
/// ["10.1.0.53:53", ...]`, `forward_first = true` to walk the hierarchy when they all fail.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ForwardConfig {
    pub zone: String,
    pub servers: Vec<SocketAddr>,
    #[serde(default)]
    pub forward_first: bool,
}

/// The forward zones, checked: each has servers, and no zone is named twice or as a stub
/// too (the longest match would not decide between them).
pub(super) fn forwards(
    forwards: &[ForwardConfig],
    stubs: &[StubConfig],
) -> Result<Vec<Forward>, ConfigError> {
    let mut seen: Vec<LowerName> = Vec::new();
    for s in stubs {
        seen.push(LowerName::new(&parse_name(&s.zone)?));
    }
    let mut out = Vec::with_capacity(forwards.len());
    for f in forwards {
        if f.servers.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "forward {}: no servers",
                f.zone
            )));
        }
        let zone = parse_name(&f.zone)?;
        let lower = LowerName::new(&zone);
        if seen.contains(&lower) {
            return Err(ConfigError::Invalid(format!(
                "forward {}: the zone is already a [[forward]] or [[stub]] zone",
                f.zone
            )));
        }
        seen.push(lower);
        out.push(Forward {
            zone,
            servers: f.servers.clone(),
            first: f.forward_first,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn a_forward_zone_is_read_and_checked() {
        let text = "[[forward]]\nzone = \"corp.example\"\nservers = [\"127.0.0.9:5353\"]\n\
                    forward_first = true\n[[forward]]\nzone = \".\"\nservers = [\"127.0.0.8:53\"]\n";
        let config = Config::from_toml(text).expect("valid toml");
        let forwards = config.resolver_config().expect("valid forwards").forwards;
        assert_eq!(forwards.len(), 2);
        assert_eq!(forwards[0].zone.to_ascii(), "corp.example.");
        assert_eq!(forwards[0].servers[0].port(), 5353);
        assert!(forwards[0].first);
        assert!(forwards[1].zone.is_root() && !forwards[1].first);
        for bad in [
            "[[forward]]\nzone = \"c.test.\"\nservers = []\n",
            "[[forward]]\nzone = \"c.test.\"\nservers = [\"127.0.0.9:53\"]\n\
             [[stub]]\nzone = \"c.test.\"\nservers = [\"127.0.0.9:53\"]\n",
            "[[forward]]\nzone = \"c.test.\"\nservers = [\"127.0.0.9:53\"]\n\
             [[forward]]\nzone = \"C.test\"\nservers = [\"127.0.0.9:53\"]\n",
        ] {
            let config = Config::from_toml(bad).expect("valid toml");
            assert!(config.resolver_config().is_err(), "{bad}");
        }
        assert!(
            Config::from_toml("[[forward]]\nzone = \".\"\nservers = []\ntls = 1\n").is_err(),
            "unknown keys are refused"
        );
    }
}

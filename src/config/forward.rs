//! `[[forward]]` tables: zones the resolver forwards, with RD=1, to recursive resolvers.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hickory_proto::rr::LowerName;
use serde::Deserialize;

use super::{ConfigError, StubConfig, keyed, parse_name_at};
use crate::outbound::doh::DohUpstream;
use crate::outbound::tls::DotUpstream;
use crate::resolver::Forward;
use crate::resolver::upstream::Encrypted;

/// A forward zone: `zone = "corp.example."` (`"."` forwards everything), `servers =
/// ["10.1.0.53:53", ...]`, `forward_first = true` to walk the hierarchy when they all fail;
/// `tls_name = "dns.example"` to ask them over DNS over TLS only, their certificate naming it
/// and chaining to `ca = "ca.pem"` (PEM; default: the system's roots), or `url =
/// "https://dns.example/dns-query"` to ask them over DNS over HTTPS only, their certificate
/// naming the URL's host; `no_cache = true` to cache nothing of the zone, so every question
/// goes to the servers.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ForwardConfig {
    pub zone: String,
    pub servers: Vec<SocketAddr>,
    #[serde(default)]
    pub forward_first: bool,
    /// DNS over TLS (RFC 7858) to the servers: the name their certificate must carry.
    #[serde(default)]
    pub tls_name: Option<String>,
    /// DNS over HTTPS (RFC 8484) to the servers: the URL posted to. Its host is the name their
    /// certificate must carry, never looked up: `servers` are the addresses connected to.
    #[serde(default)]
    pub url: Option<String>,
    /// The CA certificates (PEM) the servers' chain must end in; relative to the config file.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// Cache nothing learnt of names in the zone, nor answer them from the cache (Unbound's
    /// `forward-no-cache`).
    #[serde(default)]
    pub no_cache: bool,
}

impl ForwardConfig {
    /// A relative `ca` is the config file's folder's.
    pub(super) fn resolve(&mut self, base: &Path) {
        if let Some(ca) = &mut self.ca
            && ca.is_relative()
        {
            *ca = base.join(&*ca);
        }
    }

    /// The TLS or HTTPS client of the zone's servers, the `ca` file read now (a start-up
    /// error).
    fn encrypted(&self) -> Result<Option<Encrypted>, ConfigError> {
        let invalid =
            |e: &dyn std::fmt::Display| ConfigError::Invalid(format!("forward {}: {e}", self.zone));
        let ca = self.ca.as_deref();
        match (&self.tls_name, &self.url) {
            (Some(_), Some(_)) => Err(invalid(&"tls_name and url: one transport or the other")),
            (Some(name), None) => {
                let dot = DotUpstream::new(name, ca).map_err(|e| invalid(&e))?;
                Ok(Some(Encrypted::Tls(Arc::new(dot))))
            }
            (None, Some(url)) => {
                let doh = DohUpstream::new(url, ca).map_err(|e| invalid(&e))?;
                Ok(Some(Encrypted::Https(Arc::new(doh))))
            }
            (None, None) if ca.is_some() => Err(invalid(&"ca without tls_name or url")),
            (None, None) => Ok(None),
        }
    }
}

/// The forward zones, checked: each has servers, and no zone is named twice or as a stub
/// too (the longest match would not decide between them). `connect` false leaves their TLS
/// and HTTPS clients unbuilt (no `ca` file read), for the checks made at load.
pub(super) fn forwards(
    forwards: &[ForwardConfig],
    stubs: &[StubConfig],
    connect: bool,
) -> Result<Vec<Forward>, ConfigError> {
    let mut seen: Vec<LowerName> = Vec::new();
    for (i, s) in stubs.iter().enumerate() {
        seen.push(LowerName::new(&parse_name_at(
            &format!("stub[{i}].zone"),
            &s.zone,
        )?));
    }
    let mut out = Vec::with_capacity(forwards.len());
    for (i, f) in forwards.iter().enumerate() {
        if f.servers.is_empty() {
            return Err(keyed::invalid(
                format!("forward[{i}].servers"),
                format_args!("forward {}: no servers", f.zone),
            ));
        }
        let key = format!("forward[{i}].zone");
        let zone = parse_name_at(&key, &f.zone)?;
        let lower = LowerName::new(&zone);
        if seen.contains(&lower) {
            return Err(keyed::invalid(
                key,
                format_args!(
                    "forward {}: the zone is already a [[forward]] or [[stub]] zone",
                    f.zone
                ),
            ));
        }
        seen.push(lower);
        out.push(Forward {
            zone,
            servers: f.servers.clone(),
            first: f.forward_first,
            tls: if connect { f.encrypted()? } else { None },
            no_cache: f.no_cache,
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

    #[test]
    fn tls_name_and_a_relative_ca_are_read_and_a_missing_ca_stops_the_start_naming_it() {
        let dir = std::env::temp_dir().join(format!("tern-config-fwd-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("tern.toml");
        std::fs::write(
            &path,
            "[[forward]]\nzone = \".\"\nservers = [\"127.0.0.9:853\"]\n\
             tls_name = \"dns.example\"\nca = \"upstream-ca.pem\"\n",
        )
        .expect("write");
        let config = Config::from_file(&path).expect("parses");
        assert_eq!(config.forwards[0].ca, Some(dir.join("upstream-ca.pem")));
        assert_eq!(config.forwards[0].tls_name.as_deref(), Some("dns.example"));
        let Err(e) = config.resolver_config() else {
            panic!("a missing ca is an error");
        };
        assert!(e.to_string().contains("upstream-ca.pem"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
        let ca_alone = "[[forward]]\nzone = \".\"\nservers = [\"127.0.0.9:853\"]\nca = \"x.pem\"\n";
        let config = Config::from_toml(ca_alone).expect("valid toml");
        assert!(config.resolver_config().is_err(), "ca without tls_name");
        let plain = "[[forward]]\nzone = \".\"\nservers = [\"127.0.0.9:53\"]\n";
        let config = Config::from_toml(plain).expect("valid toml");
        assert!(
            config.resolver_config().expect("valid").forwards[0]
                .tls
                .is_none()
        );
    }

    #[test]
    fn url_asks_over_https_and_is_checked_against_tls_name_and_its_form() {
        use crate::resolver::upstream::Encrypted;
        let dir = std::env::temp_dir().join(format!("tern-config-fwd-doh-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let ip = std::net::IpAddr::from([127, 0, 0, 1]);
        crate::lab::tls::make_certificate(&dir, ip).expect("a CA");
        let path = dir.join("tern.toml");
        let forward = |extra: &str| {
            format!(
                "[[forward]]\nzone = \".\"\nservers = [\"127.0.0.9:443\"]\nca = \"ca.pem\"\n{extra}"
            )
        };
        let read = |text: String| {
            std::fs::write(&path, text).expect("write");
            Config::from_file(&path).expect("parses").resolver_config()
        };
        let rc = read(forward("url = \"https://dns.example/dns-query\"\n")).expect("valid");
        let Some(Encrypted::Https(doh)) = &rc.forwards[0].tls else {
            panic!("over HTTPS: {:?}", rc.forwards[0].tls);
        };
        assert_eq!(doh.url(), "https://dns.example/dns-query");
        for (extra, says) in [
            (
                "url = \"https://dns.example/dns-query\"\ntls_name = \"dns.example\"\n",
                "tls_name and url",
            ),
            ("url = \"http://dns.example/dns-query\"\n", "not https"),
            ("url = \"https:///dns-query\"\n", "http"),
            ("", "ca without tls_name or url"),
        ] {
            let Err(e) = read(forward(extra)) else {
                panic!("{extra}: refused");
            };
            assert!(e.to_string().contains(says), "{extra}: {e}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! The TOML configuration. Every number is a [`Limit`](crate::limits::Limit) with a default and
//! bounds; relative paths resolve against the folder of the config file.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use std::time::Duration;

use hickory_proto::rr::{LowerName, Name};

use crate::acl::{Acl, Cidr};
use crate::authority::balance::Policy;
use crate::cache::CachePolicy;
use crate::discovery::health::{Check, CheckSpec, HttpCheck};
use crate::discovery::registry::Registration;
use crate::discovery::service::{DEFAULT_TTL, Instance, Protocol, Service};
use crate::limits::{
    CACHE_MAX_BYTES, CACHE_MAX_ENTRIES, CACHE_MAX_TTL, CACHE_MIN_TTL, CACHE_NEGATIVE_MAX_TTL,
    EDNS_UDP_PAYLOAD, FAILURE_TTL, MAX_CNAME_CHAIN, MAX_DELEGATION_DEPTH, MAX_GLUELESS_LOOKUPS,
    MAX_UPSTREAM_QUERIES, RESOLVE_TIMEOUT_MS, SERVE_STALE_SECS, STALE_ANSWER_TIMEOUT_MS,
    TCP_IDLE_TIMEOUT_MS, TCP_MAX_CONNECTIONS, TCP_PIPELINE_DEPTH, UDP_MAX_IN_FLIGHT, UDP_RCVBUF,
};
use crate::resolver::{Limits, ResolverConfig, Stub};
use crate::tsig::{self, Keyring};

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
    #[serde(default)]
    pub recursion: RecursionConfig,
    #[serde(default)]
    pub cache: CacheConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Services registered in served zones (discovery).
    #[serde(default, rename = "service")]
    pub services: Vec<ServiceConfig>,
    /// Zones the resolver asks of fixed servers (discovery servers it does not host).
    #[serde(default, rename = "stub")]
    pub stubs: Vec<StubConfig>,
    /// TSIG key files (RFC 8945), for signed dynamic updates.
    #[serde(default, rename = "tsig_key")]
    pub tsig_keys: Vec<TsigKeyConfig>,
}

/// A stub zone: `zone = "cluster.test."`, `servers = ["127.0.0.1:5353", ...]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StubConfig {
    pub zone: String,
    pub servers: Vec<SocketAddr>,
}

/// Recursive service.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecursionConfig {
    /// Root hints file; default: the IANA hints compiled into tern.
    pub root_hints: Option<PathBuf>,
    /// Clients allowed to recurse (CIDRs); default loopback only.
    pub allow: Option<Vec<String>>,
    /// Clients whose non-recursive (RD=0) questions are answered from the cache, or with the
    /// closest cached delegation (CIDRs; Unbound's `allow_snoop`). Default: nobody.
    pub allow_snoop: Option<Vec<String>>,
    /// RFC 9156 QNAME minimisation (default on).
    pub qname_minimisation: Option<bool>,
    /// Port upstream servers listen on (default 53).
    pub upstream_port: Option<u16>,
}

/// Cache bounds; see `limits.rs` for defaults and reasons.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    pub max_entries: Option<usize>,
    /// Memory bound in bytes (Unbound's msg-cache-size + rrset-cache-size).
    pub max_bytes: Option<usize>,
    pub min_ttl: Option<u32>,
    pub max_ttl: Option<u32>,
    pub negative_max_ttl: Option<u32>,
    pub serve_stale_secs: Option<u32>,
    pub stale_answer_timeout_ms: Option<u64>,
    pub failure_ttl: Option<u32>,
}

/// Per-query resolver limits; see `limits.rs`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    pub max_cname_chain: Option<usize>,
    pub max_delegation_depth: Option<usize>,
    pub max_glueless_lookups: Option<usize>,
    pub max_upstream_queries: Option<usize>,
    pub timeout_ms: Option<u64>,
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
    pub udp_max_in_flight: Option<usize>,
    pub udp_rcvbuf: Option<usize>,
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
    /// How every RRset of the zone is ordered in answers (round-robin | weighted |
    /// client-hash | lowest-latency); default: as the file lists it.
    #[serde(default)]
    pub balance: Option<String>,
    /// TSIG keys (by name, from `[[tsig_key]]` files) that may UPDATE the zone; none: every
    /// UPDATE is REFUSED.
    #[serde(default)]
    pub update_keys: Vec<String>,
    /// Where accepted updates are journaled; default `FILE.jnl` beside the zone file when the
    /// zone takes updates.
    pub journal: Option<PathBuf>,
}

impl ZoneConfig {
    /// The journal the zone keeps, if it takes updates.
    pub fn journal_path(&self) -> Option<PathBuf> {
        if self.update_keys.is_empty() {
            return None;
        }
        Some(self.journal.clone().unwrap_or_else(|| {
            let mut name = self.file.clone().into_os_string();
            name.push(".jnl");
            PathBuf::from(name)
        }))
    }
}

/// The keys the server knows and which zones take updates signed with which of them.
#[derive(Debug, Clone, Default)]
pub struct UpdatePolicy {
    pub keyring: Keyring,
    /// Zones that take updates, each with the (absolute) names of the keys it accepts.
    pub zones: Vec<(Name, Vec<Name>)>,
}

/// A file of TSIG keys as `tsig-keygen` writes them.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TsigKeyConfig {
    pub file: PathBuf,
}

/// A service: `NAME.ZONE` A/AAAA and `_NAME._PROTOCOL.ZONE` SRV over its healthy instances,
/// each instance also at `INSTANCE.NAME.ZONE`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// A zone tern serves.
    pub zone: String,
    pub name: String,
    /// The SRV protocol label: tcp or udp (default tcp).
    pub protocol: Option<String>,
    /// round-robin | weighted | client-hash | lowest-latency (default: the zone's, else none).
    pub balance: Option<String>,
    /// TTL of the service's records (seconds).
    pub ttl: Option<u32>,
    #[serde(default, rename = "instance")]
    pub instances: Vec<InstanceConfig>,
}

/// One instance of a service.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InstanceConfig {
    pub name: String,
    pub address: std::net::IpAddr,
    pub port: u16,
    /// RFC 2782 weight (default 1).
    pub weight: Option<u16>,
    /// RFC 2782 priority (default 0).
    pub priority: Option<u16>,
    pub check: Option<CheckConfig>,
}

/// A health check: `tcp = "ADDR:PORT"` (connect) or `http = "http://ADDR:PORT/path"` (GET,
/// 2xx is healthy).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    pub tcp: Option<String>,
    pub http: Option<String>,
    pub interval_ms: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub rise: Option<u32>,
    pub fall: Option<u32>,
}

/// Listener limits after bounds checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    pub edns_udp_payload: u16,
    pub tcp_idle_timeout_ms: u64,
    pub tcp_max_connections: usize,
    pub tcp_pipeline_depth: usize,
    pub udp_max_in_flight: usize,
    pub udp_rcvbuf: usize,
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
            if let Some(j) = &mut z.journal
                && j.is_relative()
            {
                *j = base.join(&*j);
            }
        }
        for k in &mut config.tsig_keys {
            if k.file.is_relative() {
                k.file = base.join(&k.file);
            }
        }
        if let Some(h) = &mut config.recursion.root_hints
            && h.is_relative()
        {
            *h = base.join(&*h);
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
            udp_max_in_flight: UDP_MAX_IN_FLIGHT
                .check(s.udp_max_in_flight)
                .map_err(ConfigError::Invalid)?,
            udp_rcvbuf: UDP_RCVBUF
                .check(s.udp_rcvbuf)
                .map_err(ConfigError::Invalid)?,
        })
    }
}

impl Config {
    pub fn cache_policy(&self) -> Result<CachePolicy, ConfigError> {
        let c = &self.cache;
        let e = ConfigError::Invalid;
        Ok(CachePolicy {
            max_entries: CACHE_MAX_ENTRIES.check(c.max_entries).map_err(e)?,
            max_bytes: CACHE_MAX_BYTES.check(c.max_bytes).map_err(e)?,
            min_ttl: CACHE_MIN_TTL.check(c.min_ttl).map_err(e)?,
            max_ttl: CACHE_MAX_TTL.check(c.max_ttl).map_err(e)?,
            negative_max_ttl: CACHE_NEGATIVE_MAX_TTL
                .check(c.negative_max_ttl)
                .map_err(e)?,
            serve_stale_secs: SERVE_STALE_SECS.check(c.serve_stale_secs).map_err(e)?,
        })
    }

    pub fn resolver_config(&self) -> Result<ResolverConfig, ConfigError> {
        let l = &self.limits;
        let e = ConfigError::Invalid;
        Ok(ResolverConfig {
            limits: Limits {
                max_cname_chain: MAX_CNAME_CHAIN.check(l.max_cname_chain).map_err(e)?,
                max_delegation_depth: MAX_DELEGATION_DEPTH
                    .check(l.max_delegation_depth)
                    .map_err(e)?,
                max_glueless_lookups: MAX_GLUELESS_LOOKUPS
                    .check(l.max_glueless_lookups)
                    .map_err(e)?,
                max_upstream_queries: MAX_UPSTREAM_QUERIES
                    .check(l.max_upstream_queries)
                    .map_err(e)?,
                timeout: Duration::from_millis(RESOLVE_TIMEOUT_MS.check(l.timeout_ms).map_err(e)?),
            },
            qname_minimisation: self.recursion.qname_minimisation.unwrap_or(true),
            failure_ttl: FAILURE_TTL.check(self.cache.failure_ttl).map_err(e)?,
            upstream_port: self.recursion.upstream_port,
            stale_answer_timeout: Duration::from_millis(
                STALE_ANSWER_TIMEOUT_MS
                    .check(self.cache.stale_answer_timeout_ms)
                    .map_err(e)?,
            ),
            trace: None,
            stubs: self
                .stubs
                .iter()
                .map(|s| {
                    if s.servers.is_empty() {
                        return Err(ConfigError::Invalid(format!("stub {}: no servers", s.zone)));
                    }
                    Ok(Stub {
                        zone: parse_name(&s.zone)?,
                        servers: s.servers.clone(),
                    })
                })
                .collect::<Result<_, _>>()?,
        })
    }

    pub fn acl(&self) -> Result<Acl, ConfigError> {
        match &self.recursion.allow {
            None => Ok(Acl::loopback()),
            Some(list) => cidrs(list),
        }
    }

    /// Each zone's default answer ordering (`[[zone]] balance`).
    pub fn zone_balance(&self) -> Result<HashMap<LowerName, Policy>, ConfigError> {
        let mut out = HashMap::new();
        for z in &self.zones {
            if let Some(b) = &z.balance {
                let policy = b
                    .parse::<Policy>()
                    .map_err(|e| ConfigError::Invalid(format!("zone {}: {e}", z.origin)))?;
                out.insert(LowerName::new(&parse_name(&z.origin)?), policy);
            }
        }
        Ok(out)
    }

    /// The TSIG keys of every `[[tsig_key]]` file, and for each zone with `update_keys` the keys
    /// it accepts. Every key a zone names must be in one of the files; a file that cannot be
    /// read, or holds a key we cannot use, is an error naming it.
    pub fn update_policy(&self) -> Result<UpdatePolicy, ConfigError> {
        let mut keys = Vec::new();
        for k in &self.tsig_keys {
            keys.extend(
                tsig::read_key_file(&k.file).map_err(|e| ConfigError::Invalid(e.to_string()))?,
            );
        }
        let keyring = Keyring::new(keys);
        if let Some(z) = self
            .zones
            .iter()
            .find(|z| z.journal.is_some() && z.update_keys.is_empty())
        {
            return Err(ConfigError::Invalid(format!(
                "zone {}: a journal without update_keys would never be written",
                z.origin
            )));
        }
        let mut zones = Vec::new();
        for z in self.zones.iter().filter(|z| !z.update_keys.is_empty()) {
            let origin = parse_name(&z.origin)?;
            let mut names = Vec::new();
            for k in &z.update_keys {
                let name = Name::from_ascii(k).map_err(|e| {
                    ConfigError::Invalid(format!("zone {}: key {k}: {e}", z.origin))
                })?;
                let key = keyring.get(&name).ok_or_else(|| {
                    ConfigError::Invalid(format!(
                        "zone {}: update key {k} is in no [[tsig_key]] file",
                        z.origin
                    ))
                })?;
                names.push(key.name().clone());
            }
            zones.push((origin, names));
        }
        Ok(UpdatePolicy { keyring, zones })
    }

    /// The `[[service]]` tables as registrations, checked: each in a zone served here, with
    /// valid names, a known balance policy and health checks within their bounds.
    pub fn services(&self) -> Result<Vec<Registration>, ConfigError> {
        let served: Vec<Name> = self
            .zones
            .iter()
            .map(|z| parse_name(&z.origin))
            .collect::<Result<_, _>>()?;
        let mut out: Vec<Registration> = Vec::new();
        for s in &self.services {
            let invalid = |e: String| ConfigError::Invalid(format!("service {}: {e}", s.name));
            let zone = parse_name(&s.zone)?;
            if !served.contains(&zone) {
                return Err(invalid(format!("zone {zone} is not served here")));
            }
            let balance = s
                .balance
                .as_deref()
                .map(str::parse::<Policy>)
                .transpose()
                .map_err(|e| invalid(e.to_string()))?;
            let mut checks = HashMap::new();
            let mut instances = Vec::new();
            for i in &s.instances {
                if let Some(c) = &i.check {
                    checks.insert(i.name.clone(), c.spec().map_err(&invalid)?);
                }
                instances.push(Instance {
                    name: i.name.clone(),
                    address: i.address,
                    port: i.port,
                    weight: i.weight.unwrap_or(1),
                    priority: i.priority.unwrap_or(0),
                });
            }
            let service = Service {
                zone,
                name: s.name.clone(),
                protocol: Protocol::parse(&s.name, s.protocol.as_deref())
                    .map_err(|e| ConfigError::Invalid(e.to_string()))?,
                ttl: s.ttl.unwrap_or(DEFAULT_TTL),
                instances,
            };
            service
                .validate()
                .map_err(|e| ConfigError::Invalid(e.to_string()))?;
            if out.iter().any(|r| r.service.host() == service.host()) {
                return Err(ConfigError::Invalid(format!(
                    "service {} is defined twice",
                    service.host()
                )));
            }
            out.push(Registration {
                service,
                balance,
                checks,
            });
        }
        Ok(out)
    }

    /// Who may send RD=0 questions answered from the cache (nobody unless configured).
    pub fn snoop_acl(&self) -> Result<Acl, ConfigError> {
        cidrs(self.recursion.allow_snoop.as_deref().unwrap_or_default())
    }
}

fn parse_name(s: &str) -> Result<Name, ConfigError> {
    let name = Name::from_ascii(s).map_err(|e| ConfigError::Invalid(format!("{s:?}: {e}")))?;
    Ok(if name.is_fqdn() {
        name
    } else {
        let mut fqdn = name;
        fqdn.set_fqdn(true);
        fqdn
    })
}

impl CheckConfig {
    /// The check this table describes: exactly one of `tcp` and `http`, knobs in bounds.
    fn spec(&self) -> Result<CheckSpec, String> {
        let check = match (&self.tcp, &self.http) {
            (Some(addr), None) => Check::Tcp(
                addr.parse::<SocketAddr>()
                    .map_err(|_| format!("check tcp = {addr:?} is not ADDR:PORT"))?,
            ),
            (None, Some(url)) => Check::Http(url.parse::<HttpCheck>().map_err(|e| e.to_string())?),
            _ => return Err("a check needs exactly one of tcp and http".to_string()),
        };
        let mut spec = CheckSpec::new(check);
        if let Some(ms) = self.interval_ms {
            spec.interval = Duration::from_millis(ms);
        }
        if let Some(ms) = self.timeout_ms {
            spec.timeout = Duration::from_millis(ms);
        }
        if let Some(rise) = self.rise {
            spec.rise = rise;
        }
        if let Some(fall) = self.fall {
            spec.fall = fall;
        }
        spec.validate().map_err(|e| e.to_string())?;
        Ok(spec)
    }
}

fn cidrs(list: &[String]) -> Result<Acl, ConfigError> {
    list.iter()
        .map(|s| {
            s.parse::<Cidr>()
                .map_err(|e| ConfigError::Invalid(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Acl::new)
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

    #[test]
    fn cache_max_bytes_is_read_and_bounded() {
        let c = Config::from_toml("[cache]\nmax_bytes = 1048576\n").expect("valid toml");
        let policy = c.cache_policy().expect("in range");
        assert_eq!(policy.max_bytes, 1 << 20);
        assert_eq!(policy.max_entries, CACHE_MAX_ENTRIES.default);
        let default = Config::default().cache_policy().expect("defaults in range");
        assert_eq!(default.max_bytes, CACHE_MAX_BYTES.default);
        let tiny = Config::from_toml("[cache]\nmax_bytes = 1024\n").expect("valid toml");
        assert!(tiny.cache_policy().is_err());
    }

    #[test]
    fn example_config_is_valid() {
        let c = Config::from_file(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/zones/tern.toml"
        )))
        .expect("zones/tern.toml parses");
        c.server_limits().expect("server limits in range");
        c.cache_policy().expect("cache policy in range");
        c.resolver_config().expect("resolver limits in range");
        c.acl().expect("allow list parses");
        c.snoop_acl().expect("snoop list parses");
        assert!(c.zones[0].file.ends_with("zones/cluster.test.zone"));
        let services = c.services().expect("services are valid");
        assert_eq!(services[0].service.instances.len(), 2);
        assert_eq!(services[0].checks.len(), 2);
    }

    #[test]
    fn update_keys_must_name_a_known_key() {
        let dir = std::env::temp_dir().join(format!("tern-config-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let key = "key \"cluster-key\" {\n\talgorithm hmac-sha256;\n\tsecret \"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\";\n};\n";
        std::fs::write(dir.join("k.key"), key).expect("key file");
        let config = |zone_extra: &str| {
            let text = format!(
                "[[tsig_key]]\nfile = \"k.key\"\n[[zone]]\norigin = \"c.test.\"\nfile = \"c.zone\"\n{zone_extra}"
            );
            std::fs::write(dir.join("tern.toml"), text).expect("config");
            Config::from_file(&dir.join("tern.toml")).expect("parses")
        };
        let c = config("update_keys = [\"Cluster-Key\"]\n");
        assert_eq!(c.zones[0].journal_path(), Some(dir.join("c.zone.jnl")));
        let policy = c.update_policy().expect("valid");
        assert_eq!(policy.keyring.len(), 1);
        let cluster = Name::from_ascii("c.test.").expect("name");
        let key_name = Name::from_ascii("cluster-key.").expect("name");
        assert_eq!(policy.zones, vec![(cluster, vec![key_name])]);

        let unknown = config("update_keys = [\"other-key\"]\n").update_policy();
        assert!(unknown.is_err_and(|e| {
            e.to_string()
                .contains("other-key is in no [[tsig_key]] file")
        }));
        let orphan = config("journal = \"x.jnl\"\n").update_policy();
        assert!(orphan.is_err_and(|e| e.to_string().contains("journal without update_keys")));
        let none = config("").update_policy().expect("valid");
        assert!(none.zones.is_empty());
        assert_eq!(config("").zones[0].journal_path(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_services_are_refused_with_a_reason() {
        let base = "[[zone]]\norigin = \"c.test.\"\nfile = \"c.zone\"\n[[service]]\nzone = \"c.test.\"\nname = \"web\"\n";
        let with = |extra: &str| {
            Config::from_toml(&format!("{base}{extra}"))
                .expect("valid toml")
                .services()
                .map(|s| s.len())
                .map_err(|e| e.to_string())
        };
        assert_eq!(with(""), Ok(1));
        assert!(
            with("balance = \"fastest\"\n")
                .unwrap_err()
                .contains("fastest")
        );
        assert!(with("protocol = \"sctp\"\n").unwrap_err().contains("sctp"));
        let inst = "[[service.instance]]\nname = \"w1\"\naddress = \"127.0.0.1\"\nport = 80\n";
        assert!(
            with(&format!("{inst}check = {{ tcp = \"nowhere\" }}\n"))
                .unwrap_err()
                .contains("nowhere")
        );
        assert!(
            with(&format!("{inst}check = {{}}\n"))
                .unwrap_err()
                .contains("exactly one")
        );
        assert!(
            with(&format!("{inst}{inst}"))
                .unwrap_err()
                .contains("twice")
        );
        let stub =
            Config::from_toml("[[stub]]\nzone = \"c.test.\"\nservers = [\"127.0.0.9:5353\"]\n")
                .expect("valid toml")
                .resolver_config()
                .expect("valid stub");
        assert_eq!(stub.stubs[0].servers[0].port(), 5353);
        let empty =
            Config::from_toml("[[stub]]\nzone = \"c.test.\"\nservers = []\n").expect("valid toml");
        assert!(empty.resolver_config().is_err(), "a stub needs servers");
        let elsewhere = Config::from_toml("[[service]]\nzone = \"x.test.\"\nname = \"web\"\n")
            .expect("valid toml")
            .services()
            .expect_err("zone not served");
        assert!(elsewhere.to_string().contains("not served"), "{elsewhere}");
    }
}

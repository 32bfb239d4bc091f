//! The TOML configuration. Every number is a [`Limit`](crate::limits::Limit) with a default and
//! bounds; relative paths resolve against the folder of the config file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use hickory_proto::rr::Name;

use crate::acl::{Acl, Cidr};
use crate::handler::ServerCookies;
use crate::handler::cookie::CookieSecret;
use crate::limits::{
    EDNS_UDP_PAYLOAD, TCP_IDLE_TIMEOUT_MS, TCP_IPV4_PREFIX, TCP_IPV6_PREFIX, TCP_MAX_CONNECTIONS,
    TCP_MAX_CONNECTIONS_PER_PREFIX, TCP_PIPELINE_DEPTH, UDP_BUSY_POLL_US, UDP_MAX_IN_FLIGHT,
    UDP_RCVBUF, UDP_THREADS,
};
use keyed::bounded;

mod cache;
mod control;
mod forward;
mod keyed;
mod observe;
mod ratelimit;
mod resolver;
mod services;
mod tls;
mod zones;

pub(crate) use cache::CacheConfig;
pub use forward::ForwardConfig;

pub(crate) use control::ControlConfig;
pub(crate) use observe::{LogConfig, MetricsConfig};
pub(crate) use ratelimit::{RateLimitConfig, RrlConfig};
pub(crate) use services::ServiceConfig;
pub(crate) use tls::TlsConfig;
pub use zones::ZoneConfig;
pub(crate) use zones::{PrimaryZone, Replication, SecondaryZone, TsigKeyConfig, UpdatePolicy};

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
    /// A value that parses but is not allowed, at its whole key (`server.edns_udp_payload`,
    /// `forward[1].servers`).
    #[error("{key}: {reason}")]
    Value { key: String, reason: String },
    /// A value error found while loading a file: its path, the key's line when the text
    /// names it, and the key (empty for the few checks that have none yet).
    #[error("{}: {}{reason}", keyed::place(path, *line), if key.is_empty() { String::new() } else { format!("{key}: ") })]
    At {
        path: PathBuf,
        line: Option<usize>,
        key: String,
        reason: String,
    },
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
    /// DNSSEC validation of recursive answers.
    #[serde(default)]
    pub dnssec: DnssecConfig,
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
    /// Zones the resolver forwards to recursive resolvers (RD=1).
    #[serde(default, rename = "forward")]
    pub forwards: Vec<ForwardConfig>,
    /// TSIG key files (RFC 8945), for signed dynamic updates.
    #[serde(default, rename = "tsig_key")]
    pub tsig_keys: Vec<TsigKeyConfig>,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub log: LogConfig,
    /// The `tern ctl` socket.
    #[serde(default)]
    pub control: ControlConfig,
    /// Per-client query rate limit for recursion.
    #[serde(default)]
    pub(crate) rate_limit: RateLimitConfig,
    /// Response Rate Limiting of authoritative answers.
    #[serde(default)]
    pub(crate) rrl: RrlConfig,
    /// DNS over TLS for clients.
    #[serde(default)]
    pub tls: TlsConfig,
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
    /// Send DNS Cookies (RFC 7873) in queries to upstream servers and learn theirs (default
    /// true, as BIND's `send-cookie`).
    pub upstream_cookies: Option<bool>,
    /// Answer `localhost.`, `invalid.`, `home.arpa.` and the private reverse zones here
    /// (RFC 6761, 6303, 8375; default true). A `[[zone]]` of one of those origins replaces
    /// just that one.
    pub default_local_zones: Option<bool>,
    /// Tries per upstream server and question that may fail outright (a transport error)
    /// before the server is left (Unbound's `outbound-msg-retry`; default 5, 1 to 10).
    pub outbound_msg_retry: Option<u32>,
}

/// `[dnssec]`: validation of recursive answers (RFC 4033–4035). On by default when tern walks
/// the built-in root hints (with the IANA root anchors compiled in); with custom root hints,
/// only when `trust_anchor` is given.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnssecConfig {
    /// `false` switches validation off (default: on wherever there is an anchor).
    pub validate: Option<bool>,
    /// A file of DS or DNSKEY records in zone-file form (Unbound's `trust-anchor-file`);
    /// replaces the compiled-in root anchors.
    pub trust_anchor: Option<PathBuf>,
    /// RFC 7646 negative trust anchors: names at and below them are treated as insecure.
    #[serde(default)]
    pub negative_trust_anchors: Vec<String>,
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
    pub client_timeout_ms: Option<u64>,
    /// Client questions resolved at once (Unbound's `num-queries-per-thread`, but for every
    /// thread together); past it a new one is dropped unanswered, or pushes out one running
    /// longer than `jostle_timeout_ms`. Unset or 0: no limit.
    pub max_client_queries: Option<usize>,
    pub jostle_timeout_ms: Option<u64>,
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
    /// Connections one client prefix may hold; past it its own idle-longest is closed.
    pub tcp_max_connections_per_prefix: Option<usize>,
    /// The prefix lengths that make a client's network for that cap (/24 and /56).
    pub tcp_ipv4_prefix: Option<u8>,
    pub tcp_ipv6_prefix: Option<u8>,
    pub tcp_pipeline_depth: Option<usize>,
    pub udp_max_in_flight: Option<usize>,
    pub udp_rcvbuf: Option<usize>,
    /// UDP sockets (each with its receive thread) per listen address; 0 or unset: one per core.
    pub threads: Option<usize>,
    /// `threads`' first name, still read; both at once is a config error.
    workers: Option<usize>,
    /// `SO_BUSY_POLL` on the UDP sockets, in µs (`UDP_BUSY_POLL_US`); unset or 0: off.
    pub busy_poll_us: Option<u32>,
    /// What `CH TXT id.server` / `hostname.bind` answer (RFC 4892); default the host name,
    /// "" hides it (REFUSED).
    pub identity: Option<String>,
    /// What `CH TXT version.bind` / `version.server` answer; unset (the default): REFUSED.
    pub version: Option<String>,
    /// Answer only from local zones; everything else gets REFUSED.
    #[serde(default)]
    pub no_recursion: bool,
    /// Positive recursive answers carry only the answer (unset or true, Unbound's default
    /// `minimal-responses: yes`); false adds the zone's NS set and its servers' addresses
    /// from the cache, as `minimal-responses: no`.
    minimal_responses: Option<bool>,
    /// The DNS cookie secret (RFC 9018 §4.4), 32 hex digits, shared by every server behind one
    /// address so each accepts the others' cookies; unset: a random one, rotated daily.
    pub(crate) cookie_secret: Option<CookieSecret>,
    /// The secret before `cookie_secret`, still accepted while a fleet rolls over (RFC 9018
    /// §5); cookies are made with `cookie_secret` only.
    pub(crate) cookie_secret_previous: Option<CookieSecret>,
}

impl ServerConfig {
    /// `threads`, or `workers` as it was called before; not both.
    fn threads(&self) -> Result<Option<usize>, ConfigError> {
        match (self.threads, self.workers) {
            (Some(_), Some(_)) => Err(keyed::invalid(
                "server.threads",
                "threads and workers are one setting (workers is its old name): give one",
            )),
            (threads, workers) => Ok(threads.or(workers)),
        }
    }

    /// The key `threads` was given under, for its errors.
    fn threads_key(&self) -> &'static str {
        match (self.threads, self.workers) {
            (None, Some(_)) => "server.workers",
            _ => "server.threads",
        }
    }

    /// `minimal_responses`, true unless set to false.
    pub fn minimal_responses(&self) -> bool {
        self.minimal_responses != Some(false)
    }
}

/// Listener limits after bounds checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    pub edns_udp_payload: u16,
    pub tcp_idle_timeout_ms: u64,
    pub tcp_max_connections: usize,
    pub tcp_max_connections_per_prefix: usize,
    pub tcp_ipv4_prefix: u8,
    pub tcp_ipv6_prefix: u8,
    pub tcp_pipeline_depth: usize,
    pub udp_max_in_flight: usize,
    pub udp_rcvbuf: usize,
    /// UDP sockets per listen address (0 resolved to the cores available).
    pub threads: usize,
    pub udp_busy_poll_us: u32,
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
        // Before the paths are resolved: no check reads them, and an error here is reported
        // at the key's line in this text.
        config.check().map_err(|e| keyed::locate(e, path, &text))?;
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
        if let Some(p) = &mut config.cache.persist
            && p.is_relative()
        {
            *p = base.join(&*p);
        }
        if let Some(a) = &mut config.dnssec.trust_anchor
            && a.is_relative()
        {
            *a = base.join(&*a);
        }
        config.log.resolve(base);
        config.tls.resolve(base);
        config.forwards.iter_mut().for_each(|f| f.resolve(base));
        if let Some(s) = &mut config.control.socket
            && s.is_relative()
        {
            *s = base.join(&*s);
        }
        Ok(config)
    }

    pub(crate) fn from_toml(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    /// Bounds-checked listener limits.
    pub fn server_limits(&self) -> Result<ServerLimits, ConfigError> {
        let s = &self.server;
        Ok(ServerLimits {
            edns_udp_payload: bounded(
                "server.edns_udp_payload",
                &EDNS_UDP_PAYLOAD,
                s.edns_udp_payload,
            )?,
            tcp_idle_timeout_ms: bounded(
                "server.tcp_idle_timeout_ms",
                &TCP_IDLE_TIMEOUT_MS,
                s.tcp_idle_timeout_ms,
            )?,
            tcp_max_connections: bounded(
                "server.tcp_max_connections",
                &TCP_MAX_CONNECTIONS,
                s.tcp_max_connections,
            )?,
            tcp_max_connections_per_prefix: bounded(
                "server.tcp_max_connections_per_prefix",
                &TCP_MAX_CONNECTIONS_PER_PREFIX,
                s.tcp_max_connections_per_prefix,
            )?,
            tcp_ipv4_prefix: bounded(
                "server.tcp_ipv4_prefix",
                &TCP_IPV4_PREFIX,
                s.tcp_ipv4_prefix,
            )?,
            tcp_ipv6_prefix: bounded(
                "server.tcp_ipv6_prefix",
                &TCP_IPV6_PREFIX,
                s.tcp_ipv6_prefix,
            )?,
            tcp_pipeline_depth: bounded(
                "server.tcp_pipeline_depth",
                &TCP_PIPELINE_DEPTH,
                s.tcp_pipeline_depth,
            )?,
            udp_max_in_flight: bounded(
                "server.udp_max_in_flight",
                &UDP_MAX_IN_FLIGHT,
                s.udp_max_in_flight,
            )?,
            udp_rcvbuf: bounded("server.udp_rcvbuf", &UDP_RCVBUF, s.udp_rcvbuf)?,
            threads: match bounded(s.threads_key(), &UDP_THREADS, s.threads()?)? {
                0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
                n => n,
            },
            udp_busy_poll_us: bounded("server.busy_poll_us", &UDP_BUSY_POLL_US, s.busy_poll_us)?,
        })
    }
}

impl Config {
    /// `[recursion] upstream_cookies`, default on.
    pub(crate) fn upstream_cookies(&self) -> bool {
        self.recursion.upstream_cookies.unwrap_or(true)
    }

    /// The values checked as the file is loaded, so that a bad one is reported at its line:
    /// everything that needs neither other files nor the command line's additions (services
    /// may be in zones given with `--zone`; TLS and `ca` files are read at the start).
    fn check(&self) -> Result<(), ConfigError> {
        self.server_limits()?;
        self.resolver_config_with(false)?;
        self.acl()?;
        self.snoop_acl()?;
        self.metrics.acl()?;
        self.cache_policy()?;
        self.cache_persist()?;
        self.server_cookies()?;
        self.query_limit()?;
        self.rrl()?;
        Ok(())
    }

    pub(crate) fn acl(&self) -> Result<Acl, ConfigError> {
        match &self.recursion.allow {
            None => Ok(Acl::loopback()),
            Some(list) => cidrs("recursion.allow", list),
        }
    }

    /// Who may send RD=0 questions answered from the cache (nobody unless configured).
    pub(crate) fn snoop_acl(&self) -> Result<Acl, ConfigError> {
        cidrs(
            "recursion.allow_snoop",
            self.recursion.allow_snoop.as_deref().unwrap_or_default(),
        )
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

/// `s` as a name, a bad one reported at `key`.
fn parse_name_at(key: &str, s: &str) -> Result<Name, ConfigError> {
    parse_name(s).map_err(|e| keyed::invalid(key, e))
}

/// `s` as a CIDR, a bad one reported at `key`.
fn cidr_at(key: &str, s: &str) -> Result<Cidr, ConfigError> {
    s.parse::<Cidr>().map_err(|e| keyed::invalid(key, e))
}

/// The CIDRs of the list at `key`, a bad one reported at its index.
fn cidrs(key: &str, list: &[String]) -> Result<Acl, ConfigError> {
    list.iter()
        .enumerate()
        .map(|(i, s)| cidr_at(&format!("{key}[{i}]"), s))
        .collect::<Result<Vec<_>, _>>()
        .map(Acl::new)
}

impl Config {
    /// The secrets server cookies are made with (`[server] cookie_secret`, and the previous one
    /// during a roll-over), else a random one.
    pub(crate) fn server_cookies(&self) -> Result<ServerCookies, ConfigError> {
        match (
            self.server.cookie_secret,
            self.server.cookie_secret_previous,
        ) {
            (Some(current), previous) => Ok(ServerCookies::fixed(current, previous)),
            (None, Some(_)) => Err(keyed::invalid(
                "server.cookie_secret_previous",
                "cookie_secret_previous needs cookie_secret",
            )),
            (None, None) => Ok(ServerCookies::random()),
        }
    }

    /// The identity CHAOS TXT queries get (RFC 4892): the configured one, else the host name;
    /// an empty string hides it.
    pub(crate) fn identity(&self) -> crate::handler::Identity {
        let mut identity = crate::handler::Identity::from_host();
        if let Some(id) = &self.server.identity {
            identity.id = Some(id.clone()).filter(|id| !id.is_empty());
        }
        identity.version = self.server.version.clone().filter(|v| !v.is_empty());
        identity
    }
}

#[cfg(test)]
mod notify_key_review;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod value_errors_review;

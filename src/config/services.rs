//! `[[service]]` and `[[service.instance]]`: services registered from the configuration.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::rr::Name;
use serde::Deserialize;

use super::{Config, ConfigError, parse_name};
use crate::authority::balance::Policy;
use crate::discovery::health::{Check, CheckSpec, HttpCheck};
use crate::discovery::registry::Registration;
use crate::discovery::service::{DEFAULT_TTL, Instance, Protocol, Service};

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
    pub(crate) rise: Option<u32>,
    pub fall: Option<u32>,
}

impl Config {
    /// The `[[service]]` tables as registrations, checked: each in a zone served here, with
    /// valid names, a known balance policy and health checks within their bounds.
    pub(crate) fn services(&self) -> Result<Vec<Registration>, ConfigError> {
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

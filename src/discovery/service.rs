//! A service and its instances, validated, and the DNS records they make (the Consul and
//! CoreDNS conventions, with RFC 2782 SRV):
//!
//! - `NAME.ZONE` A/AAAA: the addresses of the healthy instances;
//! - `_NAME._PROTO.ZONE` SRV: priority, weight, port and target of each healthy instance;
//! - `INSTANCE.NAME.ZONE` A/AAAA: every instance's own address, healthy or not, so an SRV
//!   target always resolves and an operator can reach a failing node by name.
//!
//! When no instance is healthy the service fails open: it answers with all of them, because
//! an empty answer would take the whole service down on a broken check.

use std::net::IpAddr;

use hickory_proto::rr::rdata::{A, AAAA, SRV};
use hickory_proto::rr::{Name, RData, Record};

use crate::authority::store::Owned;
use crate::limits::SERVICE_TTL;

/// TTL of service records when the configuration gives none (see [`SERVICE_TTL`]).
pub(crate) const DEFAULT_TTL: u32 = SERVICE_TTL.default;

/// The SRV protocol label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    fn label(self) -> &'static str {
        match self {
            Protocol::Tcp => "_tcp",
            Protocol::Udp => "_udp",
        }
    }
}

/// One instance of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub name: String,
    pub address: IpAddr,
    pub port: u16,
    /// RFC 2782 weight.
    pub weight: u16,
    /// RFC 2782 priority.
    pub priority: u16,
}

/// A service in one zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub zone: Name,
    pub name: String,
    pub protocol: Protocol,
    pub ttl: u32,
    pub instances: Vec<Instance>,
}

/// Why a service definition cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    #[error("service {service}: {name:?} is not a usable DNS label")]
    BadLabel { service: String, name: String },
    #[error("service {service}: protocol must be tcp or udp, not {protocol:?}")]
    BadProtocol { service: String, protocol: String },
    #[error("service {service}: instance {instance} appears twice")]
    DuplicateInstance { service: String, instance: String },
    #[error(
        "service {service}: {name}.{zone} would be longer than a domain name may be (255 octets)"
    )]
    TooLong {
        service: String,
        name: String,
        zone: String,
    },
    #[error("service {service}: {reason}")]
    BadTtl { service: String, reason: String },
    #[error("service {service}: zone {zone:?} is not a domain name: {reason}")]
    BadZone {
        service: String,
        zone: String,
        reason: String,
    },
}

/// A name one label long that a service or instance can be called by: letters, digits and
/// hyphens (RFC 952/1123 host names), at most 63 bytes.
fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

impl Protocol {
    pub(crate) fn parse(service: &str, protocol: Option<&str>) -> Result<Protocol, ServiceError> {
        match protocol.map(str::to_ascii_lowercase).as_deref() {
            None | Some("tcp") => Ok(Protocol::Tcp),
            Some("udp") => Ok(Protocol::Udp),
            Some(other) => Err(ServiceError::BadProtocol {
                service: service.to_string(),
                protocol: other.to_string(),
            }),
        }
    }
}

impl Instance {
    /// An instance with RFC 2782 weight 1 and priority 0.
    pub fn new(name: &str, address: IpAddr, port: u16) -> Instance {
        Instance {
            name: name.to_string(),
            address,
            port,
            weight: 1,
            priority: 0,
        }
    }
}

impl Service {
    /// A TCP service with no instances yet and the default TTL.
    pub fn new(zone: &str, name: &str) -> Result<Service, ServiceError> {
        let mut origin = Name::from_ascii(zone).map_err(|e| ServiceError::BadZone {
            service: name.to_string(),
            zone: zone.to_string(),
            reason: e.to_string(),
        })?;
        origin.set_fqdn(true);
        let service = Service {
            zone: origin,
            name: name.to_string(),
            protocol: Protocol::Tcp,
            ttl: DEFAULT_TTL,
            instances: Vec::new(),
        };
        service.validate()?;
        Ok(service)
    }

    /// Checks the names: the service's and each instance's must be host-name labels, and no
    /// instance name may repeat.
    pub(crate) fn validate(&self) -> Result<(), ServiceError> {
        let bad = |name: &str| ServiceError::BadLabel {
            service: self.name.clone(),
            name: name.to_string(),
        };
        if !valid_label(&self.name) {
            return Err(bad(&self.name));
        }
        SERVICE_TTL
            .check(Some(self.ttl))
            .map_err(|reason| ServiceError::BadTtl {
                service: self.name.clone(),
                reason,
            })?;
        let fits = |labels: &[&str]| {
            self.try_child(labels)
                .map(drop)
                .map_err(|_| ServiceError::TooLong {
                    service: self.name.clone(),
                    name: labels.join("."),
                    zone: self.zone.to_ascii(),
                })
        };
        // The longest of the service's own names; each instance's is checked below.
        fits(&[&format!("_{}", self.name), self.protocol.label()])?;
        let mut seen: Vec<String> = Vec::new();
        for i in &self.instances {
            if !valid_label(&i.name) {
                return Err(bad(&i.name));
            }
            fits(&[&i.name, &self.name])?;
            let lower = i.name.to_ascii_lowercase();
            if seen.contains(&lower) {
                return Err(ServiceError::DuplicateInstance {
                    service: self.name.clone(),
                    instance: i.name.clone(),
                });
            }
            seen.push(lower);
        }
        Ok(())
    }

    fn try_child(&self, labels: &[&str]) -> Result<Name, hickory_proto::ProtoError> {
        let mut name = self.zone.clone();
        for label in labels.iter().rev() {
            name = name.prepend_label(*label)?;
        }
        Ok(name)
    }

    fn child(&self, labels: &[&str]) -> Name {
        // `validate` checked that every name of the service can be made (labels, lengths);
        // the fallback is for a service used unvalidated, and is no name of the service.
        self.try_child(labels).unwrap_or_else(|_| self.zone.clone())
    }

    /// `NAME.ZONE`: the addresses of the service.
    pub(crate) fn host(&self) -> Name {
        self.child(&[&self.name])
    }

    /// `_NAME._PROTO.ZONE`: the SRV RRset.
    pub(crate) fn srv_name(&self) -> Name {
        let service = format!("_{}", self.name);
        self.child(&[&service, self.protocol.label()])
    }

    /// `INSTANCE.NAME.ZONE`: one instance's address, and its SRV target.
    pub(crate) fn instance_name(&self, instance: &Instance) -> Name {
        self.child(&[&instance.name, &self.name])
    }

    /// The key the store files this service's records under.
    pub(crate) fn source(&self) -> String {
        format!("service {}", self.host())
    }

    /// Whether the service answers with every instance because none is healthy.
    pub(crate) fn fails_open(&self, healthy: &dyn Fn(&Instance) -> bool) -> bool {
        !self.instances.is_empty() && !self.instances.iter().any(healthy)
    }

    /// The service's records given which instances are healthy; `true` with them when the
    /// service failed open (no instance healthy, so all are listed).
    pub(crate) fn records(&self, healthy: &dyn Fn(&Instance) -> bool) -> (Owned, bool) {
        let mut listed: Vec<&Instance> = self.instances.iter().filter(|i| healthy(i)).collect();
        let failed_open = self.fails_open(healthy);
        if failed_open {
            listed = self.instances.iter().collect();
        }
        let mut records = Vec::new();
        let host = self.host();
        let mut addresses: Vec<IpAddr> = Vec::new();
        for i in &listed {
            if !addresses.contains(&i.address) {
                addresses.push(i.address);
                records.push(address_record(&host, i.address, self.ttl));
            }
            records.push(Record::from_rdata(
                self.srv_name(),
                self.ttl,
                RData::SRV(SRV::new(
                    i.priority,
                    i.weight,
                    i.port,
                    self.instance_name(i),
                )),
            ));
        }
        let mut names = vec![host, self.srv_name()];
        for i in &self.instances {
            let name = self.instance_name(i);
            records.push(address_record(&name, i.address, self.ttl));
            names.push(name);
        }
        (Owned { names, records }, failed_open)
    }
}

fn address_record(owner: &Name, address: IpAddr, ttl: u32) -> Record {
    let data = match address {
        IpAddr::V4(v4) => RData::A(A(v4)),
        IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
    };
    Record::from_rdata(owner.clone(), ttl, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web() -> Service {
        let instance = |name: &str, last: u8, weight| Instance {
            name: name.to_string(),
            address: IpAddr::from([127, 0, 0, last]),
            port: 8080,
            weight,
            priority: 0,
        };
        Service {
            zone: Name::from_ascii("cluster.test.").expect("name"),
            name: "web".to_string(),
            protocol: Protocol::Tcp,
            ttl: 5,
            instances: vec![instance("web-1", 1, 10), instance("web-2", 2, 1)],
        }
    }

    fn lines(owned: &Owned) -> Vec<String> {
        let mut v: Vec<String> = owned
            .records
            .iter()
            .map(|r| format!("{} {} {} {}", r.name, r.ttl, r.record_type(), r.data))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn healthy_instances_make_the_address_and_srv_records() {
        let s = web();
        s.validate().expect("valid");
        let (owned, failed_open) = s.records(&|i| i.name == "web-1");
        assert!(!failed_open);
        assert_eq!(
            lines(&owned),
            [
                "_web._tcp.cluster.test. 5 SRV 0 10 8080 web-1.web.cluster.test.",
                "web-1.web.cluster.test. 5 A 127.0.0.1",
                "web-2.web.cluster.test. 5 A 127.0.0.2",
                "web.cluster.test. 5 A 127.0.0.1",
            ]
        );
        assert_eq!(
            owned.names.len(),
            4,
            "every name is the service's, listed or not"
        );
    }

    #[test]
    fn no_healthy_instance_fails_open() {
        let (owned, failed_open) = web().records(&|_| false);
        assert!(failed_open);
        assert_eq!(
            owned
                .records
                .iter()
                .filter(|r| r.name == web().host())
                .count(),
            2
        );
    }

    #[test]
    fn names_are_checked() {
        let mut s = web();
        s.instances[1].name = "web-1".to_string();
        assert!(matches!(
            s.validate(),
            Err(ServiceError::DuplicateInstance { .. })
        ));
        s.name = "we b".to_string();
        assert!(matches!(s.validate(), Err(ServiceError::BadLabel { .. })));
        assert!(Protocol::parse("web", Some("sctp")).is_err());
        assert_eq!(Protocol::parse("web", Some("UDP")), Ok(Protocol::Udp));
    }
}

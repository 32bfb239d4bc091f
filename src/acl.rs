//! Who may use recursion: clients inside the `allow` CIDRs. The default is loopback only, so
//! tern is never an open resolver unless configured to be. And who may transfer a zone.

use std::net::IpAddr;
use std::str::FromStr;

use hickory_proto::rr::Name;

/// One address block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// A CIDR that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad CIDR {0:?} (expected ADDR/PREFIX, e.g. 127.0.0.0/8)")]
pub struct BadCidr(pub String);

impl FromStr for Cidr {
    type Err = BadCidr;

    fn from_str(s: &str) -> Result<Cidr, BadCidr> {
        let bad = || BadCidr(s.to_string());
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (
                a.parse::<IpAddr>().map_err(|_| bad())?,
                p.parse::<u8>().map_err(|_| bad())?,
            ),
            None => {
                let a = s.parse::<IpAddr>().map_err(|_| bad())?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(bad());
        }
        Ok(Cidr { addr, prefix })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        // IPv4-mapped IPv6 clients match IPv4 blocks.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An allow list (empty by default: allows nobody).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acl(Vec<Cidr>);

impl Acl {
    pub fn new(blocks: Vec<Cidr>) -> Acl {
        Acl(blocks)
    }

    /// Loopback only: 127.0.0.0/8 and ::1.
    pub fn loopback() -> Acl {
        Acl(vec![
            Cidr {
                addr: IpAddr::from([127, 0, 0, 0]),
                prefix: 8,
            },
            Cidr {
                addr: IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
                prefix: 128,
            },
        ])
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }
}

/// Who may transfer a zone (AXFR/IXFR): a client address in `cidrs`, or a request validly
/// signed with one of `keys` (BIND's `allow-transfer { ADDR; key NAME; }`). Nobody by default.
#[derive(Debug, Clone, Default)]
pub struct TransferAcl {
    pub cidrs: Acl,
    pub keys: Vec<Name>,
}

impl TransferAcl {
    /// `key`: the key that validly signed the request, if any.
    pub fn allows(&self, client: IpAddr, key: Option<&Name>) -> bool {
        self.cidrs.allows(client) || key.is_some_and(|k| self.keys.contains(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_prefixes() {
        let c: Cidr = "10.1.0.0/16".parse().expect("valid");
        assert!(c.contains("10.1.200.3".parse().expect("ip")));
        assert!(!c.contains("10.2.0.1".parse().expect("ip")));
        assert!(c.contains("::ffff:10.1.0.9".parse().expect("ip")));
        let all: Cidr = "0.0.0.0/0".parse().expect("valid");
        assert!(all.contains("192.0.2.1".parse().expect("ip")));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!(Acl::loopback().allows("::1".parse().expect("ip")));
        assert!(!Acl::loopback().allows("192.0.2.1".parse().expect("ip")));
    }
}

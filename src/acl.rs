//! Who may use recursion: clients inside the `allow` CIDRs. The default is loopback only, so
//! tern is never an open resolver unless configured to be. And who may transfer a zone.

use std::net::IpAddr;
use std::str::FromStr;

use hickory_proto::rr::Name;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// One address block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// ipnet's network and netmask as bits of one width (IPv4 in the low 32), worked out
    /// once: the recursion ACL is read on every hit of the hit path, where ipnet's own
    /// `contains` (two calls into the crate, each working out its mask) cost a tenth of a hit.
    v6: bool,
    network: u128,
    mask: u128,
}

/// A CIDR that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad CIDR {0:?} (expected ADDR/PREFIX, e.g. 127.0.0.0/8)")]
pub struct BadCidr(pub(crate) String);

impl FromStr for Cidr {
    type Err = BadCidr;

    /// `ADDR/PREFIX`, or a single address (a /32 or /128).
    fn from_str(s: &str) -> Result<Cidr, BadCidr> {
        s.parse::<IpNet>()
            .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
            .map(Cidr::from)
            .map_err(|_| BadCidr(s.to_string()))
    }
}

impl From<IpNet> for Cidr {
    fn from(net: IpNet) -> Cidr {
        let net = canonical(net);
        let (v6, network) = bits(net.network());
        Cidr {
            v6,
            network,
            mask: bits(net.netmask()).1,
        }
    }
}

impl Cidr {
    /// Whether `ip` is in the block; an IPv4-mapped IPv6 client (`::ffff:192.0.2.1`, a
    /// dual-stack socket's view of an IPv4 peer) matches IPv4 blocks.
    /// (`ip` already in [`bits`] form: [`Acl::allows`] works it out once for every block.)
    #[inline]
    fn holds(&self, v6: bool, ip: u128) -> bool {
        v6 == self.v6 && ip & self.mask == self.network
    }
}

/// An address as (is IPv6, its bits), IPv4 in the low 32.
#[inline]
fn bits(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(v4) => (false, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (true, u128::from(v6)),
    }
}

/// Whether `net` holds `ip`, as [`Cidr::contains`] matches (for blocks kept as ipnet's).
pub(crate) fn contains(net: &IpNet, ip: IpAddr) -> bool {
    canonical(*net).contains(&ip.to_canonical())
}

/// A block inside `::ffff:0:0/96` as the IPv4 block it names: clients are matched in
/// canonical form (a mapped client is IPv4), so a block written as a dual-stack listener logs
/// its clients must be too, or it would match nobody.
fn canonical(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => v6
            .network()
            .to_ipv4_mapped()
            .and_then(|v4| Ipv4Net::new(v4, v6.prefix_len() - 96).ok())
            .map_or(net, IpNet::V4),
        _ => net,
    }
}

/// The first `ipv4` or `ipv6` bits of `ip` (the rest zero), as (is IPv6, the bits): the
/// network a client is counted by. An IPv4-mapped address is IPv4; a longer prefix than the
/// address has means the whole address.
pub(crate) fn network(ip: IpAddr, ipv4: u8, ipv6: u8) -> (bool, u128) {
    bits(match ip.to_canonical() {
        IpAddr::V4(v4) => Ipv4Net::new(v4, ipv4.min(32))
            .map_or(v4, |n| n.network())
            .into(),
        IpAddr::V6(v6) => Ipv6Net::new(v6, ipv6.min(128))
            .map_or(v6, |n| n.network())
            .into(),
    })
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
        let v4 = Ipv4Net::new_assert([127, 0, 0, 0].into(), 8);
        let v6 = Ipv6Net::new_assert(std::net::Ipv6Addr::LOCALHOST, 128);
        Acl(vec![
            Cidr::from(IpNet::from(v4)),
            Cidr::from(IpNet::from(v6)),
        ])
    }

    #[inline]
    pub(crate) fn allows(&self, ip: IpAddr) -> bool {
        // The client's form worked out once, not per block: this runs on every hit.
        let (v6, ip) = bits(ip.to_canonical());
        self.0.iter().any(|c| c.holds(v6, ip))
    }
}

/// Who may transfer a zone (AXFR/IXFR): a client address in `cidrs`, or a request validly
/// signed with one of `keys` (BIND's `allow-transfer { ADDR; key NAME; }`). Nobody by default.
#[derive(Debug, Clone, Default)]
pub(crate) struct TransferAcl {
    pub cidrs: Acl,
    pub keys: Vec<Name>,
}

impl TransferAcl {
    /// `key`: the key that validly signed the request, if any.
    pub(crate) fn allows(&self, client: IpAddr, key: Option<&Name>) -> bool {
        self.cidrs.allows(client) || key.is_some_and(|k| self.keys.contains(k))
    }
}

#[cfg(test)]
mod mapped_review;

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the block `c` holds `ip`, as an ACL of that one block decides.
    fn holds(c: Cidr, ip: &str) -> bool {
        Acl::new(vec![c]).allows(ip.parse().expect("ip"))
    }

    #[test]
    fn matches_prefixes() {
        let c: Cidr = "10.1.0.0/16".parse().expect("valid");
        assert!(holds(c, "10.1.200.3"));
        assert!(!holds(c, "10.2.0.1"));
        assert!(holds(c, "::ffff:10.1.0.9"));
        let all: Cidr = "0.0.0.0/0".parse().expect("valid");
        assert!(holds(all, "192.0.2.1"));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("10.0.0.0/x".parse::<Cidr>().is_err());
        let one: Cidr = "192.0.2.7".parse().expect("an address is a /32");
        assert!(holds(one, "192.0.2.7"));
        assert!(!holds(one, "192.0.2.8"));
        assert!(Acl::loopback().allows("::1".parse().expect("ip")));
        assert!(Acl::loopback().allows("127.9.9.9".parse().expect("ip")));
        assert!(!Acl::loopback().allows("192.0.2.1".parse().expect("ip")));
        // A mapped client does not match an IPv6 block it is not in, nor ::/0 through IPv4.
        let v6: Cidr = "2001:db8::/32".parse().expect("valid");
        assert!(!holds(v6, "::ffff:10.1.0.9"));
    }

    #[test]
    fn networks_keep_the_prefix_and_tell_the_families_apart() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(network(ip("192.0.2.200"), 24, 56), (false, 0xC000_0200));
        assert_eq!(
            network(ip("::ffff:192.0.2.9"), 24, 56),
            (false, 0xC000_0200)
        );
        assert_eq!(network(ip("192.0.2.9"), 40, 56), (false, 0xC000_0209));
        assert_eq!(network(ip("192.0.2.9"), 0, 56), (false, 0));
        let (v6, bits) = network(ip("2001:db8:0:ff:1::1"), 24, 56);
        assert!(v6);
        assert_eq!(
            bits,
            u128::from("2001:db8:0::".parse::<std::net::Ipv6Addr>().expect("ip"))
        );
    }
}

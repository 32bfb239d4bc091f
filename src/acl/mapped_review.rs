//! Review: a block written in IPv4-mapped form (`::ffff:192.0.2.0/120`, or the address a
//! dual-stack TCP listener logs, `::ffff:192.0.2.7`) names IPv4 clients. Clients are matched in
//! canonical form (a mapped client is IPv4), so the block must be too, or it matches nobody.

use super::*;
use crate::ratelimit::Exempt;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

#[test]
fn a_mapped_block_in_an_acl_matches_its_ipv4_clients() {
    let block: Cidr = "::ffff:192.0.2.0/120".parse().expect("valid");
    let acl = Acl::new(vec![block]);
    assert!(acl.allows(ip("192.0.2.7")));
    assert!(acl.allows(ip("::ffff:192.0.2.7")));
    assert!(!acl.allows(ip("192.0.3.7")));
    let one = Acl::new(vec!["::ffff:192.0.2.7".parse().expect("valid")]);
    assert!(one.allows(ip("::ffff:192.0.2.7")), "the address as logged");
    assert!(!one.allows(ip("192.0.2.8")));
    // A block wider than the mapped range is not IPv4 (as ::/0 is not).
    let wide = Acl::new(vec!["::/0".parse().expect("valid")]);
    assert!(!wide.allows(ip("192.0.2.7")));
}

#[test]
fn a_mapped_exempt_block_exempts_its_ipv4_clients() {
    let exempt = Exempt(vec!["::ffff:10.0.0.0/104".parse().expect("net")]);
    assert!(exempt.contains(ip("10.1.2.3")));
    assert!(exempt.contains(ip("::ffff:10.1.2.3")));
    assert!(!exempt.contains(ip("11.1.2.3")));
}

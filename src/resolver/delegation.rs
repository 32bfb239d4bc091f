//! A zone cut as the resolver sees it: the zone and the servers (names, and the addresses we
//! know for them) to ask about names inside it.

use std::net::IpAddr;

use hickory_proto::rr::Name;

/// One name server of a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameServer {
    pub name: Name,
    /// Known addresses; empty for a glueless server not yet looked up.
    pub addrs: Vec<IpAddr>,
}

/// The servers for one zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSet {
    pub zone: Name,
    pub servers: Vec<NameServer>,
}

//! Sockets made by hand where tokio's constructors cannot set what is needed before use
//! (SO_REUSEPORT before bind, kernel timestamps before the first datagram), and the addresses
//! the kernel hands back through nix.

use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::OwnedFd;

use nix::sys::socket::{AddressFamily, SockFlag, SockType, SockaddrStorage, socket};

/// A non-blocking, close-on-exec UDP socket of `peer`'s address family, not yet bound.
pub(crate) fn udp_socket_for(peer: SocketAddr) -> nix::Result<OwnedFd> {
    let family = if peer.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    socket(
        family,
        SockType::Datagram,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )
}

/// An IPv4 or IPv6 address as the kernel gave it; `None` for any other family.
pub(crate) fn socket_addr(storage: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = storage.as_sockaddr_in() {
        return Some(SocketAddr::V4(SocketAddrV4::new(v4.ip(), v4.port())));
    }
    let v6 = storage.as_sockaddr_in6()?;
    Some(SocketAddr::V6(SocketAddrV6::new(
        v6.ip(),
        v6.port(),
        v6.flowinfo(),
        v6.scope_id(),
    )))
}

//! Sockets made by hand where tokio's constructors cannot set what is needed before use
//! (SO_REUSEPORT before bind, kernel timestamps before the first datagram).

use std::net::SocketAddr;
use std::os::fd::OwnedFd;

use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};

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

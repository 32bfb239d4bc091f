//! Sockets made by hand where tokio's constructors cannot set what is needed before use
//! (SO_REUSEPORT before bind, kernel timestamps before the first datagram), the addresses
//! the kernel hands back through nix, and what to tell a person whose bind failed.

use std::io;
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

/// A failed bind of `addr` as a person should read it: the OS error, and what usually causes
/// it. Every listener tern binds from its configuration or for the lab reports through this.
pub(crate) fn bind_error(addr: SocketAddr, e: &io::Error) -> String {
    let port = addr.port();
    let hint = match e.kind() {
        io::ErrorKind::AddrInUse => format!(
            "something listens there already: another tern (`tern lab` and `tern resolve \
             --lab` take 127.0.0.11-84:53 and 127.0.0.1:5300) or another DNS server; \
             `ss -lntup 'sport = :{port}'` names it"
        ),
        // Linux lets only root or CAP_NET_BIND_SERVICE bind below 1024
        // (net.ipv4.ip_unprivileged_port_start).
        io::ErrorKind::PermissionDenied if port < 1024 => {
            format!("port {port} needs root or CAP_NET_BIND_SERVICE")
        }
        io::ErrorKind::AddrNotAvailable => "no interface of this machine has that address".into(),
        _ => return format!("{addr}: {e}"),
    };
    format!("{addr}: {e} ({hint})")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: io::ErrorKind, addr: &str) -> String {
        bind_error(addr.parse().expect("addr"), &io::Error::from(kind))
    }

    #[test]
    fn bind_errors_name_their_likely_cause() {
        let in_use = message(io::ErrorKind::AddrInUse, "127.238.0.11:53");
        assert!(in_use.starts_with("127.238.0.11:53: "), "{in_use}");
        assert!(in_use.contains("another tern (`tern lab`"), "{in_use}");
        assert!(in_use.contains("sport = :53"), "{in_use}");
        let denied = message(io::ErrorKind::PermissionDenied, "127.238.0.1:53");
        assert!(
            denied.ends_with("(port 53 needs root or CAP_NET_BIND_SERVICE)"),
            "{denied}"
        );
        // Above 1024 a permission error is something else: no guess.
        let high = message(io::ErrorKind::PermissionDenied, "127.238.0.1:5300");
        assert!(!high.contains("CAP_NET_BIND_SERVICE"), "{high}");
        let other = message(io::ErrorKind::Other, "127.238.0.1:5300");
        assert!(!other.contains('('), "{other}");
    }
}

//! Readiness for systemd's `Type=notify` (sd_notify(3)): one datagram to the Unix socket named
//! by `NOTIFY_SOCKET`, when that is set; nothing otherwise. The protocol is a single
//! `sendto`, so it is written here rather than pulled in as a crate.

use std::os::unix::net::UnixDatagram;

/// Sends `state` (`READY=1`, `STOPPING=1`, ...) to the service manager, if there is one.
pub(super) fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(e) = send(&path, state) {
        tracing::warn!(socket = ?path, error = %e, "cannot notify the service manager");
    }
}

fn send(path: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    let socket = UnixDatagram::unbound()?;
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path);
    // A leading '@' names a socket in the abstract namespace (Linux).
    if let Some(name) = bytes.strip_prefix(b"@") {
        send_abstract(&socket, name, state)?;
    } else {
        socket.send_to(state.as_bytes(), path)?;
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn send_abstract(socket: &UnixDatagram, name: &[u8], state: &str) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    socket.send_to_addr(state.as_bytes(), &addr)?;
    Ok(())
}

/// Abstract sockets are Linux-only; elsewhere there is no systemd to tell.
#[cfg(not(target_os = "linux"))]
fn send_abstract(_socket: &UnixDatagram, _name: &[u8], _state: &str) -> std::io::Result<()> {
    Ok(())
}

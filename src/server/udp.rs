//! UDP listener: one receive loop per socket. Cache hits are answered in the loop itself (the
//! handler's hit path); every other datagram is answered on its own task, so a slow recursive
//! lookup never blocks the cache hits behind it.

use std::sync::Arc;

use nix::sys::socket::{setsockopt, sockopt};
use tokio::net::UdpSocket;
use tokio::sync::Semaphore;
use tracing::{debug, warn};

use super::shutdown::Shutdown;
use crate::handler::{Handler, Transport};
use crate::metrics::Metrics;

/// RFC 6891 §6.2.5 allows requests up to 64 KiB; anything longer is not DNS.
const MAX_DATAGRAM: usize = 65_535;

/// Sizes the socket's receive buffer: past `net.core.rmem_max` when the process may
/// (`CAP_NET_ADMIN`), else as far as the kernel allows. 0 leaves the system default.
pub(super) fn set_receive_buffer(socket: &UdpSocket, bytes: usize) {
    if bytes == 0 {
        return;
    }
    if setsockopt(socket, sockopt::RcvBufForce, &bytes).is_err()
        && let Err(e) = setsockopt(socket, sockopt::RcvBuf, &bytes)
    {
        debug!(error = %e, "udp receive buffer left at the system default");
    }
}

/// Serves one socket; at most `max_in_flight` datagrams are being answered at once.
pub(super) async fn serve(
    socket: Arc<UdpSocket>,
    handler: Arc<Handler>,
    max_in_flight: usize,
    mut shutdown: Shutdown,
) {
    let slots = Arc::new(Semaphore::new(max_in_flight));
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut reply = Vec::with_capacity(4096);
    loop {
        let (len, src) = tokio::select! {
            _ = shutdown.recv() => return,
            r = socket.recv_from(&mut buf) => match r {
                Ok(r) => r,
                Err(e) => {
                    // ICMP errors from earlier sends surface here on some systems; keep serving.
                    debug!(error = %e, "udp receive error");
                    continue;
                }
            },
        };
        // A cache hit is answered here, in the receive loop: no copy of the datagram, no task.
        if handler.answer_fast(&buf[..len], src, &mut reply) {
            if let Err(e) = socket.send_to(&reply, src).await {
                debug!(client = %src, error = %e, "udp send failed");
            }
            continue;
        }
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            // Full: drop rather than queue; the client's retry finds a free slot.
            Metrics::inc(&handler.metrics().dropped);
            debug!(client = %src, "udp in-flight limit reached; datagram dropped");
            continue;
        };
        let packet = buf[..len].to_vec();
        let socket = Arc::clone(&socket);
        let handler = Arc::clone(&handler);
        tokio::spawn(async move {
            if let Some(reply) = handler.handle_bytes(&packet, src, Transport::Udp).await
                && let Err(e) = socket.send_to(&reply, src).await
            {
                warn!(client = %src, error = %e, "udp send failed");
            }
            drop(permit);
        });
    }
}

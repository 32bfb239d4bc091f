//! UDP listener: one receive loop per socket. Cache hits are answered in the loop itself (the
//! handler's hit path); every other datagram is answered on its own task, so a slow recursive
//! lookup never blocks the cache hits behind it.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use nix::sys::socket::{setsockopt, sockopt};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::Semaphore;
use tracing::{debug, warn};

use super::batch::{BATCH, Batch};
use super::shutdown::Shutdown;
use crate::handler::{Handler, Transport};
use crate::metrics::Metrics;

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

/// Serves one socket; at most `max_in_flight` datagrams are being answered at once by the full
/// path. Datagrams are read by the batch; cache hits among them are answered right here and
/// sent by the batch too (no copy, no task); the rest each get a task.
pub(super) async fn serve(
    socket: Arc<UdpSocket>,
    handler: Arc<Handler>,
    max_in_flight: usize,
    mut shutdown: Shutdown,
) {
    let slots = Arc::new(Semaphore::new(max_in_flight));
    let mut batch = Batch::new();
    // The hit path's answers of one batch, buffers reused from batch to batch.
    let mut replies: Vec<(Vec<u8>, SocketAddr)> = Vec::with_capacity(BATCH);
    let mut spare: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(4096)).collect();
    // One shutdown future for the loop's life: making one per wake-up costs as much as a hit.
    let stop = shutdown.recv();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            r = socket.readable() => if let Err(e) = r {
                debug!(error = %e, "udp socket not readable");
                continue;
            },
        }
        // Drain what is waiting, a batch at a time.
        loop {
            match socket.try_io(Interest::READABLE, || batch.receive(&*socket)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    // ICMP errors from earlier sends surface here on some systems; keep serving.
                    debug!(error = %e, "udp receive error");
                    break;
                }
            }
            for (packet, src) in batch.datagrams() {
                let mut reply = spare.pop().unwrap_or_default();
                if handler.answer_fast(packet, src, &mut reply) {
                    // Empty: a rate limit dropped it.
                    if reply.is_empty() {
                        spare.push(reply);
                    } else {
                        replies.push((reply, src));
                    }
                    continue;
                }
                spare.push(reply);
                let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
                    // Full: drop rather than queue; the client's retry finds a free slot.
                    Metrics::inc(&handler.metrics().dropped);
                    debug!(client = %src, "udp in-flight limit reached; datagram dropped");
                    continue;
                };
                let packet = packet.to_vec();
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
            send_all(&socket, &mut batch, &mut replies).await;
            spare.extend(replies.drain(..).map(|(mut bytes, _)| {
                bytes.clear();
                bytes
            }));
            if batch.len() < BATCH {
                break;
            }
        }
    }
}

/// Sends the hit path's answers: by the batch while the socket takes them, then one at a time
/// (waiting for room) for any the batch could not send.
async fn send_all(socket: &UdpSocket, batch: &mut Batch, replies: &mut [(Vec<u8>, SocketAddr)]) {
    let sent = match socket.try_io(Interest::WRITABLE, || batch.send(socket, replies)) {
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
        Err(e) => {
            debug!(error = %e, "udp batch send failed; sending one by one");
            0
        }
    };
    for (reply, to) in replies.iter().skip(sent) {
        if let Err(e) = socket.send_to(reply, *to).await {
            debug!(client = %to, error = %e, "udp send failed");
        }
    }
}

//! UDP listener: one receive thread per socket. The thread blocks in `recvmmsg(2)` (no readiness
//! poll, no runtime wake-up per datagram), answers the cache hits among what it read (the
//! handler's hit path) and sends them with one `sendmmsg(2)`; every other datagram is answered
//! on its own runtime task, so a slow recursive lookup never blocks the cache hits behind it.
//! The socket is not registered with the runtime at all, so the runtime never hears of its
//! traffic.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::sys::socket::{MsgFlags, SockaddrStorage, sendto, setsockopt, sockopt};
use tokio::net::UdpSocket;
use tokio::runtime::Handle;
use tokio::sync::{Semaphore, oneshot};
use tracing::{debug, warn};

use super::batch::{BATCH, Batch};
use super::shutdown::Shutdown;
use crate::handler::{Handler, Transport};
use crate::metrics::Metrics;

/// Sizes the socket's receive buffer: past `net.core.rmem_max` when the process may
/// (`CAP_NET_ADMIN`), else as far as the kernel allows. 0 leaves the system default.
pub(super) fn set_receive_buffer(socket: &impl AsFd, bytes: usize) {
    if bytes == 0 {
        return;
    }
    if setsockopt(socket, sockopt::RcvBufForce, &bytes).is_err()
        && let Err(e) = setsockopt(socket, sockopt::RcvBuf, &bytes)
    {
        debug!(error = %e, "udp receive buffer left at the system default");
    }
}

/// The socket, blocking, shared by the receive thread and the full path's tasks.
type Socket = Arc<std::net::UdpSocket>;

/// One socket's receive thread, running from [`Listener::start`] until shutdown (or until the
/// listener is dropped).
pub(super) struct Listener {
    socket: Socket,
    stopping: Arc<AtomicBool>,
    /// Resolves (or fails) when the thread has ended.
    done: Option<oneshot::Receiver<()>>,
}

impl Listener {
    /// Makes the socket blocking for the receive thread (the full path's sends say
    /// MSG_DONTWAIT each time) and starts the thread; at most `max_in_flight` datagrams are
    /// being answered at once by the full path. Must be called inside a tokio runtime.
    pub(super) fn start(
        socket: UdpSocket,
        handler: Arc<Handler>,
        max_in_flight: usize,
    ) -> io::Result<Listener> {
        let socket = socket.into_std()?;
        socket.set_nonblocking(false)?;
        let socket = Arc::new(socket);
        let stopping = Arc::new(AtomicBool::new(false));
        let (done_tx, done_rx) = oneshot::channel();
        let receiver = Receiver {
            socket: Arc::clone(&socket),
            handler,
            slots: Arc::new(Semaphore::new(max_in_flight)),
            runtime: Handle::current(),
            stopping: Arc::clone(&stopping),
        };
        std::thread::Builder::new()
            .name("tern-udp".into())
            .spawn(move || {
                // Inside the runtime's context: the hit path reads its clock (paused in
                // tests) and the full path's tasks are spawned onto it.
                let _context = receiver.runtime.enter();
                receiver.run();
                let _ = done_tx.send(());
            })?;
        Ok(Listener {
            socket,
            stopping,
            done: Some(done_rx),
        })
    }

    /// Serves until `shutdown` fires, then waits for the thread to end.
    pub(super) async fn serve(mut self, mut shutdown: Shutdown) {
        shutdown.recv().await;
        self.stop();
        if let Some(done) = self.done.take() {
            // Err: the thread ended without saying so (it panicked); it has ended all the same.
            let _ = done.await;
        }
    }

    fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        // On Linux this wakes a reader blocked on the socket, even an unconnected one (the
        // call itself then reports ENOTCONN), and every later read returns at once: the thread
        // sees the flag at its next return from the kernel.
        let _ =
            nix::sys::socket::shutdown(self.socket.as_raw_fd(), nix::sys::socket::Shutdown::Read);
    }
}

impl Drop for Listener {
    /// A listener given up (its server's future dropped, or a later listener failing to start)
    /// takes its thread with it.
    fn drop(&mut self) {
        self.stop();
    }
}

/// The receive thread's state.
struct Receiver {
    socket: Socket,
    handler: Arc<Handler>,
    /// The full path's in-flight limit.
    slots: Arc<Semaphore>,
    runtime: Handle,
    stopping: Arc<AtomicBool>,
}

impl Receiver {
    fn run(&self) {
        let mut batch = Batch::new();
        // The hit path's answers of one batch, buffers reused from batch to batch.
        let mut replies: Vec<(Vec<u8>, SocketAddr)> = Vec::with_capacity(BATCH);
        let mut spare: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(4096)).collect();
        let fd = &*self.socket;
        loop {
            let received = batch.receive(fd, MsgFlags::MSG_WAITFORONE);
            if self.stopping.load(Ordering::Acquire) {
                return;
            }
            if let Err(e) = received {
                match e.kind() {
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock => {}
                    // ICMP errors from earlier sends surface here on some systems.
                    io::ErrorKind::ConnectionRefused => {}
                    _ => {
                        // Not expected; a pause keeps a persistent one from spinning.
                        warn!(error = %e, "udp receive error");
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                continue;
            }
            for (packet, src) in batch.datagrams() {
                let mut reply = spare.pop().unwrap_or_default();
                if self.handler.answer_fast(packet, src, &mut reply) {
                    // Empty: a rate limit dropped it.
                    if reply.is_empty() {
                        spare.push(reply);
                    } else {
                        replies.push((reply, src));
                    }
                    continue;
                }
                spare.push(reply);
                self.spawn_full(packet, src);
            }
            send_all(fd, &mut batch, &replies);
            spare.extend(replies.drain(..).map(|(mut bytes, _)| {
                bytes.clear();
                bytes
            }));
        }
    }

    /// Hands one datagram to the full path on its own task, or drops it when the in-flight
    /// limit is reached (rather than queue: the client's retry finds a free slot).
    fn spawn_full(&self, packet: &[u8], src: SocketAddr) {
        let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() else {
            Metrics::inc(&self.handler.metrics().dropped);
            debug!(client = %src, "udp in-flight limit reached; datagram dropped");
            return;
        };
        let packet = packet.to_vec();
        let socket = Arc::clone(&self.socket);
        let handler = Arc::clone(&self.handler);
        self.runtime.spawn(async move {
            if let Some(reply) = handler.handle_bytes(&packet, src, Transport::Udp).await
                && let Err(e) = send_one(&socket, reply, src).await
            {
                warn!(client = %src, error = %e, "udp send failed");
            }
            drop(permit);
        });
    }
}

/// Sends the hit path's answers from the receive thread, blocking while the socket has no
/// room: by the batch, then one at a time for any the kernel refused within a batch.
fn send_all(fd: &std::net::UdpSocket, batch: &mut Batch, replies: &[(Vec<u8>, SocketAddr)]) {
    let mut rest = replies;
    while !rest.is_empty() {
        match batch.send(fd, rest) {
            Ok(n) if n > 0 => rest = &rest[n..],
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                // The first of `rest` failed (sendmmsg reports an error only when nothing went
                // out): skip it, send the others.
                debug!(client = %rest[0].1, error = %e, "udp send failed");
                rest = &rest[1..];
            }
        }
    }
}

/// Sends one reply of the full path without blocking the runtime's thread: MSG_DONTWAIT on the
/// blocking socket, and only when its buffer is full a blocking send on the blocking pool. (The
/// socket is not registered with the runtime: every send would then wake the runtime's thread
/// to hear that the socket is writable again.)
async fn send_one(socket: &Socket, reply: Vec<u8>, to: SocketAddr) -> io::Result<usize> {
    let addr = SockaddrStorage::from(to);
    match sendto(socket.as_raw_fd(), &reply, &addr, MsgFlags::MSG_DONTWAIT) {
        Err(nix::errno::Errno::EAGAIN) => {}
        done => return done.map_err(io::Error::from),
    }
    let socket = Arc::clone(socket);
    tokio::task::spawn_blocking(move || {
        sendto(socket.as_raw_fd(), &reply, &addr, MsgFlags::empty()).map_err(io::Error::from)
    })
    .await
    .map_err(io::Error::other)?
}

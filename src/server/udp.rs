//! UDP listener: one thread per socket, with a tokio runtime of its own (current-thread) for
//! the queries it cannot answer at once, like one of Unbound's threads with its own event loop.
//!
//! While that runtime has no task alive (a load of cache hits), the thread blocks in
//! `recvmmsg(2)` itself: no readiness poll, no scheduler, two system calls per wake-up (the read
//! and the `sendmmsg(2)` of the hit path's answers). A datagram the hit path cannot answer gets
//! a task on the thread's runtime, and from then until no task is left the thread waits on the
//! runtime instead (datagrams by the socket's readiness), so the tasks' upstream replies and
//! new queries share its wake-ups and a flood of cache misses is read in large batches on one
//! thread, with no hand-off between threads. The tasks' answers leave by the batch too, those
//! of one turn of the runtime together (see [`super::outbox`]).
//!
//! With [`UdpRuntime::Caller`] the thread keeps reading its socket and answering hits itself,
//! but the runtime it waits on, spawns onto and reads the clock of is the one that started the
//! server (a test's, whose clock the test moves).

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::sys::socket::{MsgFlags, setsockopt, sockopt};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::net::UdpSocket;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::{Semaphore, oneshot};
use tracing::{debug, error, warn};

use super::batch::{BATCH, Batch, Sender, send_all};
use super::outbox::Outbox;
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

/// `SO_BUSY_POLL` as the kernel numbers it (asm-generic/socket.h; sparc apart); the libc crate
/// has it for Android only.
#[cfg(not(target_arch = "sparc64"))]
const SO_BUSY_POLL: nix::libc::c_int = 46;
#[cfg(target_arch = "sparc64")]
const SO_BUSY_POLL: nix::libc::c_int = 0x30;

mod busy_poll {
    // The macro's expansion names `libc` and the macros it calls.
    use nix::{getsockopt_impl, libc, setsockopt_impl, sockopt_impl};
    sockopt_impl!(
        /// `SO_BUSY_POLL`, in µs, for nix's `setsockopt` and `getsockopt`.
        #[allow(unreachable_pub)]
        BusyPoll, Both, libc::SOL_SOCKET, super::SO_BUSY_POLL, usize
    );
}

/// `SO_BUSY_POLL` (`[server] busy_poll_us`): a read that finds the socket empty polls the
/// device's queue for `us` µs before it sleeps. 0 leaves it off. Raising it takes
/// `CAP_NET_ADMIN`.
pub(super) fn set_busy_poll(socket: &impl AsFd, us: u32) -> io::Result<()> {
    if us == 0 {
        return Ok(());
    }
    let us = usize::try_from(us).unwrap_or(usize::MAX);
    setsockopt(socket, busy_poll::BusyPoll, &us).map_err(io::Error::from)
}

/// Which runtime a UDP socket's thread uses for what the hit path cannot answer; its clock is
/// the one that thread's edges read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UdpRuntime {
    /// A current-thread runtime of the socket's own, on its thread (Unbound's threads).
    #[default]
    PerSocket,
    /// The runtime that starts the server, which runs its TCP listeners and timers already:
    /// one clock for the whole server, so that a test that pauses and advances it
    /// (`tokio::time::advance`) moves time for every listener at once. Nothing else changes:
    /// the thread still reads its socket and answers hits itself. A `current_thread` runtime
    /// serves only while its own thread runs it (a test's `block_on`).
    Caller,
}

/// The runtime a socket's thread runs: its own, or the caller's (see [`UdpRuntime`]).
enum Rt {
    Own(Runtime),
    Caller(Handle),
}

impl Rt {
    fn handle(&self) -> &Handle {
        match self {
            Rt::Own(rt) => rt.handle(),
            Rt::Caller(handle) => handle,
        }
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        match self {
            // Only the runtime's own `block_on` drives its I/O and timers.
            Rt::Own(rt) => rt.block_on(future),
            // Driven by the thread running the caller's runtime.
            Rt::Caller(handle) => handle.block_on(future),
        }
    }
}

/// The socket, blocking (every non-blocking call says MSG_DONTWAIT), registered with its
/// thread's runtime for readability only.
type Socket = Arc<AsyncFd<Arc<std::net::UdpSocket>>>;

/// One socket's thread, running from [`Listener::start`] until shutdown (or until the listener
/// is dropped).
pub(super) struct Listener {
    socket: Arc<std::net::UdpSocket>,
    stopping: Arc<AtomicBool>,
    /// Resolves (or fails) when the thread has ended.
    done: Option<oneshot::Receiver<()>>,
}

impl Listener {
    /// Makes the socket blocking, builds the thread's runtime (or takes the caller's) and
    /// starts the thread; at most `max_in_flight` datagrams are being answered at once by the
    /// full path.
    pub(super) fn start(
        socket: UdpSocket,
        handler: Arc<Handler>,
        max_in_flight: usize,
        runtime: UdpRuntime,
    ) -> io::Result<Listener> {
        let socket = socket.into_std()?;
        socket.set_nonblocking(false)?;
        let socket = Arc::new(socket);
        let runtime = Pending(Some(match runtime {
            UdpRuntime::PerSocket => Rt::Own(
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .thread_name("tern-udp-blocking")
                    // The blocking pool sends a task's reply only when the socket buffer is
                    // full (and takes UPDATE's journal writes): a thread or two, not tokio's 512.
                    .max_blocking_threads(2)
                    .build()?,
            ),
            UdpRuntime::Caller => Rt::Caller(Handle::try_current().map_err(io::Error::other)?),
        }));
        let Some(rt) = &runtime.0 else {
            return Err(io::Error::other("udp listener runtime missing"));
        };
        let registered = {
            let _context = rt.handle().enter();
            // SAFETY: the descriptor is the socket's, which the `Arc` keeps open and the same
            // for as long as the `AsyncFd` holds it; `as_raw_fd` always returns it.
            unsafe { AsyncFd::register_with_interest(Arc::clone(&socket), Interest::READABLE) }
                .map_err(|e| e.into_parts().1)?
        };
        let outbox = Outbox::new(Arc::clone(&socket), rt.handle().clone());
        let stopping = Arc::new(AtomicBool::new(false));
        let (done_tx, done_rx) = oneshot::channel();
        let receiver = Receiver {
            socket: Arc::new(registered),
            outbox,
            handler,
            slots: Arc::new(Semaphore::new(max_in_flight)),
            stopping: Arc::clone(&stopping),
        };
        std::thread::Builder::new()
            .name("tern-udp".into())
            .spawn(move || {
                let mut runtime = runtime;
                if let Some(runtime) = runtime.0.take() {
                    receiver.run(&runtime);
                    // The full path's tasks still in flight end here, unanswered (on the
                    // thread's own runtime; the caller's ends them when it ends); with them and
                    // the receiver goes every hold on the socket but the listener's.
                    drop(runtime);
                }
                drop(receiver);
                let _ = done_tx.send(());
            })?;
        Ok(Listener {
            socket,
            stopping,
            done: Some(done_rx),
        })
    }

    /// Serves until `shutdown` fires, then waits for the thread to end. A thread that ends
    /// before (it panicked) is reported, and its socket closed with this listener, so the
    /// kernel spreads its clients over the other sockets of the address.
    pub(super) async fn serve(mut self, mut shutdown: Shutdown) {
        let Some(mut done) = self.done.take() else {
            return;
        };
        tokio::select! {
            _ = shutdown.recv() => {}
            _ = &mut done => {
                error!("udp listener thread ended before shutdown; its socket is closed");
                return;
            }
        }
        self.stop();
        // Err: the thread ended without saying so (it panicked); it has ended all the same.
        let _ = done.await;
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

/// The thread's runtime until the thread has it. Dropped anywhere else (a start that failed,
/// on the caller's thread, which may be a runtime's) its own runtime shuts down in the
/// background: a plain drop there would wait for its blocking pool, which tokio refuses with a
/// panic.
struct Pending(Option<Rt>);

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(Rt::Own(runtime)) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// The thread's state.
struct Receiver {
    socket: Socket,
    /// Where the full path's tasks put their answers.
    outbox: Arc<Outbox>,
    handler: Arc<Handler>,
    /// The full path's in-flight limit.
    slots: Arc<Semaphore>,
    stopping: Arc<AtomicBool>,
}

/// The thread's buffers, reused from batch to batch.
struct Buffers {
    batch: Batch,
    sender: Sender,
    /// The hit path's answers of one batch.
    replies: Vec<(Vec<u8>, SocketAddr)>,
    spare: Vec<Vec<u8>>,
    /// The full path's datagrams of a batch read outside the runtime, spawned inside it.
    deferred: Vec<(Vec<u8>, SocketAddr)>,
}

impl Receiver {
    fn run(&self, runtime: &Rt) {
        // The hit path reads the runtime's clock and spawns the full path's tasks onto it.
        let _context = runtime.handle().enter();
        let mut buffers = Buffers {
            batch: Batch::new(),
            sender: Sender::new(),
            replies: Vec::with_capacity(BATCH),
            spare: (0..BATCH).map(|_| Vec::with_capacity(4096)).collect(),
            deferred: Vec::with_capacity(BATCH),
        };
        while !self.stopping.load(Ordering::Acquire) {
            if runtime.handle().metrics().num_alive_tasks() > 0 {
                runtime.block_on(self.serve_with_tasks(runtime.handle(), &mut buffers));
                continue;
            }
            let Some(received) = self.read(&mut buffers.batch, MsgFlags::MSG_WAITFORONE) else {
                return;
            };
            match received {
                Ok(_) => {
                    self.answer(&mut buffers, Spawn::Defer);
                    // Spawned from outside the runtime, a task goes through its inject queue
                    // and wakes its driver (an eventfd write, then an extra epoll round);
                    // inside it, onto its own run queue, and served there at once.
                    if !buffers.deferred.is_empty() {
                        runtime.block_on(async {
                            for (packet, src) in buffers.deferred.drain(..) {
                                self.spawn_full(packet, src);
                            }
                            self.serve_with_tasks(runtime.handle(), &mut buffers).await;
                        });
                    }
                }
                Err(e) => {
                    if unexpected(&e) {
                        std::thread::sleep(ERROR_PAUSE);
                    }
                }
            }
        }
    }

    /// Serves while the runtime has tasks alive (it runs them meanwhile): datagrams are read
    /// when the runtime says the socket is readable. Returns once none is left, or when
    /// stopping.
    async fn serve_with_tasks(&self, runtime: &Handle, buffers: &mut Buffers) {
        loop {
            // An error only when the runtime is shutting down: done by this thread, or by the
            // caller for its own.
            let Ok(mut ready) = self.socket.readable().await else {
                return;
            };
            let Some(received) = self.read(&mut buffers.batch, MsgFlags::MSG_DONTWAIT) else {
                return;
            };
            match received {
                Ok(read) => {
                    // Fewer than a batch: the socket was empty when read. A datagram arriving
                    // since is a new readiness event, which this does not clear.
                    let full = read == BATCH;
                    if !full {
                        ready.clear_ready();
                    }
                    drop(ready);
                    self.answer(buffers, Spawn::Now);
                    if full {
                        // Under a steady load the socket stays readable, and waiting for it
                        // then never yields: the tasks, their timers and the runtime's own
                        // readiness poll get their turn between full batches.
                        tokio::task::yield_now().await;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => ready.clear_ready(),
                Err(e) => {
                    drop(ready);
                    if unexpected(&e) {
                        tokio::time::sleep(ERROR_PAUSE).await;
                    }
                }
            }
            if runtime.metrics().num_alive_tasks() == 0 {
                return;
            }
        }
    }

    /// Reads a batch; `None` once stopping (what was read is left unanswered: the read that
    /// stopping wakes returns at once, with or without datagrams).
    fn read(&self, batch: &mut Batch, flags: MsgFlags) -> Option<io::Result<usize>> {
        let received = batch.receive(self.socket.get_ref(), flags);
        (!self.stopping.load(Ordering::Acquire)).then_some(received)
    }

    /// Answers a batch: the hits at once (sent together), the rest on tasks (spawned now, or
    /// left in `deferred`).
    fn answer(&self, buffers: &mut Buffers, spawn: Spawn) {
        let Buffers {
            batch,
            sender,
            replies,
            spare,
            deferred,
        } = buffers;
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
            match spawn {
                Spawn::Now => self.spawn_full(packet.to_vec(), src),
                Spawn::Defer => deferred.push((packet.to_vec(), src)),
            }
        }
        // A blocking send: every reply is dealt with.
        send_all(sender, self.socket.get_ref(), replies, MsgFlags::empty());
        spare.extend(replies.drain(..).map(|(mut bytes, _)| {
            bytes.clear();
            bytes
        }));
    }

    /// Hands one datagram to the full path on its own task, or drops it when the in-flight
    /// limit is reached (rather than queue: the client's retry finds a free slot).
    fn spawn_full(&self, packet: Vec<u8>, src: SocketAddr) {
        let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() else {
            Metrics::inc(&self.handler.metrics().dropped);
            debug!(client = %src, "udp in-flight limit reached; datagram dropped");
            return;
        };
        let outbox = Arc::clone(&self.outbox);
        let handler = Arc::clone(&self.handler);
        // Boxed: the handler's future is large (a miss's whole resolution), and a task moves
        // its future several times on the way in and out; a box moves one pointer.
        tokio::spawn(Box::pin(async move {
            // The slot goes with the reply until it is sent.
            if let Some(reply) = handler.handle_bytes(&packet, src, Transport::Udp).await {
                outbox.push(reply, src, permit);
            }
        }));
    }
}

/// Where [`Receiver::answer`] puts the full path's datagrams.
#[derive(Clone, Copy)]
enum Spawn {
    /// On tasks at once: the thread is inside its runtime.
    Now,
    /// In [`Buffers::deferred`]: the thread is outside it.
    Defer,
}

/// After an unexpected read error, so that one that persists does not spin.
const ERROR_PAUSE: Duration = Duration::from_millis(10);

/// A failed read: true (and logged) when unexpected; the caller pauses before the next.
fn unexpected(e: &io::Error) -> bool {
    match e.kind() {
        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock => false,
        // ICMP errors from earlier sends surface here on some systems.
        io::ErrorKind::ConnectionRefused => false,
        _ => {
            warn!(error = %e, "udp receive error");
            true
        }
    }
}

#[cfg(test)]
mod busy_poll_tests {
    use super::*;

    #[test]
    fn busy_poll_is_set_on_the_socket_or_refused_for_want_of_permission() {
        let socket = std::net::UdpSocket::bind("127.237.0.1:0").expect("bind");
        set_busy_poll(&socket, 0).expect("0 is a no-op");
        match set_busy_poll(&socket, 50) {
            Ok(()) => {
                let set = nix::sys::socket::getsockopt(&socket, busy_poll::BusyPoll);
                assert_eq!(set.expect("readable"), 50);
            }
            // Without CAP_NET_ADMIN, or a kernel built without busy polling.
            Err(e) => assert!(
                matches!(
                    e.raw_os_error(),
                    Some(nix::libc::EPERM | nix::libc::ENOPROTOOPT)
                ),
                "{e}"
            ),
        }
    }
}

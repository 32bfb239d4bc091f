//! The full path's replies, sent by the batch. A task of the full path that has its answer puts
//! it in its listener's outbox instead of sending it; the first to find no flush pending queues
//! one on the runtime, behind the tasks already queued (a current-thread runtime runs its tasks
//! in the order they were woken). So the answers of one turn (the tasks woken by one poll of
//! the upstream sockets, the queries of one batch answered at once) leave in one `sendmmsg(2)`:
//! one system call, and one wake-up of a client waiting for several, where each took a
//! `sendto(2)` and woke its client.
//!
//! Nothing waits past its turn: the flush is queued with the first reply and runs in the same
//! turn, and a full batch goes at once. A reply whose send fails is skipped and the others go;
//! when the socket has no room the rest goes from the blocking pool, in order. Each reply holds
//! its in-flight slot until sent, so what waits here and on the blocking pool stays within the
//! full path's in-flight limit.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use nix::sys::socket::MsgFlags;
use tokio::runtime::Handle;
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinHandle;

use super::batch::{BATCH, Sender, send_all};

/// One listener's outbox, shared by its full path's tasks.
pub(super) struct Outbox {
    socket: Arc<std::net::UdpSocket>,
    /// The runtime the tasks run on: the flush is queued there, and the blocking sends.
    runtime: Handle,
    /// A mutex because a task may run on any thread of the runtime ([`super::UdpRuntime::Caller`]
    /// with a multi-thread one); on the listener's own runtime it is never contended.
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    /// In the order the tasks finished.
    replies: Vec<(Vec<u8>, SocketAddr)>,
    /// One per reply, released once it is sent.
    permits: Vec<OwnedSemaphorePermit>,
    /// A flush is queued and has not taken the replies yet.
    flush_queued: bool,
}

/// Replies taken from the queue to send, with their slots.
struct Taken {
    replies: Vec<(Vec<u8>, SocketAddr)>,
    permits: Vec<OwnedSemaphorePermit>,
}

thread_local! {
    /// The sendmmsg headers of a thread that sends the outbox's replies: the listener's, any
    /// thread of a caller's multi-thread runtime, a thread of the blocking pool.
    static SENDER: RefCell<Sender> = RefCell::new(Sender::new());
}

impl Outbox {
    /// An outbox for replies from `socket`, whose full path's tasks run on `runtime`.
    pub(super) fn new(socket: Arc<std::net::UdpSocket>, runtime: Handle) -> Arc<Outbox> {
        Arc::new(Outbox {
            socket,
            runtime,
            queue: Mutex::new(Queue::default()),
        })
    }

    /// Queues `reply` to `to`, sent before this turn of the runtime ends; `permit` (its
    /// in-flight slot) is released once it is sent. Called from a task of the runtime.
    pub(super) fn push(
        self: &Arc<Self>,
        reply: Vec<u8>,
        to: SocketAddr,
        permit: OwnedSemaphorePermit,
    ) {
        let mut queue = self.lock();
        queue.replies.push((reply, to));
        queue.permits.push(permit);
        if queue.replies.len() >= BATCH {
            // A full batch: waiting for the rest of the turn saves no system call. The flush
            // queued, if any, sends what comes after.
            let taken = queue.take();
            drop(queue);
            self.send(taken);
        } else if !queue.flush_queued {
            queue.flush_queued = true;
            drop(queue);
            let outbox = Arc::clone(self);
            // A runtime shutting down drops the flush with the replies, as it drops the tasks
            // still resolving.
            drop(self.runtime.spawn(async move { outbox.flush() }));
        }
    }

    /// Sends what the turn's tasks queued.
    fn flush(&self) {
        let taken = {
            let mut queue = self.lock();
            queue.flush_queued = false;
            queue.take()
        };
        if !taken.replies.is_empty() {
            self.send(taken);
        }
    }

    /// Sends without blocking the thread: MSG_DONTWAIT on the blocking socket, and only if its
    /// buffer fills, the rest from the blocking pool. (Registered for writability, the socket
    /// would raise a readiness event after every send.)
    fn send(&self, mut taken: Taken) {
        let sent = SENDER.with_borrow_mut(|sender| {
            send_all(
                sender,
                &*self.socket,
                &taken.replies,
                MsgFlags::MSG_DONTWAIT,
            )
        });
        if sent < taken.replies.len() {
            drop(self.send_blocking(taken, sent));
            return;
        }
        // The vectors go back for the next turn, unless a push since has made new ones.
        taken.replies.clear();
        taken.permits.clear();
        let mut queue = self.lock();
        if queue.replies.capacity() == 0 {
            queue.replies = taken.replies;
            queue.permits = taken.permits;
        }
    }

    /// Sends `taken`'s replies from `from` on from the blocking pool, waiting for room, in
    /// order; the slots are released when it is done.
    fn send_blocking(&self, taken: Taken, from: usize) -> JoinHandle<()> {
        let socket = Arc::clone(&self.socket);
        self.runtime.spawn_blocking(move || {
            let rest = taken.replies.get(from..).unwrap_or_default();
            SENDER.with_borrow_mut(|sender| send_all(sender, &*socket, rest, MsgFlags::empty()));
            drop(taken);
        })
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Nothing in the queue's critical sections panics; a poisoned lock still holds a
        // consistent queue.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Queue {
    fn take(&mut self) -> Taken {
        Taken {
            replies: std::mem::take(&mut self.replies),
            permits: std::mem::take(&mut self.permits),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::time::Duration;

    use tokio::sync::Semaphore;

    use super::*;

    const SLOTS: usize = 64;

    /// An outbox on a blocking socket of 127.239.0.1, as a listener's, on the test's runtime;
    /// clients on addresses of their own; the in-flight slots.
    struct Fixture {
        outbox: Arc<Outbox>,
        server: SocketAddr,
        clients: Vec<std::net::UdpSocket>,
        to: Vec<SocketAddr>,
        slots: Arc<Semaphore>,
    }

    fn fixture(clients: u8) -> Fixture {
        let socket = std::net::UdpSocket::bind("127.239.0.1:0").expect("bind");
        let server = socket.local_addr().expect("addr");
        let clients: Vec<_> = (0..clients)
            .map(|i| {
                let client = std::net::UdpSocket::bind((Ipv4Addr::new(127, 239, 0, 10 + i), 0))
                    .expect("client");
                client
                    .set_read_timeout(Some(Duration::from_secs(2)))
                    .expect("timeout");
                client
            })
            .collect();
        Fixture {
            outbox: Outbox::new(Arc::new(socket), Handle::current()),
            server,
            to: clients
                .iter()
                .map(|c| c.local_addr().expect("addr"))
                .collect(),
            clients,
            slots: Arc::new(Semaphore::new(SLOTS)),
        }
    }

    impl Fixture {
        /// Spawns one task per reply, each pushing its own, as the full path's tasks do when
        /// they are woken in one turn.
        fn push_all(&self, replies: Vec<(Vec<u8>, SocketAddr)>) {
            for (reply, to) in replies {
                let outbox = Arc::clone(&self.outbox);
                let permit = Arc::clone(&self.slots)
                    .try_acquire_owned()
                    .expect("a free slot");
                tokio::spawn(async move { outbox.push(reply, to, permit) });
            }
        }

        /// The next datagram client `i` has, if it came from the server within two seconds.
        fn next(&self, i: usize) -> Option<Vec<u8>> {
            let mut buf = [0; 512];
            let (n, from) = self.clients[i].recv_from(&mut buf).ok()?;
            (from == self.server).then(|| buf[..n].to_vec())
        }

        /// Nothing waits at client `i` (asked once later datagrams have come).
        fn nothing_at(&self, i: usize) -> bool {
            self.clients[i].set_nonblocking(true).expect("nonblocking");
            let mut buf = [0; 512];
            matches!(self.clients[i].recv_from(&mut buf),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        }

        fn all_slots_free(&self) -> bool {
            self.slots.available_permits() == SLOTS
        }
    }

    /// The `sendmmsg` calls made on this thread so far.
    fn calls() -> usize {
        SENDER.with_borrow(|sender| sender.calls)
    }

    #[tokio::test]
    async fn the_answers_of_one_turn_leave_in_one_sendmmsg_each_to_its_client() {
        let f = fixture(10);
        let replies =
            f.to.iter()
                .zip(0u8..)
                .map(|(to, i)| (vec![i; 3], *to))
                .collect();
        let before = calls();
        f.push_all(replies);
        // The tasks run, then the flush the first of them queued: all in this one turn.
        tokio::task::yield_now().await;
        assert_eq!(calls() - before, 1, "one system call for ten answers");
        assert!(f.all_slots_free(), "every slot released once sent");
        for i in 0..10u8 {
            assert_eq!(f.next(usize::from(i)), Some(vec![i; 3]), "client {i}");
        }
    }

    #[tokio::test]
    async fn a_turn_of_more_than_a_batch_sends_each_full_batch_at_once_and_the_rest_at_its_end() {
        let f = fixture(4);
        // 40 answers, the k-th to client k % 4.
        let replies = (0u8..40)
            .map(|k| (vec![k], f.to[usize::from(k % 4)]))
            .collect();
        let before = calls();
        f.push_all(replies);
        tokio::task::yield_now().await;
        assert_eq!(
            calls() - before,
            3,
            "16 and 16 as they fill, 8 at the turn's end"
        );
        assert!(f.all_slots_free());
        for c in 0..4u8 {
            for k in (c..40).step_by(4) {
                assert_eq!(
                    f.next(usize::from(c)),
                    Some(vec![k]),
                    "client {c}, in order"
                );
            }
        }
    }

    #[tokio::test]
    async fn a_reply_the_kernel_refuses_is_skipped_and_the_others_still_go() {
        let f = fixture(3);
        // Past IPv4's largest UDP payload: EMSGSIZE, first in a batch and within one.
        let too_long = vec![0; 70_000];
        f.push_all(vec![
            (too_long.clone(), f.to[1]),
            (b"first".to_vec(), f.to[0]),
            (too_long, f.to[1]),
            (b"second".to_vec(), f.to[2]),
        ]);
        tokio::task::yield_now().await;
        assert!(f.all_slots_free(), "the refused ones' slots too");
        assert_eq!(f.next(0), Some(b"first".to_vec()));
        assert_eq!(f.next(2), Some(b"second".to_vec()));
        assert!(f.nothing_at(1));
    }

    #[tokio::test]
    async fn what_the_socket_had_no_room_for_goes_from_the_blocking_pool_in_order() {
        let f = fixture(2);
        let taken = Taken {
            replies: vec![
                (b"sent already".to_vec(), f.to[0]),
                (b"one".to_vec(), f.to[1]),
                (b"two".to_vec(), f.to[1]),
            ],
            permits: (0..3)
                .map(|_| Arc::clone(&f.slots).try_acquire_owned().expect("slot"))
                .collect(),
        };
        // As when sendmmsg with MSG_DONTWAIT stopped at EAGAIN after the first.
        f.outbox
            .send_blocking(taken, 1)
            .await
            .expect("blocking send ran");
        assert!(f.all_slots_free());
        assert_eq!(f.next(1), Some(b"one".to_vec()));
        assert_eq!(f.next(1), Some(b"two".to_vec()));
        assert!(f.nothing_at(0), "the first is not sent twice");
    }
}

//! Datagrams in and out by the batch: `recvmmsg(2)` waits for a query and takes up to `BATCH`
//! in one system call, and `sendmmsg(2)` sends up to `BATCH` answers in one more (the hit
//! path's to a batch just read, the full path's that finished in one turn of the runtime), so
//! under load the cost of entering the kernel is shared by many queries. Linux (as are
//! MSG_WAITFORONE and the listener's way of waking its thread).

use std::io::{self, IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg,
};
use tracing::debug;

/// Datagrams per system call: past a few dozen the gain flattens and the buffers grow.
pub(super) const BATCH: usize = 16;

/// RFC 6891 §6.2.5 allows requests up to 64 KiB; anything longer is not DNS.
pub(super) const MAX_DATAGRAM: usize = 65_535;

/// The buffers of one socket's receive thread, allocated once.
pub(super) struct Batch {
    bufs: Vec<Vec<u8>>,
    /// For each datagram of the last read that is kept: its buffer, length and sender.
    got: Vec<(usize, usize, SocketAddr)>,
    /// nix's message headers for `recvmmsg`, kept from call to call: making them costs more
    /// than the rest of a hit (an allocation and 16 zeroed addresses per call). They hold raw
    /// pointers, so a `Batch` stays on the thread that made it.
    receive: MultiHeaders<SockaddrStorage>,
}

impl Batch {
    pub(super) fn new() -> Batch {
        Batch::with_buffers_of(MAX_DATAGRAM)
    }

    fn with_buffers_of(len: usize) -> Batch {
        Batch {
            bufs: (0..BATCH).map(|_| vec![0; len]).collect(),
            got: Vec::with_capacity(BATCH),
            receive: MultiHeaders::preallocate(BATCH, None),
        }
    }

    /// The datagrams of the last `receive`.
    pub(super) fn datagrams(&self) -> impl Iterator<Item = (&[u8], SocketAddr)> {
        self.got
            .iter()
            .filter_map(|&(i, len, src)| Some((self.bufs.get(i)?.get(..len)?, src)))
    }

    /// Reads up to `BATCH` datagrams; `flags` say whether to wait (MSG_WAITFORONE on a
    /// blocking socket: for the first, then what is already there). Returns how many the
    /// kernel gave (fewer than `BATCH`: the socket was empty); a datagram cut short (longer
    /// than 64 KiB) or from an unknown family is among them but skipped.
    // Inline into the receive loop: called per system call, and left out of line its slice
    // setup is not folded into the loop's.
    #[inline]
    pub(super) fn receive(&mut self, socket: &impl AsRawFd, flags: MsgFlags) -> io::Result<usize> {
        self.got.clear();
        let fd: RawFd = socket.as_raw_fd();
        // On the stack, not a vector: no allocation per system call (a tenth of a hit).
        let mut bufs = self.bufs.iter_mut();
        let mut slices: [[IoSliceMut<'_>; 1]; BATCH] = std::array::from_fn(|_| {
            let buf = bufs.next().map_or(&mut [][..], |b| &mut b[..]);
            [IoSliceMut::new(buf)]
        });
        let results = recvmmsg(fd, &mut self.receive, slices.iter_mut(), flags, None);
        let mut read = 0;
        for (i, msg) in results.map_err(io::Error::from)?.enumerate() {
            read += 1;
            if msg.flags.contains(MsgFlags::MSG_TRUNC) {
                continue;
            }
            if let Some(src) = msg.address.as_ref().and_then(crate::net::socket_addr) {
                self.got.push((i, msg.bytes, src));
            }
        }
        Ok(read)
    }
}

/// What `sendmmsg(2)` needs from call to call, for one thread (its raw pointers keep it there):
/// like [`Batch`]'s receive headers, made once rather than per call.
pub(super) struct Sender {
    headers: MultiHeaders<SockaddrStorage>,
    /// The replies' addresses, cleared and refilled by each send.
    addrs: Vec<Option<SockaddrStorage>>,
    /// `sendmmsg` calls made, for tests that count them.
    #[cfg(test)]
    pub(super) calls: usize,
}

impl Sender {
    pub(super) fn new() -> Sender {
        Sender {
            headers: MultiHeaders::preallocate(BATCH, None),
            addrs: Vec::with_capacity(BATCH),
            #[cfg(test)]
            calls: 0,
        }
    }

    /// Sends the first `BATCH` of `replies` (each to its address) in one system call; returns
    /// how many went out. An error only when the first could not go (with MSG_DONTWAIT in
    /// `flags`, WouldBlock when the socket has no room; without, a blocking socket waits).
    #[inline]
    fn send(
        &mut self,
        socket: &impl AsRawFd,
        replies: &[(Vec<u8>, SocketAddr)],
        flags: MsgFlags,
    ) -> io::Result<usize> {
        if replies.is_empty() {
            return Ok(0);
        }
        let fd: RawFd = socket.as_raw_fd();
        // On the stack, as `receive`'s; sendmmsg sends no more than `BATCH`, the caller the rest.
        let mut bytes = replies.iter().map(|(b, _)| &b[..]);
        let slices: [[IoSlice<'_>; 1]; BATCH] =
            std::array::from_fn(|_| [IoSlice::new(bytes.next().unwrap_or_default())]);
        self.addrs.clear();
        self.addrs.extend(
            replies
                .iter()
                .take(BATCH)
                .map(|(_, to)| Some(SockaddrStorage::from(*to))),
        );
        #[cfg(test)]
        {
            self.calls += 1;
        }
        let cmsgs: [ControlMessage<'_>; 0] = [];
        sendmmsg(
            fd,
            &mut self.headers,
            slices.iter(),
            &self.addrs,
            cmsgs,
            flags,
        )
        .map(|results| results.count())
        .map_err(io::Error::from)
    }
}

/// Sends `replies` in order, by the batch. One the kernel refuses is skipped (logged) and the
/// others still go: sendmmsg reports an error only when nothing went out, so the error is the
/// first's. Without MSG_DONTWAIT in `flags` a blocking socket waits for room and every reply is
/// dealt with; with it, this stops when the socket has no room. Returns how many were dealt
/// with (sent or skipped): the rest, from there, are the caller's to send.
pub(super) fn send_all(
    sender: &mut Sender,
    socket: &impl AsRawFd,
    replies: &[(Vec<u8>, SocketAddr)],
    flags: MsgFlags,
) -> usize {
    let waits = !flags.contains(MsgFlags::MSG_DONTWAIT);
    let mut done = 0;
    while let Some(rest) = replies.get(done..).filter(|rest| !rest.is_empty()) {
        match sender.send(socket, rest, flags) {
            Ok(n) if n > 0 => done += n,
            // Not for a non-empty batch (the kernel sends one or fails); stop rather than spin.
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && !waits => break,
            Err(e) => {
                debug!(client = %rest[0].1, error = %e, "udp send failed");
                done += 1;
            }
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skipped_datagram_leaves_the_others_with_their_own_bytes() {
        let server = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let client = std::net::UdpSocket::bind("127.0.0.1:0").expect("client");
        let to = server.local_addr().expect("addr");
        // Buffers of 8 bytes: the 20-byte datagram is cut short, so skipped.
        client.send_to(&[7; 20], to).expect("send");
        client.send_to(b"second", to).expect("send");
        client.send_to(b"third", to).expect("send");
        let mut batch = Batch::with_buffers_of(8);
        let read = batch
            .receive(&server, MsgFlags::MSG_WAITFORONE)
            .expect("receive");
        assert_eq!(read, 3, "the kernel's count, the skipped one included");
        let got: Vec<_> = batch.datagrams().map(|(bytes, _)| bytes.to_vec()).collect();
        assert_eq!(got, vec![b"second".to_vec(), b"third".to_vec()]);
    }
}

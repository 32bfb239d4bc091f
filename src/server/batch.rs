//! Datagrams in and out by the batch: `recvmmsg(2)` waits for a query and takes up to `BATCH`
//! in one system call, and `sendmmsg(2)` sends the hit path's answers to them in one more, so
//! under load the cost of entering the kernel is shared by many queries. Linux (as are
//! MSG_WAITFORONE and the listener's way of waking its thread).

use std::io::{self, IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg,
};

/// Datagrams per system call: past a few dozen the gain flattens and the buffers grow.
pub(super) const BATCH: usize = 16;

/// RFC 6891 §6.2.5 allows requests up to 64 KiB; anything longer is not DNS.
pub(super) const MAX_DATAGRAM: usize = 65_535;

/// The buffers of one socket's receive thread, allocated once.
pub(super) struct Batch {
    bufs: Vec<Vec<u8>>,
    /// For each datagram of the last read that is kept: its buffer, length and sender.
    got: Vec<(usize, usize, SocketAddr)>,
    /// nix's message headers for `recvmmsg`/`sendmmsg`, kept from call to call: making them
    /// costs more than the rest of a hit (an allocation and 16 zeroed addresses per call).
    /// They hold raw pointers, so a `Batch` stays on the thread that made it.
    receive: MultiHeaders<SockaddrStorage>,
    send: MultiHeaders<SockaddrStorage>,
    /// The replies' addresses, cleared and refilled by each send.
    addrs: Vec<Option<SockaddrStorage>>,
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
            send: MultiHeaders::preallocate(BATCH, None),
            addrs: Vec::with_capacity(BATCH),
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

    /// Sends `replies` (each to its address), waiting for room on a blocking socket; returns
    /// how many went out (at most `BATCH`). An error only when the first could not go.
    #[inline]
    pub(super) fn send(
        &mut self,
        socket: &impl AsRawFd,
        replies: &[(Vec<u8>, SocketAddr)],
    ) -> io::Result<usize> {
        if replies.is_empty() {
            return Ok(0);
        }
        let fd: RawFd = socket.as_raw_fd();
        // The first `BATCH` replies (sendmmsg sends no more; the caller sends the rest).
        let mut bytes = replies.iter().map(|(b, _)| &b[..]);
        let slices: [[IoSlice<'_>; 1]; BATCH] =
            std::array::from_fn(|_| [IoSlice::new(bytes.next().unwrap_or_default())]);
        self.addrs.clear();
        self.addrs.extend(
            replies
                .iter()
                .map(|(_, to)| Some(SockaddrStorage::from(*to))),
        );
        let cmsgs: [ControlMessage<'_>; 0] = [];
        sendmmsg(
            fd,
            &mut self.send,
            slices.iter(),
            &self.addrs,
            cmsgs,
            MsgFlags::empty(),
        )
        .map(|results| results.count())
        .map_err(io::Error::from)
    }
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

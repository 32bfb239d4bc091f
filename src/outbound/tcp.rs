//! One request over TCP and the message, or stream of messages (AXFR, RFC 5936 §2.2; IXFR,
//! RFC 1995 §4), that answers it. Each message carries its 2-octet length (RFC 7766 §8).
//! Nothing arrives here but the server's own stream, so a message that does not answer the
//! request is an error for the caller to judge, not a forgery to wait out.

use hickory_proto::op::Message;
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

use super::{ClientError, Deadline, Expected, Peer, Signed};
use crate::frame::{read_frame, write_frame};

/// A request sent over its own connection, reading the replies.
#[derive(Debug)]
pub(crate) struct TcpQuery<'q> {
    stream: TcpStream,
    request: Signed,
    expected: Expected<'q>,
    deadline: Option<Deadline>,
    /// Replies accepted so far.
    messages: usize,
    started: Instant,
}

impl<'q> TcpQuery<'q> {
    /// Connects to the peer's server (from its source address, if any; the port is the
    /// kernel's) and sends `request`. With a `deadline`, this and every [`next`](Self::next)
    /// end in [`ClientError::Timeout`] once it passes.
    pub(crate) async fn open(
        peer: Peer,
        request: Signed,
        expected: Expected<'q>,
        deadline: Option<Deadline>,
    ) -> Result<TcpQuery<'q>, ClientError> {
        // Edge: a query's round trip runs from here.
        let started = Instant::now();
        let stream = Deadline::bound(deadline, async {
            let socket = match peer.server {
                std::net::SocketAddr::V4(_) => TcpSocket::new_v4(),
                std::net::SocketAddr::V6(_) => TcpSocket::new_v6(),
            }?;
            if let Some(local) = peer.local() {
                socket.bind(local)?;
            }
            let mut stream = socket.connect(peer.server).await?;
            write_frame(&mut stream, request.bytes()).await?;
            Ok(stream)
        })
        .await?;
        Ok(TcpQuery {
            stream,
            request,
            expected,
            deadline,
            messages: 0,
            started,
        })
    }

    /// The next reply: TSIG-checked when the request was signed, and answering the request
    /// (only the first must repeat the question, where the caller allows that).
    /// [`ClientError::Closed`] when the server closed the connection first.
    pub(crate) async fn next(&mut self) -> Result<Message, ClientError> {
        let raw = Deadline::bound(self.deadline, async {
            Ok(read_frame(&mut self.stream).await?)
        })
        .await?
        .ok_or(ClientError::Closed(self.messages))?;
        let message = self.request.read(&raw)?;
        self.expected.check(&message, self.messages == 0)?;
        self.messages += 1;
        Ok(message)
    }

    /// After the last reply: with TSIG, it must have been signed (RFC 8945 §5.3.1).
    pub(crate) fn finish(&self) -> Result<(), ClientError> {
        self.request.finish()
    }

    /// Replies accepted so far.
    pub(crate) fn messages(&self) -> usize {
        self.messages
    }

    /// When [`open`](Self::open) began: a round trip counts the handshake.
    pub(crate) fn started(&self) -> Instant {
        self.started
    }
}

//! DNS over TCP framing, for every TCP exchange tern has (its listener, the resolver's
//! fallback to TCP, zone transfers): each message preceded by its length in two octets
//! (RFC 1035 §4.2.2, RFC 7766 §8).

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The message with its 2-octet length in front, ready for one write; `None` when it is longer
/// than a length prefix can say.
pub(crate) fn framed(message: &[u8]) -> Option<Vec<u8>> {
    let len = u16::try_from(message.len()).ok()?;
    let mut frame = Vec::with_capacity(2 + message.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(message);
    Some(frame)
}

/// Writes one message with its 2-octet length, in one write.
pub(crate) async fn write_frame(
    out: &mut (impl AsyncWrite + Unpin),
    message: &[u8],
) -> io::Result<()> {
    let frame = framed(message)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "message over 65535 octets"))?;
    out.write_all(&frame).await
}

/// What a message's buffer starts at: any query or small answer whole, in one allocation.
const FIRST_READ: usize = 4096;

/// Reads one length-prefixed message; `None` when the peer closed the connection between
/// messages. The buffer grows with the bytes that arrive (doubling), not to the length the
/// prefix claims: a peer that says 65535 and then sends nothing, or closes, costs what it sent.
pub(crate) async fn read_frame(
    input: &mut (impl AsyncRead + Unpin),
) -> io::Result<Option<Vec<u8>>> {
    let len = match input.read_u16().await {
        Ok(len) => usize::from(len),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut message = Vec::with_capacity(len.min(FIRST_READ));
    input.take(len as u64).read_to_end(&mut message).await?;
    if message.len() < len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Some(message))
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use tokio::io::{AsyncWriteExt, ReadBuf};

    use super::*;

    #[tokio::test]
    async fn a_message_is_read_whole_and_the_next_prefix_after_it() {
        let (mut client, mut server) = tokio::io::duplex(64);
        let big: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let writer = tokio::spawn(async move {
            write_frame(&mut client, &big).await.expect("big");
            write_frame(&mut client, b"small").await.expect("small");
            big
        });
        let first = read_frame(&mut server)
            .await
            .expect("read")
            .expect("a message");
        let second = read_frame(&mut server)
            .await
            .expect("read")
            .expect("a message");
        assert_eq!(first, writer.await.expect("writer"));
        assert_eq!(second, b"small");
        assert!(read_frame(&mut server).await.expect("clean end").is_none());
    }

    #[tokio::test]
    async fn a_claim_larger_than_what_comes_is_unexpected_eof_not_a_message() {
        let (mut client, mut server) = tokio::io::duplex(64);
        client
            .write_all(&[0xff, 0xff, 1, 2, 3])
            .await
            .expect("write");
        drop(client);
        let err = read_frame(&mut server).await.expect_err("cut short");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    /// Remembers the largest buffer a read was offered: the room allocated for the message.
    struct Offered<R> {
        inner: R,
        largest: usize,
    }

    impl<R: AsyncRead + Unpin> AsyncRead for Offered<R> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            self.largest = self.largest.max(buf.remaining());
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_buffer_follows_the_bytes_that_came_not_the_prefix() {
        // A prefix of 65535, then 100 bytes and silence (a slow-loris that claims the most).
        let (mut client, server) = tokio::io::duplex(1 << 16);
        client.write_all(&[0xff, 0xff]).await.expect("prefix");
        client.write_all(&[7; 100]).await.expect("some");
        let mut reader = Offered {
            inner: server,
            largest: 0,
        };
        let waiting = tokio::time::timeout(Duration::from_secs(1), read_frame(&mut reader)).await;
        assert!(waiting.is_err(), "still waiting for the rest");
        assert!(
            reader.largest <= FIRST_READ,
            "{} bytes set aside for 100 received",
            reader.largest
        );
        drop(client);
    }
}

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

/// Reads one length-prefixed message; `None` when the peer closed the connection between
/// messages.
pub(crate) async fn read_frame(
    input: &mut (impl AsyncRead + Unpin),
) -> io::Result<Option<Vec<u8>>> {
    let len = match input.read_u16().await {
        Ok(len) => usize::from(len),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut message = vec![0; len];
    input.read_exact(&mut message).await?;
    Ok(Some(message))
}

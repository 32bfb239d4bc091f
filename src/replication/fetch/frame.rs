//! DNS over TCP framing: each message preceded by its length in two octets (RFC 7766 §8).

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Writes one message with its 2-octet length (RFC 7766 §8).
pub(super) async fn write_frame(tcp: &mut TcpStream, message: &[u8]) -> io::Result<()> {
    let len = u16::try_from(message.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "request over 65535 octets"))?;
    let mut frame = Vec::with_capacity(2 + message.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(message);
    tcp.write_all(&frame).await
}

/// Reads one length-prefixed message; `None` when the server closed the connection between
/// messages.
pub(super) async fn read_frame(tcp: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let len = match tcp.read_u16().await {
        Ok(len) => usize::from(len),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut message = vec![0; len];
    tcp.read_exact(&mut message).await?;
    Ok(Some(message))
}

//! TCP listener (RFC 7766): two-byte length framing, pipelined queries answered concurrently
//! and written back as each finishes, an idle timeout, and a cap on open connections.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tracing::{debug, warn};

use super::shutdown::Shutdown;
use crate::handler::{Handler, Transport};

/// Connection limits for one TCP listener.
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub pipeline_depth: usize,
}

pub(super) async fn serve(
    listener: TcpListener,
    handler: Arc<Handler>,
    limits: TcpLimits,
    mut shutdown: Shutdown,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.recv() => return,
            r = listener.accept() => match r {
                Ok(r) => r,
                Err(e) => {
                    warn!(error = %e, "tcp accept failed");
                    // Out of file descriptors: back off rather than spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            // At the cap: close at once so the client tries elsewhere (RFC 7766 §6.2.2).
            debug!(client = %peer, "tcp connection limit reached; closing");
            drop(stream);
            continue;
        };
        let handler = Arc::clone(&handler);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            connection(stream, peer, handler, limits, shutdown).await;
            drop(permit);
        });
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    handler: Arc<Handler>,
    limits: TcpLimits,
    mut shutdown: Shutdown,
) {
    let (mut reader, mut writer) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(limits.pipeline_depth);
    let writer_task = tokio::spawn(async move {
        while let Some(reply) = rx.recv().await {
            let Ok(len) = u16::try_from(reply.len()) else {
                continue;
            };
            let mut frame = Vec::with_capacity(reply.len() + 2);
            frame.extend_from_slice(&len.to_be_bytes());
            frame.extend_from_slice(&reply);
            if writer.write_all(&frame).await.is_err() {
                return;
            }
        }
        let _ = writer.shutdown().await;
    });
    let in_flight = Arc::new(Semaphore::new(limits.pipeline_depth));
    loop {
        let mut len_buf = [0u8; 2];
        let read = tokio::select! {
            _ = shutdown.recv() => break,
            r = tokio::time::timeout(limits.idle_timeout, reader.read_exact(&mut len_buf)) => r,
        };
        match read {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => break, // peer closed
            Err(_) => {
                debug!(client = %peer, "tcp idle timeout");
                break;
            }
        }
        let len = usize::from(u16::from_be_bytes(len_buf));
        let mut packet = vec![0u8; len];
        match tokio::time::timeout(limits.idle_timeout, reader.read_exact(&mut packet)).await {
            Ok(Ok(_)) => {}
            _ => break,
        }
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
            break;
        };
        let handler = Arc::clone(&handler);
        let tx = tx.clone();
        tokio::spawn(async move {
            if let Some(reply) = handler.handle_bytes(&packet, peer, Transport::Tcp).await {
                let _ = tx.send(reply).await;
            }
            drop(permit);
        });
    }
    drop(tx);
    // Let queries already read finish and be written before closing (RFC 7766 §6.2.4).
    let _ = writer_task.await;
}

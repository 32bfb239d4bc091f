//! The control socket: bound at start (its folder made if missing, a stale socket of an
//! earlier run removed), root-only, answered one request per connection, removed at shutdown.

use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;

use super::{Control, ERROR, OK, commands};
use crate::server::Shutdown;

/// A request line longer than this is refused (the longest command is a name: 255 octets).
const MAX_REQUEST: u64 = 4096;
/// A client that sends no full line in this long is dropped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the control socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("control socket {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("control socket {0}: another process answers on it")]
    InUse(PathBuf),
    #[error("control socket {0}: exists and is not a socket; not removing it")]
    NotASocket(PathBuf),
}

/// Binds `path` and answers requests until `shutdown`, then removes the socket file.
pub fn start(
    path: &Path,
    ctl: Control,
    mut shutdown: Shutdown,
) -> Result<JoinHandle<()>, ControlError> {
    let io = |source| ControlError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        // Made root-only: the socket inside is chmodded only after bind.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io)?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            // Another tern still answering there keeps its socket.
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(ControlError::InUse(path.to_path_buf()));
            }
            // Left behind by a run that did not stop cleanly: nobody answers on it.
            std::fs::remove_file(path).map_err(io)?;
        }
        Ok(_) => return Err(ControlError::NotASocket(path.to_path_buf())),
        Err(_) => {}
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    tracing::info!(socket = %path.display(), "control socket ready");
    let ctl = Arc::new(ctl);
    let path = path.to_path_buf();
    Ok(tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.recv() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        tokio::spawn(answer(stream, Arc::clone(&ctl)));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "control socket accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        drop(listener);
        let _ = std::fs::remove_file(&path);
    }))
}

/// Reads one request line, runs it, writes the response, closes.
async fn answer(stream: UnixStream, ctl: Arc<Control>) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(MAX_REQUEST));
    let response = match tokio::time::timeout(REQUEST_TIMEOUT, reader.read_line(&mut line)).await {
        Ok(Ok(_)) if line.ends_with('\n') => {
            // Commands lock and walk the cache or read zone files: off the async workers.
            let request = line.trim().to_string();
            match tokio::task::spawn_blocking(move || commands::run(&ctl, &request)).await {
                Ok(Ok(body)) => format!("{OK}\n{body}"),
                Ok(Err(reason)) => format!("{ERROR}{reason}\n"),
                Err(_) => format!("{ERROR}internal error\n"),
            }
        }
        Ok(Ok(_)) => format!("{ERROR}request must be one line ending in a newline\n"),
        Ok(Err(e)) => format!("{ERROR}{e}\n"),
        Err(_) => format!("{ERROR}no request within {REQUEST_TIMEOUT:?}\n"),
    };
    let _ = write.write_all(response.as_bytes()).await;
    let _ = write.shutdown().await;
}

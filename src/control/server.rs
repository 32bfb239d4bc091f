//! The control socket: bound at start (its folder made if missing, a stale socket of an
//! earlier run removed), root-only, answered one request per connection, removed at shutdown.

use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt};
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
/// A client that does not read the response in this long is dropped (a full cache dump is
/// megabytes; a client stopped with ^Z must not hold the task and the text forever).
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the control socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ControlError {
    #[error("control socket {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("control socket {0}: another process answers on it")]
    InUse(PathBuf),
    #[error("control socket {0}: exists and is not a socket; not removing it")]
    NotASocket(PathBuf),
    #[error("control socket {0}: exists and cannot be probed ({1}); not removing it")]
    Unprobed(PathBuf, std::io::Error),
    #[error(
        "control socket folder {0}: others can write to it (and it is neither ours nor sticky); \
         anyone could replace the socket"
    )]
    UnsafeFolder(PathBuf),
}

/// Binds `path` and answers requests until `shutdown`, then removes the socket file (if it is
/// still the one bound here).
pub(crate) fn start(
    path: &Path,
    ctl: Control,
    mut shutdown: Shutdown,
) -> Result<JoinHandle<()>, ControlError> {
    let io = |source| ControlError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            // Root-only, like the socket inside.
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io)?;
        }
        let meta = std::fs::metadata(dir).map_err(io)?;
        if !safe_folder(meta.mode(), meta.uid(), nix::unistd::geteuid().as_raw()) {
            return Err(ControlError::UnsafeFolder(dir.to_path_buf()));
        }
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => match probe(path) {
            // Another tern still answering there keeps its socket.
            Probe::Live => return Err(ControlError::InUse(path.to_path_buf())),
            // Left behind by a run that did not stop cleanly: nobody listens on it.
            Probe::Stale => std::fs::remove_file(path).map_err(io)?,
            Probe::Unknown(e) => return Err(ControlError::Unprobed(path.to_path_buf(), e)),
        },
        Ok(_) => return Err(ControlError::NotASocket(path.to_path_buf())),
        Err(_) => {}
    }
    let listener = bind_private(path).map_err(io)?;
    // What was bound, so that shutdown removes this socket and not one put there since (by a
    // second tern that found ours unresponsive, or by hand).
    let bound = std::fs::symlink_metadata(path)
        .map(|m| (m.dev(), m.ino()))
        .map_err(io)?;
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
        let still_ours = std::fs::symlink_metadata(&path)
            .is_ok_and(|m| m.file_type().is_socket() && (m.dev(), m.ino()) == bound);
        if still_ours {
            let _ = std::fs::remove_file(&path);
        }
    }))
}

/// Whether a folder with `mode` owned by `owner` may hold the socket of a process running as
/// `euid`: nobody else may be able to replace it. A folder others can write is refused unless
/// it is ours (the operator chose that) or sticky like /tmp (others can neither remove nor
/// rename our socket there; a name squatted first is caught as in use or not a socket).
fn safe_folder(mode: u32, owner: u32, euid: u32) -> bool {
    const STICKY: u32 = 0o1000;
    mode & 0o022 == 0 || owner == euid || mode & STICKY != 0
}

/// Binds with the process umask at 0o177, so the socket is 0600 from its first moment: a
/// chmod after bind leaves a window with the umask's permissions, and follows symlinks. The
/// umask is process-wide: another thread creating a file meanwhile gets 0600 too, which errs
/// on the safe side.
fn bind_private(path: &Path) -> std::io::Result<UnixListener> {
    use nix::sys::stat::{Mode, umask};
    let old = umask(Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(path);
    umask(old);
    bound
}

/// What a connect to an existing socket says about it.
enum Probe {
    Live,
    Stale,
    Unknown(std::io::Error),
}

/// Connects without blocking: refused means nobody listens (stale); accepted or a full
/// backlog (EAGAIN) means someone does; anything else (no permission, ...) is not proof of
/// either, and the file is left alone.
fn probe(path: &Path) -> Probe {
    use nix::errno::Errno;
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, UnixAddr, connect, socket};
    use std::os::fd::AsRawFd;
    let fd = match socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    ) {
        Ok(fd) => fd,
        Err(e) => return Probe::Unknown(e.into()),
    };
    let addr = match UnixAddr::new(path) {
        Ok(addr) => addr,
        Err(e) => return Probe::Unknown(e.into()),
    };
    match connect(fd.as_raw_fd(), &addr) {
        Ok(()) | Err(Errno::EAGAIN | Errno::EINPROGRESS) => Probe::Live,
        Err(Errno::ECONNREFUSED) => Probe::Stale,
        Err(e) => Probe::Unknown(e.into()),
    }
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
    let sent = tokio::time::timeout(WRITE_TIMEOUT, async {
        write.write_all(response.as_bytes()).await?;
        write.shutdown().await
    })
    .await;
    if sent.is_err() {
        tracing::debug!("control client did not read the response in {WRITE_TIMEOUT:?}; dropped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_others_can_write_is_refused_unless_ours_or_sticky() {
        let (me, other) = (1000, 0);
        assert!(safe_folder(0o40755, other, me));
        assert!(safe_folder(0o40700, other, me));
        assert!(!safe_folder(0o40775, other, me), "group-writable");
        assert!(!safe_folder(0o40777, other, me), "world-writable");
        assert!(safe_folder(0o40777, me, me), "ours");
        assert!(safe_folder(0o41777, other, me), "sticky, like /tmp");
    }

    #[tokio::test]
    async fn the_socket_is_private_from_the_start_and_probes_tell_live_from_stale() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("tern-ctl-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("c.sock");
        let listener = bind_private(&path).expect("bind");
        let mode = std::fs::symlink_metadata(&path)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(matches!(probe(&path), Probe::Live));
        drop(listener);
        assert!(matches!(probe(&path), Probe::Stale));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

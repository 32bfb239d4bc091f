//! What `tern ctl` does: sends one request line to the control socket and reads the answer.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::{ERROR, OK};

/// The commands, for `tern ctl --help`.
pub const HELP: &str = super::commands::HELP;

/// Long enough for a dump of a full cache.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Why `tern ctl` failed: the server could not be reached, or it answered with an error.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach tern at {path}: {source}; is `[control] socket` set and tern running?")]
    Unreachable {
        path: String,
        source: std::io::Error,
    },
    #[error("tern at {path} did not finish answering within {after:?}")]
    TimedOut { path: String, after: Duration },
    #[error("connection to tern at {path} failed mid-request: {source}")]
    Broken {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Failed(String),
    #[error("bad response from tern: {0:?}")]
    BadResponse(String),
}

/// Sends `command` and returns the response body (everything after the `ok` line).
pub fn request(socket: &Path, command: &str) -> Result<String, ClientError> {
    let unreachable = |source| ClientError::Unreachable {
        path: socket.display().to_string(),
        source,
    };
    let mut stream = UnixStream::connect(socket).map_err(unreachable)?;
    // Connected: from here a failure is tern's slowness or a dropped connection, not absence.
    let broken = |source: std::io::Error| match source.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => ClientError::TimedOut {
            path: socket.display().to_string(),
            after: TIMEOUT,
        },
        _ => ClientError::Broken {
            path: socket.display().to_string(),
            source,
        },
    };
    stream.set_read_timeout(Some(TIMEOUT)).map_err(broken)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(broken)?;
    stream
        .write_all(format!("{}\n", absolute_file(command.trim())).as_bytes())
        .map_err(broken)?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(broken)?;
    let (first, body) = response.split_once('\n').unwrap_or((&response, ""));
    if first == OK {
        Ok(body.to_string())
    } else if let Some(reason) = first.strip_prefix(ERROR) {
        Err(ClientError::Failed(
            format!("{reason}\n{body}").trim_end().to_string(),
        ))
    } else {
        Err(ClientError::BadResponse(response))
    }
}

/// `save-cache FILE` and `load-cache FILE` with FILE made absolute against the folder
/// `tern ctl` runs in: the server opens it, and its working folder is not the operator's.
/// FILE is the rest of the line, spaces and all (see `commands::file_argument`).
fn absolute_file(command: &str) -> String {
    match super::commands::file_argument(command) {
        Some((verb, file)) if Path::new(file).is_relative() => match std::env::current_dir() {
            Ok(dir) => format!("{verb} {}", dir.join(file).display()),
            // The server then says the path is not absolute.
            Err(_) => command.to_string(),
        },
        _ => command.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_files_are_sent_as_absolute_paths() {
        let here = std::env::current_dir().expect("cwd");
        let sent = absolute_file("save-cache  cache.bin");
        assert_eq!(
            sent,
            format!("save-cache {}", here.join("cache.bin").display())
        );
        assert_eq!(
            absolute_file("load-cache /var/c.bin"),
            "load-cache /var/c.bin"
        );
        assert_eq!(absolute_file("flush a.b"), "flush a.b");
        assert_eq!(
            absolute_file("save-cache my caches/a b.bin"),
            format!("save-cache {}", here.join("my caches/a b.bin").display())
        );
    }
}

//! `tern ctl`: steering a running server over a Unix socket, like `unbound-control` and
//! `knotc`. One request line (`COMMAND [ARGS]`), one text response whose first line is `ok` or
//! `error: REASON`, then the server closes the connection. The socket is root-only (mode
//! 0600): whoever can connect can flush the cache and reload the zones.
//!
//! `server` binds the socket and answers; `commands` parses a line and runs it against the
//! running parts; `client` is what `tern ctl` sends. Wiring, like `daemon`: it may import
//! anything.

pub(crate) mod client;
mod commands;
mod dump;
mod nta;
pub(crate) mod server;

use std::sync::Arc;

use hickory_proto::rr::Name;

use crate::cache::Cache;
use crate::discovery::registry::Registry;
use crate::handler::Handler;
use crate::metrics::Metrics;

/// Where `tern ctl` looks when `--socket` is not given, and the path the unit file prepares.
pub const DEFAULT_SOCKET: &str = "/run/tern/control.sock";

/// The first line of a successful response.
pub(crate) const OK: &str = "ok";
/// The prefix of the first line of a failed one.
pub(crate) const ERROR: &str = "error: ";

/// The running parts a command acts on.
pub(crate) struct Control {
    pub handler: Arc<Handler>,
    pub(crate) registry: Arc<Registry>,
    pub metrics: Arc<Metrics>,
    /// The resolver's cache; `None` without recursion.
    pub cache: Option<Arc<Cache>>,
    /// Each configured zone and where its data comes from (`file PATH`, `secondary of ...`).
    pub zone_sources: Vec<(Name, String)>,
    /// The zones answered locally without configuration (`localhost.`, ...), and their serials.
    pub builtin: Vec<(Name, u32)>,
    /// The DNS-over-TLS certificate, reloaded with the zones; `None` without `[tls]`.
    pub(crate) tls: Option<Arc<crate::server::tls::Certificates>>,
    /// The query log, reopened by `reload` as by SIGHUP (logrotate's postrotate may run
    /// either); `None` without `[log] queries`.
    pub(crate) query_log: Option<crate::querylog::QueryLog>,
}

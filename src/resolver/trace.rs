//! One line per upstream exchange, for `tern resolve --trace`: which server was asked what,
//! what the reply meant, and how long it took.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};

/// One step of a walk.
#[derive(Debug, Clone)]
pub struct TraceStep {
    pub server: SocketAddr,
    pub zone: Name,
    pub qname: Name,
    pub qtype: RecordType,
    pub tcp: bool,
    pub outcome: String,
    pub(crate) rtt: Duration,
}

impl std::fmt::Display for TraceStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<22} zone {:<16} {} {} over {} -> {} ({:.1} ms)",
            self.server,
            self.zone.to_ascii(),
            self.qname.to_ascii(),
            self.qtype,
            if self.tcp { "TCP" } else { "UDP" },
            self.outcome,
            self.rtt.as_secs_f64() * 1000.0
        )
    }
}

/// Where trace steps go.
pub type TraceSink = Arc<dyn Fn(&TraceStep) + Send + Sync>;

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
    /// Over DNS over TLS or HTTPS (a forward zone's `tls_name` or `url`): on TCP, but shown as
    /// what it is.
    pub encrypted: Option<Encryption>,
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
            match (self.encrypted, self.tcp) {
                (Some(Encryption::Tls), _) => "TLS",
                (Some(Encryption::Https), _) => "HTTPS",
                (None, true) => "TCP",
                (None, false) => "UDP",
            },
            self.outcome,
            self.rtt.as_secs_f64() * 1000.0
        )
    }
}

/// Which encrypted transport a forwarder is asked over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    /// DNS over TLS (RFC 7858).
    Tls,
    /// DNS over HTTPS (RFC 8484).
    Https,
}

/// Where trace steps go.
pub type TraceSink = Arc<dyn Fn(&TraceStep) + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_names_its_transport() {
        let step = |tcp, encrypted| TraceStep {
            server: SocketAddr::from(([127, 0, 0, 1], 853)),
            zone: Name::root(),
            qname: Name::from_ascii("www.example.").expect("name"),
            qtype: RecordType::A,
            tcp,
            encrypted,
            outcome: "answer".to_string(),
            rtt: Duration::from_millis(3),
        };
        for (tcp, encrypted, shown) in [
            (false, None, " over UDP "),
            (true, None, " over TCP "),
            (true, Some(Encryption::Tls), " over TLS "),
            (true, Some(Encryption::Https), " over HTTPS "),
        ] {
            let line = step(tcp, encrypted).to_string();
            assert!(line.contains(shown), "{line}");
        }
    }
}

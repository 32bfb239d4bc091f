//! Root hints: the NS names and addresses to start from (RFC 8109 §2), read from a file in
//! named.root format, and priming: asking a hinted server for the root's NS set once, then
//! walking from what it said. The IANA hints ship as zones/root.hints and are compiled in.

use std::path::Path;

use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::time::Instant;

use super::Resolver;
use super::budget::{Budget, ResolveError};
use super::classify::Outcome;
use super::delegation::{NameServer, ServerSet};
use crate::cache::{Data, Key};
use crate::rr;
use crate::zonefile::{ZoneErrors, parse_zone_text};

/// The IANA root hints, for production use only; tests and the lab use loopback hints.
pub(crate) const IANA_ROOT_HINTS: &str = include_str!("../../zones/root.hints");

/// Parses root hints text: NS records for the root and the addresses of their targets.
pub fn parse(text: &str, file: &Path) -> Result<ServerSet, ZoneErrors> {
    let records = parse_zone_text(text, file, Some(&Name::root()))?;
    let mut servers: Vec<NameServer> = Vec::new();
    for r in &records {
        if let RData::NS(ns) = &r.record.data
            && r.record.name.is_root()
        {
            servers.push(NameServer {
                name: ns.0.clone(),
                addrs: Vec::new(),
                port: None,
            });
        }
    }
    for r in records {
        let Some(addr) = rr::address(&r.record) else {
            continue;
        };
        for s in servers.iter_mut().filter(|s| s.name == r.record.name) {
            s.addrs.push(addr);
        }
    }
    if servers.iter().all(|s| s.addrs.is_empty()) {
        return Err(ZoneErrors::one(
            file,
            1,
            "root hints name no root server with an address",
        ));
    }
    Ok(ServerSet {
        zone: Name::root(),
        servers,
    })
}

impl Resolver {
    /// The root's servers: the primed NS set from the cache, or primed now (RFC 8109 §3).
    pub(super) async fn root_servers(
        &self,
        budget: &mut Budget,
    ) -> Result<ServerSet, ResolveError> {
        let root = Name::root();
        if let Some(c) = self.cache.get(&Key::new(&root, RecordType::NS), budget.now)
            && let Data::Positive(ns) = c.data
        {
            return Ok(self.root_set(&ns, budget.now));
        }
        match self
            .ask_zone(&self.hints, &root, RecordType::NS, budget)
            .await
        {
            Ok(primed) => {
                let ns = match &primed.outcome {
                    Outcome::Answer(ns) => Some(ns.clone()),
                    _ => None,
                };
                self.store(primed.learned, budget.now);
                Ok(ns.map_or_else(|| self.hints.clone(), |ns| self.root_set(&ns, budget.now)))
            }
            Err(e @ (ResolveError::TooManyUpstream(_) | ResolveError::Timeout(_))) => Err(e),
            Err(_) => Ok(self.hints.clone()),
        }
    }

    /// The primed NS set with the addresses the cache knows. A priming reply without glue is
    /// not a reason to prime again: a server without a cached address gets its hinted one, and
    /// names the hints do not know are looked up like any glueless server's, starting from the
    /// hinted addresses when no name has one.
    fn root_set(&self, ns: &[Record], now: Instant) -> ServerSet {
        let mut set = self.server_set(&Name::root(), ns, now);
        for server in set.servers.iter_mut().filter(|s| s.addrs.is_empty()) {
            if let Some(hinted) = self.hints.servers.iter().find(|h| h.name == server.name) {
                server.addrs = hinted.addrs.clone();
            }
        }
        if set.servers.iter().all(|s| s.addrs.is_empty()) {
            set.servers.extend(self.hints.servers.iter().cloned());
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iana_hints_parse() {
        let set = parse(IANA_ROOT_HINTS, Path::new("root.hints")).expect("valid hints");
        assert_eq!(set.servers.len(), 13);
        assert!(set.servers.iter().all(|s| s.addrs.len() == 2));
    }

    #[test]
    fn lab_hints_parse() {
        let text = crate::lab::LabFiles::embedded()
            .root_hints()
            .expect("hints")
            .to_string();
        let set = parse(&text, Path::new("root.hints")).expect("valid hints");
        assert_eq!(set.servers.len(), 2);
    }
}

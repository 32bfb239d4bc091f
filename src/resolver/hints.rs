//! Root hints: the NS names and addresses to start from (RFC 8109 §2), read from a file in
//! named.root format. The IANA hints ship as zones/root.hints and are compiled in.

use std::path::Path;

use hickory_proto::rr::{Name, RData, RecordType};

use super::delegation::{NameServer, ServerSet};
use crate::rr;
use crate::zonefile::{ZoneErrors, parse_zone_text};

/// The IANA root hints, for production use only; tests and the lab use loopback hints.
pub const IANA_ROOT_HINTS: &str = include_str!("../../zones/root.hints");

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

/// The record types that carry addresses for name servers.
pub const ADDRESS_TYPES: [RecordType; 2] = [RecordType::A, RecordType::AAAA];

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
